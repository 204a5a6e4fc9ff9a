//! The source's records keyed by HubSpot ids, so that an incremental sync can apply changes
//! to what the last good sync stored: accounts by company id (the custom field
//! `hubspot_company_id`), renewals by deal id, usage rows by company and day. Pure: built from
//! a stored [`Dataset`] or from fetched objects, turned back into a [`Dataset`] at the end.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::api::CrmObject;
use super::mapping::{
    self, CompanyRecord, DealRecord, Owners, RenewalRow, UsageRow, COMPANY_ID_FIELD,
};
use super::{AccountKey, Renewals, Settings, UsageObject};
use crate::model::{Account, Dataset, Renewal, Usage};
use crate::sources::InputError;

/// Records keyed by HubSpot ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Company id → its account.
    pub accounts: BTreeMap<String, Account>,
    /// Deal id → its renewal.
    pub renewals: BTreeMap<String, RenewalRow>,
    pub usage: Vec<UsageRow>,
}

/// What was left out, for the one warning of a sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    pub companies_without_key: usize,
    pub deals_without_close_date: usize,
    pub deals_without_company: usize,
    pub usage_without_company: usize,
}

impl Skipped {
    /// `3 companies without `domain` (the account key), 2 renewal deals without a known
    /// company`; `None` when nothing was left out.
    pub fn describe(&self, key: &AccountKey) -> Option<String> {
        let key = match key {
            AccountKey::CompanyId => "an id".to_string(),
            AccountKey::Property(p) => format!("`{p}`"),
        };
        let parts: Vec<String> = [
            (
                self.companies_without_key,
                format!("without {key} (the account key)"),
                "company",
                "companies",
            ),
            (
                self.deals_without_close_date,
                "without a close date".to_string(),
                "renewal deal",
                "renewal deals",
            ),
            (
                self.deals_without_company,
                "without a known company".to_string(),
                "renewal deal",
                "renewal deals",
            ),
            (
                self.usage_without_company,
                "without a known company".to_string(),
                "usage object",
                "usage objects",
            ),
        ]
        .into_iter()
        .filter(|(n, ..)| *n > 0)
        .map(|(n, why, one, many)| format!("{n} {} {why}", if n == 1 { one } else { many }))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

impl Snapshot {
    /// The stored data of the source keyed again; `None` when an account has no
    /// `hubspot_company_id` (data stored otherwise: a full sync is needed).
    pub fn from_dataset(data: &Dataset) -> Option<Snapshot> {
        let mut snap = Snapshot::default();
        let mut company_of = Vec::with_capacity(data.accounts().len());
        for a in data.accounts() {
            let company = a.custom.get(COMPANY_ID_FIELD)?.clone();
            company_of.push(company.clone());
            snap.accounts.insert(company, a.clone());
        }
        let company = |ix: u32| company_of.get(ix as usize).cloned();
        for r in &data.renewals {
            let row = RenewalRow {
                companies: vec![company(r.account)?],
                due_date: r.due_date,
                outcome: r.outcome,
                amount: r.amount,
            };
            snap.renewals.insert(r.id.clone(), row);
        }
        for u in &data.usage {
            snap.usage.push(UsageRow {
                companies: vec![company(u.account)?],
                date: u.date,
                active_users: u.active_users,
                sessions: u.sessions,
                minutes: u.minutes,
                features_used: u.features_used,
            });
        }
        Some(snap)
    }

    /// Adds or replaces the account of `company`; a company without an account key removes
    /// what was there.
    pub fn put_company(
        &mut self,
        company: &CrmObject,
        settings: &Settings,
        tz: Tz,
        errors: &mut Vec<InputError>,
        skipped: &mut Skipped,
    ) {
        match mapping::company(company, settings, tz, errors) {
            CompanyRecord::Account(a) => {
                self.accounts.insert(company.id.clone(), *a);
            }
            CompanyRecord::NoKey => {
                self.accounts.remove(&company.id);
                skipped.companies_without_key += 1;
            }
        }
    }

    /// Adds or replaces the renewal of `deal`; a deal that is no renewal (any more) removes
    /// what was there.
    pub fn put_deal(
        &mut self,
        deal: &CrmObject,
        renewals: &Renewals,
        tz: Tz,
        errors: &mut Vec<InputError>,
        skipped: &mut Skipped,
    ) {
        match mapping::deal(deal, renewals, tz, errors) {
            DealRecord::Renewal(row) => {
                self.renewals.insert(deal.id.clone(), row);
            }
            DealRecord::NoCloseDate => {
                self.renewals.remove(&deal.id);
                skipped.deals_without_close_date += 1;
            }
            DealRecord::OtherPipeline | DealRecord::Invalid => {
                self.renewals.remove(&deal.id);
            }
        }
    }

    /// The usage rows of `objects` (every one of the source when `all`; those that did not
    /// decode are errors, in order), replacing the stored
    /// rows of the same company and day (every stored row when `all`).
    pub fn put_usage(
        &mut self,
        objects: Vec<Result<CrmObject, InputError>>,
        usage: &UsageObject,
        tz: Tz,
        all: bool,
        errors: &mut Vec<InputError>,
    ) {
        let mut rows = Vec::with_capacity(objects.len());
        for o in objects {
            match o {
                Ok(o) => rows.extend(mapping::usage(&o, usage, tz, errors)),
                Err(e) => errors.push(e),
            }
        }
        if all {
            self.usage = rows;
            return;
        }
        // A changed row replaces the stored rows of its company and day (one usage object per
        // company and day is the expected shape; see docs/sources/hubspot.md).
        let mut fresh = Vec::with_capacity(rows.len());
        let mut keys: HashSet<(String, NaiveDate)> = HashSet::new();
        for mut row in rows {
            let known = row
                .companies
                .iter()
                .find(|c| self.accounts.contains_key(*c))
                .cloned();
            // A row without a known company is counted when the data set is built.
            if let Some(c) = known {
                keys.insert((c.clone(), row.date));
                row.companies = vec![c];
            }
            fresh.push(row);
        }
        self.usage.retain(|r| {
            r.companies
                .first()
                .is_none_or(|c| !keys.contains(&(c.clone(), r.date)))
        });
        self.usage.extend(fresh);
    }

    /// The canonical data set: owners resolved, renewals and usage attached to the first of
    /// their companies that has an account (the others are counted in `skipped`). Two
    /// companies with the same account id are an error naming both.
    pub fn into_dataset(
        self,
        owners: &Owners,
        key: &AccountKey,
        skipped: &mut Skipped,
    ) -> Result<Dataset, Vec<InputError>> {
        let mut errors = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut accounts = Vec::with_capacity(self.accounts.len());
        let mut company_ix: HashMap<String, u32> = HashMap::new();
        for (company, mut account) in self.accounts {
            if let Some(first) = seen.get(&account.id) {
                let column = match key {
                    AccountKey::CompanyId => "id".to_string(),
                    AccountKey::Property(p) => format!("properties.{p}"),
                };
                errors.push(InputError {
                    file: format!("company {company}"),
                    line: 0,
                    column: Some(column),
                    message: format!(
                        "has the same account id \"{}\" as company {first} (account_key \
                         {key}); each account needs its own",
                        account.id
                    ),
                });
                continue;
            }
            seen.insert(account.id.clone(), company.clone());
            owners.resolve(&mut account);
            let Ok(ix) = u32::try_from(accounts.len()) else {
                break;
            };
            company_ix.insert(company, ix);
            accounts.push(account);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut data = Dataset::new(accounts).map_err(|e| {
            vec![InputError {
                file: "company".to_string(),
                line: 0,
                column: None,
                message: e.to_string(),
            }]
        })?;
        let find = |companies: &[String]| companies.iter().find_map(|c| company_ix.get(c).copied());
        for (id, row) in self.renewals {
            match find(&row.companies) {
                Some(account) => data.renewals.push(Renewal {
                    id,
                    account,
                    due_date: row.due_date,
                    outcome: row.outcome,
                    amount: row.amount,
                }),
                None => skipped.deals_without_company += 1,
            }
        }
        for row in self.usage {
            match find(&row.companies) {
                Some(account) => data.usage.push(Usage {
                    account,
                    date: row.date,
                    active_users: row.active_users,
                    sessions: row.sessions,
                    minutes: row.minutes,
                    features_used: row.features_used,
                }),
                None => skipped.usage_without_company += 1,
            }
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RenewalOutcome;
    use rust_decimal::Decimal;

    fn account(company: &str, id: &str, owner: Option<&str>) -> Account {
        let mut a = Account {
            id: id.to_string(),
            name: id.to_uppercase(),
            ..Account::default()
        };
        a.custom
            .insert(COMPANY_ID_FIELD.to_string(), company.to_string());
        if let Some(o) = owner {
            a.custom
                .insert(mapping::OWNER_ID_FIELD.to_string(), o.to_string());
        }
        a
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 2, d).unwrap()
    }

    fn row(company: &str, d: u32, users: u32) -> UsageRow {
        UsageRow {
            companies: vec![company.to_string()],
            date: day(d),
            active_users: users,
            sessions: 0,
            minutes: Decimal::ZERO,
            features_used: None,
        }
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        s.accounts
            .insert("1".into(), account("1", "acme.com", Some("77")));
        s.accounts
            .insert("2".into(), account("2", "globex.com", None));
        s.renewals.insert(
            "d1".into(),
            RenewalRow {
                companies: vec!["9".into(), "2".into()],
                due_date: day(28),
                outcome: RenewalOutcome::Pending,
                amount: None,
            },
        );
        s.renewals.insert(
            "d2".into(),
            RenewalRow {
                companies: vec!["9".into()],
                due_date: day(28),
                outcome: RenewalOutcome::Renewed,
                amount: None,
            },
        );
        s.usage = vec![row("1", 1, 3), row("1", 2, 4), row("2", 2, 5)];
        s
    }

    #[test]
    fn a_stored_data_set_is_keyed_again_by_hubspot_ids() {
        let mut skipped = Skipped::default();
        let data = snapshot()
            .into_dataset(&Owners::default(), &AccountKey::CompanyId, &mut skipped)
            .unwrap();
        // d1 goes to the first of its companies that is synced; d2 has none.
        assert_eq!(data.renewals.len(), 1);
        assert_eq!(data.account(data.renewals[0].account).id, "globex.com");
        assert_eq!(skipped.deals_without_company, 1);
        // An unknown owner id stays as it is.
        assert_eq!(data.accounts()[0].owner.as_deref(), Some("77"));

        let again = Snapshot::from_dataset(&data).unwrap();
        assert_eq!(again.accounts.len(), 2);
        assert_eq!(again.renewals["d1"].companies, ["2"]);
        assert_eq!(again.usage.len(), 3);
        let mut skipped = Skipped::default();
        let data2 = again
            .into_dataset(&Owners::default(), &AccountKey::CompanyId, &mut skipped)
            .unwrap();
        assert_eq!(data2, data);

        // Data stored without HubSpot ids asks for a full sync.
        let plain = Dataset::new(vec![Account {
            id: "x".into(),
            name: "X".into(),
            ..Account::default()
        }])
        .unwrap();
        assert!(Snapshot::from_dataset(&plain).is_none());
    }

    #[test]
    fn changed_usage_replaces_the_rows_of_its_company_and_day() {
        let mut s = snapshot();
        let usage = UsageObject {
            object: "2-1".into(),
            properties: super::super::UsageField::defaults(),
        };
        let object = |id: &str, company: &str, d: &str, users: &str| CrmObject {
            id: id.into(),
            properties: [
                ("date".to_string(), Some(d.to_string())),
                ("active_users".to_string(), Some(users.to_string())),
            ]
            .into_iter()
            .collect(),
            associations: None,
            companies: vec![company.to_string()],
        };
        let mut errors = Vec::new();
        let changed = vec![Ok(object("u9", "1", "2025-02-02", "40"))];
        s.put_usage(changed, &usage, Tz::UTC, false, &mut errors);
        assert!(errors.is_empty());
        let mut rows: Vec<(String, NaiveDate, u32)> = s
            .usage
            .iter()
            .map(|r| (r.companies[0].clone(), r.date, r.active_users))
            .collect();
        rows.sort();
        assert_eq!(
            rows,
            [
                ("1".to_string(), day(1), 3),
                ("1".to_string(), day(2), 40),
                ("2".to_string(), day(2), 5),
            ]
        );
    }

    #[test]
    fn what_was_left_out_is_said_once() {
        let none = Skipped::default();
        assert_eq!(none.describe(&AccountKey::CompanyId), None);
        let some = Skipped {
            companies_without_key: 3,
            deals_without_close_date: 1,
            deals_without_company: 0,
            usage_without_company: 2,
        };
        assert_eq!(
            some.describe(&AccountKey::Property("domain".into()))
                .unwrap(),
            "3 companies without `domain` (the account key), 1 renewal deal without a close \
             date, 2 usage objects without a known company"
        );
    }
}
