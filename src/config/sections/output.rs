//! `[output]`: where and how often to write.

use std::path::PathBuf;

use crate::config::rules::{config_section, count, dir, name, non_negative, positive};
use crate::io::hdf5::IoMode;

config_section! {
    /// `[output]`: where and how often to write.
    pub struct OutputConfig {
        /// Output directory (as written; relative paths are relative to the working directory).
        #[serde(serialize_with = "crate::config::rules::path_text")]
        pub dir: PathBuf = dir("out"),
        /// Steps between two rows of diagnostics, `>= 1`.
        pub diagnostics_every: u64 = count(1, 10),
        /// Wall-clock seconds between two progress lines, `> 0`.
        pub progress_every: f64 = positive(5.0),
        /// Steps between two HDF5 snapshots, `0` = none by step count.
        pub snapshot_every: u64 = count(0, 0),
        /// Simulated time between two HDF5 snapshots, `0` = none by time.
        pub snapshot_dt: f64 = non_negative(0.0),
        /// How HDF5 data is written: collective or independent MPI-IO.
        pub io: IoMode = name(IoMode::Collective),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;

    #[test]
    fn output_ranges() {
        let e = set_err("output.diagnostics_every=0");
        assert_err(&e, "output.diagnostics_every", &[">= 1, got 0"]);
        assert_err(
            &set_err("output.progress_every=0"),
            "output.progress_every",
            &["> 0"],
        );
        assert_err(
            &set_err("output.dir=\"\""),
            "output.dir",
            &["must not be empty"],
        );
    }
}
