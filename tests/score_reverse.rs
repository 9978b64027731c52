//! The score-based reverse step (`sweep::score::ScoreReverse`) on the classical baseline
//! (`kappa = 0`, Gaussian-mixture data, exact OU density and score):
//!
//! 1. convergence: reverse from the exact `f(T)` (nodal values) back to `t = 0`, with the grid
//!    score from exact nodal forward states at the interval ends and with the exact score
//!    closure; `||u - f0||_1` falls at order at least 1.8 for Scharfetter–Gummel
//!    (`lambda = 1`) and at least 0.9 for upwind (`lambda = 0`, probability flow) under
//!    refinement of `h` and the forward intervals together, 1D and 2D; mass kept to 1e-12
//!    relative, `u >= 0`;
//! 2. memorisation: started from `q = m N(0, D)` the reverse mass per data peak matches
//!    `physics::ou::memorisation_weights` to 1e-3 m, and the mean squared distance to the
//!    nearest data point at `t = 0.02` matches the exact reverse solution (quadrature) to 1%
//!    (it is close to the sqrt(t) law `2 D t`);
//! 3. bit-identical fields and sub-step counts at 1, 2 and 3 ranks (automatic and 1xP / Px1
//!    process grids), grid and closure mode, linear and nonlinear forward coefficients, and a
//!    closure whose rates burst inside an interval (the interval is redone): rank 0 also runs
//!    the single-block reference on `Comm::solo` and compares bit for bit.
//!
//! Run by `cargo test` as a plain program that relaunches itself under `mpirun` at 1, 2, 3
//! ranks; the convergence and memorisation studies run at 1 rank.

mod common;

use nlfp::comm::{self, Comm};
use nlfp::decomp::{Block, ProcessGrid};
use nlfp::field::Field;
use nlfp::mesh::Mesh;
use nlfp::physics::ou::{
    memorisation_weights, mixture_mean_square_distance, noise_variance, GaussianComponent,
    GaussianMixture,
};
use nlfp::physics::quadrature::tanh_sinh;
use nlfp::sweep::score::ScoreReverse;

/// Where the score comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Exact nodal forward states at the interval ends, grid score.
    Grid,
    /// The exact closure.
    Exact,
    /// A closure whose score bursts (x 200) in the middle of the interval `[0.3, 0.4]`: the
    /// end-point rates underestimate the sub-step bound, so the interval is redone.
    Burst,
}

/// The [`Mode::Burst`] closure: `fh = 1`, score `-x (1 + 200 exp(-((t - 0.35)/0.01)^2))`.
fn burst(t: f64, x: [f64; 2]) -> (f64, [f64; 2]) {
    let b = 1.0 + 200.0 * (-((t - 0.35) / 0.01).powi(2)).exp();
    (1.0, [-x[0] * b, -x[1] * b])
}

/// One reverse run: parameters and layout.
struct Run<'a> {
    mesh: Mesh,
    grid: ProcessGrid,
    data: &'a GaussianMixture,
    diffusion: f64,
    kappa: f64,
    lambda: f64,
    /// Reverse from forward time `t_final` down to `t_end` in `intervals` equal intervals.
    t_final: f64,
    t_end: f64,
    intervals: usize,
    mode: Mode,
    /// Start from `q = m N(0, D I)` instead of the exact `f(t_final)`.
    start_from_q: bool,
}

/// Result of a run on rank 0: the global field (row-major, global order), and counts.
struct Outcome {
    field: Vec<f64>,
    substeps: usize,
    retries: u64,
    mass_start: f64,
}

fn fill(mesh: &Mesh, block: &Block, f: &mut Field, g: impl Fn([f64; 2]) -> f64) {
    for j in 0..block.ny {
        for i in 0..block.nx {
            let k = f.index(j as isize, i as isize);
            f.raw_mut()[k] = g(mesh.cell_centre(block.y0 + j, block.x0 + i));
        }
    }
}

/// The global field on rank 0 (empty elsewhere).
fn gather(comm: &Comm, mesh: &Mesh, grid: ProcessGrid, f: &Field) -> Vec<f64> {
    let local: Vec<f64> = f.interior().iter().copied().collect();
    let parts = comm.gather_to_root(&local);
    if !comm.is_root() {
        return Vec::new();
    }
    let nx = mesh.nx();
    let mut global = vec![f64::NAN; mesh.cells()];
    for (r, part) in parts.iter().enumerate() {
        let b = Block::new(mesh, grid, r);
        for j in 0..b.ny {
            for i in 0..b.nx {
                global[(b.y0 + j) * nx + b.x0 + i] = part[j * b.nx + i];
            }
        }
    }
    global
}

impl Run<'_> {
    /// Runs on the block of this rank (`grid` must match the communicator size).
    fn go(&self, comm: &Comm) -> Outcome {
        let mesh = &self.mesh;
        assert_eq!(self.grid.size(), comm.size());
        let block = Block::new(mesh, self.grid, comm.rank());
        let (d, data) = (self.diffusion, self.data);
        let mut stepper = ScoreReverse::new(mesh, &block, d, self.kappa, 2.0, self.lambda, 0.9);
        let mut u = Field::zeros(block.ny, block.nx);
        if self.start_from_q {
            let m = data.total_mass();
            let dim = mesh.dim as f64;
            fill(mesh, &block, &mut u, |x| {
                let r2 = x[0] * x[0] + if mesh.dim == 2 { x[1] * x[1] } else { 0.0 };
                m * (2.0 * std::f64::consts::PI * d).powf(-0.5 * dim) * (-0.5 * r2 / d).exp()
            });
        } else {
            let f_t = data.evolve(self.t_final, d);
            fill(mesh, &block, &mut u, |x| f_t.density(x));
        }
        let cell = mesh.cell_volume();
        let mass = |u: &Field| -> f64 {
            let g = gather(comm, mesh, self.grid, u);
            g.iter().sum::<f64>() * cell
        };
        let mass_start = mass(&u);
        let times: Vec<f64> = (0..=self.intervals)
            .map(|j| self.t_end + (self.t_final - self.t_end) * j as f64 / self.intervals as f64)
            .collect();
        let mut fh_start = Field::zeros(block.ny, block.nx);
        let mut fh_end = Field::zeros(block.ny, block.nx);
        let closure = |t: f64, x: [f64; 2]| data.evolved_density_and_score(t, d, x);
        let mut substeps = 0;
        for j in (0..self.intervals).rev() {
            let (t_hi, t_lo) = (times[j + 1], times[j]);
            substeps += match self.mode {
                Mode::Grid => {
                    let (a, b) = (data.evolve(t_hi, d), data.evolve(t_lo, d));
                    fill(mesh, &block, &mut fh_start, |x| a.density(x));
                    fill(mesh, &block, &mut fh_end, |x| b.density(x));
                    stepper.interval(comm, &mut u, &mut fh_start, &mut fh_end, t_hi - t_lo)
                }
                Mode::Exact => stepper.interval_exact(comm, &mut u, &closure, t_hi, t_hi - t_lo),
                Mode::Burst => stepper.interval_exact(comm, &mut u, &burst, t_hi, t_hi - t_lo),
            };
        }
        Outcome {
            field: gather(comm, mesh, self.grid, &u),
            substeps,
            retries: stepper.stats().retries,
            mass_start,
        }
    }
}

fn data(dim: usize) -> GaussianMixture {
    let c = |weight: f64, mean: [f64; 2], std: f64| GaussianComponent { weight, mean, std };
    if dim == 1 {
        GaussianMixture::new(1, vec![c(0.6, [-1.0, 0.0], 0.5), c(0.4, [1.5, 0.0], 0.7)])
    } else {
        GaussianMixture::new(2, vec![c(0.6, [-1.0, 0.5], 0.5), c(0.4, [1.2, -0.8], 0.7)])
    }
}

/// Checks that fail are collected as messages.
struct Checks {
    errors: Vec<String>,
}

impl Checks {
    fn check(&mut self, ok: bool, msg: String) {
        if !ok {
            self.errors.push(msg);
        }
    }

    /// Mass kept to 1e-12 relative and positivity.
    fn mass_and_sign(&mut self, what: &str, out: &Outcome, cell: f64) {
        let mass: f64 = out.field.iter().sum::<f64>() * cell;
        let drift = (mass - out.mass_start).abs() / out.mass_start;
        self.check(drift <= 1e-12, format!("{what}: mass drift {drift:e}"));
        let min = out.field.iter().copied().fold(f64::INFINITY, f64::min);
        self.check(min >= 0.0, format!("{what}: min u = {min:e}"));
    }
}

/// 1. Convergence at the expected order (rank 0 prints the table).
fn convergence(comm: &Comm, checks: &mut Checks) {
    let d = 1.0;
    for dim in [1usize, 2] {
        let mix = data(dim);
        for (lambda, min_order) in [(1.0, 1.8), (0.0, 0.9)] {
            // Upwind is cheap (few sub-steps) and needs finer grids to leave the pre-asymptotic
            // range.
            let ns: &[usize] = match (dim, lambda > 0.0) {
                (1, true) => &[61, 121, 241],
                (1, false) => &[121, 241, 481],
                (_, true) => &[31, 61, 121],
                (_, false) => &[61, 121, 241],
            };
            for mode in [Mode::Grid, Mode::Exact] {
                let mut errors = Vec::new();
                for &n in ns {
                    let mesh = Mesh::new(dim, n, 6.0);
                    let run = Run {
                        mesh,
                        grid: ProcessGrid::planar(1, 1),
                        data: &mix,
                        diffusion: d,
                        kappa: 0.0,
                        lambda,
                        t_final: 1.0,
                        t_end: 0.0,
                        // Forward intervals refined with h: dt = 0.1 at n = 61 (1D) / 31 (2D).
                        intervals: 10 * n / if dim == 1 { 61 } else { 31 },
                        mode,
                        start_from_q: false,
                    };
                    let clock = std::time::Instant::now();
                    let out = run.go(comm);
                    let what = format!("{dim}D lambda {lambda} {mode:?} n {n}");
                    let cell = mesh.cell_volume();
                    checks.mass_and_sign(&what, &out, cell);
                    let mut err = 0.0;
                    for iy in 0..mesh.ny() {
                        for ix in 0..mesh.nx() {
                            let f0 = mix.density(mesh.cell_centre(iy, ix));
                            err += (out.field[iy * mesh.nx() + ix] - f0).abs();
                        }
                    }
                    err *= cell;
                    println!(
                        "  {what}: ||u - f0||_1 = {err:.3e}, {} sub-steps, {} retries, {:.2} s",
                        out.substeps,
                        out.retries,
                        clock.elapsed().as_secs_f64()
                    );
                    errors.push(err);
                }
                let orders = common::orders(&errors, ns);
                println!("  {dim}D lambda {lambda} {mode:?}: orders {orders:.2?}");
                let last = *orders.last().unwrap();
                checks.check(
                    last >= min_order,
                    format!("{dim}D lambda {lambda} {mode:?}: order {last:.2} < {min_order}"),
                );
            }
        }
    }
}

/// 2. Memorisation: reverse from q with the exact score; mass per data peak vs the closed form.
fn memorisation(comm: &Comm, checks: &mut Checks) {
    let d = 1.0;
    let c = |weight: f64, x: f64| GaussianComponent {
        weight,
        mean: [x, 0.0],
        std: 0.05,
    };
    let mix = GaussianMixture::new(1, vec![c(0.5, -2.0), c(0.3, 0.5), c(0.7, 2.5)]);
    let m = mix.total_mass();
    let t_end = 0.02;
    for t_final in [0.25, 0.7] {
        let weights = memorisation_weights(&mix, t_final, d);
        let mesh = Mesh::new(1, 481, 6.0);
        let run = Run {
            mesh,
            grid: ProcessGrid::planar(1, 1),
            data: &mix,
            diffusion: d,
            kappa: 0.0,
            lambda: 1.0,
            t_final,
            t_end,
            intervals: 20,
            mode: Mode::Exact,
            start_from_q: true,
        };
        let out = run.go(comm);
        let what = format!("memorisation T {t_final}");
        checks.mass_and_sign(&what, &out, mesh.h);
        // Mass in the nearest-peak cells of the evolved peak centres at t_end, normalised by
        // the discrete start mass (the grid truncates q's tails at |x| = 6).
        let shrink = (-t_end).exp();
        let mut per_peak = [0.0; 3];
        let mut msd = 0.0;
        for ix in 0..mesh.nx() {
            let x = mesh.centre(ix);
            let k = (0..3)
                .min_by(|&a, &b| {
                    let da = (x - shrink * mix.components[a].mean[0]).abs();
                    let db = (x - shrink * mix.components[b].mean[0]).abs();
                    da.total_cmp(&db)
                })
                .unwrap();
            per_peak[k] += out.field[ix] * mesh.h;
            let to_data = (0..3)
                .map(|k| (x - mix.components[k].mean[0]).powi(2))
                .fold(f64::INFINITY, f64::min);
            msd += out.field[ix] * mesh.h * to_data;
        }
        let scale = m / out.mass_start;
        let mut worst: f64 = 0.0;
        for k in 0..3 {
            worst = worst.max((per_peak[k] * scale - weights[k]).abs());
        }
        println!(
            "  {what}: peak masses {:.6?} vs closed form {weights:.6?}, max diff {worst:.2e} ({} sub-steps)",
            per_peak.iter().map(|p| p * scale).collect::<Vec<_>>(),
            out.substeps
        );
        checks.check(worst <= 1e-3 * m, format!("{what}: weight error {worst:e}"));
        // Concentration: mean squared distance to the nearest data point at forward time t_end,
        // against the exact reverse solution u(t_end, x) = f_t(x) E[q(X_T)/f_T(X_T) | X_t = x]
        // (quadrature), and the sqrt(t) law for the peak masses W_k,
        // sum_k W_k/m [ (e^-2t s^2 + sigma_t^2) + (1 - e^-t)^2 mu_k^2 ] ~ 2 D t.
        msd /= out.mass_start;
        let exact = exact_reverse_msd(&mix, d, t_final, t_end);
        let law: f64 = (0..3)
            .map(|k| {
                let single = GaussianMixture::new(1, vec![mix.components[k]]);
                weights[k] / m * mixture_mean_square_distance(&single, t_end, d)
            })
            .sum();
        let rel = (msd - exact).abs() / exact;
        println!(
            "  {what}: mean squared distance to the data {msd:.5e}, exact {exact:.5e}, \
             peak-mass law {law:.5e}, 2 D t = {:.3e}",
            2.0 * d * t_end
        );
        checks.check(
            rel < 1e-2,
            format!("{what}: msd {msd:e} vs exact {exact:e}"),
        );
    }
}

/// `int_a^b` by tanh-sinh on 8 pieces.
fn integrate(mut f: impl FnMut(f64) -> f64, a: f64, b: f64) -> f64 {
    let w = (b - a) / 8.0;
    (0..8)
        .map(|i| tanh_sinh(&mut f, a + i as f64 * w, a + (i + 1) as f64 * w))
        .sum()
}

/// The exact mean squared distance to the nearest data mean at forward time `t` of the exact
/// `lambda = 1` reverse solution started at `T` from `q = m N(0, D)` (1D):
/// `u(t, x) = f_t(x) w(t, x)`, `w(t, x) = int N(y; e^-(T-t) x, sigma_{T-t}^2) q(y) / f_T(y) dy`.
fn exact_reverse_msd(mix: &GaussianMixture, d: f64, t_final: f64, t: f64) -> f64 {
    let m = mix.total_mass();
    let (f_t, f_big) = (mix.evolve(t, d), mix.evolve(t_final, d));
    let (a, s2) = ((-(t_final - t)).exp(), noise_variance(t_final - t, d));
    let s = s2.sqrt();
    let two_pi = 2.0 * std::f64::consts::PI;
    let ln_q = |y: f64| m.ln() - 0.5 * (two_pi * d).ln() - 0.5 * y * y / d;
    let w = |x: f64| {
        let c = a * x;
        integrate(
            |y| {
                (-0.5 * (y - c).powi(2) / s2).exp() / (two_pi * s2).sqrt()
                    * (ln_q(y) - f_big.log_density([y, 0.0])).exp()
            },
            c - 12.0 * s,
            c + 12.0 * s,
        )
    };
    let nearest = |x: f64| {
        mix.components
            .iter()
            .map(|c| (x - c.mean[0]).powi(2))
            .fold(f64::INFINITY, f64::min)
    };
    // Split the line at the midpoints between the (sorted) peak centres.
    let mut cuts: Vec<f64> = f_t.components.iter().map(|c| c.mean[0]).collect();
    cuts.sort_by(f64::total_cmp);
    let mut edges = vec![-8.0];
    edges.extend(cuts.windows(2).map(|p| 0.5 * (p[0] + p[1])));
    edges.push(8.0);
    edges
        .windows(2)
        .map(|e| integrate(|x| f_t.density([x, 0.0]) * w(x) * nearest(x), e[0], e[1]))
        .sum::<f64>()
        / m
}

/// 3. Bit-identical fields at this rank count against the single-block reference.
fn rank_independence(comm: &Comm, checks: &mut Checks) -> usize {
    let p = comm.size();
    let mut cases = 0;
    for dim in [1usize, 2] {
        let mix = data(dim);
        let mesh = Mesh::new(dim, if dim == 1 { 41 } else { 25 }, 6.0);
        let mut grids = vec![ProcessGrid::choose(&mesh, p).unwrap()];
        if dim == 2 && p > 1 {
            grids.push(ProcessGrid::planar(1, p));
            grids.push(ProcessGrid::planar(p, 1));
        }
        for (mode, kappa, lambda) in [
            (Mode::Grid, 0.0, 1.0),
            (Mode::Grid, 0.5, 1.0),
            (Mode::Grid, 0.0, 0.0),
            (Mode::Exact, 0.0, 0.5),
            (Mode::Burst, 0.0, 1.0),
        ] {
            let run = |grid| Run {
                mesh,
                grid,
                data: &mix,
                diffusion: 1.0,
                kappa,
                lambda,
                t_final: 0.6,
                t_end: 0.1,
                intervals: 5,
                mode,
                start_from_q: false,
            };
            // The single-block reference, on rank 0 alone.
            let reference = comm
                .is_root()
                .then(|| run(ProcessGrid::planar(1, 1)).go(&comm.solo()));
            for &grid in &grids {
                cases += 1;
                let out = run(grid).go(comm);
                let what = format!("{dim}D {mode:?} kappa {kappa} lambda {lambda} grid {grid:?}");
                if let Some(reference) = &reference {
                    checks.mass_and_sign(&what, &out, mesh.cell_volume());
                    if mode == Mode::Burst {
                        checks.check(out.retries > 0, format!("{what}: no interval was redone"));
                    }
                    let differing = out
                        .field
                        .iter()
                        .zip(&reference.field)
                        .filter(|(a, b)| a.to_bits() != b.to_bits())
                        .count();
                    checks.check(
                        differing == 0 && out.substeps == reference.substeps,
                        format!(
                            "{what}: {differing} values differ from 1 rank (sub-steps {} vs {})",
                            out.substeps, reference.substeps
                        ),
                    );
                }
            }
        }
    }
    cases
}

fn child() -> i32 {
    let (_mpi, comm) = comm::init().expect("MPI");
    let p = comm.size();
    let mut checks = Checks { errors: Vec::new() };
    if p == 1 {
        println!("score reverse: convergence (kappa = 0, exact f(T) back to t = 0)");
        convergence(&comm, &mut checks);
        println!("score reverse: memorisation and sqrt(t) law");
        memorisation(&comm, &mut checks);
    }
    let cases = rank_independence(&comm, &mut checks);
    let failed = comm.any(!checks.errors.is_empty());
    for e in &checks.errors {
        eprintln!("{e}");
    }
    if comm.is_root() {
        println!(
            "score reverse at {p} ranks: {cases} bit-identity cases, {}",
            if failed { "FAILED" } else { "ok" }
        );
    }
    i32::from(failed)
}

fn main() {
    if let Some(code) = common::relaunch_under_mpirun(&[1, 2, 3], "score reverse") {
        std::process::exit(code);
    }
    std::process::exit(child());
}
