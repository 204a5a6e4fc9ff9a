//! `route = ["..."]`: the channels a rule's alerts or a scorecard are sent to, checked against
//! the channel names of the config. Rule files and the scorecard file share this one check, so
//! that both explain a wrong route in the same words.

use std::ops::Range;

use toml::Spanned;

use super::toml_file::{self, Problem};

/// How the hints of a route speak of what it routes.
pub struct Routed<'a> {
    /// What the channels are for, in the hint for a missing route: "the channels its alerts go
    /// to".
    pub purpose: &'a str,
    /// Why an empty route is an error: "the alerts would go nowhere".
    pub nowhere: &'a str,
}

/// Checks the `route` of `label` (reported at `header` when absent) against the configured
/// `channels`. Returns the route's channels, or `None` when it is absent, empty or names an
/// unknown channel, with every problem found; a channel listed twice is a problem that keeps the
/// route (once).
pub fn check_route(
    route: Option<&Spanned<Vec<Spanned<String>>>>,
    header: Range<usize>,
    label: &str,
    channels: &[String],
    routed: &Routed,
) -> (Option<Vec<String>>, Vec<Problem>) {
    let configured = configured(channels);
    let example = channels.first().map_or("console", String::as_str);
    let Some(route) = route else {
        let hint = format!(
            "add `route = [\"{example}\"]`: {}; {configured}",
            routed.purpose
        );
        return (
            None,
            vec![(header, format!("{label} has no `route`"), hint)],
        );
    };
    if route.get_ref().is_empty() {
        let message = format!("`route` is empty: {}", routed.nowhere);
        let hint = format!("name at least one channel, like [\"{example}\"]; {configured}");
        return (None, vec![(route.span(), message, hint)]);
    }
    let mut out: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    let mut ok = true;
    for name in route.get_ref() {
        let n = name.get_ref();
        if !channels.contains(n) {
            let hint = match toml_file::closest(n, channels.iter().map(String::as_str)) {
                Some(c) => format!("did you mean `{c}`? {configured}"),
                None => format!("{configured}; or add `[channels.{n}]` to the config"),
            };
            problems.push((name.span(), format!("unknown channel `{n}`"), hint));
            ok = false;
        } else if out.contains(n) {
            let message = format!("channel `{n}` is listed twice");
            problems.push((name.span(), message, "remove one of the two".to_string()));
        } else {
            out.push(n.clone());
        }
    }
    (ok.then_some(out), problems)
}

/// The configured channels as a hint names them, or how to configure one when there is none.
fn configured(channels: &[String]) -> String {
    if channels.is_empty() {
        return "no channel is configured: add a `[channels.NAME]` table to the config".to_string();
    }
    let names = channels
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("the configured channels are {names}")
}
