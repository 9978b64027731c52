//! `[decomposition]`: the process grid.

use crate::config::read::Sec;
use crate::config::rules::{config_section, custom};
use crate::config::schema::Ty;
use crate::config::ConfigError;

config_section! {
    /// `[decomposition]`: the process grid.
    pub struct DecompositionConfig {
        /// Ranks per axis (`dim` entries, each `>= 1`), or `None` for an automatic balanced
        /// choice. The rank count is checked by `Config::validate_for_ranks`.
        pub procs: Option<Vec<usize>> = custom(Ty::IntArray, read_procs),
    }
}

/// `decomposition.procs`: entries `>= 1` (their number is checked against `grid.dim` in
/// `config/validate.rs`).
fn read_procs(d: &Sec, key: &str) -> Result<Option<Vec<usize>>, ConfigError> {
    let Some(procs) = d.ints(key)? else {
        return Ok(None);
    };
    if let Some(bad) = procs.iter().find(|&&p| p < 1) {
        return Err(d.err(key, format!("entries must be >= 1, got {bad}")));
    }
    Ok(Some(procs.into_iter().map(|p| p as usize).collect()))
}
