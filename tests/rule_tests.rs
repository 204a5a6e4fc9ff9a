//! Rule tests (`rules/*.test.toml`): the runner passes correct tests, renders failures as a
//! readable timeline (pinned by snapshot), and reports every problem of malformed test files at
//! once (pinned by snapshot).
//!
//! The rules are written by hand here, so these tests depend only on the rule model, evaluation
//! and the alert lifecycle.

use std::path::{Path, PathBuf};

use chrono::Duration;
use cs_pulse::model::PeriodKind;
use cs_pulse::rules::testing::{load_tests, parse_tests, run_tests, TestReport};
use cs_pulse::rules::{
    AccountFilter, Combine, Condition, Direction, Rule, RuleScope, Severity, Test, Window,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const FIXTURES: &str = "tests/fixtures/rule_tests";

fn below(metric: &str, threshold: Decimal, resolve: Option<Decimal>, window: Window) -> Condition {
    Condition {
        test: Test::Threshold {
            metric: metric.parse().unwrap(),
            direction: Direction::Below,
            threshold,
            resolve,
        },
        window,
    }
}

fn rule(id: &str, scope: RuleScope, conditions: Vec<Condition>) -> Rule {
    Rule {
        id: id.to_string(),
        name: id.to_string(),
        description: None,
        scope,
        severity: Severity::Warning,
        route: vec!["cs".to_string()],
        combine: Combine::All,
        conditions,
        filter: AccountFilter::default(),
        for_: Duration::zero(),
        repeat: None,
        message: "{{ account.name }}".to_string(),
        resolved_message: None,
        file: format!("rules/{id}.toml"),
    }
}

/// The rules the fixtures test.
fn rules() -> Vec<Rule> {
    // Health below 40 for two days; resolves only above 45.
    let mut health_red = rule(
        "health-red",
        RuleScope::Account,
        vec![below(
            "health",
            dec!(40),
            Some(dec!(45)),
            Window::ToDate(PeriodKind::Range),
        )],
    );
    health_red.for_ = Duration::days(2);

    // Enterprise accounts of at least 1000 MRR whose active users fell 30% week over week.
    let mut usage_drop = rule(
        "usage-drop",
        RuleScope::Account,
        vec![below(
            "dau.change_pct",
            dec!(-0.3),
            None,
            Window::Trailing(7),
        )],
    );
    usage_drop.repeat = Some(Duration::days(2));
    usage_drop.filter = AccountFilter {
        segments: vec!["Enterprise".to_string()],
        min_mrr: Some(dec!(1000)),
        ..AccountFilter::default()
    };

    // Renewal within 60 days and health not green.
    let renewal_risk = rule(
        "renewal-risk",
        RuleScope::Account,
        vec![
            below(
                "days_to_renewal",
                dec!(60),
                None,
                Window::ToDate(PeriodKind::Range),
            ),
            Condition {
                test: Test::Band {
                    bands: vec!["red".to_string(), "yellow".to_string()],
                },
                window: Window::Trailing(30),
            },
        ],
    );

    // Portfolio NRR below 100% this quarter.
    let nrr_low = rule(
        "nrr-low",
        RuleScope::Portfolio,
        vec![below(
            "nrr",
            dec!(1),
            None,
            Window::ToDate(PeriodKind::Quarter),
        )],
    );
    vec![health_red, usage_drop, renewal_risk, nrr_low]
}

fn run(dir: &str) -> TestReport {
    let files = load_tests(&[Path::new(FIXTURES).join(dir)]).unwrap_or_else(|d| panic!("{d}"));
    run_tests(&files, &rules())
}

#[test]
fn correct_tests_pass() {
    let report = run("passing");
    let out = report.render();
    assert_eq!(report.failed(), 0, "{out}");
    assert_eq!(report.results.len(), 8, "{out}");
    assert!(out.ends_with("\n8 passed, 0 failed"), "{out}");
    assert!(
        out.starts_with("ok   health-red: fires after two days below 40, resolves only above 45\n"),
        "{out}"
    );
}

#[test]
fn directories_hold_only_test_files_in_name_order() {
    let files = load_tests(&[PathBuf::from(FIXTURES).join("passing")]).unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        names,
        [
            "tests/fixtures/rule_tests/passing/health.test.toml",
            "tests/fixtures/rule_tests/passing/usage.test.toml"
        ]
    );
    // An evaluation time or date resolves to its index; the default count covers the series.
    let usage = &files[1].tests[1];
    assert_eq!(usage.start.to_rfc3339(), "2025-03-03T09:00:00+00:00");
    assert_eq!(usage.evaluations, 3);
    assert_eq!(usage.expectations.last().unwrap().at, 2);
}

#[test]
fn failures_show_the_timeline() {
    let report = run("failing");
    assert_eq!(report.failed(), 3);
    let out = report.to_string();
    assert!(out.ends_with("\n1 passed, 3 failed"), "{out}");
    insta::assert_snapshot!("failing_report", out);
}

#[test]
fn malformed_files_report_every_problem() {
    let err = load_tests(&[PathBuf::from(FIXTURES).join("malformed")]).unwrap_err();
    insta::assert_snapshot!("malformed_diagnostics", err.to_string());
}

#[test]
fn a_file_without_tests_is_an_error() {
    let err = parse_tests("# nothing yet\n", "rules/empty.test.toml").unwrap_err();
    assert_eq!(err.iter().next().unwrap().message, "no test in this file");
}

#[test]
fn unknown_rules_are_failures_with_a_suggestion() {
    let file = parse_tests(
        "[[test]]\nname = \"n\"\nrule = \"usage-dorp\"\n[test.series.acme]\ndau = [1]\n[[test.expect]]\nat = 0\nacme = \"inactive\"\n",
        "t.test.toml",
    )
    .unwrap();
    let report = run_tests(&[file], &rules());
    assert_eq!(report.failed(), 1);
    let out = report.render();
    assert!(out.contains("unknown rule `usage-dorp`"), "{out}");
    assert!(out.contains("did you mean `usage-drop`?"), "{out}");
    assert!(out.contains("--> t.test.toml:3:8"), "{out}");
}
