//! Separable blobs averaged over the cells of the grid: the one primitive behind the `toy`,
//! `image` and `points` densities.
//!
//! A [`Blob`] is `weight * p_x(x) * p_y(y) * p_z(z)` (the `z` factor in 3D only, `y` from 2D
//! on) with each axis profile a probability density ([`Profile`]). Its deposit in cell
//! `[x_i, x_{i+1}] x [y_j, y_{j+1}] x [z_k, z_{k+1}]` is the exact cell mass
//! `weight * P_x(i) * P_y(j) * P_z(k)`, where `P(i)` is the profile's mass in the cell's interval:
//!
//! * [`Profile::Gauss`] `N(c, s^2)`: `P(i) = Phi((x_{i+1} - c)/s) - Phi((x_i - c)/s)`, the
//!   normal CDF differences taken from the tail on the side away from `c` (no cancellation),
//!   cut at `c +- 8 s` (mass beyond: `< 1.3e-15`);
//! * [`Profile::Box`] uniform on `[a, b]`: `P(i) = |[x_i, x_{i+1}] n [a, b]| / (b - a)`;
//! * [`Profile::Cell`] a point: `P = 1` in the cell [`Mesh::locate`] gives (a histogram).
//!
//! Mass beyond the domain is dropped (the caller normalises). Each cell sums its blobs in blob
//! order and the normaliser sums `weight * sum_i P_x(i) * sum_j P_y(j) * sum_k P_z(k)` over the blobs in blob
//! order, so every rank computes the same bits for the cells it owns and the same total, for any
//! decomposition. The mirror of a profile (`c -> -c`, `[a, b] -> [-b, -a]`) gives the mirrored
//! cell masses bit for bit (the grid is symmetric about the origin).

use ndarray::ArrayViewMut3;

use crate::decomp::Block;
use crate::mesh::Mesh;

/// Gaussians are cut at this many standard deviations.
pub const GAUSS_CUT: f64 = 8.0;

/// The distribution along one axis of a blob.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Profile {
    /// A point: all the mass in the cell containing `x` (none if `x` lies outside the domain).
    Cell(f64),
    /// The normal law `N(c, s^2)`, `s > 0`.
    Gauss {
        /// Mean.
        c: f64,
        /// Standard deviation.
        s: f64,
    },
    /// The uniform law on `[a, b]`, `a < b`.
    Box {
        /// Lower end.
        a: f64,
        /// Upper end.
        b: f64,
    },
}

impl Profile {
    /// The profile of the map `x -> scale * x` (`scale > 0`).
    pub fn scaled(self, scale: f64) -> Profile {
        match self {
            Profile::Cell(x) => Profile::Cell(scale * x),
            Profile::Gauss { c, s } => Profile::Gauss {
                c: scale * c,
                s: scale * s,
            },
            Profile::Box { a, b } => Profile::Box {
                a: scale * a,
                b: scale * b,
            },
        }
    }

    /// The first global cell index of the profile's window and its mass in each cell of the
    /// window (empty when it misses the domain).
    pub fn cell_masses(self, mesh: &Mesh) -> (usize, Vec<f64>) {
        let n = mesh.nx();
        let (lo, hi) = match self {
            Profile::Cell(x) => {
                return match mesh.locate(x) {
                    Some(i) => (i, vec![1.0]),
                    None => (0, Vec::new()),
                }
            }
            Profile::Gauss { c, s } => (c - GAUSS_CUT * s, c + GAUSS_CUT * s),
            Profile::Box { a, b } => (a, b),
        };
        let l = mesh.half_width;
        if !(hi > -l && lo < l) {
            return (0, Vec::new());
        }
        let index = |x: f64| (((x + l) / mesh.h).floor().max(0.0) as usize).min(n - 1);
        let (i0, i1) = (index(lo), index(hi));
        let masses = (i0..=i1)
            .map(|i| {
                let (x0, x1) = (mesh.centre(i) - 0.5 * mesh.h, mesh.centre(i) + 0.5 * mesh.h);
                match self {
                    Profile::Gauss { c, s } => normal_mass((x0 - c) / s, (x1 - c) / s),
                    Profile::Box { a, b } => (x1.min(b) - x0.max(a)).max(0.0) / (b - a),
                    Profile::Cell(_) => unreachable!("handled above"),
                }
            })
            .collect();
        (i0, masses)
    }
}

/// `weight * p_x(x) * p_y(y) * p_z(z)` (`y` ignored in 1D, `z` below 3D).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blob {
    /// Total mass of the blob (before the domain cuts it).
    pub weight: f64,
    /// Profile along `x`.
    pub x: Profile,
    /// Profile along `y`.
    pub y: Profile,
    /// Profile along `z`.
    pub z: Profile,
}

impl Blob {
    /// An isotropic Gaussian blob `weight * N(centre, s^2 I)`.
    pub fn gauss(weight: f64, centre: [f64; 2], s: f64) -> Blob {
        Blob {
            weight,
            x: Profile::Gauss { c: centre[0], s },
            y: Profile::Gauss { c: centre[1], s },
            z: Profile::Cell(0.0),
        }
    }

    /// A sample point `p = [x, y, z]` of weight 1 (coordinates beyond the grid's dimension
    /// ignored): a Gaussian kernel `N(p, b^2 I)` for `bandwidth = b > 0`, else a count in the
    /// cell containing `p` (a histogram).
    pub fn sample(p: [f64; 3], bandwidth: f64) -> Blob {
        let axis = |c: f64| {
            if bandwidth > 0.0 {
                Profile::Gauss { c, s: bandwidth }
            } else {
                Profile::Cell(c)
            }
        };
        Blob {
            weight: 1.0,
            x: axis(p[0]),
            y: axis(p[1]),
            z: axis(p[2]),
        }
    }

    /// The blob of the map `x -> scale * x` (same weight).
    pub fn scaled(self, scale: f64) -> Blob {
        Blob {
            weight: self.weight,
            x: self.x.scaled(scale),
            y: self.y.scaled(scale),
            z: self.z.scaled(scale),
        }
    }
}

/// Adds the cell masses of `blobs` to the owned cells `owned` of `block` (indexed
/// `[iz - z0, iy - y0, ix - x0]`, one plane below 3D) and returns the mass of all the blobs on
/// the whole grid (module doc).
pub fn deposit<'a>(
    mesh: &Mesh,
    block: &Block,
    blobs: impl IntoIterator<Item = &'a Blob>,
    owned: &mut ArrayViewMut3<f64>,
) -> f64 {
    let along = |profile: Profile, from_dim: usize| {
        if mesh.dim >= from_dim {
            profile.cell_masses(mesh)
        } else {
            (0, vec![1.0])
        }
    };
    let mut total = 0.0;
    for blob in blobs {
        let (x0, wx) = blob.x.cell_masses(mesh);
        let (y0, wy) = along(blob.y, 2);
        let (z0, wz) = along(blob.z, 3);
        total +=
            blob.weight * wx.iter().sum::<f64>() * wy.iter().sum::<f64>() * wz.iter().sum::<f64>();
        let (bx0, bx1) = (block.x0, block.x0 + block.nx);
        let (by0, by1) = (block.y0, block.y0 + block.ny);
        let (bz0, bz1) = (block.z0, block.z0 + block.nz);
        for (dk, &pz) in wz.iter().enumerate() {
            let iz = z0 + dk;
            if iz < bz0 || iz >= bz1 {
                continue;
            }
            for (dj, &py) in wy.iter().enumerate() {
                let iy = y0 + dj;
                if iy < by0 || iy >= by1 {
                    continue;
                }
                // Below 3D pz = 1, so the 2D cell masses keep their bits (weight * py * px).
                let wpy = blob.weight * py * pz;
                for (di, &px) in wx.iter().enumerate() {
                    let ix = x0 + di;
                    if ix >= bx0 && ix < bx1 {
                        owned[[iz - bz0, iy - by0, ix - bx0]] += wpy * px;
                    }
                }
            }
        }
    }
    total
}

/// `Phi(b) - Phi(a)` for `a <= b`, from the upper tail on the side away from the mean.
pub fn normal_mass(a: f64, b: f64) -> f64 {
    if a >= 0.0 {
        upper_tail(a) - upper_tail(b)
    } else if b <= 0.0 {
        upper_tail(-b) - upper_tail(-a)
    } else {
        1.0 - upper_tail(-a) - upper_tail(b)
    }
}

/// `Q(x) = 1 - Phi(x) = erfc(x / sqrt 2) / 2`.
pub fn upper_tail(x: f64) -> f64 {
    0.5 * erfc(x * std::f64::consts::FRAC_1_SQRT_2)
}

/// The complementary error function, to about 1e-12 relative (the series loses digits to
/// `1 - erf` near `x = 2.5`): for `|x| < 2.5` from the series
/// `erf x = 2/sqrt(pi) e^{-x^2} sum_k 2^k x^{2k+1} / (1 3 5 ... (2k+1))` (positive terms), for
/// `x >= 2.5` from the continued fraction
/// `erfc x = e^{-x^2}/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))`, evaluated
/// backwards from 60 terms; `erfc(-x) = 2 - erfc(x)`.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    let two_over_sqrt_pi = std::f64::consts::FRAC_2_SQRT_PI;
    if x < 2.5 {
        let x2 = x * x;
        let (mut term, mut sum, mut k) = (x, x, 0.0);
        while term > 1e-17 * sum {
            k += 1.0;
            term *= 2.0 * x2 / (2.0 * k + 1.0);
            sum += term;
        }
        return 1.0 - two_over_sqrt_pi * (-x2).exp() * sum;
    }
    if x > 27.3 {
        return 0.0;
    }
    let mut f = x;
    for k in (1..=60).rev() {
        f = x + 0.5 * k as f64 / f;
    }
    0.5 * two_over_sqrt_pi * (-x * x).exp() / f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::ProcessGrid;
    use crate::field::Field;

    #[test]
    fn erfc_known_values() {
        let cases = [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (1.0, 0.15729920705028513),
            (2.0, 0.004677734981047265),
            (2.4999, 0.0004071699003334514),
            (2.5, 0.0004069520174449589),
            (3.0, 2.2090496998585438e-05),
            (5.0, 1.5374597944280351e-12),
            (10.0, 2.088487583762545e-45),
            (-1.0, 1.842700792949715),
        ];
        for (x, want) in cases {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "erfc({x}) = {got}, want {want}"
            );
        }
        assert_eq!(erfc(40.0), 0.0);
    }

    /// A Gaussian blob in the middle of a fine grid deposits mass 1, mean `c`, variance
    /// `s^2 + h^2/12`-corrected, and its mirror image bit for bit.
    #[test]
    fn gaussian_cell_masses_have_the_moments_and_the_mirror() {
        let mesh = Mesh::new(1, 301, 3.0);
        let (i0, w) = Profile::Gauss { c: 0.3, s: 0.2 }.cell_masses(&mesh);
        let total: f64 = w.iter().sum();
        assert!((total - 1.0).abs() < 1e-14, "{total}");
        let mean: f64 = w
            .iter()
            .enumerate()
            .map(|(k, p)| p * mesh.centre(i0 + k))
            .sum();
        assert!((mean - 0.3).abs() < 1e-13, "{mean}");
        let var: f64 = w
            .iter()
            .enumerate()
            .map(|(k, p)| p * (mesh.centre(i0 + k) - 0.3).powi(2))
            .sum();
        // Cell averages of a smooth density: sum p x_c^2 = E x^2 + h^2/12 (Sheppard).
        assert!(
            (var - (0.04 + mesh.h * mesh.h / 12.0)).abs() < 1e-8,
            "{var}"
        );
        let (j0, m) = Profile::Gauss { c: -0.3, s: 0.2 }.cell_masses(&mesh);
        assert_eq!(j0 + m.len() - 1, mesh.nx() - 1 - i0);
        let rev: Vec<f64> = m.iter().rev().copied().collect();
        assert_eq!(rev, w);
        // A box straddling cells: exact overlaps.
        let mesh = Mesh::new(1, 5, 2.5);
        let (i0, w) = Profile::Box { a: -0.25, b: 1.25 }.cell_masses(&mesh);
        assert_eq!(i0, 2);
        assert_eq!(w, vec![0.5, 0.5]);
    }

    /// Blobs deposit the same bits on every block as on the whole grid, and the normaliser is
    /// the mass inside the domain.
    #[test]
    fn deposits_are_decomposition_independent() {
        let mesh = Mesh::new(2, 21, 2.0);
        let blobs = [
            Blob::gauss(0.7, [0.3, -0.5], 0.35),
            Blob {
                weight: 0.3,
                x: Profile::Box { a: -1.9, b: -0.2 },
                y: Profile::Cell(1.1),
                z: Profile::Cell(0.0),
            },
            Blob::gauss(2.0, [1.95, 1.9], 0.2),
        ];
        let one = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
        let mut whole = Field::zeros(one.ny, one.nx);
        let total = deposit(&mesh, &one, &blobs, &mut whole.interior3_mut());
        let sum: f64 = whole.interior().sum();
        assert!((sum - total).abs() < 1e-13 * total);
        assert!(total < 3.0 - 0.5 && total > 1.0 + 0.5, "{total}");
        let grid = ProcessGrid::planar(3, 2);
        for r in 0..6 {
            let b = Block::new(&mesh, grid, r);
            let mut part = Field::zeros(b.ny, b.nx);
            assert_eq!(deposit(&mesh, &b, &blobs, &mut part.interior3_mut()), total);
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

    /// In 3D, sample points deposit the same bits on every block of a 3D process grid as on the
    /// whole grid; a histogram puts one count in the cell holding each point, a kernel density
    /// has the points' mean.
    #[test]
    fn three_d_samples_deposit_per_cell_and_decomposition_independent() {
        let mesh = Mesh::new(3, 21, 6.0);
        let points = [[0.3, -0.5, 1.1], [-1.2, 0.4, 0.0], [0.9, 0.9, -0.7]];
        let whole_block = Block::new(&mesh, ProcessGrid::single(), 0);
        // A kernel wider than a cell: the cell-averaged mean is the point's to ~1e-9.
        for bandwidth in [0.0, 0.6] {
            let blobs: Vec<Blob> = points.iter().map(|&p| Blob::sample(p, bandwidth)).collect();
            let mut whole = Field::zeros3(mesh.n, mesh.n, mesh.n);
            let total = deposit(&mesh, &whole_block, &blobs, &mut whole.interior3_mut());
            assert!((total - 3.0).abs() < 1e-13, "{total}");
            let w = whole.interior3();
            if bandwidth == 0.0 {
                for p in points {
                    let cell = p.map(|x| mesh.locate(x).unwrap());
                    assert_eq!(w[[cell[2], cell[1], cell[0]]], 1.0);
                }
                assert_eq!(w.iter().filter(|&&v| v != 0.0).count(), 3);
            } else {
                for axis in 0..3 {
                    let mut mean = 0.0;
                    for ((k, j, i), v) in w.indexed_iter() {
                        mean += v * mesh.centre([i, j, k][axis]) / total;
                    }
                    let expected = points.iter().map(|p| p[axis]).sum::<f64>() / 3.0;
                    assert!((mean - expected).abs() < 1e-8, "axis {axis}: {mean}");
                }
            }
            let grid = ProcessGrid::from_procs(&[2, 1, 2]);
            for r in 0..4 {
                let b = Block::new(&mesh, grid, r);
                let mut part = Field::zeros3(b.nz, b.ny, b.nx);
                assert_eq!(deposit(&mesh, &b, &blobs, &mut part.interior3_mut()), total);
                for ((k, j, i), v) in part.interior3().indexed_iter() {
                    assert_eq!(*v, w[[b.z0 + k, b.y0 + j, b.x0 + i]]);
                }
            }
        }
    }
}
