//! The CSV files of the `files` source, read exactly as `cs-pulse sync` reads them: the bytes
//! are written to a scratch directory and `files::read_dir` (what `FilesSource::fetch` runs)
//! parses and validates it. The first byte picks the file:
//!
//! - `0`: `accounts.csv` is the input;
//! - `1..=6`: the input is that kind's file (`FORMATS` order: subscriptions, usage, survey
//!   responses, tickets, renewals, costs) beside a valid `accounts.csv`;
//! - `7`: the input is every file at once, the parts separated by NUL bytes, in `FORMATS` order,
//!   so that references between files (account ids, duplicates) are fuzzed too.
//!
//! The rest of the first byte picks the business timezone, which turns timestamps into dates.
//! A bad file must be a `SourceError` naming the problems, never a panic. A data set that is
//! accepted goes on to the metrics engine, as `cs-pulse metrics` takes it: every metric and its
//! change over two periods, for the portfolio and for an account, must compute without a
//! panic, whatever values validation let through.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use cs_pulse::metrics::{Engine, Filter, MetricRef, MetricsConfig, Subject, Variant, METRICS};
use cs_pulse::model::{Dataset, Period};
use cs_pulse::sources::csv_format::FORMATS;
use cs_pulse::sources::demo::demo_fx;
use cs_pulse::sources::files::read_dir;
use cs_pulse::sources::{SourceContext, SourceError};
use indicatif::ProgressBar;
use libfuzzer_sys::fuzz_target;

/// A valid `accounts.csv` for the inputs that are another file (its ids: `acme`, `beta`, and
/// `Gamma` in other fixtures' rows).
const ACCOUNTS: &[u8] = include_bytes!("../../tests/fixtures/csv/good/accounts.csv");

/// Timezones with odd offsets and DST, so timestamps near midnight land on different days.
const TIMEZONES: [chrono_tz::Tz; 4] = [
    chrono_tz::UTC,
    chrono_tz::America::New_York,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Pacific::Chatham,
];

/// One scratch directory per fuzzing process, under the temporary directory (`TMPDIR`;
/// `.ci/fuzz` points it at a directory it removes afterwards).
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cs-pulse-fuzz-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory for the CSV files");
        dir
    })
}

/// Every metric, and its change from the previous period, over two periods.
fn metrics(ds: &Dataset) {
    let cfg = MetricsConfig {
        fx: demo_fx(),
        ..MetricsConfig::default()
    };
    let Ok(engine) = Engine::new(ds, cfg) else {
        return;
    };
    let all = Filter::default();
    let mut subjects = vec![Subject::Portfolio(&all)];
    if !ds.accounts().is_empty() {
        subjects.push(Subject::Account(0));
    }
    for period in ["2025-Q1", "2024"] {
        let Ok(period) = period.parse::<Period>() else {
            continue;
        };
        for def in METRICS {
            for variant in [Variant::Value, Variant::Change] {
                let r = MetricRef {
                    metric: def.id,
                    variant,
                };
                for s in &subjects {
                    let _ = engine.value(r, *s, &period);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let dir = scratch();
    for f in FORMATS {
        let _ = std::fs::remove_file(dir.join(f.file_name));
    }
    let write = |i: usize, bytes: &[u8]| {
        std::fs::write(dir.join(FORMATS[i].file_name), bytes).expect("writing a scratch file");
    };
    match selector % 8 {
        0 => write(0, rest),
        7 => {
            for (i, part) in rest.split(|b| *b == 0).take(FORMATS.len()).enumerate() {
                write(i, part);
            }
        }
        k => {
            write(0, ACCOUNTS);
            write(usize::from(k), rest);
        }
    }
    let ctx = SourceContext {
        timezone: TIMEZONES[usize::from(selector / 8) % TIMEZONES.len()],
        fx: demo_fx(),
    };
    match read_dir(dir, &ctx, &ProgressBar::hidden()) {
        Ok(dataset) => metrics(&dataset),
        Err(SourceError::Invalid { errors, .. }) => {
            assert!(!errors.is_empty(), "invalid without a reason");
            for e in &errors {
                let _ = e.to_string();
            }
        }
        // A whole-data-set problem found after the rows (`Dataset::new`), said in words.
        Err(SourceError::Other(m)) if !m.contains("internal error") => {}
        Err(e) => panic!("not an input error: {e}"),
    }
});
