//! Validation of a `hubspot` source table into [`crate::sources::hubspot::Settings`]: the shared
//! network keys (with HubSpot's documented defaults), the private app token's variable, which
//! company value is the account id, the property mappings, the renewal pipeline with its stage
//! outcomes and the optional usage object. Every problem is reported with its span.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::super::raw::RawSource;
use super::super::{quoted_list, SourceKind, Validator};
use super::network::NetworkDefaults;
use crate::model::RenewalOutcome;
use crate::sources::hubspot::{
    self, is_object_type, is_property_name, AccountField, AccountKey, Renewals, Settings,
    UsageField, UsageObject,
};

const PROPERTY_HINT: &str = "HubSpot's internal property names are lower-case letters, digits \
     and `_`, like `annual_contract_value` (Settings > Properties > the property > details)";

impl Validator<'_> {
    /// The settings of the `hubspot` source `name` whose table starts at `header`, or `None`
    /// after reporting every problem.
    pub(in crate::config) fn hubspot_source(
        &mut self,
        name: &str,
        header: Range<usize>,
        raw: &RawSource,
    ) -> Option<SourceKind> {
        let defaults = NetworkDefaults {
            base_url: hubspot::DEFAULT_BASE_URL,
            rate_limit: hubspot::default_rate_limit(),
        };
        let network = self.network(raw, &defaults);
        let token = self.source_secret(name, header.clone(), &raw.token, "token", "HUBSPOT_TOKEN");
        let account_key = match &raw.account_key {
            Some(v) => self.hubspot_account_key(v),
            None => Some(AccountKey::CompanyId),
        };
        let properties = self.hubspot_properties(raw);
        let custom_properties = self.hubspot_custom_properties(raw);
        let renewals = self.hubspot_renewals(raw);
        let usage = self.hubspot_usage(raw);
        let full_sync_every =
            self.full_sync_every(raw, chrono::Duration::days(hubspot::DEFAULT_FULL_SYNC_DAYS));
        Some(SourceKind::Hubspot(Settings {
            network: network?,
            search_rate_limit: hubspot::search_rate_limit(),
            token: token?,
            account_key: account_key?,
            properties: properties?,
            custom_properties: custom_properties?,
            renewals: renewals?,
            usage: usage?,
            full_sync_every: full_sync_every?,
        }))
    }

    /// `company_id` or `property.<name>`.
    fn hubspot_account_key(&mut self, v: &Spanned<String>) -> Option<AccountKey> {
        match AccountKey::parse(v.get_ref()) {
            Ok(key) => Some(key),
            Err(message) => {
                self.error(
                    v.span(),
                    format!("account_key {message}"),
                    Some(
                        "write `company_id` (HubSpot's company id, the default) or \
                         `property.<name>` (a company property, like `property.domain` to \
                         match Stripe's `email_domain`)"
                            .to_string(),
                    ),
                );
                None
            }
        }
    }

    /// A property name, reported at its span when it cannot be one; `what` says where it is.
    fn hubspot_property(&mut self, v: &Spanned<String>, what: &str) -> Option<String> {
        let name = v.get_ref().trim();
        if is_property_name(name) {
            return Some(name.to_string());
        }
        self.error(
            v.span(),
            format!("{what}: `{name}` is not a HubSpot property name"),
            Some(PROPERTY_HINT.to_string()),
        );
        None
    }

    /// `[properties]`: account field → company property, over the defaults.
    fn hubspot_properties(&mut self, raw: &RawSource) -> Option<BTreeMap<AccountField, String>> {
        let mut map = AccountField::defaults();
        let Some(table) = &raw.properties else {
            return Some(map);
        };
        let mut ok = true;
        for (field, property) in table.get_ref() {
            let parsed = AccountField::parse(field.get_ref().trim());
            if parsed.is_none() {
                ok = false;
                let words: Vec<&str> = AccountField::ALL.iter().map(|f| f.as_str()).collect();
                let hint = if field.get_ref().trim() == "id" {
                    "the account id is chosen by `account_key` (`company_id` or \
                     `property.<name>`)"
                        .to_string()
                } else {
                    let close =
                        crate::config::toml_file::closest(field.get_ref(), words.iter().copied())
                            .map_or(String::new(), |w| format!("did you mean `{w}`? "));
                    format!("{close}the account fields are {}", quoted_list(&words))
                };
                self.error(
                    field.span(),
                    format!("`{}` is not an account field", field.get_ref()),
                    Some(hint),
                );
            }
            let what = format!("properties.{}", field.get_ref());
            let property = self.hubspot_property(property, &what);
            match (parsed, property) {
                (Some(f), Some(p)) => {
                    map.insert(f, p);
                }
                _ => ok = false,
            }
        }
        ok.then_some(map)
    }

    /// `custom_properties = [...]`: company properties kept as custom fields.
    fn hubspot_custom_properties(&mut self, raw: &RawSource) -> Option<Vec<String>> {
        let Some(list) = &raw.custom_properties else {
            return Some(vec![]);
        };
        let mut ok = true;
        let mut out = Vec::new();
        for p in list.get_ref() {
            match self.hubspot_property(p, "custom_properties") {
                Some(name) if !out.contains(&name) => out.push(name),
                Some(_) => {}
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// `renewal_pipeline` and `stages` (which need the pipeline).
    fn hubspot_renewals(&mut self, raw: &RawSource) -> Option<Option<Renewals>> {
        let pipeline = match &raw.renewal_pipeline {
            Some(p) if p.get_ref().trim().is_empty() => {
                self.error(
                    p.span(),
                    "renewal_pipeline is empty",
                    Some(
                        "give the pipeline's internal id (`default` for the default pipeline; \
                         Settings > Objects > Deals > Pipelines shows the others)"
                            .to_string(),
                    ),
                );
                return None;
            }
            Some(p) => Some(p.get_ref().trim().to_string()),
            None => None,
        };
        let Some(table) = &raw.stages else {
            return Some(pipeline.map(|pipeline| Renewals {
                pipeline,
                stages: BTreeMap::new(),
            }));
        };
        let mut ok = true;
        if pipeline.is_none() {
            ok = false;
            self.error(
                self.key_span(table.span(), "stages"),
                "`stages` without `renewal_pipeline`",
                Some(
                    "stages map the deal stages of the renewal pipeline: add \
                     `renewal_pipeline = \"<pipeline id>\"`"
                        .to_string(),
                ),
            );
        }
        let mut stages = BTreeMap::new();
        for (stage, outcome) in table.get_ref() {
            let stage_id = stage.get_ref().trim();
            if stage_id.is_empty() {
                ok = false;
                self.error(
                    stage.span(),
                    "a deal stage id is empty",
                    Some("use the stage's internal id, like `closedwon` or `12345678`".into()),
                );
            }
            match outcome.get_ref().trim().parse::<RenewalOutcome>() {
                Ok(o) => {
                    stages.insert(stage_id.to_string(), o);
                }
                Err(()) => {
                    ok = false;
                    let words: Vec<&str> = RenewalOutcome::ALL.iter().map(|o| o.as_str()).collect();
                    self.error(
                        outcome.span(),
                        format!(
                            "stage `{stage_id}`: `{}` is not a renewal outcome",
                            outcome.get_ref()
                        ),
                        Some(format!("a stage maps to {}", quoted_list(&words))),
                    );
                }
            }
        }
        if !ok {
            return None;
        }
        Some(pipeline.map(|pipeline| Renewals { pipeline, stages }))
    }

    /// `usage_object` and `usage_properties` (which need the object).
    fn hubspot_usage(&mut self, raw: &RawSource) -> Option<Option<UsageObject>> {
        let mut ok = true;
        let object = match &raw.usage_object {
            Some(o) if is_object_type(o.get_ref().trim()) => Some(o.get_ref().trim().to_string()),
            Some(o) => {
                ok = false;
                self.error(
                    o.span(),
                    format!(
                        "usage_object `{}` is not a HubSpot object type",
                        o.get_ref()
                    ),
                    Some(
                        "give the custom object's type id, like `2-1234567`, or its name \
                         (letters, digits, `-` and `_`)"
                            .to_string(),
                    ),
                );
                None
            }
            None => None,
        };
        let mut properties = UsageField::defaults();
        if let Some(table) = &raw.usage_properties {
            if raw.usage_object.is_none() {
                ok = false;
                self.error(
                    self.key_span(table.span(), "usage_properties"),
                    "`usage_properties` without `usage_object`",
                    Some(
                        "usage properties are read from a custom object: add \
                         `usage_object = \"2-1234567\"`"
                            .to_string(),
                    ),
                );
            }
            for (field, property) in table.get_ref() {
                let parsed = UsageField::parse(field.get_ref().trim());
                if parsed.is_none() {
                    let words: Vec<&str> = UsageField::ALL.iter().map(|f| f.as_str()).collect();
                    self.error(
                        field.span(),
                        format!("`{}` is not a usage field", field.get_ref()),
                        Some(format!("the usage fields are {}", quoted_list(&words))),
                    );
                }
                let what = format!("usage_properties.{}", field.get_ref());
                match (parsed, self.hubspot_property(property, &what)) {
                    (Some(f), Some(p)) => {
                        properties.insert(f, p);
                    }
                    _ => ok = false,
                }
            }
        }
        if !ok {
            return None;
        }
        Some(object.map(|object| UsageObject { object, properties }))
    }
}
