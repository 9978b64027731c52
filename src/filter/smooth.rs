//! Separable binomial smoothing of a distributed field, with halo exchange.
//!
//! One pass along an axis is the three-point binomial stencil `[1/4, 1/2, 1/4]`, written in flux
//! form as one explicit heat step with `D dt / h^2 = 1/4`:
//!
//! ```text
//! u_i <- u_i + F_{i-1/2} - F_{i+1/2},   F_{i-1/2} = (u_{i-1} - u_i) / 4,   F = 0 on the boundary,
//! ```
//!
//! so every pass conserves mass to round-off, is exact on constants, keeps positivity (the
//! weights are `1/2, 1/4, 1/4`, `3/4, 1/4` next to the boundary) and, away from the boundary,
//! adds variance `1/2` cell^2. `p` passes per axis approximate a Gaussian of standard deviation
//! `sqrt(p/2)` cells, so a width `sigma` (cells) uses `p = round(2 sigma^2)` passes per axis
//! (x passes first, then y). Each pass needs one ghost layer: the halo is exchanged before each
//! pass, and both sides of a rank boundary compute the face flux from the same two values with the
//! same formula, so the result is bit-identical for any rank count.

use crate::comm::{Comm, HaloExchange};
use crate::decomp::{Block, Side};
use crate::field::Field;

/// The binomial smoother of one block.
pub struct Smoother {
    passes: usize,
    two_d: bool,
    halo: HaloExchange,
    /// Physical boundary on each side ([`Side::index`]).
    boundary: [bool; 6],
    /// One row (or column) of face fluxes.
    flux: Vec<f64>,
}

impl Smoother {
    /// Passes per axis for a Gaussian width of `sigma` cells: `round(2 sigma^2)` (0 for
    /// `sigma <= 0`).
    pub fn passes_for(sigma_cells: f64) -> usize {
        if sigma_cells > 0.0 {
            (2.0 * sigma_cells * sigma_cells).round() as usize
        } else {
            0
        }
    }

    /// The standard deviation in cells that [`Smoother::passes_for`] actually gives:
    /// `sqrt(p / 2)`.
    pub fn effective_width(passes: usize) -> f64 {
        (passes as f64 / 2.0).sqrt()
    }

    /// A smoother of width `sigma_cells` (cells) for `block` of a `dim`-dimensional mesh.
    pub fn new(dim: usize, block: &Block, sigma_cells: f64) -> Smoother {
        Smoother {
            passes: Self::passes_for(sigma_cells),
            two_d: dim == 2,
            halo: HaloExchange::new(block),
            boundary: Side::ALL.map(|s| block.neighbours[s.index()].is_none()),
            flux: vec![0.0; block.nx.max(block.ny) + 1],
        }
    }

    /// Passes per axis.
    pub fn passes(&self) -> usize {
        self.passes
    }

    /// Smooths the owned cells of `f` in place (collective; refreshes the ghosts of `f`).
    pub fn apply(&mut self, comm: &Comm, f: &mut Field) {
        for _ in 0..self.passes {
            self.halo.exchange(comm, f, |_| ());
            self.pass_x(f);
        }
        if self.two_d {
            for _ in 0..self.passes {
                self.halo.exchange(comm, f, |_| ());
                self.pass_y(f);
            }
        }
    }

    fn pass_x(&mut self, f: &mut Field) {
        let (nx, ny) = (f.nx(), f.ny());
        let (west, east) = (
            self.boundary[Side::West.index()],
            self.boundary[Side::East.index()],
        );
        let flux = &mut self.flux[..nx + 1];
        for j in 0..ny {
            let k = f.index(j as isize, 0);
            let raw = f.raw_mut();
            // Face i sits between cells i - 1 and i (ghosts at -1 and nx).
            for (i, fl) in flux.iter_mut().enumerate() {
                *fl = face_flux(raw[k + i - 1], raw[k + i]);
            }
            if west {
                flux[0] = 0.0;
            }
            if east {
                flux[nx] = 0.0;
            }
            for i in 0..nx {
                raw[k + i] += flux[i] - flux[i + 1];
            }
        }
    }

    fn pass_y(&mut self, f: &mut Field) {
        let (nx, ny) = (f.nx(), f.ny());
        let stride = f.stride();
        let (south, north) = (
            self.boundary[Side::South.index()],
            self.boundary[Side::North.index()],
        );
        let flux = &mut self.flux[..ny + 1];
        for i in 0..nx {
            let k = f.index(0, i as isize);
            let raw = f.raw_mut();
            for (j, fl) in flux.iter_mut().enumerate() {
                *fl = face_flux(raw[k + j * stride - stride], raw[k + j * stride]);
            }
            if south {
                flux[0] = 0.0;
            }
            if north {
                flux[ny] = 0.0;
            }
            for j in 0..ny {
                raw[k + j * stride] += flux[j] - flux[j + 1];
            }
        }
    }
}

/// The binomial face flux from the cell below (`lo`) to the cell above (`hi`).
#[inline(always)]
fn face_flux(lo: f64, hi: f64) -> f64 {
    0.25 * (lo - hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::ProcessGrid;
    use crate::mesh::Mesh;

    /// The passes of [`Smoother::apply`] on a single block (no neighbours, so no exchange).
    fn smooth_single(dim: usize, n: usize, sigma: f64, f: &mut Field) {
        let mesh = Mesh::new(dim, n, 3.0);
        let block = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
        let mut s = Smoother::new(dim, &block, sigma);
        for _ in 0..s.passes {
            s.pass_x(f);
        }
        if dim == 2 {
            for _ in 0..s.passes {
                s.pass_y(f);
            }
        }
    }

    fn filled(ny: usize, nx: usize, v: impl Fn(usize, usize) -> f64) -> Field {
        let mut f = Field::zeros(ny, nx);
        for j in 0..ny {
            for i in 0..nx {
                let k = f.index(j as isize, i as isize);
                f.raw_mut()[k] = v(j, i);
            }
        }
        f
    }

    #[test]
    fn passes_match_the_gaussian_width() {
        assert_eq!(Smoother::passes_for(0.0), 0);
        assert_eq!(Smoother::passes_for(1.0), 2);
        assert_eq!(Smoother::passes_for(2.0), 8);
        assert!((Smoother::effective_width(8) - 2.0).abs() < 1e-15);
    }

    /// Constants are kept exactly (every flux is exactly 0), in 1D and 2D.
    #[test]
    fn exact_on_constants() {
        for (dim, ny) in [(1, 1), (2, 9)] {
            let mut f = filled(ny, 9, |_, _| 0.37);
            smooth_single(dim, 9, 2.5, &mut f);
            assert!(f.interior().iter().all(|&v| v == 0.37));
        }
    }

    /// Mass is conserved to round-off, positivity kept, and a delta in the middle spreads to the
    /// variance `p / 2` per axis (cells^2) with the binomial weights.
    #[test]
    fn mass_conserving_positive_and_of_the_stated_width() {
        let n = 41;
        let mut f = filled(1, n, |_, i| if i == 20 { 1.0 } else { 0.0 });
        smooth_single(1, n, 2.0, &mut f);
        let v: Vec<f64> = f.interior().iter().copied().collect();
        let mass: f64 = v.iter().sum();
        assert!((mass - 1.0).abs() < 1e-15, "{mass}");
        assert!(v.iter().all(|&x| x >= 0.0));
        let var: f64 = v
            .iter()
            .enumerate()
            .map(|(i, x)| x * (i as f64 - 20.0).powi(2))
            .sum();
        assert!((var - 4.0).abs() < 1e-12, "variance {var}");
        // 8 passes of [1/4, 1/2, 1/4] = the binomial C(16, k) / 2^16.
        assert!((v[20] - 12870.0 / 65536.0).abs() < 1e-15);
        // Rough 2D data next to the boundary: mass kept, positivity kept.
        let mut g = filled(7, 7, |j, i| {
            ((j * 7 + i) % 3) as f64 + 0.1 * (i == 0) as u8 as f64
        });
        let before: f64 = g.interior().sum();
        smooth_single(2, 7, 1.5, &mut g);
        let after: f64 = g.interior().sum();
        assert!((after - before).abs() < 1e-13 * before, "{before} {after}");
        assert!(g.interior().iter().all(|&x| x > 0.0));
    }
}
