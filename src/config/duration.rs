//! Durations as people write them in config and rule files: `"0"`, `"90s"`, `"15m"`, `"12h"`,
//! `"2d"`, `"1w"`, or several parts (`"1d12h"`, `"1d 12h"`), with long unit names too (`"2 days"`),
//! like the `humantime` crate. Months and years are not durations (their length varies): rule
//! windows say `month` or `year` instead.

use chrono::Duration;

/// The longest duration accepted: ten years of days, far beyond any useful `for`, `repeat` or
/// `max_age`, and far from `chrono::Duration`'s limits.
pub const MAX_DAYS: i64 = 3660;

/// What a duration looks like, for hints.
pub const DURATION_HINT: &str =
    "write a number and a unit: s, m (minutes), h, d or w, like \"12h\", \"2d\" or \"1w\"; \"0\" for none";

/// Parses a duration; the error says what is wrong, as a sentence fragment after the value
/// (`unknown unit `x``).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("is empty".to_string());
    }
    if s == "0" {
        return Ok(Duration::zero());
    }
    let mut total_secs: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let number: i64 = rest[..digits]
            .parse()
            .map_err(|_| "is too long".to_string())?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        if unit_len == 0 {
            return Err(if rest.starts_with('.') {
                "has a fraction: use a smaller unit instead, like \"36h\" for 1.5 days".to_string()
            } else {
                format!("has no unit after {number}")
            });
        }
        let unit = &rest[..unit_len];
        let seconds = unit_seconds(unit).ok_or_else(|| match unit {
            "mo" | "month" | "months" | "y" | "yr" | "year" | "years" => {
                format!("uses `{unit}`, whose length varies: write days instead, like \"30d\"")
            }
            _ => format!("has an unknown unit `{unit}`"),
        })?;
        total_secs = number
            .checked_mul(seconds)
            .and_then(|v| total_secs.checked_add(v))
            .filter(|v| *v <= MAX_DAYS * 86_400)
            .ok_or_else(|| format!("is longer than {MAX_DAYS} days"))?;
        rest = rest[unit_len..].trim_start();
    }
    Ok(Duration::seconds(total_secs))
}

fn unit_seconds(unit: &str) -> Option<i64> {
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        _ => return None,
    })
}

/// A duration in its shortest form with the largest whole units: `2d`, `1d12h`, `0`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.num_seconds();
    if secs == 0 {
        return "0".to_string();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
        secs = -secs;
    }
    for (unit, size) in [
        ("w", 7 * 86_400),
        ("d", 86_400),
        ("h", 3600),
        ("m", 60),
        ("s", 1),
    ] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        assert_eq!(parse_duration("0"), Ok(Duration::zero()));
        assert_eq!(parse_duration("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse_duration("2d"), Ok(Duration::days(2)));
        assert_eq!(parse_duration("1w"), Ok(Duration::days(7)));
        assert_eq!(parse_duration("1d 12h"), Ok(Duration::hours(36)));
        assert_eq!(parse_duration("2 days"), Ok(Duration::days(2)));
        assert_eq!(parse_duration("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse_duration("0d"), Ok(Duration::zero()));
    }

    #[test]
    fn explains_what_is_wrong() {
        assert_eq!(parse_duration("").unwrap_err(), "is empty");
        assert_eq!(parse_duration("2").unwrap_err(), "has no unit after 2");
        assert_eq!(parse_duration("2x").unwrap_err(), "has an unknown unit `x`");
        assert!(parse_duration("1.5d").unwrap_err().contains("fraction"));
        assert!(parse_duration("1mo").unwrap_err().contains("length varies"));
        assert!(parse_duration("99999999999999999999d").is_err());
        assert!(parse_duration("9999d").unwrap_err().contains("longer"));
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("-1d").is_err());
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_duration(Duration::hours(36)), "1d12h");
        assert_eq!(format_duration(Duration::days(14)), "2w");
        assert_eq!(format_duration(Duration::zero()), "0");
    }
}
