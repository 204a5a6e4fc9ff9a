//! Alerts: what rules turn into over time. The lifecycle is a pure state machine with time
//! passed in ([`lifecycle`]); states, silences and acknowledgements are persisted in the store
//! so that a restart neither re-fires, nor forgets, nor misses a resolution.

pub mod backtest;
pub mod data_quality;
pub mod engine;
pub mod lifecycle;
pub mod message;
pub mod run;
pub mod silence;

pub use engine::{advance, Advance, AlertKey};
pub use lifecycle::{acknowledge, step, Ack, AlertState, Event, Phase, Signal, Timing};
pub use silence::{is_muted, Silence};
