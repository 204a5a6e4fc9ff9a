//! The seam between the outbox and a platform: a [`Sink`] renders a [`Message`] into its
//! platform's payload and posts (or edits) it, telling the outbox which failures are worth
//! retrying. Tests point sinks at local servers; nothing here knows about retries or storage.

use std::time::Duration;

use async_trait::async_trait;

use super::Message;

/// Why a send failed, as the outbox needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The platform said 429: wait this long (Retry-After), then try again.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// A 5xx, a timeout or a dropped connection: worth retrying with backoff.
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help (a bad token, an unknown channel, a payload the platform refused).
    #[error("{0}")]
    Permanent(String),
}

/// What a posted message became on the platform: one id per message created (a long message
/// may be split into several), used to edit it later.
pub type DeliveryIds = Vec<String>;

/// A destination for messages.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Posts `message`. `key` is the outbox's idempotency key for this message, stable across
    /// retries and restarts (≤ 16 characters): platforms that can deduplicate (Discord's
    /// `nonce`) or receivers that want to (webhook headers) get it.
    async fn post(&self, message: &Message, key: &str) -> Result<DeliveryIds, SendError>;

    /// Whether a message posted here can be edited afterwards (to show an alert resolved).
    fn can_edit(&self) -> bool {
        false
    }

    /// Replaces the message that `post` returned `ids` for with `message`.
    async fn edit(&self, ids: &[String], message: &Message) -> Result<(), SendError> {
        let _ = (ids, message);
        Err(SendError::Permanent(
            "this channel cannot edit messages".to_string(),
        ))
    }
}
