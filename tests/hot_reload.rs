//! End-to-end tests of hot reload in `cs-pulse run`, driven as an operator drives it: the real
//! binary in a temporary workspace with its own rules directory, rule files added, broken and
//! fixed while it runs, SIGHUP sent (or not: the 2 s poll of the files notices the change).
//!
//! What they hold the service to: a valid change applies without a restart (the process stays,
//! the rule count follows the files); an invalid change is refused with every problem in the log
//! (naming the file) and one operator message, and the running rules stay; alert state in the
//! store is untouched by reloads; SIGTERM still stops it cleanly. A new `[server] listen`
//! applies like any change (the old address stops answering, the new one answers); a valid
//! change that cannot start (its new address already taken) is not applied: the running config
//! keeps serving on its address, the reason is logged and announced once.
//!
//! No fixed sleeps: the tests poll the service's output against generous deadlines.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::cli::{cs_pulse, stdout_of};
use common::service::listening;
use common::service::{free_address, http_get, poll, Service};
use cs_pulse::alerts::{AlertKey, AlertState};
use cs_pulse::store::{AlertStore, SqliteStore};

/// The workspace's config: the demo source, a `rules/` directory of its own (a copy of the
/// shipped rules), the shipped health model, the default `console` channel, no jobs, and
/// `extra`.
fn config(extra: &str) -> String {
    let repo = env!("CARGO_MANIFEST_DIR");
    format!(
        r#"timezone = "UTC"
reporting_currency = "USD"
[fx]
EUR = 1.08
[metrics]
features_available = 12
[rules]
paths = ["rules"]
[health]
model = "{repo}/rules/health.toml"
[data_quality]
enabled = false
[sources.sample]
kind = "demo"
accounts = 120
seed = 3
{extra}"#
    )
}

/// `[server]` listening on `addr`.
fn server(addr: &str) -> String {
    format!("[server]\nlisten = \"{addr}\"\n")
}

/// A rule file with one rule `id` on a known metric.
fn rule(id: &str) -> String {
    format!(
        r#"[[rule]]
id = "{id}"
name = "Many tickets ({id})"
severity = "info"
route = ["console"]
window = "7d"
message = "**{{{{ account.name }}}}**: many tickets."

[[rule.condition]]
metric = "tickets_opened"
above = 1000
"#
    )
}

/// A synced and evaluated workspace (so the store holds alert states), `extra` in its config.
fn workspace(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), config(extra)).expect("write config");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("rules dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for name in [
        "revenue.toml",
        "at_risk.toml",
        "voice.toml",
        "scorecard.toml",
    ] {
        std::fs::copy(shipped.join(name), rules.join(name)).expect("copy a rule file");
    }
    stdout_of(cs_pulse().current_dir(dir.path()).arg("sync"));
    stdout_of(cs_pulse().current_dir(dir.path()).arg("eval"));
    dir
}

/// The alert states the store holds.
fn alert_states(dir: &Path) -> BTreeMap<AlertKey, AlertState> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(&dir.join("cs-pulse.db"))
            .await
            .expect("open the store");
        store.alert_states().await.expect("alert states")
    })
}

/// The rule counts of the "reloaded" lines, in order.
fn reloads(out: &str) -> Vec<usize> {
    out.lines()
        .filter(|l| l.starts_with("reloaded ("))
        .filter_map(|l| l.split_once("): ")?.1.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn valid_changes_apply_and_invalid_ones_are_refused_while_it_runs() {
    let dir = workspace("");
    let states = alert_states(dir.path());
    assert!(!states.is_empty(), "the evaluation stored no alert state");
    let rules = dir.path().join("rules");
    let mut service = Service::start(dir.path());

    // SIGHUP reloads even when nothing changed.
    service.signal(libc::SIGHUP);
    service.wait_for("a reload on SIGHUP", |out, _| {
        out.contains("reloaded (SIGHUP): ")
    });
    let base = reloads(&service.output().0)[0];

    // (1) A valid rule file added, then SIGHUP: one more rule (the poll may see it first).
    std::fs::write(rules.join("extra.toml"), rule("extra-tickets")).expect("write a rule");
    service.signal(libc::SIGHUP);
    service.wait_for("a reload with the added rule", |out, _| {
        reloads(out).contains(&(base + 1))
    });
    assert!(service.alive());

    // (2) An invalid rule file: refused, the problem logged naming the file, one operator
    // message on the console, the process alive with the rules it had.
    std::fs::write(
        rules.join("broken.toml"),
        rule("broken").replace("tickets_opened", "no_such_metric"),
    )
    .expect("write a broken rule");
    service.signal(libc::SIGHUP);
    service.wait_for("the refusal", |out, err| {
        err.contains("config change refused") && out.contains("Config change refused")
    });
    let (out, err) = service.output();
    assert!(err.contains("broken.toml"), "{err}");
    assert!(err.contains("no_such_metric"), "{err}");
    assert!(err.contains("the running config stays"), "{err}");
    assert!(!reloads(&out).contains(&(base + 2)), "{out}");
    assert!(service.alive());

    // (3) The file fixed, no SIGHUP: the poll picks the change up.
    std::fs::write(rules.join("broken.toml"), rule("fixed-tickets")).expect("fix the rule");
    service.wait_for("a reload on the file change", |out, _| {
        out.contains(&format!("reloaded (file change): {} rules", base + 2))
    });

    // Alert state survives the reloads.
    assert_eq!(alert_states(dir.path()), states);

    let (code, out, err) = service.stop();
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(out.lines().last(), Some("stopped"), "{out}");
}

/// Replaces the workspace's config with `text` at once (written beside it, then renamed), so
/// that a poll of the files never sees it half written.
fn set_config(dir: &Path, text: &str) {
    let next = dir.join("config.toml.next");
    std::fs::write(&next, text).expect("write the config");
    std::fs::rename(&next, dir.join("config.toml")).expect("replace the config");
}

/// `GET /healthz` on `addr` answers "ok".
fn healthy(addr: &str) -> bool {
    http_get(addr, "/healthz") == Some((200, "ok\n".to_string()))
}

#[test]
fn a_new_listen_address_applies_and_the_old_one_stops_answering() {
    let dir = workspace(&server("127.0.0.1:0"));
    let states = alert_states(dir.path());
    assert!(!states.is_empty(), "the evaluation stored no alert state");
    let mut service = Service::start(dir.path());
    let old = service.addresses().first().cloned().expect("listening");
    assert!(healthy(&old));

    let new = free_address();
    set_config(dir.path(), &config(&server(&new)));
    service.signal(libc::SIGHUP);
    service.wait_for("the server on the new address", |out, _| {
        listening(out).contains(&new) && out.contains("reloaded (")
    });
    // (The poll of the files may reload once more, on the same address.)
    poll("the new address to answer /healthz", || {
        healthy(&new).then_some(())
    });
    poll("the old address to stop answering", || {
        http_get(&old, "/healthz").is_none().then_some(())
    });
    assert!(service.alive());
    assert_eq!(alert_states(dir.path()), states, "alert state is kept");

    let (code, out, err) = service.stop();
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(!err.contains("not applied"), "{err}");
}

#[test]
fn a_valid_change_that_cannot_start_leaves_the_running_config_serving() {
    let dir = workspace(&server("127.0.0.1:0"));
    let states = alert_states(dir.path());
    let mut service = Service::start(dir.path());
    let old = service.addresses().first().cloned().expect("listening");

    // The new address is valid but taken: the change is not applied, the running server
    // never stops, the reason is in the log and in one operator message.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("take a port");
    let taken_addr = taken.local_addr().expect("its address").to_string();
    // The poll of the files alone (no SIGHUP too), so that the change is tried exactly once.
    set_config(dir.path(), &config(&server(&taken_addr)));
    service.wait_for("the change not applied", |out, err| {
        err.contains("config change not applied") && out.contains("Config change not applied")
    });
    let (out, err) = service.output();
    let reason = format!("cannot listen on {taken_addr} ([server] listen)");
    assert!(err.contains(&reason), "{err}");
    assert!(err.contains("the running config stays"), "{err}");
    assert!(
        out.contains(&reason),
        "the operator message says why:\n{out}"
    );
    assert!(!out.contains("reloaded ("), "{out}");
    assert_eq!(
        service.addresses(),
        vec![old.clone()],
        "one server, never restarted"
    );
    assert!(healthy(&old), "the running config still serves");
    assert!(service.alive());

    // Once the address is free, the same files apply on the next reload.
    drop(taken);
    service.signal(libc::SIGHUP);
    service.wait_for("the server on the freed address", |out, _| {
        listening(out).contains(&taken_addr) && out.contains("reloaded (SIGHUP)")
    });
    assert!(healthy(&taken_addr));
    poll("the old address to stop answering", || {
        http_get(&old, "/healthz").is_none().then_some(())
    });
    assert_eq!(alert_states(dir.path()), states, "alert state is kept");

    let (code, out, err) = service.stop();
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        out.matches("Config change not applied").count(),
        1,
        "announced once:\n{out}"
    );
}

#[test]
fn a_valid_change_that_fails_later_in_its_start_brings_the_running_config_back() {
    let addr = free_address();
    let dir = workspace(&server(&addr));
    let states = alert_states(dir.path());
    let mut service = Service::started(dir.path(), |cmd| {
        cmd.env_remove("CS_TEST_UNSET_SIGNING_SECRET");
    });
    assert!(healthy(&addr));

    // Valid files (`check` only warns of a secret unset in its own environment), but the
    // service cannot answer Slack without the signing secret: the previous config starts again
    // on the same address.
    // The poll of the files alone (no SIGHUP too), so that the change is tried exactly once.
    let chat = "[chat.slack]\nsigning_secret = \"${CS_TEST_UNSET_SIGNING_SECRET}\"\n";
    set_config(dir.path(), &config(&format!("{}{chat}", server(&addr))));
    service.wait_for("the change not applied", |out, err| {
        err.contains("config change not applied") && out.contains("Config change not applied")
    });
    let (out, err) = service.output();
    assert!(err.contains("CS_TEST_UNSET_SIGNING_SECRET"), "{err}");
    assert!(
        out.contains("CS_TEST_UNSET_SIGNING_SECRET"),
        "the operator message says why:\n{out}"
    );
    assert!(!out.contains("reloaded ("), "{out}");
    assert_eq!(service.addresses(), vec![addr.clone(), addr.clone()]);
    assert!(healthy(&addr), "the previous config serves again");
    assert!(service.alive());
    assert_eq!(alert_states(dir.path()), states, "alert state is kept");

    let (code, out, err) = service.stop();
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
}
