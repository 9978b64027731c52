//! Initial densities, always normalised to the requested mass.
//!
//! A density `g` is evaluated at the cell centres (`gaussian_mixture`, `disc`, `ring`) or
//! averaged over the cells as separable blobs ([`deposit`]: the `toy` sets of [`toy`], the
//! pixels of an `image` ([`image`]), the `points` as a histogram or a Gaussian kernel density)
//! and scaled to `f = m g / (h^d sum_global g)`. The normaliser is summed in one global order
//! on every rank, so the initial field, like every later one, is bit-identical for any rank
//! count.
//!
//! # Points: histogram, kernel density, held-out points
//!
//! With `bandwidth = b > 0` every training point is a Gaussian `N(p, b^2 I)` averaged over the
//! cells (the kernel density estimate, cut at `8 b`); `b = 0` is the histogram (one count in
//! the cell containing the point). `holdout = q` keeps `round(q N)` of the `N` points, chosen
//! by a partial Fisher–Yates shuffle keyed by `initial.seed` ([`split_holdout`]), out of `f0`:
//! the sample report of `nlfp generate` measures the generated samples against them
//! ([`crate::samplers::quality`]).

pub mod deposit;
pub mod image;
pub mod toy;

use crate::decomp::{Block, ProcessGrid};
use crate::field::Field;
use crate::mesh::Mesh;
use crate::names::named_enum;
use crate::physics::ou::GaussianMixture;
use crate::random;
use crate::stats::Point;
use deposit::{deposit, Blob};
use image::Image;
use toy::ToyName;

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
        /// Samples read from the CSV `file` (or drawn from a toy set): a histogram or a kernel
        /// density, with points held out.
        Points = "points",
        /// A toy data set of the generative-model literature ([`toy`]).
        Toy = "toy",
        /// A PNG image as a 2D density ([`image`]).
        Image = "image",
    }
}

/// A list of points `[x, y]` (`y = 0` in 1D).
pub type Points = Vec<[f64; 2]>;

/// The training and the held-out points, as `[x, y, z]` (missing coordinates 0).
pub type PointSets<'a> = (&'a [Point], &'a [Point]);

/// One isotropic Gaussian of a 3D mixture: `weight N(mean, std^2 I)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gaussian3 {
    /// Weight.
    pub weight: f64,
    /// Centre `[x, y, z]`.
    pub mean: [f64; 3],
    /// Standard deviation.
    pub std: f64,
}

impl Gaussian3 {
    /// `weight (2 pi s^2)^(-3/2) exp(-|x - mean|^2 / (2 s^2))`.
    pub fn density(&self, x: [f64; 3]) -> f64 {
        let var = self.std * self.std;
        let r2: f64 = (0..3).map(|d| (x[d] - self.mean[d]).powi(2)).sum();
        self.weight * (2.0 * std::f64::consts::PI * var).powf(-1.5) * (-0.5 * r2 / var).exp()
    }
}

/// A 3D initial density evaluated at the cell centres (`grid.dim = 3`).
#[derive(Clone, Debug, PartialEq)]
pub enum Density3 {
    /// A Gaussian mixture (`gaussian_mixture`).
    Mixture(Vec<Gaussian3>),
    /// The indicator of the ball `|x - centre| <= radius` (`disc` in 3D).
    Ball {
        /// Centre `[x, y, z]`.
        centre: [f64; 3],
        /// Radius.
        radius: f64,
    },
    /// The Gaussian shell `exp(-(|x - centre| - radius)^2 / (2 width^2))` (`ring` in 3D).
    Shell {
        /// Centre `[x, y, z]`.
        centre: [f64; 3],
        /// Shell radius.
        radius: f64,
        /// Shell thickness (standard deviation across it).
        width: f64,
    },
}

impl Density3 {
    /// The unnormalised density at `x`.
    pub fn value(&self, x: [f64; 3]) -> f64 {
        let dist = |c: [f64; 3]| (0..3).map(|d| (x[d] - c[d]).powi(2)).sum::<f64>().sqrt();
        match self {
            Density3::Mixture(blobs) => blobs.iter().map(|b| b.density(x)).sum(),
            Density3::Ball { centre, radius } => f64::from(u8::from(dist(*centre) <= *radius)),
            Density3::Shell {
                centre,
                radius,
                width,
            } => {
                let s = (dist(*centre) - radius) / width;
                (-0.5 * s * s).exp()
            }
        }
    }
}

/// The shape of the initial density (mass is applied separately).
#[derive(Clone, Debug)]
pub enum InitialShape {
    /// Sum of isotropic Gaussians with the given weights, means and standard deviations.
    GaussianMixture(GaussianMixture),
    /// A 3D density (`grid.dim = 3`: Gaussian mixture, ball, shell), evaluated at the cell
    /// centres.
    Volume(Density3),
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
    /// Training points as a histogram (`bandwidth = 0`) or a Gaussian kernel density; the
    /// held-out points do not enter the density.
    Points {
        /// The points `[x, y, z]` of `f0` (coordinates beyond `grid.dim` 0).
        train: Vec<Point>,
        /// The points kept out of `f0` (for the sample report).
        held: Vec<Point>,
        /// Kernel standard deviation (a length; 0: histogram).
        bandwidth: f64,
    },
    /// A toy set at `scale` times its usual coordinates ([`toy`]).
    Toy {
        /// Which set.
        name: ToyName,
        /// Factor on every coordinate.
        scale: f64,
    },
    /// A decoded image on `extent = [x_min, x_max, y_min, y_max]` ([`image`]).
    Image {
        /// The pixel values.
        image: Image,
        /// Where the image lies.
        extent: [f64; 4],
    },
}

impl InitialShape {
    /// Unnormalised density at the cell centre `x = [x, y, z]` (`z = 0` below 3D, `y = 0` in
    /// 1D) of a shape evaluated at cell centres.
    fn value(&self, dim: usize, x: [f64; 3]) -> f64 {
        let dist = |c: [f64; 2]| {
            let dx = x[0] - c[0];
            let dy = if dim == 2 { x[1] - c[1] } else { 0.0 };
            (dx * dx + dy * dy).sqrt()
        };
        match self {
            InitialShape::Volume(density) => density.value(x),
            InitialShape::GaussianMixture(g) => g.density([x[0], x[1]]),
            InitialShape::Disc { centre, radius } => f64::from(u8::from(dist(*centre) <= *radius)),
            InitialShape::Ring {
                centre,
                radius,
                width,
            } => {
                let s = (dist(*centre) - radius) / width;
                (-0.5 * s * s).exp()
            }
            _ => unreachable!("blob shapes are deposited"),
        }
    }

    /// The density of total mass `mass` on the whole grid, global row-major (every rank that
    /// calls computes all of it, in global order).
    pub fn global(&self, mesh: &Mesh, mass: f64) -> Result<Vec<f64>, String> {
        let whole = Block::new(mesh, ProcessGrid::single(), 0);
        let mut f = Field::for_dim(mesh.dim, whole.nz, whole.ny, whole.nx);
        self.fill(mesh, &whole, mass, &mut f)?;
        Ok(f.interior3().iter().copied().collect())
    }

    /// Fills the owned cells of `field` (block `block` of `mesh`) with the density of total
    /// mass `mass`. The normaliser is summed over the whole grid in global order (z, y, x) on
    /// every rank, so the field is the same for any decomposition.
    pub fn fill(
        &self,
        mesh: &Mesh,
        block: &Block,
        mass: f64,
        field: &mut Field,
    ) -> Result<(), String> {
        let mut owned = field.interior3_mut();
        owned.fill(0.0);
        let total = match self.blobs(mesh)? {
            Some(blobs) => deposit(mesh, block, &blobs, &mut owned),
            _ => {
                let mut total = 0.0;
                let planes = block.z0..block.z0 + block.nz;
                for iz in 0..mesh.nz() {
                    for iy in 0..mesh.ny() {
                        for ix in 0..mesh.nx() {
                            let g = self.value(mesh.dim, mesh.cell_centre3(iz, iy, ix));
                            total += g;
                            if planes.contains(&iz) && block.owns(iy, ix) {
                                owned[[iz - block.z0, iy - block.y0, ix - block.x0]] = g;
                            }
                        }
                    }
                }
                total
            }
        };
        if !(total > 0.0 && total.is_finite()) {
            if let InitialShape::Points { .. } | InitialShape::Image { .. } = self {
                return Err(format!(
                    "the initial density has no mass inside the domain [-{L}, {L}]^{} \
                     (normaliser {total})",
                    mesh.dim,
                    L = mesh.half_width
                ));
            }
            return Err(format!(
                "the initial density is zero on every cell centre of the grid (normaliser {total}); \
                 make the shape wider or the grid finer"
            ));
        }
        let scale = mass / (total * mesh.cell_volume());
        owned.mapv_inplace(|g| g * scale);
        Ok(())
    }

    /// The shape as blobs ([`deposit`]), `None` for the shapes evaluated at cell centres.
    /// Points outside the domain are an error naming the first one.
    pub fn blobs(&self, mesh: &Mesh) -> Result<Option<Vec<Blob>>, String> {
        Ok(Some(match self {
            InitialShape::Points {
                train, bandwidth, ..
            } => sample_blobs(mesh, train, *bandwidth)?,
            InitialShape::Toy { name, scale } => {
                name.blobs().into_iter().map(|b| b.scaled(*scale)).collect()
            }
            InitialShape::Image { image, extent } => image.blobs(*extent),
            _ => return Ok(None),
        }))
    }

    /// The held-out points (`points` with `holdout > 0`; empty otherwise).
    pub fn held_out(&self) -> Option<PointSets<'_>> {
        match self {
            InitialShape::Points { train, held, .. } if !held.is_empty() => Some((train, held)),
            _ => None,
        }
    }
}

/// The blobs of sample points `[x, y, z]` (coordinates beyond `mesh.dim` ignored):
/// [`Blob::sample`] of each; a point outside the domain is an error naming the first one.
fn sample_blobs(mesh: &Mesh, points: &[[f64; 3]], bandwidth: f64) -> Result<Vec<Blob>, String> {
    let l = mesh.half_width;
    let dim = mesh.dim;
    if let Some(k) = points
        .iter()
        .position(|p| !p[..dim].iter().all(|x| (-l..=l).contains(x)))
    {
        return Err(format!(
            "sample {} at {:?} lies outside the domain [-{l}, {l}]^{dim}",
            k + 1,
            &points[k][..dim],
        ));
    }
    Ok(points.iter().map(|&p| Blob::sample(p, bandwidth)).collect())
}

/// Splits `points` into the training points and `round(fraction N)` held-out points chosen by
/// a partial Fisher–Yates shuffle keyed by `seed`; both keep the order of `points`. With
/// `fraction > 0` each part must get at least one point.
pub fn split_holdout<P>(
    points: Vec<P>,
    fraction: f64,
    seed: u64,
) -> Result<(Vec<P>, Vec<P>), String> {
    let n = points.len();
    if fraction <= 0.0 {
        return Ok((points, Vec::new()));
    }
    let k = (fraction * n as f64).round() as usize;
    if k == 0 || k >= n {
        return Err(format!(
            "holdout = {fraction} of {n} points leaves {k} held out and {} for the density; \
             both need at least one",
            n.saturating_sub(k)
        ));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let r = (random::bits(seed, i as u64, 0x401d) % (n - i) as u64) as usize;
        idx.swap(i, i + r);
    }
    let mut is_held = vec![false; n];
    idx[..k].iter().for_each(|&i| is_held[i] = true);
    let (mut train, mut held) = (Vec::with_capacity(n - k), Vec::with_capacity(k));
    for (p, h) in points.into_iter().zip(is_held) {
        if h {
            held.push(p);
        } else {
            train.push(p);
        }
    }
    Ok((train, held))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::ProcessGrid;

    /// 3D mixture, ball and shell: the mass is `m` to round-off and every block of two 3D
    /// process grids holds the bits of the single block.
    #[test]
    fn three_d_shapes_fill_blocks_like_the_whole_grid() {
        let mesh = Mesh::new(3, 11, 3.0);
        let shapes = [
            Density3::Mixture(vec![Gaussian3 {
                weight: 1.0,
                mean: [0.4, -0.2, 0.1],
                std: 0.7,
            }]),
            Density3::Ball {
                centre: [0.3, 0.0, -0.2],
                radius: 1.5,
            },
            Density3::Shell {
                centre: [0.0; 3],
                radius: 1.5,
                width: 0.4,
            },
        ];
        for density in shapes {
            let shape = InitialShape::Volume(density.clone());
            let whole = shape.global(&mesh, 2.0).unwrap();
            let mass: f64 = whole.iter().sum::<f64>() * mesh.cell_volume();
            assert!((mass - 2.0).abs() < 1e-13, "{density:?}: mass {mass}");
            for grid in [
                ProcessGrid {
                    px: 1,
                    py: 1,
                    pz: 2,
                },
                ProcessGrid {
                    px: 2,
                    py: 3,
                    pz: 2,
                },
            ] {
                for r in 0..grid.size() {
                    let b = Block::new(&mesh, grid, r);
                    let mut f = Field::zeros3(b.nz, b.ny, b.nx);
                    shape.fill(&mesh, &b, 2.0, &mut f).unwrap();
                    for ((k, j, i), v) in f.interior3().indexed_iter() {
                        let g = ((b.z0 + k) * 11 + b.y0 + j) * 11 + b.x0 + i;
                        assert_eq!(v.to_bits(), whole[g].to_bits(), "{density:?} {grid:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn mass_is_exact_and_blocks_agree_with_the_single_block() {
        let mesh = Mesh::new(2, 15, 3.0);
        let shape = InitialShape::Ring {
            centre: [0.3, -0.2],
            radius: 1.0,
            width: 0.3,
        };
        let one = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
        let mut whole = Field::zeros(one.ny, one.nx);
        shape.fill(&mesh, &one, 2.5, &mut whole).unwrap();
        let mass: f64 = whole.interior().sum() * mesh.cell_volume();
        assert!((mass - 2.5).abs() < 1e-13);
        let grid = ProcessGrid::planar(2, 3);
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
        let block = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
        let mut f = Field::zeros(1, 5);
        let points = |train: Vec<Point>| InitialShape::Points {
            train,
            held: Vec::new(),
            bandwidth: 0.0,
        };
        let shape = points(vec![
            [0.0; 3],
            [0.05, 0.0, 0.0],
            [-0.9, 0.0, 0.0],
            [1.0, 0.0, 0.0],
        ]);
        shape.fill(&mesh, &block, 1.0, &mut f).unwrap();
        let h = mesh.h;
        let v: Vec<f64> = f.interior().iter().copied().collect();
        assert_eq!(v, vec![0.25 / h, 0.0, 0.5 / h, 0.0, 0.25 / h]);
        let bad = points(vec![[0.0; 3], [1.5, 0.0, 0.0]]);
        let err = bad.fill(&mesh, &block, 1.0, &mut f).unwrap_err();
        assert!(err.contains("sample 2"), "{err}");
    }

    /// Bandwidth 0 is the histogram bit for bit; one point with bandwidth `b` is the discrete
    /// Gaussian `Phi`-differences product of standard deviation `b`, scaled to the mass.
    #[test]
    fn kernel_density_of_one_point_is_a_discrete_gaussian() {
        let mesh = Mesh::new(2, 15, 3.0);
        let block = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
        let pts = vec![[0.31, -0.7, 0.0], [1.1, 0.05, 0.0], [0.31, -0.69, 0.0]];
        let kde = |train: Vec<Point>, bandwidth: f64| {
            let mut f = Field::zeros(15, 15);
            let shape = InitialShape::Points {
                train,
                held: vec![[9.0, 9.0, 0.0]],
                bandwidth,
            };
            shape.fill(&mesh, &block, 2.0, &mut f).unwrap();
            f
        };
        let hist = kde(pts.clone(), 0.0);
        let h = mesh.h;
        for iy in 0..15 {
            for ix in 0..15 {
                let count = pts
                    .iter()
                    .filter(|p| mesh.locate(p[0]) == Some(ix) && mesh.locate(p[1]) == Some(iy))
                    .count();
                let scale = 2.0 / (3.0 * mesh.cell_volume());
                assert_eq!(hist.interior()[[iy, ix]], count as f64 * scale);
            }
        }
        let b = 0.45;
        let one = kde(vec![[0.31, -0.7, 0.0]], b);
        let phi = |i: usize, c: f64| {
            let (lo, hi) = (mesh.centre(i) - 0.5 * h, mesh.centre(i) + 0.5 * h);
            deposit::normal_mass((lo - c) / b, (hi - c) / b)
        };
        let total: f64 = (0..15)
            .map(|iy| (0..15).map(|ix| phi(ix, 0.31) * phi(iy, -0.7)).sum::<f64>())
            .sum();
        for iy in 0..15 {
            for ix in 0..15 {
                let want = 2.0 * phi(ix, 0.31) * phi(iy, -0.7) / total / (h * h);
                let got = one.interior()[[iy, ix]];
                assert!(
                    (got - want).abs() <= 1e-13 * want,
                    "{iy} {ix}: {got} {want}"
                );
            }
        }
        // Mean and variance of the discrete Gaussian: c and b^2 + h^2/12 per axis.
        let (mut m, mut v) = (0.0, 0.0);
        for iy in 0..15 {
            for ix in 0..15 {
                let p = one.interior()[[iy, ix]] * h * h / 2.0;
                m += p * mesh.centre(ix);
                v += p * (mesh.centre(ix) - 0.31).powi(2);
            }
        }
        assert!((m - 0.31).abs() < 1e-6, "{m}");
        assert!((v - (b * b + h * h / 12.0)).abs() < 1e-5, "{v}");
    }

    #[test]
    fn holdout_split_is_seeded_and_complete() {
        let pts: Vec<[f64; 2]> = (0..10).map(|k| [k as f64, 0.0]).collect();
        let (train, held) = split_holdout(pts.clone(), 0.3, 5).unwrap();
        assert_eq!((train.len(), held.len()), (7, 3));
        let mut all: Vec<f64> = train.iter().chain(&held).map(|p| p[0]).collect();
        all.sort_by(f64::total_cmp);
        assert_eq!(all, (0..10).map(f64::from).collect::<Vec<_>>());
        assert!(held.windows(2).all(|w| w[0][0] < w[1][0]));
        assert_eq!(split_holdout(pts.clone(), 0.3, 5).unwrap().1, held);
        assert_ne!(split_holdout(pts.clone(), 0.3, 6).unwrap().1, held);
        assert_eq!(split_holdout(pts.clone(), 0.0, 5).unwrap().0, pts);
        let e = split_holdout(pts.clone(), 0.01, 5).unwrap_err();
        assert!(e.contains("0 held out"), "{e}");
        let e = split_holdout(pts, 0.99, 5).unwrap_err();
        assert!(e.contains("0 for the density"), "{e}");
    }
}
