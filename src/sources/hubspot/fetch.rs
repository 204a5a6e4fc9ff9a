//! One fetch of the `hubspot` source: a full one (every company, owner, renewal deal and usage
//! object, listed) or an incremental one (owners listed, the rest asked of the search API
//! since the last good sync, applied to its data), each object kind falling back to the full
//! list on its own when the search API's cap would be exceeded.

use std::collections::HashMap;

use serde_json::Value;

use super::api::{Api, Changes, CrmObject, Decoded};
use super::mapping::{Owners, DEAL_PROPERTIES};
use super::snapshot::{Skipped, Snapshot};
use super::Settings;
use crate::sources::{FetchRequest, Fetched, InputError, SourceContext, SourceError};

/// How far before the last good sync's start the changes are asked for: HubSpot's search
/// index lags writes by a few seconds, and clocks differ.
pub const OVERLAP_MINUTES: i64 = 5;

/// Fetches the source `source`: incrementally when `request` has a previous sync whose data
/// carries HubSpot ids, fully otherwise.
pub async fn fetch(
    api: &Api<'_>,
    source: &str,
    settings: &Settings,
    ctx: &SourceContext,
    request: &FetchRequest<'_>,
) -> Result<Fetched, SourceError> {
    let base = match request.previous {
        Some(p) => match Snapshot::from_dataset(p.data) {
            Some(s) => Some((s, p.started_at)),
            None => {
                tracing::info!(
                    source,
                    "full sync: the stored data of this source has no HubSpot company ids"
                );
                None
            }
        },
        None => None,
    };
    let run = Run {
        api,
        source,
        settings,
        tz: ctx.timezone,
        errors: Vec::new(),
        skipped: Skipped::default(),
    };
    match base {
        None => run.full().await,
        Some((snapshot, started_at)) => {
            let since = started_at - chrono::Duration::minutes(OVERLAP_MINUTES);
            run.incremental(snapshot, since.timestamp_millis()).await
        }
    }
}

/// The objects of one kind an incremental fetch read.
enum Update {
    /// Those changed since the last sync.
    Changed(Decoded<CrmObject>),
    /// All of them (the search API's cap would have been exceeded).
    All(Decoded<CrmObject>),
}

impl Update {
    fn is_all(&self) -> bool {
        matches!(self, Update::All(_))
    }

    fn into_decoded(self) -> Decoded<CrmObject> {
        match self {
            Update::Changed(d) | Update::All(d) => d,
        }
    }
}

struct Run<'a, 'c> {
    api: &'a Api<'c>,
    source: &'a str,
    settings: &'a Settings,
    tz: chrono_tz::Tz,
    errors: Vec<InputError>,
    skipped: Skipped,
}

impl Run<'_, '_> {
    fn deal_properties() -> Vec<String> {
        DEAL_PROPERTIES.iter().map(|p| p.to_string()).collect()
    }

    fn usage_properties(&self) -> Vec<String> {
        let mut props: Vec<String> = self
            .settings
            .usage
            .as_ref()
            .map(|u| u.properties.values().cloned().collect())
            .unwrap_or_default();
        props.sort();
        props.dedup();
        props
    }

    async fn full(mut self) -> Result<Fetched, SourceError> {
        let api = self.api;
        let settings = self.settings;
        let company_props = settings.company_properties();
        let deal_props = Self::deal_properties();
        let usage_props = self.usage_properties();
        let (owners, companies, deals, usage) = tokio::try_join!(
            api.owners(),
            api.list("companies", &company_props, false),
            async {
                match &settings.renewals {
                    Some(_) => api.list("deals", &deal_props, true).await.map(Some),
                    None => Ok(None),
                }
            },
            async {
                match &settings.usage {
                    Some(u) => api.list(&u.object, &usage_props, true).await.map(Some),
                    None => Ok(None),
                }
            },
        )?;
        let mut snapshot = Snapshot::default();
        let (owners, owner_errors) = owners.split();
        self.errors.extend(owner_errors);
        let owners = Owners::new(&owners);
        self.apply_companies(&mut snapshot, companies, true);
        if let Some(deals) = deals {
            self.apply_deals(&mut snapshot, deals, true);
        }
        if let Some(usage) = usage {
            self.apply_usage(&mut snapshot, usage, true);
        }
        self.finish(snapshot, &owners, true)
    }

    async fn incremental(
        mut self,
        mut snapshot: Snapshot,
        since_ms: i64,
    ) -> Result<Fetched, SourceError> {
        let settings = self.settings;
        let api = self.api;
        let company_props = settings.company_properties();
        let deal_props = Self::deal_properties();
        let usage_props = self.usage_properties();
        let (owners, companies, deals, usage) = tokio::try_join!(
            api.owners(),
            changes(api, "companies", &company_props, since_ms, None, false),
            async {
                match &settings.renewals {
                    Some(r) => {
                        let pipeline = Some(("pipeline", r.pipeline.as_str()));
                        changes(api, "deals", &deal_props, since_ms, pipeline, true)
                            .await
                            .map(Some)
                    }
                    None => Ok(None),
                }
            },
            async {
                match &settings.usage {
                    Some(u) => changes(api, &u.object, &usage_props, since_ms, None, true)
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            },
        )?;
        let full = companies.is_all()
            && deals.as_ref().is_none_or(Update::is_all)
            && usage.as_ref().is_none_or(Update::is_all);
        let (owners, owner_errors) = owners.split();
        self.errors.extend(owner_errors);
        let owners = Owners::new(&owners);
        let all = companies.is_all();
        self.apply_companies(&mut snapshot, companies.into_decoded(), all);
        match deals {
            Some(d) => {
                let all = d.is_all();
                self.apply_deals(&mut snapshot, d.into_decoded(), all);
            }
            None => snapshot.renewals.clear(),
        }
        match usage {
            Some(u) => {
                let all = u.is_all();
                self.apply_usage(&mut snapshot, u.into_decoded(), all);
            }
            None => snapshot.usage.clear(),
        }
        self.finish(snapshot, &owners, full)
    }

    fn apply_companies(
        &mut self,
        snapshot: &mut Snapshot,
        companies: Decoded<CrmObject>,
        all: bool,
    ) {
        if all {
            snapshot.accounts.clear();
        }
        for c in companies.items {
            match c {
                Ok(c) => {
                    let (settings, tz) = (self.settings, self.tz);
                    snapshot.put_company(&c, settings, tz, &mut self.errors, &mut self.skipped)
                }
                Err(e) => self.errors.push(e),
            }
        }
    }

    fn apply_deals(&mut self, snapshot: &mut Snapshot, deals: Decoded<CrmObject>, all: bool) {
        let Some(renewals) = &self.settings.renewals else {
            return;
        };
        if all {
            snapshot.renewals.clear();
        }
        for d in deals.items {
            match d {
                Ok(d) => {
                    snapshot.put_deal(&d, renewals, self.tz, &mut self.errors, &mut self.skipped)
                }
                Err(e) => self.errors.push(e),
            }
        }
    }

    fn apply_usage(&mut self, snapshot: &mut Snapshot, usage: Decoded<CrmObject>, all: bool) {
        let Some(settings) = &self.settings.usage else {
            return;
        };
        snapshot.put_usage(usage.items, settings, self.tz, all, &mut self.errors);
    }

    /// The data set, or every error found; one warning for what was left out.
    fn finish(
        mut self,
        snapshot: Snapshot,
        owners: &Owners,
        full: bool,
    ) -> Result<Fetched, SourceError> {
        if !self.errors.is_empty() {
            let errors = std::mem::take(&mut self.errors);
            return Err(self.invalid(errors));
        }
        let mut skipped = self.skipped;
        let data = snapshot
            .into_dataset(owners, &self.settings.account_key, &mut skipped)
            .map_err(|errors| self.invalid(errors))?;
        if let Some(what) = skipped.describe(&self.settings.account_key) {
            tracing::warn!(source = self.source, "HubSpot: left out {what}");
        }
        Ok(Fetched { data, full })
    }

    fn invalid(&self, errors: Vec<InputError>) -> SourceError {
        SourceError::Invalid {
            location: format!("HubSpot (source {})", self.source),
            errors,
        }
    }
}

/// The objects of `object` changed since `since_ms` (with their companies when
/// `with_companies`: the search API does not return associations), or all of them when more
/// changed than the search API can page through.
async fn changes(
    api: &Api<'_>,
    object: &str,
    properties: &[String],
    since_ms: i64,
    equals: Option<(&str, &str)>,
    with_companies: bool,
) -> Result<Update, SourceError> {
    match api.search(object, properties, since_ms, equals).await? {
        Changes::Changed(values) => {
            let links = if with_companies && !values.is_empty() {
                let ids: Vec<String> = values
                    .iter()
                    .filter_map(|v| v.get("id").and_then(Value::as_str).map(str::to_string))
                    .collect();
                api.companies_of(object, &ids).await?
            } else {
                HashMap::new()
            };
            Ok(Update::Changed(Decoded::decode_linked(
                object, values, &links,
            )))
        }
        Changes::TooMany { total } => {
            tracing::info!(
                object,
                total,
                "HubSpot: more changes than the search API returns (10,000); listing every object instead"
            );
            Ok(Update::All(
                api.list(object, properties, with_companies).await?,
            ))
        }
    }
}
