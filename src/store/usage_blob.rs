//! The compact binary form in which the store keeps one account's daily usage rows.
//!
//! Usage is by far the biggest record kind (a 100k-account data set has about 13 million daily
//! rows) and a row per day costs microseconds through sqlx, so the store keeps one BLOB per
//! (source, account) instead. Version 2 (written since) packs a row into 6 to 10 bytes for
//! typical data; every integer is an unsigned LEB128 varint (7 bits a byte, low bits first, the
//! high bit set on every byte but the last):
//!
//! ```text
//! byte 0      format version, 2
//! varint      number of rows
//! byte        minutes scale shared by every row (0..=28), or 255: each row has its own
//! then per row, sorted by date (a day may repeat):
//!   varint    date: the first row's days since 1970-01-01, zigzag-encoded (0, -1, 1, -2 ...
//!             as 0, 1, 2, 3 ...); every later row's days since the row before (never negative)
//!   varint    active_users
//!   varint    sessions
//!   varint    features_used + 1, 0 meaning None
//!   [byte     minutes scale, only when the header's is 255]
//!   varint    minutes: mantissa magnitude << 1 | sign (so -0 survives)
//! ```
//!
//! Version 1 (fixed 32-byte rows: date i32, active_users u32, sessions u32, minutes as
//! `Decimal::serialize()`, features_used u32 with u32::MAX for None; little-endian) is still
//! read, so that a store written by an older build loads.
//!
//! Decoding is defensive: an unknown version, a truncated or overlong blob, a varint that does
//! not fit its field, an impossible date or decimal, dates out of order... anything unexpected is
//! an error message (the caller turns it into `StoreError::Corrupt`), never a panic.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use crate::model::{AccountIx, Usage};

/// The format version [`encode`] writes.
pub const VERSION: u8 = 2;
/// The older fixed-width format, still decoded.
const VERSION_1: u8 = 1;
/// Bytes per row in version 1.
const V1_ROW_BYTES: usize = 32;
/// Header scale byte meaning "each row has its own scale byte".
const MIXED_SCALE: u8 = 255;
/// `NaiveDate::num_days_from_ce()` of 1970-01-01.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads one LEB128 varint at `*pos`, advancing it; `None` when truncated or above `u128`.
fn get_varint(b: &[u8], pos: &mut usize) -> Option<u128> {
    let mut v: u128 = 0;
    let mut shift = 0u32;
    loop {
        let byte = *b.get(*pos)?;
        *pos += 1;
        let part = u128::from(byte & 0x7F);
        if shift >= 128 || (shift > 121 && part >> (128 - shift) != 0) {
            return None;
        }
        v |= part << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
    }
}

/// Appends the blob of `rows` (one account's rows, already sorted by date) to `out`.
pub fn encode<'a>(rows: impl ExactSizeIterator<Item = &'a Usage> + Clone, out: &mut Vec<u8>) {
    out.reserve(8 + rows.len() * 10);
    out.push(VERSION);
    put_varint(out, rows.len() as u128);
    let mut scales = rows.clone().map(|u| u.minutes.scale());
    let first = scales.next().unwrap_or(0);
    let shared = scales.all(|s| s == first);
    // A scale is at most 28 (Decimal::MAX_SCALE), so it fits a byte below MIXED_SCALE.
    out.push(if shared { first as u8 } else { MIXED_SCALE });
    let mut previous: Option<i32> = None;
    for u in rows {
        let days = Datelike::num_days_from_ce(&u.date) - EPOCH_DAYS_FROM_CE;
        match previous {
            // Zigzag: sign in the lowest bit.
            None => put_varint(out, u128::from(((days << 1) ^ (days >> 31)) as u32)),
            // Rows are sorted; were they not, the wrapped difference fails on decoding.
            Some(p) => put_varint(out, u128::from(days.wrapping_sub(p) as u32)),
        }
        previous = Some(days);
        put_varint(out, u128::from(u.active_users));
        put_varint(out, u128::from(u.sessions));
        put_varint(out, u.features_used.map_or(0, |f| u128::from(f) + 1));
        if !shared {
            out.push(u.minutes.scale() as u8);
        }
        let magnitude = u.minutes.mantissa().unsigned_abs();
        put_varint(
            out,
            magnitude << 1 | u128::from(u.minutes.is_sign_negative()),
        );
    }
}

/// Decodes a blob into `out`, each row attributed to `account`, and returns the number of rows.
/// Dates must not decrease, as [`encode`] writes them (one day may have several rows: they are
/// summed later, not here). On error `out` may hold some of the rows.
pub fn decode(blob: &[u8], account: AccountIx, out: &mut Vec<Usage>) -> Result<usize, String> {
    match blob.first() {
        None => Err("empty usage blob".into()),
        Some(&VERSION) => decode_v2(blob, account, out),
        Some(&VERSION_1) => decode_v1(blob, account, out),
        Some(v) => Err(format!("unknown usage blob version {v}")),
    }
}

fn decode_v2(blob: &[u8], account: AccountIx, out: &mut Vec<Usage>) -> Result<usize, String> {
    let truncated = || "usage blob is truncated or holds an overlong number".to_string();
    let mut pos = 1;
    let n = get_varint(blob, &mut pos).ok_or_else(truncated)?;
    // Each row takes at least 5 bytes: a bogus count cannot make us reserve much.
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= blob.len() / 5)
        .ok_or_else(|| format!("usage blob claims {n} rows in {} bytes", blob.len()))?;
    let shared_scale = *blob.get(pos).ok_or_else(truncated)?;
    pos += 1;
    if shared_scale != MIXED_SCALE && u32::from(shared_scale) > Decimal::MAX_SCALE {
        return Err(format!(
            "usage blob has an invalid minutes scale {shared_scale}"
        ));
    }
    out.reserve(n);
    let mut days: i64 = 0;
    let mut date = NaiveDate::MIN;
    let next = |pos: &mut usize| get_varint(blob, pos).ok_or_else(truncated);
    for row in 0..n {
        let step = next(&mut pos)?;
        let new_date = if row == 0 {
            // Un-zigzag; anything beyond 32 bits is not a date `encode` wrote.
            let z = u32::try_from(step).map_err(|_| "usage blob holds an impossible date")?;
            days = i64::from((z >> 1) as i32 ^ -((z & 1) as i32));
            None
        } else if step == 0 {
            Some(date)
        } else if step == 1 {
            days += 1;
            date.succ_opt()
        } else {
            days = i64::try_from(step)
                .ok()
                .and_then(|step| days.checked_add(step))
                .ok_or("usage blob holds an impossible date")?;
            None
        };
        date = match new_date {
            Some(d) => d,
            None => i32::try_from(days)
                .ok()
                .and_then(|d| d.checked_add(EPOCH_DAYS_FROM_CE))
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .ok_or_else(|| format!("usage blob holds an impossible date ({days} days)"))?,
        };
        let count = |v: u128, what: &str| {
            u32::try_from(v).map_err(|_| format!("usage blob holds {what} {v} on {date}"))
        };
        let active_users = count(next(&mut pos)?, "active_users")?;
        let sessions = count(next(&mut pos)?, "sessions")?;
        let features = next(&mut pos)?;
        let features_used = match features {
            0 => None,
            f => Some(count(f - 1, "features_used")?),
        };
        let scale = if shared_scale == MIXED_SCALE {
            let s = *blob.get(pos).ok_or_else(truncated)?;
            pos += 1;
            s
        } else {
            shared_scale
        };
        let m = next(&mut pos)?;
        let magnitude = i128::try_from(m >> 1).ok();
        let minutes = magnitude
            .and_then(|v| Decimal::try_from_i128_with_scale(v, u32::from(scale)).ok())
            .map(|d| if m & 1 == 1 { -d } else { d })
            .ok_or_else(|| format!("usage blob holds invalid minutes on {date}"))?;
        out.push(Usage {
            account,
            date,
            active_users,
            sessions,
            minutes,
            features_used,
        });
    }
    if pos != blob.len() {
        return Err(format!(
            "usage blob has {} bytes after its {n} rows",
            blob.len() - pos
        ));
    }
    Ok(n)
}

/// Appends one account's entry to a chunk (the store keeps many accounts' usage in one BLOB):
/// varint id length, id (UTF-8), varint blob length, then the [`encode`]d blob. `scratch` is
/// reused between calls.
pub fn push_entry<'a>(
    chunk: &mut Vec<u8>,
    account_id: &str,
    rows: impl ExactSizeIterator<Item = &'a Usage> + Clone,
    scratch: &mut Vec<u8>,
) {
    scratch.clear();
    encode(rows, scratch);
    put_varint(chunk, account_id.len() as u128);
    chunk.extend_from_slice(account_id.as_bytes());
    put_varint(chunk, scratch.len() as u128);
    chunk.extend_from_slice(scratch);
}

/// The entries of a chunk written by [`push_entry`]: (account id, blob), or an error message for
/// a malformed chunk (after which the iterator ends).
pub fn entries(chunk: &[u8]) -> impl Iterator<Item = Result<(&str, &[u8]), String>> {
    let mut pos = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos == chunk.len() {
            return None;
        }
        let mut slice = || -> Option<&[u8]> {
            let len = usize::try_from(get_varint(chunk, &mut pos)?).ok()?;
            let end = pos.checked_add(len).filter(|&e| e <= chunk.len())?;
            let s = &chunk[pos..end];
            pos = end;
            Some(s)
        };
        let entry = match (slice(), slice()) {
            (Some(id), Some(blob)) => std::str::from_utf8(id)
                .map(|id| (id, blob))
                .map_err(|_| "usage chunk holds an account id that is not UTF-8".to_string()),
            _ => Err("usage chunk is truncated".to_string()),
        };
        failed = entry.is_err();
        Some(entry)
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn decode_v1(blob: &[u8], account: AccountIx, out: &mut Vec<Usage>) -> Result<usize, String> {
    let rest = &blob[1..];
    if !rest.len().is_multiple_of(V1_ROW_BYTES) {
        return Err(format!(
            "usage blob of {} bytes is not a whole number of {V1_ROW_BYTES}-byte rows",
            rest.len()
        ));
    }
    out.reserve(rest.len() / V1_ROW_BYTES);
    let mut previous: Option<NaiveDate> = None;
    for row in rest.chunks_exact(V1_ROW_BYTES) {
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
            features_used: (features != u32::MAX).then_some(features),
        });
    }
    Ok(rest.len() / V1_ROW_BYTES)
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

    fn round_trip(rows: &[Usage]) -> Vec<u8> {
        let mut blob = Vec::new();
        encode(rows.iter(), &mut blob);
        let mut back = Vec::new();
        assert_eq!(decode(&blob, 7, &mut back), Ok(rows.len()));
        assert_eq!(back, rows);
        // Same scale and sign too, not only equal values.
        for (a, b) in back.iter().zip(rows) {
            assert_eq!(a.minutes.to_string(), b.minutes.to_string());
        }
        blob
    }

    #[test]
    fn varints() {
        for v in [0, 1, 127, 128, 300, u128::from(u32::MAX), u128::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut pos = 0;
            assert_eq!(get_varint(&b, &mut pos), Some(v));
            assert_eq!(pos, b.len());
            // Truncations fail.
            let mut pos = 0;
            assert_eq!(get_varint(&b[..b.len() - 1], &mut pos), None);
        }
        // 2^128 and longer runs of continuation bytes do not fit.
        let mut too_big = vec![0xFF; 18];
        too_big.push(0x04);
        assert_eq!(get_varint(&too_big, &mut 0), None);
        assert_eq!(get_varint(&[0x80; 40], &mut 0), None);
    }

    #[test]
    fn round_trips() {
        // Mixed scales, negative numbers and zero, extreme values, dates before 1970, gaps and
        // repeated days.
        round_trip(&[
            row("1969-12-31", dec!(0), None),
            row("1970-01-01", dec!(-0.0), Some(0)),
            row("2025-03-01", dec!(-1.5), Some(0)),
            row("2025-03-01", Decimal::MAX, Some(u32::MAX)),
            row("2025-03-02", dec!(123456789.0123456789), Some(u32::MAX - 1)),
            row("2025-03-03", Decimal::MIN, None),
            Usage {
                active_users: u32::MAX,
                sessions: 0,
                ..row("2262-04-11", Decimal::new(1, 28), Some(3))
            },
        ]);
        round_trip(&[]);
        round_trip(&[
            row("0001-01-01", dec!(1), None),
            row("9999-12-31", dec!(2), None),
        ]);
        // Typical data is small: one shared scale, daily dates, small numbers.
        let days: Vec<Usage> = (1..=28)
            .map(|d| {
                row(
                    &format!("2025-02-{d:02}"),
                    Decimal::new(1234 + d, 2),
                    Some(3),
                )
            })
            .collect();
        let blob = round_trip(&days);
        assert!(blob.len() <= 3 + days.len() * 7, "{} bytes", blob.len());
    }

    #[test]
    fn chunks() {
        let a = [row("2025-01-01", dec!(1), None)];
        let b = [
            row("2025-01-02", dec!(2), Some(3)),
            row("2025-01-03", dec!(4), None),
        ];
        let mut chunk = Vec::new();
        let mut scratch = Vec::new();
        push_entry(&mut chunk, "acme", a.iter(), &mut scratch);
        push_entry(&mut chunk, "ünï \"co\"", b.iter(), &mut scratch);
        push_entry(&mut chunk, "", [].iter(), &mut scratch);
        let got: Vec<(&str, Vec<Usage>)> = entries(&chunk)
            .map(|e| {
                let (id, blob) = e.unwrap();
                let mut rows = Vec::new();
                decode(blob, 7, &mut rows).unwrap();
                (id, rows)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("acme", a.to_vec()),
                ("ünï \"co\"", b.to_vec()),
                ("", vec![])
            ]
        );
        // Every truncation but the entry boundaries is an error, and then the end.
        for len in 0..chunk.len() {
            let all: Vec<_> = entries(&chunk[..len]).collect();
            let boundary = all.iter().all(|e| e.is_ok());
            if !boundary {
                assert!(all.last().unwrap().is_err());
            }
        }
        let bad_utf8 = [1, 0xFF, 0];
        assert!(entries(&bad_utf8).next().unwrap().is_err());
        assert!(entries(&[0x85]).next().unwrap().is_err());
    }

    #[test]
    fn reads_version_1() {
        let mut blob = vec![1u8];
        for (days, minutes, features) in
            [(20_000i32, dec!(1.25), 4u32), (20_001, dec!(0), u32::MAX)]
        {
            blob.extend_from_slice(&days.to_le_bytes());
            blob.extend_from_slice(&12u32.to_le_bytes());
            blob.extend_from_slice(&40u32.to_le_bytes());
            blob.extend_from_slice(&minutes.serialize());
            blob.extend_from_slice(&features.to_le_bytes());
        }
        let mut back = Vec::new();
        assert_eq!(decode(&blob, 7, &mut back), Ok(2));
        assert_eq!(
            back,
            [
                row("2024-10-04", dec!(1.25), Some(4)),
                row("2024-10-05", dec!(0), None)
            ]
        );
        let mut bad = blob.clone();
        bad[1 + V1_ROW_BYTES..1 + V1_ROW_BYTES + 4].copy_from_slice(&0i32.to_le_bytes());
        assert!(decode(&bad, 0, &mut back).is_err());
        assert!(decode(&blob[..blob.len() - 1], 0, &mut back).is_err());
    }

    #[test]
    fn corrupt_blobs_are_errors_not_panics() {
        let rows = [
            row("2025-01-01", dec!(1.5), None),
            row("2025-01-02", dec!(2), Some(1)),
        ];
        let mut good = Vec::new();
        encode(rows.iter(), &mut good);
        let mut out = Vec::new();
        let mut bad_version = good.clone();
        bad_version[0] = 9;
        let mut bad_count = good.clone();
        bad_count[1] = 3;
        let mut bad_scale = good.clone();
        bad_scale[2] = 29;
        let mut trailing = good.clone();
        trailing.push(0);
        let mut big_count = vec![VERSION];
        put_varint(&mut big_count, u128::MAX);
        let mut unordered = Vec::new();
        encode(rows.iter().rev(), &mut unordered);
        let mut bad_date = vec![VERSION, 1, 0];
        put_varint(&mut bad_date, u128::from(u32::MAX));
        bad_date.extend_from_slice(&[1, 1, 0, 2]);
        let mut bad_count_field = vec![VERSION, 1, 0, 0];
        put_varint(&mut bad_count_field, 1 << 32);
        bad_count_field.extend_from_slice(&[1, 0, 2]);
        let mut bad_minutes = vec![VERSION, 1, 0, 0, 1, 1, 0];
        put_varint(&mut bad_minutes, 1 << 97);
        for blob in [
            &[][..],
            &bad_version,
            &bad_count,
            &bad_scale,
            &trailing,
            &big_count,
            &unordered,
            &bad_date,
            &bad_count_field,
            &bad_minutes,
        ] {
            assert!(decode(blob, 0, &mut out).is_err(), "{blob:?}");
        }
        // Every truncation fails cleanly too.
        for len in 0..good.len() {
            assert!(decode(&good[..len], 0, &mut out).is_err(), "{len}");
        }
        // Arbitrary bytes after a version byte never panic.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..2000 {
            let mut blob = vec![VERSION];
            for _ in 0..(state % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                blob.push(state as u8);
            }
            let _ = decode(&blob, 0, &mut out);
            blob[0] = VERSION_1;
            let _ = decode(&blob, 0, &mut out);
        }
    }
}
