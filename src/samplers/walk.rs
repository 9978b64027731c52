//! The reverse grid random walk: `N` particles drawn from the start state `u^N` and moved back
//! through the recorded forward steps, so that their law follows the reverse density `u^n`
//! (MODEL.md section 6, generation). A [`crate::sweep::observers::ReverseObserver`]: it sees
//! every reverse step with the forward states `f^n`, `f^{n+1}` and the step size.
//!
//! # The kernels
//!
//! A forward step is a column-stochastic matrix, `f^{n+1} = P f^n`, `P_{ji}` the probability
//! that a particle in cell `i` at step `n` is in cell `j` at step `n + 1`. A particle of law
//! `u^{n+1}` at `j` is moved back to `i` with probability
//!
//! ```text
//! K_{j -> i} = f^n_i P_{ji} / f^{n+1}_j      (sum_i K_{j -> i} = (P f^n)_j / f^{n+1}_j = 1)
//! ```
//!
//! Then `sum_j u^{n+1}_j K_{j -> i} = f^n_i sum_j P_{ji} w^{n+1}_j = f^n_i ((P^T w^{n+1}))_i =
//! u^n_i`: the particle law is exactly the reverse density of the exact discrete reversal, and
//! particles move independently, so the `N`-sample histogram is multinomial with mean
//! `N u^n / m`. The probabilities are the terms of `(P f^n)_j`, normalised by their sum
//! rather than by the stored `f^{n+1}_j` (which absorbs the round-off of the forward step).
//!
//! * `euler`, `P = I + dt L(f^n)`. With `c = dt/h`, `out_j` the rates at which cell `j` jumps
//!   to its four neighbours (six in 3D) and `in_{i->j}` those at which neighbour `i` jumps into `j` (both
//!   times `h`, from the flux rates of `L(f^n)`: [`FaceRates::outgoing`],
//!   [`FaceRates::incoming`], [`FaceRates::outgoing3`] in 3D): `(P f^n)_j = f^n_j (1 - c sum out_j) + c sum_i in_{i->j} f^n_i`,
//!   so the particle stays with weight `f^n_j (1 - c sum out_j)` and moves to neighbour `i`
//!   with weight `c in_{i->j} f^n_i`. Exact.
//! * `ssprk2`, `P = 1/2 I + 1/2 A2 A1`, `A1 = I + dt L(f^n)`, `A2 = I + dt L(f*)`,
//!   `f* = A1 f^n`, `f** = A2 f*`, `f^{n+1} = 1/2 f^n + 1/2 f**`: forward, a particle takes
//!   the `I` branch or the two Euler stages with probability 1/2 each. Backward: the `I`
//!   branch with weight `1/2 f^n_j` against `1/2 f**_j`; otherwise the Euler kernel of `A2`
//!   with law `f*` (weights `f*_k (A2)_{jk}`), then that of `A1` with law `f^n`. Exact. `f*`
//!   and `f**` are recomputed with the forward's own stage functions (`stage::flux_rates`,
//!   `stage::apply_stored`), which give the same bits.
//! * `implicit`, `P = (I - dt L(f^{n+1}))^{-1}`: no cheap exact kernel (`P` is dense). The
//!   walk uses the frozen-rate continuous-time reverse chain of MODEL.md section 6, a jump
//!   `j -> i` at rate `in_{i->j}(f^{n+1}) f^{n+1}_i / (h f^{n+1}_j)` for the time `dt`, by
//!   `m` uniformised Euler sub-steps of size `tau = dt / m` (move with probability
//!   `tau * rate`, stay otherwise), `m = ceil(dt * Lambda / 0.9)` capped at
//!   [`MAX_SUBSTEPS`], `Lambda` the MAX-reduced largest total reverse rate over cells with
//!   `f^{n+1} >= 1e-12 max f^{n+1}` (identical on every rank; in emptier cells the move
//!   probabilities are capped by the normalisation). First order in `dt`: the sample law only
//!   approximately follows `u^n`.
//!
//! # Parallel moves without new communication
//!
//! Each step every cell splits its count by sequential binomials over
//! `{stay, west, east, south, north}` (3D: `{..., down, up}`) ([`binomial::split`]), the
//! uniforms keyed by `(moves seed, step * cells + global cell, phase << 32 | draw)`, the global
//! cell `(iz ny + iy) nx + ix`. The counts leaving in each direction go into four (3D: six)
//! fields; each cell pulls its arrivals from its neighbours' values, at block edges from ghosts
//! filled with [`HaloExchange`]: in 1D and 2D the west/east leavers of the first/last column
//! travel in one field, the south/north leavers of the first/last row in another (two exchanges
//! per kernel; four when a block is one cell wide); in 3D each of the six fields is exchanged.
//! No rank or loop order enters a random number, so the counts are bit-identical for any rank
//! count and process grid.
//!
//! The face rates come from the reverse stepper when it lends them
//! ([`crate::time::reverse::ReverseStepper::step_rates`]: the same bits it used for
//! `w^n = (P^n)^T w^{n+1}`); otherwise the walk evaluates them from the forward states itself.
//!
//! A particle in a cell where every weight is zero (the forward density vanished there, which
//! the exact kernels never lead to) stays put and is counted in [`WalkReport::stuck`].

use std::time::{Duration, Instant};

use super::binomial::{self, Stream};
use super::{global_cell, multinomial_counts, stream_seed, Purpose};
use crate::comm::{Comm, HaloExchange};
use crate::decomp::{Block, ProcessGrid, Side};
use crate::field::Field;
use crate::mesh::Mesh;
use crate::progress::ReverseProgress;
use crate::scheme::build::FamilyBuilder;
use crate::scheme::stage::{self, BlockGeometry, FaceRates, Scratch};
use crate::scheme::Family;
use crate::sweep::observers::{ReverseObserver, ReverseStep};
use crate::sweep::pipeline::Pipeline;
use crate::time::reverse::{exchange_and_rates, StepRates};
use crate::time::StepperKind;

/// Upper bound on the uniformised sub-steps of one implicit step.
pub const MAX_SUBSTEPS: u64 = 1000;

/// Sub-step safety: `tau * Lambda <= 0.9`.
const SUBSTEP_SAFETY: f64 = 0.9;

/// Cells below this fraction of `max f` do not set the implicit sub-step count.
const RATE_FLOOR: f64 = 1e-12;

/// What the walk did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WalkReport {
    /// Particles that sat in a cell with all kernel weights zero, summed over steps (0 for the
    /// exact kernels in practice).
    pub stuck: u64,
    /// Uniformised sub-steps (implicit; one per step otherwise).
    pub substeps: u64,
    /// Largest sub-step count of one step.
    pub max_substeps: u64,
    /// Wall time of the walk (start draw and moves).
    pub wall: Duration,
}

/// A reverse walk as the generate command sees it.
pub trait SampleWalk: ReverseObserver {
    /// Itself, as the observer of the reverse march.
    fn observer(&mut self) -> &mut dyn ReverseObserver;
    /// Occupation numbers on this rank's block (after the march: at `n = 0`).
    fn counts(&self) -> &Field;
    /// Totals over all ranks (collective).
    fn report(&self, comm: &Comm) -> WalkReport;
    /// Continues from a checkpoint: the occupation numbers and the counters (`stuck` is this
    /// rank's share).
    fn restore(&mut self, counts: Field, report: WalkReport);
}

/// The walk matching the forward scheme/stepper pair of the pipeline `p` (process grid
/// `grid`), for `samples` particles with seed `seed`.
pub fn build_walk(p: &Pipeline, grid: ProcessGrid, samples: u64, seed: u64) -> Box<dyn SampleWalk> {
    let builder = WalkBuilder {
        mesh: p.mesh(),
        grid,
        block: p.block(),
        stepper: p.stepper,
        samples,
        seed,
        progress: ReverseProgress::new(p.comm.is_root(), "walk", p.march.progress_every),
    };
    p.scheme.build(p.coefficients(), builder)
}

/// [`build_walk`] for one family.
struct WalkBuilder<'a> {
    mesh: &'a Mesh,
    grid: ProcessGrid,
    block: &'a Block,
    stepper: StepperKind,
    samples: u64,
    seed: u64,
    progress: ReverseProgress,
}

impl FamilyBuilder for WalkBuilder<'_> {
    type Output = Box<dyn SampleWalk>;

    fn build<F: Family + 'static>(self, family: F) -> Box<dyn SampleWalk> {
        let (mesh, grid, block) = (self.mesh, self.grid, self.block);
        let mut walk = ReverseWalk::new(
            family,
            mesh,
            grid,
            block,
            self.stepper,
            self.samples,
            self.seed,
        );
        walk.progress = self.progress;
        Box::new(walk)
    }
}

/// The reverse walk of a flux family on one block.
pub struct ReverseWalk<F: Family> {
    family: F,
    mesh: Mesh,
    grid: ProcessGrid,
    block: Block,
    geom: BlockGeometry,
    scratch: Scratch<F::Aux>,
    halo: HaloExchange,
    stepper: StepperKind,
    samples: u64,
    seed: u64,
    move_seed: u64,
    /// Own rates of `L(f^n)` (implicit: `L(f^{n+1})`), when the stepper lends none.
    rates: FaceRates,
    /// SSP-RK2: own rates of `L(f*)`.
    rates_star: FaceRates,
    /// SSP-RK2: own `f*`.
    star: Field,
    /// SSP-RK2: `f**`.
    star2: Field,
    counts: Field,
    /// SSP-RK2: the particles of the `I` branch.
    held: Field,
    /// Particles leaving west, east, south, north, down, up (the last two in 3D).
    out: [Field; 6],
    /// Packed exchange: west/east leavers in the first/last column, south/north leavers in
    /// the first/last row (two exchanges instead of four; needs two columns, and two rows when
    /// there are south/north neighbours).
    packed: bool,
    out_x: Field,
    out_y: Field,
    /// Kernel weights `[stay, west, east, south, north, down, up]` per owned cell (plane- and
    /// row-major; the last two zero in 1D and 2D), and a second set (SSP-RK2: the `A1`
    /// stage).
    weights: Vec<Weights>,
    weights2: Vec<Weights>,
    report: WalkReport,
    /// Progress lines (rank 0; none unless built by [`build_walk`]).
    progress: ReverseProgress,
}

/// Kernel weights of one cell: stay, then the six neighbours (west, east, south, north, down,
/// up; the last two zero in 1D and 2D).
type Weights = [f64; 7];

/// The values of the west, east, south, north (and in 3D down, up) neighbours of the cell at
/// flat index `at` of `f` (zeros for the missing ones).
#[inline(always)]
fn neighbours(f: &Field, at: usize, dim3: bool) -> [f64; 6] {
    let (raw, row) = (f.raw(), f.stride());
    let (down, up) = if dim3 {
        (raw[at - f.plane_stride()], raw[at + f.plane_stride()])
    } else {
        (0.0, 0.0)
    };
    [
        raw[at - 1],
        raw[at + 1],
        raw[at - row],
        raw[at + row],
        down,
        up,
    ]
}

/// The sum of six per-direction values in a fixed order: `(w + e) + (s + n)` in 1D and 2D, and
/// `((w + e) + (s + n)) + (d + u)` in 3D.
#[inline(always)]
fn total6(v: &[f64], dim3: bool) -> f64 {
    let planar = (v[0] + v[1]) + (v[2] + v[3]);
    if dim3 {
        planar + (v[4] + v[5])
    } else {
        planar
    }
}

/// The owned cells of a block as `(k, j, i, flat index of `f`, cell number)`, plane- and
/// row-major (the cell number indexes the weight arrays).
fn cells(
    geom: &BlockGeometry,
    f: &Field,
) -> impl Iterator<Item = (usize, usize, usize, usize, usize)> + 'static {
    let (nz, ny, nx) = (geom.nz, geom.ny, geom.nx);
    // The flat index of (k, j, i) is that of (k, j, 0) plus i: no borrow of `f` is kept.
    let row_start: Vec<usize> = (0..nz)
        .flat_map(|k| (0..ny).map(move |j| (k, j)))
        .map(|(k, j)| f.index3(k as isize, j as isize, 0))
        .collect();
    (0..nz * ny).flat_map(move |r| {
        let (k, j, start) = (r / ny, r % ny, row_start[r]);
        (0..nx).map(move |i| (k, j, i, start + i, r * nx + i))
    })
}

/// Weights of the reverse Euler kernel of `I + c L` (flux rates `rates`) with the law `g`
/// before the stage (ghosts current), into `weights`.
fn explicit_weights(
    weights: &mut [Weights],
    geom: &BlockGeometry,
    g: &Field,
    rates: &FaceRates,
    c: f64,
) {
    let dirs = if geom.dim3 { 6 } else { 4 };
    for (k, j, i, at, cell) in cells(geom, g) {
        let out = rates.outgoing3(k, j, i);
        let inc = rates.incoming3(k, j, i);
        let from = neighbours(g, at, geom.dim3);
        let mut w = [0.0; 7];
        w[0] = (g.raw()[at] * (1.0 - c * total6(&out, geom.dim3))).max(0.0);
        for d in 0..dirs {
            if inc[d] > 0.0 {
                w[d + 1] = (c * inc[d] * from[d]).max(0.0);
            }
        }
        weights[cell] = w;
    }
}

/// The frozen-rate reverse chain of `L(f)` (flux rates `rates`, ghosts of `f` current):
/// per-cell reverse jump rates into `weights[.][1..]`; returns the largest total rate over
/// cells with `f >= RATE_FLOOR * max_f`.
fn reverse_rates(
    weights: &mut [Weights],
    geom: &BlockGeometry,
    f: &Field,
    rates: &FaceRates,
    max_f: f64,
) -> f64 {
    let h = geom.h;
    let dirs = if geom.dim3 { 6 } else { 4 };
    let mut lambda = 0.0f64;
    for (k, j, i, at, cell) in cells(geom, f) {
        let fc = f.raw()[at];
        let inc = rates.incoming3(k, j, i);
        let from = neighbours(f, at, geom.dim3);
        let mut w = [0.0; 7];
        if fc > 0.0 {
            for d in 0..dirs {
                if inc[d] > 0.0 {
                    w[d + 1] = (inc[d] * from[d] / (h * fc)).max(0.0);
                }
            }
            if fc >= RATE_FLOOR * max_f {
                lambda = lambda.max(total6(&w[1..], geom.dim3));
            }
        }
        weights[cell] = w;
    }
    lambda
}

impl<F: Family> ReverseWalk<F> {
    /// A walk of `samples` particles over `block`.
    pub fn new(
        family: F,
        mesh: &Mesh,
        grid: ProcessGrid,
        block: &Block,
        stepper: StepperKind,
        samples: u64,
        seed: u64,
    ) -> Self {
        let field = Field::of_block(mesh, block);
        let geom = BlockGeometry::new(mesh, block);
        let y_neighbours = block.neighbours[Side::South.index()].is_some()
            || block.neighbours[Side::North.index()].is_some();
        ReverseWalk {
            family,
            mesh: *mesh,
            grid,
            block: block.clone(),
            scratch: Scratch::new(&field),
            halo: HaloExchange::new(block),
            stepper,
            samples,
            seed,
            move_seed: stream_seed(seed, Purpose::Moves),
            rates: FaceRates::for_geometry(&geom),
            rates_star: FaceRates::for_geometry(&geom),
            star: field.clone(),
            star2: field.clone(),
            counts: field.clone(),
            held: field.clone(),
            out: std::array::from_fn(|_| field.clone()),
            // 3D: the six leaving-count fields are exchanged as they are.
            packed: !geom.dim3 && block.nx >= 2 && (block.ny >= 2 || !y_neighbours),
            geom,
            out_x: field.clone(),
            out_y: field,
            weights: vec![[0.0; 7]; block.cells()],
            weights2: vec![[0.0; 7]; block.cells()],
            report: WalkReport::default(),
            progress: ReverseProgress::new(false, "walk", f64::INFINITY),
        }
    }

    /// Exchanges the ghosts of `f` and stores the flux rates of `L(f)` in `rates` (or
    /// `rates_star`).
    fn rates_of(&mut self, comm: &Comm, f: &mut Field, star: bool) {
        let rates = if star {
            &mut self.rates_star
        } else {
            &mut self.rates
        };
        exchange_and_rates(
            comm,
            &mut self.halo,
            &self.family,
            &self.geom,
            &mut self.scratch,
            f,
            rates,
        );
    }

    /// Moves the particles of `counts` by the kernel `weights` (`second`: `weights2`) in
    /// phase `phase` of reverse step `n`: split, exchange the leaving counts, pull the
    /// arrivals.
    fn move_counts(&mut self, comm: &Comm, n: u64, phase: u64, second: bool) {
        let key0 = n.wrapping_mul(self.mesh.cells() as u64);
        let dim3 = self.geom.dim3;
        let weights = if second {
            &self.weights2
        } else {
            &self.weights
        };
        let b = &self.block;
        for (k, j, i, at, cell) in cells(&self.geom, &self.counts) {
            let c = self.counts.raw()[at] as u64;
            let parts = if c == 0 {
                [0; 7]
            } else {
                let w = &weights[cell];
                let total = (w[0] + w[1]) + (w[2] + w[3]) + w[4];
                let total = if dim3 { total + (w[5] + w[6]) } else { total };
                if !(total > 0.0 && total.is_finite()) {
                    self.report.stuck += c;
                }
                let cell = global_cell(&self.mesh, b.z0 + k, b.y0 + j, b.x0 + i);
                let mut s = Stream::new(self.move_seed, key0.wrapping_add(cell), phase << 32);
                if dim3 {
                    binomial::split(c, w, &mut s)
                } else {
                    let planar: [f64; 5] = std::array::from_fn(|d| w[d]);
                    let p = binomial::split(c, &planar, &mut s);
                    [p[0], p[1], p[2], p[3], p[4], 0, 0]
                }
            };
            self.counts.raw_mut()[at] = parts[0] as f64;
            for (side, field) in self.out.iter_mut().enumerate() {
                field.raw_mut()[at] = parts[side + 1] as f64;
            }
        }
        self.exchange_leavers(comm);
        let [west, east, south, north, down, up] = &self.out;
        let (row, plane) = (self.counts.stride(), self.counts.plane_stride());
        for (_, _, _, at, _) in cells(&self.geom, &self.counts) {
            // Arrivals: the west neighbour's eastward movers, and so on.
            let planar = (east.raw()[at - 1] + west.raw()[at + 1])
                + (north.raw()[at - row] + south.raw()[at + row]);
            let arriving = if dim3 {
                planar + (up.raw()[at - plane] + down.raw()[at + plane])
            } else {
                planar
            };
            self.counts.raw_mut()[at] += arriving;
        }
    }

    /// Fills the ghosts of the leaving counts that the arrivals read: east-movers west of the
    /// block, west-movers east of it, north-movers south of it, south-movers north of it.
    fn exchange_leavers(&mut self, comm: &Comm) {
        if !self.packed {
            let dirs = if self.geom.dim3 { 6 } else { 4 };
            for field in &mut self.out[..dirs] {
                self.halo.exchange(comm, field, |_| ());
            }
            return;
        }
        let (ny, nx) = (self.geom.ny as isize, self.geom.nx as isize);
        let [west, east, south, north, ..] = &mut self.out;
        let set = |f: &mut Field, j: isize, i: isize, v: f64| {
            let k = f.index(j, i);
            f.raw_mut()[k] = v;
        };
        for j in 0..ny {
            set(&mut self.out_x, j, 0, west.get(j, 0));
            set(&mut self.out_x, j, nx - 1, east.get(j, nx - 1));
        }
        for i in 0..nx {
            set(&mut self.out_y, 0, i, south.get(0, i));
            set(&mut self.out_y, ny - 1, i, north.get(ny - 1, i));
        }
        self.halo.exchange(comm, &mut self.out_x, |_| ());
        let y_neighbours = self.block.neighbours[Side::South.index()].is_some()
            || self.block.neighbours[Side::North.index()].is_some();
        if y_neighbours {
            self.halo.exchange(comm, &mut self.out_y, |_| ());
        }
        // Ghosts on the physical boundary stay zero (never written by an exchange).
        for j in 0..ny {
            set(east, j, -1, self.out_x.get(j, -1));
            set(west, j, nx, self.out_x.get(j, nx));
        }
        for i in 0..nx {
            set(north, -1, i, self.out_y.get(-1, i));
            set(south, ny, i, self.out_y.get(ny, i));
        }
    }

    fn euler(
        &mut self,
        comm: &Comm,
        n: u64,
        dt: f64,
        f_before: &mut Field,
        lent: Option<StepRates>,
    ) {
        let rates = match lent {
            Some(r) => r.rates,
            None => {
                self.rates_of(comm, f_before, false);
                &self.rates
            }
        };
        explicit_weights(
            &mut self.weights,
            &self.geom,
            f_before,
            rates,
            dt / self.geom.h,
        );
        self.move_counts(comm, n, 0, false);
    }

    fn ssprk2(
        &mut self,
        comm: &Comm,
        n: u64,
        dt: f64,
        f_before: &mut Field,
        lent: Option<StepRates>,
    ) {
        let c = dt / self.geom.h;
        let whole = self.geom.whole();
        let lent = lent.and_then(|r| r.star.map(|(star, rates_star)| (r.rates, star, rates_star)));
        if lent.is_none() {
            // f* = A1 f^n, the forward's own bits, and the rates of L(f^n), L(f*).
            self.rates_of(comm, f_before, false);
            stage::apply_stored(&self.geom, f_before, &self.rates, &mut self.star, &whole, c);
            let mut star = std::mem::replace(&mut self.star, Field::zeros(0, 0));
            self.rates_of(comm, &mut star, true);
            self.star = star;
        }
        let (rates, star, rates_star) = lent.unwrap_or((&self.rates, &self.star, &self.rates_star));
        // f** = A2 f*.
        stage::apply_stored(&self.geom, star, rates_star, &mut self.star2, &whole, c);
        explicit_weights(&mut self.weights, &self.geom, star, rates_star, c);
        explicit_weights(&mut self.weights2, &self.geom, f_before, rates, c);
        // The I branch (weight f^n / 2) against the two stages (weight f** / 2).
        let key0 = n.wrapping_mul(self.mesh.cells() as u64);
        let b = &self.block;
        for (k, j, i, at, _) in cells(&self.geom, &self.counts) {
            let c = self.counts.raw()[at] as u64;
            let [held, moving] = if c == 0 {
                [0, 0]
            } else {
                let w = [0.5 * f_before.raw()[at], 0.5 * self.star2.raw()[at]];
                let total = w[0] + w[1];
                if total.is_nan() || total <= 0.0 {
                    self.report.stuck += c;
                }
                let cell = global_cell(&self.mesh, b.z0 + k, b.y0 + j, b.x0 + i);
                let mut s = Stream::new(self.move_seed, key0.wrapping_add(cell), 0);
                binomial::split(c, &w, &mut s)
            };
            self.held.raw_mut()[at] = held as f64;
            self.counts.raw_mut()[at] = moving as f64;
        }
        // Back through A2 (law f*), then A1 (law f^n).
        self.move_counts(comm, n, 1, false);
        self.move_counts(comm, n, 2, true);
        let held = &self.held;
        self.counts
            .interior3_mut()
            .zip_mut_with(&held.interior3(), |a, &b| *a += b);
    }

    fn implicit(
        &mut self,
        comm: &Comm,
        n: u64,
        dt: f64,
        f_after: &mut Field,
        lent: Option<StepRates>,
    ) {
        let rates = match lent {
            Some(r) => r.rates,
            None => {
                self.rates_of(comm, f_after, false);
                &self.rates
            }
        };
        let max_f = comm.max(f_after.interior3().iter().fold(0.0f64, |m, &v| m.max(v)));
        let local = reverse_rates(&mut self.weights, &self.geom, f_after, rates, max_f);
        let lambda = comm.max(local);
        let m = if lambda > 0.0 && lambda.is_finite() {
            ((dt * lambda / SUBSTEP_SAFETY).ceil() as u64).clamp(1, MAX_SUBSTEPS)
        } else if lambda > 0.0 {
            MAX_SUBSTEPS
        } else {
            1
        };
        let tau = dt / m as f64;
        let dim3 = self.geom.dim3;
        for w in &mut self.weights {
            for r in &mut w[1..] {
                *r *= tau;
            }
            w[0] = (1.0 - total6(&w[1..], dim3)).max(0.0);
        }
        for sub in 0..m {
            self.move_counts(comm, n, sub, false);
        }
        self.report.substeps += m;
        self.report.max_substeps = self.report.max_substeps.max(m);
    }
}

impl<F: Family> ReverseObserver for ReverseWalk<F> {
    fn start(&mut self, comm: &Comm, _f_end: &mut Field, u_start: &Field) -> Result<(), String> {
        let t0 = Instant::now();
        self.counts = multinomial_counts(
            comm,
            &self.mesh,
            self.grid,
            &self.block,
            u_start,
            self.samples,
            stream_seed(self.seed, Purpose::Start),
        )?;
        self.report.wall += t0.elapsed();
        Ok(())
    }

    fn step(&mut self, comm: &Comm, step: ReverseStep<'_>) -> Result<(), String> {
        let t0 = Instant::now();
        let ReverseStep {
            n,
            dt,
            f_before,
            f_after,
            rates,
            ..
        } = step;
        match self.stepper {
            StepperKind::Euler => {
                self.euler(comm, n, dt, f_before, rates);
                self.report.substeps += 1;
                self.report.max_substeps = 1;
            }
            StepperKind::Ssprk2 => {
                self.ssprk2(comm, n, dt, f_before, rates);
                self.report.substeps += 1;
                self.report.max_substeps = 1;
            }
            StepperKind::Implicit => self.implicit(comm, n, dt, f_after, rates),
        }
        self.report.wall += t0.elapsed();
        let report = &self.report;
        self.progress.step(n, || {
            format!(
                "sub-steps {}  max {} per step",
                report.substeps, report.max_substeps
            )
        });
        Ok(())
    }
}

impl<F: Family> SampleWalk for ReverseWalk<F> {
    fn observer(&mut self) -> &mut dyn ReverseObserver {
        self
    }

    fn counts(&self) -> &Field {
        &self.counts
    }

    fn restore(&mut self, counts: Field, report: WalkReport) {
        self.counts = counts;
        self.report = report;
    }

    fn report(&self, comm: &Comm) -> WalkReport {
        let r = self.report;
        let stuck = comm.sum_u64_wrapping(&[r.stuck])[0];
        WalkReport {
            stuck,
            wall: Duration::from_secs_f64(comm.max(r.wall.as_secs_f64())),
            ..r
        }
    }
}
