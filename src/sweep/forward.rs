//! The forward march: steps until `t_end` (or `max_steps`), writing diagnostics every
//! `diagnostics_every` steps, snapshots and checkpoints at their cadences (through a
//! [`MarchSink`] the driver provides), and progress lines with an ETA from rank 0.
//!
//! Requests raised by signals or wall-clock timers on any rank are folded into the time-step
//! reduction, so every rank checkpoints (and stops) at the same step boundary; a checkpoint is
//! never written mid-step.

use std::time::{Duration, Instant};

use crate::comm::Comm;
use crate::decomp::Block;
use crate::diagnostics::{Diagnostics, DiagnosticsSetup};
use crate::error::CommandError;
use crate::field::Field;
use crate::io::checkpoint::CheckpointState;
use crate::io::csv::CsvWriter;
use crate::io::run_dir::Stamp;
use crate::mesh::Mesh;
use crate::progress::Progress;
use crate::time::{Requests, StageTimers, TimeStepper};

/// The state of a march at a step boundary: everything needed to continue it bit for bit.
#[derive(Clone, Debug, PartialEq)]
pub struct MarchState {
    /// Simulated time.
    pub t: f64,
    /// Steps taken since `t = 0`.
    pub step: u64,
    /// Every step size taken since `t = 0` (the reverse sweep needs the exact sequence).
    pub dt_history: Vec<f64>,
}

impl MarchState {
    /// The state at `t = 0`.
    pub fn start() -> MarchState {
        MarchState {
            t: 0.0,
            step: 0,
            dt_history: Vec::new(),
        }
    }

    /// The last step size (0 before the first step).
    pub fn last_dt(&self) -> f64 {
        self.dt_history.last().copied().unwrap_or(0.0)
    }
}

impl From<&CheckpointState> for MarchState {
    /// The state a checkpoint restores.
    fn from(c: &CheckpointState) -> MarchState {
        MarchState {
            t: c.t,
            step: c.step,
            dt_history: c.dt_history.clone(),
        }
    }
}

impl From<&MarchState> for Stamp {
    /// Time, step and last step size of the state, for the files written at it.
    fn from(state: &MarchState) -> Stamp {
        Stamp {
            t: state.t,
            step: state.step,
            dt: state.last_dt(),
        }
    }
}

/// Where snapshots and checkpoints go; implemented by the driver. Every method is collective.
pub trait MarchSink {
    /// Writes a snapshot of `f`.
    fn snapshot(&mut self, f: &Field, state: &MarchState) -> Result<(), String>;
    /// Writes a checkpoint of `f` and the stepper's own state (only ever called with a finite,
    /// non-negative field).
    fn checkpoint(
        &mut self,
        f: &Field,
        state: &MarchState,
        stepper_state: &[f64],
    ) -> Result<(), String>;
    /// This rank's pending requests (signals, timers), polled once per step before step
    /// `step + 1`. An error is a failure of this rank alone: the job must be aborted.
    fn poll(&mut self, step: u64) -> Result<Requests, String>;
    /// Sees the state after every step (and the start state), e.g. to record the trajectory
    /// for a reverse sweep (collective). Does nothing by default.
    fn after_step(&mut self, _f: &Field, _state: &MarchState) -> Result<(), String> {
        Ok(())
    }
}

/// Why a march failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarchError {
    /// Every rank knows (non-finite field, a collective write failed): stop cleanly.
    Global(String),
    /// Only this rank knows: the job must be aborted so no rank is left waiting.
    Local(String),
}

impl MarchError {
    /// The message, whoever knows it.
    pub fn message(self) -> String {
        match self {
            MarchError::Global(m) | MarchError::Local(m) => m,
        }
    }
}

/// Output cadences in steps and simulated time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutputCadence {
    /// Snapshot every this many steps (0 = off).
    pub snapshot_every: u64,
    /// Snapshot every this much simulated time (0 = off); written at the first step boundary at
    /// or after each multiple, so the time steps never depend on the output cadence.
    pub snapshot_dt: f64,
    /// Checkpoint every this many steps (0 = off).
    pub checkpoint_every: u64,
}

impl OutputCadence {
    /// Whether a step from `before` to `after` (step number `step`) ends at a snapshot.
    pub fn snapshot_due(&self, before: f64, after: f64, step: u64) -> bool {
        let by_step = self.snapshot_every > 0 && step.is_multiple_of(self.snapshot_every);
        let by_time = self.snapshot_dt > 0.0
            && (after / self.snapshot_dt).floor() > (before / self.snapshot_dt).floor();
        by_step || by_time
    }
}

/// How a march ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarchEnd {
    /// `t_end` or `max_steps` reached.
    Done,
    /// Stopped on request after a checkpoint.
    Stopped,
}

/// How long to march and how often to report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MarchControl {
    /// Final time.
    pub t_end: f64,
    /// Step limit.
    pub max_steps: u64,
    /// Diagnostics cadence in steps (the first and the last step are always written).
    pub diagnostics_every: u64,
    /// Wall-clock seconds between progress lines.
    pub progress_every: f64,
}

impl MarchControl {
    /// Whether a march resumed at `state` (from a checkpoint) can continue under this control:
    /// refused when the checkpoint stands past `t_end` or `max_steps` (the run would end at the
    /// checkpoint's `t`, not at the configured end). A checkpoint exactly at the end is a
    /// finished march and passes.
    pub fn admits(&self, state: &MarchState) -> Result<(), String> {
        let past = if state.t > self.t_end {
            format!("t = {:e}, past time.t_end = {:e}", state.t, self.t_end)
        } else if state.step > self.max_steps {
            format!(
                "step {}, past time.max_steps = {}",
                state.step, self.max_steps
            )
        } else {
            return Ok(());
        };
        Err(format!(
            "restart refused: the checkpoint stands at {past}; raise the limit to continue it, \
             or start afresh with --overwrite"
        ))
    }
}

/// Where the march ended.
#[derive(Clone, Copy, Debug)]
pub struct MarchResult {
    /// Final time reached.
    pub t: f64,
    /// Steps taken.
    pub steps: u64,
    /// Last step size.
    pub last_dt: f64,
    /// Last diagnostics row.
    pub last: Diagnostics,
    /// Wall time of the march.
    pub wall: Duration,
    /// Stage timers of the stepper.
    pub timers: StageTimers,
    /// Why the march ended.
    pub end: MarchEnd,
}

/// The forward march over one block.
pub struct ForwardMarch<'a> {
    /// Communicator.
    pub comm: &'a Comm,
    /// Global grid.
    pub mesh: &'a Mesh,
    /// This rank's block.
    pub block: &'a Block,
    /// Diagnostics setup.
    pub diagnostics: &'a DiagnosticsSetup,
    /// Diagnostics CSV (rank 0 only).
    pub csv: Option<CsvWriter>,
}

impl ForwardMarch<'_> {
    /// Marches `f` from `state` with `stepper`, writing through `sink`.
    pub fn run(
        &mut self,
        stepper: &mut dyn TimeStepper,
        f: &mut Field,
        state: &mut MarchState,
        control: MarchControl,
        cadence: OutputCadence,
        sink: &mut dyn MarchSink,
    ) -> Result<MarchResult, MarchError> {
        use MarchError::Global;
        let start = Instant::now();
        let t0 = state.t;
        let mut max_rate = 0.0;
        let mut last = self
            .record(f, state, max_rate, start, solver_counts(stepper))
            .map_err(Global)?;
        if state.step == 0 && (cadence.snapshot_every > 0 || cadence.snapshot_dt > 0.0) {
            sink.snapshot(f, state).map_err(Global)?;
        }
        sink.after_step(f, state).map_err(Global)?;
        let mut progress = Progress::new(
            self.comm.is_root(),
            "forward",
            "model time",
            control.t_end,
            control.progress_every,
        )
        .starting_at(t0);
        let mut iterations_at_line = stepper.iteration_counts();
        let mut end = MarchEnd::Done;
        let mut last_checkpoint: Option<u64> = None;
        while state.t < control.t_end && state.step < control.max_steps {
            let requests = sink.poll(state.step).map_err(MarchError::Local)?;
            let report = stepper.step(self.comm, f, state.t, control.t_end, requests);
            let before = state.t;
            state.t = if report.dt >= control.t_end - state.t {
                control.t_end
            } else {
                state.t + report.dt
            };
            state.step += 1;
            state.dt_history.push(report.dt);
            max_rate = report.max_rate;
            let done = state.t >= control.t_end || state.step >= control.max_steps;
            // A signal delivered to several ranks can land on both sides of a step boundary;
            // a checkpoint request right after a checkpoint is that same signal seen late by
            // some rank, and is dropped (a stop request never is). Every rank sees the same
            // reduced request and step, so every rank decides alike.
            let echo = last_checkpoint == Some(state.step - 1);
            let checkpoint_due = (report.requests.checkpoint && !echo)
                || report.requests.stop
                || (cadence.checkpoint_every > 0
                    && state.step.is_multiple_of(cadence.checkpoint_every));
            if state.step.is_multiple_of(control.diagnostics_every) || done || checkpoint_due {
                // Diagnostics before any file: a non-finite or negative field is never saved.
                last = self
                    .record(f, state, max_rate, start, solver_counts(stepper))
                    .map_err(Global)?;
            }
            sink.after_step(f, state).map_err(Global)?;
            if cadence.snapshot_due(before, state.t, state.step) {
                sink.snapshot(f, state).map_err(Global)?;
            }
            if checkpoint_due {
                sink.checkpoint(f, state, &stepper.state())
                    .map_err(Global)?;
                last_checkpoint = Some(state.step);
            }
            if done || progress.due() {
                let counts = stepper.iteration_counts();
                let extra = || march_fields(state.step, report.dt, counts, iterations_at_line);
                progress.report(state.t, extra);
                iterations_at_line = counts;
            }
            if report.requests.stop {
                end = MarchEnd::Stopped;
                break;
            }
        }
        Ok(MarchResult {
            t: state.t,
            steps: state.step,
            last_dt: state.last_dt(),
            last,
            wall: start.elapsed(),
            timers: stepper.timers(),
            end,
        })
    }

    fn record(
        &mut self,
        f: &Field,
        state: &MarchState,
        max_rate: f64,
        start: Instant,
        iterations: Option<[u64; 4]>,
    ) -> Result<Diagnostics, String> {
        let (step, t, dt) = (state.step, state.t, state.last_dt());
        let d = Diagnostics::compute(self.comm, self.diagnostics, self.mesh, self.block, f);
        if let Some(csv) = &mut self.csv {
            let written = csv.row(&d.csv_row(
                step,
                t,
                dt,
                start.elapsed().as_secs_f64(),
                Some(max_rate),
                iterations,
            ));
            if let Err(e) = written {
                // Only rank 0 knows: take the whole job down rather than leave ranks waiting.
                log::error!("{e}");
                self.comm.abort(1);
            }
        }
        if !d.finite {
            return Err(format!(
                "non-finite density at step {step} (t = {t:e}); the run is stopped \
                 (the last checkpoint, if any, is still valid)"
            ));
        }
        if d.min < 0.0 {
            return Err(format!(
                "negative density {:e} at step {step} (t = {t:e}); the run is stopped \
                 (the last checkpoint, if any, is still valid)",
                d.min
            ));
        }
        Ok(d)
    }
}

/// The forward march's fields of a progress line: step, dt and, for the implicit stepper, the
/// Newton and Krylov iterations since the previous line.
fn march_fields(
    step: u64,
    dt: f64,
    counts: Option<(u64, u64)>,
    before: Option<(u64, u64)>,
) -> String {
    let mut fields = format!("step {step}  dt {dt:.3e}");
    if let (Some((newton, krylov)), Some((newton0, krylov0))) = (counts, before) {
        fields.push_str(&format!(
            "  newton +{}  krylov +{}",
            newton - newton0,
            krylov - krylov0
        ));
    }
    fields
}

/// `1h02m03s` style.
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m{:02}s", s / 3600, (s % 3600) / 60, s % 60),
    }
}

impl From<MarchError> for CommandError {
    fn from(e: MarchError) -> CommandError {
        match e {
            MarchError::Global(msg) => CommandError::Runtime(msg),
            MarchError::Local(msg) => CommandError::Fatal(msg),
        }
    }
}

/// `[Newton, Krylov, Newton failures, dt halvings]` of an implicit stepper.
fn solver_counts(stepper: &dyn TimeStepper) -> Option<[u64; 4]> {
    let (newton, krylov) = stepper.iteration_counts()?;
    let (failures, halvings) = stepper.failure_counts().unwrap_or((0, 0));
    Some([newton, krylov, failures, halvings])
}
