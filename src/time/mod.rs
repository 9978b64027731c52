//! Explicit time stepping with the positivity time step.
//!
//! * `euler`: `f^{n+1} = f^n + dt L_h(f^n)`.
//! * `ssprk2`: `f* = f^n + dt L_h(f^n)`, `f^{n+1} = 1/2 f^n + 1/2 (f* + dt L_h(f*))`.
//!
//! The step is `dt = min(safety / max_i rate_i, dt_max, t_end - t)` where `rate_i` is the sum of
//! the outgoing rates of cell `i` (see [`crate::scheme::stage::max_rate`]); the maximum is a MAX
//! reduction over all ranks, exact, so the dt sequence and every field value are bit-identical
//! for any rank count and process grid.
//!
//! One step reads like the algorithm:
//! 1. post the halo exchange of `f`; meanwhile per-cell values and rates on the interior;
//! 2. finish the exchange; per-cell values and rates on the rim; MAX-reduce the rate -> `dt`;
//! 3. stage update(s), the second one again overlapped with its own halo exchange.
//!
//! The face rates are evaluated twice per SSP-RK2 step and never kept block-wide: the rate pass
//! of step 1-2 keeps, per cell, the flux divergence of `f^n` in the storage of `f*`
//! ([`crate::scheme::stage::max_rate_and_divergence`]), so the first stage is one streaming
//! pass `f* = f + (dt/h) div` once `dt` is known; the second stage's pass evaluates the rates
//! of `f*` once for the rate bound at `f*` and writes `1/2 f^n + 1/2 (f* + dt L(f*))` directly
//! ([`crate::scheme::stage::max_rate_and_combine`]), which becomes `f^{n+1}` by a swap. The
//! bits are those of the unfused passes (rate pass, update, combination).
//!
//! SSP-RK2 is a convex combination of Euler steps, so it keeps `f >= 0` when both Euler steps
//! do: the rate at `f*` is measured along with the second stage, and if `dt * rate(f*) > 1` the
//! step is retried from `f^n` with `dt = safety / rate(f*)` (every rank sees the same MAX).

pub mod implicit;
pub mod krylov;
pub mod linear;
pub mod multigrid;
pub mod reverse;

use std::time::{Duration, Instant};

use crate::comm::{Comm, HaloExchange};
use crate::decomp::Block;
use crate::field::{Field, GHOST};
use crate::mesh::Mesh;
use crate::names::named_enum;
use crate::scheme::build::FamilyBuilder;
use crate::scheme::stage::{self, BlockGeometry, Region, Scratch};
use crate::scheme::{FaceCoefficients, Family, SchemeKind};

named_enum! {
    /// The time stepper, selected by `time.stepper` (`ALL`: tests iterate over every stepper).
    pub enum StepperKind {
        /// Forward Euler (first order).
        Euler = "euler",
        /// Strong-stability-preserving Runge–Kutta, two stages (second order).
        Ssprk2 = "ssprk2",
        /// Backward Euler + Newton–Krylov (first order, unconditionally positive steps; for long
        /// times and after blow-up).
        Implicit = "implicit",
    }
}

named_enum! {
    /// The preconditioner of the implicit stepper's linear systems, `time.preconditioner`.
    pub enum PreconditionerKind {
        /// Geometric multigrid V-cycle (bit-identical on any rank count).
        Mg = "mg",
        /// Block-Jacobi ILU(0) (one block per rank).
        Ilu = "ilu",
    }
}

impl StepperKind {
    /// Order in time.
    pub fn order(self) -> u32 {
        match self {
            StepperKind::Euler | StepperKind::Implicit => 1,
            StepperKind::Ssprk2 => 2,
        }
    }
}

/// Time-step control.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepControl {
    /// `c` in `dt * rate <= c`, `0 < c < 1`.
    pub safety: f64,
    /// Upper bound on `dt`.
    pub dt_max: f64,
    /// Preconditioner of the implicit stepper (ignored by the explicit ones).
    pub preconditioner: PreconditionerKind,
}

/// Wall time spent in each named part of the step, summed over steps.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimers {
    /// Waiting for halo messages (exchange time not hidden behind interior work).
    pub halo_wait: Duration,
    /// Per-cell auxiliary values.
    pub aux: Duration,
    /// Positivity rates (with the flux divergence of `f^n` kept for the first stage).
    pub rate: Duration,
    /// The MAX reduction of the rate.
    pub reduce: Duration,
    /// The stage updates: the first from the kept divergence (or evaluating the fluxes), for
    /// SSP-RK2 the second with the positivity rate at `f*` and the convex combination, all in
    /// one pass.
    pub update: Duration,
}

impl StageTimers {
    /// Total of all parts.
    pub fn total(&self) -> Duration {
        self.halo_wait + self.aux + self.rate + self.reduce + self.update
    }
}

/// Requests raised on some rank (a signal, a wall-clock timer) that every rank must act on at
/// the same step boundary. They are OR-ed across ranks inside the time-step MAX reduction, so
/// they cost no extra message and reach every rank within one step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    /// Write a checkpoint at the end of this step.
    pub checkpoint: bool,
    /// Stop after that checkpoint (exit code 75, "requeue me").
    pub stop: bool,
}

impl Requests {
    fn encode(self) -> [f64; 2] {
        [
            f64::from(u8::from(self.checkpoint)),
            f64::from(u8::from(self.stop)),
        ]
    }

    fn decode(v: &[f64]) -> Requests {
        Requests {
            checkpoint: v[0] > 0.0,
            stop: v[1] > 0.0,
        }
    }

    /// Whether anything was requested.
    pub fn any(self) -> bool {
        self.checkpoint || self.stop
    }
}

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    /// The step taken.
    pub dt: f64,
    /// The largest global positivity rate seen in the step (at `f^n`, and at `f*` for SSP-RK2).
    pub max_rate: f64,
    /// Attempts rejected because `dt * rate(f*) > 1` (SSP-RK2 only); each retry uses
    /// `dt = safety / rate(f*)`.
    pub rejected: u32,
    /// The requests of all ranks, OR-ed.
    pub requests: Requests,
}

/// A time stepper for one block: advances `f` by one step.
pub trait TimeStepper {
    /// Advances `f` (owned cells; ghosts are refreshed inside) from `t` by one step, never past
    /// `t_end`, OR-ing this rank's `requests` with every other rank's.
    fn step(
        &mut self,
        comm: &Comm,
        f: &mut Field,
        t: f64,
        t_end: f64,
        requests: Requests,
    ) -> StepReport;

    /// The step that [`TimeStepper::step`] would take from `f` at `t`, without taking it
    /// (collective; refreshes the ghosts of `f`).
    fn next_dt(
        &mut self,
        comm: &Comm,
        f: &mut Field,
        t: f64,
        t_end: f64,
        requests: Requests,
    ) -> StepReport;

    /// Repeats a step of the original march from `f` with its recorded `dt` (collective), for
    /// the `recompute` trajectory store: a forward step is deterministic, so the result has the
    /// same bits as the original step on the same rank count.
    fn replay(&mut self, comm: &Comm, f: &mut Field, dt: f64) -> Result<(), String>;

    /// Accumulated stage timers.
    fn timers(&self) -> StageTimers;

    /// Cumulative `(Newton, Krylov)` iterations, for implicit steppers.
    fn iteration_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// Cumulative `(Newton failures, dt halvings)` of implicit steppers: step attempts whose
    /// Newton iteration did not converge (iteration limit or non-finite residual), and all
    /// rejected attempts (Newton or linear-solver failure), each of which halves `dt`.
    fn failure_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// State beyond the field that the next step depends on (saved in checkpoints so a restart
    /// continues bit for bit); empty for the explicit steppers.
    fn state(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Restores what [`TimeStepper::state`] returned.
    fn restore(&mut self, _state: &[f64]) -> Result<(), String> {
        Ok(())
    }
}

/// Bytes a stepper of `scheme` needs for a block of `[nz, ny, nx]` cells of a `dim`-dimensional
/// mesh: three fields with ghosts (state and two stages; the first stage's storage also holds
/// the kept flux divergence, so no face rates are kept block-wide) plus per-cell auxiliary
/// values (1 double for `upwind`, 3 for `sg`) and row buffers (in 3D also four planes of
/// z-faces).
pub fn block_memory_bytes(scheme: SchemeKind, dim: usize, [nz, ny, nx]: [usize; 3]) -> usize {
    let plane = (ny + 2 * GHOST) * (nx + 2 * GHOST);
    let (storage, planes) = if dim == 3 {
        (plane * (nz + 2 * GHOST), 4 * ny * nx)
    } else {
        (plane, 0)
    };
    let aux = match scheme {
        SchemeKind::Upwind => 1,
        SchemeKind::Sg => 3,
    };
    8 * (storage * (3 + aux) + 8 * (nx + 1) + 4 * ny + planes)
}

/// Builds the stepper for a scheme/stepper pair.
pub fn build_stepper(
    mesh: &Mesh,
    block: &Block,
    coefficients: FaceCoefficients,
    scheme: SchemeKind,
    stepper: StepperKind,
    control: StepControl,
) -> Box<dyn TimeStepper> {
    let builder = StepperBuilder {
        mesh,
        block,
        stepper,
        control,
    };
    scheme.build(coefficients, builder)
}

/// [`build_stepper`] for one family.
struct StepperBuilder<'a> {
    mesh: &'a Mesh,
    block: &'a Block,
    stepper: StepperKind,
    control: StepControl,
}

impl FamilyBuilder for StepperBuilder<'_> {
    type Output = Box<dyn TimeStepper>;

    fn build<F: Family + 'static>(self, family: F) -> Box<dyn TimeStepper> {
        let (mesh, block, control) = (self.mesh, self.block, self.control);
        match self.stepper {
            StepperKind::Implicit => {
                Box::new(implicit::Implicit::new(family, mesh, block, control))
            }
            explicit => Box::new(Explicit::new(family, mesh, block, explicit, control)),
        }
    }
}

/// Explicit Euler / SSP-RK2 for a flux family `F`.
pub struct Explicit<F: Family> {
    family: F,
    geom: BlockGeometry,
    interior: Region,
    rim: Vec<Region>,
    scratch: Scratch<F::Aux>,
    halo: HaloExchange,
    /// `f*`; between the rate pass of [`TimeStepper::next_dt`] and the first stage it holds
    /// the flux divergence of `f^n` per cell (when [`Explicit::divergence_kept`]).
    stage1: Field,
    /// SSP-RK2: `1/2 f^n + 1/2 f**`, swapped with `f` when the step is accepted.
    stage2: Field,
    /// Whether `stage1` holds the flux divergence of the current `f` (the rate pass keeps it
    /// for a family whose time-step rates are its flux rates).
    divergence_kept: bool,
    stepper: StepperKind,
    control: StepControl,
    timers: StageTimers,
}

impl<F: Family> Explicit<F> {
    /// A stepper for `block` of `mesh`.
    pub fn new(
        family: F,
        mesh: &Mesh,
        block: &Block,
        stepper: StepperKind,
        control: StepControl,
    ) -> Self {
        let geom = BlockGeometry::new(mesh, block);
        let (interior, rim) = geom.split_interior_rim();
        let stage1 = Field::for_dim(mesh.dim, block.nz, block.ny, block.nx);
        Explicit {
            family,
            geom,
            interior,
            rim,
            scratch: Scratch::new(&stage1),
            divergence_kept: false,
            halo: HaloExchange::new(block),
            stage2: stage1.clone(),
            stage1,
            stepper,
            control,
            timers: StageTimers::default(),
        }
    }

    /// Exchanges the halo of `f` and computes the per-cell values everywhere; while messages
    /// travel, also runs `interior(f, scratch, stage1)` on the interior. Returns its result and
    /// the rim work is left to the caller.
    fn exchange_with<R>(
        &mut self,
        comm: &Comm,
        f: &mut Field,
        interior: impl FnOnce(
            &F,
            &BlockGeometry,
            &Field,
            &mut Scratch<F::Aux>,
            &mut Field,
            &Region,
        ) -> R,
    ) -> R {
        let Explicit {
            family,
            geom,
            interior: region,
            scratch,
            stage1,
            halo,
            timers,
            ..
        } = self;
        let start = Instant::now();
        let mut overlap_time = Duration::ZERO;
        let mut aux_time = Duration::ZERO;
        let result = halo.exchange(comm, f, |f| {
            let t0 = Instant::now();
            if stage::reads_stored_aux::<F>(geom) {
                stage::fill_aux_owned(family, f, &mut scratch.aux);
            }
            aux_time = t0.elapsed();
            let r = interior(family, geom, f, scratch, stage1, region);
            overlap_time = t0.elapsed();
            r
        });
        let t1 = Instant::now();
        if stage::reads_stored_aux::<F>(geom) {
            stage::fill_aux_ghosts(family, f, &mut scratch.aux);
        }
        timers.aux += aux_time + t1.elapsed();
        timers.halo_wait += (t1 - start).saturating_sub(overlap_time);
        result
    }

    /// The positivity rate of `f` on `region` (ghosts and per-cell values current), keeping
    /// the flux divergence per cell in `stage1` when the family allows it.
    fn region_rate(
        family: &F,
        geom: &BlockGeometry,
        f: &Field,
        scratch: &mut Scratch<F::Aux>,
        stage1: &mut Field,
        region: &Region,
    ) -> f64 {
        if F::DT_RATES_ARE_FLUX_RATES {
            stage::max_rate_and_divergence(family, geom, f, scratch, region, stage1)
        } else {
            stage::max_rate(family, geom, f, scratch, region, None)
        }
    }
}

impl<F: Family> Explicit<F> {
    /// The stage updates of one step with `dt` from `f`, whose ghosts and per-cell values are
    /// current (and whose flux divergence is in `stage1` when `divergence_kept`). Euler: `f` is
    /// advanced, returns 0. SSP-RK2: returns the MAX-reduced positivity rate at `f*`; `f` is
    /// advanced to `1/2 f + 1/2 (f* + dt L(f*))` when `dt * rate(f*) <= 1` or `!check`, and left
    /// unchanged otherwise (the caller retries with a smaller dt).
    fn stages(&mut self, comm: &Comm, f: &mut Field, dt: f64, check: bool) -> f64 {
        // Stage 1, f* = f + dt L(f), on the whole block (ghosts of f are fresh): one streaming
        // pass from the kept divergence, or a pass evaluating the fluxes.
        let t0 = Instant::now();
        let whole = self.geom.whole();
        let dt_over_h = dt / self.geom.h;
        if std::mem::take(&mut self.divergence_kept) {
            stage::step_from_divergence(f, &mut self.stage1, &whole, dt_over_h);
        } else {
            stage::apply(
                &self.family,
                &self.geom,
                f,
                &mut self.scratch,
                &mut self.stage1,
                &whole,
                dt_over_h,
            );
        }
        self.timers.update += t0.elapsed();
        if self.stepper == StepperKind::Euler {
            std::mem::swap(f, &mut self.stage1);
            return 0.0;
        }
        // SSP-RK2 stage 2 and the combination, stage2 = 1/2 f + 1/2 (f* + dt L(f*)),
        // overlapped with the exchange of f*, together with the positivity rate at f*: one
        // pass per region evaluating the face rates once for all three (nothing kept: the next
        // step's rate pass is over f^{n+1}, and a rejected step evaluates the rates of f again).
        let mut stage1 = std::mem::replace(&mut self.stage1, Field::zeros(0, 0));
        let mut stage2 = std::mem::replace(&mut self.stage2, Field::zeros(0, 0));
        let mut update_time = Duration::ZERO;
        let interior_rate =
            self.exchange_with(comm, &mut stage1, |fam, geom, s1, scratch, _, region| {
                let t0 = Instant::now();
                let r = stage::max_rate_and_combine(
                    fam,
                    geom,
                    s1,
                    scratch,
                    region,
                    f,
                    &mut stage2,
                    dt_over_h,
                );
                update_time += t0.elapsed();
                r
            });
        let mut local_rate = interior_rate;
        for region in &self.rim {
            let t0 = Instant::now();
            local_rate = local_rate.max(stage::max_rate_and_combine(
                &self.family,
                &self.geom,
                &stage1,
                &mut self.scratch,
                region,
                f,
                &mut stage2,
                dt_over_h,
            ));
            update_time += t0.elapsed();
        }
        let t0 = Instant::now();
        let stage_rate = comm.max(local_rate);
        self.timers.reduce += t0.elapsed();
        self.stage1 = stage1;
        self.stage2 = stage2;
        self.timers.update += update_time;
        if !check || dt * stage_rate <= 1.0 {
            // f^{n+1} = 1/2 f^n + 1/2 f**, a convex combination of positive states, was
            // written by the pass: take it (the owned cells; ghosts are refreshed by the next
            // exchange).
            std::mem::swap(f, &mut self.stage2);
        }
        stage_rate
    }
}

impl<F: Family> TimeStepper for Explicit<F> {
    fn next_dt(
        &mut self,
        comm: &Comm,
        f: &mut Field,
        t: f64,
        t_end: f64,
        requests: Requests,
    ) -> StepReport {
        // 1-2: halo exchange overlapped with the interior rates, then the rim, then MAX. The
        // rate pass keeps the flux divergence of f in stage1 for the first stage.
        let mut rate_time = Duration::ZERO;
        let interior_rate = self.exchange_with(comm, f, |fam, geom, f, scratch, stage1, region| {
            let t0 = Instant::now();
            let r = Self::region_rate(fam, geom, f, scratch, stage1, region);
            rate_time += t0.elapsed();
            r
        });
        let t0 = Instant::now();
        let mut local_rate = interior_rate;
        for region in &self.rim {
            local_rate = local_rate.max(Self::region_rate(
                &self.family,
                &self.geom,
                f,
                &mut self.scratch,
                &mut self.stage1,
                region,
            ));
        }
        self.divergence_kept = F::DT_RATES_ARE_FLUX_RATES;
        self.timers.rate += rate_time + t0.elapsed();
        let t0 = Instant::now();
        let [r0, r1] = requests.encode();
        let reduced = comm.max_many(&[local_rate, r0, r1]);
        self.timers.reduce += t0.elapsed();
        let max_rate = reduced[0];
        let dt = (self.control.safety / max_rate)
            .min(self.control.dt_max)
            .min(t_end - t);
        StepReport {
            dt,
            max_rate,
            rejected: 0,
            requests: Requests::decode(&reduced[1..]),
        }
    }

    fn step(
        &mut self,
        comm: &Comm,
        f: &mut Field,
        t: f64,
        t_end: f64,
        requests: Requests,
    ) -> StepReport {
        let StepReport {
            mut dt,
            mut max_rate,
            requests,
            ..
        } = self.next_dt(comm, f, t, t_end, requests);
        let mut rejected = 0;
        loop {
            if rejected > 0 && stage::reads_stored_aux::<F>(&self.geom) {
                // The stage-2 pass overwrote the per-cell values with those of f*: recompute
                // them for f, whose ghosts are still current.
                stage::fill_aux_owned(&self.family, f, &mut self.scratch.aux);
                stage::fill_aux_ghosts(&self.family, f, &mut self.scratch.aux);
            }
            // After a rejection stage1 holds f*, not the divergence of f (`stages` cleared
            // `divergence_kept`): the retry evaluates the fluxes (the same bits).
            let stage_rate = self.stages(comm, f, dt, true);
            if dt * stage_rate <= 1.0 {
                return StepReport {
                    dt,
                    max_rate: max_rate.max(stage_rate),
                    rejected,
                    requests,
                };
            }
            // The rates grew within the step (a condensate sharpening): f** could turn
            // negative. Every rank saw the same MAX, so every rank retries with the same dt.
            rejected += 1;
            dt = self.control.safety / stage_rate;
            max_rate = max_rate.max(stage_rate);
        }
    }

    fn replay(&mut self, comm: &Comm, f: &mut Field, dt: f64) -> Result<(), String> {
        // Ghosts and per-cell values of f, then the stages with this dt (fluxes evaluated, no
        // divergence kept: the same bits as the original step).
        self.exchange_with(comm, f, |_, _, _, _, _, _| ());
        self.divergence_kept = false;
        self.stages(comm, f, dt, false);
        Ok(())
    }

    fn timers(&self) -> StageTimers {
        self.timers
    }
}
