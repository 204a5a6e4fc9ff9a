//! The compact binary form in which the store keeps one account's daily usage rows.
//!
//! Usage is by far the biggest record kind (a 100k-account data set has about 12 million daily
//! rows) and a row per day costs tens of microseconds through sqlx, so the store keeps one BLOB
//! per (source, account) instead. The layout is fixed-width little-endian, versioned:
//!
//! ```text
//! byte 0          format version, 1
//! then per row, sorted by date (a day may repeat), 32 bytes each:
//!   0..4    date            i32, days since 1970-01-01
//!   4..8    active_users    u32
//!   8..12   sessions        u32
//!   12..28  minutes         rust_decimal::Decimal::serialize() (flags, lo, mid, hi)
//!   28..32  features_used   u32, u32::MAX meaning None
//! ```
//!
//! Decoding is defensive: a wrong version, a length that is not a whole number of rows, an
//! impossible date, decimal or a `features_used` of u32::MAX... anything unexpected is an error
//! message (the caller turns it into `StoreError::Corrupt`), never a panic.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use crate::model::{AccountIx, Usage};

/// The only format version written so far.
pub const VERSION: u8 = 1;
/// Bytes per usage row.
pub const ROW_BYTES: usize = 32;
/// `features_used` value meaning "empty in the source".
const NO_FEATURES: u32 = u32::MAX;
/// `NaiveDate::num_days_from_ce()` of 1970-01-01.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Appends the blob of `rows` (one account's rows, already sorted by date) to `out`.
/// Fails only on values the format cannot hold (`features_used == u32::MAX`).
pub fn encode<'a>(
    rows: impl ExactSizeIterator<Item = &'a Usage>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    out.reserve(1 + rows.len() * ROW_BYTES);
    out.push(VERSION);
    for u in rows {
        let days = Datelike::num_days_from_ce(&u.date) - EPOCH_DAYS_FROM_CE;
        let features = match u.features_used {
            Some(NO_FEATURES) => {
                return Err(format!(
                    "features_used {NO_FEATURES} on {} is too large to store",
                    u.date
                ))
            }
            Some(f) => f,
            None => NO_FEATURES,
        };
        out.extend_from_slice(&days.to_le_bytes());
        out.extend_from_slice(&u.active_users.to_le_bytes());
        out.extend_from_slice(&u.sessions.to_le_bytes());
        out.extend_from_slice(&u.minutes.serialize());
        out.extend_from_slice(&features.to_le_bytes());
    }
    Ok(())
}

/// Number of rows in a blob, after checking its version and length.
pub fn row_count(blob: &[u8]) -> Result<usize, String> {
    match blob.split_first() {
        None => Err("empty usage blob".into()),
        Some((&VERSION, rest)) if rest.len() % ROW_BYTES == 0 => Ok(rest.len() / ROW_BYTES),
        Some((&VERSION, rest)) => Err(format!(
            "usage blob of {} bytes is not a whole number of {ROW_BYTES}-byte rows",
            rest.len()
        )),
        Some((v, _)) => Err(format!("unknown usage blob version {v}")),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decodes a blob into `out`, each row attributed to `account`. Dates must not decrease, as
/// [`encode`] writes them (one day may have several rows: they are summed later, not here). On error `out` may hold some of the rows.
pub fn decode(blob: &[u8], account: AccountIx, out: &mut Vec<Usage>) -> Result<(), String> {
    let n = row_count(blob)?;
    out.reserve(n);
    let mut previous: Option<NaiveDate> = None;
    for row in blob[1..].chunks_exact(ROW_BYTES) {
        let days = u32_at(row, 0) as i32;
        let date = days
            .checked_add(EPOCH_DAYS_FROM_CE)
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(|| format!("usage blob holds an impossible date ({days} days)"))?;
        if previous.is_some_and(|p| p > date) {
            return Err(format!("usage blob rows are not in date order at {date}"));
        }
        previous = Some(date);
        let mut dec = [0u8; 16];
        dec.copy_from_slice(&row[12..28]);
        let flags = u32_at(&dec, 0);
        let scale = (flags >> 16) & 0xFF;
        if flags & !0x80FF_0000 != 0 || scale > Decimal::MAX_SCALE {
            return Err(format!(
                "usage blob holds an invalid decimal for minutes on {date}"
            ));
        }
        let features = u32_at(row, 28);
        out.push(Usage {
            account,
            date,
            active_users: u32_at(row, 4),
            sessions: u32_at(row, 8),
            minutes: Decimal::deserialize(dec),
            features_used: (features != NO_FEATURES).then_some(features),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn row(date: &str, minutes: Decimal, features: Option<u32>) -> Usage {
        Usage {
            account: 7,
            date: date.parse().unwrap(),
            active_users: 12,
            sessions: 40,
            minutes,
            features_used: features,
        }
    }

    #[test]
    fn round_trips() {
        let rows = vec![
            row("1969-12-31", dec!(0), None),
            row("2025-03-01", dec!(-1.5), Some(0)),
            row("2025-03-02", dec!(123456789.0123456789), Some(u32::MAX - 1)),
        ];
        let mut blob = Vec::new();
        encode(rows.iter(), &mut blob).unwrap();
        assert_eq!(blob.len(), 1 + 3 * ROW_BYTES);
        assert_eq!(row_count(&blob), Ok(3));
        let mut back = Vec::new();
        decode(&blob, 7, &mut back).unwrap();
        assert_eq!(back, rows);
        assert_eq!(back[2].minutes.scale(), 10);
    }

    #[test]
    fn rejects_what_it_cannot_hold() {
        let mut blob = Vec::new();
        let e = encode(
            [row("2025-01-01", dec!(1), Some(u32::MAX))].iter(),
            &mut blob,
        );
        assert!(e.is_err());
    }

    #[test]
    fn corrupt_blobs_are_errors_not_panics() {
        let mut good = Vec::new();
        encode(
            [
                row("2025-01-01", dec!(1), None),
                row("2025-01-02", dec!(2), None),
            ]
            .iter(),
            &mut good,
        )
        .unwrap();
        let mut out = Vec::new();
        let mut bad_version = good.clone();
        bad_version[0] = 9;
        let mut unordered = good.clone();
        unordered[1 + ROW_BYTES..1 + ROW_BYTES + 4].copy_from_slice(&0i32.to_le_bytes());
        let mut bad_decimal = good.clone();
        bad_decimal[1 + 12 + 2] = 200; // scale 200
        let mut bad_date = good.clone();
        bad_date[1..5].copy_from_slice(&i32::MAX.to_le_bytes());
        for blob in [
            &[][..],
            &good[..good.len() - 1],
            &bad_version,
            &unordered,
            &bad_decimal,
            &bad_date,
        ] {
            assert!(decode(blob, 0, &mut out).is_err(), "{blob:?}");
        }
        // Every truncation fails cleanly too.
        for len in 0..good.len() {
            if len != 1 && len != 1 + ROW_BYTES {
                assert!(decode(&good[..len], 0, &mut out).is_err());
            }
        }
    }
}
