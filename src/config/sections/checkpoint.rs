//! `[checkpoint]`: crash-safe restart files.

use std::path::PathBuf;

use crate::config::rules::{config_section, count, dir, name, non_negative};
use crate::names::named_enum;

named_enum! {
    /// `checkpoint.on_usr1`: what SIGUSR1 does after its checkpoint.
    pub enum Usr1Action {
        /// Keep running.
        Continue = "continue",
        /// Stop with exit code 75 ("requeue me").
        Stop = "stop",
    }
}

config_section! {
    /// `[checkpoint]`: crash-safe restart files.
    pub struct CheckpointConfig {
        /// Steps between checkpoints, `0` = none by step count.
        pub every_steps: u64 = count(0, 0),
        /// Wall-clock seconds between checkpoints, `0` = none by wall clock.
        pub every_seconds: f64 = non_negative(0.0),
        /// Number of newest checkpoints kept, `>= 1`.
        pub keep: u64 = count(1, 3),
        /// Checkpoint directory; a relative path is relative to the output directory.
        #[serde(serialize_with = "crate::config::rules::path_text")]
        pub dir: PathBuf = dir("checkpoints"),
        /// What SIGUSR1 does after writing its checkpoint.
        pub on_usr1: Usr1Action = name(Usr1Action::Continue),
    }
}
