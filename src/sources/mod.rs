//! Sources: where records come from. Each source turns its input into one canonical
//! [`Dataset`]; the sync engine stores it. Adding a source is one new file here and one line in
//! [`crate::config`]'s source kinds.

pub mod csv_format;
pub mod demo;
pub mod files;

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use chrono_tz::Tz;
use indicatif::ProgressBar;

use crate::model::{Dataset, FxRates};

/// What every source needs to turn its input into canonical records.
#[derive(Clone, Debug)]
pub struct SourceContext {
    /// Business timezone: timestamps become dates in it.
    pub timezone: Tz,
    /// Currencies without a rate here are input errors.
    pub fx: FxRates,
}

/// One problem with one input value, located as precisely as the input allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// File name (or the API object kind) the value came from, e.g. `subscriptions.csv`.
    pub file: String,
    /// 1-based line number in the file (the header is line 1); 0 when not applicable.
    pub line: u64,
    /// The column (field) name, when the problem is in one field.
    pub column: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for InputError {
    /// `subscriptions.csv:42: column mrr: "12,5" is not a decimal number`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(c) = &self.column {
            write!(f, ": column {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The input was read but some values are wrong; every problem is listed.
    #[error("{} invalid value{} in {}:\n{}", .errors.len(), if .errors.len() == 1 { "" } else { "s" }, .location,
        .errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        location: String,
        errors: Vec<InputError>,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// A place records come from.
#[async_trait]
pub trait Source: Send + Sync {
    /// The configured name of this source (the key of `[sources.NAME]`).
    fn name(&self) -> &str;

    /// Reads everything and returns it as one validated data set, or every error found.
    /// `progress` counts the source's own unit (bytes read for files, records for the demo);
    /// it is hidden when not on a terminal.
    async fn fetch(&self, progress: &ProgressBar) -> Result<Dataset, SourceError>;
}

/// The source a `[sources.NAME]` table describes: the one place a new source kind is wired in.
pub fn from_config(
    cfg: &crate::config::SourceConfig,
    ctx: &SourceContext,
    today: chrono::NaiveDate,
) -> Box<dyn Source> {
    use crate::config::SourceKind;
    match &cfg.kind {
        SourceKind::Files { dir } => Box::new(files::FilesSource::new(
            cfg.name.clone(),
            dir.clone(),
            ctx.clone(),
        )),
        SourceKind::Demo {
            accounts,
            seed,
            months,
        } => Box::new(demo::DemoSource::new(
            cfg.name.clone(),
            demo::DemoParams {
                accounts: *accounts,
                seed: *seed,
                months: *months,
                as_of: today,
            },
        )),
    }
}
