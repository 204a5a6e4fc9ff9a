//! What the benchmarks share: their knobs (`BENCH_ACCOUNTS`, `BENCH_RUNS`, `BENCH_SEED`), where
//! they keep generated data, the median of timings, and the 50 rules the rule evaluations use.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// A knob from the environment, or `default` when unset.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={v:?} is not a valid value")),
        Err(_) => Ok(default),
    }
}

/// The knobs every scale benchmark takes.
pub struct Knobs {
    pub accounts: u32,
    pub runs: usize,
    pub seed: u64,
}

impl Knobs {
    /// `BENCH_ACCOUNTS` (default 100,000), `BENCH_RUNS` (default 5), `BENCH_SEED` (default 42).
    pub fn from_env() -> Result<Knobs> {
        let knobs = Knobs {
            accounts: env_or("BENCH_ACCOUNTS", 100_000)?,
            runs: env_or("BENCH_RUNS", 5)?,
            seed: env_or("BENCH_SEED", 42)?,
        };
        if knobs.runs == 0 {
            bail!("BENCH_RUNS must be at least 1");
        }
        Ok(knobs)
    }

    /// `target/bench-data/<prefix><accounts>-<seed>/`, beside the binary `bin`
    /// (`target/<profile>/cs-pulse`).
    pub fn data_dir(&self, bin: &str, prefix: &str) -> Result<PathBuf> {
        let target_dir = Path::new(bin)
            .parent()
            .and_then(Path::parent)
            .context("cannot find the target directory")?;
        Ok(target_dir
            .join("bench-data")
            .join(format!("{prefix}{}-{}", self.accounts, self.seed)))
    }
}

/// The median of `xs` (NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// 50 rules as one rules file: the shipped rules, then copies of them under new ids
/// (`<id>-variant-<k>`), so that the pipeline and rules benchmarks evaluate the same set.
pub fn fifty_rules_toml() -> Result<String> {
    let blocks: Vec<&str> = cs_pulse::rules::SHIPPED
        .iter()
        .flat_map(|(_, text)| text.split("\n[[rule]]\n").skip(1))
        .collect();
    let mut out = String::from("# Written by the benchmarks: the shipped rules, then variants.\n");
    for k in 0..50 {
        let block = blocks[k % blocks.len()];
        out.push_str("\n[[rule]]\n");
        if k < blocks.len() {
            out.push_str(block);
            continue;
        }
        // Every shipped rule starts with its id.
        let (first, rest) = block.split_once('\n').context("an empty rule")?;
        let id = first
            .strip_prefix("id = \"")
            .and_then(|s| s.strip_suffix('"'))
            .with_context(|| format!("a shipped rule does not start with its id: {first}"))?;
        let _ = writeln!(out, "id = \"{id}-variant-{}\"", k - blocks.len());
        out.push_str(rest);
    }
    Ok(out)
}
