//! The desk that answers: one [`Desk`] per running service holds what answers need (the config,
//! the store, the health model, the rules, the scorecard definitions and the cached data) and
//! turns a parsed [`Command`] or a pressed button into a [`Reply`], checking permissions first.
//! Platform adapters call nothing else.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::metrics::HealthModels;
use crate::notify::{Action, ActionKind, Tone};
use crate::rules::Rule;
use crate::scorecard::ScorecardDef;
use crate::store::SqliteStore;

use super::access::Caller;
use super::answers;
use super::command::{Command, ParamKind};
use super::data::DataCache;
use super::reply::Reply;

/// One autocomplete suggestion: what the list shows, and what the option receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub name: String,
    pub value: String,
}

/// Discord shows at most 25 suggestions (Slack has no autocomplete for `/cs`).
pub const MAX_CHOICES: usize = 25;

/// Everything the answers read.
pub struct Desk {
    pub config: Arc<Config>,
    pub store: SqliteStore,
    pub health: HealthModels,
    pub rules: Vec<Rule>,
    pub scorecards: Vec<ScorecardDef>,
    pub data: DataCache,
}

impl Desk {
    pub fn new(
        config: Arc<Config>,
        store: SqliteStore,
        health: HealthModels,
        rules: Vec<Rule>,
        scorecards: Vec<ScorecardDef>,
    ) -> Desk {
        let data = DataCache::new(store.clone());
        Desk {
            config,
            store,
            health,
            rules,
            scorecards,
            data,
        }
    }

    /// The reply to a command. Never fails: a refusal, a missing account or a store error is a
    /// reply too (the error itself goes to the log).
    pub async fn answer(&self, caller: &Caller, command: &Command, now: DateTime<Utc>) -> Reply {
        if command.acts() && !caller.act {
            return refusal(
                &format!("/{}", command.name()),
                "snooze or acknowledge alerts",
            );
        }
        let result = match command {
            Command::Kpi {
                metric,
                period,
                segment,
                owner,
            } => {
                answers::lookup::kpi(
                    self,
                    caller,
                    *metric,
                    *period,
                    segment.as_deref(),
                    owner.as_deref(),
                    now,
                )
                .await
            }
            Command::Account { account } => {
                answers::lookup::account(self, caller, account, now).await
            }
            Command::AtRisk { segment, owner } => {
                answers::lookup::at_risk(self, caller, segment.as_deref(), owner.as_deref(), now)
                    .await
            }
            Command::Renewals { days } => answers::lookup::renewals(self, caller, *days, now).await,
            Command::Scorecard { period } => {
                answers::lookup::scorecard(self, caller, *period, now).await
            }
            Command::Alerts => answers::alerts::list(self, caller, now).await,
            Command::Snooze {
                target,
                duration,
                reason,
            } => {
                answers::alerts::snooze(self, caller, target, *duration, reason.as_deref(), now)
                    .await
            }
            Command::Ack { alert } => answers::alerts::ack(self, caller, alert, now).await,
            Command::Help { command } => Ok(answers::help::help(*command, caller.syntax)),
        };
        result.unwrap_or_else(|e| failure(command.name(), e))
    }

    /// The reply to a pressed button.
    pub async fn press(&self, caller: &Caller, action: &Action, now: DateTime<Utc>) -> Reply {
        let result = match action.kind {
            ActionKind::Ack | ActionKind::Snooze if !caller.act => {
                return refusal(action.label(), "snooze or acknowledge alerts")
            }
            ActionKind::Ack => answers::alerts::ack(self, caller, &action.target, now).await,
            ActionKind::Snooze => {
                answers::alerts::snooze(
                    self,
                    caller,
                    &action.target,
                    chrono::Duration::days(7),
                    None,
                    now,
                )
                .await
            }
            ActionKind::Open => answers::lookup::account(self, caller, &action.target, now)
                .await
                .map(|mut r| {
                    r.ephemeral = true;
                    r
                }),
        };
        result.unwrap_or_else(|e| failure(action.label(), e))
    }

    /// Suggestions for a parameter from what the caller has typed so far, best first, at most
    /// [`MAX_CHOICES`].
    pub async fn complete(&self, kind: ParamKind, typed: &str, now: DateTime<Utc>) -> Vec<Choice> {
        answers::complete::complete(self, kind, typed, now)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "autocomplete failed");
                vec![]
            })
    }
}

/// A polite no: what the caller tried, and which permission it needs.
pub fn refusal(what: &str, needs: &str) -> Reply {
    Reply::note(
        format!("{what}: not allowed"),
        vec![format!(
            "Your roles don't allow you to {needs}. Ask an admin to add you in cs-pulse's [chat] permissions."
        )],
        Tone::Warning,
    )
}

fn failure(what: &str, e: anyhow::Error) -> Reply {
    tracing::error!(command = what, error = %format!("{e:#}"), "chat answer failed");
    Reply::note(
        format!("Couldn't answer {what}"),
        vec![format!("{e}")],
        Tone::Critical,
    )
}
