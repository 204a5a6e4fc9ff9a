//! A chat desk over the synced demo workspace (120 accounts, seed 3, as of 2025-06-18) with the
//! shipped rules evaluated on that day, so that alerts are firing; and callers.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use cs_pulse::chat::{Caller, Desk, Syntax};
use cs_pulse::config::{Access, Audience, Config};

use super::cli::{cs_pulse, stdout_of, synced_workspace};

/// The demo's "now": the morning after its as-of day, which `eval --at 2025-06-18` evaluated
/// as a whole (at its end).
pub fn demo_now() -> DateTime<Utc> {
    "2025-06-19T09:00:00Z".parse().expect("time")
}

/// The synced demo workspace after `eval --at 2025-06-18`, and a desk over it.
pub async fn demo_desk() -> (tempfile::TempDir, Desk) {
    let (dir, _) = synced_workspace(12);
    stdout_of(
        cs_pulse()
            .current_dir(dir.path())
            .args(["eval", "--at", "2025-06-18"]),
    );
    let desk = desk_in(dir.path()).await;
    (dir, desk)
}

/// A desk over the workspace in `dir`.
pub async fn desk_in(dir: &Path) -> Desk {
    let config = Config::load(&dir.join("config.toml")).expect("config");
    cs_pulse::cli::open_desk(Arc::new(config))
        .await
        .expect("desk")
}

/// A caller who may see revenue and act.
pub fn lead(syntax: Syntax) -> Caller {
    Caller::new("100", "Lea", syntax, &Access::default(), &[])
}

/// A caller who may neither see revenue nor act.
pub fn guest(syntax: Syntax) -> Caller {
    let none = Access {
        revenue: Audience::Only(Default::default()),
        act: Audience::Only(Default::default()),
    };
    Caller::new("200", "Gus", syntax, &none, &[])
}
