//! Drawing particles from a density on the grid, reproducibly: particle `id` takes its cell by
//! inverse CDF over the global cell masses (in global row-major order) with a 53-bit uniform, and
//! its position uniformly inside that cell with two 32-bit uniforms, all from one counter-based
//! block keyed by `(seed, id, 0, stream)`. Every rank builds the same CDF from the same global
//! values, so particle `id` gets the same position on every rank count; a rank keeps the
//! particles whose position it owns.

use super::rng::{uniform32_open, uniform53, CounterRng, Stream};
use super::{Ownership, Particle};
use crate::mesh::Mesh;

/// Cumulative cell weights over the global grid.
#[derive(Clone, Debug)]
pub struct CellSampler {
    cdf: Vec<f64>,
}

impl CellSampler {
    /// The sampler for non-negative `weights` (global row-major order, `ny * nx` values).
    pub fn new(weights: &[f64]) -> Result<CellSampler, String> {
        let mut acc = 0.0;
        let mut cdf = Vec::with_capacity(weights.len());
        for (k, &w) in weights.iter().enumerate() {
            if !(w >= 0.0 && w.is_finite()) {
                return Err(format!(
                    "cell {k} has weight {w}: weights must be finite and >= 0"
                ));
            }
            acc += w;
            cdf.push(acc);
        }
        if acc <= 0.0 {
            return Err("every cell has weight 0: there is nothing to sample".into());
        }
        Ok(CellSampler { cdf })
    }

    /// The cell (global flat index) of the uniform `u` in `[0, 1)`: the first cell whose
    /// cumulative weight exceeds `u * total` (never a cell of weight 0).
    #[inline]
    pub fn cell(&self, u: f64) -> usize {
        let total = *self.cdf.last().expect("non-empty");
        let target = u * total;
        self.cdf
            .partition_point(|&c| c <= target)
            .min(self.cdf.len() - 1)
    }
}

/// The position of particle `id`, drawn from `sampler` on `mesh` (`y = 0` in 1D).
#[inline]
pub fn draw_position(
    rng: &CounterRng,
    stream: Stream,
    sampler: &CellSampler,
    mesh: &Mesh,
    id: u64,
) -> [f64; 2] {
    let b = rng.block(id, 0, stream);
    let cell = sampler.cell(uniform53(b[0], b[1]));
    let (iy, ix) = (cell / mesh.nx(), cell % mesh.nx());
    let x = mesh.face(ix) + mesh.h * uniform32_open(b[2]);
    let y = if mesh.dim == 2 {
        mesh.face(iy) + mesh.h * uniform32_open(b[3])
    } else {
        0.0
    };
    [x, y]
}

/// This rank's share of the particles `0..count` drawn from the global cell `weights` (global
/// row-major) with the stream `stream` of `rng`: every rank draws every id and keeps the ones
/// whose position `ownership` gives to `mine` (its process coordinates).
pub fn draw_owned(
    rng: &CounterRng,
    stream: Stream,
    weights: &[f64],
    mesh: &Mesh,
    ownership: &Ownership,
    mine: (usize, usize),
    count: u64,
) -> Result<Vec<Particle>, String> {
    let sampler = CellSampler::new(weights)?;
    let share = count as usize / ownership.ranks() + 1;
    let mut particles = Vec::with_capacity(share + share / 4);
    for id in 0..count {
        let pos = draw_position(rng, stream, &sampler, mesh, id);
        if ownership.coords(pos) == mine {
            particles.push(Particle { id, pos });
        }
    }
    Ok(particles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_cdf_skips_empty_cells() {
        let s = CellSampler::new(&[0.0, 1.0, 0.0, 3.0, 0.0]).unwrap();
        assert_eq!(s.cell(0.0), 1);
        assert_eq!(s.cell(0.2499), 1);
        assert_eq!(s.cell(0.25), 3);
        assert_eq!(s.cell(0.999_999), 3);
        assert!(CellSampler::new(&[0.0, 0.0]).is_err());
        assert!(CellSampler::new(&[1.0, -1.0]).is_err());
    }

    #[test]
    fn draws_follow_the_cell_masses() {
        let mesh = Mesh::new(2, 5, 1.0);
        let mut w = vec![0.0; 25];
        w[12] = 1.0; // centre
        w[3] = 3.0; // row 0, column 3
        let s = CellSampler::new(&w).unwrap();
        let rng = CounterRng::new(9);
        let n = 40_000u64;
        let mut in_centre = 0u64;
        for id in 0..n {
            let [x, y] = draw_position(&rng, Stream::Initial, &s, &mesh, id);
            let (ix, iy) = (mesh.locate(x).unwrap(), mesh.locate(y).unwrap());
            assert!((iy, ix) == (2, 2) || (iy, ix) == (0, 3), "{x} {y}");
            in_centre += u64::from((iy, ix) == (2, 2));
        }
        let p = in_centre as f64 / n as f64;
        assert!(
            (p - 0.25).abs() < 5.0 * (0.25 * 0.75 / n as f64).sqrt(),
            "{p}"
        );
    }
}
