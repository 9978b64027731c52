//! A forward run: the forward march ([`super::forward`]) with its outputs, as `nlfp forward`
//! and every run of `nlfp study` make it. Prepares the run directory (reuse rules of
//! [`crate::io::run_dir`]), writes `config.toml`, `diagnostics.csv` (continued after a restart),
//! snapshots with their index ([`crate::io::snapshots`]), checkpoints with their `latest`
//! pointer ([`crate::io::checkpoint`]) at their cadences and on signals
//! ([`crate::signals::RequestPoller`]), and `final.h5`.

use super::checkpointer::Checkpointer;
use super::forward::{
    format_duration, ForwardMarch, MarchControl, MarchEnd, MarchResult, MarchSink, MarchState,
    OutputCadence,
};
use crate::comm::Comm;
use crate::diagnostics::{Diagnostics, DiagnosticsSetup};
use crate::error::CommandError;
use crate::field::Field;
use crate::io::checkpoint::{CheckpointState, JobKind, Loaded, Saved};
use crate::io::csv::CsvWriter;
use crate::io::run_dir::{RunDir, Stamp};
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

/// Where a forward run starts: the data `f0` at `t = 0`, or a loaded checkpoint (its field, its
/// march state, its stepper state restored into the stepper).
pub struct ForwardStart {
    /// The field to march (this rank's block).
    pub f: Field,
    /// Time, step and dt history to continue from.
    pub state: MarchState,
    /// The checkpoint's state when resumed.
    pub resumed: Option<CheckpointState>,
}

impl ForwardStart {
    /// From `f0`, or from `loaded` when there is one (then `stepper` takes its saved state; an
    /// error is a checkpoint that does not fit this stepper: bad input).
    pub fn new(
        f0: Field,
        loaded: Option<Loaded>,
        stepper: &mut dyn TimeStepper,
    ) -> Result<ForwardStart, String> {
        let Some(loaded) = loaded else {
            return Ok(ForwardStart {
                f: f0,
                state: MarchState::start(),
                resumed: None,
            });
        };
        stepper
            .restore(&loaded.state.stepper_state)
            .map_err(|e| format!("checkpoint {}: {e}", loaded.path.display()))?;
        Ok(ForwardStart {
            f: loaded.f,
            state: MarchState::from(&loaded.state),
            resumed: Some(loaded.state),
        })
    }
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
        checkpointer.create_run(
            &OUTPUT_FILES,
            &[SNAPSHOT_DIR],
            resumed.is_some(),
            self.replace,
        )?;
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
