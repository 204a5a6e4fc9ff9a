//! How numbers read for people: money with its currency and thousands separators, ratios as
//! percentages, changes with a sign. One place, so the terminal, chat and docs agree.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::metrics::{MetricRef, Unit, Variant};
use crate::model::Currency;

/// Rounds money for display and JSON: 2 decimals, half away from zero (METRICS.md "Rounding").
pub fn round_money(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn round(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// `1234567.891` -> `1,234,567.89` with `dp` decimals.
pub fn group_thousands(d: Decimal, dp: u32) -> String {
    let s = format!("{:.*}", dp as usize, round(d, dp).abs());
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let mut out = String::with_capacity(s.len() + s.len() / 3 + 1);
    if d.is_sign_negative() && !round(d, dp).is_zero() {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// `$1,234.50`, `€99.00`, `CHF 10.00`; negative as `-$5.00`.
pub fn money(d: Decimal, currency: Currency) -> String {
    let digits = group_thousands(d, 2);
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest.to_string()),
        None => ("", digits),
    };
    let symbol = match currency.as_str() {
        "USD" => "$".to_string(),
        "EUR" => "€".to_string(),
        "GBP" => "£".to_string(),
        other => format!("{other} "),
    };
    format!("{sign}{symbol}{digits}")
}

/// A value of `unit` for a person: money with currency, ratios as `104.3%`.
pub fn value(d: Decimal, unit: Unit, currency: Currency) -> String {
    match unit {
        Unit::Money => money(d, currency),
        Unit::Ratio => format!("{}%", group_thousands(d * Decimal::ONE_HUNDRED, 1)),
        Unit::Score => group_thousands(d, 1),
        Unit::Count => group_thousands(d, 0),
        Unit::Days => format!("{} d", group_thousands(d, 1).trim_end_matches(".0")),
        Unit::Number => group_thousands(d, 2),
    }
}

fn signed(s: String, d: Decimal) -> String {
    if d > Decimal::ZERO && !s.starts_with('-') {
        format!("+{s}")
    } else {
        s
    }
}

/// A change of a `unit` value: `+$1,200.00`, ratios in percentage points `-1.5 pp`.
pub fn change(d: Decimal, unit: Unit, currency: Currency) -> String {
    let s = match unit {
        Unit::Ratio => format!("{} pp", group_thousands(d * Decimal::ONE_HUNDRED, 1)),
        _ => value(d, unit, currency),
    };
    signed(s, d)
}

/// A relative change: `+3.4%`.
pub fn change_pct(d: Decimal) -> String {
    signed(
        format!("{}%", group_thousands(d * Decimal::ONE_HUNDRED, 1)),
        d,
    )
}

/// A metric reference's value as a person reads it, `–` for null.
pub fn reference(r: &MetricRef, v: Option<Decimal>, currency: Currency) -> String {
    let Some(v) = v else {
        return "–".to_string();
    };
    let unit = r.metric.def().unit;
    match r.variant {
        Variant::Value => value(v, unit, currency),
        Variant::Change => change(v, unit, currency),
        Variant::ChangePct => change_pct(v),
    }
}

/// The JSON text of a value: money as a string rounded to 2 decimals, everything else as an
/// exact, unrounded number written from the decimal itself (METRICS.md "Rounding"); `null` for
/// null. Decimal's `Display` is always a valid JSON number.
pub fn json(r: &MetricRef, v: Option<Decimal>) -> String {
    match v {
        None => "null".to_string(),
        Some(v) if r.metric.def().unit == Unit::Money && r.variant != Variant::ChangePct => {
            format!("\"{:.2}\"", round_money(v))
        }
        Some(v) => v.normalize().to_string(),
    }
}

/// "1 account", "3 accounts".
pub fn accounts(n: usize) -> String {
    if n == 1 {
        "1 account".to_string()
    } else {
        format!("{n} accounts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn formats_values() {
        let usd = Currency::USD;
        assert_eq!(money(dec!(1234567.895), usd), "$1,234,567.90");
        assert_eq!(money(dec!(-0.004), usd), "$0.00");
        assert_eq!(money(dec!(-1000), Currency::EUR), "-€1,000.00");
        assert_eq!(value(dec!(1.0425), Unit::Ratio, usd), "104.3%");
        assert_eq!(value(dec!(12), Unit::Days, usd), "12 d");
        assert_eq!(value(dec!(12.5), Unit::Days, usd), "12.5 d");
        assert_eq!(change(dec!(-0.015), Unit::Ratio, usd), "-1.5 pp");
        assert_eq!(change(dec!(1200), Unit::Money, usd), "+$1,200.00");
        assert_eq!(change_pct(dec!(0.034)), "+3.4%");
        assert_eq!(change_pct(dec!(0)), "0.0%");
    }

    #[test]
    fn json_money_is_a_rounded_string_and_ratios_exact_numbers() {
        let mrr: MetricRef = "mrr".parse().unwrap();
        let nrr: MetricRef = "nrr".parse().unwrap();
        assert_eq!(json(&mrr, Some(dec!(10.005))), r#""10.01""#);
        assert_eq!(json(&mrr, Some(dec!(-10.005))), r#""-10.01""#);
        assert_eq!(json(&mrr, Some(dec!(7))), r#""7.00""#);
        assert_eq!(json(&nrr, Some(dec!(1.0500))), "1.05");
        let third = Decimal::ONE / Decimal::from(3);
        assert_eq!(json(&nrr, Some(third)), "0.3333333333333333333333333333");
        assert_eq!(json(&nrr, None), "null");
    }
}
