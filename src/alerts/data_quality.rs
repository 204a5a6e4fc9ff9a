//! The data-quality guard: a failing or partial source must never cause a storm of false
//! alerts. From the sync history it finds the sources whose data can't be trusted right now —
//! the last sync failed, the last good sync is too old, or it returned far fewer accounts than
//! the one before — so that rules hold their state and one warning says which source and why.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::config::DataQualityConfig;
use crate::store::{SyncOutcome, SyncRun};

/// A source whose data is not to be trusted now, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceIssue {
    pub source: String,
    pub reason: String,
}

fn hours(d: chrono::Duration) -> String {
    let h = d.num_minutes() as f64 / 60.0;
    if h >= 48.0 {
        format!("{:.1} days", h / 24.0)
    } else {
        format!("{h:.1} h")
    }
}

/// The issues of each of `sources` given the sync history `runs` (any order) at `now`.
pub fn assess(
    sources: &[String],
    runs: &[SyncRun],
    now: DateTime<Utc>,
    cfg: &DataQualityConfig,
) -> Vec<SourceIssue> {
    if !cfg.enabled {
        return vec![];
    }
    let mut issues = vec![];
    for source in sources {
        let mut mine: Vec<&SyncRun> = runs.iter().filter(|r| &r.source == source).collect();
        mine.sort_by_key(|r| std::cmp::Reverse(r.finished_at));
        let issue = |reason: String| SourceIssue {
            source: source.clone(),
            reason,
        };
        let Some(latest) = mine.first() else {
            issues.push(issue("it has never been synced".to_string()));
            continue;
        };
        if let SyncOutcome::Failed(error) = &latest.outcome {
            let first_line = error.lines().next().unwrap_or_default();
            issues.push(issue(format!(
                "its last sync failed at {}: {first_line}",
                latest.finished_at.format("%Y-%m-%d %H:%M UTC")
            )));
            continue;
        }
        let good: Vec<&&SyncRun> = mine
            .iter()
            .filter(|r| r.outcome == SyncOutcome::Ok)
            .collect();
        let last = good[0];
        let age = now - last.finished_at;
        if age > cfg.max_age {
            issues.push(issue(format!(
                "its last good sync is {} old (the limit is {})",
                hours(age),
                hours(cfg.max_age)
            )));
            continue;
        }
        if let Some(prev) = good.get(1) {
            let floor = Decimal::from(prev.accounts) * cfg.min_accounts_ratio;
            if prev.accounts > 0 && Decimal::from(last.accounts) < floor {
                let drop = Decimal::ONE_HUNDRED
                    * (Decimal::from(prev.accounts) - Decimal::from(last.accounts))
                    / Decimal::from(prev.accounts);
                issues.push(issue(format!(
                    "its last sync returned {} accounts, {}% fewer than the {} before",
                    last.accounts,
                    drop.round_dp(0),
                    prev.accounts
                )));
            }
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &str, finished: &str, accounts: u64, ok: bool) -> SyncRun {
        let t: DateTime<Utc> = finished.parse().expect("time");
        SyncRun {
            source: source.into(),
            started_at: t,
            finished_at: t,
            rows: accounts * 10,
            accounts,
            full: true,
            outcome: if ok {
                SyncOutcome::Ok
            } else {
                SyncOutcome::Failed("cannot read data/accounts.csv: No such file".into())
            },
        }
    }

    #[test]
    fn finds_failed_stale_and_shrunk_sources() {
        let cfg = DataQualityConfig::default();
        let now: DateTime<Utc> = "2025-03-10T12:00:00Z".parse().unwrap();
        let runs = vec![
            run("fresh", "2025-03-10T06:00:00Z", 100, true),
            run("fresh", "2025-03-09T06:00:00Z", 100, true),
            run("failed", "2025-03-09T06:00:00Z", 100, true),
            run("failed", "2025-03-10T06:00:00Z", 0, false),
            run("old", "2025-03-08T12:00:00Z", 100, true),
            run("shrunk", "2025-03-09T06:00:00Z", 100, true),
            run("shrunk", "2025-03-10T06:00:00Z", 79, true),
            run("slightly", "2025-03-09T06:00:00Z", 100, true),
            run("slightly", "2025-03-10T06:00:00Z", 80, true),
        ];
        let names: Vec<String> = ["fresh", "failed", "old", "shrunk", "slightly", "never"]
            .map(String::from)
            .to_vec();
        let got: Vec<String> = assess(&names, &runs, now, &cfg)
            .into_iter()
            .map(|i| format!("{}: {}", i.source, i.reason))
            .collect();
        assert_eq!(
            got,
            [
                "failed: its last sync failed at 2025-03-10 06:00 UTC: cannot read data/accounts.csv: No such file",
                "old: its last good sync is 2.0 days old (the limit is 36.0 h)",
                "shrunk: its last sync returned 79 accounts, 21% fewer than the 100 before",
                "never: it has never been synced",
            ]
        );
        let off = DataQualityConfig {
            enabled: false,
            ..cfg
        };
        assert!(assess(&names, &runs, now, &off).is_empty());
    }
}
