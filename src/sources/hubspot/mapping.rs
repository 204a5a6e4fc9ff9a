//! HubSpot objects to canonical records, without I/O: a company to an account (the configured
//! properties, owner kept by id until [`Owners`] resolves it), a renewal-pipeline deal to a
//! renewal, a usage object to a daily usage row. Property values are strings; dates come as
//! `YYYY-MM-DD`, ISO date-times or (older payloads) epoch milliseconds. Every bad value is an
//! [`InputError`] naming the object's id and the property; nothing here panics on input.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::api::{CrmObject, Owner};
use super::{AccountField, AccountKey, Renewals, Settings, UsageField, UsageObject};
use crate::model::{Account, RenewalOutcome};
use crate::sources::InputError;

/// The custom field holding a company's HubSpot id (how changes find their account).
pub const COMPANY_ID_FIELD: &str = "hubspot_company_id";
/// The custom field holding the owner property's raw value (an owner id), so that owners are
/// resolved again at every sync.
pub const OWNER_ID_FIELD: &str = "hubspot_owner_id";
/// The custom field holding the owner's email, when the owner is known.
pub const OWNER_EMAIL_FIELD: &str = "hubspot_owner_email";

/// The deal properties a renewal is read from.
pub const DEAL_PROPERTIES: &[&str] = &[
    "dealname",
    "amount",
    "closedate",
    "dealstage",
    "pipeline",
    "hs_lastmodifieddate",
];

/// Owners by id: their "First Last" name (or email, or id when HubSpot has neither) and email.
#[derive(Clone, Debug, Default)]
pub struct Owners(HashMap<String, OwnerInfo>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerInfo {
    pub name: String,
    pub email: Option<String>,
}

impl Owners {
    /// The owners by id; of two with the same id (an active one listed before its archived
    /// copy), the first.
    pub fn new(owners: &[Owner]) -> Owners {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let infos = owners.iter().map(|o| {
            let full = [text(&o.first_name), text(&o.last_name)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let email = text(&o.email);
            let name = if !full.is_empty() {
                full
            } else {
                email.clone().unwrap_or_else(|| o.id.clone())
            };
            (o.id.clone(), OwnerInfo { name, email })
        });
        let mut map = HashMap::new();
        for (id, info) in infos {
            map.entry(id).or_insert(info);
        }
        Owners(map)
    }

    pub fn get(&self, id: &str) -> Option<&OwnerInfo> {
        self.0.get(id)
    }

    /// Sets `account`'s owner from its [`OWNER_ID_FIELD`]: the owner's name and email when
    /// known, the id itself when not.
    pub fn resolve(&self, account: &mut Account) {
        account.custom.remove(OWNER_EMAIL_FIELD);
        let Some(id) = account.custom.get(OWNER_ID_FIELD).cloned() else {
            return;
        };
        match self.get(&id) {
            Some(info) => {
                account.owner = Some(info.name.clone());
                if let Some(e) = &info.email {
                    account
                        .custom
                        .insert(OWNER_EMAIL_FIELD.to_string(), e.clone());
                }
            }
            None => account.owner = Some(id),
        }
    }
}

/// One value's problem, located like [`crate::sources::http::decode_object`] does: the
/// object (`company 514`) and the field (`properties.licensed_seats`).
fn problem(kind: &str, id: &str, property: &str, message: String) -> InputError {
    InputError {
        file: format!("{kind} {id}"),
        line: 0,
        column: Some(format!("properties.{property}")),
        message,
    }
}

/// What a company becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompanyRecord {
    /// Its account, with [`COMPANY_ID_FIELD`] (and [`OWNER_ID_FIELD`]) among the custom fields;
    /// the owner is the raw id until [`Owners::resolve`].
    Account(Box<Account>),
    /// The account key's property is empty: the company cannot be matched, it is left out.
    NoKey,
}

/// The account of `company` per `settings`; each bad value is pushed to `errors` (the account
/// is still returned, without that value).
pub fn company(
    company: &CrmObject,
    settings: &Settings,
    tz: Tz,
    errors: &mut Vec<InputError>,
) -> CompanyRecord {
    let id = match &settings.account_key {
        AccountKey::CompanyId => company.id.trim().to_string(),
        AccountKey::Property(p) => match company.property(p) {
            Some(v) => v.to_string(),
            None => return CompanyRecord::NoKey,
        },
    };
    if id.is_empty() {
        return CompanyRecord::NoKey;
    }
    let name_property = settings
        .properties
        .get(&AccountField::Name)
        .map_or("name", String::as_str);
    let name = company
        .property(name_property)
        .or_else(|| company.property("domain"))
        .unwrap_or(company.id.as_str())
        .to_string();
    let mut account = Account {
        id,
        name,
        ..Account::default()
    };
    let err = |property: &str, message: String| problem("company", &company.id, property, message);
    for (field, property) in &settings.properties {
        let Some(value) = company.property(property) else {
            continue;
        };
        let date = || parse_date(value, tz).map_err(|m| err(property, m));
        let result: Result<(), InputError> = match field {
            AccountField::Name => Ok(()),
            AccountField::Owner => {
                account.owner = Some(value.to_string());
                account
                    .custom
                    .insert(OWNER_ID_FIELD.to_string(), value.to_string());
                Ok(())
            }
            AccountField::Segment => {
                account.segment = Some(value.to_string());
                Ok(())
            }
            AccountField::Plan => {
                account.plan = Some(value.to_string());
                Ok(())
            }
            AccountField::LicensedSeats => parse_count(value)
                .map(|n| account.licensed_seats = Some(n))
                .map_err(|m| err(property, m)),
            AccountField::CreatedAt => date().map(|d| account.created_at = Some(d)),
            AccountField::RenewalDate => date().map(|d| account.renewal_date = Some(d)),
            AccountField::FirstValueAt => date().map(|d| account.first_value_at = Some(d)),
            AccountField::TrialStartedAt => date().map(|d| account.trial_started_at = Some(d)),
            AccountField::TrialEndedAt => date().map(|d| account.trial_ended_at = Some(d)),
            AccountField::ConvertedAt => date().map(|d| account.converted_at = Some(d)),
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    for property in &settings.custom_properties {
        if let Some(value) = company.property(property) {
            account.custom.insert(property.clone(), value.to_string());
        }
    }
    account
        .custom
        .insert(COMPANY_ID_FIELD.to_string(), company.id.clone());
    CompanyRecord::Account(Box::new(account))
}

/// A renewal deal, its account still given as the associated companies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenewalRow {
    /// Associated companies, primary first: the first one known to the sync is the account.
    pub companies: Vec<String>,
    pub due_date: NaiveDate,
    pub outcome: RenewalOutcome,
    pub amount: Option<Decimal>,
}

/// What a deal becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DealRecord {
    Renewal(RenewalRow),
    /// Not in the renewal pipeline.
    OtherPipeline,
    /// No close date: no due date, left out (counted in the sync's warning).
    NoCloseDate,
    /// A bad value, pushed to the errors.
    Invalid,
}

/// The renewal of `deal` per `renewals`.
pub fn deal(
    deal: &CrmObject,
    renewals: &Renewals,
    tz: Tz,
    errors: &mut Vec<InputError>,
) -> DealRecord {
    if deal.property("pipeline") != Some(renewals.pipeline.as_str()) {
        return DealRecord::OtherPipeline;
    }
    let err = |property: &str, message: String| problem("deal", &deal.id, property, message);
    let amount = match deal.property("amount").map(parse_amount) {
        None => Ok(None),
        Some(Ok(a)) => Ok(Some(a)),
        Some(Err(m)) => Err(err("amount", m)),
    };
    let due = match deal.property("closedate").map(|v| parse_date(v, tz)) {
        None => None,
        Some(Ok(d)) => Some(Ok(d)),
        Some(Err(m)) => Some(Err(err("closedate", m))),
    };
    let outcome = renewals.outcome(deal.property("dealstage").unwrap_or_default());
    match (due, amount) {
        (Some(Ok(due_date)), Ok(amount)) => DealRecord::Renewal(RenewalRow {
            companies: deal.companies.clone(),
            due_date,
            outcome,
            amount,
        }),
        (None, Ok(_)) => DealRecord::NoCloseDate,
        (due, amount) => {
            errors.extend(due.and_then(Result::err));
            errors.extend(amount.err());
            DealRecord::Invalid
        }
    }
}

/// One usage object's day, its account still given as the associated companies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRow {
    pub companies: Vec<String>,
    pub date: NaiveDate,
    pub active_users: u32,
    pub sessions: u32,
    pub minutes: Decimal,
    pub features_used: Option<u32>,
}

/// The usage row of `object` per `usage`; `None` after pushing its errors.
pub fn usage(
    object: &CrmObject,
    usage: &UsageObject,
    tz: Tz,
    errors: &mut Vec<InputError>,
) -> Option<UsageRow> {
    let err =
        |property: &str, message: String| problem("usage object", &object.id, property, message);
    let value = |field: UsageField| {
        let property = usage.property(field);
        (property, object.property(property))
    };
    let date = match value(UsageField::Date) {
        (p, None) => Err(err(p, "has no date".to_string())),
        (p, Some(v)) => parse_date(v, tz).map_err(|m| err(p, m)),
    };
    let active_users = match value(UsageField::ActiveUsers) {
        (p, None) => Err(err(p, "has no active users count".to_string())),
        (p, Some(v)) => parse_count(v).map_err(|m| err(p, m)),
    };
    let count = |field: UsageField| match value(field) {
        (_, None) => Ok(None),
        (p, Some(v)) => parse_count(v).map(Some).map_err(|m| err(p, m)),
    };
    let sessions = count(UsageField::Sessions);
    let features_used = count(UsageField::FeaturesUsed);
    let minutes = match value(UsageField::Minutes) {
        (_, None) => Ok(Decimal::ZERO),
        (p, Some(v)) => parse_amount(v).map_err(|m| err(p, m)),
    };
    match (date, active_users, sessions, minutes, features_used) {
        (Ok(date), Ok(active_users), Ok(sessions), Ok(minutes), Ok(features_used)) => {
            Some(UsageRow {
                companies: object.companies.clone(),
                date,
                active_users,
                sessions: sessions.unwrap_or(0),
                minutes,
                features_used,
            })
        }
        (d, a, s, m, f) => {
            errors.extend(d.err());
            errors.extend(a.err());
            errors.extend(s.err());
            errors.extend(m.err());
            errors.extend(f.err());
            None
        }
    }
}

/// One day in milliseconds: an epoch value that is a multiple of it is a date property
/// (HubSpot stores those at midnight UTC).
const DAY_MS: i64 = 86_400_000;

/// A HubSpot date or date-time property's day in the business timezone `tz`: `YYYY-MM-DD` as
/// it is; an ISO date-time with an offset (`Z`, `+01:00`) converted to `tz`, without one read
/// in `tz`; epoch milliseconds converted to `tz`, except exactly midnight UTC, which is how
/// HubSpot stores a date property: that day as it is. The error says what was found.
pub fn parse_date(text: &str, tz: Tz) -> Result<NaiveDate, String> {
    let text = text.trim();
    let bad =
        || format!("\"{text}\" is not a date (YYYY-MM-DD), an ISO date-time or epoch milliseconds");
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d);
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        let ms: i64 = text.parse().map_err(|_| bad())?;
        let at = DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(bad)?;
        if ms % DAY_MS == 0 {
            return Ok(at.date_naive());
        }
        return Ok(at.with_timezone(&tz).date_naive());
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&tz).date_naive());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return tz
                .from_local_datetime(&local)
                .earliest()
                .map(|at| at.date_naive())
                .ok_or_else(bad);
        }
    }
    Err(bad())
}

/// A whole, non-negative number that fits a count (`"12"`, `"12.0"`).
pub fn parse_count(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let d = Decimal::from_str(text).map_err(|_| format!("\"{text}\" is not a whole number"))?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(format!("\"{text}\" is negative"));
    }
    if !d.fract().is_zero() {
        return Err(format!("\"{text}\" is not a whole number"));
    }
    d.to_u32().ok_or_else(|| format!("\"{text}\" is too large"))
}

/// A non-negative decimal amount (`"1500"`, `"1500.50"`).
pub fn parse_amount(text: &str) -> Result<Decimal, String> {
    let text = text.trim();
    let d = Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| format!("\"{text}\" is not a decimal number"))?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(format!("\"{text}\" is negative"));
    }
    Ok(d.normalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn dates_in_every_hubspot_form() {
        let tz: Tz = "America/New_York".parse().unwrap();
        assert_eq!(parse_date("2025-03-04", tz), Ok(ymd(2025, 3, 4)));
        // 02:30 UTC is the evening before in New York.
        assert_eq!(
            parse_date("2025-03-04T02:30:00.000Z", tz),
            Ok(ymd(2025, 3, 3))
        );
        assert_eq!(
            parse_date("2025-03-04T02:30:00+01:00", tz),
            Ok(ymd(2025, 3, 3))
        );
        assert_eq!(parse_date("2025-03-04T02:30:00", tz), Ok(ymd(2025, 3, 4)));
        // A date property in epoch milliseconds: midnight UTC, kept as that day.
        assert_eq!(parse_date("1741046400000", tz), Ok(ymd(2025, 3, 4)));
        // A timestamp: 2025-03-04T02:30:00Z, the evening before in New York.
        assert_eq!(parse_date("1741055400000", tz), Ok(ymd(2025, 3, 3)));
        for bad in ["March 4", "2025-13-01", "", "04/03/2025", "-5"] {
            assert!(parse_date(bad, tz).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_and_amounts() {
        assert_eq!(parse_count("12"), Ok(12));
        assert_eq!(parse_count(" 12.0 "), Ok(12));
        assert_eq!(parse_count("0"), Ok(0));
        assert_eq!(
            parse_count("ten"),
            Err("\"ten\" is not a whole number".into())
        );
        assert_eq!(
            parse_count("1.5"),
            Err("\"1.5\" is not a whole number".into())
        );
        assert_eq!(parse_count("-1"), Err("\"-1\" is negative".into()));
        assert_eq!(
            parse_count("5000000000"),
            Err("\"5000000000\" is too large".into())
        );
        assert_eq!(parse_amount("1500.50"), Ok(Decimal::new(150050, 2)));
        assert_eq!(parse_amount("1500.00"), Ok(Decimal::new(1500, 0)));
        assert!(parse_amount("-3").is_err());
        assert!(parse_amount("1,500").is_err());
    }

    #[test]
    fn stage_outcomes_default_and_configured() {
        let mut r = Renewals {
            pipeline: "renewals".into(),
            stages: Default::default(),
        };
        assert_eq!(r.outcome("closedwon"), RenewalOutcome::Renewed);
        assert_eq!(r.outcome("closedlost"), RenewalOutcome::Churned);
        assert_eq!(r.outcome("contractsent"), RenewalOutcome::Pending);
        r.stages.insert("9001".into(), RenewalOutcome::Renewed);
        r.stages.insert("closedwon".into(), RenewalOutcome::Pending);
        assert_eq!(r.outcome("9001"), RenewalOutcome::Renewed);
        assert_eq!(r.outcome("closedwon"), RenewalOutcome::Pending);
    }
}
