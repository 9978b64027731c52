//! Crash-safe checkpoints: everything needed to continue a run bit for bit, verifiable on load,
//! readable on any rank count and process grid.
//!
//! One implementation serves every job kind ([`JobKind`]: `forward`, `generate`, `particles`,
//! `filter`). A checkpoint `ckpt_<seq>.h5` (`seq`: the step, or the job's progress counter,
//! [`CheckpointWrite::seq`]) holds the global-shaped state `f`, the exact
//! sequence of step sizes `dt_history`, the time stepper's own state `stepper_state` (the
//! implicit step controller), the job's further datasets ([`Saved`]: global-shaped fields and
//! small arrays, e.g. the trajectory store and the samplers of `generate`), and attributes:
//! the job kind and its `phase`, `t`, `step`, `dt`, `t_end`, the resolved config, the physics
//! fingerprint, the code version, the process grid that wrote it, the grid, the output
//! directory that owns it, the list of its datasets, a checksum of every dataset, and
//! `checksum_attrs`, a hash of every other attribute (name, type and bits): a changed `t`,
//! `physics` or `n` is detected as corruption, never read as a real change. On load, `t` must
//! also be the march's sum of `dt_history` (in order; the last step may end exactly at
//! `t_end`) and `dt_history` must have `step` entries. It is written under a temporary name, closed, fsync'ed and renamed (see
//! [`super::hdf5::write_global`]); then the `latest` pointer is replaced atomically the same way,
//! and checkpoints beyond the newest `keep` are deleted.
//!
//! Checksums are those of [`super::checksum`]: order-independent, so a checkpoint written on 4
//! ranks verifies on 3 or on 1.
//!
//! # Restart selection ([`resume`])
//!
//! `--restart PATH` loads that file; any defect is bad input. `--restart auto` tries the
//! checkpoints of the directory newest first ([`select`]): an unreadable, truncated or
//! checksum-failing file is skipped with its reason logged, and the next older one tried; a
//! valid checkpoint of other physics, or of another job kind, ends the search with a refusal
//! that names the keys (or both kinds): an older checkpoint is never silently used instead; no
//! checkpoint at all starts from `t = 0`; checkpoints that are all invalid are an error.
//!
//! # Ownership ([`check_owner`], [`clear`])
//!
//! Every checkpoint names the output directory of its run (attribute `output_dir`,
//! canonical). A run refuses a checkpoint directory holding checkpoints of another run, and
//! `--overwrite` deletes only checkpoint files: inside the output directory by name, outside
//! it only those whose `output_dir` is this run's.
//!
//! # Files
//!
//! [`write`](mod@write): the collective write, the attribute checksum, `latest` and pruning;
//! [`read`]: verified reading of attributes and datasets ([`Loaded`]); [`resume`](mod@resume):
//! the restart selection; [`owner`]: the checkpoint directory of a run (listing, ownership,
//! clearing).

mod owner;
mod read;
mod resume;
mod write;

pub use owner::{canonical, check_owner, clear, inside, latest_pointer, list};
pub use read::{
    check_time, read_dataset, read_field, read_header, read_state, verify_serial, DatasetEntry,
    Loaded,
};
pub use resume::{physics_differences, resume, select, try_resume, Rejection, Selection};
pub use write::{attrs_checksum, bytes_hash, write, CheckpointWrite};

use crate::field::Field;
use crate::names::named_enum;

/// Format version written to every checkpoint (attribute `format`).
pub const FORMAT_VERSION: u64 = 2;

/// Name of the pointer file holding the newest checkpoint's file name.
pub const LATEST: &str = "latest";

named_enum! {
    /// The kind of job a checkpoint continues (attribute `job`).
    pub enum JobKind {
        /// `nlfp forward` (and every run of `nlfp study`).
        Forward = "forward",
        /// `nlfp generate` (phases `forward` and `reverse`).
        Generate = "generate",
        /// `nlfp particles`.
        Particles = "particles",
        /// `nlfp filter`.
        Filter = "filter",
    }
}

/// What a checkpoint restores besides the field.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointState {
    /// The job kind that wrote it.
    pub job: JobKind,
    /// The job's phase (`march` for `forward`; `forward` or `reverse` for `generate`).
    pub phase: String,
    /// Simulated time.
    pub t: f64,
    /// The final time the march was heading for (its last step may end exactly there).
    pub t_end: f64,
    /// Steps since `t = 0`.
    pub step: u64,
    /// Every step size since `t = 0`.
    pub dt_history: Vec<f64>,
    /// The resolved config that wrote it (TOML text).
    pub config: String,
    /// Its physics fingerprint (`key = value` lines).
    pub physics: String,
    /// The time stepper's own state (empty for explicit steppers).
    pub stepper_state: Vec<f64>,
}

/// A job's datasets beyond `f`, `dt_history` and `stepper_state`: global-shaped fields (this
/// rank's block of each) and small arrays (the same values on every rank).
#[derive(Default)]
pub struct Saved {
    /// Global-shaped fields, by dataset name.
    pub fields: Vec<(String, Field)>,
    /// Small arrays, by dataset name.
    pub small: Vec<(String, Vec<f64>)>,
}

impl Saved {
    /// Appends everything of `other`.
    pub fn extend(&mut self, other: Saved) {
        self.fields.extend(other.fields);
        self.small.extend(other.small);
    }

    /// Bytes of data this rank contributes (fields: its blocks; small arrays: all of them).
    pub fn bytes(&self) -> usize {
        let fields: usize = self
            .fields
            .iter()
            .map(|(_, f)| 8 * f.interior3().len())
            .sum();
        let small: usize = self.small.iter().map(|(_, v)| 8 * v.len()).sum();
        fields + small
    }
}

/// Rank 0's `values` on every rank: a small dataset of a checkpoint must be the same on every
/// rank (its checksum is verified on load), so values only rank 0 knows, or that differ in
/// the last bits between ranks (wall times), are agreed this way. Collective.
pub fn rank0_values(comm: &crate::comm::Comm, values: &[f64]) -> Vec<f64> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    comm.broadcast_bytes(bytes)
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// File name of the checkpoint of `step`.
pub fn file_name(step: u64) -> String {
    super::step_file(PREFIX, step)
}

/// File-name prefix of a checkpoint: `ckpt_<step:012>.h5`.
pub const PREFIX: &str = "ckpt_";
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(file_name(42), "ckpt_000000000042.h5");
        let step_of = |name: &str| super::super::step_of_file(PREFIX, name);
        assert_eq!(step_of(&file_name(42)), Some(42));
        assert_eq!(step_of("ckpt_x.h5"), None);
        assert_eq!(step_of("latest"), None);
    }
}
