//! Cloud-in-cell (CIC) deposit and interpolation on the solver's cell-centred grid.
//!
//! Along an axis a particle at `x` sits between the cell centres `i0` and `i0 + 1` with
//!
//! ```text
//! s = clamp((x + L)/h - 1/2, 0, n - 1),   i0 = min(floor s, n - 2),   frac = s - i0,
//! ```
//!
//! and gives weight `1 - frac` to cell `i0` and `frac` to `i0 + 1` (products of the two axes in
//! 2D). Between a wall and the first (last) cell centre the clamp puts all the weight on that
//! cell: the cloud is folded back at the wall, so no mass leaves the box and interpolation next
//! to a wall is constant, consistent with zero flux. A particle in owned cell `c` touches cells
//! `c - 1 ..= c + 1` only, so one ghost layer takes every contribution that belongs to a
//! neighbour.
//!
//! # Exact deposits
//!
//! Every particle deposits exactly [`UNITS_PER_PARTICLE`] `= 2^32` integer units: in 1D the
//! weights are `2^32 - a` and `a` with `a = floor(frac 2^32 + 1/2)`; in 2D each axis is quantised to
//! 16 bits (`a_x`, `a_y` in `0..=2^16`) and the four products sum to `2^32`. Integer addition is
//! associative, so the deposit does not depend on the order in which particles are visited,
//! on which rank visits them, or on the order in which ghost contributions are added: the
//! deposited field is bit-identical for any rank count, and the total is exactly
//! `N_p 2^32` units (`i64` holds it for `N_p < 2^31`). Units become a density by one
//! multiplication per cell, `rho = units * (m / N_p) / 2^32 / h^d`. The quantisation moves a
//! particle's weight by at most `h / 2^17` (2D) or `h / 2^33` (1D), far below the Monte Carlo
//! noise. Interpolation uses the unquantised `f64` weights (it is per particle and needs no
//! order independence), so linear functions are interpolated exactly away from the walls.

use super::Particle;
use crate::decomp::Block;
use crate::field::Field;
use crate::mesh::Mesh;

/// Units one particle deposits: `2^32`.
pub const UNITS_PER_PARTICLE: i64 = 1 << 32;
/// Per-axis quantum in 2D: `2^16`.
const Q2: i64 = 1 << 16;
/// Largest particle count for which the deposit cannot overflow `i64`.
pub const MAX_PARTICLES: u64 = (1 << 31) - 1;

/// CIC geometry of one block: where the stencil of a position lies in the block's padded arrays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cic {
    dim: usize,
    n: usize,
    half_width: f64,
    inv_h: f64,
    x0: isize,
    y0: isize,
}

impl Cic {
    /// The geometry of `block` on `mesh`.
    pub fn new(mesh: &Mesh, block: &Block) -> Cic {
        Cic {
            dim: mesh.dim,
            n: mesh.n,
            half_width: mesh.half_width,
            inv_h: 1.0 / mesh.h,
            x0: block.x0 as isize,
            y0: block.y0 as isize,
        }
    }

    /// Spatial dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `(i0, frac)` of coordinate `x` along an axis (global cell index of the left centre).
    #[inline(always)]
    pub fn axis(&self, x: f64) -> (usize, f64) {
        let s = ((x + self.half_width) * self.inv_h - 0.5).clamp(0.0, (self.n - 1) as f64);
        let i0 = (s as usize).min(self.n - 2);
        (i0, s - i0 as f64)
    }

    /// Global cell index containing coordinate `x` along an axis (`x` inside `[-L, L]`; a point on
    /// `x = L` belongs to the last cell). Computed from the same scaled coordinate as
    /// [`Cic::axis`], so the stencil of a particle always touches its own cell and at most one
    /// cell on each side.
    #[inline(always)]
    pub fn cell(&self, x: f64) -> usize {
        let t = (x + self.half_width) * self.inv_h;
        (t.max(0.0) as usize).min(self.n - 1)
    }

    /// Adds the units of every particle to `units` (ghost width >= 1 along each axis with
    /// cells beyond the block; every particle must lie in an owned cell).
    pub fn deposit(&self, particles: &[Particle], units: &mut Field<i64>) {
        let stride = units.stride();
        let base = self.origin(units.gy(), units.gx(), stride);
        let raw = units.raw_mut();
        if self.dim == 1 {
            for p in particles {
                let (i0, f) = self.axis(p.pos[0]);
                let a = (f * UNITS_PER_PARTICLE as f64 + 0.5) as i64;
                let k = (base + i0 as isize) as usize;
                raw[k] += UNITS_PER_PARTICLE - a;
                raw[k + 1] += a;
            }
        } else {
            for p in particles {
                let (i0, fx) = self.axis(p.pos[0]);
                let (j0, fy) = self.axis(p.pos[1]);
                let ax = (fx * Q2 as f64 + 0.5) as i64;
                let ay = (fy * Q2 as f64 + 0.5) as i64;
                let k = (base + (j0 * stride) as isize + i0 as isize) as usize;
                raw[k] += (Q2 - ax) * (Q2 - ay);
                raw[k + 1] += ax * (Q2 - ay);
                raw[k + stride] += (Q2 - ax) * ay;
                raw[k + stride + 1] += ax * ay;
            }
        }
    }

    /// The CIC interpolation of `a` (ghosts filled to width >= 1) at `pos`.
    #[inline(always)]
    pub fn gather(&self, a: &Field<f64>, pos: [f64; 2]) -> f64 {
        let raw = a.raw();
        let base = self.origin(a.gy(), a.gx(), a.stride());
        let (i0, fx) = self.axis(pos[0]);
        if self.dim == 1 {
            let k = (base + i0 as isize) as usize;
            (1.0 - fx) * raw[k] + fx * raw[k + 1]
        } else {
            let stride = a.stride();
            let (j0, fy) = self.axis(pos[1]);
            let k = (base + (j0 * stride) as isize + i0 as isize) as usize;
            let lower = (1.0 - fx) * raw[k] + fx * raw[k + 1];
            let upper = (1.0 - fx) * raw[k + stride] + fx * raw[k + stride + 1];
            (1.0 - fy) * lower + fy * upper
        }
    }

    /// Flat offset (possibly negative) of global cell `(0, 0)` in a padded array of this block
    /// with ghost widths `gy`, `gx` (1D arrays have one row, which is global row 0).
    #[inline(always)]
    fn origin(&self, gy: usize, gx: usize, stride: usize) -> isize {
        let y0 = if self.dim == 2 { self.y0 } else { 0 };
        (gy as isize - y0) * stride as isize + (gx as isize - self.x0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::ProcessGrid;
    use crate::particles::rng::{uniform53, CounterRng, Stream};

    fn whole(mesh: &Mesh) -> Block {
        Block::new(mesh, ProcessGrid::planar(1, 1), 0)
    }

    fn random_particles(mesh: &Mesh, count: u64, seed: u64) -> Vec<Particle> {
        let rng = CounterRng::new(seed);
        let l = mesh.half_width;
        (0..count)
            .map(|id| {
                let b = rng.block(id, 0, Stream::Initial);
                let x = -l + 2.0 * l * uniform53(b[0], b[1]);
                let y = if mesh.dim == 2 {
                    -l + 2.0 * l * uniform53(b[2], b[3])
                } else {
                    0.0
                };
                Particle { id, pos: [x, y] }
            })
            .collect()
    }

    #[test]
    fn deposit_total_is_exact_and_order_independent() {
        for dim in [1, 2] {
            let mesh = Mesh::new(dim, 9, 2.0);
            let block = whole(&mesh);
            let cic = Cic::new(&mesh, &block);
            let gy = usize::from(dim == 2);
            let mut particles = random_particles(&mesh, 5000, 3);
            // Walls and exact corners included.
            particles.push(Particle {
                id: 9000,
                pos: [2.0, if dim == 2 { -2.0 } else { 0.0 }],
            });
            particles.push(Particle {
                id: 9001,
                pos: [-2.0, 0.0],
            });
            let mut a: Field<i64> = Field::new(block.ny, block.nx, gy, 1);
            cic.deposit(&particles, &mut a);
            let total: i64 = a.raw().iter().sum();
            assert_eq!(total, particles.len() as i64 * UNITS_PER_PARTICLE);
            // Nothing lands outside the box (the ghosts of a single block stay empty).
            let mut owned = 0i64;
            for j in 0..block.ny as isize {
                for i in 0..block.nx as isize {
                    owned += a.get(j, i);
                }
            }
            assert_eq!(owned, total, "{dim}D: deposit leaked into ghosts");
            particles.reverse();
            let mut b: Field<i64> = Field::new(block.ny, block.nx, gy, 1);
            cic.deposit(&particles, &mut b);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn particle_at_a_centre_deposits_into_its_cell_only() {
        let mesh = Mesh::new(2, 7, 3.5);
        let block = whole(&mesh);
        let cic = Cic::new(&mesh, &block);
        let mut a: Field<i64> = Field::new(7, 7, 1, 1);
        let p = Particle {
            id: 0,
            pos: [mesh.centre(4), mesh.centre(2)],
        };
        cic.deposit(&[p], &mut a);
        assert_eq!(a.get(2, 4), UNITS_PER_PARTICLE);
        // Halfway between centres: a quarter in each of four cells.
        let mut b: Field<i64> = Field::new(7, 7, 1, 1);
        let q = Particle {
            id: 1,
            pos: [mesh.face(4), mesh.face(3)],
        };
        cic.deposit(&[q], &mut b);
        for (j, i) in [(2, 3), (2, 4), (3, 3), (3, 4)] {
            assert_eq!(b.get(j, i), UNITS_PER_PARTICLE / 4);
        }
    }

    #[test]
    fn linear_functions_are_interpolated_exactly() {
        for dim in [1, 2] {
            let mesh = Mesh::new(dim, 11, 3.0);
            let block = whole(&mesh);
            let cic = Cic::new(&mesh, &block);
            let gy = usize::from(dim == 2);
            let mut a: Field<f64> = Field::new(block.ny, block.nx, gy, 1);
            let g = |x: f64, y: f64| 0.7 + 1.3 * x - 0.4 * y;
            for j in 0..block.ny {
                for i in 0..block.nx {
                    let [x, y] = mesh.cell_centre(j, i);
                    a.set(j as isize, i as isize, g(x, y));
                }
            }
            let inner = mesh.centre(mesh.n - 1); // interior: between the outer centres
            for p in random_particles(&mesh, 2000, 11) {
                if p.pos[0].abs() > inner || p.pos[1].abs() > inner {
                    continue;
                }
                let got = cic.gather(&a, p.pos);
                let want = g(p.pos[0], p.pos[1]);
                assert!(
                    (got - want).abs() < 1e-13,
                    "{dim}D at {:?}: {got} vs {want}",
                    p.pos
                );
            }
            // Constants everywhere, walls included.
            a.fill(2.5);
            for p in random_particles(&mesh, 500, 12) {
                assert!((cic.gather(&a, p.pos) - 2.5).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn deposit_and_gather_are_adjoint() {
        // sum_cells units(c) g(c) = sum_particles 2^32 * gather(g)(p), up to the quantisation.
        let mesh = Mesh::new(2, 9, 2.0);
        let block = whole(&mesh);
        let cic = Cic::new(&mesh, &block);
        let particles = random_particles(&mesh, 300, 5);
        let mut units: Field<i64> = Field::new(9, 9, 1, 1);
        cic.deposit(&particles, &mut units);
        let mut g: Field<f64> = Field::new(9, 9, 1, 1);
        for j in 0..9 {
            for i in 0..9 {
                g.set(j, i, ((i * 7 + j * 3) % 5) as f64);
            }
        }
        let lhs: f64 = (0..9)
            .flat_map(|j| (0..9).map(move |i| (j, i)))
            .map(|(j, i)| units.get(j, i) as f64 * g.get(j, i))
            .sum::<f64>()
            / UNITS_PER_PARTICLE as f64;
        let rhs: f64 = particles.iter().map(|p| cic.gather(&g, p.pos)).sum();
        assert!((lhs - rhs).abs() < 1e-3 * rhs.abs(), "{lhs} vs {rhs}");
    }

    #[test]
    fn stencil_stays_within_one_cell_of_the_owner() {
        let mesh = Mesh::new(1, 21, 3.0);
        let cic = Cic::new(&mesh, &whole(&mesh));
        for p in random_particles(&mesh, 20_000, 8) {
            let c = cic.cell(p.pos[0]);
            let (i0, _) = cic.axis(p.pos[0]);
            assert!(i0 + 1 >= c && i0 <= c, "{} {c} {i0}", p.pos[0]);
            assert_eq!(Some(c), mesh.locate(p.pos[0]).map(|k| k.min(20)));
        }
        assert_eq!(cic.cell(3.0), 20);
        assert_eq!(cic.cell(-3.0), 0);
    }
}
