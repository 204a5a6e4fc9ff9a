//! The health model of METRICS.md "Health score": interpolation, clamping, renormalised weights,
//! null scores, bands, per-segment models and explanations, with hand-computed expectations; and
//! the model files: the shipped one validates, broken ones get every error at once (snapshots).

use std::collections::HashMap;
use std::path::Path;

use cs_pulse::diagnostics::LoadError;
use cs_pulse::metrics::health::{interpolate, HealthModel, HealthModels, DEFAULT_HEALTH_MODEL};
use cs_pulse::metrics::MetricRef;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn parse(src: &str) -> HealthModels {
    HealthModels::parse(src, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn r(name: &str) -> MetricRef {
    name.parse().unwrap()
}

/// Evaluates `model` with these values (every other metric has none).
fn eval(model: &HealthModel, values: &[(&str, Decimal)]) -> cs_pulse::metrics::HealthResult {
    let map: HashMap<MetricRef, Decimal> = values.iter().map(|(n, v)| (r(n), *v)).collect();
    model.evaluate(|m| map.get(m).copied())
}

const TWO_MEASURES: &str = r#"
[[model]]
name = "default"
bands = [{ name = "red", below = 40 }, { name = "yellow", below = 70 }, { name = "green" }]

[[model.measure]]
metric = "seat_utilization"
weight = 3
points = [[0.2, 0], [0.5, 60], [0.8, 100]]

[[model.measure]]
metric = "nps"
points = [[-100, 0], [100, 100]]

[[model]]
name = "enterprise"
segments = ["Enterprise", "Strategic"]
bands = [{ name = "red", below = 50 }, { name = "green" }]

[[model.measure]]
metric = "ces"
weight = 2
points = [[2, 100], [5, 0]]
"#;

#[test]
fn interpolates_between_points() {
    let p = [
        (dec!(0.2), dec!(0)),
        (dec!(0.5), dec!(60)),
        (dec!(0.8), dec!(100)),
    ];
    // 0.35 is halfway from 0.2 to 0.5: 0 + (0.35 - 0.2) × (60 - 0) / (0.5 - 0.2) = 30.
    assert_eq!(interpolate(&p, dec!(0.35)), dec!(30));
    // 0.65 is halfway from 0.5 to 0.8: 60 + 0.15 × 40 / 0.3 = 80.
    assert_eq!(interpolate(&p, dec!(0.65)), dec!(80));
    // On a point: its score.
    assert_eq!(interpolate(&p, dec!(0.5)), dec!(60));
    // 0.3: 0.1 × 60 / 0.3 = 20.
    assert_eq!(interpolate(&p, dec!(0.3)), dec!(20));
}

#[test]
fn clamps_at_the_ends() {
    let p = [(dec!(0.2), dec!(0)), (dec!(0.8), dec!(100))];
    assert_eq!(interpolate(&p, dec!(0.05)), dec!(0));
    assert_eq!(interpolate(&p, dec!(-7)), dec!(0));
    assert_eq!(interpolate(&p, dec!(0.2)), dec!(0));
    assert_eq!(interpolate(&p, dec!(0.8)), dec!(100));
    assert_eq!(interpolate(&p, dec!(2.5)), dec!(100));
    // Ends that are not 0 and 100 clamp to their own scores.
    let q = [(dec!(10), dec!(20)), (dec!(20), dec!(90))];
    assert_eq!(interpolate(&q, dec!(0)), dec!(20));
    assert_eq!(interpolate(&q, dec!(99)), dec!(90));
}

#[test]
fn decreasing_points_score_lower_is_better() {
    // ces: 2 → 100, 5 → 0.
    let p = [(dec!(2), dec!(100)), (dec!(5), dec!(0))];
    // 3.5: 100 + (3.5 - 2) × (0 - 100) / (5 - 2) = 100 - 50 = 50.
    assert_eq!(interpolate(&p, dec!(3.5)), dec!(50));
    // 2.6: 100 - 0.6 × 100 / 3 = 80.
    assert_eq!(interpolate(&p, dec!(2.6)), dec!(80));
    assert_eq!(interpolate(&p, dec!(1)), dec!(100));
    assert_eq!(interpolate(&p, dec!(7)), dec!(0));
}

#[test]
fn weighted_mean_of_every_measure() {
    let models = parse(TWO_MEASURES);
    let m = models.for_segment(None).unwrap();
    // seat_utilization 0.35 → 30 (weight 3); nps 50 → (50 + 100) × 100 / 200 = 75 (weight 1).
    // (3 × 30 + 1 × 75) / 4 = 165 / 4 = 41.25 → yellow.
    let h = eval(m, &[("seat_utilization", dec!(0.35)), ("nps", dec!(50))]);
    assert_eq!(h.model, "default");
    assert_eq!(h.score, Some(dec!(41.25)));
    assert_eq!(h.band.as_deref(), Some("yellow"));
    assert_eq!(h.measures[0].score, Some(dec!(30)));
    assert_eq!(h.measures[0].effective_weight, dec!(0.75));
    assert_eq!(h.measures[1].score, Some(dec!(75)));
    assert_eq!(h.measures[1].effective_weight, dec!(0.25));
}

#[test]
fn weights_are_renormalised_over_measures_with_a_value() {
    let models = parse(TWO_MEASURES);
    let m = models.for_segment(None).unwrap();
    // No nps answers: the score is seat_utilization's alone, 30, not (3 × 30 + 0) / 4 = 22.5.
    let h = eval(m, &[("seat_utilization", dec!(0.35))]);
    assert_eq!(h.score, Some(dec!(30)));
    assert_eq!(h.band.as_deref(), Some("red"));
    assert_eq!(h.measures[0].effective_weight, dec!(1));
    assert_eq!(h.measures[1].value, None);
    assert_eq!(h.measures[1].score, None);
    assert_eq!(h.measures[1].weight, dec!(1));
    assert_eq!(h.measures[1].effective_weight, dec!(0));
    // Only nps: 75.
    let h = eval(m, &[("nps", dec!(50))]);
    assert_eq!(h.score, Some(dec!(75)));
    assert_eq!(h.band.as_deref(), Some("green"));
}

#[test]
fn no_value_at_all_is_null_never_zero() {
    let models = parse(TWO_MEASURES);
    let h = eval(models.for_segment(None).unwrap(), &[]);
    assert_eq!(h.score, None);
    assert_eq!(h.band, None);
    assert_eq!(h.measures.len(), 2);
    assert!(h.measures.iter().all(|m| m.effective_weight.is_zero()));
}

#[test]
fn band_boundaries_belong_to_the_higher_band() {
    let models = parse(TWO_MEASURES);
    let m = models.for_segment(None).unwrap();
    let band = |s: Decimal| m.band(s).map(|b| b.name.as_str());
    assert_eq!(band(dec!(0)), Some("red"));
    assert_eq!(band(dec!(39.999)), Some("red"));
    assert_eq!(band(dec!(40)), Some("yellow"));
    assert_eq!(band(dec!(69.99)), Some("yellow"));
    assert_eq!(band(dec!(70)), Some("green"));
    assert_eq!(band(dec!(100)), Some("green"));
    // Through evaluate: nps 0 → 50 × 100 / 200... (0 + 100) × 100 / 200 = 50; seat 0.2 → 0.
    // (3 × 0 + 50) / 4 = 12.5 → red. Seat 0.4 → 0.2 × 60 / 0.3 = 40 alone → exactly 40: yellow.
    let h = eval(m, &[("seat_utilization", dec!(0.4))]);
    assert_eq!(h.score, Some(dec!(40)));
    assert_eq!(h.band.as_deref(), Some("yellow"));
}

#[test]
fn each_segment_gets_its_model() {
    let models = parse(TWO_MEASURES);
    assert_eq!(
        models.for_segment(Some("Enterprise")).unwrap().name,
        "enterprise"
    );
    assert_eq!(
        models.for_segment(Some("Strategic")).unwrap().name,
        "enterprise"
    );
    assert_eq!(models.for_segment(Some("SMB")).unwrap().name, "default");
    assert_eq!(models.for_segment(None).unwrap().name, "default");
    // Segments are exact names.
    assert_eq!(
        models.for_segment(Some("enterprise")).unwrap().name,
        "default"
    );
    let m = models.for_segment(Some("Enterprise")).unwrap();
    // ces 2.6 → 80, the only measure.
    let h = eval(m, &[("ces", dec!(2.6)), ("nps", dec!(100))]);
    assert_eq!(h.model, "enterprise");
    assert_eq!(h.score, Some(dec!(80)));
    assert_eq!(h.band.as_deref(), Some("green"));
}

#[test]
fn a_health_value_explains_itself() {
    let models = parse(TWO_MEASURES);
    let h = eval(
        models.for_segment(Some("Mid-Market")).unwrap(),
        &[("seat_utilization", dec!(0.65))],
    );
    let seat = &h.measures[0];
    assert_eq!(seat.metric, r("seat_utilization"));
    assert_eq!(seat.value, Some(dec!(0.65)));
    assert_eq!(seat.score, Some(dec!(80)));
    assert_eq!(seat.weight, dec!(3));
    assert_eq!(seat.effective_weight, dec!(1));
    assert_eq!(
        seat.points,
        vec![
            (dec!(0.2), dec!(0)),
            (dec!(0.5), dec!(60)),
            (dec!(0.8), dec!(100))
        ]
    );
    let nps = &h.measures[1];
    assert_eq!(nps.metric, r("nps"));
    assert_eq!((nps.value, nps.score), (None, None));
    assert_eq!(
        nps.points,
        vec![(dec!(-100), dec!(0)), (dec!(100), dec!(100))]
    );
}

#[test]
fn change_variants_and_default_weight() {
    let models = parse(
        r#"
[[model]]
name = "trend"
bands = [{ name = "bad", below = 50 }, { name = "good" }]
[[model.measure]]
metric = "mrr.change_pct"
points = [[-0.2, 0], [0, 70], [0.1, 100]]
"#,
    );
    let m = models.for_segment(None).unwrap();
    assert_eq!(m.measures[0].metric, r("mrr.change_pct"));
    assert_eq!(m.measures[0].weight, dec!(1));
    // -0.1: 0 + 0.1 × 70 / 0.2 = 35.
    let h = eval(m, &[("mrr.change_pct", dec!(-0.1))]);
    assert_eq!(h.score, Some(dec!(35)));
    assert_eq!(h.band.as_deref(), Some("bad"));
}

#[test]
fn the_shipped_model_file_is_valid() {
    let on_disk = std::fs::read_to_string("rules/health.toml").unwrap();
    assert_eq!(on_disk, DEFAULT_HEALTH_MODEL);
    let models = HealthModels::load(Path::new("rules/health.toml")).unwrap();
    assert_eq!(models, HealthModels::builtin());
    assert_eq!(models.for_segment(None).unwrap().name, "default");
    assert_eq!(models.for_segment(Some("SMB")).unwrap().name, "default");
    assert_eq!(
        models.for_segment(Some("Mid-Market")).unwrap().name,
        "default"
    );
    assert_eq!(
        models.for_segment(Some("Enterprise")).unwrap().name,
        "enterprise"
    );
    // A healthy account is green, a struggling one red, under the default model.
    let m = models.for_segment(None).unwrap();
    let good = eval(
        m,
        &[
            ("seat_utilization", dec!(0.85)),
            ("dau.change_pct", dec!(0.05)),
            ("mrr.change_pct", dec!(0)),
            ("nps", dec!(60)),
            ("csat", dec!(95)),
            ("first_contact_resolution", dec!(85)),
        ],
    );
    assert_eq!(good.band.as_deref(), Some("green"), "{good:?}");
    let bad = eval(
        m,
        &[
            ("seat_utilization", dec!(0.15)),
            ("dau.change_pct", dec!(-0.4)),
            ("nps", dec!(-40)),
        ],
    );
    assert_eq!(bad.band.as_deref(), Some("red"), "{bad:?}");
}

fn errors(name: &str) -> String {
    let path = Path::new("tests/fixtures/health").join(name);
    match HealthModels::load(&path) {
        Ok(m) => panic!("{name} should not validate: {m:?}"),
        Err(LoadError::Invalid(d)) => d.to_string(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn every_error_kind_at_once() {
    insta::assert_snapshot!(errors("broken.toml"));
}

#[test]
fn a_file_needs_a_default_model() {
    insta::assert_snapshot!(errors("no_default.toml"));
}

#[test]
fn a_file_needs_a_model() {
    insta::assert_snapshot!(errors("empty.toml"));
}

#[test]
fn unknown_keys_suggest_the_closest() {
    insta::assert_snapshot!(errors("unknown_key.toml"));
}

#[test]
fn a_missing_file_is_a_read_error() {
    let e = HealthModels::load(Path::new("tests/fixtures/health/nope.toml")).unwrap_err();
    assert!(matches!(e, LoadError::Read { .. }));
    assert!(e
        .to_string()
        .starts_with("cannot read tests/fixtures/health/nope.toml: "));
}

#[test]
fn never_panics_on_truncated_or_mangled_files() {
    let broken = std::fs::read_to_string("tests/fixtures/health/broken.toml").unwrap();
    for src in [DEFAULT_HEALTH_MODEL, broken.as_str()] {
        // Every 7th cut keeps this fast in debug builds while hitting every kind of line.
        for i in (0..=src.len())
            .step_by(7)
            .filter(|i| src.is_char_boundary(*i))
        {
            let mangled = format!("{}]{}", &src[..i], &src[i..]);
            for text in [&src[..i], mangled.as_str()] {
                if let Err(d) = HealthModels::parse(text, Path::new("h.toml")) {
                    assert!(!d.to_string().is_empty());
                }
            }
        }
    }
}
