//! HubSpot's CRM API v3 as this source uses it: the shapes of its answers (an object's
//! `properties` are strings or null) and the four ways of reading: a cursor-paginated list
//! (`paging.next.after`), the search API (sorted by `hs_lastmodifieddate`, capped at 10,000
//! results per query), the owners list, and the v4 associations batch read (the search API
//! does not return associations). Requests go through the shared [`http::Client`]: rate limit,
//! retries and `Retry-After` are its business; search requests use its [`SEARCH_LANE`].

use std::collections::{BTreeMap, HashMap};

use indicatif::ProgressBar;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::sources::http;
use crate::sources::{InputError, SourceError};

/// The client lane of search requests (the search API has its own, lower limit).
pub const SEARCH_LANE: &str = "search";
/// The search API's documented cap: results beyond it cannot be paged to.
pub const SEARCH_CAP: u64 = 10_000;
/// Objects per page of a list (the documented maximum).
pub const LIST_LIMIT: u32 = 100;
/// Objects per page of a search (the documented maximum).
pub const SEARCH_LIMIT: u32 = 200;
/// Ids per associations batch read.
pub const BATCH_LIMIT: usize = 100;
/// The property every CRM object's last change is in.
pub const LAST_MODIFIED: &str = "hs_lastmodifieddate";

/// One page of a list.
#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    results: Vec<Value>,
    paging: Option<Paging>,
}

/// One page of a search: a list page with the number of matches.
#[derive(Debug, Deserialize)]
struct SearchPage {
    total: u64,
    #[serde(default)]
    results: Vec<Value>,
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    next: Option<NextPage>,
}

#[derive(Debug, Deserialize)]
struct NextPage {
    after: String,
}

impl Paging {
    fn after(self) -> Option<String> {
        self.next.map(|n| n.after).filter(|a| !a.is_empty())
    }
}

/// A CRM object (company, deal, custom object) as v3 returns it.
#[derive(Clone, Debug, Deserialize)]
pub struct CrmObject {
    pub id: String,
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
    /// Present when the list asked for `associations=companies`.
    #[serde(default)]
    pub associations: Option<Associations>,
    /// The companies the object is associated with, primary ones first (from `associations`
    /// or from a batch read, see [`CrmObject::link`]).
    #[serde(skip)]
    pub companies: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Associations {
    pub companies: Option<AssociationList>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AssociationList {
    #[serde(default)]
    pub results: Vec<Association>,
}

/// `{"id": "101", "type": "deal_to_company"}`; `..._unlabeled` and custom labels are not the
/// primary association.
#[derive(Clone, Debug, Deserialize)]
pub struct Association {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl CrmObject {
    /// The value of property `name`, trimmed; `None` when null, missing or blank.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .get(name)
            .and_then(|v| v.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// Fills [`CrmObject::companies`] from the object's own `associations`.
    fn link_own(&mut self) {
        let Some(list) = self
            .associations
            .as_ref()
            .and_then(|a| a.companies.as_ref())
        else {
            return;
        };
        let mut primary = Vec::new();
        let mut other = Vec::new();
        for a in &list.results {
            let target = if a.kind.ends_with("_to_company") {
                &mut primary
            } else {
                &mut other
            };
            target.push(a.id.clone());
        }
        self.companies = ordered_unique(primary.into_iter().chain(other));
    }

    /// Sets the companies from a batch read (`links`: object id → companies).
    pub fn link(&mut self, links: &HashMap<String, Vec<String>>) {
        if let Some(c) = links.get(&self.id) {
            self.companies = c.clone();
        }
    }
}

fn ordered_unique(ids: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// An owner from `/crm/v3/owners`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// The answer of a v4 associations batch read.
#[derive(Debug, Deserialize)]
struct AssociationBatch {
    #[serde(default)]
    results: Vec<AssociationBatchResult>,
}

#[derive(Debug, Deserialize)]
struct AssociationBatchResult {
    from: BatchFrom,
    #[serde(default)]
    to: Vec<BatchTo>,
}

#[derive(Debug, Deserialize)]
struct BatchFrom {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchTo {
    /// A number in HubSpot's answers, a string in its reference: both are read.
    to_object_id: Value,
    #[serde(default)]
    association_types: Vec<AssociationType>,
}

#[derive(Debug, Deserialize)]
struct AssociationType {
    label: Option<String>,
}

/// What a search for changes found.
#[derive(Debug)]
pub enum Changes<T> {
    /// Every object changed since the given time.
    Changed(Vec<T>),
    /// More than [`SEARCH_CAP`] matched: list everything instead.
    TooMany { total: u64 },
}

/// The requests of one fetch: the client, and the progress bar counting objects read.
pub struct Api<'a> {
    client: &'a http::Client,
    progress: &'a ProgressBar,
}

impl<'a> Api<'a> {
    pub fn new(client: &'a http::Client, progress: &'a ProgressBar) -> Api<'a> {
        Api { client, progress }
    }

    /// Every object of `object` (`companies`, `deals`, a custom object type) with
    /// `properties`, and their associated companies when `with_companies`. Objects that do not
    /// decode are returned as errors; the list is read to its end either way.
    pub async fn list(
        &self,
        object: &str,
        properties: &[String],
        with_companies: bool,
    ) -> Result<Decoded<CrmObject>, SourceError> {
        let path = format!("/crm/v3/objects/{object}");
        let mut values = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![
                ("limit", LIST_LIMIT.to_string()),
                ("properties", properties.join(",")),
            ];
            if with_companies {
                query.push(("associations", "companies".to_string()));
            }
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let page: Page = self.client.get(&path, &query).await?.json()?;
            self.progress.inc(page.results.len() as u64);
            values.extend(page.results);
            match page.paging.and_then(Paging::after) {
                Some(next) if after.as_ref() == Some(&next) => {
                    return Err(repeated_cursor(object));
                }
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut decoded = Decoded::<CrmObject>::decode(kind_of(object), values);
        for o in decoded.items.iter_mut().flatten() {
            o.link_own();
        }
        Ok(decoded)
    }

    /// The objects of `object` whose `hs_lastmodifieddate` is at or after `since_ms` (epoch
    /// milliseconds) and, when `equals` is given, whose property equals the value; oldest
    /// change first. [`Changes::TooMany`] when the search API could not page through them all.
    pub async fn search(
        &self,
        object: &str,
        properties: &[String],
        since_ms: i64,
        equals: Option<(&str, &str)>,
    ) -> Result<Changes<Value>, SourceError> {
        let path = format!("/crm/v3/objects/{object}/search");
        let mut filters = vec![json!({
            "propertyName": LAST_MODIFIED,
            "operator": "GTE",
            "value": since_ms.to_string(),
        })];
        if let Some((property, value)) = equals {
            filters.push(json!({"propertyName": property, "operator": "EQ", "value": value}));
        }
        let mut values = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut body = json!({
                "filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": LAST_MODIFIED, "direction": "ASCENDING"}],
                "properties": properties,
                "limit": SEARCH_LIMIT,
            });
            if let (Some(a), Some(map)) = (&after, body.as_object_mut()) {
                map.insert("after".to_string(), Value::String(a.clone()));
            }
            let page: SearchPage = self
                .client
                .post_json(&path, &body, Some(SEARCH_LANE))
                .await?
                .json()?;
            if page.total > SEARCH_CAP {
                return Ok(Changes::TooMany { total: page.total });
            }
            self.progress.inc(page.results.len() as u64);
            values.extend(page.results);
            match page.paging.and_then(Paging::after) {
                Some(_) if values.len() as u64 >= SEARCH_CAP => {
                    // More changed while paging than the cap allows to reach.
                    return Ok(Changes::TooMany {
                        total: values.len() as u64,
                    });
                }
                Some(next) if after.as_ref() == Some(&next) => {
                    return Err(repeated_cursor(object));
                }
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(Changes::Changed(values))
    }

    /// Every owner: the active ones, then the archived ones (users deactivated since, who may
    /// still own companies).
    pub async fn owners(&self) -> Result<Decoded<Owner>, SourceError> {
        let mut values = self.owner_list(false).await?;
        values.extend(self.owner_list(true).await?);
        Ok(Decoded::decode("owner", values))
    }

    async fn owner_list(&self, archived: bool) -> Result<Vec<Value>, SourceError> {
        let mut values = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![("limit", LIST_LIMIT.to_string())];
            if archived {
                query.push(("archived", "true".to_string()));
            }
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let page: Page = self.client.get("/crm/v3/owners", &query).await?.json()?;
            values.extend(page.results);
            match page.paging.and_then(Paging::after) {
                Some(next) if after.as_ref() == Some(&next) => {
                    return Err(repeated_cursor("owners"));
                }
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(values)
    }

    /// The companies each of `ids` (objects of `object`) is associated with, primary ones
    /// first; ids without associations are left out.
    pub async fn companies_of(
        &self,
        object: &str,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, SourceError> {
        let path = format!("/crm/v4/associations/{object}/companies/batch/read");
        let mut links = HashMap::new();
        for chunk in ids.chunks(BATCH_LIMIT) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({"id": id})).collect();
            let body = json!({ "inputs": inputs });
            let batch: AssociationBatch =
                self.client.post_json(&path, &body, None).await?.json()?;
            for r in batch.results {
                let mut primary = Vec::new();
                let mut other = Vec::new();
                for to in r.to {
                    let id = match &to.to_object_id {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => continue,
                    };
                    let is_primary = to
                        .association_types
                        .iter()
                        .any(|t| t.label.as_deref() == Some("Primary"));
                    if is_primary {
                        primary.push(id);
                    } else {
                        other.push(id);
                    }
                }
                let companies = ordered_unique(primary.into_iter().chain(other));
                links.insert(r.from.id, companies);
            }
        }
        Ok(links)
    }
}

/// How errors name one object of `object`: `company`, `deal`, `usage object`.
pub fn kind_of(object: &str) -> &'static str {
    match object {
        "companies" => "company",
        "deals" => "deal",
        _ => "usage object",
    }
}

fn repeated_cursor(object: &str) -> SourceError {
    SourceError::Other(format!(
        "HubSpot returned the same page cursor twice while listing {object}; stopped to avoid \
         reading forever"
    ))
}

/// Each object of one answer, decoded or the error saying why not, in the answer's order.
#[derive(Debug)]
pub struct Decoded<T> {
    pub items: Vec<Result<T, InputError>>,
}

impl<T: serde::de::DeserializeOwned> Decoded<T> {
    /// Decodes each of `values`; `kind` names them in errors (`company`, `deal`).
    pub fn decode(kind: &str, values: Vec<Value>) -> Decoded<T> {
        let items = values
            .into_iter()
            .map(|v| http::decode_object::<T>(kind, v))
            .collect();
        Decoded { items }
    }

    /// The decoded objects, and the errors.
    pub fn split(self) -> (Vec<T>, Vec<InputError>) {
        let mut objects = Vec::with_capacity(self.items.len());
        let mut errors = Vec::new();
        for item in self.items {
            match item {
                Ok(o) => objects.push(o),
                Err(e) => errors.push(e),
            }
        }
        (objects, errors)
    }
}

impl Decoded<CrmObject> {
    /// Decodes search results and sets their companies from `links`.
    pub fn decode_linked(
        kind: &str,
        values: Vec<Value>,
        links: &HashMap<String, Vec<String>>,
    ) -> Decoded<CrmObject> {
        let mut d = Decoded::<CrmObject>::decode(kind, values);
        for o in d.items.iter_mut().flatten() {
            o.link(links);
        }
        d
    }
}
