//! Initial densities, always normalised to the requested mass.
//!
//! A density `g` is evaluated at the cell centres (or, for `points`, histogrammed onto the
//! cells) and scaled to `f = m g / (h^d sum_global g)`. The normaliser is summed over the whole
//! global grid in global index order on every rank, so the initial field, like every later one,
//! is bit-identical for any rank count.

use crate::decomp::{Block, ProcessGrid};
use crate::field::Field;
use crate::mesh::Mesh;
use crate::names::named_enum;
use crate::physics::ou::GaussianMixture;

named_enum! {
    /// The family of the initial density, selected by `initial.kind` (the data of each is in
    /// [`InitialShape`]).
    pub enum InitialKind {
        /// A weighted sum of isotropic Gaussians (`initial.components`).
        GaussianMixture = "gaussian_mixture",
        /// A uniform disc (an interval in 1D) of `radius` around `centre`.
        Disc = "disc",
        /// A Gaussian ring of `radius` and thickness `width` around `centre` (two bumps in 1D).
        Ring = "ring",
        /// A histogram of samples read from the CSV `file`.
        Points = "points",
    }
}

/// The shape of the initial density (mass is applied separately).
#[derive(Clone, Debug)]
pub enum InitialShape {
    /// Sum of isotropic Gaussians with the given weights, means and standard deviations.
    GaussianMixture(GaussianMixture),
    /// Indicator of the disc (1D: interval) `|x - centre| <= radius`, sampled at cell centres.
    Disc {
        /// Centre `[x, y]` (`y` ignored in 1D).
        centre: [f64; 2],
        /// Radius.
        radius: f64,
    },
    /// Gaussian ring `exp(-(|x - centre| - radius)^2 / (2 width^2))`.
    Ring {
        /// Centre.
        centre: [f64; 2],
        /// Ring radius.
        radius: f64,
        /// Ring thickness (standard deviation across the ring).
        width: f64,
    },
    /// Histogram of sample coordinates: each sample adds one count to the cell containing it.
    Points(Vec<[f64; 2]>),
}

impl InitialShape {
    /// Unnormalised density at `x`.
    fn value(&self, dim: usize, x: [f64; 2]) -> f64 {
        let dist = |c: [f64; 2]| {
            let dx = x[0] - c[0];
            let dy = if dim == 2 { x[1] - c[1] } else { 0.0 };
            (dx * dx + dy * dy).sqrt()
        };
        match self {
            InitialShape::GaussianMixture(g) => g.density(x),
            InitialShape::Disc { centre, radius } => f64::from(u8::from(dist(*centre) <= *radius)),
            InitialShape::Ring {
                centre,
                radius,
                width,
            } => {
                let s = (dist(*centre) - radius) / width;
                (-0.5 * s * s).exp()
            }
            InitialShape::Points(_) => unreachable!("points are histogrammed"),
        }
    }

    /// The density of total mass `mass` on the whole grid, global row-major (every rank that
    /// calls computes all of it, in global order).
    pub fn global(&self, mesh: &Mesh, mass: f64) -> Result<Vec<f64>, String> {
        let whole = Block::new(mesh, ProcessGrid { px: 1, py: 1 }, 0);
        let mut f = Field::zeros(whole.ny, whole.nx);
        self.fill(mesh, &whole, mass, &mut f)?;
        Ok(f.interior().iter().copied().collect())
    }

    /// Fills the owned cells of `field` (block `block` of `mesh`) with the density of total
    /// mass `mass`.
    pub fn fill(
        &self,
        mesh: &Mesh,
        block: &Block,
        mass: f64,
        field: &mut Field,
    ) -> Result<(), String> {
        let (nx, ny) = (mesh.nx(), mesh.ny());
        let mut owned = field.interior_mut();
        let total = match self {
            InitialShape::Points(samples) => {
                let mut counts = vec![0u32; block.cells()];
                for (k, p) in samples.iter().enumerate() {
                    let ix = mesh.locate(p[0]);
                    let iy = if mesh.dim == 2 {
                        mesh.locate(p[1])
                    } else {
                        Some(0)
                    };
                    let (Some(ix), Some(iy)) = (ix, iy) else {
                        return Err(format!(
                            "sample {} at {:?} lies outside the domain [-{L}, {L}]^{}",
                            k + 1,
                            &p[..mesh.dim],
                            mesh.dim,
                            L = mesh.half_width
                        ));
                    };
                    if block.owns(iy, ix) {
                        counts[(iy - block.y0) * block.nx + (ix - block.x0)] += 1;
                    }
                }
                for (v, &c) in owned.iter_mut().zip(&counts) {
                    *v = c as f64;
                }
                samples.len() as f64
            }
            _ => {
                let mut total = 0.0;
                for iy in 0..ny {
                    for ix in 0..nx {
                        let g = self.value(mesh.dim, mesh.cell_centre(iy, ix));
                        total += g;
                        if block.owns(iy, ix) {
                            owned[[iy - block.y0, ix - block.x0]] = g;
                        }
                    }
                }
                total
            }
        };
        if !(total > 0.0 && total.is_finite()) {
            return Err(format!(
                "the initial density is zero on every cell centre of the grid (normaliser {total}); \
                 make the shape wider or the grid finer"
            ));
        }
        let scale = mass / (total * mesh.cell_volume());
        owned.mapv_inplace(|g| g * scale);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::ProcessGrid;

    #[test]
    fn mass_is_exact_and_blocks_agree_with_the_single_block() {
        let mesh = Mesh::new(2, 15, 3.0);
        let shape = InitialShape::Ring {
            centre: [0.3, -0.2],
            radius: 1.0,
            width: 0.3,
        };
        let one = Block::new(&mesh, ProcessGrid { px: 1, py: 1 }, 0);
        let mut whole = Field::zeros(one.ny, one.nx);
        shape.fill(&mesh, &one, 2.5, &mut whole).unwrap();
        let mass: f64 = whole.interior().sum() * mesh.cell_volume();
        assert!((mass - 2.5).abs() < 1e-13);
        let grid = ProcessGrid { px: 2, py: 3 };
        for r in 0..6 {
            let b = Block::new(&mesh, grid, r);
            let mut part = Field::zeros(b.ny, b.nx);
            shape.fill(&mesh, &b, 2.5, &mut part).unwrap();
            for j in 0..b.ny {
                for i in 0..b.nx {
                    assert_eq!(
                        part.interior()[[j, i]],
                        whole.interior()[[b.y0 + j, b.x0 + i]]
                    );
                }
            }
        }
    }

    #[test]
    fn points_are_histogrammed_and_outside_points_rejected() {
        let mesh = Mesh::new(1, 5, 1.0);
        let block = Block::new(&mesh, ProcessGrid { px: 1, py: 1 }, 0);
        let mut f = Field::zeros(1, 5);
        let shape = InitialShape::Points(vec![[0.0, 0.0], [0.05, 0.0], [-0.9, 0.0], [1.0, 0.0]]);
        shape.fill(&mesh, &block, 1.0, &mut f).unwrap();
        let h = mesh.h;
        let v: Vec<f64> = f.interior().iter().copied().collect();
        assert_eq!(v, vec![0.25 / h, 0.0, 0.5 / h, 0.0, 0.25 / h]);
        let bad = InitialShape::Points(vec![[0.0, 0.0], [1.5, 0.0]]);
        let err = bad.fill(&mesh, &block, 1.0, &mut f).unwrap_err();
        assert!(err.contains("sample 2"), "{err}");
    }
}
