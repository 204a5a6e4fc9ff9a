//! The documented scale benchmark (docs/performance.md): `cargo bench --bench pipeline`.
//!
//! For each size of `cs-pulse demo --write-data` data (10,000, 100,000 and 1,000,000 accounts by
//! default) it times, as separate processes of the release binary (the way users run it),
//! `cs-pulse sync` of a `files` source into a fresh store, `cs-pulse metrics --period 2025-Q1`
//! per account and for the portfolio, and `cs-pulse eval --dry-run` of 50 rules, with wall time
//! and the child's peak RSS (wait4's rusage). It then times the same work in-process, phase by
//! phase, to show where the time goes, and runs `benches/duckdb_compare.py` (when the `duckdb`
//! Python package is installed) so the ratios to DuckDB are measured on the same machine in the
//! same run. It ends with one table of every step across the sizes: medians and time per
//! account, so growth with size is visible.
//!
//! Knobs (environment): `BENCH_SIZES` (default `10000,100000,1000000`), `BENCH_RUNS` (default
//! 3), `BENCH_SEED` (default 42). Data is generated once into
//! `target/bench-data/<accounts>-<seed>/` and reused.

#[allow(dead_code)] // the pipeline takes BENCH_SIZES, not the Knobs' BENCH_ACCOUNTS
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, Utc};
use common::{env_or, fifty_rules_toml, median, Knobs};
use cs_pulse::alerts::run::advance_all;
use cs_pulse::alerts::{AlertKey, AlertState};
use cs_pulse::config::Config;
use cs_pulse::metrics::health::DEFAULT_HEALTH_MODEL;
use cs_pulse::metrics::{Engine, Filter, HealthModels};
use cs_pulse::model::Period;
use cs_pulse::report::metrics_report::{default_metrics, MetricsReport, Target};
use cs_pulse::rules::eval::ValueTable;
use cs_pulse::rules::load::parse_rules;
use cs_pulse::sources::files;
use cs_pulse::store::{SqliteStore, Store};
use indicatif::ProgressBar;

const BIN: &str = env!("CARGO_BIN_EXE_cs-pulse");
const AS_OF: &str = "2025-06-18";
const PERIOD: &str = "2025-Q1";
/// The day the rules are evaluated as of: the last full day of the data.
const EVAL_DAY: &str = "2025-06-17";
const RULES_FILE: &str = "rules50.toml";
/// The DuckDB version the documented figures were measured with.
const DUCKDB_VERSION: &str = "2.0.0";
const MARKER: &str = ".bench-complete";

/// Timings (seconds) of the runs of one phase, plus its peak RSS (KiB) when known.
struct Phase {
    name: String,
    secs: Vec<f64>,
    peak_kib: Option<u64>,
    /// Items processed per run and their unit, for the throughput column.
    items: u64,
    unit: &'static str,
}

impl Phase {
    fn new(name: &str, items: u64, unit: &'static str) -> Phase {
        Phase {
            name: name.to_string(),
            secs: Vec::new(),
            peak_kib: None,
            items,
            unit,
        }
    }

    fn add(&mut self, secs: f64, peak_kib: Option<u64>) {
        self.secs.push(secs);
        if let Some(k) = peak_kib {
            self.peak_kib = Some(self.peak_kib.map_or(k, |p| p.max(k)));
        }
    }

    fn median(&self) -> f64 {
        median(&self.secs)
    }

    fn min(&self) -> f64 {
        self.secs.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.secs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

fn fmt_secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn fmt_rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k", per_sec / 1e3)
    } else {
        format!("{per_sec:.0}")
    }
}

fn fmt_kib(kib: u64) -> String {
    let mib = kib as f64 / 1024.0;
    if mib >= 1024.0 {
        format!("{:.2} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

/// Microseconds per account of `secs`.
fn fmt_per_account(secs: f64, accounts: u64) -> String {
    format!("{:.2} µs", secs * 1e6 / accounts as f64)
}

fn table(title: &str, phases: &[Phase], accounts: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n{title}");
    let _ = writeln!(
        out,
        "{:<50} {:>10} {:>10} {:>10} {:>12} {:>22} {:>10}",
        "phase", "median", "min", "max", "per account", "throughput (median)", "peak RSS"
    );
    let _ = writeln!(out, "{}", "-".repeat(130));
    for p in phases {
        let rate = format!("{} {}/s", fmt_rate(p.items as f64 / p.median()), p.unit);
        let _ = writeln!(
            out,
            "{:<50} {:>10} {:>10} {:>10} {:>12} {:>22} {:>10}",
            p.name,
            fmt_secs(p.median()),
            fmt_secs(p.min()),
            fmt_secs(p.max()),
            fmt_per_account(p.median(), accounts),
            rate,
            p.peak_kib.map_or("-".to_string(), fmt_kib),
        );
    }
    out
}

/// Runs `cmd` as a child with stdout and stderr into files of `dir`, and returns its wall time
/// and peak RSS (KiB, from wait4's rusage). Fails when the child does not exit with 0.
fn run_child(mut cmd: Command, dir: &Path, stdout_null: bool) -> Result<(f64, u64)> {
    let err_path = dir.join("bench-child.stderr");
    let out_path = dir.join("bench-child.stdout");
    cmd.stderr(fs::File::create(&err_path)?);
    if stdout_null {
        cmd.stdout(Stdio::null());
    } else {
        cmd.stdout(fs::File::create(&out_path)?);
    }
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("cannot run {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; wait4 fills it and the status for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    if r != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        let stdout = fs::read_to_string(&out_path).unwrap_or_default();
        bail!("{cmd:?} failed (wait status {status}):\n{stdout}\n{stderr}");
    }
    // ru_maxrss is in KiB on Linux.
    Ok((secs, usage.ru_maxrss as u64))
}

/// Generates the demo data into `dir` unless a previous run finished doing so; returns the
/// total number of CSV records.
fn ensure_data(dir: &Path, accounts: u32, seed: u64) -> Result<u64> {
    let marker = dir.join(MARKER);
    if let Ok(text) = fs::read_to_string(&marker) {
        if let Ok(n) = text.trim().parse() {
            eprintln!("reusing the data in {}", dir.display());
            return Ok(n);
        }
    }
    eprintln!(
        "generating {accounts} accounts (seed {seed}, as of {AS_OF}) into {} ...",
        dir.display()
    );
    fs::create_dir_all(dir)?;
    let out = Command::new(BIN)
        .arg("demo")
        .arg("--write-data")
        .arg(dir)
        .args(["--accounts", &accounts.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--as-of", AS_OF])
        .output()
        .context("cannot run cs-pulse demo")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "cs-pulse demo failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprint!("{stdout}");
    // "Wrote 14242868 records (100000 accounts) as CSV into ..."
    let records: u64 = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("cannot read the record count from {stdout:?}"))?;
    fs::write(&marker, format!("{records}\n"))?;
    Ok(records)
}

/// Writes the benchmark's config, its 50 rules and the shipped health model into `dir`.
fn write_config(dir: &Path) -> Result<PathBuf> {
    fs::write(dir.join(RULES_FILE), fifty_rules_toml()?)?;
    fs::write(dir.join("health.toml"), DEFAULT_HEALTH_MODEL)?;
    let path = dir.join("config.toml");
    fs::write(
        &path,
        "# Written by benches/pipeline.rs.\n\
         timezone = \"UTC\"\n\
         reporting_currency = \"USD\"\n\n\
         [fx]\n\
         EUR = 1.08\n\n\
         [store]\n\
         path = \"cs-pulse.db\"\n\n\
         [metrics]\n\
         features_available = 30\n\n\
         [health]\n\
         model = \"health.toml\"\n\n\
         [rules]\n\
         paths = [\"rules50.toml\"]\n\n\
         [sources.files]\n\
         kind = \"files\"\n\
         path = \".\"\n",
    )?;
    Ok(path)
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = fs::remove_file(PathBuf::from(p));
    }
}

/// Resets this process's peak RSS (VmHWM) so the next reading covers one phase; false when the
/// kernel does not allow it.
fn reset_peak() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn peak_rss_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Times `f`, returning its result, the seconds it took and the process's peak RSS meanwhile.
fn phase<T>(can_reset: bool, f: impl FnOnce() -> T) -> (T, f64, Option<u64>) {
    if can_reset {
        reset_peak();
    }
    let start = Instant::now();
    let value = f();
    let secs = start.elapsed().as_secs_f64();
    let peak = if can_reset { peak_rss_kib() } else { None };
    (value, secs, peak)
}

fn process_phases(
    dir: &Path,
    config: &Path,
    runs: usize,
    records: u64,
    accounts: u64,
) -> Result<Vec<Phase>> {
    let mut sync = Phase::new("cs-pulse sync (fresh store)", records, "rows");
    let mut per_account = Phase::new(
        &format!("cs-pulse metrics --period {PERIOD} --per-account"),
        accounts,
        "accounts",
    );
    let mut portfolio = Phase::new(
        &format!("cs-pulse metrics --period {PERIOD}"),
        accounts,
        "accounts",
    );
    let db = dir.join("cs-pulse.db");
    for run in 1..=runs {
        remove_db(&db);
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir).arg("--config").arg(config).arg("sync");
        let (secs, kib) = run_child(cmd, dir, false)?;
        eprintln!(
            "  sync run {run}/{runs}: {} (peak RSS {})",
            fmt_secs(secs),
            fmt_kib(kib)
        );
        sync.add(secs, Some(kib));
    }
    for (phase, per) in [(&mut per_account, true), (&mut portfolio, false)] {
        for run in 1..=runs {
            let mut cmd = Command::new(BIN);
            cmd.current_dir(dir)
                .arg("--config")
                .arg(config)
                .args(["metrics", "--period", PERIOD, "--format", "json"]);
            if per {
                cmd.arg("--per-account");
            }
            let (secs, kib) = run_child(cmd, dir, true)?;
            eprintln!(
                "  metrics{} run {run}/{runs}: {} (peak RSS {})",
                if per { " --per-account" } else { "" },
                fmt_secs(secs),
                fmt_kib(kib)
            );
            phase.add(secs, Some(kib));
        }
    }
    let mut eval = Phase::new("cs-pulse eval --dry-run (50 rules)", accounts, "accounts");
    for run in 1..=runs {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir).arg("--config").arg(config).args([
            "eval",
            "--at",
            EVAL_DAY,
            "--dry-run",
        ]);
        let (secs, kib) = run_child(cmd, dir, true)?;
        eprintln!(
            "  eval run {run}/{runs}: {} (peak RSS {})",
            fmt_secs(secs),
            fmt_kib(kib)
        );
        eval.add(secs, Some(kib));
    }
    Ok(vec![sync, per_account, portfolio, eval])
}

fn in_process_phases(
    dir: &Path,
    config_path: &Path,
    runs: usize,
    records: u64,
    accounts: u64,
) -> Result<Vec<Phase>> {
    let config = Config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = config.source_context();
    let period: Period = PERIOD.parse().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let can_reset = reset_peak() && peak_rss_kib().is_some();
    let mut parse = Phase::new("parse + validate CSVs (files::read_dir)", records, "rows");
    let mut replace = Phase::new("store.replace_source (SQLite write)", records, "rows");
    let mut load = Phase::new("store.load()", records, "rows");
    let mut index = Phase::new("Engine::new (index)", records, "rows");
    let mut compute = Phase::new("MetricsReport::compute per account", accounts, "accounts");
    let mut json = Phase::new("JSON per account", accounts, "accounts");
    let mut portfolio = Phase::new("portfolio compute + JSON", accounts, "accounts");
    let mut values = Phase::new("50 rules: their metrics (ValueTable)", accounts, "accounts");
    let mut evaluate = Phase::new("50 rules: evaluation (advance_all)", accounts, "accounts");
    let rules = parse_rules(
        &fs::read_to_string(dir.join(RULES_FILE))?,
        Path::new(RULES_FILE),
        &["console".to_string()],
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let day: NaiveDate = EVAL_DAY.parse()?;
    let no_states: BTreeMap<AlertKey, AlertState> = BTreeMap::new();
    let db = dir.join("bench-inprocess.db");
    for run in 1..=runs {
        let (data, secs, peak) = phase(can_reset, || {
            files::read_dir(dir, &ctx, &ProgressBar::hidden())
        });
        let data = data.map_err(|e| anyhow::anyhow!("{e}"))?;
        if data.record_count() as u64 != records {
            eprintln!(
                "  note: the files source read {} records, the generator wrote {records}",
                data.record_count()
            );
        }
        parse.add(secs, peak);

        remove_db(&db);
        let store = rt.block_on(SqliteStore::open(&db))?;
        let now = Utc::now();
        let (r, secs, peak) = phase(can_reset, || {
            rt.block_on(store.replace_source("files", &data, now, now, true))
        });
        r?;
        replace.add(secs, peak);
        drop(data);
        rt.block_on(store.close());

        let store = rt.block_on(SqliteStore::open(&db))?;
        let (data, secs, peak) = phase(can_reset, || rt.block_on(store.load()));
        let data = data?;
        rt.block_on(store.close());
        load.add(secs, peak);

        let (engine, secs, peak) = phase(can_reset, || {
            Engine::new(&data, config.metrics.clone())
                .map(|e| e.with_health(HealthModels::builtin()))
        });
        let engine = engine?;
        index.add(secs, peak);

        let target = Target::PerAccount(Filter::default());
        let metrics = default_metrics(&target);
        let (report, secs, peak) = phase(can_reset, || {
            MetricsReport::compute(&engine, period, metrics, target)
        });
        compute.add(secs, peak);
        let (text, secs, peak) = phase(can_reset, || {
            let mut sink = std::io::sink();
            let mut counter = CountingWriter::new(&mut sink);
            report
                .write_json(&engine, &mut counter)
                .map(|_| counter.bytes)
                .unwrap_or_default()
        });
        json.add(secs, peak);
        let bytes = text;
        drop(report);

        let (_, secs, peak) = phase(can_reset, || {
            let target = Target::Portfolio(Filter::default());
            let metrics = default_metrics(&target);
            let mut sink = std::io::sink();
            MetricsReport::compute(&engine, period, metrics, target).write_json(&engine, &mut sink)
        });
        portfolio.add(secs, peak);

        let (table, secs, peak) = phase(can_reset, || ValueTable::compute(&engine, &rules, day));
        values.add(secs, peak);
        let now = Utc::now();
        let (notifications, secs, peak) = phase(can_reset, || {
            let results = advance_all(&rules, data.accounts(), &table, &no_states, now, &[], false);
            results.iter().map(|a| a.notifications.len()).sum::<usize>()
        });
        evaluate.add(secs, peak);
        eprintln!(
            "  in-process run {run}/{runs}: parse {}, replace {}, load {}, index {}, compute {}, \
             json {} ({} MB), rule metrics {}, evaluation {} ({notifications} notifications)",
            fmt_secs(parse.secs[run - 1]),
            fmt_secs(replace.secs[run - 1]),
            fmt_secs(load.secs[run - 1]),
            fmt_secs(index.secs[run - 1]),
            fmt_secs(compute.secs[run - 1]),
            fmt_secs(json.secs[run - 1]),
            bytes / 1_000_000,
            fmt_secs(values.secs[run - 1]),
            fmt_secs(evaluate.secs[run - 1]),
        );
    }
    remove_db(&db);
    if !can_reset {
        eprintln!(
            "  note: /proc/self/clear_refs is not writable, so in-process peak RSS is not shown"
        );
    }
    Ok(vec![
        parse, replace, load, index, compute, json, portfolio, values, evaluate,
    ])
}

/// The installed `duckdb` Python package's version, or `None` (after saying how to install it).
fn duckdb_version() -> Option<String> {
    let check = Command::new("python3")
        .args(["-c", "import duckdb; print(duckdb.__version__)"])
        .output();
    match check {
        Ok(o) if o.status.success() => {
            let version = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if version != DUCKDB_VERSION {
                eprintln!(
                    "note: duckdb {version} is installed; docs/performance.md was measured with {DUCKDB_VERSION}"
                );
            }
            Some(version)
        }
        _ => {
            println!(
                "\nDuckDB comparison skipped: the `duckdb` Python package is not installed. Run\n\
                 \n    pip install duckdb=={DUCKDB_VERSION}\n\n\
                 and run `cargo bench --bench pipeline` again to measure the ratios."
            );
            None
        }
    }
}

/// DuckDB's figures at one size: medians in seconds, peak RSS in KiB.
struct Duck {
    version: String,
    threads: f64,
    load: f64,
    per_account: f64,
    portfolio: f64,
    peak_kib: f64,
}

/// Runs `benches/duckdb_compare.py` on the data in `dir` and reads its `key=value` figures.
fn duckdb_figures(dir: &Path, runs: usize, version: &str) -> Result<Duck> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/duckdb_compare.py");
    eprintln!("running {script} ({runs} runs) ...");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir)
        .arg(runs.to_string())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run python3")?;
    if !out.status.success() {
        bail!("{script} failed:\n{}", String::from_utf8_lossy(&out.stdout));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let figures: BTreeMap<&str, f64> = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| Some((k.trim(), v.trim().parse().ok()?)))
        .collect();
    let get = |k: &str| {
        figures
            .get(k)
            .copied()
            .with_context(|| format!("{script} printed no {k}: {stdout}"))
    };
    Ok(Duck {
        version: version.to_string(),
        threads: get("duckdb_threads").unwrap_or(0.0),
        load: get("duckdb_load_s")?,
        per_account: get("duckdb_per_account_s")?,
        portfolio: get("duckdb_portfolio_s")?,
        peak_kib: get("duckdb_peak_rss_kib")?,
    })
}

/// Everything measured at one size.
struct SizeRun {
    accounts: u64,
    process: Vec<Phase>,
    inproc: Vec<Phase>,
    duck: Option<Duck>,
}

impl SizeRun {
    /// The median of the phase named `name` (binary or in-process).
    fn median(&self, name: &str) -> Option<f64> {
        self.process
            .iter()
            .chain(&self.inproc)
            .find(|p| p.name == name)
            .map(Phase::median)
    }

    /// The largest peak RSS of the binary's runs.
    fn peak_kib(&self) -> u64 {
        self.process
            .iter()
            .filter_map(|p| p.peak_kib)
            .max()
            .unwrap_or(0)
    }

    /// cs-pulse / DuckDB: (label, ratio, aim) for the steps both do.
    fn ratios(&self) -> Vec<(&'static str, f64, Option<bool>)> {
        let Some(d) = &self.duck else {
            return vec![];
        };
        let m = |name: &str| self.median(name).unwrap_or(f64::NAN);
        let per_account = m(&format!("cs-pulse metrics --period {PERIOD} --per-account"));
        let sync = m("cs-pulse sync (fresh store)");
        let peak = self.peak_kib() as f64;
        vec![
            ("sync / load", sync / d.load, Some(sync / d.load <= 2.0)),
            (
                "metrics --per-account (process) / SQL",
                per_account / d.per_account,
                Some(per_account < d.per_account),
            ),
            (
                "per-account compute only (in-process) / SQL",
                m("MetricsReport::compute per account") / d.per_account,
                None,
            ),
            (
                "metrics portfolio (process) / SQL",
                m(&format!("cs-pulse metrics --period {PERIOD}")) / d.portfolio,
                None,
            ),
            (
                "peak RSS (max of the binary's runs) / DuckDB",
                peak / d.peak_kib,
                Some(peak < d.peak_kib),
            ),
        ]
    }
}

/// Generates (or reuses) the data of one size, times everything on it and prints its tables.
fn bench_size(accounts: u32, runs: usize, seed: u64, duckdb: Option<&str>) -> Result<SizeRun> {
    let knobs = Knobs {
        accounts,
        runs,
        seed,
    };
    let dir = knobs.data_dir(BIN, "")?;
    let records = ensure_data(&dir, accounts, seed)?;
    let config = write_config(&dir)?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let accounts = u64::from(accounts);

    eprintln!("{accounts} accounts: timing the cs-pulse binary ({runs} runs each) ...");
    let process = process_phases(&dir, &config, runs, records, accounts)?;
    eprintln!("{accounts} accounts: timing in-process phases ({runs} runs) ...");
    let inproc = in_process_phases(&dir, &config, runs, records, accounts)?;
    let duck = duckdb
        .map(|version| duckdb_figures(&dir, runs, version))
        .transpose()?;

    println!(
        "\ncs-pulse pipeline benchmark: {accounts} accounts, {records} CSV records, seed {seed}, \
         period {PERIOD}, {runs} runs, {cores} cores\ndata: {}",
        dir.display()
    );
    print!(
        "{}",
        table(
            "The binary, one process per run (wall time, child peak RSS):",
            &process,
            accounts
        )
    );
    print!(
        "{}",
        table(
            "In-process phases (peak RSS = process high-water mark during the phase, including \
             data held from earlier phases):",
            &inproc,
            accounts
        )
    );
    let run = SizeRun {
        accounts,
        process,
        inproc,
        duck,
    };
    if let Some(d) = &run.duck {
        println!(
            "\nDuckDB {} ({} threads, in-memory database, median of {runs} runs):\n\
             {:<50} {:>10} {:>22}\n\
             {:<50} {:>10}\n\
             {:<50} {:>10}\n\
             {:<50} {:>10}",
            d.version,
            d.threads,
            "load the seven CSVs (read_csv, typed)",
            fmt_secs(d.load),
            format!("{} rows/s", fmt_rate(records as f64 / d.load)),
            "per-account core KPIs (SQL)",
            fmt_secs(d.per_account),
            "portfolio core KPIs (SQL)",
            fmt_secs(d.portfolio),
            "peak RSS (load + queries, one process)",
            fmt_kib(d.peak_kib as u64),
        );
        println!("\nRatios (cs-pulse / DuckDB):");
        for (label, ratio, aim) in run.ratios() {
            let aim = match aim {
                Some(true) => "   (aim: met)",
                Some(false) => "   (aim: NOT met)",
                None => "",
            };
            println!("  {label:<46} {ratio:>6.2}x{aim}");
        }
    }
    Ok(run)
}

/// One table of every step across the sizes: median and time per account.
fn growth_table(runs: &[SizeRun]) -> String {
    let Some(first) = runs.first() else {
        return String::new();
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nGrowth with size (median; time per account = median / accounts):"
    );
    let _ = write!(out, "{:<50}", "step");
    for r in runs {
        let _ = write!(out, " {:>26}", format!("{} accounts", r.accounts));
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", "-".repeat(50 + 27 * runs.len()));
    let mut row = |label: &str, cell: &dyn Fn(&SizeRun) -> Option<String>| {
        let _ = write!(out, "{label:<50}");
        for r in runs {
            let _ = write!(out, " {:>26}", cell(r).unwrap_or_else(|| "-".to_string()));
        }
        let _ = writeln!(out);
    };
    let timed = |secs: f64, accounts: u64| {
        format!("{} · {}", fmt_secs(secs), fmt_per_account(secs, accounts))
    };
    for p in first.process.iter().chain(&first.inproc) {
        row(&p.name, &|r| {
            r.median(&p.name).map(|s| timed(s, r.accounts))
        });
    }
    row("peak RSS (largest binary run)", &|r| {
        Some(fmt_kib(r.peak_kib()))
    });
    row("DuckDB: load the CSVs", &|r| {
        r.duck.as_ref().map(|d| timed(d.load, r.accounts))
    });
    row("DuckDB: per-account core KPIs (SQL)", &|r| {
        r.duck.as_ref().map(|d| timed(d.per_account, r.accounts))
    });
    row("DuckDB: portfolio core KPIs (SQL)", &|r| {
        r.duck.as_ref().map(|d| timed(d.portfolio, r.accounts))
    });
    row("DuckDB: peak RSS", &|r| {
        r.duck.as_ref().map(|d| fmt_kib(d.peak_kib as u64))
    });
    for (i, (label, _, _)) in first.ratios().iter().enumerate() {
        row(&format!("ratio {label}"), &|r| {
            r.ratios().get(i).map(|(_, x, _)| format!("{x:.2}x"))
        });
    }
    out
}

fn main() -> Result<()> {
    let sizes: Vec<u32> = env_or("BENCH_SIZES", "10000,100000,1000000".to_string())?
        .split(',')
        .map(|n| {
            n.trim()
                .replace('_', "")
                .parse()
                .map_err(|_| anyhow::anyhow!("BENCH_SIZES: {n:?} is not a number of accounts"))
        })
        .collect::<Result<_>>()?;
    let runs: usize = env_or("BENCH_RUNS", 3)?;
    let seed: u64 = env_or("BENCH_SEED", 42)?;
    if runs == 0 || sizes.is_empty() {
        bail!("BENCH_RUNS must be at least 1 and BENCH_SIZES name at least one size");
    }
    let duckdb = duckdb_version();
    let mut done = Vec::new();
    for accounts in sizes {
        done.push(bench_size(accounts, runs, seed, duckdb.as_deref())?);
    }
    print!("{}", growth_table(&done));
    Ok(())
}

/// Counts the bytes written through it (the JSON is not kept).
struct CountingWriter<'w> {
    inner: &'w mut dyn std::io::Write,
    bytes: usize,
}

impl<'w> CountingWriter<'w> {
    fn new(inner: &'w mut dyn std::io::Write) -> Self {
        CountingWriter { inner, bytes: 0 }
    }
}

impl std::io::Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
