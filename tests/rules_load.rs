//! Loading rule files: a good file becomes exactly the expected rules, directories skip rule
//! tests and the health model, and broken files get every error of every file at once, pinned by
//! a snapshot (DESIGN.md, habits 2 and 8).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Duration;
use cs_pulse::metrics::MetricRef;
use cs_pulse::model::PeriodKind;
use cs_pulse::rules::load::{load_rules, parse_rules, rule_files};
use cs_pulse::rules::{
    AccountFilter, Combine, Condition, Direction, Rule, RuleScope, Severity, Test, Window,
};
use rust_decimal_macros::dec;

fn channels() -> Vec<String> {
    ["console", "cs-team", "cs-leads"]
        .map(String::from)
        .to_vec()
}

fn metric(name: &str) -> MetricRef {
    name.parse().unwrap()
}

#[test]
fn a_good_file_gives_exactly_the_expected_rules() {
    let path = Path::new("tests/fixtures/rules/good/account.toml");
    let src = std::fs::read_to_string(path).unwrap();
    let rules = parse_rules(&src, path, &channels()).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(rules.len(), 2);
    let file = "tests/fixtures/rules/good/account.toml".to_string();
    assert_eq!(
        rules[0],
        Rule {
            id: "health-red".into(),
            name: "Health is red".into(),
            description: Some("Enterprise health below 40, resolves above 45.".into()),
            scope: RuleScope::Account,
            severity: Severity::Critical,
            route: vec!["cs-team".into(), "console".into()],
            combine: Combine::Any,
            conditions: vec![
                Condition {
                    test: Test::Threshold {
                        metric: metric("health"),
                        direction: Direction::Below,
                        threshold: dec!(40),
                        resolve: Some(dec!(45)),
                    },
                    window: Window::Trailing(30),
                },
                Condition {
                    test: Test::Threshold {
                        metric: metric("dau.change_pct"),
                        direction: Direction::Below,
                        threshold: dec!(-0.3),
                        resolve: None,
                    },
                    window: Window::ToDate(PeriodKind::Week),
                },
                Condition {
                    test: Test::Band {
                        bands: vec!["red".into(), "yellow".into()],
                    },
                    window: Window::Trailing(30),
                },
            ],
            filter: AccountFilter {
                segments: vec!["Enterprise".into()],
                owners: vec!["Priya Raman".into(), "Tom Okafor".into()],
                plans: vec!["Pro".into()],
                custom: BTreeMap::from([
                    ("region".to_string(), "EMEA".to_string()),
                    ("tier".to_string(), "1".to_string()),
                ]),
                min_mrr: Some(dec!(1000.50)),
            },
            for_: Duration::days(2),
            repeat: Some(Duration::weeks(1)),
            message: "{{ account.name }}: health {{ values.health }} (below {{ threshold }})"
                .into(),
            resolved_message: Some("{{ account.name }} is back to {{ values.health }}.".into()),
            file: file.clone(),
        }
    );
    // Every default.
    assert_eq!(
        rules[1],
        Rule {
            id: "seat_utilization_high".into(),
            name: "Expansion opportunity".into(),
            description: None,
            scope: RuleScope::Account,
            severity: Severity::Warning,
            route: vec!["console".into()],
            combine: Combine::All,
            conditions: vec![Condition {
                test: Test::Threshold {
                    metric: metric("seat_utilization"),
                    direction: Direction::Above,
                    threshold: dec!(0.9),
                    resolve: Some(dec!(0.85)),
                },
                window: Window::Trailing(30),
            }],
            filter: AccountFilter::default(),
            for_: Duration::zero(),
            repeat: None,
            message: "{{ account.name }} uses {{ values.seat_utilization }} of its seats".into(),
            resolved_message: None,
            file,
        }
    );
}

#[test]
fn a_directory_loads_its_rule_files_in_name_order_skipping_tests_and_the_health_model() {
    let dir = PathBuf::from("tests/fixtures/rules/good");
    let (files, diags) = rule_files(std::slice::from_ref(&dir));
    assert!(diags.is_empty(), "{diags}");
    assert_eq!(
        files,
        vec![dir.join("account.toml"), dir.join("portfolio.toml")]
    );
    // The file named as well as its directory is read once.
    let rules = load_rules(&[dir.clone(), dir.join("portfolio.toml")], &channels())
        .unwrap_or_else(|d| panic!("{d}"));
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["health-red", "seat_utilization_high", "nrr-below-100"]
    );
    let nrr = &rules[2];
    assert_eq!(nrr.scope, RuleScope::Portfolio);
    assert_eq!(nrr.severity, Severity::Info);
    assert_eq!(
        nrr.conditions[0].window,
        Window::ToDate(PeriodKind::Quarter)
    );
    assert_eq!(nrr.filter.segments, ["SMB"]);
    assert_eq!(nrr.file, "tests/fixtures/rules/good/portfolio.toml");
}

#[test]
fn every_error_of_every_file_at_once() {
    let paths = [
        PathBuf::from("tests/fixtures/rules/broken"),
        PathBuf::from("tests/fixtures/rules/missing.toml"),
    ];
    let d = load_rules(&paths, &channels()).unwrap_err();
    let out = d.to_string();
    // The I/O error's text comes from the OS: pin everything else.
    let out = out.replace("No such file or directory (os error 2)", "<not found>");
    insta::assert_snapshot!(out);
}

#[test]
fn a_rule_id_is_unique_within_a_file_too() {
    let src = "[[rule]]\nid = \"a\"\nname = \"A\"\nroute = [\"console\"]\nmessage = \"x\"\n[[rule.condition]]\nmetric = \"health\"\nbelow = 40\n";
    let twice = format!("{src}{src}");
    let d = parse_rules(&twice, Path::new("r.toml"), &channels()).unwrap_err();
    assert_eq!(d.len(), 1, "{d}");
    let e = d.iter().next().unwrap();
    assert_eq!(e.message, "rule id `a` is already used");
    assert_eq!(d.location(e), "r.toml:10:6");
    assert!(e
        .hint
        .as_deref()
        .unwrap()
        .starts_with("first defined at r.toml:2:6"));
}

#[test]
fn a_route_needs_a_configured_channel() {
    let src = "[[rule]]\nid = \"a\"\nname = \"A\"\nroute = [\"slack\"]\nmessage = \"x\"\n[[rule.condition]]\nmetric = \"health\"\nbelow = 40\n";
    let d = parse_rules(src, Path::new("r.toml"), &["console".to_string()]).unwrap_err();
    let e = d.iter().next().unwrap();
    assert_eq!(e.message, "unknown channel `slack`");
    assert_eq!(
        e.hint.as_deref(),
        Some("the configured channels are `console`; or add `[channels.slack]` to the config")
    );
}

#[test]
fn an_empty_file_has_no_rules() {
    let rules = parse_rules("# nothing yet\n", Path::new("r.toml"), &channels()).unwrap();
    assert!(rules.is_empty());
}

#[test]
fn never_panics_on_truncated_files() {
    let src = std::fs::read_to_string("tests/fixtures/rules/broken/c_rules.toml").unwrap();
    let good = std::fs::read_to_string("tests/fixtures/rules/good/account.toml").unwrap();
    for text in [&src, &good] {
        for end in (0..text.len()).filter(|i| text.is_char_boundary(*i)) {
            if let Err(d) = parse_rules(&text[..end], Path::new("t.toml"), &channels()) {
                let _ = d.to_string();
            }
        }
    }
}

#[test]
fn every_rule_example_in_the_docs_is_valid() {
    let doc = std::fs::read_to_string("docs/rules.md").unwrap();
    let blocks: Vec<&str> = doc
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.starts_with("[[rule]]"))
        .collect();
    assert_eq!(blocks.len(), 8, "the format and seven examples");
    let channels = ["console", "cs-team"].map(String::from);
    for b in blocks {
        if let Err(d) = parse_rules(b, Path::new("docs/rules.md"), &channels) {
            panic!("{d}\n\nin\n{b}");
        }
    }
}
