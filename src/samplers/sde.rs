//! The reverse-time SDE particle sampler (MODEL.md section 6, generation; issue 6 "Reverse
//! particles"): `N` particles drawn from the start state `u^N` and moved backwards in time by
//!
//! ```text
//! dY = V(Y, s) ds + sqrt(2 lambda D) dW,   V = x (1 + kappa fh^gamma) + (1 + lambda) D grad ln fh,
//! ```
//!
//! `fh(s) = f(T - s)` the recorded forward states, `lambda = reverse.lambda` (1: the reverse SDE,
//! 0: the probability-flow ODE), reflected at the walls. A
//! [`crate::sweep::observers::ReverseObserver`] next to the exact grid walk of
//! [`super::walk`]: unlike the walk it moves in continuous space and is only
//! approximately the law of the discrete reverse (weak error `O(ds + h)`), which the quality
//! report measures side by side.
//!
//! # Coefficients on the faces
//!
//! For every recorded state `f^n` the velocity is formed on the cell faces, exactly the face
//! velocity of the `score` reverse method ([`crate::scheme::linear`]):
//!
//! ```text
//! V_f = x_f G_f + (1 + lambda) D (ln fh_R - ln fh_L) / h,   G_f = (ln fh_R - ln fh_L) / (Phi'(fh_R) - Phi'(fh_L))
//! ```
//!
//! (`G_f` the Scharfetter–Gummel face value of `1 + kappa fh^gamma`, `ln` of `fh` floored at the
//! smallest normal number where it underflows; `V_f = 0` on the walls, the zero-flux condition).
//! Evaluating `1 + kappa fh^gamma` and `grad ln fh` at cell centres and interpolating them
//! separately (the plain CIC reading of the formula) breaks the balance
//! `x (1 + kappa f^gamma) = -D grad ln f` of the steady states: next to a condensate the first
//! term grows like `kappa fh^gamma` of the centre cell while the second stays `ln`-sized, and
//! the centre cell's particles are thrown out at a rate `~ kappa fh(0)^gamma`. With the SG mean
//! the forward part `x_f G_f + D s_f = G_f (x_f + D (Phi'_R - Phi'_L)/h)` vanishes at every nodal
//! steady state (`Phi'` saturates at the condensate), as in the forward `sg` scheme.
//!
//! Interpolation to a particle is the staggered (MAC) one: the x-component linearly between the
//! two x-faces of the particle's cell and, across rows, linearly between the row centres (the
//! CIC weights of [`Cic::axis`], constant between a wall and the first centre); the
//! y-component likewise. In time the face velocities are linear between the two states of a
//! forward interval: `V = (1 - theta) V(f^{n+1}) + theta V(f^n)`, `theta = (s - s_{n+1}) / dt_n`.
//!
//! # Sub-steps
//!
//! Each reverse interval `dt_n` is split into `m_n` equal Euler–Maruyama sub-steps `ds = dt_n / m_n`
//!
//! ```text
//! m_n = clamp(ceil(dt_n max(Lip / c, Vmax / (c h))), 1, MAX_SUBSTEPS),   c = reverse.sde_safety
//! ```
//!
//! `Lip` the largest difference quotient of a face-velocity component between neighbouring faces
//! (along and across its axis: the Lipschitz constant of the interpolated drift), `Vmax` the
//! largest `|V_f|`, both over the two states of the interval and over faces whose cells hold
//! `fh >= 1e-12 max fh` (floored logarithms elsewhere are not a drift particles should see),
//! and MAX-reduced over the ranks so every rank takes the same sub-steps. So `ds Lip <= c`
//! (explicit Euler stable and accurate for the drift, expanding or contracting) and a drift
//! step moves at most `c` cells. A drift displacement above one cell per axis (only possible in
//! the excluded near-empty cells, or at the cap) is clipped to one cell and counted
//! ([`SdeReport::tamed`]).
//!
//! # Bit-identical results on any rank count
//!
//! Particle `id`'s start position is [`crate::particles::sample::draw_position`] with the stream `ReverseInitial` from the
//! global cell masses of `u^N` (all-reduced by exact sums of one non-zero term each); its normals
//! are Philox keyed by `(reverse.seed, id, sub-step counter, Reverse)`, the counter running over
//! all sub-steps of the reverse; the face velocities of a face are computed from the same
//! ghost-copied values by the same formula on both ranks sharing it; `m_n` is a MAX reduction.
//! A particle's update reads nothing else, so positions are bit-identical for any rank count.
//! Particles migrate to the owner of their cell after every sub-step ([`Migrator`]).

use std::time::{Duration, Instant};

use crate::comm::{Comm, HaloExchange, Migrator};
use crate::decomp::{Block, ProcessGrid};
use crate::field::Field;
use crate::mesh::Mesh;
use crate::particles::cic::Cic;
use crate::particles::push::reflect;
use crate::particles::rng::{CounterRng, Stream};
use crate::particles::sample::draw_owned;
use crate::particles::{
    all_in_id_order, id_fingerprint, id_fingerprint_of_range, Ownership, Particle,
};
use crate::physics::ModelParams;
use crate::progress::ReverseProgress;
use crate::scheme::linear::{floored_ln, ForwardAux, ReverseFace};
use crate::sweep::observers::{ReverseObserver, ReverseStep};

/// Largest number of sub-steps of one forward interval.
pub const MAX_SUBSTEPS: u64 = 100_000;

/// Cells below this fraction of `max fh` do not set the sub-step.
const ACTIVE_FLOOR: f64 = 1e-12;

/// Default sub-step safety `c` (`reverse.sde_safety`).
pub use crate::particles::reverse::DEFAULT_SAFETY;

/// What the sampler is asked to do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SdeSettings {
    /// `lambda >= 0` (1: reverse SDE, 0: probability flow).
    pub lambda: f64,
    /// Sub-step safety `c > 0` (module doc).
    pub safety: f64,
    /// Number of particles.
    pub samples: u64,
    /// Seed of the start draw and the noise.
    pub seed: u64,
}

/// What the sampler did (after [`ReverseSde::report`]: totals over the ranks).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SdeReport {
    /// Sub-steps over the whole reverse.
    pub substeps: u64,
    /// Largest sub-step count of one forward interval.
    pub max_substeps: u64,
    /// Intervals whose sub-step count was capped at [`MAX_SUBSTEPS`].
    pub capped: u64,
    /// Particle sub-steps whose drift displacement was clipped to one cell (or was not finite).
    pub tamed: u64,
    /// Particle sub-steps taken (`N` times `substeps` when nothing is lost).
    pub particle_steps: u64,
    /// Particles present at the end (summed over ranks).
    pub count: u64,
    /// Whether the id set at the end is exactly `0..N` (fingerprint check).
    pub ids_intact: bool,
    /// Wall time (slowest rank): start draw, coefficients, pushes, migrations.
    pub wall: Duration,
    /// Of which the particle pushes (slowest rank).
    pub push_wall: Duration,
    /// Of which the migrations (slowest rank).
    pub migrate_wall: Duration,
}

/// Face velocities of one recorded state on one block (module doc).
struct FaceVelocity {
    /// x-component on x-face `i` (west face of cell `i`, `0..=nx`) of rows `-1..=ny`
    /// (`ny x (nx + 1)` owned, one ghost row each side in 2D).
    vx: Field<f64>,
    /// y-component on y-face `j` (south face of row `j`, `0..=ny`) of columns `-1..=nx` (2D).
    vy: Field<f64>,
    /// Largest difference quotient over active faces (global after [`ReverseSde::velocities`]).
    lip: f64,
    /// Largest `|V_f|` over active faces (global).
    vmax: f64,
}

impl FaceVelocity {
    fn new(block: &Block, dim: usize) -> FaceVelocity {
        let two_d = usize::from(dim == 2);
        FaceVelocity {
            vx: Field::new(block.ny, block.nx + 1, two_d, 0),
            vy: if dim == 2 {
                Field::new(block.ny + 1, block.nx, 0, 1)
            } else {
                Field::new(0, 0, 0, 0)
            },
            lip: 0.0,
            vmax: 0.0,
        }
    }

    /// The interpolated velocity for `stencil`.
    #[inline(always)]
    fn eval(&self, s: &Stencil, two_d: bool) -> [f64; 2] {
        let vx = self.vx.raw();
        if !two_d {
            return [(1.0 - s.fx) * vx[s.kx] + s.fx * vx[s.kx + 1], 0.0];
        }
        let lower = (1.0 - s.fx) * vx[s.kx] + s.fx * vx[s.kx + 1];
        let upper = (1.0 - s.fx) * vx[s.kx + s.sx] + s.fx * vx[s.kx + s.sx + 1];
        let vy = self.vy.raw();
        let left = (1.0 - s.gy) * vy[s.ky] + s.gy * vy[s.ky + s.sy];
        let right = (1.0 - s.gy) * vy[s.ky + 1] + s.gy * vy[s.ky + s.sy + 1];
        [
            (1.0 - s.fy) * lower + s.fy * upper,
            (1.0 - s.gx) * left + s.gx * right,
        ]
    }
}

/// Where a position reads the face arrays: flat indices of the lower-left values and the
/// weights.
#[derive(Clone, Copy, Debug)]
struct Stencil {
    /// `vx` at (row `j0`, face `ix`); `+1` is face `ix + 1`, `+sx` row `j0 + 1`.
    kx: usize,
    sx: usize,
    /// Fraction of the way from x-face `ix` to `ix + 1` (the particle's cell).
    fx: f64,
    /// CIC weight of row `j0 + 1`.
    fy: f64,
    /// `vy` at (face `iy`, column `i0`); `+1` column `i0 + 1`, `+sy` face `iy + 1`.
    ky: usize,
    sy: usize,
    /// CIC weight of column `i0 + 1`.
    gx: f64,
    /// Fraction of the way from y-face `iy` to `iy + 1`.
    gy: f64,
}

/// The geometry the per-particle kernels need (copied out so the particle loop can borrow the
/// particles mutably).
#[derive(Clone, Copy, Debug)]
struct Geometry {
    cic: Cic,
    two_d: bool,
    half_width: f64,
    h: f64,
    inv_h: f64,
    x0: isize,
    y0: isize,
    /// Flat offset of local (row 0, face 0) in `vx` and its row stride.
    vx_origin: isize,
    sx: usize,
    /// Flat offset of local (face 0, column 0) in `vy` and its row stride.
    vy_origin: isize,
    sy: usize,
}

impl Geometry {
    /// The stencil of `pos` (in an owned cell).
    #[inline(always)]
    fn stencil(&self, pos: [f64; 2]) -> Stencil {
        let tx = (pos[0] + self.half_width) * self.inv_h;
        let ix = self.cic.cell(pos[0]);
        let fx = (tx - ix as f64).clamp(0.0, 1.0);
        let cx = ix as isize - self.x0;
        if !self.two_d {
            return Stencil {
                kx: (self.vx_origin + cx) as usize,
                sx: 0,
                fx,
                fy: 0.0,
                ky: 0,
                sy: 0,
                gx: 0.0,
                gy: 0.0,
            };
        }
        let (j0, fy) = self.cic.axis(pos[1]);
        let ty = (pos[1] + self.half_width) * self.inv_h;
        let iy = self.cic.cell(pos[1]);
        let gy = (ty - iy as f64).clamp(0.0, 1.0);
        let (i0, gx) = self.cic.axis(pos[0]);
        let rx = j0 as isize - self.y0;
        let qy = iy as isize - self.y0;
        let ky = i0 as isize - self.x0;
        Stencil {
            kx: (self.vx_origin + rx * self.sx as isize + cx) as usize,
            sx: self.sx,
            fx,
            fy,
            ky: (self.vy_origin + qy * self.sy as isize + ky) as usize,
            sy: self.sy,
            gx,
            gy,
        }
    }
}

/// The reverse SDE sampler of one rank.
pub struct ReverseSde {
    mesh: Mesh,
    block: Block,
    geom: Geometry,
    ownership: Ownership,
    halo: HaloExchange,
    migrator: Migrator,
    face: ReverseFace,
    settings: SdeSettings,
    /// `sqrt(2 lambda D)`.
    noise: f64,
    rng: CounterRng,
    /// `fh` with one ghost layer (corners included).
    fpad: Field<f64>,
    aux: Field<ForwardAux>,
    /// `[0]`: the later state of the current interval (`f^{n+1}`), `[1]`: the earlier (`f^n`).
    vel: [FaceVelocity; 2],
    particles: Vec<Particle>,
    /// Sub-steps taken so far (the noise counter).
    tick: u64,
    report: SdeReport,
    /// Progress lines (rank 0; none unless set by [`ReverseSde::with_progress`]).
    progress: ReverseProgress,
}

impl ReverseSde {
    /// The sampler over `block` of `mesh` (process grid `grid`) for the model `params`.
    pub fn new(
        mesh: &Mesh,
        grid: ProcessGrid,
        block: &Block,
        params: &ModelParams,
        settings: SdeSettings,
    ) -> ReverseSde {
        let two_d = mesh.dim == 2;
        let gy = usize::from(two_d);
        let vel = [
            FaceVelocity::new(block, mesh.dim),
            FaceVelocity::new(block, mesh.dim),
        ];
        let vx_origin = vel[0].vx.index(0, 0) as isize;
        let sx = vel[0].vx.stride();
        let (vy_origin, sy) = if two_d {
            (vel[0].vy.index(0, 0) as isize, vel[0].vy.stride())
        } else {
            (0, 0)
        };
        ReverseSde {
            mesh: *mesh,
            block: block.clone(),
            geom: Geometry {
                cic: Cic::new(mesh, block),
                two_d,
                half_width: mesh.half_width,
                h: mesh.h,
                inv_h: 1.0 / mesh.h,
                x0: block.x0 as isize,
                y0: block.y0 as isize,
                vx_origin,
                sx,
                vy_origin,
                sy,
            },
            ownership: Ownership::new(mesh, grid),
            halo: HaloExchange::new(block),
            migrator: Migrator::new(block),
            face: ReverseFace::new(
                params.diffusion,
                params.kappa,
                params.gamma,
                settings.lambda,
                mesh.h,
            ),
            settings,
            noise: (2.0 * settings.lambda * params.diffusion).sqrt(),
            rng: CounterRng::new(settings.seed),
            fpad: Field::new(block.ny, block.nx, gy, 1),
            aux: Field::new(block.ny, block.nx, gy, 1),
            vel,
            particles: Vec::new(),
            tick: 0,
            report: SdeReport::default(),
            progress: ReverseProgress::new(false, "sde", f64::INFINITY),
        }
    }

    /// The same sampler printing progress lines (phase `sde`) on rank 0 (`is_root`) at most
    /// every `every_seconds`.
    pub fn with_progress(mut self, is_root: bool, every_seconds: f64) -> ReverseSde {
        self.progress = ReverseProgress::new(is_root, "sde", every_seconds);
        self
    }

    /// This rank's particles (any order).
    pub fn particles(&self) -> &[Particle] {
        &self.particles
    }

    /// Draws the particles from `u` (owned cells; negative or non-finite values count as 0):
    /// particle `id` by [`crate::particles::sample::draw_position`] over the global cell masses, kept by its owner.
    /// Collective.
    pub fn draw(&mut self, comm: &Comm, u: &Field) -> Result<(), String> {
        let (mesh, block) = (&self.mesh, &self.block);
        let mut global = vec![0.0f64; mesh.cells()];
        for j in 0..block.ny {
            for i in 0..block.nx {
                let v = u.get(j as isize, i as isize);
                global[(block.y0 + j) * mesh.nx() + block.x0 + i] =
                    if v.is_finite() && v > 0.0 { v } else { 0.0 };
            }
        }
        // One non-zero term per entry: the sum is exact, the same on every rank count.
        let global = comm.sum_many(&global);
        self.particles = draw_owned(
            &self.rng,
            Stream::ReverseInitial,
            &global,
            mesh,
            &self.ownership,
            block.coords,
            self.settings.samples,
        )
        .map_err(|e| format!("cannot draw the SDE sampler's particles: {e}"))?;
        Ok(())
    }

    /// The face velocities of the state `f` (owned cells) into slot `slot`, with their global
    /// `Lip` and `Vmax` (collective).
    fn velocities(&mut self, comm: &Comm, f: &Field, slot: usize) {
        let (mesh, block) = (&self.mesh, &self.block);
        let n = mesh.n as isize;
        let two_d = self.geom.two_d;
        self.fpad.copy_interior_from(f);
        self.halo.fill(comm, &mut self.fpad, 1);
        let (ny, nx) = (block.ny as isize, block.nx as isize);
        let (x0, y0) = (block.x0 as isize, block.y0 as isize);
        let rows = if two_d { -1..ny + 1 } else { 0..1 };
        let cols = -1..nx + 1;
        // Rows and columns that exist globally (ghosts beyond a wall are never read).
        let row_ok = |j: isize| !two_d || (y0 + j >= 0 && y0 + j < n);
        let col_ok = |i: isize| x0 + i >= 0 && x0 + i < n;
        let mut local_max = 0.0f64;
        for j in 0..ny {
            for i in 0..nx {
                local_max = local_max.max(self.fpad.get(j, i));
            }
        }
        let floor = ACTIVE_FLOOR * comm.max(local_max);
        for j in rows.clone() {
            for i in cols.clone() {
                if row_ok(j) && col_ok(i) {
                    let a = self.face.aux(floored_ln(self.fpad.get(j, i)));
                    self.aux.set(j, i, a);
                }
            }
        }
        let active = |fpad: &Field<f64>, j: isize, i: isize| fpad.get(j, i) >= floor;
        let h = mesh.h;
        let inv_h = 1.0 / h;
        let face = self.face;
        let aux = &self.aux;
        // The velocity on global face `g` between the cells `lo` and `hi`; zero on the walls.
        let face_value = |g: isize, lo: (isize, isize), hi: (isize, isize)| {
            if g == 0 || g == n {
                return 0.0;
            }
            let (l, r) = (aux.get(lo.0, lo.1), aux.get(hi.0, hi.1));
            let s = (r.ln_fh - l.ln_fh) * inv_h;
            face.velocity(mesh.face(g as usize), face.mean_g(l, r), s)
        };
        let v = &mut self.vel[slot];
        // x-faces: face i between cells i - 1 and i; zero on the walls.
        let mut vmax = 0.0f64;
        for j in rows.clone() {
            if !row_ok(j) {
                continue;
            }
            for i in 0..=nx {
                let value = face_value(x0 + i, (j, i - 1), (j, i));
                v.vx.set(j, i, value);
            }
        }
        let fpad = &self.fpad;
        // Active x-face: every existing cell beside it holds fh >= floor.
        let act_x = |j: isize, i: isize| {
            let g = x0 + i;
            (g == 0 || active(fpad, j, i - 1)) && (g == n || active(fpad, j, i))
        };
        let mut lip = 0.0f64;
        for j in 0..ny {
            for i in 0..=nx {
                if !act_x(j, i) {
                    continue;
                }
                let here = v.vx.get(j, i);
                vmax = vmax.max(here.abs());
                if i < nx && act_x(j, i + 1) {
                    lip = lip.max((v.vx.get(j, i + 1) - here).abs());
                }
                if two_d && row_ok(j + 1) && act_x(j + 1, i) {
                    lip = lip.max((v.vx.get(j + 1, i) - here).abs());
                }
            }
        }
        if two_d {
            for i in cols.clone() {
                if !col_ok(i) {
                    continue;
                }
                for j in 0..=ny {
                    let value = face_value(y0 + j, (j - 1, i), (j, i));
                    v.vy.set(j, i, value);
                }
            }
            let act_y = |j: isize, i: isize| {
                let g = y0 + j;
                (g == 0 || active(fpad, j - 1, i)) && (g == n || active(fpad, j, i))
            };
            for j in 0..=ny {
                for i in 0..nx {
                    if !act_y(j, i) {
                        continue;
                    }
                    let here = v.vy.get(j, i);
                    vmax = vmax.max(here.abs());
                    if j < ny && act_y(j + 1, i) {
                        lip = lip.max((v.vy.get(j + 1, i) - here).abs());
                    }
                    if col_ok(i + 1) && act_y(j, i + 1) {
                        lip = lip.max((v.vy.get(j, i + 1) - here).abs());
                    }
                }
            }
        }
        let global = comm.max_many(&[lip * inv_h, vmax]);
        v.lip = global[0];
        v.vmax = global[1];
    }

    /// The sub-step count of an interval of length `dt` between the two states in `vel`.
    fn substeps(&self, dt: f64) -> (u64, bool) {
        let c = self.settings.safety;
        let lip = self.vel[0].lip.max(self.vel[1].lip);
        let vmax = self.vel[0].vmax.max(self.vel[1].vmax);
        let want = dt * (lip / c).max(vmax / (c * self.mesh.h));
        if !want.is_finite() || want > MAX_SUBSTEPS as f64 {
            return (MAX_SUBSTEPS, true);
        }
        ((want.ceil() as u64).max(1), false)
    }

    /// Moves every particle through one reverse interval of length `dt` (from the state in
    /// `vel[0]` to the one in `vel[1]`). Collective.
    fn interval(&mut self, comm: &Comm, dt: f64) {
        let (m, capped) = self.substeps(dt);
        self.report.substeps += m;
        self.report.max_substeps = self.report.max_substeps.max(m);
        self.report.capped += u64::from(capped);
        let ds = dt / m as f64;
        let sigma = self.noise * ds.sqrt();
        let stochastic = sigma > 0.0;
        let geom = self.geom;
        let (l, h) = (geom.half_width, geom.h);
        for k in 0..m {
            self.tick += 1;
            let tick = self.tick;
            let theta = k as f64 / m as f64;
            let (wa, wb) = (1.0 - theta, theta);
            let t0 = Instant::now();
            let [va, vb] = &self.vel;
            let rng = self.rng;
            let mut tamed = 0u64;
            for p in self.particles.iter_mut() {
                let st = geom.stencil(p.pos);
                let a = va.eval(&st, geom.two_d);
                let b = vb.eval(&st, geom.two_d);
                let xi = if stochastic {
                    rng.normals(p.id, tick, Stream::Reverse)
                } else {
                    [0.0; 2]
                };
                let axes = if geom.two_d { 2 } else { 1 };
                for d in 0..axes {
                    let mut drift = ds * (wa * a[d] + wb * b[d]);
                    // (A NaN drift fails the finite test and is counted too.)
                    if !drift.is_finite() || drift.abs() > h {
                        tamed += 1;
                        drift = if drift.is_finite() {
                            h.copysign(drift)
                        } else {
                            0.0
                        };
                    }
                    p.pos[d] = reflect(p.pos[d] + drift + sigma * xi[d], l);
                }
            }
            self.report.tamed += tamed;
            self.report.particle_steps += self.particles.len() as u64;
            let t1 = Instant::now();
            let ownership = &self.ownership;
            self.migrator
                .migrate(comm, &mut self.particles, |p: &Particle| {
                    ownership.coords(p.pos)
                });
            self.report.push_wall += t1 - t0;
            self.report.migrate_wall += t1.elapsed();
        }
    }

    /// Totals over all ranks, with the conservation check of the id set (collective).
    pub fn report(&self, comm: &Comm) -> SdeReport {
        let r = self.report;
        let sums = comm.sum_u64_wrapping(&[
            r.tamed,
            r.particle_steps,
            self.particles.len() as u64,
            id_fingerprint(&self.particles),
        ]);
        let walls = comm.max_many(&[
            r.wall.as_secs_f64(),
            r.push_wall.as_secs_f64(),
            r.migrate_wall.as_secs_f64(),
        ]);
        SdeReport {
            tamed: sums[0],
            particle_steps: sums[1],
            count: sums[2],
            ids_intact: sums[2] == self.settings.samples
                && sums[3] == id_fingerprint_of_range(self.settings.samples),
            wall: Duration::from_secs_f64(walls[0]),
            push_wall: Duration::from_secs_f64(walls[1]),
            migrate_wall: Duration::from_secs_f64(walls[2]),
            ..r
        }
    }

    /// The sampler's part of a checkpoint: every particle as `id, x, y` in id order (the same
    /// on every rank), and the counters `tick, substeps, max_substeps, capped, tamed,
    /// particle_steps` (totals over the ranks). Collective.
    pub fn save(&self, comm: &Comm) -> (Vec<f64>, Vec<f64>) {
        let particles = all_in_id_order(comm, &self.particles);
        let r = self.report;
        let sums = comm.sum_u64_wrapping(&[r.tamed, r.particle_steps]);
        let counters = [
            self.tick,
            r.substeps,
            r.max_substeps,
            r.capped,
            sums[0],
            sums[1],
        ];
        (particles, counters.iter().map(|&c| c as f64).collect())
    }

    /// Continues from [`ReverseSde::save`]'s arrays with the reverse standing at the forward
    /// state `f_n` (its velocities are those of the next interval's end). Collective.
    pub fn restore(
        &mut self,
        comm: &Comm,
        particles: &[f64],
        counters: &[f64],
        f_n: &Field,
    ) -> Result<(), String> {
        let [tick, substeps, max_substeps, capped, tamed, particle_steps] = counters[..] else {
            return Err(format!(
                "SDE sampler checkpoint: {} counters, expected 6",
                counters.len()
            ));
        };
        let coords = self.block.coords;
        self.particles = particles
            .chunks_exact(3)
            .map(|c| Particle {
                id: c[0] as u64,
                pos: [c[1], c[2]],
            })
            .filter(|p| self.ownership.coords(p.pos) == coords)
            .collect();
        self.tick = tick as u64;
        let root = comm.is_root();
        self.report = SdeReport {
            substeps: substeps as u64,
            max_substeps: max_substeps as u64,
            capped: capped as u64,
            tamed: if root { tamed as u64 } else { 0 },
            particle_steps: if root { particle_steps as u64 } else { 0 },
            ..SdeReport::default()
        };
        self.velocities(comm, f_n, 0);
        Ok(())
    }

    /// Every particle's position on rank 0, in id order (empty elsewhere). Collective.
    pub fn gather_positions(&self, comm: &Comm) -> Vec<super::Point> {
        let local: Vec<(u64, super::Point)> = self
            .particles
            .iter()
            .map(|p| (p.id, [p.pos[0], p.pos[1], 0.0]))
            .collect();
        super::gather_samples(comm, &local)
    }
}

impl ReverseObserver for ReverseSde {
    fn start(&mut self, comm: &Comm, f_end: &mut Field, u_start: &Field) -> Result<(), String> {
        let t0 = Instant::now();
        self.draw(comm, u_start)?;
        self.velocities(comm, f_end, 0);
        self.report.wall += t0.elapsed();
        Ok(())
    }

    fn step(&mut self, comm: &Comm, step: ReverseStep<'_>) -> Result<(), String> {
        let t0 = Instant::now();
        self.velocities(comm, step.f_before, 1);
        self.interval(comm, step.dt);
        self.vel.swap(0, 1);
        self.report.wall += t0.elapsed();
        let substeps = self.report.substeps;
        self.progress
            .step(step.n, || format!("sub-steps {substeps}"));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The staggered interpolation reproduces face values at the faces and is linear between
    /// them; a linear field in both coordinates is reproduced exactly inside the box.
    #[test]
    fn staggered_interpolation_is_exact_for_linear_fields() {
        let mesh = Mesh::new(2, 9, 2.0);
        let grid = ProcessGrid::planar(1, 1);
        let block = Block::new(&mesh, grid, 0);
        let params = ModelParams::new(1.0, 0.0, 2.0);
        let settings = SdeSettings {
            lambda: 1.0,
            safety: 0.5,
            samples: 0,
            seed: 1,
        };
        let mut sde = ReverseSde::new(&mesh, grid, &block, &params, settings);
        let gx = |x: f64, y: f64| 0.3 + 1.7 * x - 0.6 * y;
        let gy = |x: f64, y: f64| -1.1 + 0.4 * x + 2.2 * y;
        // Centre and face coordinates of any (ghost) index.
        let c = mesh.centre_index() as f64;
        let centre = |k: isize| (k as f64 - c) * mesh.h;
        let face = |k: isize| (k as f64 - c - 0.5) * mesh.h;
        let v = &mut sde.vel[0];
        for j in -1..=9isize {
            for i in 0..=9isize {
                v.vx.set(j, i, gx(face(i), centre(j)));
            }
        }
        for j in 0..=9isize {
            for i in -1..=9isize {
                v.vy.set(j, i, gy(centre(i), face(j)));
            }
        }
        let inner = mesh.centre(8);
        for k in 0..400 {
            let x = -inner + 2.0 * inner * ((k * 37) % 400) as f64 / 400.0;
            let y = -inner + 2.0 * inner * ((k * 91 + 13) % 400) as f64 / 400.0;
            let st = sde.geom.stencil([x, y]);
            let [a, b] = sde.vel[0].eval(&st, true);
            assert!((a - gx(x, y)).abs() < 1e-12, "vx at ({x}, {y}): {a}");
            assert!((b - gy(x, y)).abs() < 1e-12, "vy at ({x}, {y}): {b}");
        }
    }

    /// For `kappa = 0` and a Gaussian `fh = exp(-|x|^2 / (2 s^2))` the face velocity is
    /// `x (1 - (1 + lambda) D / s^2)` exactly on interior faces (the log is quadratic).
    #[test]
    fn face_velocity_of_a_gaussian() {
        let mesh = Mesh::new(1, 21, 4.0);
        let grid = ProcessGrid::planar(1, 1);
        let block = Block::new(&mesh, grid, 0);
        let params = ModelParams::new(0.7, 0.0, 2.0);
        let lambda = 1.0;
        let settings = SdeSettings {
            lambda,
            safety: 0.5,
            samples: 0,
            seed: 1,
        };
        let sde = ReverseSde::new(&mesh, grid, &block, &params, settings);
        // Check the closed form through the face kernel the sampler uses.
        let s2 = 1.3f64;
        for i in 1..21usize {
            let (xl, xr) = (mesh.centre(i - 1), mesh.centre(i));
            let l = sde.face.aux(-xl * xl / (2.0 * s2));
            let r = sde.face.aux(-xr * xr / (2.0 * s2));
            let xf = mesh.face(i);
            let v = sde
                .face
                .velocity(xf, sde.face.mean_g(l, r), (r.ln_fh - l.ln_fh) / mesh.h);
            let want = xf * (1.0 - (1.0 + lambda) * 0.7 / s2);
            assert!((v - want).abs() < 1e-12, "face {i}: {v} vs {want}");
        }
    }
}
