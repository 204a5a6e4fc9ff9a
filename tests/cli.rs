//! End-to-end tests of the `cs-pulse` binary, run the way a user runs it: the demo, writing the
//! demo data as CSV, syncing it through a config file, and reading metrics back.

mod common;

use std::path::Path;

use common::cli::{cs_pulse, stdout_of};

#[test]
fn demo_scorecard_is_stable_for_a_seed() {
    let out = stdout_of(cs_pulse().args([
        "demo",
        "--accounts",
        "300",
        "--seed",
        "42",
        "--as-of",
        "2025-06-18",
    ]));
    insta::assert_snapshot!("demo_scorecard", out);
}

/// Writes the demo data as CSV, points a config at it, syncs, and returns the temp dir.
fn synced_workspace() -> tempfile::TempDir {
    let (dir, sync) = common::cli::synced_workspace(30);
    assert!(sync.starts_with("crm: "), "{sync}");
    dir
}

fn metrics(dir: &Path, args: &[&str]) -> String {
    stdout_of(cs_pulse().current_dir(dir).arg("metrics").args(args))
}

#[test]
fn metrics_from_synced_csv_files() {
    let ws = synced_workspace();
    let json = metrics(ws.path(), &["--period", "2025-Q1", "--format", "json"]);
    insta::assert_snapshot!("metrics_portfolio_json", json);
    let table = metrics(
        ws.path(),
        &[
            "--period",
            "2025-03",
            "--metric",
            "mrr,nrr,nps,mrr.change_pct",
        ],
    );
    insta::assert_snapshot!("metrics_portfolio_table", table);
    let one = metrics(
        ws.path(),
        &[
            "--period",
            "2025-03",
            "--account",
            "acc-00001",
            "--format",
            "json",
        ],
    );
    insta::assert_snapshot!("metrics_account_json", one);
    let per = metrics(
        ws.path(),
        &[
            "--period",
            "2025-Q1",
            "--per-account",
            "--segment",
            "Enterprise",
            "--metric",
            "mrr,health,seat_utilization",
        ],
    );
    insta::assert_snapshot!("metrics_per_account_table", per);
}

#[test]
fn wrong_arguments_are_named() {
    let ws = synced_workspace();
    let run = |args: &[&str]| {
        let out = cs_pulse()
            .current_dir(ws.path())
            .arg("metrics")
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&["--period", "2025-13"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("\"2025-13\" is not a period"), "{err}");
    let (code, err) = run(&["--period", "2025-03", "--metric", "seat_utilisation"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("did you mean `seat_utilization`?"), "{err}");
    let (code, err) = run(&[
        "--period",
        "2025-03",
        "--metric",
        "customers",
        "--per-account",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("portfolio only"), "{err}");
    let (code, err) = run(&["--period", "2025-03", "--account", "ACC-00001"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no account with id \"ACC-00001\""), "{err}");
}

#[test]
fn metrics_list_prints_the_registry() {
    let out = stdout_of(cs_pulse().args(["metrics", "--list"]));
    for m in cs_pulse::metrics::METRICS {
        assert!(out.contains(m.name), "{} missing", m.name);
    }
}

#[test]
fn eval_advances_stored_alerts_and_never_fires_twice() {
    let ws = synced_workspace();
    let eval = |at: &str, extra: &[&str]| {
        stdout_of(
            cs_pulse()
                .current_dir(ws.path())
                .args(["eval", "--at", at])
                .args(extra),
        )
    };
    // A dry run shows what would be sent and saves nothing.
    let dry = eval("2025-06-10", &["--dry-run"]);
    assert!(dry.contains("dry run: nothing saved or sent"), "{dry}");
    // The real run sends exactly those messages, through the console channel.
    let first = eval("2025-06-10", &[]);
    let shown: Vec<&str> = dry.split("→ console\n").skip(1).map(str::trim).collect();
    assert_eq!(shown.len(), 3, "{dry}");
    for message in shown {
        assert!(first.contains(message), "{message}\n---\n{first}");
    }
    assert!(
        first.contains("Outbox: 3 queued, 3 sent, 0 edited"),
        "{first}"
    );
    insta::assert_snapshot!("eval_first_day", first);
    // The same day again, as after a restart: the alerts are stored, nothing is sent twice.
    let again = eval("2025-06-10", &[]);
    assert!(again.contains("No messages to send."), "{again}");
    assert!(again.contains("Outbox: 0 queued, 0 sent"), "{again}");
    // Days later, `for` durations have passed: pending alerts fire, some resolve.
    insta::assert_snapshot!("eval_later_day", eval("2025-06-14", &[]));
}

#[test]
fn backtest_and_rule_tests_from_the_command_line() {
    let ws = synced_workspace();
    let out = stdout_of(cs_pulse().current_dir(ws.path()).args([
        "backtest",
        "--from",
        "2025-05-01",
        "--to",
        "2025-05-31",
        "--rule",
        "contraction",
    ]));
    insta::assert_snapshot!("backtest_contraction", out);
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
    let tests = stdout_of(cs_pulse().current_dir(ws.path()).args(["test", rules]));
    assert!(tests.trim_end().ends_with(" passed, 0 failed"), "{tests}");
}

#[test]
fn silences_and_acknowledgements_from_the_command_line() {
    let ws = synced_workspace();
    let run = |args: &[&str]| {
        let out = cs_pulse()
            .current_dir(ws.path())
            .env("USER", "priya")
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, first, _) = run(&["eval", "--at", "2025-06-10"]);
    assert_eq!(code, Some(0));
    assert!(first.contains("Globex Studios 36"), "{first}");
    // Acknowledge a firing alert; an alert that is not firing cannot be.
    let (code, out, _) = run(&["ack", "health-drop", "acc-00036"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("acknowledged health-drop for acc-00036"),
        "{out}"
    );
    let (code, _, err) = run(&["ack", "health-drop", "acc-00001"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no firing alert"), "{err}");
    // Silence an account for a week, list it, lift it.
    let (code, out, _) = run(&[
        "silence",
        "add",
        "--account",
        "acc-00051",
        "--until",
        "2025-06-20",
        "--reason",
        "exec escalation in progress",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("silence 1 added: every rule for acc-00051 until 2025-06-21 00:00 UTC — exec escalation in progress (by priya"), "{out}");
    let (_, list, _) = run(&["silence", "list", "--all"]);
    assert!(list.contains("acc-00051"), "{list}");
    let (code, _, err) = run(&["silence", "add", "--until", "7d", "--reason", "x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("give --rule, --account or both"), "{err}");
    let (code, out, _) = run(&["silence", "remove", "1"]);
    assert_eq!((code, out.trim()), (Some(0), "silence 1 lifted"));
    let (code, _, err) = run(&["silence", "remove", "1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no silence with id 1"), "{err}");
}

#[test]
fn check_warns_about_unset_secrets_and_buttons_of_another_bot() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            r#"[rules]
paths = ["{repo}/rules"]
[health]
model = "{repo}/rules/health.toml"
[sources.sample]
kind = "demo"
[sources.billing]
kind = "stripe"
api_key = "${{CS_T_STRIPE_KEY}}"
[channels.console]
kind = "console"
[channels.cs]
kind = "discord"
channel_id = "1300000000000000003"
token = "${{CS_T_CHANNEL_TOKEN}}"
[chat.discord]
application_id = "1200000000000000001"
guild_id = "1200000000000000002"
token = "${{CS_T_CHAT_TOKEN}}"
"#,
            repo = env!("CARGO_MANIFEST_DIR")
        ),
    )
    .expect("write config");
    let out = common::cli::stdout_of(
        common::cli::cs_pulse()
            .current_dir(dir.path())
            .args(["check", "--config", "config.toml"])
            .env_remove("CS_T_CHANNEL_TOKEN")
            .env_remove("CS_T_CHAT_TOKEN")
            .env_remove("CS_T_STRIPE_KEY"),
    );
    insta::assert_snapshot!(out);
}
