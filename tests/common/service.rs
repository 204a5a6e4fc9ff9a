//! A running `cs-pulse run` driven as an operator drives it: the real binary, its output
//! collected as it comes (so the pipes never fill), signals sent to it, its HTTP server asked
//! with plain HTTP/1.1 requests. Everything awaited is polled against [`DEADLINE`]; nothing
//! sleeps a fixed time.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cli::cs_pulse;

/// How long anything awaited may take (a poll of the watched files comes every 2 s).
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The start banner, printed once the jobs are scheduled.
pub const RUNNING: &str = "cs-pulse is running";

/// A running `cs-pulse run`; killed when dropped still running (a failed test).
pub struct Service {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// What a stopped service left.
pub struct Stopped {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// From the stop signal (or the start of the wait) to the exit.
    pub took: Duration,
}

/// Appends what `from` gives to `into`, whole UTF-8 characters only (the rest waits for more).
fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut pending = Vec::new();
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    let valid = match std::str::from_utf8(&pending) {
                        Ok(s) => s.len(),
                        Err(e) => e.valid_up_to(),
                    };
                    let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
                    into.lock().expect("output buffer").push_str(&text);
                    pending.drain(..valid);
                }
            }
        }
        let rest = String::from_utf8_lossy(&pending).into_owned();
        into.lock().expect("output buffer").push_str(&rest);
    })
}

impl Service {
    /// Starts `cs-pulse run` in `dir` (info logs on stderr unless `configure` says otherwise),
    /// `configure`d further (environment, arguments before `run`), without waiting.
    pub fn spawn(dir: &Path, configure: impl FnOnce(&mut Command)) -> Service {
        let mut cmd = cs_pulse();
        cmd.current_dir(dir).env("CS_PULSE_LOG", "info");
        configure(&mut cmd);
        Service::run(cmd)
    }

    /// Runs `cmd` (the binary with its environment and global options) with `run` added, its
    /// output piped, without waiting.
    pub fn run(mut cmd: Command) -> Service {
        cmd.arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("cs-pulse run starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), stdout.clone()),
            collect(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        Service {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// Starts `cs-pulse run` in `dir` and waits for its start banner.
    pub fn start(dir: &Path) -> Service {
        Service::started(dir, |_| {})
    }

    /// [`Service::spawn`], then waits for the start banner.
    pub fn started(dir: &Path, configure: impl FnOnce(&mut Command)) -> Service {
        let mut service = Service::spawn(dir, configure);
        service.wait_for("the start banner", |out, _| out.contains(RUNNING));
        service
    }

    /// Everything printed so far: stdout and stderr.
    pub fn output(&self) -> (String, String) {
        (self.stdout(), self.stderr())
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout").clone()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }

    /// Polls until `done(stdout, stderr)`; fails after [`DEADLINE`] or if the service exits.
    pub fn wait_for(&mut self, what: &str, done: impl Fn(&str, &str) -> bool) {
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

    /// The addresses of the "listening on http://…" lines, in order (one per server started).
    pub fn addresses(&self) -> Vec<String> {
        listening(&self.output().0)
    }

    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) on our own child, still running (not reaped: every wait above found
        // it running), so the pid is still its.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "cannot signal the service");
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("poll the service").is_none()
    }

    /// SIGTERM, then the exit code, the whole stdout and the whole stderr.
    pub fn stop(self) -> (Option<i32>, String, String) {
        let stopped = self.stop_with(libc::SIGTERM);
        (stopped.status.code(), stopped.stdout, stopped.stderr)
    }

    /// Sends `signal`, then waits for the service to exit ([`Service::wait_exit`]).
    pub fn stop_with(self, signal: libc::c_int) -> Stopped {
        self.signal(signal);
        self.wait_exit()
    }

    /// Waits at most [`DEADLINE`] for the service to exit (by itself, or after a signal sent
    /// just before), then for the rest of its output.
    pub fn wait_exit(mut self) -> Stopped {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the service") {
                break status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the service did not stop within {DEADLINE:?}\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = start.elapsed();
        for reader in std::mem::take(&mut self.readers) {
            reader.join().expect("output reader");
        }
        Stopped {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
            took,
        }
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

/// The addresses of the "listening on http://…" lines of `stdout`, in order.
pub fn listening(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("listening on http://"))
        .map(|a| a.trim().to_string())
        .collect()
}

/// A loopback address no one listens on now (bound, then let go).
pub fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").to_string()
}

/// Sends `request` (a whole HTTP/1.1 request) to `addr`: the status code and the body of the
/// answer, or `None` when nothing listens there.
pub fn http(addr: &str, request: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Some((code, body.to_string()))
}

/// `GET path` on `addr`, or `None` when nothing listens there.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// `POST path` on `addr` with `headers` (each `Name: value`) and `body`.
pub fn http_post(addr: &str, path: &str, headers: &[String], body: &str) -> Option<(u16, String)> {
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    http(addr, &request)
}

/// A POST to Slack's `/slack/commands` on `addr`, signed with `secret` now as Slack signs
/// (form-encoded `body`): the status code and the body of the answer.
pub fn slack_post(addr: &str, body: &str, secret: &str) -> (u16, String) {
    use hmac::{Hmac, Mac};
    let ts = chrono::Utc::now().timestamp();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let headers = [
        "Content-Type: application/x-www-form-urlencoded".to_string(),
        format!("X-Slack-Request-Timestamp: {ts}"),
        format!("X-Slack-Signature: v0={signature}"),
    ];
    http_post(addr, "/slack/commands", &headers, body).expect("the service answers")
}

/// Polls `f` until it gives a value; fails after [`DEADLINE`].
pub fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
