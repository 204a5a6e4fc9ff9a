//! The documented pipeline benchmark (docs/performance.md): `cargo bench --bench pipeline`.
//!
//! On `cs-pulse demo --write-data` data (100,000 accounts by default) it times, as separate
//! processes of the release binary (the way users run it), `cs-pulse sync` of a `files` source
//! into a fresh store and `cs-pulse metrics --period 2025-Q1` per account and for the portfolio,
//! with wall time and the child's peak RSS (wait4's rusage). It then times the same work
//! in-process, phase by phase, to show where the time goes, and finally runs
//! `benches/duckdb_compare.py` (when the `duckdb` Python package is installed) so the ratios to
//! DuckDB are measured on the same machine in the same run.
//!
//! Knobs (environment): `BENCH_ACCOUNTS` (default 100000), `BENCH_RUNS` (default 5),
//! `BENCH_SEED` (default 42). Data is generated once into `target/bench-data/<accounts>-<seed>/`
//! and reused.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use common::{median, Knobs};
use cs_pulse::config::Config;
use cs_pulse::metrics::{Engine, Filter, HealthModels};
use cs_pulse::model::Period;
use cs_pulse::report::metrics_report::{default_metrics, MetricsReport, Target};
use cs_pulse::sources::files;
use cs_pulse::store::{SqliteStore, Store};
use indicatif::ProgressBar;

const BIN: &str = env!("CARGO_BIN_EXE_cs-pulse");
const AS_OF: &str = "2025-06-18";
const PERIOD: &str = "2025-Q1";
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

fn table(title: &str, phases: &[Phase]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n{title}");
    let _ = writeln!(
        out,
        "{:<50} {:>10} {:>10} {:>10} {:>22} {:>10}",
        "phase", "median", "min", "max", "throughput (median)", "peak RSS"
    );
    let _ = writeln!(out, "{}", "-".repeat(117));
    for p in phases {
        let rate = format!("{} {}/s", fmt_rate(p.items as f64 / p.median()), p.unit);
        let _ = writeln!(
            out,
            "{:<50} {:>10} {:>10} {:>10} {:>22} {:>10}",
            p.name,
            fmt_secs(p.median()),
            fmt_secs(p.min()),
            fmt_secs(p.max()),
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

fn write_config(dir: &Path) -> Result<PathBuf> {
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
    Ok(vec![sync, per_account, portfolio])
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
        eprintln!(
            "  in-process run {run}/{runs}: parse {}, replace {}, load {}, index {}, compute {}, json {} ({} MB)",
            fmt_secs(parse.secs[run - 1]),
            fmt_secs(replace.secs[run - 1]),
            fmt_secs(load.secs[run - 1]),
            fmt_secs(index.secs[run - 1]),
            fmt_secs(compute.secs[run - 1]),
            fmt_secs(json.secs[run - 1]),
            bytes / 1_000_000
        );
    }
    remove_db(&db);
    if !can_reset {
        eprintln!(
            "  note: /proc/self/clear_refs is not writable, so in-process peak RSS is not shown"
        );
    }
    Ok(vec![parse, replace, load, index, compute, json, portfolio])
}

/// Runs the DuckDB script when the `duckdb` module imports; returns its `key=value` figures.
fn duckdb_figures(dir: &Path, runs: usize) -> Result<Option<Vec<(String, String)>>> {
    let check = Command::new("python3")
        .args(["-c", "import duckdb; print(duckdb.__version__)"])
        .output();
    let version = match check {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => {
            println!(
                "\nDuckDB comparison skipped: the `duckdb` Python package is not installed. Run\n\
                 \n    pip install duckdb=={DUCKDB_VERSION}\n\n\
                 and run `cargo bench --bench pipeline` again to measure the ratios."
            );
            return Ok(None);
        }
    };
    if version != DUCKDB_VERSION {
        eprintln!(
            "note: duckdb {version} is installed; docs/performance.md was measured with {DUCKDB_VERSION}"
        );
    }
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
    Ok(Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
    ))
}

fn main() -> Result<()> {
    let knobs = Knobs::from_env()?;
    let (accounts, runs, seed) = (knobs.accounts, knobs.runs, knobs.seed);
    let dir = knobs.data_dir(BIN, "")?;
    let records = ensure_data(&dir, accounts, seed)?;
    let config = write_config(&dir)?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let accounts = u64::from(accounts);

    eprintln!("timing the cs-pulse binary ({runs} runs each) ...");
    let process = process_phases(&dir, &config, runs, records, accounts)?;
    eprintln!("timing in-process phases ({runs} runs) ...");
    let inproc = in_process_phases(&dir, &config, runs, records, accounts)?;

    println!(
        "\ncs-pulse pipeline benchmark: {accounts} accounts, {records} CSV records, seed {seed}, \
         period {PERIOD}, {runs} runs, {cores} cores\ndata: {}",
        dir.display()
    );
    print!(
        "{}",
        table(
            "The binary, one process per run (wall time, child peak RSS):",
            &process
        )
    );
    print!(
        "{}",
        table(
            "In-process phases (peak RSS = process high-water mark during the phase, including \
             data held from earlier phases):",
            &inproc
        )
    );

    let Some(duck) = duckdb_figures(&dir, runs)? else {
        return Ok(());
    };
    let get = |k: &str| -> Option<f64> {
        duck.iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.parse().ok())
    };
    let (Some(load), Some(pa), Some(pf), Some(peak)) = (
        get("duckdb_load_s"),
        get("duckdb_per_account_s"),
        get("duckdb_portfolio_s"),
        get("duckdb_peak_rss_kib"),
    ) else {
        bail!("duckdb_compare.py printed no figures: {duck:?}");
    };
    let version = duck
        .iter()
        .find(|(k, _)| k == "duckdb_version")
        .map_or("?", |(_, v)| v.as_str());
    let threads = get("duckdb_threads").unwrap_or(0.0);
    let sync = process[0].median();
    let per_account = process[1].median();
    let portfolio = process[2].median();
    let compute_only = inproc[4].median();
    let cs_peak = process.iter().filter_map(|p| p.peak_kib).max().unwrap_or(0);
    println!(
        "\nDuckDB {version} ({threads} threads, in-memory database, median of {runs} runs):\n\
         {:<50} {:>10} {:>22}\n\
         {:<50} {:>10}\n\
         {:<50} {:>10}\n\
         {:<50} {:>10}",
        "load the seven CSVs (read_csv, typed)",
        fmt_secs(load),
        format!("{} rows/s", fmt_rate(records as f64 / load)),
        "per-account core KPIs (SQL)",
        fmt_secs(pa),
        "portfolio core KPIs (SQL)",
        fmt_secs(pf),
        "peak RSS (load + queries, one process)",
        fmt_kib(peak as u64),
    );
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("\nRatios (cs-pulse / DuckDB):");
    println!(
        "  sync / load:                                  {:>6.2}x   (aim <= 2x: {})",
        sync / load,
        verdict(sync / load <= 2.0)
    );
    println!(
        "  metrics --per-account (process) / SQL:        {:>6.2}x   (aim < 1x: {})",
        per_account / pa,
        verdict(per_account < pa)
    );
    println!(
        "  per-account compute only (in-process) / SQL:  {:>6.2}x",
        compute_only / pa
    );
    println!(
        "  metrics portfolio (process) / SQL:            {:>6.2}x",
        portfolio / pf
    );
    println!(
        "  peak RSS (max of the binary's runs) / DuckDB: {:>6.2}x   (aim < 1x: {}; {} vs {})",
        cs_peak as f64 / peak,
        verdict((cs_peak as f64) < peak),
        fmt_kib(cs_peak),
        fmt_kib(peak as u64)
    );
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
