//! The per-account index the engine computes from (stub).
use super::EngineError;
use crate::model::{Dataset, FxRates};

pub struct Index {}

impl Index {
    pub fn build(ds: &Dataset, fx: &FxRates) -> Result<Index, EngineError> {
        let _ = (ds, fx);
        Ok(Index {})
    }
}
