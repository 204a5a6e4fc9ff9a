//! The answers, one function per command, grouped by what they read: [`lookup`] the data and
//! metrics, [`alerts`] the alert state, [`help`] the command list, [`complete`] autocomplete.

pub mod alerts;
pub mod complete;
pub mod help;
pub mod lookup;
