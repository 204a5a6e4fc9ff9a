//! Period strings as people type them (`--period`, `/kpi period:`, scorecard files): any text
//! through `Period::from_str`. A period that parses must be a non-empty half-open range whose
//! `Display` parses back to the same period, and the calendar arithmetic the metrics do with it
//! (the previous period, its months and days, the windows of rules evaluated in it) must not
//! panic, even at the ends of the calendar. The other small texts of the same files go through
//! their parsers too: durations (`7d`, `1w2d`), rule windows (`30d`, `quarter`), scorecard
//! targets (`>= 1.05`) and cost months (`2025-03`).
#![no_main]

use chrono::Duration;
use cs_pulse::config::duration::{format_duration, parse_duration};
use cs_pulse::model::{Period, PeriodKind, YearMonth};
use cs_pulse::rules::load::parse_window;
use cs_pulse::rules::model::Window;
use cs_pulse::scorecard::config::parse_target;
use libfuzzer_sys::fuzz_target;

const KINDS: [PeriodKind; 5] = [
    PeriodKind::Week,
    PeriodKind::Month,
    PeriodKind::Quarter,
    PeriodKind::Year,
    PeriodKind::Range,
];

/// At most this many months or days are walked, so that a range of millennia stays fast.
const WALK: usize = 2000;

fn check_period(text: &str, p: Period) {
    assert!(p.start() < p.end(), "{text:?}: empty period {p:?}");
    assert!(p.days() > 0);
    assert!(p.contains(p.start()) && p.contains(p.last_day()) && !p.contains(p.end()));
    let shown = p.to_string();
    match shown.parse::<Period>() {
        Ok(again) => assert_eq!(again, p, "{text:?} shows as {shown:?}"),
        Err(e) => panic!("{text:?} shows as {shown:?}, which does not parse: {e}"),
    }
    let prev = p.previous();
    assert_eq!(prev.kind(), p.kind());
    if prev != p {
        assert_eq!(prev.end(), p.start(), "{p} then {prev}");
        assert!(prev.start() < prev.end());
    }
    let _ = p.day_before();
    let mut last_end = None;
    for m in p.months().take(WALK) {
        assert!(
            m.start() < p.end() && p.start() < m.end(),
            "{m} outside {p}"
        );
        assert!(p.overlap_days(&m) > 0);
        if let Some(e) = last_end {
            assert_eq!(m.start(), e);
        }
        last_end = Some(m.end());
    }
    let days = p.iter_days().take(WALK).count();
    assert_eq!(days as i64, p.days().min(WALK as i64));
    // Rules evaluated on the period's first and last day, and the periods around them.
    for day in [p.start(), p.last_day()] {
        for kind in KINDS {
            let c = Period::containing(kind, day);
            let _ = c.previous();
        }
        for w in [
            Window::Trailing(1),
            Window::Trailing(366),
            Window::ToDate(PeriodKind::Week),
            Window::ToDate(PeriodKind::Quarter),
            Window::ToDate(PeriodKind::Year),
        ] {
            let _ = w.period(day).previous();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Periods arrive as text (command-line arguments, JSON strings, TOML strings).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<Period>() {
        Ok(p) => check_period(text, p),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(d) = parse_duration(text) {
        assert!(d >= Duration::zero(), "{text:?} is a negative duration");
        let shown = format_duration(d);
        assert_eq!(parse_duration(&shown), Ok(d), "{text:?} shows as {shown:?}");
    }
    if let Ok(w) = parse_window(text) {
        let shown = w.to_string();
        assert_eq!(parse_window(&shown), Ok(w), "{text:?} shows as {shown:?}");
    }
    if let Ok(t) = parse_target(text) {
        let _ = t.to_string();
    }
    if let Ok(m) = text.parse::<YearMonth>() {
        let _ = m.period();
        assert_eq!(m.to_string().parse::<YearMonth>(), Ok(m), "{text:?}");
    }
});
