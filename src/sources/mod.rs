//! Sources: where records come from. Each source turns its input into one canonical
//! [`Dataset`]; the sync engine stores it. Adding a source is one new file here and one line in
//! [`crate::config`]'s source kinds.

pub mod csv_format;
pub mod demo;
pub mod files;
pub mod http;
pub mod http_json;
pub mod hubspot;
pub mod stripe;

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
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
        match &self.column {
            // An API object (`line` 0) has fields, a CSV line has columns.
            Some(c) if self.line == 0 => write!(f, ": field {c}")?,
            Some(c) => write!(f, ": column {c}")?,
            None => {}
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
    /// A request failed for good, after its retries.
    #[error(transparent)]
    Http(#[from] http::HttpError),
    /// A secret the source needs is not set.
    #[error(transparent)]
    Secret(#[from] crate::config::MissingSecret),
    #[error("{0}")]
    Other(String),
}

/// What the sync engine asks a source for.
#[derive(Clone, Copy, Debug)]
pub struct FetchRequest<'a> {
    /// When the sync started: the "as of" of everything fetched (a subscription's current
    /// state, a trial still running).
    pub now: DateTime<Utc>,
    /// For an incremental sync, the last good sync; `None` asks for everything.
    pub previous: Option<Previous<'a>>,
}

/// The last good sync of a source, for an incremental sync.
#[derive(Clone, Copy, Debug)]
pub struct Previous<'a> {
    /// When that sync started: everything changed since is fetched.
    pub started_at: DateTime<Utc>,
    /// What it stored for this source: the changes are applied to it.
    pub data: &'a Dataset,
}

/// What a source returns: all its records, and whether they were fetched in full.
#[derive(Debug)]
pub struct Fetched {
    /// Every record of the source (an incremental fetch has applied its changes to the
    /// previous data).
    pub data: Dataset,
    /// Whether everything was fetched (a source may fall back to a full fetch, say when a
    /// change log no longer reaches back to the previous sync).
    pub full: bool,
}

impl Fetched {
    pub fn full(data: Dataset) -> Fetched {
        Fetched { data, full: true }
    }
}

/// A place records come from.
#[async_trait]
pub trait Source: Send + Sync {
    /// The configured name of this source (the key of `[sources.NAME]`).
    fn name(&self) -> &str;

    /// How often a full sync must run, for a source that can fetch only what changed since
    /// the previous sync; `None` (the default) when every fetch is full.
    fn full_sync_every(&self) -> Option<chrono::Duration> {
        None
    }

    /// Reads the source and returns every record as one validated data set, or every error
    /// found. `progress` counts the source's own unit (bytes read for files, records for the
    /// others); it is hidden when not on a terminal.
    async fn fetch(
        &self,
        request: &FetchRequest<'_>,
        progress: &ProgressBar,
    ) -> Result<Fetched, SourceError>;
}

/// The source a `[sources.NAME]` table describes: the one place a new source kind is wired in.
/// A network source's secret is read here: an unset variable is an error naming it.
pub fn from_config(
    cfg: &crate::config::SourceConfig,
    ctx: &SourceContext,
    today: chrono::NaiveDate,
) -> Result<Box<dyn Source>, SourceError> {
    use crate::config::SourceKind;
    Ok(match &cfg.kind {
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
        SourceKind::Stripe(settings) => Box::new(stripe::StripeSource::new(
            cfg.name.clone(),
            settings.clone(),
            ctx.clone(),
        )?),
        SourceKind::Hubspot(s) => Box::new(hubspot::HubspotSource::from_settings(
            cfg.name.clone(),
            s.clone(),
            ctx.clone(),
        )?),
        SourceKind::HttpJson(s) => Box::new(http_json::HttpJsonSource::new(
            cfg.name.clone(),
            s.clone(),
            ctx.clone(),
        )?),
    })
}
