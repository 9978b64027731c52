//! The toy data sets of score-based and flow-matching papers (`initial.kind = "toy"`), at the
//! scales of the FFJORD toy-data code (Grathwohl et al. 2019, `lib/toy_data.py`), which most
//! later papers reuse. Coordinates are multiplied by `initial.scale` (default 1).
//!
//! | name | law (scale 1) | `E x` | `E |x|^2` |
//! |---|---|---|---|
//! | `two_moons` | sklearn `make_moons` (outer arc `(cos t, sin t)`, inner `(1 - cos t, 1/2 - sin t)`, `t ~ U[0, pi]`, half the mass each) mapped by `2 x + (-1, -0.2)`, plus `N(0, 0.2^2 I)` | `(0, 0.3)` | `5.42 - 4/pi` |
//! | `checkerboard` | uniform on the 8 squares `[2i, 2i+2] x [2j, 2j+2]`, `-2 <= i, j <= 1`, `i + j` even | `0` | `32/3` |
//! | `swiss_roll` | `(t cos t, t sin t) / 5`, `t ~ U[1.5 pi, 4.5 pi]`, plus `N(0, 0.2^2 I)` | | `39 pi^2 / 100 + 0.08` |
//! | `eight_gaussians` | `N(c_k, (0.5/sqrt 2)^2 I)`, `c_k = 2 sqrt 2 (cos k pi/4, sin k pi/4)`, weight 1/8 | `0` | `8.25` |
//! | `pinwheel` | 5 arms: `f = (1 + 0.3 e1, 0.1 e2)`, `e ~ N(0, I)`, `a = 2 pi k/5 + 0.25 exp(f_1)`, `x = 2 (f_1 cos a + f_2 sin a, -f_1 sin a + f_2 cos a)` | `0` | `4.4` |
//! | `rings` | 4 circles of radii 3, 2.25, 1.5, 0.75, a quarter of the mass each, plus `N(0, 0.08^2 I)` | `0` | `4.23155` |
//! | `two_bumps` (1D) | `N(-2, 0.5^2)/2 + N(2, 0.5^2)/2` | `0` | `4.25` |
//! | `uneven_bumps` (1D) | `0.3 N(-2, 0.4^2) + 0.7 N(1.5, 0.8^2)` | `0.45` | `3.271` |
//! | `comb` (1D) | uniform on `[-4, -2] u [0, 2]` (the checkerboard's 1D analogue) | `-1` | `16/3` |
//!
//! # As densities on the grid ([`ToyName::blobs`])
//!
//! Closed form as cell averages ([`super::deposit`]): the Gaussian mixtures and boxes exactly;
//! the curves convolved with their Gaussian noise by the midpoint rule along the curve
//! ([`CURVE_NODES`] nodes, spacing below `noise / 4`); the pinwheel, which has no closed form,
//! as the push-forward of a midpoint quadrature of `e` on `[-5, 5]^2` (256 x 64 nodes per
//! arm), each node a Gaussian of standard deviation [`PINWHEEL_NODE_STD`] (adds `2 * 0.04^2 =
//! 0.0032` to `E |x|^2`, 4 % to the tangential variance).
//!
//! # As data sets ([`ToyName::sample`], `initial.samples > 0`)
//!
//! `N` independent draws by the generative recipe above (random `t` and class where the
//! original spaces them evenly), keyed by `(initial.seed, sample index)`: the training set of a
//! finite-data experiment (`bandwidth`, `holdout`).

use super::deposit::{Blob, Profile};
use crate::names::named_enum;
use crate::random;

use std::f64::consts::{PI, SQRT_2};

named_enum! {
    /// A toy data set, selected by `initial.name` (module doc for the laws and scales).
    pub enum ToyName {
        /// Two interleaved half circles (2D).
        TwoMoons = "two_moons",
        /// Eight squares of a 4 x 4 checkerboard (2D).
        Checkerboard = "checkerboard",
        /// A noisy spiral (2D).
        SwissRoll = "swiss_roll",
        /// Eight Gaussians on a circle (2D).
        EightGaussians = "eight_gaussians",
        /// Five curved arms (2D).
        Pinwheel = "pinwheel",
        /// Four concentric noisy circles (2D).
        Rings = "rings",
        /// Two equal Gaussians (1D).
        TwoBumps = "two_bumps",
        /// Two unequal Gaussians (1D).
        UnevenBumps = "uneven_bumps",
        /// Two intervals (1D).
        Comb = "comb",
    }
}

/// Midpoint nodes along each curve (moons: per arc; rings: per circle; swiss roll: total).
pub const CURVE_NODES: usize = 2048;

/// Standard deviation of each quadrature node of the pinwheel (scale 1).
pub const PINWHEEL_NODE_STD: f64 = 0.04;

const MOON_NOISE: f64 = 0.2;
const ROLL_NOISE: f64 = 0.2;
const RING_NOISE: f64 = 0.08;
const RING_RADII: [f64; 4] = [3.0, 2.25, 1.5, 0.75];
const ROLL_T: (f64, f64) = (1.5 * PI, 4.5 * PI);

/// The point of moon `arc` (0 outer, 1 inner) at `t in [0, pi]`, FFJORD scale.
fn moon(arc: usize, t: f64) -> [f64; 2] {
    let (x, y) = if arc == 0 {
        (t.cos(), t.sin())
    } else {
        (1.0 - t.cos(), 0.5 - t.sin())
    };
    [2.0 * x - 1.0, 2.0 * y - 0.2]
}

/// The centre of Gaussian `k` of `eight_gaussians`.
fn eight(k: usize) -> [f64; 2] {
    let a = k as f64 * PI / 4.0;
    [2.0 * SQRT_2 * a.cos(), 2.0 * SQRT_2 * a.sin()]
}

/// The swiss roll at `t`.
fn roll(t: f64) -> [f64; 2] {
    [t * t.cos() / 5.0, t * t.sin() / 5.0]
}

/// The pinwheel point of arm `k` for the standard normals `(e1, e2)`.
fn pinwheel(k: usize, e1: f64, e2: f64) -> [f64; 2] {
    let (f1, f2) = (1.0 + 0.3 * e1, 0.1 * e2);
    let a = 2.0 * PI * k as f64 / 5.0 + 0.25 * f1.exp();
    let (s, c) = a.sin_cos();
    [2.0 * (f1 * c + f2 * s), 2.0 * (-f1 * s + f2 * c)]
}

/// The checkerboard squares `(i, j)` (lower corner `(2i, 2j)`).
fn squares() -> impl Iterator<Item = (i32, i32)> {
    (-2..2)
        .flat_map(|i| (-2..2).map(move |j| (i, j)))
        .filter(|(i, j)| (i + j) % 2 == 0)
}

/// The standard normal pair of sample `i` (Box–Muller on two uniforms from counters `2k`,
/// `2k + 1`).
fn normals(seed: u64, i: u64, k: u64) -> [f64; 2] {
    let u1 = random::uniform(seed, i, 2 * k);
    let u2 = random::uniform(seed, i, 2 * k + 1);
    let r = (-2.0 * (1.0 - u1).ln()).sqrt();
    let (s, c) = (2.0 * PI * u2).sin_cos();
    [r * c, r * s]
}

impl ToyName {
    /// The grid dimension the set lives in.
    pub fn dim(self) -> usize {
        match self {
            ToyName::TwoBumps | ToyName::UnevenBumps | ToyName::Comb => 1,
            _ => 2,
        }
    }

    /// `E x` and `E |x|^2` at scale 1 (exact; the pinwheel's without its node smoothing).
    pub fn moments(self) -> ([f64; 2], f64) {
        let e2 = |noise: f64| 2.0 * noise * noise;
        match self {
            ToyName::TwoMoons => ([0.0, 0.3], 5.34 - 4.0 / PI + e2(MOON_NOISE)),
            ToyName::Checkerboard => ([0.0, 0.0], 32.0 / 3.0),
            ToyName::SwissRoll => {
                let (a, b) = ROLL_T;
                let t2 = (a * a + a * b + b * b) / 3.0;
                // The mean has a closed form too, but is not used.
                ([f64::NAN, f64::NAN], t2 / 25.0 + e2(ROLL_NOISE))
            }
            ToyName::EightGaussians => ([0.0, 0.0], 8.0 + e2(0.5 / SQRT_2)),
            ToyName::Pinwheel => ([0.0, 0.0], 4.0 * (1.0 + 0.09 + 0.01)),
            ToyName::Rings => {
                let r2: f64 = RING_RADII.iter().map(|r| r * r).sum::<f64>() / 4.0;
                ([0.0, 0.0], r2 + e2(RING_NOISE))
            }
            ToyName::TwoBumps => ([0.0, 0.0], 4.25),
            ToyName::UnevenBumps => ([0.45, 0.0], 0.3 * (4.0 + 0.16) + 0.7 * (2.25 + 0.64)),
            ToyName::Comb => ([-1.0, 0.0], 16.0 / 3.0),
        }
    }

    /// The density as blobs at scale 1 (module doc); weights add up to 1.
    pub fn blobs(self) -> Vec<Blob> {
        let m = CURVE_NODES;
        let mid = |k: usize, n: usize| (k as f64 + 0.5) / n as f64;
        let point = |x: f64| Blob {
            weight: 0.0,
            x: Profile::Gauss { c: x, s: 1.0 },
            y: Profile::Cell(0.0),
            z: Profile::Cell(0.0),
        };
        let gauss1 = |w: f64, c: f64, s: f64| Blob {
            weight: w,
            x: Profile::Gauss { c, s },
            ..point(c)
        };
        let box1 = |w: f64, a: f64, b: f64| Blob {
            weight: w,
            x: Profile::Box { a, b },
            ..point(a)
        };
        match self {
            ToyName::TwoMoons => (0..2)
                .flat_map(|arc| {
                    (0..m).map(move |k| {
                        Blob::gauss(0.5 / m as f64, moon(arc, PI * mid(k, m)), MOON_NOISE)
                    })
                })
                .collect(),
            ToyName::Checkerboard => squares()
                .map(|(i, j)| Blob {
                    weight: 1.0 / 8.0,
                    x: Profile::Box {
                        a: 2.0 * i as f64,
                        b: 2.0 * i as f64 + 2.0,
                    },
                    y: Profile::Box {
                        a: 2.0 * j as f64,
                        b: 2.0 * j as f64 + 2.0,
                    },
                    z: Profile::Cell(0.0),
                })
                .collect(),
            ToyName::SwissRoll => {
                let (a, b) = ROLL_T;
                let n = 4 * m;
                (0..n)
                    .map(|k| Blob::gauss(1.0 / n as f64, roll(a + (b - a) * mid(k, n)), ROLL_NOISE))
                    .collect()
            }
            ToyName::EightGaussians => (0..8)
                .map(|k| Blob::gauss(1.0 / 8.0, eight(k), 0.5 / SQRT_2))
                .collect(),
            ToyName::Pinwheel => {
                let (n1, n2) = (256, 64);
                let node = |k: usize, n: usize| -5.0 + 10.0 * mid(k, n);
                let phi = |e: f64| (-0.5 * e * e).exp();
                let mut out = Vec::with_capacity(5 * n1 * n2);
                for arm in 0..5 {
                    for k1 in 0..n1 {
                        let e1 = node(k1, n1);
                        for k2 in 0..n2 {
                            let e2 = node(k2, n2);
                            let w = phi(e1) * phi(e2);
                            out.push(Blob::gauss(w, pinwheel(arm, e1, e2), PINWHEEL_NODE_STD));
                        }
                    }
                }
                let total: f64 = out.iter().map(|b| b.weight).sum();
                out.iter_mut().for_each(|b| b.weight /= total);
                out
            }
            ToyName::Rings => RING_RADII
                .iter()
                .flat_map(|&r| {
                    (0..m).map(move |k| {
                        let a = 2.0 * PI * k as f64 / m as f64;
                        Blob::gauss(0.25 / m as f64, [r * a.cos(), r * a.sin()], RING_NOISE)
                    })
                })
                .collect(),
            ToyName::TwoBumps => vec![gauss1(0.5, -2.0, 0.5), gauss1(0.5, 2.0, 0.5)],
            ToyName::UnevenBumps => vec![gauss1(0.3, -2.0, 0.4), gauss1(0.7, 1.5, 0.8)],
            ToyName::Comb => vec![box1(0.5, -4.0, -2.0), box1(0.5, 0.0, 2.0)],
        }
    }

    /// `n` independent draws at scale 1 (module doc), keyed by `(seed, i)`; `y = 0` in 1D.
    pub fn sample(self, n: usize, seed: u64) -> Vec<[f64; 2]> {
        (0..n as u64)
            .map(|i| {
                let u = |k: u64| random::uniform(seed, i, k);
                let [g1, g2] = normals(seed, i, 8);
                let noisy = |p: [f64; 2], s: f64| [p[0] + s * g1, p[1] + s * g2];
                match self {
                    ToyName::TwoMoons => {
                        noisy(moon(usize::from(u(0) < 0.5), PI * u(1)), MOON_NOISE)
                    }
                    ToyName::Checkerboard => {
                        let x1 = 4.0 * u(0) - 2.0;
                        let x2 = u(1) - 2.0 * f64::from(u8::from(u(2) < 0.5))
                            + x1.floor().rem_euclid(2.0);
                        [2.0 * x1, 2.0 * x2]
                    }
                    ToyName::SwissRoll => {
                        let (a, b) = ROLL_T;
                        noisy(roll(a + (b - a) * u(0)), ROLL_NOISE)
                    }
                    ToyName::EightGaussians => {
                        noisy(eight((u(0) * 8.0) as usize % 8), 0.5 / SQRT_2)
                    }
                    ToyName::Pinwheel => pinwheel((u(0) * 5.0) as usize % 5, g1, g2),
                    ToyName::Rings => {
                        let r = RING_RADII[(u(0) * 4.0) as usize % 4];
                        let (s, c) = (2.0 * PI * u(1)).sin_cos();
                        noisy([r * c, r * s], RING_NOISE)
                    }
                    ToyName::TwoBumps => [if u(0) < 0.5 { -2.0 } else { 2.0 } + 0.5 * g1, 0.0],
                    ToyName::UnevenBumps => {
                        let x = if u(0) < 0.3 {
                            -2.0 + 0.4 * g1
                        } else {
                            1.5 + 0.8 * g1
                        };
                        [x, 0.0]
                    }
                    ToyName::Comb => {
                        let x = 2.0 * u(1) + if u(0) < 0.5 { -4.0 } else { 0.0 };
                        [x, 0.0]
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::{Block, ProcessGrid};
    use crate::field::Field;
    use crate::initial::deposit::deposit;
    use crate::mesh::Mesh;

    /// The toy on a fine grid: mass, mean and `E |x|^2` (cell centres, corrected by
    /// Sheppard's `dim h^2 / 12`).
    fn grid_moments(name: ToyName, n: usize) -> (Field, Mesh, f64, [f64; 2], f64) {
        let mesh = Mesh::new(name.dim(), n, 6.0);
        let block = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
        let mut f = Field::zeros(block.ny, block.nx);
        let total = deposit(&mesh, &block, &name.blobs(), &mut f.interior3_mut());
        let (mut mean, mut second) = ([0.0; 2], 0.0);
        for iy in 0..mesh.ny() {
            for ix in 0..mesh.nx() {
                let p = f.interior()[[iy, ix]] / total;
                let [x, y] = mesh.cell_centre(iy, ix);
                mean[0] += p * x;
                mean[1] += p * y;
                second += p * (x * x + y * y);
            }
        }
        second -= mesh.dim as f64 * mesh.h * mesh.h / 12.0;
        (f, mesh, total, mean, second)
    }

    #[test]
    fn toy_densities_have_their_mass_and_moments() {
        for name in ToyName::ALL {
            let (_, _, total, mean, second) = grid_moments(name, 241);
            // uneven_bumps loses Q(5.6) 0.7 = 7e-9 beyond x = 6.
            assert!((total - 1.0).abs() < 1e-8, "{name}: mass {total}");
            let (want_mean, mut want_second) = name.moments();
            if name == ToyName::Pinwheel {
                want_second += 2.0 * PINWHEEL_NODE_STD * PINWHEEL_NODE_STD;
            }
            // Box edges inside cells make Sheppard's correction inexact: h^2-sized slack.
            let tol = if matches!(name, ToyName::Checkerboard | ToyName::Comb) {
                2e-3
            } else {
                1e-5
            };
            assert!(
                (second - want_second).abs() < tol * want_second,
                "{name}: E|x|^2 = {second}, want {want_second}"
            );
            for k in 0..2 {
                if want_mean[k].is_finite() {
                    assert!(
                        (mean[k] - want_mean[k]).abs() < tol,
                        "{name}: mean {mean:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn toy_densities_have_their_symmetries() {
        let (f, mesh, ..) = grid_moments(ToyName::Checkerboard, 61);
        let g = f.interior();
        let n = mesh.nx();
        let max = g.iter().fold(0.0f64, |m, &v| m.max(v));
        for j in 0..n {
            for i in 0..n {
                // Point symmetric; the mirror x -> -x swaps the squares for the empty ones
                // inside [-4, 4]^2.
                assert!((g[[j, i]] - g[[n - 1 - j, n - 1 - i]]).abs() < 1e-15 * max);
                let [x, y] = mesh.cell_centre(j, i);
                if x.abs() < 4.0 - mesh.h && y.abs() < 4.0 - mesh.h {
                    let both = g[[j, i]] + g[[j, n - 1 - i]];
                    assert!((both - max).abs() < 1e-12 * max, "{x} {y}");
                }
            }
        }
        let (f, ..) = grid_moments(ToyName::TwoBumps, 61);
        let g: Vec<f64> = f.interior().iter().copied().collect();
        let rev: Vec<f64> = g.iter().rev().copied().collect();
        assert_eq!(g, rev);
        // Eight Gaussians: the quarter turn (x, y) -> (-y, x) up to the rounding of the centres.
        let (f, ..) = grid_moments(ToyName::EightGaussians, 61);
        let g = f.interior();
        for j in 0..61 {
            for i in 0..61 {
                assert!((g[[j, i]] - g[[i, 60 - j]]).abs() < 1e-12, "{j} {i}");
            }
        }
    }

    #[test]
    fn toy_samples_follow_the_laws() {
        for name in ToyName::ALL {
            let n = 20_000;
            let s = name.sample(n, 7);
            assert_eq!(s, name.sample(n, 7));
            let mean = [0, 1].map(|k| s.iter().map(|p| p[k]).sum::<f64>() / n as f64);
            let second = s.iter().map(|p| p[0] * p[0] + p[1] * p[1]).sum::<f64>() / n as f64;
            let (want_mean, want_second) = name.moments();
            // Sampling noise: sd of the mean of |x|^2 is below 3 % for these laws at n = 2e4.
            assert!(
                (second - want_second).abs() < 0.03 * want_second,
                "{name}: {second} vs {want_second}"
            );
            for k in 0..2 {
                if want_mean[k].is_finite() {
                    assert!((mean[k] - want_mean[k]).abs() < 0.06, "{name}: {mean:?}");
                }
            }
            if name.dim() == 1 {
                assert!(s.iter().all(|p| p[1] == 0.0));
            }
        }
    }
}
