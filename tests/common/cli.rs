//! Running the `cs-pulse` binary the way a user does, and a synced demo workspace.

use std::process::Command;

use assert_cmd::prelude::*;

/// The built binary, with no config from the environment and no colour.
pub fn cs_pulse() -> Command {
    let mut cmd = Command::cargo_bin("cs-pulse").expect("binary built");
    cmd.env_remove("CS_PULSE_CONFIG").env("NO_COLOR", "1");
    cmd
}

/// Runs `cmd`, asserts it succeeded (showing its output if not) and returns its stdout.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Writes the demo data (120 accounts, seed 3, as of 2025-06-18) as CSV, a config pointing at it
/// and at the shipped rules (with `features_available` as given), syncs, and returns the temp dir
/// and the output of `sync`.
pub fn synced_workspace(features_available: u32) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    stdout_of(
        cs_pulse()
            .args([
                "demo",
                "--accounts",
                "120",
                "--seed",
                "3",
                "--as-of",
                "2025-06-18",
                "--write-data",
            ])
            .arg(&data),
    );
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "timezone = \"UTC\"\nreporting_currency = \"USD\"\n[fx]\nEUR = 1.08\n[metrics]\nfeatures_available = {features_available}\n[rules]\npaths = [\"{}/rules\"]\n[health]\nmodel = \"{}/rules/health.toml\"\n[data_quality]\nenabled = false\n[sources.crm]\nkind = \"files\"\npath = \"data\"\n",
            env!("CARGO_MANIFEST_DIR"),
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .expect("write config");
    let sync = stdout_of(cs_pulse().current_dir(dir.path()).arg("sync"));
    (dir, sync)
}
