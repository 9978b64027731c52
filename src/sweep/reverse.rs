//! The reverse march: from a start state `u^N` back to `u^0` through the exact discrete time
//! reversal of the recorded forward steps (MODEL.md section 6):
//!
//! ```text
//! w^N = u^N / f^N  (w = 1 where f^N = 0),   w^n = (P^n)^T w^{n+1},   u^n = f^n w^n
//! ```
//!
//! reading `f^N, ..., f^0` from a [`TrajectoryStore`]. Per reverse step it reports the mass and
//! minimum of `u^n`, `||u^n - f^n||_1` and `sup |w^n - 1|`; both norms never grow in reverse
//! time (`P^T` is a stochastic matrix's transpose, so `w` obeys a maximum principle and
//! `sum_i f^n_i |w^n_i - 1| <= sum_j f^{n+1}_j |w^{n+1}_j - 1|`).
//!
//! Start states ([`StartKind`]): the terminal state `f^N`; the data-independent asymptotic state
//! of the same mass ([`asymptotic_state`]); the terminal state with seeded multiplicative noise
//! ([`perturb`]).

use std::time::{Duration, Instant};

use crate::comm::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::io::csv::{CsvValue, CsvWriter};
use crate::mesh::Mesh;
use crate::physics::ModelParams;
use crate::sweep::score::ScoreReverse;
use crate::sweep::trajectory::TrajectoryStore;
use crate::time::reverse::{ReverseStepper, StepRates};

/// Where the reverse starts, selected by `reverse.start`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StartKind {
    /// `u^N = f^N`: the reverse returns the forward states to round-off.
    Terminal,
    /// The data-independent state of the same mass (generation).
    Asymptotic,
    /// `f^N (1 + amplitude xi)`, `xi` uniform in `[-1, 1]`, seeded per global cell.
    Perturbed {
        /// Noise amplitude, `0 <= amplitude < 1`.
        amplitude: f64,
        /// Seed.
        seed: u64,
    },
}

impl StartKind {
    /// Config name.
    pub fn name(self) -> &'static str {
        match self {
            StartKind::Terminal => "terminal",
            StartKind::Asymptotic => "asymptotic",
            StartKind::Perturbed { .. } => "perturbed",
        }
    }
}

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
}

/// Sees every reverse step (e.g. to move samples along with the reverse density). Collective.
pub trait ReverseObserver {
    /// Called once before the first reverse step with the terminal forward state `f^N` and the
    /// start state `u^N`.
    fn start(&mut self, comm: &Comm, f_end: &mut Field, u_start: &Field) -> Result<(), String>;
    /// Called after reverse step `n` (which took `w^{n+1}` to `w^n` for the forward step from
    /// `f_before = f^n` to `f_after = f^{n+1}` of size `dt`), with the new `u^n` and, when the
    /// stepper lends them, the forward coefficients it used. Without `rates`, ghosts of the
    /// fields are not guaranteed current: exchange them if needed.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        comm: &Comm,
        n: u64,
        dt: f64,
        f_before: &mut Field,
        f_after: &mut Field,
        u: &Field,
        rates: Option<StepRates<'_>>,
    ) -> Result<(), String>;
}

/// An observer that does nothing.
pub struct NoObserver;

impl ReverseObserver for NoObserver {
    fn start(&mut self, _: &Comm, _: &mut Field, _: &Field) -> Result<(), String> {
        Ok(())
    }
    fn step(
        &mut self,
        _: &Comm,
        _: u64,
        _: f64,
        _: &mut Field,
        _: &mut Field,
        _: &Field,
        _: Option<StepRates<'_>>,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// How the reverse steps are taken.
pub enum ReverseMethod<'a> {
    /// The exact discrete time reversal `w^n = (P^n)^T w^{n+1}`, `u^n = f^n w^n`.
    Exact(&'a mut dyn ReverseStepper),
    /// The direct discretisation of the stabilized reverse PDE with the score of the stored
    /// forward states (only approximately reversible); `w^n = u^n / f^n` is then a diagnostic.
    Score(&'a mut ScoreReverse),
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
}

impl ReverseMarch<'_> {
    /// Runs the reverse from `u` (= `u^N`, replaced by `u^0`), over the forward steps with sizes
    /// `dt_history` (`dt_history[n]` took `f^n` to `f^{n+1}`), reading `f^n` from `store`.
    pub fn run(
        &mut self,
        mut method: ReverseMethod,
        store: &mut dyn TrajectoryStore,
        dt_history: &[f64],
        u: &mut Field,
        observer: &mut dyn ReverseObserver,
    ) -> Result<ReverseResult, String> {
        let start = Instant::now();
        let mut store_wall = Duration::ZERO;
        let steps = dt_history.len();
        let times = forward_times(dt_history);
        let (ny, nx) = (self.block.ny, self.block.nx);
        let mut f_after = Field::zeros(ny, nx);
        let mut f_before = Field::zeros(ny, nx);
        let t0 = Instant::now();
        store.fetch(self.comm, steps as u64, &mut f_after)?;
        store_wall += t0.elapsed();
        // w^N = u^N / f^N; where f^N = 0 nothing can be transported: w = 1 (u there is lost).
        let mut w = Field::zeros(ny, nx);
        ndarray::Zip::from(w.interior_mut())
            .and(u.interior())
            .and(f_after.interior())
            .for_each(|w, &u, &f| *w = if f > 0.0 { u / f } else { 1.0 });
        let mut rows = Vec::with_capacity(steps + 1);
        let first = self.row(
            steps as u64,
            times[steps],
            dt_history.last().copied(),
            u,
            &f_after,
            &w,
            0,
            start,
        )?;
        let start_error = first.l1_to_forward;
        observer.start(self.comm, &mut f_after, u)?;
        rows.push(first);
        let mut krylov = 0u64;
        for n in (0..steps).rev() {
            let t0 = Instant::now();
            store.fetch(self.comm, n as u64, &mut f_before)?;
            store_wall += t0.elapsed();
            let mut krylov_step = 0;
            match &mut method {
                ReverseMethod::Exact(stepper) => {
                    let report = stepper.step(
                        self.comm,
                        &mut f_before,
                        &mut f_after,
                        dt_history[n],
                        &mut w,
                    )?;
                    krylov_step = report.krylov_iterations;
                    ndarray::Zip::from(u.interior_mut())
                        .and(f_before.interior())
                        .and(w.interior())
                        .for_each(|u, &f, &w| *u = f * w);
                }
                ReverseMethod::Score(score) => {
                    score.interval(self.comm, u, &mut f_after, &mut f_before, dt_history[n]);
                    ndarray::Zip::from(w.interior_mut())
                        .and(f_before.interior())
                        .and(u.interior())
                        .for_each(|w, &f, &u| *w = if f > 0.0 { u / f } else { 1.0 });
                }
            }
            krylov += krylov_step as u64;
            let row = self.row(
                n as u64,
                times[n],
                Some(dt_history[n]),
                u,
                &f_before,
                &w,
                krylov_step,
                start,
            )?;
            rows.push(row);
            observer.step(
                self.comm,
                n as u64,
                dt_history[n],
                &mut f_before,
                &mut f_after,
                u,
                match &method {
                    ReverseMethod::Exact(stepper) => stepper.step_rates(),
                    ReverseMethod::Score(_) => None,
                },
            )?;
            std::mem::swap(&mut f_before, &mut f_after);
        }
        let reconstruction_error = rows.last().map_or(0.0, |r| r.l1_to_forward);
        Ok(ReverseResult {
            rows,
            start_error,
            reconstruction_error,
            wall: start.elapsed(),
            store_wall,
            krylov_iterations: krylov,
        })
    }

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
        let (mut mass, mut l1) = (0.0f64, 0.0f64);
        let (mut min, mut max, mut sup_w) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
        let mut finite = true;
        ndarray::Zip::from(u.interior())
            .and(f.interior())
            .and(w.interior())
            .for_each(|&u, &f, &w| {
                mass += u;
                l1 += (u - f).abs();
                min = min.min(u);
                max = max.max(u);
                finite &= u.is_finite();
                if f > 0.0 {
                    sup_w = sup_w.max((w - 1.0).abs());
                }
            });
        let sums = self.comm.sum_many(&[mass * vol, l1 * vol]);
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

/// The data-independent asymptotic state of mass `mass` on `mesh`, this rank's block
/// (MODEL.md section 6, generation):
///
/// * if a critical mass exists and `mass > sum_{j != centre} f_c(x_j) h^d` (the discrete
///   critical mass): `f_c(x_j)` off the centre and the remaining mass in the centre cell, i.e.
///   `f_c + (m - m_c) delta_0` on the grid;
/// * otherwise the nodal values `f_beta(x_j)` with `beta` such that `sum_j f_beta(x_j) h^d = m`
///   (bisection; closed form for `kappa = 0`, where `f_beta` is the Gaussian `N(0, D)` shape).
///
/// Every rank sums over the whole grid in the same order, so the state is bit-identical for any
/// rank count (no reduction involved).
pub fn asymptotic_state(params: &ModelParams, mesh: &Mesh, block: &Block, mass: f64) -> Field {
    let vol = mesh.cell_volume();
    let centre = mesh.centre_index();
    // r^2 of every cell, as a multiset: a sum over the grid in a fixed order.
    let r2_of = |iy: usize, ix: usize| {
        let [x, y] = mesh.cell_centre(iy, ix);
        x * x + y * y
    };
    let grid_sum = |value: &dyn Fn(f64) -> f64, skip_centre: bool| {
        let mut total = 0.0;
        for iy in 0..mesh.ny() {
            for ix in 0..mesh.nx() {
                let at_centre = ix == centre && (mesh.dim == 1 || iy == centre);
                if !(skip_centre && at_centre) {
                    total += value(r2_of(iy, ix));
                }
            }
        }
        total * vol
    };
    let condensed = params.critical_mass(mesh.dim).and_then(|_| {
        let off_centre = grid_sum(&|r2| params.steady_state(r2, 0.0), true);
        (mass > off_centre).then_some((mass - off_centre) / vol)
    });
    let beta = if condensed.is_some() {
        0.0
    } else if params.kappa == 0.0 {
        // f_beta = exp(-(r^2/(2D) + beta)): the sum factors.
        let shape = grid_sum(&|r2| params.steady_state(r2, 0.0), false);
        (shape / mass).ln()
    } else {
        beta_for_discrete_mass(mass, &|beta| {
            grid_sum(&|r2| params.steady_state(r2, beta), false)
        })
    };
    let mut f = Field::zeros(block.ny, block.nx);
    for j in 0..block.ny {
        for i in 0..block.nx {
            let (iy, ix) = (block.y0 + j, block.x0 + i);
            let at_centre = ix == centre && (mesh.dim == 1 || iy == centre);
            let v = match condensed {
                Some(centre_value) if at_centre => centre_value,
                _ => params.steady_state(r2_of(iy, ix), beta),
            };
            let k = f.index(j as isize, i as isize);
            f.raw_mut()[k] = v;
        }
    }
    f
}

/// `beta > 0` with `discrete_mass(beta) = mass` (decreasing in `beta`, `+inf` at 0 on a grid
/// containing the origin), by bisection in `ln beta`.
fn beta_for_discrete_mass(mass: f64, discrete_mass: &dyn Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = (1e-300f64, 1.0f64);
    while discrete_mass(hi) > mass && hi < 1e6 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = if hi / lo > 4.0 {
            (lo * hi).sqrt()
        } else {
            0.5 * (lo + hi)
        };
        if mid <= lo || mid >= hi {
            break;
        }
        if discrete_mass(mid) > mass {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// `f (1 + amplitude xi)` with `xi` uniform in `[-1, 1)`, a hash of `(seed, global cell index)`:
/// the same numbers for any rank count.
pub fn perturb(mesh: &Mesh, block: &Block, f: &mut Field, amplitude: f64, seed: u64) {
    for j in 0..block.ny {
        for i in 0..block.nx {
            let index = ((block.y0 + j) * mesh.nx() + block.x0 + i) as u64;
            let xi = 2.0 * crate::random::uniform(seed, index, 0) - 1.0;
            let k = f.index(j as isize, i as isize);
            f.raw_mut()[k] *= 1.0 + amplitude * xi;
        }
    }
}
