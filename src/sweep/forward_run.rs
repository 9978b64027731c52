//! A forward run: the forward march ([`super::forward`]) with its outputs, as `nlfp forward`
//! and every run of `nlfp study` make it. Prepares the run directory (reuse rules of
//! [`crate::io::run_dir`]), writes `config.toml`, `diagnostics.csv` (continued after a restart),
//! snapshots with their index ([`crate::io::snapshots`]), checkpoints with their `latest`
//! pointer ([`crate::io::checkpoint`]) at their cadences and on signals
//! ([`crate::signals::RequestPoller`]), and `final.h5`.

use std::path::PathBuf;

use super::checkpointer::Checkpointer;
use super::forward::{
    format_duration, ForwardMarch, MarchControl, MarchEnd, MarchResult, MarchSink, MarchState,
    OutputCadence,
};
use crate::comm::Comm;
use crate::diagnostics::{Diagnostics, DiagnosticsSetup};
use crate::error::CommandError;
use crate::field::Field;
use crate::io::checkpoint::{CheckpointState, JobKind, Saved};
use crate::io::csv::CsvWriter;
use crate::io::run_dir::{DirRules, RunDir, Stamp};
use crate::io::snapshots::{SnapshotWriter, SNAPSHOT_DIR};
use crate::signals::SignalFlags;
use crate::time::{Requests, TimeStepper};

/// Files a forward run writes; an output directory holding any of them is not reused unless
/// `--overwrite` (start afresh) or `--restart` (continue) is given.
pub const OUTPUT_FILES: [&str; 4] = [
    "config.toml",
    "diagnostics.csv",
    "final.h5",
    "snapshots.xdmf",
];

pub use super::checkpointer::CheckpointPolicy;

/// A forward run, ready to march.
pub struct ForwardRun<'a> {
    /// The run directory (with the layout, config text and transfer mode of its files).
    pub run: &'a RunDir,
    /// Diagnostics of the run.
    pub diagnostics: DiagnosticsSetup,
    /// How long to march and how often to report.
    pub control: MarchControl,
    /// Snapshot and checkpoint cadences.
    pub cadence: OutputCadence,
    /// Checkpoints.
    pub checkpoints: CheckpointPolicy,
    /// The physics fingerprint written into checkpoints.
    pub physics: String,
    /// Signal flags (installed once per process).
    pub signals: &'a SignalFlags,
    /// Whether results already in the directory may be replaced (`--overwrite` or `--restart`).
    pub replace: bool,
    /// The first log line: the run's name and what it is (`forward: 2D n = 101 ..., sg /
    /// ssprk2, t_end = 1`).
    pub title: String,
}

impl ForwardRun<'_> {
    /// Marches `f` from `state` (restored from `resumed`, if any) to `t_end`, writing the
    /// outputs (collective). When the march stops on request (signal) the result says so and no
    /// `final.h5` is written; the caller decides what that means.
    pub fn execute(
        &self,
        comm: &Comm,
        f: &mut Field,
        stepper: &mut dyn TimeStepper,
        state: &mut MarchState,
        resumed: Option<&CheckpointState>,
    ) -> Result<MarchResult, CommandError> {
        let run = self.run;
        if resumed.is_some() {
            self.control.admits(state).map_err(CommandError::Input)?;
        }
        let checkpointer = Checkpointer::new(
            comm,
            run,
            &self.checkpoints,
            JobKind::Forward,
            self.physics.clone(),
            self.control.t_end,
            self.signals,
        );
        let clear = match resumed {
            None => vec![PathBuf::from(SNAPSHOT_DIR)],
            Some(_) => Vec::new(),
        };
        let rules = DirRules {
            results: &OUTPUT_FILES,
            hint: ", continue with --restart auto,",
            clear,
            extra: &[],
        };
        // The checkpoint directory first: a foreign one is refused before anything is written.
        checkpointer
            .prepare(resumed.is_some() || !self.replace)
            .map_err(CommandError::Input)?;
        run.create(comm, &rules, self.replace)?;
        let mut csv = None;
        if comm.is_root() {
            let csv_path = run.join("diagnostics.csv");
            let written = match resumed {
                Some(c) => CsvWriter::resume(&csv_path, &Diagnostics::HEADER, c.step),
                None => CsvWriter::create(&csv_path, &Diagnostics::HEADER),
            };
            csv = Some(written.map_err(CommandError::Fatal)?);
            log::info!(
                "{}{}",
                self.title,
                match resumed {
                    Some(c) => format!(", resuming at step {} (t = {:e})", c.step, c.t),
                    None => String::new(),
                }
            );
        }
        let mut sink = ForwardSink {
            comm,
            run,
            snapshots: SnapshotWriter::resume(comm, run.path(), state.step),
            checkpointer,
        };
        let mut march = ForwardMarch {
            comm,
            mesh: run.mesh(),
            block: run.block(),
            diagnostics: &self.diagnostics,
            csv,
        };
        let result = march.run(stepper, f, state, self.control, self.cadence, &mut sink)?;
        if result.end == MarchEnd::Stopped {
            return Ok(result);
        }
        let stamp = Stamp {
            t: result.t,
            step: result.steps,
            dt: result.last_dt,
        };
        run.write_field(comm, "final.h5", f, stamp)
            .map_err(CommandError::Runtime)?;
        if comm.is_root() {
            log_done(&result, run, resumed.map_or(0, |c| c.step));
        }
        Ok(result)
    }
}

/// The closing log lines of a forward run (rank 0).
fn log_done(result: &MarchResult, run: &RunDir, first_step: u64) {
    let timers = result.timers;
    let total = timers.total().as_secs_f64().max(1e-12);
    let steps_here = (result.steps - first_step) as f64;
    log::info!(
        "done: {} steps to t = {:.6e} in {} ({:.3e} cell-steps/s); mass drift {:.3e}, min f {:.3e}",
        result.steps,
        result.t,
        format_duration(result.wall.as_secs_f64()),
        run.mesh().cells() as f64 * steps_here / result.wall.as_secs_f64().max(1e-12),
        result.last.mass_drift,
        result.last.min,
    );
    log::info!(
        "rank 0 time shares: update {:.1}%, rate {:.1}%, aux {:.1}%, halo wait {:.1}%, reduce {:.1}%",
        100.0 * timers.update.as_secs_f64() / total,
        100.0 * timers.rate.as_secs_f64() / total,
        100.0 * timers.aux.as_secs_f64() / total,
        100.0 * timers.halo_wait.as_secs_f64() / total,
        100.0 * timers.reduce.as_secs_f64() / total,
    );
    log::info!(
        "results in {}: final.h5, diagnostics.csv, config.toml",
        run.path().display()
    );
}

/// Snapshots, checkpoints and requests of a forward run.
struct ForwardSink<'a> {
    comm: &'a Comm,
    run: &'a RunDir,
    snapshots: SnapshotWriter,
    checkpointer: Checkpointer<'a>,
}

impl MarchSink for ForwardSink<'_> {
    fn snapshot(&mut self, f: &Field, state: &MarchState) -> Result<(), String> {
        self.snapshots.write(self.comm, self.run, f, state.into())
    }

    fn checkpoint(
        &mut self,
        f: &Field,
        state: &MarchState,
        stepper_state: &[f64],
    ) -> Result<(), String> {
        self.checkpointer
            .write_at(
                state.step,
                "march",
                f,
                state,
                stepper_state,
                &Saved::default(),
            )
            .map(|_| ())
    }

    fn poll(&mut self, step: u64) -> Result<Requests, String> {
        self.checkpointer.poll(step)
    }
}
