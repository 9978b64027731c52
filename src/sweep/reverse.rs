//! The reverse march: from a start state `u^N` back to `u^0` through the exact discrete time
//! reversal of the recorded forward steps (MODEL.md section 6):
//!
//! ```text
//! w^N = u^N / f^N  (w = 1 where f^N = 0),   w^n = (P^n)^T w^{n+1},   u^n = f^n w^n
//! ```
//!
//! reading `f^N, ..., f^0` from a [`TrajectoryStore`]. Per reverse step it reports the mass and
//! minimum of `u^n`, `||u^n - f^n||_1` and `sup |w^n - 1|` (the mass and the L1 norm as exact
//! sums of the cells, rounded once and times the cell volume: the same bits on every rank
//! count, [`Comm::sum_exact_many`]); both norms never grow in reverse
//! time (`P^T` is a stochastic matrix's transpose, so `w` obeys a maximum principle and
//! `sum_i f^n_i |w^n_i - 1| <= sum_j f^{n+1}_j |w^{n+1}_j - 1|`). Or, with
//! [`ReverseMethod::Score`], the direct discretisation of the stabilized reverse PDE with the
//! score of the stored (optionally smoothed) forward states.
//!
//! The march has explicit state between steps ([`ReverseState`]: the step reached, `u`, `w`,
//! the counters): [`ReverseMarch::start`] makes it from `u^N`, [`ReverseMarch::run`] takes it to
//! `n = 0`, [`ReverseState::result`] sums it up. Observers ([`super::observers`]) see the start
//! and every step.

use std::time::{Duration, Instant};

use super::observers::{ReverseObserver, ReverseStep};
use crate::comm::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::io::checkpoint::{Loaded, Saved};
use crate::io::csv::{CsvValue, CsvWriter};
use crate::mesh::Mesh;
use crate::names::named_enum;
use crate::numeric::exact_sum::ExactSum;
use crate::progress::ReverseProgress;
use crate::sweep::forward::format_duration;
use crate::sweep::score::ScoreReverse;
use crate::sweep::trajectory::TrajectoryStore;
use crate::time::reverse::ReverseStepper;

/// The CSV header of the reverse diagnostics.
pub const REVERSE_HEADER: [&str; 10] = [
    "step",
    "t",
    "dt",
    "mass",
    "min",
    "max",
    "l1_to_forward",
    "sup_w_minus_1",
    "krylov_iterations",
    "wall_seconds",
];

/// One row of reverse diagnostics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReverseRow {
    /// Forward step index `n` of `u^n`.
    pub step: u64,
    /// Forward time `t_n`.
    pub t: f64,
    /// `sum u h^d`.
    pub mass: f64,
    /// `min u`.
    pub min: f64,
    /// `max u`.
    pub max: f64,
    /// `||u^n - f^n||_1 = sum |u - f| h^d`.
    pub l1_to_forward: f64,
    /// `sup |w^n - 1|` over cells with `f^n > 0`.
    pub sup_w_minus_1: f64,
}

/// What a reverse march did.
#[derive(Clone, Debug)]
pub struct ReverseResult {
    /// Rows, from `n = N` down to `n = 0`.
    pub rows: Vec<ReverseRow>,
    /// The start error `||u^N - f^N||_1`.
    pub start_error: f64,
    /// `||u^0 - f^0||_1`: the reconstruction error of the data.
    pub reconstruction_error: f64,
    /// Wall time of the reverse steps (store reads included).
    pub wall: Duration,
    /// Wall time spent reading the store (recomputation included).
    pub store_wall: Duration,
    /// Krylov iterations (implicit).
    pub krylov_iterations: u64,
    /// Sub-steps of the score method (0 for the exact one).
    pub substeps: u64,
}

/// A map applied to every forward state the score method reads (the filter's smoothing).
pub trait StateMap {
    /// Replaces `f` (owned cells; ghosts may be used as scratch) by its image. Collective.
    fn apply(&mut self, comm: &Comm, f: &mut Field);
}

named_enum! {
    /// How the reverse steps are taken, selected by `reverse.method` (the name of a
    /// [`ReverseMethod`], which holds the stepper).
    pub enum ReverseKind {
        /// The exact discrete time reversal of every forward step.
        Exact = "exact",
        /// The direct discretisation of the stabilized reverse PDE with the score.
        Score = "score",
    }
}

/// How the reverse steps are taken, with the stepper that takes them.
pub enum ReverseMethod {
    /// The exact discrete time reversal `w^n = (P^n)^T w^{n+1}`, `u^n = f^n w^n`.
    Exact(Box<dyn ReverseStepper>),
    /// The direct discretisation of the stabilized reverse PDE with the score of the stored
    /// forward states, each first mapped by `smoothing` when given (only approximately
    /// reversible); `w^n = u^n / f^n` is then a diagnostic.
    Score {
        /// The score reverse.
        reverse: Box<ScoreReverse>,
        /// Applied to every stored state before its score is taken (after the start row).
        smoothing: Option<Box<dyn StateMap>>,
    },
}

/// Where a reverse march stands between two steps.
pub struct ReverseState {
    /// `u` and `w` hold `u^n`, `w^n` of this forward step index `n` (`N` at the start).
    pub step: u64,
    /// `u^n` (owned cells).
    pub u: Field,
    /// `w^n` (owned cells).
    pub w: Field,
    /// `f^n` as the method reads it (fetched from the store again on a resume).
    pub f: Field,
    /// Rows so far, from `N` down.
    pub rows: Vec<ReverseRow>,
    /// Krylov iterations so far.
    pub krylov: u64,
    /// Score sub-steps so far.
    pub substeps: u64,
    /// Time spent reading the store so far.
    pub store_wall: Duration,
    clock: Instant,
}

impl ReverseState {
    /// The march's part of a checkpoint: `w`, `f_n` (`f^n` as the method read it), and the
    /// small arrays `reverse` (`n`, Krylov iterations, sub-steps) and `reverse_rows` (seven
    /// numbers per row). `u` is the checkpoint's `f`.
    pub fn save(&self) -> Saved {
        let mut rows = Vec::with_capacity(7 * self.rows.len());
        for r in &self.rows {
            rows.extend([
                r.step as f64,
                r.t,
                r.mass,
                r.min,
                r.max,
                r.l1_to_forward,
                r.sup_w_minus_1,
            ]);
        }
        Saved {
            fields: vec![("w".into(), self.w.clone()), ("f_n".into(), self.f.clone())],
            small: vec![
                (
                    "reverse".into(),
                    vec![self.step as f64, self.krylov as f64, self.substeps as f64],
                ),
                ("reverse_rows".into(), rows),
            ],
        }
    }

    /// The state a checkpoint of [`ReverseState::save`] restores, with `u` its `f`.
    pub fn resume(loaded: &mut Loaded) -> Result<ReverseState, String> {
        let counters = loaded.small("reverse")?.to_vec();
        let rows: Vec<ReverseRow> = loaded
            .small("reverse_rows")?
            .chunks_exact(7)
            .map(|r| ReverseRow {
                step: r[0] as u64,
                t: r[1],
                mass: r[2],
                min: r[3],
                max: r[4],
                l1_to_forward: r[5],
                sup_w_minus_1: r[6],
            })
            .collect();
        let [step, krylov, substeps] = counters[..] else {
            return Err(format!(
                "{}: dataset reverse has {} entries, expected 3",
                loaded.path.display(),
                counters.len()
            ));
        };
        let u = std::mem::replace(&mut loaded.f, Field::zeros(0, 0));
        Ok(ReverseState {
            step: step as u64,
            u,
            w: loaded.take_field("w")?,
            f: loaded.take_field("f_n")?,
            rows,
            krylov: krylov as u64,
            substeps: substeps as u64,
            store_wall: Duration::ZERO,
            clock: Instant::now(),
        })
    }

    /// What the march did (after [`ReverseMarch::run`]).
    pub fn result(self) -> ReverseResult {
        ReverseResult {
            start_error: self.rows.first().map_or(0.0, |r| r.l1_to_forward),
            reconstruction_error: self.rows.last().map_or(0.0, |r| r.l1_to_forward),
            rows: self.rows,
            wall: self.clock.elapsed(),
            store_wall: self.store_wall,
            krylov_iterations: self.krylov,
            substeps: self.substeps,
        }
    }
}

/// The reverse march over one block.
pub struct ReverseMarch<'a> {
    /// Communicator.
    pub comm: &'a Comm,
    /// Global grid.
    pub mesh: &'a Mesh,
    /// This rank's block.
    pub block: &'a Block,
    /// Reverse diagnostics CSV (rank 0 only).
    pub csv: Option<CsvWriter>,
    /// How the steps are taken.
    pub method: ReverseMethod,
    /// Progress lines (phase `reverse`, rank 0).
    pub progress: ReverseProgress,
}

impl ReverseMarch<'_> {
    /// The state at `n = N` for the start state `u` (= `u^N`) after the forward steps
    /// `dt_history`: fetches `f^N`, writes the first row and shows the start to `observer`.
    pub fn start(
        &mut self,
        store: &mut dyn TrajectoryStore,
        dt_history: &[f64],
        u: Field,
        observer: &mut dyn ReverseObserver,
    ) -> Result<ReverseState, String> {
        let clock = Instant::now();
        let steps = dt_history.len() as u64;
        let mut f = Field::of_block(self.mesh, self.block);
        store.fetch(self.comm, steps, &mut f)?;
        let store_wall = clock.elapsed();
        // w^N = u^N / f^N; where f^N = 0 nothing can be transported: w = 1 (u there is lost).
        let mut w = Field::of_block(self.mesh, self.block);
        ratio(&mut w, &u, &f);
        let t_end = forward_time(dt_history, dt_history.len());
        let first = self.row(
            steps,
            t_end,
            dt_history.last().copied(),
            &u,
            &f,
            &w,
            0,
            clock,
        )?;
        observer.start(self.comm, &mut f, &u)?;
        if let ReverseMethod::Score {
            smoothing: Some(map),
            ..
        } = &mut self.method
        {
            map.apply(self.comm, &mut f);
        }
        Ok(ReverseState {
            step: steps,
            u,
            w,
            f,
            rows: vec![first],
            krylov: 0,
            substeps: 0,
            store_wall,
            clock,
        })
    }

    /// Takes `state` down to `n = 0` over the forward steps `dt_history` (`dt_history[n]` took
    /// `f^n` to `f^{n+1}`), reading `f^n` from `store`; `observer` sees every step.
    pub fn run(
        &mut self,
        store: &mut dyn TrajectoryStore,
        dt_history: &[f64],
        state: &mut ReverseState,
        observer: &mut dyn ReverseObserver,
    ) -> Result<(), String> {
        self.run_until(store, dt_history, state, observer, &mut |_| false)
            .map(|_| ())
    }

    /// [`ReverseMarch::run`], asking `pause` before every step (with the step `n` reached):
    /// when it says so, returns `false` with `state` at that step boundary (to checkpoint it
    /// and go on, or stop); `true` once `n = 0` is reached. `pause` must answer alike on every
    /// rank.
    pub fn run_until(
        &mut self,
        store: &mut dyn TrajectoryStore,
        dt_history: &[f64],
        state: &mut ReverseState,
        observer: &mut dyn ReverseObserver,
        pause: &mut dyn FnMut(u64) -> bool,
    ) -> Result<bool, String> {
        let times = forward_times(dt_history);
        let mut f_before = Field::of_block(self.mesh, self.block);
        let (u, w, f) = (&mut state.u, &mut state.w, &mut state.f);
        for n in (0..state.step).rev() {
            if pause(n + 1) {
                return Ok(false);
            }
            let t0 = Instant::now();
            store.fetch(self.comm, n, &mut f_before)?;
            state.store_wall += t0.elapsed();
            let dt = dt_history[n as usize];
            let mut krylov_step = 0;
            match &mut self.method {
                ReverseMethod::Exact(stepper) => {
                    let report = stepper.step(self.comm, &mut f_before, f, dt, w)?;
                    krylov_step = report.krylov_iterations;
                    ndarray::Zip::from(u.interior3_mut())
                        .and(f_before.interior3())
                        .and(w.interior3())
                        .for_each(|u, &f, &w| *u = f * w);
                }
                ReverseMethod::Score { reverse, smoothing } => {
                    if let Some(map) = smoothing {
                        map.apply(self.comm, &mut f_before);
                    }
                    state.substeps += reverse.interval(self.comm, u, f, &mut f_before, dt) as u64;
                    ratio(w, u, &f_before);
                }
            }
            state.krylov += krylov_step as u64;
            let row = self.row(
                n,
                times[n as usize],
                Some(dt),
                u,
                &f_before,
                w,
                krylov_step,
                state.clock,
            )?;
            state.rows.push(row);
            let rates = match &self.method {
                ReverseMethod::Exact(stepper) => stepper.step_rates(),
                ReverseMethod::Score { .. } => None,
            };
            let step = ReverseStep {
                n,
                dt,
                f_before: &mut f_before,
                f_after: f,
                u,
                rates,
            };
            observer.step(self.comm, step)?;
            std::mem::swap(&mut f_before, f);
            state.step = n;
            let (t, krylov, store) = (times[n as usize], state.krylov, state.store_wall);
            self.progress.step(n, || {
                // The store's wall time includes recomputed segments (`reverse.store =
                // "recompute"`), so a slow segment shows here.
                format!(
                    "t = {t:.4e}  krylov {krylov}  store {}",
                    format_duration(store.as_secs_f64())
                )
            });
        }
        Ok(true)
    }

    // One diagnostics row from the three fields of a reverse step and its counters (no layout:
    // the mesh is `self`'s).
    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        step: u64,
        t: f64,
        dt: Option<f64>,
        u: &Field,
        f: &Field,
        w: &Field,
        krylov: usize,
        start: Instant,
    ) -> Result<ReverseRow, String> {
        let vol = self.mesh.cell_volume();
        // Exact sums, rounded once: the same bits on every rank count and process grid.
        let (mut mass, mut l1) = (ExactSum::new(), ExactSum::new());
        let (mut min, mut max, mut sup_w) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
        let mut finite = true;
        ndarray::Zip::from(u.interior3())
            .and(f.interior3())
            .and(w.interior3())
            .for_each(|&u, &f, &w| {
                mass.add(u);
                l1.add((u - f).abs());
                min = min.min(u);
                max = max.max(u);
                finite &= u.is_finite();
                if f > 0.0 {
                    sup_w = sup_w.max((w - 1.0).abs());
                }
            });
        let sums = self.comm.sum_exact_many(&[mass, l1]);
        let sums = [sums[0] * vol, sums[1] * vol];
        let maxes = self
            .comm
            .max_many(&[max, -min, sup_w, f64::from(u8::from(!finite))]);
        let row = ReverseRow {
            step,
            t,
            mass: sums[0],
            min: -maxes[1],
            max: maxes[0],
            l1_to_forward: sums[1],
            sup_w_minus_1: maxes[2],
        };
        if let Some(csv) = &mut self.csv {
            let written = csv.row(&[
                CsvValue::Int(step),
                t.into(),
                dt.unwrap_or(0.0).into(),
                row.mass.into(),
                row.min.into(),
                row.max.into(),
                row.l1_to_forward.into(),
                row.sup_w_minus_1.into(),
                CsvValue::Int(krylov as u64),
                start.elapsed().as_secs_f64().into(),
            ]);
            if let Err(e) = written {
                log::error!("{e}");
                self.comm.abort(1);
            }
        }
        if maxes[3] > 0.0 {
            return Err(format!(
                "non-finite reverse density at step {step} (t = {t:e})"
            ));
        }
        Ok(row)
    }
}

/// `w = u / f` on owned cells, `1` where `f = 0`.
fn ratio(w: &mut Field, u: &Field, f: &Field) {
    ndarray::Zip::from(w.interior3_mut())
        .and(u.interior3())
        .and(f.interior3())
        .for_each(|w, &u, &f| *w = if f > 0.0 { u / f } else { 1.0 });
}

/// `t_n = sum_{k < n} dt_k`, accumulated in the same order as the forward march.
pub fn forward_times(dt_history: &[f64]) -> Vec<f64> {
    let mut times = Vec::with_capacity(dt_history.len() + 1);
    let mut t = 0.0;
    times.push(t);
    for dt in dt_history {
        t += dt;
        times.push(t);
    }
    times
}

/// `t_n` alone (the same sum as [`forward_times`]).
fn forward_time(dt_history: &[f64], n: usize) -> f64 {
    dt_history[..n].iter().fold(0.0, |t, dt| t + dt)
}
