//! One file per config section: its struct, its keys (type, default, range, meaning), its reader
//! and the tests of its ranges. Rules between sections are in `config/validate.rs`.

mod checkpoint;
mod decomposition;
mod filter;
mod grid;
mod initial;
mod model;
mod output;
mod particles;
mod reverse;
mod study;
mod time;

pub use checkpoint::{CheckpointConfig, Usr1Action};
pub use decomposition::DecompositionConfig;
pub use filter::{FilterConfig, DEFAULT_FILTER_VARIANTS};
pub use grid::GridConfig;
pub(super) use initial::check_dims as check_initial_dims;
pub use initial::{ComponentConfig, InitialConfig};
pub use model::{MassSpec, ModelConfig};
pub use output::OutputConfig;
pub use particles::ParticlesConfig;
pub use reverse::ReverseConfig;
pub use study::StudyConfig;
pub use time::TimeConfig;

use super::schema::Key;

/// A section's name and the function that lists its keys.
pub(super) type SectionKeys = (&'static str, fn() -> Vec<Key>);

/// Every section with its key table, in the order they are written.
pub(super) const SECTION_KEYS: [SectionKeys; 11] = [
    ("grid", GridConfig::keys),
    ("model", ModelConfig::keys),
    ("initial", InitialConfig::keys),
    ("time", TimeConfig::keys),
    ("decomposition", DecompositionConfig::keys),
    ("output", OutputConfig::keys),
    ("checkpoint", CheckpointConfig::keys),
    ("reverse", ReverseConfig::keys),
    ("study", StudyConfig::keys),
    ("particles", ParticlesConfig::keys),
    ("filter", FilterConfig::keys),
];

/// The sections of a config file, in the order they are written.
pub const SECTIONS: [&str; SECTION_KEYS.len()] = {
    let mut names = [""; SECTION_KEYS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = SECTION_KEYS[i].0;
        i += 1;
    }
    names
};
