//! The demo data set of the scorecard tests (and tests/cli.rs): 120 accounts, seed 3, as of
//! 2025-06-18, and an engine over it with the demo's FX rates and the built-in health models.

use cs_pulse::metrics::{Engine, HealthModels, MetricsConfig};
use cs_pulse::model::Dataset;
use cs_pulse::sources::demo::{demo_fx, generate, DemoParams, FEATURES_AVAILABLE};

use super::d;

pub fn demo() -> &'static Dataset {
    static DATA: std::sync::OnceLock<Dataset> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        generate(&DemoParams {
            accounts: 120,
            seed: 3,
            ..DemoParams::new(d("2025-06-18"))
        })
    })
}

pub fn demo_engine() -> Engine<'static> {
    let cfg = MetricsConfig {
        fx: demo_fx(),
        features_available: Some(FEATURES_AVAILABLE),
        ..MetricsConfig::default()
    };
    Engine::new(demo(), cfg)
        .expect("engine")
        .with_health(HealthModels::builtin())
}
