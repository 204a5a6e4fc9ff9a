//! The `files` source end to end: a good directory parsed exactly, a bad one whose every error
//! message is pinned, and `write_dataset` round trips.

use std::path::Path;

use chrono::NaiveDate;
use cs_pulse::model::{
    Account, AccountIx, Cost, Currency, Dataset, FxRates, Renewal, RenewalOutcome, Subscription,
    SurveyKind, SurveyResponse, Ticket, Usage, YearMonth,
};
use cs_pulse::sources::csv_format::{write_dataset, FORMATS};
use cs_pulse::sources::files::{read_dir, FilesSource, MAX_ERRORS_PER_FILE};
use cs_pulse::sources::{InputError, Source, SourceContext, SourceError};
use indicatif::ProgressBar;
use rust_decimal_macros::dec;

const GOOD: &str = "tests/fixtures/csv/good";
const BAD: &str = "tests/fixtures/csv/bad";

fn ctx() -> SourceContext {
    SourceContext {
        timezone: chrono_tz::America::New_York,
        fx: FxRates::new(Currency::USD).with_rate(Currency::EUR, dec!(1.08)),
    }
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn read(dir: impl AsRef<Path>) -> Result<Dataset, SourceError> {
    read_dir(dir.as_ref(), &ctx(), &ProgressBar::hidden())
}

fn errors(dir: impl AsRef<Path>) -> Vec<InputError> {
    match read(dir) {
        Err(SourceError::Invalid { errors, .. }) => errors,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

fn error_lines(dir: impl AsRef<Path>) -> Vec<String> {
    errors(dir).iter().map(ToString::to_string).collect()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn custom(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What `tests/fixtures/csv/good` holds, written out by hand. Timestamps are read in
/// America/New_York (UTC-5 in winter, UTC-4 in summer).
fn good_dataset() -> Dataset {
    let accounts = vec![
        Account {
            id: "acme".into(),
            name: "Acme, Inc.".into(),
            owner: Some("Dana Scully".into()),
            segment: Some("enterprise".into()),
            plan: Some("pro".into()),
            created_at: Some(d("2024-01-10")),
            renewal_date: Some(d("2025-01-10")),
            licensed_seats: Some(50),
            first_value_at: Some(d("2024-01-20")),
            trial_started_at: Some(d("2023-12-01")),
            trial_ended_at: Some(d("2023-12-31")),
            converted_at: Some(d("2024-01-05")),
            custom: custom(&[("region", "EU"), ("csm_tier", "1")]),
        },
        Account {
            id: "beta".into(),
            name: "Beta LLC".into(),
            segment: Some("smb".into()),
            plan: Some("starter".into()),
            created_at: Some(d("2024-06-01")),
            custom: custom(&[("region", "North\nAmerica")]),
            ..Account::default()
        },
        Account {
            id: "Gamma".into(),
            name: "Gamma \"G\" Co".into(),
            owner: Some("Lee".into()),
            segment: Some("mid".into()),
            licensed_seats: Some(0),
            trial_started_at: Some(d("2025-02-01")),
            trial_ended_at: Some(d("2025-02-15")),
            ..Account::default()
        },
    ];
    let (acme, beta, gamma): (AccountIx, AccountIx, AccountIx) = (0, 1, 2);
    let mut ds = Dataset::new(accounts).unwrap();
    let sub = |id: &str, account, mrr, currency, start: &str, end: Option<&str>| Subscription {
        id: id.into(),
        account,
        mrr,
        currency,
        start_date: d(start),
        end_date: end.map(d),
    };
    ds.subscriptions = vec![
        sub(
            "s1",
            acme,
            dec!(1000.50),
            Currency::USD,
            "2024-01-10",
            Some("2024-07-01"),
        ),
        sub("s2", acme, dec!(1200), Currency::EUR, "2024-07-01", None),
        sub(
            "s3",
            beta,
            dec!(99.99),
            Currency::USD,
            "2024-06-01",
            Some("2024-12-01"),
        ),
        sub("s4", gamma, dec!(0), Currency::USD, "2024-02-01", None),
    ];
    ds.usage = vec![
        Usage {
            account: acme,
            date: d("2025-03-01"),
            active_users: 12,
            sessions: 30,
            minutes: dec!(456.5),
            features_used: Some(7),
        },
        Usage {
            account: acme,
            date: d("2025-03-01"),
            active_users: 1,
            sessions: 0,
            minutes: dec!(0),
            features_used: None,
        },
        Usage {
            account: beta,
            date: d("2025-03-02"),
            active_users: 0,
            sessions: 0,
            minutes: dec!(0),
            features_used: Some(0),
        },
    ];
    let resp = |id: &str, account, kind, score, day: &str, comment: Option<&str>| SurveyResponse {
        id: id.into(),
        account,
        kind,
        score,
        submitted_at: d(day),
        comment: comment.map(str::to_string),
    };
    ds.survey_responses = vec![
        // 02:30 UTC is 21:30 the evening before in New York.
        resp(
            "r1",
            acme,
            SurveyKind::Nps,
            9,
            "2025-03-03",
            Some("Great, thanks"),
        ),
        // No offset: already New York time.
        resp("r2", beta, SurveyKind::Csat, 4, "2025-03-04", None),
        resp(
            "r3",
            gamma,
            SurveyKind::Ces,
            7,
            "2025-03-04",
            Some("Two\nlines"),
        ),
        // 23:30 at UTC-8 is 02:30 the next morning in New York.
        resp(
            "r4",
            acme,
            SurveyKind::Nps,
            0,
            "2025-03-05",
            Some("too slow"),
        ),
    ];
    ds.tickets = vec![
        Ticket {
            id: "t1".into(),
            account: acme,
            // 04:59:59 UTC is 23:59:59 in New York; 05:00 UTC is midnight.
            opened_at: d("2025-02-28"),
            resolved_at: Some(d("2025-03-01")),
            first_response_at: Some(d("2025-03-01")),
            contacts: Some(1),
        },
        Ticket {
            id: "t2".into(),
            account: beta,
            opened_at: d("2025-03-02"),
            resolved_at: None,
            first_response_at: None,
            contacts: None,
        },
        Ticket {
            id: "t3".into(),
            account: beta,
            // Summer time: 01:00 UTC is 21:00 (UTC-4) the day before.
            opened_at: d("2025-06-30"),
            resolved_at: Some(d("2025-07-02")),
            first_response_at: Some(d("2025-06-30")),
            contacts: Some(3),
        },
    ];
    ds.renewals = vec![
        Renewal {
            id: "n1".into(),
            account: acme,
            due_date: d("2025-01-10"),
            outcome: RenewalOutcome::Renewed,
            amount: Some(dec!(14406)),
        },
        Renewal {
            id: "n2".into(),
            account: beta,
            due_date: d("2025-12-01"),
            outcome: RenewalOutcome::Pending,
            amount: None,
        },
        Renewal {
            id: "n3".into(),
            account: gamma,
            due_date: d("2025-02-01"),
            outcome: RenewalOutcome::Churned,
            amount: Some(dec!(0.00)),
        },
    ];
    let month = |m| YearMonth {
        year: 2025,
        month: m,
    };
    ds.costs = vec![
        Cost {
            month: month(1),
            amount: dec!(5000),
        },
        Cost {
            month: month(1),
            amount: dec!(250.75),
        },
        Cost {
            month: month(2),
            amount: dec!(5100.10),
        },
    ];
    ds
}

#[test]
fn reads_every_file_and_column_exactly() {
    let ds = read(GOOD).unwrap();
    let want = good_dataset();
    // Field by field first, for readable failures.
    assert_eq!(ds.accounts(), want.accounts());
    assert_eq!(ds.subscriptions, want.subscriptions);
    assert_eq!(ds.usage, want.usage);
    assert_eq!(ds.survey_responses, want.survey_responses);
    assert_eq!(ds.tickets, want.tickets);
    assert_eq!(ds.renewals, want.renewals);
    assert_eq!(ds.costs, want.costs);
    assert_eq!(ds, want);
    // Decimals keep their written scale.
    assert_eq!(ds.subscriptions[0].mrr.to_string(), "1000.50");
}

#[tokio::test]
async fn fetch_reads_through_the_source_trait() {
    let src = FilesSource::new("crm-export", GOOD.into(), ctx());
    assert_eq!(src.name(), "crm-export");
    let progress = ProgressBar::hidden();
    let request = cs_pulse::sources::FetchRequest {
        now: chrono::Utc::now(),
        previous: None,
    };
    let fetched = src.fetch(&request, &progress).await.unwrap();
    assert!(fetched.full);
    assert_eq!(fetched.data, good_dataset());
    // Progress counts bytes: all of them once done.
    let total: u64 = FORMATS
        .iter()
        .map(|f| {
            std::fs::metadata(Path::new(GOOD).join(f.file_name))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(progress.length(), Some(total));
    assert_eq!(progress.position(), total);
}

#[test]
fn every_error_of_every_file_is_reported() {
    let err = read(BAD).unwrap_err();
    insta::assert_snapshot!("bad_directory", err.to_string());
}

#[test]
fn only_accounts_csv_is_required() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "accounts.csv", "id,name\na1,One\n");
    let ds = read(dir.path()).unwrap();
    assert_eq!(ds.accounts().len(), 1);
    assert_eq!(ds.record_count(), 1);

    let empty = tempfile::tempdir().unwrap();
    write(
        empty.path(),
        "usage.csv",
        "account_id,date,active_users\nnobody,2025-01-01,1\n",
    );
    // One error says accounts.csv is missing; children are not each reported as unknown.
    assert_eq!(
        error_lines(empty.path()),
        ["accounts.csv: the file is missing; accounts.csv is required (the other files are optional)"]
    );
}

#[test]
fn a_missing_directory_is_an_io_error() {
    let err = read("tests/fixtures/csv/no-such-dir").unwrap_err();
    assert!(matches!(err, SourceError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn empty_files_and_headers_only() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "accounts.csv", "id,name\n");
    write(dir.path(), "costs.csv", "");
    write(dir.path(), "tickets.csv", "id,account_id,opened_at\n");
    assert_eq!(
        error_lines(dir.path()),
        ["costs.csv:1: the file is empty; expected a header row naming the columns (month, amount)"]
    );
}

#[test]
fn crlf_line_ends_bom_and_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "accounts.csv",
        "\u{feff}id,name\r\na1,One\r\n\r\na2,Two\r\n",
    );
    write(
        dir.path(),
        "costs.csv",
        "month,amount\r\n2025-01,1\r\n\r\n2025-13,2\r\n",
    );
    // The blank line still counts: the bad month is on line 4.
    assert_eq!(
        error_lines(dir.path()),
        ["costs.csv:4: column month: \"2025-13\" is not a month (expected YYYY-MM)"]
    );
}

#[test]
fn errors_are_capped_per_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "accounts.csv", "id,name\na1,One\n");
    let mut usage = String::from("account_id,date,active_users\n");
    for _ in 0..250 {
        usage.push_str("a1,2025-01-01,-1\n");
    }
    write(dir.path(), "usage.csv", &usage);
    write(
        dir.path(),
        "costs.csv",
        "month,amount\n2025-01,-1\n2025-02,x\n",
    );
    let errs = error_lines(dir.path());
    assert_eq!(errs.len(), MAX_ERRORS_PER_FILE + 1 + 2);
    assert_eq!(
        errs[0],
        "usage.csv:2: column active_users: \"-1\" is negative; expected a whole number 0 or more"
    );
    assert_eq!(
        errs[MAX_ERRORS_PER_FILE - 1],
        "usage.csv:101: column active_users: \"-1\" is negative; expected a whole number 0 or more"
    );
    assert_eq!(
        errs[MAX_ERRORS_PER_FILE],
        "usage.csv: ... and 150 more errors in this file"
    );
    assert_eq!(
        errs[MAX_ERRORS_PER_FILE + 1..],
        [
            "costs.csv:2: column amount: \"-1\" is negative; expected an amount 0 or more",
            "costs.csv:3: column amount: \"x\" is not a decimal number",
        ]
    );
}

#[test]
fn duplicate_accounts_still_resolve_their_children() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "accounts.csv", "id,name\na1,One\na1,Again\n");
    write(
        dir.path(),
        "renewals.csv",
        "id,account_id,due_date,outcome\nn1,a1,2025-01-01,renewed\n",
    );
    assert_eq!(
        error_lines(dir.path()),
        ["accounts.csv:3: column id: duplicate id \"a1\": line 2 has it already"]
    );
}

#[test]
fn write_then_read_gives_the_same_dataset() {
    let ds = good_dataset();
    let dir = tempfile::tempdir().unwrap();
    let summary = write_dataset(dir.path(), &ds).unwrap();
    assert_eq!(summary.total_rows(), ds.record_count() as u64);
    assert_eq!(read(dir.path()).unwrap(), ds);
}

#[test]
fn write_then_read_a_larger_generated_dataset() {
    let accounts: Vec<Account> = (0..500)
        .map(|i| Account {
            id: format!("acct-{i:04}"),
            name: format!("Company {i}, \"quoted\""),
            segment: (i % 3 == 0).then(|| "smb".to_string()),
            licensed_seats: (i % 2 == 0).then_some(i),
            created_at: Some(d("2023-01-01") + chrono::Days::new(u64::from(i))),
            custom: if i % 5 == 0 {
                custom(&[("tier", "gold")])
            } else {
                custom(&[("crm_id", "x")])
            },
            ..Account::default()
        })
        .collect();
    let mut ds = Dataset::new(accounts).unwrap();
    for i in 0..500u32 {
        ds.subscriptions.push(Subscription {
            id: format!("sub-{i}"),
            account: i,
            mrr: rust_decimal::Decimal::new(i64::from(i) * 1234, 2),
            currency: if i % 4 == 0 {
                Currency::EUR
            } else {
                Currency::USD
            },
            start_date: d("2024-01-01"),
            end_date: (i % 3 == 0).then(|| d("2024-06-01")),
        });
        for day in 0..20u64 {
            ds.usage.push(Usage {
                account: i,
                date: d("2025-01-01") + chrono::Days::new(day),
                active_users: i % 7,
                sessions: i % 11,
                minutes: rust_decimal::Decimal::new(i64::from(i) * 7 + day as i64, 1),
                features_used: (day % 2 == 0).then_some(i % 9),
            });
        }
        ds.tickets.push(Ticket {
            id: format!("T{i}"),
            account: i,
            opened_at: d("2025-02-01"),
            resolved_at: (i % 2 == 0).then(|| d("2025-02-03")),
            first_response_at: None,
            contacts: (i % 2 == 0).then_some(1 + i % 3),
        });
    }
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), &ds).unwrap();
    assert_eq!(read(dir.path()).unwrap(), ds);
    // Writing again replaces the files in place.
    ds.usage.truncate(10);
    write_dataset(dir.path(), &ds).unwrap();
    assert_eq!(read(dir.path()).unwrap().usage.len(), 10);
}

#[test]
fn header_problems_are_reported_at_line_one() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "accounts.csv",
        "id,name,,region,Name\na1,One,,EU,x\n",
    );
    std::fs::write(
        dir.path().join("costs.csv"),
        b"month,amount,\xffnote\n2025-01,1,x\n",
    )
    .unwrap();
    write(dir.path(), "usage.csv", "\n\naccount_id,day,active_users\n");
    assert_eq!(
        error_lines(dir.path()),
        [
            "accounts.csv:1: header field 3 is empty; every column needs a name",
            // Leading blank lines are skipped and counted.
            "usage.csv:3: column day: unknown column; the columns of usage.csv are: \
             account_id, date, active_users, sessions, minutes, features_used",
            "usage.csv:3: column date: required column is missing from the header",
            "costs.csv:1: header field 3 is not valid UTF-8 text (\"\u{fffd}note\"); save the file as UTF-8",
        ]
    );
}
