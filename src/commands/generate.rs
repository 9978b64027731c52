//! `nlfp generate CONFIG [--out DIR] [--overwrite]`: the generative model end to end
//! ([`crate::generate`]): forward from the data to `T = time.t_end` recording the trajectory in
//! the store of `reverse.store`, the start state of `reverse.start`, the reverse sweep of
//! `reverse.method` back to `t = 0` carrying `reverse.samples` samples with the samplers of
//! `reverse.sampler`, the samples, their quality, the pictures and `summary.toml`.
//!
//! A generate run is one job: it has no checkpoints (a reverse needs the whole forward history,
//! which the `disk` store keeps only as scratch); rerun it from the start after an interruption.

use std::path::PathBuf;

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;

/// Runs the command.
pub fn run(
    comm: &Comm,
    args: &RunArgs,
    out: Option<PathBuf>,
    overwrite: bool,
) -> Result<(), CommandError> {
    let setup = RunSetup::load(comm, args)?;
    let dir = out.unwrap_or_else(|| setup.config.output.dir.clone());
    let f0 = setup.initial_field()?;
    let generate = setup.generate_run(comm);
    generate
        .execute(&setup.run_dir(&dir), overwrite, f0)
        .map(|_| ())
}
