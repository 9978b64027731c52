//! The samplers of `nlfp generate`: what carries `N` samples from the reverse sweep's start
//! state back to `t = 0` along with the reverse density, as observers of the reverse march
//! ([`crate::sweep::observers`]):
//!
//! * [`walk`]: the reverse grid random walk, exact in law for the discrete PDE, on occupation
//!   numbers drawn by a rank-independent multinomial over the cells ([`binomial`] for its moves),
//!   the final positions jittered uniformly inside their cells;
//! * [`sde`]: the reverse SDE particle sampler in continuous space;
//! * [`quality`]: the quality of generated samples against fresh samples of the data;
//! * [`Samplers`]: the ones `reverse.sampler` selects ([`SamplerKind`]), as one observer, and
//!   the samples they generated, gathered on rank 0.
//!
//! # Representation
//!
//! Particles are exchangeable, so an ensemble is a field of integer occupation numbers per cell
//! (stored as `f64`, exact below `2^53`). Every random number is `crate::random` keyed by
//! `(stream seed, key, counter)` with keys built from *global* indices (cell, step, sample),
//! never from a rank or a loop order, so every result here is bit-identical for any rank count.
//! Stream seeds are derived from `reverse.seed` and a purpose ([`Purpose`]), so the start
//! draw, the moves, the jitter and the two reference sets of the quality report never share
//! random numbers.
//!
//! # The multinomial start draw ([`multinomial_counts`])
//!
//! Cell weights are quantised to 63-bit fixed point, `q_j = floor(u_j / max u * S)` with
//! `S = floor(2^63 / cells)`, so that every partial sum is an exact `u64` and sums over ranks
//! (integer all-reduce) do not depend on the rank count. Sample `i` gets a uniform integer
//! `T_i` in `[0, sum q)` keyed by `i` (128 random bits modulo the total: bias below `2^-64`) and
//! lands in the cell whose interval `[P_j, P_j + q_j)` of the global (plane- and) row-major prefix sums
//! contains it. Cells with `u_j < max u * cells * 2^-63` (about `1e-13 max u` on a million
//! cells) get no sample; the probabilities are otherwise exact to `2^-52` relative.
//!
//! # Jitter ([`jittered_positions`])
//!
//! The `k`-th particle of global cell `c` sits at `centre + h (U - 1/2)` per axis, the uniforms
//! keyed by `(c, k)`. Samples are [`Point`]s `[x, y, z]` (unused coordinates 0). Samples are listed by global cell index, then `k`: a rank-independent
//! order.

pub mod binomial;
pub mod quality;
pub mod sde;
pub mod walk;

use crate::comm::Comm;
use crate::decomp::{Block, ProcessGrid};
use crate::error::CommandError;
use crate::field::Field;
use crate::io::checkpoint::{Loaded, Saved};
use crate::layout::Layout;
use crate::mesh::Mesh;
use crate::names::named_enum;
use crate::random;
use crate::sweep::observers::{Observers, ReverseObserver};
use crate::sweep::pipeline::Pipeline;

pub use crate::stats::Point;
use sde::{ReverseSde, SdeReport, SdeSettings};
pub use walk::{build_walk, ReverseWalk, SampleWalk, WalkReport};

named_enum! {
    /// What carries the samples back, selected by `reverse.sampler`.
    pub enum SamplerKind {
        /// The reverse grid random walk (exact in law for the discrete PDE).
        Walk = "walk",
        /// The reverse SDE particle sampler with interpolated coefficients.
        Sde = "sde",
        /// Both, side by side.
        Both = "both",
    }
}

impl SamplerKind {
    /// Whether the grid walk runs.
    pub fn walk(self) -> bool {
        matches!(self, SamplerKind::Walk | SamplerKind::Both)
    }

    /// Whether the SDE sampler runs.
    pub fn sde(self) -> bool {
        matches!(self, SamplerKind::Sde | SamplerKind::Both)
    }
}

/// What the samplers of a generate run are asked to do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplerSettings {
    /// Which samplers run.
    pub kind: SamplerKind,
    /// Samples `N` (0: none; no sampler runs).
    pub samples: u64,
    /// Seed of every random stream.
    pub seed: u64,
    /// `lambda` of the SDE sampler.
    pub lambda: f64,
    /// Sub-step safety of the SDE sampler.
    pub sde_safety: f64,
}

/// The samplers that run along one reverse march.
pub struct Samplers {
    settings: SamplerSettings,
    walk: Option<Box<dyn SampleWalk>>,
    sde: Option<ReverseSde>,
}

/// The samples the samplers generated: positions on rank 0 (empty elsewhere) and what each
/// sampler did (totals over the ranks).
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// The walk's samples (jittered, in global cell order) and report.
    pub walk: Option<(Vec<Point>, WalkReport)>,
    /// The SDE sampler's samples (in particle-id order) and report.
    pub sde: Option<(Vec<Point>, SdeReport)>,
}

impl Samplers {
    /// The samplers of `settings` for the run of `p` (decomposed by its layout's grid).
    pub fn new(p: &Pipeline, settings: SamplerSettings) -> Samplers {
        let (n, grid) = (settings.samples, p.layout.grid);
        let walk = (n > 0 && settings.kind.walk()).then(|| build_walk(p, grid, n, settings.seed));
        let sde = (n > 0 && settings.kind.sde()).then(|| {
            let sde = SdeSettings {
                lambda: settings.lambda,
                safety: settings.sde_safety,
                samples: n,
                seed: settings.seed,
            };
            ReverseSde::new(p.mesh(), grid, p.block(), &p.params, sde)
                .with_progress(p.comm.is_root(), p.march.progress_every)
        });
        Samplers {
            settings,
            walk,
            sde,
        }
    }

    /// Every sampler that runs, as one observer of the reverse march (the walk first).
    pub fn observers(&mut self) -> Observers<'_> {
        let mut list: Vec<&mut dyn ReverseObserver> = Vec::new();
        if let Some(w) = self.walk.as_mut() {
            list.push(w.observer());
        }
        if let Some(s) = self.sde.as_mut() {
            list.push(s);
        }
        Observers(list)
    }

    /// The samplers' part of a checkpoint: the walk's occupation numbers `walk_counts` and
    /// counters `walk_report` (`stuck` summed over the ranks, sub-steps, largest sub-step
    /// count); the SDE sampler's particles `sde_particles` and counters `sde_counters`
    /// ([`ReverseSde::save`]). Collective.
    pub fn save(&self, comm: &Comm) -> Saved {
        let mut saved = Saved::default();
        if let Some(walk) = &self.walk {
            let r = walk.report(comm);
            saved
                .fields
                .push(("walk_counts".into(), walk.counts().clone()));
            saved.small.push((
                "walk_report".into(),
                vec![r.stuck as f64, r.substeps as f64, r.max_substeps as f64],
            ));
        }
        if let Some(sde) = &self.sde {
            let (particles, counters) = sde.save(comm);
            saved.small.push(("sde_particles".into(), particles));
            saved.small.push(("sde_counters".into(), counters));
        }
        saved
    }

    /// Continues from the datasets of [`Samplers::save`] in `loaded`, the reverse standing at
    /// the forward state `f_n`. Collective.
    pub fn restore(&mut self, comm: &Comm, loaded: &mut Loaded, f_n: &Field) -> Result<(), String> {
        if let Some(walk) = self.walk.as_mut() {
            let counts = loaded.take_field("walk_counts")?;
            let r = loaded.small("walk_report")?;
            let (stuck, substeps, max_substeps) = match r {
                [a, b, c] => (*a as u64, *b as u64, *c as u64),
                _ => return Err("walk_report: expected 3 entries".into()),
            };
            let report = WalkReport {
                stuck: if comm.is_root() { stuck } else { 0 },
                substeps,
                max_substeps,
                ..WalkReport::default()
            };
            walk.restore(counts, report);
        }
        if let Some(sde) = self.sde.as_mut() {
            let particles = loaded.small("sde_particles")?.to_vec();
            let counters = loaded.small("sde_counters")?.to_vec();
            sde.restore(comm, &particles, &counters, f_n)?;
        }
        Ok(())
    }

    /// The samples at `t = 0`, gathered on rank 0, with every sampler's report; a sampler that
    /// lost or duplicated samples is an error. Collective.
    pub fn finish(
        &self,
        comm: &Comm,
        mesh: &Mesh,
        block: &Block,
    ) -> Result<Generated, CommandError> {
        let n = self.settings.samples;
        let mut out = Generated::default();
        if let Some(walk) = &self.walk {
            let jitter = stream_seed(self.settings.seed, Purpose::Jitter);
            let local = jittered_positions(mesh, block, walk.counts(), jitter);
            let points = gather_samples(comm, &local);
            let report = walk.report(comm);
            if comm.is_root() && points.len() as u64 != n {
                return Err(CommandError::Fatal(format!(
                    "reverse walk: {} samples at t = 0, expected {n}",
                    points.len()
                )));
            }
            out.walk = Some((points, report));
        }
        if let Some(sde) = &self.sde {
            let report = sde.report(comm);
            if !report.ids_intact {
                return Err(CommandError::Fatal(format!(
                    "reverse SDE sampler: {} particles at t = 0 (expected {n}) or ids lost \
                     or duplicated",
                    report.count
                )));
            }
            out.sde = Some((sde.gather_positions(comm), report));
        }
        Ok(out)
    }
}

/// What a random stream is used for; each purpose has its own stream seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The multinomial draw of the generated samples from the start state.
    Start,
    /// The moves of the reverse walk.
    Moves,
    /// The jitter of the generated samples.
    Jitter,
    /// The first reference sample set of `f0` (draw and jitter).
    ReferenceA,
    /// The second reference sample set of `f0` (the noise floor).
    ReferenceB,
    /// Random subsets for the O(N^2) metrics.
    Subset,
}

/// The stream seed of `purpose` for the user seed `seed`.
pub fn stream_seed(seed: u64, purpose: Purpose) -> u64 {
    random::bits(seed, 0x5A3D_0000 + purpose as u64, u64::MAX)
}

/// A global cell index `(iz ny + iy) nx + ix` (`iz = 0` in 1D and 2D: `iy nx + ix`).
#[inline]
pub fn global_cell(mesh: &Mesh, iz: usize, iy: usize, ix: usize) -> u64 {
    ((iz * mesh.ny() + iy) * mesh.nx() + ix) as u64
}

/// `n` particles drawn from the density `u` (owned cells of `block`; negative or non-finite
/// values count as 0) by a multinomial over all cells of `mesh`, as occupation numbers on this
/// rank's block (ghosts zero). Collective; bit-identical for any process grid.
pub fn multinomial_counts(
    comm: &Comm,
    mesh: &Mesh,
    grid: ProcessGrid,
    block: &Block,
    u: &Field,
    n: u64,
    seed: u64,
) -> Result<Field, String> {
    let clean = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
    let local_max = u.interior3().iter().fold(0.0f64, |m, &v| m.max(clean(v)));
    let max = comm.max(local_max);
    let mut counts = Field::of_block(mesh, block);
    if n == 0 {
        return Ok(counts);
    }
    if !(max > 0.0 && max.is_finite()) {
        return Err("cannot draw samples: the density is zero everywhere".into());
    }
    let scale = ((1u64 << 63) / mesh.cells() as u64) as f64;
    let quantise = |v: f64| (clean(v) / max * scale).floor() as u64;
    // Row partial sums of every rank: all[row * size + rank], global row `iz ny + iy`.
    let size = comm.size();
    let rows = mesh.nz() * mesh.ny();
    let global_row = |k: usize, j: usize| (block.z0 + k) * mesh.ny() + block.y0 + j;
    let value =
        |k: usize, j: usize, i: usize| u.raw()[u.index3(k as isize, j as isize, i as isize)];
    let mut partial = vec![0u64; rows * size];
    for k in 0..block.nz {
        for j in 0..block.ny {
            let row: u64 = (0..block.nx).map(|i| quantise(value(k, j, i))).sum();
            partial[global_row(k, j) * size + comm.rank()] = row;
        }
    }
    let all = comm.sum_u64_wrapping(&partial);
    let x0: Vec<usize> = (0..size).map(|r| Block::new(mesh, grid, r).x0).collect();
    let total: u64 = all.iter().sum();
    if total == 0 {
        return Err("cannot draw samples: the density is zero everywhere".into());
    }
    // Every rank draws every target (O(n) each), keyed by the sample index.
    let mut targets: Vec<u64> = (0..n)
        .map(|i| {
            let wide =
                (u128::from(random::bits(seed, i, 0)) << 64) | u128::from(random::bits(seed, i, 1));
            (wide % u128::from(total)) as u64
        })
        .collect();
    targets.sort_unstable();
    let mut row_start = 0u64;
    for r in 0..rows {
        let row = &all[r * size..(r + 1) * size];
        let (iz, iy) = (r / mesh.ny(), r % mesh.ny());
        let owned_z = iz >= block.z0 && iz < block.z0 + block.nz;
        if owned_z && iy >= block.y0 && iy < block.y0 + block.ny {
            let (k, j) = (iz - block.z0, iy - block.y0);
            let mut at = row_start
                + (0..size)
                    .filter(|&r| x0[r] < block.x0)
                    .map(|r| row[r])
                    .sum::<u64>();
            for i in 0..block.nx {
                let q = quantise(value(k, j, i));
                let lo = targets.partition_point(|&t| t < at);
                let hi = targets.partition_point(|&t| t < at + q);
                let c = counts.index3(k as isize, j as isize, i as isize);
                counts.raw_mut()[c] = (hi - lo) as f64;
                at += q;
            }
        }
        row_start += row.iter().sum::<u64>();
    }
    Ok(counts)
}

/// The particles of `counts` (owned cells) as `(global cell, [x, y, z])` (`y = 0` in 1D,
/// `z = 0` in 1D and 2D), each jittered uniformly inside its cell with uniforms keyed by
/// `(cell, k)` (counters `2k`, `2k + 1` in 1D and 2D; `3k`, `3k + 1`, `3k + 2` in 3D), in
/// block plane- and row-major order.
pub fn jittered_positions(
    mesh: &Mesh,
    block: &Block,
    counts: &Field,
    seed: u64,
) -> Vec<(u64, Point)> {
    let mut out = Vec::new();
    let per = if mesh.dim == 3 { 3 } else { 2 };
    for kz in 0..block.nz {
        for j in 0..block.ny {
            for i in 0..block.nx {
                let at = counts.index3(kz as isize, j as isize, i as isize);
                let c = counts.raw()[at] as u64;
                let (iz, iy, ix) = (block.z0 + kz, block.y0 + j, block.x0 + i);
                let cell = global_cell(mesh, iz, iy, ix);
                let centre = mesh.cell_centre3(iz, iy, ix);
                for k in 0..c {
                    let mut p = [0.0; 3];
                    for (d, p) in p.iter_mut().enumerate().take(mesh.dim) {
                        let jitter = random::uniform(seed, cell, per * k + d as u64) - 0.5;
                        *p = centre[d] + mesh.h * jitter;
                    }
                    out.push((cell, p));
                }
            }
        }
    }
    out
}

/// Gathers keyed positions of every rank on rank 0, sorted by key (the jittered samples by
/// global cell, then `k`; particles by id); empty elsewhere. Collective.
pub fn gather_samples(comm: &Comm, local: &[(u64, Point)]) -> Vec<Point> {
    let flat: Vec<f64> = local
        .iter()
        .flat_map(|&(c, [x, y, z])| [c as f64, x, y, z])
        .collect();
    let parts = comm.gather_to_root(&flat);
    let mut all: Vec<(u64, Point)> = parts
        .iter()
        .flat_map(|p| p.chunks_exact(4).map(|t| (t[0] as u64, [t[1], t[2], t[3]])))
        .collect();
    // Stable: the samples of one cell live on one rank, already in k order.
    all.sort_by_key(|&(c, _)| c);
    all.into_iter().map(|(_, p)| p).collect()
}

/// `n` jittered samples of the density `u` on rank 0 (sorted by cell), drawn with the streams
/// of `purpose`. Collective.
pub fn draw_samples(
    comm: &Comm,
    layout: &Layout,
    u: &Field,
    n: u64,
    seed: u64,
    purpose: Purpose,
) -> Result<Vec<Point>, String> {
    let s = stream_seed(seed, purpose);
    let Layout { mesh, grid, block } = layout;
    let counts = multinomial_counts(comm, mesh, *grid, block, u, n, s)?;
    // The jitter stream of a reference set: the same purpose seed, a different key space.
    let jitter = random::bits(s, u64::MAX, 0);
    Ok(gather_samples(
        comm,
        &jittered_positions(mesh, block, &counts, jitter),
    ))
}

/// A uniformly random subset of `k` of the points (all of them when `k >= len`), keyed by
/// `seed`: a partial Fisher–Yates shuffle.
pub fn random_subset(points: &[Point], k: usize, seed: u64) -> Vec<Point> {
    if k >= points.len() {
        return points.to_vec();
    }
    let mut idx: Vec<usize> = (0..points.len()).collect();
    for i in 0..k {
        let r = (random::bits(seed, i as u64, 0) % (points.len() - i) as u64) as usize;
        idx.swap(i, i + r);
    }
    idx[..k].iter().map(|&i| points[i]).collect()
}
