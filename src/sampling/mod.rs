//! Samples of a density on the grid: a rank-independent multinomial draw of `N` particles over
//! the cells, the reverse grid random walk that carries them back in time along the reverse
//! sweep ([`walk`]), and the final positions jittered uniformly inside their cells.
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
//! lands in the cell whose interval `[P_j, P_j + q_j)` of the global row-major prefix sums
//! contains it. Cells with `u_j < max u * cells * 2^-63` (about `1e-13 max u` on a million
//! cells) get no sample; the probabilities are otherwise exact to `2^-52` relative.
//!
//! # Jitter ([`jittered_positions`])
//!
//! The `k`-th particle of global cell `c` sits at `centre + h (U - 1/2)` per axis, the uniforms
//! keyed by `(c, k)`. Samples are listed by global cell index, then `k`: a rank-independent
//! order.

pub mod binomial;
pub mod walk;

use crate::comm::Comm;
use crate::decomp::{Block, ProcessGrid};
use crate::field::Field;
use crate::mesh::Mesh;
use crate::random;

pub use walk::{build_walk, ReverseWalk, SampleWalk, WalkReport};

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

/// A global cell index `iy * nx + ix`.
#[inline]
pub fn global_cell(mesh: &Mesh, iy: usize, ix: usize) -> u64 {
    (iy * mesh.nx() + ix) as u64
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
    let local_max = u.interior().iter().fold(0.0f64, |m, &v| m.max(clean(v)));
    let max = comm.max(local_max);
    let mut counts = Field::zeros(block.ny, block.nx);
    if n == 0 {
        return Ok(counts);
    }
    if !(max > 0.0 && max.is_finite()) {
        return Err("cannot draw samples: the density is zero everywhere".into());
    }
    let scale = ((1u64 << 63) / mesh.cells() as u64) as f64;
    let quantise = |v: f64| (clean(v) / max * scale).floor() as u64;
    // Row partial sums of every rank: all[row * size + rank].
    let size = comm.size();
    let mut partial = vec![0u64; mesh.ny() * size];
    for j in 0..block.ny {
        let row: u64 = (0..block.nx)
            .map(|i| quantise(u.get(j as isize, i as isize)))
            .sum();
        partial[(block.y0 + j) * size + comm.rank()] = row;
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
    for iy in 0..mesh.ny() {
        let row = &all[iy * size..(iy + 1) * size];
        if iy >= block.y0 && iy < block.y0 + block.ny {
            let j = iy - block.y0;
            let mut at = row_start
                + (0..size)
                    .filter(|&r| x0[r] < block.x0)
                    .map(|r| row[r])
                    .sum::<u64>();
            for i in 0..block.nx {
                let q = quantise(u.get(j as isize, i as isize));
                let lo = targets.partition_point(|&t| t < at);
                let hi = targets.partition_point(|&t| t < at + q);
                let k = counts.index(j as isize, i as isize);
                counts.raw_mut()[k] = (hi - lo) as f64;
                at += q;
            }
        }
        row_start += row.iter().sum::<u64>();
    }
    Ok(counts)
}

/// The particles of `counts` (owned cells) as `(global cell, [x, y])` (`y = 0` in 1D), each
/// jittered uniformly inside its cell with uniforms keyed by `(cell, k)`, in block row-major
/// order.
pub fn jittered_positions(
    mesh: &Mesh,
    block: &Block,
    counts: &Field,
    seed: u64,
) -> Vec<(u64, [f64; 2])> {
    let mut out = Vec::new();
    for j in 0..block.ny {
        for i in 0..block.nx {
            let c = counts.get(j as isize, i as isize) as u64;
            let (iy, ix) = (block.y0 + j, block.x0 + i);
            let cell = global_cell(mesh, iy, ix);
            let [xc, yc] = mesh.cell_centre(iy, ix);
            for k in 0..c {
                let x = xc + mesh.h * (random::uniform(seed, cell, 2 * k) - 0.5);
                let y = if mesh.dim == 2 {
                    yc + mesh.h * (random::uniform(seed, cell, 2 * k + 1) - 0.5)
                } else {
                    0.0
                };
                out.push((cell, [x, y]));
            }
        }
    }
    out
}

/// Gathers the jittered particles of every rank on rank 0, sorted by global cell (then `k`);
/// empty elsewhere. Collective.
pub fn gather_samples(comm: &Comm, local: &[(u64, [f64; 2])]) -> Vec<[f64; 2]> {
    let flat: Vec<f64> = local
        .iter()
        .flat_map(|&(c, [x, y])| [c as f64, x, y])
        .collect();
    let parts = comm.gather_to_root(&flat);
    let mut all: Vec<(u64, [f64; 2])> = parts
        .iter()
        .flat_map(|p| p.chunks_exact(3).map(|t| (t[0] as u64, [t[1], t[2]])))
        .collect();
    // Stable: the particles of one cell live on one rank, already in k order.
    all.sort_by_key(|&(c, _)| c);
    all.into_iter().map(|(_, p)| p).collect()
}

/// `n` jittered samples of the density `u` on rank 0 (sorted by cell), drawn with the streams
/// of `purpose`. Collective.
#[allow(clippy::too_many_arguments)]
pub fn draw_samples(
    comm: &Comm,
    mesh: &Mesh,
    grid: ProcessGrid,
    block: &Block,
    u: &Field,
    n: u64,
    seed: u64,
    purpose: Purpose,
) -> Result<Vec<[f64; 2]>, String> {
    let s = stream_seed(seed, purpose);
    let counts = multinomial_counts(comm, mesh, grid, block, u, n, s)?;
    // The jitter stream of a reference set: the same purpose seed, a different key space.
    let jitter = random::bits(s, u64::MAX, 0);
    Ok(gather_samples(
        comm,
        &jittered_positions(mesh, block, &counts, jitter),
    ))
}

/// A uniformly random subset of `k` of the points (all of them when `k >= len`), keyed by
/// `seed`: a partial Fisher–Yates shuffle.
pub fn random_subset(points: &[[f64; 2]], k: usize, seed: u64) -> Vec<[f64; 2]> {
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
