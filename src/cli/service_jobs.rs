//! What the scheduled jobs of `cs-pulse run` do: sync sources, evaluate the rules and queue
//! their alerts, compute and queue the scorecards. Each job stores its messages in the outbox
//! and wakes the delivery loop; the outbox's identities make a repeated run harmless (a
//! scorecard is queued once per period and channel, whatever restarts happen).

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use tokio::sync::Notify;

use super::delivery::{alert_items, scorecard_items};
use super::rules_commands::evaluate;
use super::scorecard_command::{default_period, last_sync};
use super::{engine_for, load_data_from, today_in, wall_clock};
use crate::config::{Config, JobConfig, JobKind};
use crate::notify::outbox::Deliverer;
use crate::rules::Rule;
use crate::scheduler::JobExecutor;
use crate::scorecard::{self, ScorecardDef};
use crate::sources;
use crate::store::{OutboxStore, SqliteStore};
use crate::sync::{self, SyncOptions};

/// Everything the jobs need, loaded once at start.
pub struct ServiceJobs {
    pub config: Config,
    pub rules: Vec<Rule>,
    pub scorecards: Vec<ScorecardDef>,
    pub store: SqliteStore,
    pub deliverer: Arc<Deliverer>,
    /// Wakes the delivery loop when a job queued messages.
    pub wake: Arc<Notify>,
}

#[async_trait]
impl JobExecutor for ServiceJobs {
    async fn run(&self, job: &JobConfig, scheduled_for: DateTime<Utc>) -> Result<()> {
        match &job.kind {
            JobKind::Sync { sources } => self.sync(sources.as_deref()).await,
            JobKind::Evaluate => self.evaluate().await,
            JobKind::Scorecard { scorecard } => {
                self.scorecards(scorecard.as_deref(), job, scheduled_for)
                    .await
            }
        }
    }
}

impl ServiceJobs {
    async fn sync(&self, only: Option<&[String]>) -> Result<()> {
        let ctx = self.config.source_context();
        let today = today_in(self.config.timezone, wall_clock());
        let mut failed = vec![];
        for sc in &self.config.sources {
            if only.is_some_and(|names| !names.contains(&sc.name)) {
                continue;
            }
            let source = match sources::from_config(sc, &ctx, today) {
                Ok(source) => source,
                Err(e) => {
                    tracing::error!(source = %sc.name, "sync failed: {e}");
                    failed.push(sc.name.clone());
                    continue;
                }
            };
            let hidden = ProgressBar::hidden();
            let options = SyncOptions::default();
            match sync::sync_source(source.as_ref(), &self.store, &wall_clock, &hidden, options)
                .await
            {
                Ok(run) => tracing::info!(source = %sc.name, "{}", sync::summary_line(&run)),
                Err(e) => {
                    tracing::error!(source = %sc.name, "sync failed: {e}");
                    failed.push(sc.name.clone());
                }
            }
        }
        if !failed.is_empty() {
            bail!("sync failed for {}", failed.join(", "));
        }
        Ok(())
    }

    async fn evaluate(&self) -> Result<()> {
        let now = wall_clock();
        let day = today_in(self.config.timezone, now)
            .pred_opt()
            .unwrap_or_default();
        let outcome = evaluate(&self.config, &self.rules, &self.store, day, now).await?;
        let items = alert_items(&self.deliverer, &outcome.messages, now);
        let queued = self
            .store
            .enqueue(&outcome.changed, &items, now)
            .await
            .context("cannot store the evaluation")?;
        crate::telemetry::record_evaluation(
            self.rules.iter().map(|r| r.id.as_str()),
            &outcome.counts,
        );
        tracing::info!(
            rules = self.rules.len(),
            %day,
            held = outcome.held,
            queued = queued.queued,
            "evaluated"
        );
        self.wake.notify_one();
        Ok(())
    }

    /// Scorecards for the period that `scheduled_for` closes (a late catch-up run makes the
    /// same period's scorecard, and the outbox keeps one per period and channel).
    async fn scorecards(
        &self,
        only: Option<&str>,
        job: &JobConfig,
        scheduled_for: DateTime<Utc>,
    ) -> Result<()> {
        let data = load_data_from(&self.store, &self.config).await?;
        let engine = engine_for(&self.config, &data)?;
        let synced_at = last_sync(&self.store).await;
        // The day the job's time falls on where the job is scheduled (a Monday 08:00 Berlin job
        // closes the Berlin week, whatever the config's timezone).
        let today = today_in(job.schedule.timezone(), scheduled_for);
        let now = wall_clock();
        let mut items = vec![];
        for def in &self.scorecards {
            if only.is_some_and(|id| id != def.id) {
                continue;
            }
            let period = default_period(def, today);
            for mut card in scorecard::compute(&engine, def, period, today) {
                card.synced_at = synced_at;
                let message = scorecard::to_message(&card);
                items.extend(scorecard_items(&card.key(), &card.route, &message));
            }
        }
        let queued = self
            .store
            .enqueue(&[], &items, now)
            .await
            .context("cannot store the scorecards")?;
        tracing::info!(
            queued = queued.queued,
            already = queued.duplicates,
            "scorecards"
        );
        self.wake.notify_one();
        Ok(())
    }
}
