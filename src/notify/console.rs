//! The `console` channel: messages printed as text to standard output (the default channel,
//! what `demo` and `eval` show), or to any writer in tests.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::sink::DeliveryIds;
use super::{Message, SendError, Sink};

/// Writes each message's text, followed by a blank line.
pub struct ConsoleSink {
    out: Arc<Mutex<dyn Write + Send>>,
}

impl ConsoleSink {
    pub fn stdout() -> ConsoleSink {
        ConsoleSink {
            out: Arc::new(Mutex::new(std::io::stdout())),
        }
    }

    /// A console writing into `out` (tests read it back).
    pub fn to(out: Arc<Mutex<dyn Write + Send>>) -> ConsoleSink {
        ConsoleSink { out }
    }
}

#[async_trait]
impl Sink for ConsoleSink {
    async fn post(&self, message: &Message, key: &str) -> Result<DeliveryIds, SendError> {
        let text = message.to_text();
        let mut out = self
            .out
            .lock()
            .map_err(|_| SendError::Permanent("the console writer is unusable".to_string()))?;
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(|e| SendError::Permanent(format!("cannot write to the console: {e}")))?;
        Ok(vec![key.to_string()])
    }
}
