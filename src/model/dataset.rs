//! A complete set of canonical records: what a source produces and what the metrics engine reads.

use std::collections::HashMap;

use super::{Account, Cost, Renewal, Subscription, SurveyResponse, Ticket, Usage};

/// Index of an account in [`Dataset::accounts`].
pub type AccountIx = u32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetError {
    #[error("duplicate account id \"{0}\"")]
    DuplicateAccount(String),
    #[error("more than {} accounts", u32::MAX)]
    TooManyAccounts,
}

/// Every record of one data set. Child records refer to `accounts` by index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dataset {
    accounts: Vec<Account>,
    by_id: HashMap<String, AccountIx>,
    pub subscriptions: Vec<Subscription>,
    pub usage: Vec<Usage>,
    pub survey_responses: Vec<SurveyResponse>,
    pub tickets: Vec<Ticket>,
    pub renewals: Vec<Renewal>,
    pub costs: Vec<Cost>,
}

impl Dataset {
    /// A data set of these accounts and no other records yet; ids must be unique.
    pub fn new(accounts: Vec<Account>) -> Result<Dataset, DatasetError> {
        if accounts.len() > u32::MAX as usize {
            return Err(DatasetError::TooManyAccounts);
        }
        let mut by_id = HashMap::with_capacity(accounts.len());
        for (i, a) in accounts.iter().enumerate() {
            if by_id.insert(a.id.clone(), i as AccountIx).is_some() {
                return Err(DatasetError::DuplicateAccount(a.id.clone()));
            }
        }
        Ok(Dataset {
            accounts,
            by_id,
            ..Dataset::default()
        })
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    pub fn account(&self, ix: AccountIx) -> &Account {
        &self.accounts[ix as usize]
    }

    /// The index of the account with this id (ids are case-sensitive).
    pub fn account_ix(&self, id: &str) -> Option<AccountIx> {
        self.by_id.get(id).copied()
    }

    /// Total number of records of every kind.
    pub fn record_count(&self) -> usize {
        self.accounts.len()
            + self.subscriptions.len()
            + self.usage.len()
            + self.survey_responses.len()
            + self.tickets.len()
            + self.renewals.len()
            + self.costs.len()
    }
}
