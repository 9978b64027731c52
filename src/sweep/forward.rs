//! The forward march: steps until `t_end` (or `max_steps`), writing diagnostics every
//! `diagnostics_every` steps and progress lines with an ETA from rank 0.

use std::time::{Duration, Instant};

use crate::comm::Comm;
use crate::decomp::Block;
use crate::diagnostics::{Diagnostics, DiagnosticsSetup};
use crate::field::Field;
use crate::io::csv::{CsvValue, CsvWriter};
use crate::mesh::Mesh;
use crate::time::{StageTimers, TimeStepper};

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
    /// Marches `f` from `t0` (step `step0`) with `stepper`.
    pub fn run(
        &mut self,
        stepper: &mut dyn TimeStepper,
        f: &mut Field,
        t0: f64,
        step0: u64,
        control: MarchControl,
    ) -> Result<MarchResult, String> {
        let start = Instant::now();
        let mut t = t0;
        let mut step = step0;
        let mut dt = 0.0;
        let mut max_rate = 0.0;
        let mut last = self.record(f, step, t, dt, max_rate, start)?;
        let mut last_progress = Instant::now();
        while t < control.t_end && step < control.max_steps {
            let report = stepper.step(self.comm, f, t, control.t_end);
            dt = report.dt;
            max_rate = report.max_rate;
            t = if dt >= control.t_end - t {
                control.t_end
            } else {
                t + dt
            };
            step += 1;
            let done = t >= control.t_end || step >= control.max_steps;
            if step.is_multiple_of(control.diagnostics_every) || done {
                last = self.record(f, step, t, dt, max_rate, start)?;
            }
            if self.comm.is_root()
                && (last_progress.elapsed().as_secs_f64() >= control.progress_every || done)
            {
                last_progress = Instant::now();
                log::info!(
                    "{}",
                    progress_line(step, t, t0, dt, control, start.elapsed())
                );
            }
        }
        Ok(MarchResult {
            t,
            steps: step,
            last_dt: dt,
            last,
            wall: start.elapsed(),
            timers: stepper.timers(),
        })
    }

    fn record(
        &mut self,
        f: &Field,
        step: u64,
        t: f64,
        dt: f64,
        max_rate: f64,
        start: Instant,
    ) -> Result<Diagnostics, String> {
        let d = Diagnostics::compute(self.comm, self.diagnostics, self.mesh, self.block, f);
        if let Some(csv) = &mut self.csv {
            let written = csv.row(&[
                CsvValue::Int(step),
                t.into(),
                dt.into(),
                d.mass.into(),
                d.min.into(),
                d.max.into(),
                d.l2.into(),
                d.entropy.into(),
                d.centre_mass.into(),
                d.mass_drift.into(),
                d.condensate.into(),
                d.symmetry_defect.into(),
                start.elapsed().as_secs_f64().into(),
                max_rate.into(),
            ]);
            if let Err(e) = written {
                // Only rank 0 knows: take the whole job down rather than leave ranks waiting.
                log::error!("{e}");
                self.comm.abort(1);
            }
        }
        if !d.finite {
            return Err(format!(
                "non-finite density at step {step} (t = {t:e}); the run is stopped"
            ));
        }
        Ok(d)
    }
}

fn progress_line(
    step: u64,
    t: f64,
    t0: f64,
    dt: f64,
    control: MarchControl,
    elapsed: Duration,
) -> String {
    let fraction = ((t - t0) / (control.t_end - t0)).clamp(0.0, 1.0);
    let eta = if fraction > 0.0 {
        format_duration(elapsed.as_secs_f64() * (1.0 - fraction) / fraction)
    } else {
        "?".into()
    };
    format!(
        "step {step:>9}  t = {t:.6e} / {:.3e} ({:5.1}%)  dt = {dt:.3e}  elapsed {}  ETA {eta}",
        control.t_end,
        100.0 * fraction,
        format_duration(elapsed.as_secs_f64()),
    )
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
