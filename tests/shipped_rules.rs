//! The rules shipped in rules/ load, pass their tests, and every one of them has tests
//! (DESIGN.md habit 3: rules ship with their own tests).

use std::path::PathBuf;

use cs_pulse::config::Config;
use cs_pulse::rules::load::load_rules;
use cs_pulse::rules::testing::{load_tests, run_tests};

#[test]
fn shipped_rules_pass_their_tests() {
    let dir = vec![PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"))];
    let channels: Vec<String> = Config::default()
        .channels
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let rules = load_rules(&dir, &channels).unwrap_or_else(|d| panic!("{d}"));
    assert!(rules.len() >= 10, "{} rules", rules.len());
    let tests = load_tests(&dir).unwrap_or_else(|d| panic!("{d}"));
    let report = run_tests(&tests, &rules);
    assert_eq!(report.failed(), 0, "{}", report.render());
    let text = report.render();
    for rule in &rules {
        assert!(
            text.contains(&format!("{}:", rule.id)),
            "rule {} has no test:\n{text}",
            rule.id
        );
    }
}
