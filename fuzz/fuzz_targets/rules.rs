//! The TOML files of a rules directory, as `cs-pulse check`, `cs-pulse test rules/` and the
//! service load them: rule files (`parse_rules`, what `load_rules` runs on each file), rule test
//! files (`parse_tests`), the health model (`HealthModels::parse`) and scorecards
//! (`parse_scorecards`). Every rejection is rendered as the user sees it. A text that is a
//! valid test file is run (`run_tests`, the rest of `cs-pulse test`) against the shipped rules,
//! or, when the input is a rule file and a test file separated by a `# === tests ===` line,
//! against the rules of its first half, so rule evaluation and the alert lifecycle are fuzzed
//! too. Nothing may panic.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use cs_pulse::diagnostics::Diagnostics;
use cs_pulse::metrics::HealthModels;
use cs_pulse::rules::load::parse_rules;
use cs_pulse::rules::model::Rule;
use cs_pulse::rules::shipped_rules;
use cs_pulse::rules::testing::{parse_tests, run_tests};
use cs_pulse::scorecard::config::parse_scorecards;
use libfuzzer_sys::fuzz_target;

/// The line that separates a rule file from its tests in one input.
const SEPARATOR: &str = "# === tests ===";

fn channels() -> Vec<String> {
    vec!["console".to_string(), "cs-alerts".to_string()]
}

fn shipped() -> &'static [Rule] {
    static SHIPPED: OnceLock<Vec<Rule>> = OnceLock::new();
    SHIPPED.get_or_init(|| shipped_rules(&channels()).unwrap_or_default())
}

/// Renders a rejection the way the CLI prints it; a rejection always says something.
fn rendered(d: &Diagnostics, file: &str) {
    assert!(!d.is_empty(), "an error without a diagnostic in {file}");
    let out = d.render();
    assert!(out.contains(file), "{out}");
    for one in d.iter() {
        let _ = d.location(one);
    }
}

fn run(text: &str, rules: &[Rule]) {
    match parse_tests(text, "rules/fuzz.test.toml") {
        Ok(tests) => {
            let report = run_tests(&[tests], rules);
            let _ = report.render();
        }
        Err(d) => rendered(&d, "rules/fuzz.test.toml"),
    }
}

fuzz_target!(|data: &[u8]| {
    // Rule files are read as UTF-8 text (`read_to_string`); other bytes never reach parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let channels = channels();
    if let Some((rules_text, tests_text)) = text.split_once(SEPARATOR) {
        match parse_rules(rules_text, Path::new("rules/fuzz.toml"), &channels) {
            Ok(rules) => run(tests_text, &rules),
            Err(d) => rendered(&d, "rules/fuzz.toml"),
        }
        return;
    }
    if let Err(d) = parse_rules(text, Path::new("rules/fuzz.toml"), &channels) {
        rendered(&d, "rules/fuzz.toml");
    }
    run(text, shipped());
    if let Err(d) = HealthModels::parse(text, Path::new("rules/health.toml")) {
        rendered(&d, "rules/health.toml");
    }
    if let Err(d) = parse_scorecards(text, Path::new("rules/scorecard.toml"), &channels) {
        rendered(&d, "rules/scorecard.toml");
    }
});
