//! Currencies and the fixed exchange rates that convert every amount into the reporting currency.
//!
//! Money itself is a plain [`rust_decimal::Decimal`]: exact, never `f64`. Conversion multiplies by
//! a configured rate and never rounds (METRICS.md, "Rounding" and "Currency").

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The largest amount a source may deliver (10^15, in any currency): far above any real MRR,
/// renewal or cost, and small enough that the metrics never overflow `Decimal` (7.9 × 10^28):
/// a million such amounts, converted at [`MAX_FX_RATE`] and ×12, sum to 1.2 × 10^28. Files reject larger values with their line; the sync engine checks
/// every source's data against it before storing.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// The largest exchange rate `[fx]` accepts (10^6 units of the reporting currency per unit).
pub const MAX_FX_RATE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a currency code (three letters, like USD or EUR)")]
pub struct CurrencyError(pub String);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    /// Accepts three ASCII letters in any case and stores them upper-cased.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let b = t.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Currency([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            Err(CurrencyError(s.to_string()))
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reporting currency and how many units of it one unit of each other currency is worth
/// (`EUR = 1.08` with reporting currency USD).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FxRates {
    reporting: Currency,
    rates: BTreeMap<Currency, Decimal>,
}

impl Default for FxRates {
    fn default() -> Self {
        FxRates::new(Currency::USD)
    }
}

impl FxRates {
    pub fn new(reporting: Currency) -> Self {
        FxRates {
            reporting,
            rates: BTreeMap::new(),
        }
    }

    /// Adds a rate; the reporting currency always converts at 1.
    pub fn with_rate(mut self, currency: Currency, rate: Decimal) -> Self {
        self.rates.insert(currency, rate);
        self
    }

    pub fn reporting(&self) -> Currency {
        self.reporting
    }

    /// The rate of `currency`, or `None` when no rate is configured for it.
    pub fn rate(&self, currency: Currency) -> Option<Decimal> {
        if currency == self.reporting {
            Some(Decimal::ONE)
        } else {
            self.rates.get(&currency).copied()
        }
    }

    /// `amount` in the reporting currency, exact (no rounding); `None` without a rate.
    pub fn convert(&self, amount: Decimal, currency: Currency) -> Option<Decimal> {
        self.rate(currency).map(|r| amount * r)
    }

    /// Every currency with a configured rate, the reporting one first.
    pub fn currencies(&self) -> impl Iterator<Item = Currency> + '_ {
        std::iter::once(self.reporting)
            .chain(self.rates.keys().copied().filter(|c| *c != self.reporting))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_and_normalises_codes() {
        assert_eq!("eur".parse::<Currency>().unwrap(), Currency::EUR);
        assert!("EURO".parse::<Currency>().is_err());
        assert!("E1R".parse::<Currency>().is_err());
    }

    #[test]
    fn the_bounds_are_powers_of_ten() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000u64));
        assert_eq!(MAX_FX_RATE, Decimal::from(1_000_000u32));
    }

    #[test]
    fn converts_exactly() {
        let fx = FxRates::new(Currency::USD).with_rate(Currency::EUR, dec!(1.08));
        // 99.99 EUR x 1.08 = 107.9892 USD, unrounded.
        assert_eq!(fx.convert(dec!(99.99), Currency::EUR), Some(dec!(107.9892)));
        assert_eq!(fx.convert(dec!(5), Currency::USD), Some(dec!(5)));
        assert_eq!(fx.convert(dec!(5), "GBP".parse().unwrap()), None);
    }
}
