//! End-to-end tests of hot reload in `cs-pulse run`, driven as an operator drives it: the real
//! binary in a temporary workspace with its own rules directory, rule files added, broken and
//! fixed while it runs, SIGHUP sent (or not: the 2 s poll of the files notices the change).
//!
//! What they hold the service to: a valid change applies without a restart (the process stays,
//! the rule count follows the files); an invalid change is refused with every problem in the log
//! (naming the file) and one operator message, and the running rules stay; alert state in the
//! store is untouched by reloads; SIGTERM still stops it cleanly.
//!
//! No fixed sleeps: the tests poll the service's output against generous deadlines.
#![cfg(unix)]

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::cli::{cs_pulse, stdout_of};
use cs_pulse::store::{AlertStore, SqliteStore};

/// How long anything awaited may take (a poll of the files comes every 2 s).
const DEADLINE: Duration = Duration::from_secs(20);

/// The workspace's config: the demo source, a `rules/` directory of its own (a copy of the
/// shipped rules), the shipped health model, the default `console` channel, no jobs.
fn config() -> String {
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
"#
    )
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

/// A synced and evaluated workspace (so the store holds alert states).
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), config()).expect("write config");
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

/// How many alert states the store holds.
fn alert_states(dir: &Path) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(&dir.join("cs-pulse.db"))
            .await
            .expect("open the store");
        store.alert_states().await.expect("alert states").len()
    })
}

/// A running `cs-pulse run`, its output collected as it comes.
struct Service {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    bytes.extend_from_slice(&buf[..n]);
                    *into.lock().expect("output buffer") =
                        String::from_utf8_lossy(&bytes).into_owned();
                }
            }
        }
    })
}

impl Service {
    fn start(dir: &Path) -> Service {
        let mut child = cs_pulse()
            .current_dir(dir)
            .env("CS_PULSE_LOG", "info")
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cs-pulse run starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), stdout.clone()),
            collect(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        let mut service = Service {
            child,
            stdout,
            stderr,
            readers,
        };
        service.wait_for("the start banner", |out, _| {
            out.contains("cs-pulse is running")
        });
        service
    }

    fn output(&self) -> (String, String) {
        (
            self.stdout.lock().expect("stdout").clone(),
            self.stderr.lock().expect("stderr").clone(),
        )
    }

    /// Polls until `done(stdout, stderr)`; fails after [`DEADLINE`] or if the service exits.
    fn wait_for(&mut self, what: &str, done: impl Fn(&str, &str) -> bool) {
        let start = Instant::now();
        loop {
            let (out, err) = self.output();
            if done(&out, &err) {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("poll the service") {
                panic!("the service exited ({status}) while waiting for {what}\nstdout:\n{out}\nstderr:\n{err}");
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}\nstdout:\n{out}\nstderr:\n{err}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) on our own child, still running (not reaped: every wait above found
        // it running), so the pid is still its.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "cannot signal the service");
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().expect("poll the service").is_none()
    }

    /// SIGTERM, then the exit status and the whole stdout.
    fn stop(mut self) -> (Option<i32>, String, String) {
        self.signal(libc::SIGTERM);
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(start.elapsed() < DEADLINE, "the service did not stop");
            std::thread::sleep(Duration::from_millis(10));
        };
        for reader in std::mem::take(&mut self.readers) {
            reader.join().expect("output reader");
        }
        let (out, err) = self.output();
        (status.code(), out, err)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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
    let dir = workspace();
    let states = alert_states(dir.path());
    assert!(states > 0, "the evaluation stored no alert state");
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
