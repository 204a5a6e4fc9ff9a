//! Silences: "don't tell us about this until then". A silence mutes a rule, an account, or one
//! rule for one account, until a time, and records who asked and why.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Store-assigned id (0 before it is stored).
    pub id: i64,
    /// Mutes this rule (every subject when `subject` is `None`).
    pub rule: Option<String>,
    /// Mutes this subject: an account id, or `portfolio` (every rule when `rule` is `None`).
    pub subject: Option<String>,
    pub until: DateTime<Utc>,
    pub created_by: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

impl Silence {
    /// Whether this silence mutes `rule` for `subject` at `now`.
    pub fn mutes(&self, rule: &str, subject: &str, now: DateTime<Utc>) -> bool {
        now < self.until
            && self.rule.as_deref().is_none_or(|r| r == rule)
            && self.subject.as_deref().is_none_or(|s| s == subject)
    }
}

/// Whether any of `silences` mutes `rule` for `subject` at `now`.
pub fn is_muted(silences: &[Silence], rule: &str, subject: &str, now: DateTime<Utc>) -> bool {
    silences.iter().any(|s| s.mutes(rule, subject, now))
}
