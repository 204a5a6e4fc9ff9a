//! When `cs-pulse run` should reload its config: on SIGHUP, or when one of the files it was
//! started from changed. Files are watched by polling their modification times and lengths
//! every [`POLL`]: a poll needs no new crate and works where change notifications do not (in
//! containers, on network filesystems, through editors that replace files). The SIGHUP
//! listener is installed when the watch is made, so that a signal is never lost and never kills
//! the process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::config::Config;

/// How often the watched files are looked at.
pub const POLL: Duration = Duration::from_secs(2);

/// Why a reload is attempted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP: always reloads, changed files or not.
    Hangup,
    /// A watched file was added, removed or changed.
    FilesChanged,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::Hangup => "SIGHUP",
            Trigger::FilesChanged => "file change",
        })
    }
}

/// What a watched file looked like: its modification time and length, none when it is absent.
type Fingerprint = BTreeMap<PathBuf, Option<(SystemTime, u64)>>;

/// The files a config is made of: the config file, every rule file or directory (with the
/// files in it), and the health model (the scorecard file lives among the rules).
pub fn watched_paths(config_path: &Path, config: &Config) -> Vec<PathBuf> {
    let mut paths = vec![config_path.to_path_buf()];
    paths.extend(config.rules_paths.iter().cloned());
    paths.push(config.health_model.clone());
    paths
}

/// Watches files for changes and the process for SIGHUP.
pub struct Watch {
    paths: Vec<PathBuf>,
    seen: Fingerprint,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    #[cfg(not(unix))]
    hangup: Option<()>,
}

impl Watch {
    /// Starts listening for SIGHUP now and remembers how `paths` look now.
    pub fn new(paths: Vec<PathBuf>) -> Watch {
        #[cfg(not(unix))]
        let hangup = None;
        #[cfg(unix)]
        let hangup = {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::hangup()) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(
                        "cannot listen for SIGHUP ({e}); reloads follow file changes only"
                    );
                    None
                }
            }
        };
        let seen = fingerprint(&paths);
        Watch {
            paths,
            seen,
            hangup,
        }
    }

    /// Watches `paths` from now on, as they are now (after a reload, the new config's files).
    pub fn rebase(&mut self, paths: Vec<PathBuf>) {
        self.seen = fingerprint(&paths);
        self.paths = paths;
    }

    /// Waits for the next SIGHUP or file change. A change is reported once: the files as they
    /// are then become the new baseline, whether the reload it triggers succeeds or not.
    pub async fn next(&mut self) -> Trigger {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = hangup(&mut self.hangup) => return Trigger::Hangup,
                _ = tick.tick() => {
                    let now = fingerprint(&self.paths);
                    if now != self.seen {
                        self.seen = now;
                        return Trigger::FilesChanged;
                    }
                }
            }
        }
    }
}

/// The next SIGHUP; never, without a listener.
#[cfg(unix)]
async fn hangup(listener: &mut Option<tokio::signal::unix::Signal>) {
    if let Some(signal) = listener.as_mut() {
        if signal.recv().await.is_some() {
            return;
        }
    }
    std::future::pending::<()>().await
}

/// No SIGHUP off Unix: reloads follow file changes only.
#[cfg(not(unix))]
async fn hangup(_: &mut Option<()>) {
    std::future::pending::<()>().await
}

/// How `paths` look now; a directory contributes the files directly in it.
fn fingerprint(paths: &[PathBuf]) -> Fingerprint {
    let mut seen = Fingerprint::new();
    for path in paths {
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(path) {
                for entry in entries.flatten() {
                    let file = entry.path();
                    seen.insert(file.clone(), stamp(&file));
                }
            }
        }
        seen.insert(path.clone(), stamp(path));
    }
    seen
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_added_to_a_directory_changes_the_fingerprint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = vec![dir.path().to_path_buf()];
        let before = fingerprint(&paths);
        assert_eq!(before, fingerprint(&paths));
        std::fs::write(dir.path().join("new.toml"), "x").expect("write");
        assert_ne!(before, fingerprint(&paths));
    }

    #[test]
    fn a_missing_file_is_watched_as_absent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("health.toml");
        let before = fingerprint(std::slice::from_ref(&file));
        assert_eq!(before.get(&file), Some(&None));
        std::fs::write(&file, "x").expect("write");
        assert_ne!(before, fingerprint(&[file]));
    }
}
