//! The score-based reverse step (`reverse.method = "score"`): the direct discretisation of the
//! stabilized reverse equation (MODEL.md section 6)
//!
//! ```text
//! d_s u = lambda D Lap u - div(u V),   V = x (1 + kappa fh^gamma) + (1 + lambda) D grad ln fh,
//! ```
//!
//! with the face rates of [`crate::scheme::linear`] (`F = k_plus u_L - k_minus u_R`, F in the
//! +axis direction; zero at physical-boundary faces, a face-flux override), over one forward
//! interval `[t_n, t_{n+1}]` walked backwards: reverse time `s` runs from `s0` (forward time
//! `t_{n+1}`) to `s1 = s0 + dt` (forward time `t_n`). Only approximately reversible (error
//! `O(h^p + dt^2)`); the exact discrete reversal is the default, this is the cross-check and the
//! classical score-based baseline.
//!
//! **Forward state inside the interval.** Grid mode ([`ScoreReverse::interval`]): `ln fh` is
//! interpolated linearly in reverse time between the two stored states,
//! `ln fh(theta) = (1 - theta) ln fh(t_{n+1}) + theta ln fh(t_n)`, `theta = (s - s0) / dt`, with
//! the floor of [`crate::scheme::linear::FH_FLOOR`]; the face score is the log difference over
//! `h`. Closure mode ([`ScoreReverse::interval_exact`]): `fh` and the score come from a closure
//! `(t, x) -> (fh, grad ln fh)` at the face centre, at forward time `t = t_start - theta dt`
//! (the exact OU solution of a Gaussian mixture, [`crate::physics::ou`]).
//!
//! **Sub-steps.** SSP-RK2 (Heun) for the non-autonomous linear system `du/ds = A(s) u`:
//!
//! ```text
//! u*  = u + dt_sub A(s_k) u,   u** = u* + dt_sub A(s_{k+1}) u*,   u <- (u + u**) / 2,
//! ```
//!
//! `n` uniform sub-steps `dt_sub = dt / n`, `s_k = s0 + (k/n) dt`, so the rates at `s_{k+1}`
//! serve both the second stage of sub-step `k` and the first of `k + 1`. Positivity: each stage
//! is an Euler step, positive when `dt_sub * R <= 1`, `R = max over cells of (sum of outgoing
//! rates) / h`. `n = ceil(dt R_end / safety)` with `R_end` the larger of the rates at the two
//! interval ends (MAX-reduced over ranks). For `kappa = 0` in grid mode every rate is a convex
//! function of `theta` (the face velocity is linear in `theta`, `B` is convex), so the ends bound
//! the whole interval. Otherwise the largest rate met on the way is MAX-reduced at the end of the
//! interval and, if `dt_sub R > 1`, the interval is redone from its start with more sub-steps.
//! Every decision uses exact MAX reductions and every face is computed from the same inputs by
//! the same formula on both sides of a rank boundary, so results are bit-identical for any rank
//! count and process grid.
//!
//! **Dimensions.** Grid mode works in 1D, 2D and 3D (the z-faces of
//! [`crate::scheme::stage::FaceRates`]; the stage update is
//! [`crate::scheme::stage::apply_stored`]); the closure mode is 1D/2D (its closure takes
//! `[x, y]`).
//!
//! **Halo.** The ghosts of the two forward states are exchanged once per interval (overlapped
//! with their logarithms on the owned cells); the ghosts of `u` once per stage, overlapped with
//! the interior update (and, for the second stage, the new face rates, which do not depend on
//! `u`).

use crate::comm::{Comm, HaloExchange};
use crate::decomp::Block;
use crate::field::Field;
use crate::mesh::Mesh;
use crate::scheme::linear::{floored_ln, floored_ln_row, FaceRowBuffers, GridAux, ReverseFace};
use crate::scheme::stage::{apply_stored, BlockGeometry, FaceRates, Region};

/// The score closure of [`ScoreReverse::interval_exact`]: forward time `t`, point `x = [x, y]`
/// (`y = 0` in 1D) to `(fh(t, x), grad ln fh(t, x))` (second component unused in 1D).
pub type ScoreClosure<'a> = &'a dyn Fn(f64, [f64; 2]) -> (f64, [f64; 2]);

/// Cumulative counts of a [`ScoreReverse`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ScoreStats {
    /// Intervals advanced.
    pub intervals: u64,
    /// Accepted SSP-RK2 sub-steps.
    pub substeps: u64,
    /// Intervals redone because a rate inside the interval exceeded the end-point bound.
    pub retries: u64,
    /// Largest global positivity rate `R` met.
    pub max_rate: f64,
}

/// Where the forward state comes from during one interval.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// Log-linear interpolation between the two stored states (logs in `Kernels::ln_*`).
    Grid,
    /// The closure at forward time `t_start - theta dt`.
    Closure {
        score: ScoreClosure<'a>,
        t_start: f64,
        dt: f64,
    },
}

/// Everything the kernels loops read, apart from the halo buffers and the stage fields.
struct Kernels {
    geom: BlockGeometry,
    interior: Region,
    rim: Vec<Region>,
    face: ReverseFace,
    /// Cell-centre coordinates of the owned columns / rows (`y = 0` in 1D).
    x_centres: Vec<f64>,
    y_centres: Vec<f64>,
    /// `ln fh` at the interval start / end (floored), field storage layout (ghosts included).
    ln_start: Vec<f64>,
    ln_end: Vec<f64>,
    /// Per-cell forward values at the current `theta`, field storage layout.
    aux: GridAux,
    /// Row buffers of the grid face rates.
    face_rows: FaceRowBuffers,
    /// Face rates of every face of the block (zero at physical-boundary faces).
    rates: FaceRates,
}

/// The score-based reverse stepper for one block (see the module doc).
pub struct ScoreReverse {
    k: Kernels,
    halo: HaloExchange,
    u_start: Field,
    stage1: Field,
    stage2: Field,
    safety: f64,
    stats: ScoreStats,
}

impl ScoreReverse {
    /// A stepper for `block` of `mesh`: diffusion `D > 0`, `kappa >= 0`, `gamma > 0`,
    /// stabilization `lambda >= 0`, positivity safety factor `0 < safety <= 1`
    /// (`dt_sub R <= safety`).
    pub fn new(
        mesh: &Mesh,
        block: &Block,
        diffusion: f64,
        kappa: f64,
        gamma: f64,
        lambda: f64,
        safety: f64,
    ) -> Self {
        assert!(
            safety > 0.0 && safety <= 1.0,
            "safety must be in (0, 1], got {safety}"
        );
        assert!(lambda >= 0.0, "lambda must be >= 0, got {lambda}");
        let geom = BlockGeometry::new(mesh, block);
        let (interior, rim) = geom.split_interior_rim();
        let field = Field::of_block(mesh, block);
        let len = field.raw().len();
        let (nx, ny) = (block.nx, block.ny);
        let x_centres = (0..nx).map(|i| mesh.centre(block.x0 + i)).collect();
        let y_centres = (0..ny)
            .map(|j| {
                if mesh.dim == 2 {
                    mesh.centre(block.y0 + j)
                } else {
                    0.0
                }
            })
            .collect();
        ScoreReverse {
            k: Kernels {
                face: ReverseFace::new(diffusion, kappa, gamma, lambda, mesh.h),
                interior,
                rim,
                x_centres,
                y_centres,
                ln_start: vec![0.0; len],
                ln_end: vec![0.0; len],
                aux: GridAux::new(len),
                face_rows: FaceRowBuffers::for_geometry(&geom),
                rates: FaceRates::for_geometry(&geom),
                geom,
            },
            halo: HaloExchange::new(block),
            u_start: field.clone(),
            stage1: field.clone(),
            stage2: field,
            safety,
            stats: ScoreStats::default(),
        }
    }

    /// Cumulative counts.
    pub fn stats(&self) -> ScoreStats {
        self.stats
    }

    /// Advances `u` (owned cells of this block; its ghosts are refreshed inside) over one
    /// forward interval in reverse, from `fh_start = f(t_{n+1})` to `fh_end = f(t_n)`, of length
    /// `dt`, with the grid score and `ln fh` interpolated linearly in time (module doc). The
    /// ghosts of `fh_start` and `fh_end` are exchanged here. Collective. Returns the sub-steps
    /// taken.
    pub fn interval(
        &mut self,
        comm: &Comm,
        u: &mut Field,
        fh_start: &mut Field,
        fh_end: &mut Field,
        dt: f64,
    ) -> usize {
        let ScoreReverse { k, halo, .. } = self;
        exchange_logs(halo, comm, fh_start, &mut k.ln_start);
        exchange_logs(halo, comm, fh_end, &mut k.ln_end);
        self.advance(comm, u, Source::Grid, dt)
    }

    /// As [`ScoreReverse::interval`] with `fh` and the score from the exact closure
    /// `score(t, x) -> (fh, grad ln fh)` (the OU baseline), evaluated at face centres;
    /// `t_start` is the forward time of `u`'s current state, the interval ends at forward time
    /// `t_start - dt`. Collective. Returns the sub-steps taken.
    pub fn interval_exact(
        &mut self,
        comm: &Comm,
        u: &mut Field,
        score: &dyn Fn(f64, [f64; 2]) -> (f64, [f64; 2]),
        t_start: f64,
        dt: f64,
    ) -> usize {
        self.advance(comm, u, Source::Closure { score, t_start, dt }, dt)
    }

    fn advance(&mut self, comm: &Comm, u: &mut Field, src: Source<'_>, dt: f64) -> usize {
        if dt <= 0.0 {
            return 0;
        }
        self.stats.intervals += 1;
        self.u_start.copy_interior_from(u);
        // Sub-step count from the rates at both ends; the theta = 0 rates stay for stage 1.
        let r_end = self.k.compute_rates(src, 1.0);
        let r_start = self.k.compute_rates(src, 0.0);
        let rate = comm.max(r_start.max(r_end));
        let mut n = self.substeps_for(dt, rate);
        loop {
            let seen = self.run(comm, u, src, dt, n, r_start);
            let seen = comm.max(seen);
            self.stats.max_rate = self.stats.max_rate.max(seen);
            if (dt / n as f64) * seen <= 1.0 {
                self.stats.substeps += n as u64;
                return n;
            }
            // A rate inside the interval broke the positivity bound: redo it, on every rank
            // alike (all saw the same MAX).
            self.stats.retries += 1;
            u.copy_interior_from(&self.u_start);
            n = self.substeps_for(dt, seen).max(n + 1);
            self.k.compute_rates(src, 0.0);
        }
    }

    /// `n = max(1, ceil(dt R / safety))`.
    fn substeps_for(&self, dt: f64, rate: f64) -> usize {
        assert!(
            rate.is_finite(),
            "score reverse: non-finite positivity rate {rate}"
        );
        let n = (dt * rate / self.safety).ceil();
        assert!(
            n < 1e12,
            "score reverse: {n} sub-steps needed for dt = {dt} (rate {rate})"
        );
        (n as usize).max(1)
    }

    /// `n` SSP-RK2 sub-steps over the interval; the rates at `theta = 0` are current on entry.
    /// Returns the largest local positivity rate met (`r_start` included).
    fn run(
        &mut self,
        comm: &Comm,
        u: &mut Field,
        src: Source<'_>,
        dt: f64,
        n: usize,
        r_start: f64,
    ) -> f64 {
        let dt_over_h = dt / n as f64 / self.k.geom.h;
        let mut seen = r_start;
        let ScoreReverse {
            k,
            halo,
            stage1,
            stage2,
            ..
        } = self;
        for step in 0..n {
            // u* = u + dt_sub A(s_k) u.
            stage(k, halo, comm, u, stage1, dt_over_h, None);
            // u** = u* + dt_sub A(s_{k+1}) u*, the rates at s_{k+1} computed meanwhile.
            let theta = (step + 1) as f64 / n as f64;
            let r = stage(k, halo, comm, stage1, stage2, dt_over_h, Some((src, theta)));
            seen = seen.max(r);
            u.interior3_mut()
                .zip_mut_with(&stage2.interior3(), |a, &b| *a = 0.5 * *a + 0.5 * b);
        }
        seen
    }
}

/// One Euler stage `dst = src + dt_over_h (div of face fluxes)` with the current rates, or with
/// the rates at `new_rates = (source, theta)` computed first (returning their local positivity
/// rate, else 0). Exchanges the ghosts of `src`, overlapped with the interior.
fn stage(
    k: &mut Kernels,
    halo: &mut HaloExchange,
    comm: &Comm,
    src: &mut Field,
    dst: &mut Field,
    dt_over_h: f64,
    new_rates: Option<(Source<'_>, f64)>,
) -> f64 {
    let rate = halo.exchange(comm, src, |s| {
        let rate = new_rates.map_or(0.0, |(source, theta)| k.compute_rates(source, theta));
        let region = k.interior.clone();
        k.apply(s, dst, &region, dt_over_h);
        rate
    });
    for r in 0..k.rim.len() {
        let region = k.rim[r].clone();
        k.apply(src, dst, &region, dt_over_h);
    }
    rate
}

/// Exchanges the ghosts of a forward state and stores `ln max(fh, FH_FLOOR)` of every stored
/// cell (owned ones while the messages travel, the ghost edges after).
fn exchange_logs(halo: &mut HaloExchange, comm: &Comm, fh: &mut Field, ln: &mut [f64]) {
    halo.exchange(comm, fh, |f| floored_ln_row(f.raw(), ln));
    let (nx, ny, nz) = (fh.nx() as isize, fh.ny() as isize, fh.nz() as isize);
    let raw = fh.raw();
    let mut row = |k: isize, j: isize, cols: &[isize]| {
        for &i in cols {
            let at = fh.index3(k, j, i);
            ln[at] = floored_ln(raw[at]);
        }
    };
    let all: Vec<isize> = (0..nx).collect();
    for k in 0..nz {
        for j in [-1, ny] {
            row(k, j, &all);
        }
        for j in 0..ny {
            row(k, j, &[-1, nx]);
        }
    }
    if fh.gz() > 0 {
        for k in [-1, nz] {
            for j in 0..ny {
                row(k, j, &all);
            }
        }
    }
}

impl Kernels {
    /// Fills every face rate at `theta` and returns the local positivity rate
    /// `max over owned cells of (sum of outgoing rates) / h`.
    fn compute_rates(&mut self, src: Source<'_>, theta: f64) -> f64 {
        let (nx, ny) = (self.geom.nx, self.geom.ny);
        match src {
            Source::Grid => {
                self.face
                    .interpolated_aux(theta, &self.ln_start, &self.ln_end, &mut self.aux);
                self.face.grid_face_rates(
                    &self.geom,
                    &self.aux,
                    &mut self.face_rows,
                    &mut self.rates,
                );
            }
            Source::Closure { score, t_start, dt } => {
                assert!(!self.geom.dim3, "the score closure is 1D/2D");
                let t = t_start - theta * dt;
                for j in 0..ny {
                    let y = self.y_centres[j];
                    for i in 0..=nx {
                        let x_f = self.geom.x_faces[i];
                        let r = if self.geom.x_face_is_boundary(i) {
                            (0.0, 0.0)
                        } else {
                            let (fh, s) = score(t, [x_f, y]);
                            self.face.closure_rates(x_f, fh, s[0])
                        };
                        self.rates.set(0, (0, j, i), r);
                    }
                }
                for jf in 0..=ny {
                    let boundary = self.geom.y_face_is_boundary(jf);
                    let y_f = self.geom.y_faces[jf];
                    for i in 0..nx {
                        let r = if boundary {
                            (0.0, 0.0)
                        } else {
                            let (fh, s) = score(t, [self.x_centres[i], y_f]);
                            self.face.closure_rates(y_f, fh, s[1])
                        };
                        self.rates.set(1, (0, jf, i), r);
                    }
                }
            }
        }
        self.max_outgoing_rate()
    }

    /// `max over owned cells of (k_plus(east) + k_minus(west) + k_plus(north) + k_minus(south)) / h`:
    /// `k_plus` is the loss rate of the cell below a face, `k_minus` that of the cell above.
    fn max_outgoing_rate(&self) -> f64 {
        let (nx, ny, nz) = (self.geom.nx, self.geom.ny, self.geom.nz);
        let mut max = 0.0f64;
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let [w, e, s, n, d, u] = self.rates.outgoing3(k, j, i);
                    let planar = (e + w) + (n + s);
                    let out = if self.geom.dim3 {
                        planar + (u + d)
                    } else {
                        planar
                    };
                    max = max.max(out);
                }
            }
        }
        max / self.geom.h
    }

    /// `dst = src + dt_over_h ((Fx_w - Fx_e) + (Fy_s - Fy_n))` (3D: `+ (Fz_d - Fz_u)`) on
    /// `region` with the current rates, `F = k_plus u_L - k_minus u_R` ([`apply_stored`]; the
    /// rates of physical-boundary faces are zero, and the ghosts there are never written, so
    /// those fluxes are zero).
    fn apply(&mut self, src: &Field, dst: &mut Field, region: &Region, dt_over_h: f64) {
        apply_stored(&self.geom, src, &self.rates, dst, region, dt_over_h);
    }
}
