//! The quality of generated samples against fresh samples of the data.
//!
//! Two independent reference sets `R1`, `R2` of the same size `N` are drawn from the data
//! density `f0` on the grid (multinomial over the cells plus uniform jitter inside the cell,
//! exactly how the generated samples `S` are placed, with their own seed streams). Reported:
//!
//! * 2D: the energy distance `E(S, R1)` (V-statistic, [`crate::stats`]), the measured noise
//!   floor `E(R2, R1)` and its expectation `delta (2/N)`, `delta = E|X - X'|` estimated from
//!   `R1`. The O(N^2) sums use random subsets of [`METRIC_POINTS`] points of each set when `N`
//!   is larger (the floors then refer to the subset size, stated as `metric_points`).
//! * 1D: the exact W1 of the empirical measures (all `N` points), the measured floor
//!   `W1(R2, R1)` and its leading-order expectation.
//!
//! A generator whose samples follow `f0` up to the reconstruction error `||u(0) - f0||_1 / m`
//! has `E(S, R1)` within the sampling noise of the floor: the energy distance of two laws
//! differing by `epsilon` in total variation is at most `diam * epsilon^2 / 2`.
//!
//! # Held-out data ([`HeldOut`])
//!
//! Fresh samples of `f0` cannot tell a generator that generalises from one that reproduces its
//! training points. When the data are points with some held out (`initial.holdout`), the
//! report also compares the generated samples with the points themselves. The training set is
//! reduced to a random subset of the held-out set's size `m` (at most [`METRIC_POINTS`]), so
//! that both comparisons carry the same finite-size bias; for each metric `d`:
//!
//! * `to_train = d(S, T_m)`, `to_heldout = d(S, H_m)`;
//! * `floor = d(T_m, H_m)`: two independent data sets of `m` points;
//! * `gap = to_heldout - to_train`: the memorisation gap. A generator independent of the
//!   training points has `E gap = 0` (it cannot tell `T_m` from `H_m`); one that reproduces
//!   them sits closer to `T_m` and has `gap > 0`.
//!
//! Metrics: the energy distance (V-statistic, `S` subsampled to [`METRIC_POINTS`]) in 1D, 2D
//! and 3D; in 2D and 3D the sliced Wasserstein-1 distance
//! `SW1 = 1/K sum_k W1(<S, e_k>, <H, e_k>)` over `K = `[`SLICES`] deterministic unit
//! directions ([`slice_directions`]: in 2D `e_k = (cos t_k, sin t_k)`, `t_k = pi (k + 1/2) / K`;
//! in 3D the Fibonacci sphere points `z_k = 1 - (2k + 1)/K`, azimuth `k` times the golden
//! angle), each 1D `W1` exact for all points; in 1D the exact `W1`.
//!
//! Points are [`Point`]s `[x, y, z]` with the unused coordinates 0.

use super::{draw_samples, random_subset, stream_seed, Purpose};
use crate::comm::Comm;
use crate::field::Field;
use crate::layout::Layout;
use crate::stats::{self, Point};

/// Largest point set the O(N^2) energy distance uses (random subsets above).
pub const METRIC_POINTS: usize = 5_000;

/// Directions of the sliced Wasserstein distance.
pub const SLICES: usize = 64;

/// The sample metric of one sampler.
#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    /// `energy_distance` (2D) or `w1` (1D).
    pub metric: &'static str,
    /// Points per set entering the metric.
    pub points: usize,
    /// Generated samples against the reference set `R1`.
    pub value: f64,
    /// `R2` against `R1`: the measured sampling-noise floor.
    pub floor: f64,
    /// The expected floor for this set size.
    pub expected_floor: f64,
    /// The comparisons with the held-out and training points (empty without held-out data).
    pub heldout: Vec<HeldOutQuality>,
}

/// One metric of the held-out comparison (module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct HeldOutQuality {
    /// `energy_distance`, `sliced_w1` (2D) or `w1` (1D).
    pub metric: &'static str,
    /// `m`: points of the held-out set and of the training subset.
    pub points: usize,
    /// Generated samples against the training subset.
    pub to_train: f64,
    /// Generated samples against the held-out points.
    pub to_heldout: f64,
    /// Training subset against the held-out points.
    pub floor: f64,
}

impl HeldOutQuality {
    /// The memorisation gap `to_heldout - to_train`.
    pub fn gap(&self) -> f64 {
        self.to_heldout - self.to_train
    }
}

/// The training and held-out points the generated samples are compared with (rank 0).
#[derive(Clone, Debug)]
pub struct HeldOut {
    train: Vec<Point>,
    held: Vec<Point>,
    dim: usize,
    seed: u64,
}

impl HeldOut {
    /// The sets of `dim`-dimensional points: `held` reduced to [`METRIC_POINTS`], `train` to
    /// the same size, by random subsets keyed by `seed`.
    pub fn new<const D: usize>(
        train: &[[f64; D]],
        held: &[[f64; D]],
        dim: usize,
        seed: u64,
    ) -> HeldOut {
        let (train, held) = (stats::points(train), stats::points(held));
        let m = held.len().min(train.len()).min(METRIC_POINTS);
        let seed = stream_seed(seed, Purpose::Subset);
        HeldOut {
            train: random_subset(&train, m, crate::random::bits(seed, 10, 0)),
            held: random_subset(&held, m, crate::random::bits(seed, 11, 0)),
            dim,
            seed,
        }
    }

    /// The held-out comparison of the generated `points` (module doc).
    pub fn compare(&self, points: &[Point]) -> Vec<HeldOutQuality> {
        let m = self.held.len();
        let s = random_subset(points, METRIC_POINTS, crate::random::bits(self.seed, 12, 0));
        let (t, h) = (&self.train, &self.held);
        let mut out = vec![HeldOutQuality {
            metric: "energy_distance",
            points: m,
            to_train: stats::energy_distance(&s, t),
            to_heldout: stats::energy_distance(&s, h),
            floor: stats::energy_distance(t, h),
        }];
        let dim = self.dim;
        let metric = if dim == 1 { "w1" } else { "sliced_w1" };
        let d = |a: &[Point], b: &[Point]| {
            if dim == 1 {
                let xs = |p: &[Point]| p.iter().map(|q| q[0]).collect::<Vec<f64>>();
                stats::wasserstein1(&xs(a), &xs(b))
            } else {
                sliced_w1(a, b, dim)
            }
        };
        out.push(HeldOutQuality {
            metric,
            points: m,
            to_train: d(points, t),
            to_heldout: d(points, h),
            floor: d(t, h),
        });
        out
    }
}

/// The [`SLICES`] unit directions of the sliced Wasserstein distance in `dim` = 2 or 3
/// dimensions (module doc).
pub fn slice_directions(dim: usize) -> Vec<Point> {
    let k_total = SLICES as f64;
    (0..SLICES)
        .map(|k| {
            let k = k as f64;
            if dim == 3 {
                let z = 1.0 - (2.0 * k + 1.0) / k_total;
                let r = (1.0 - z * z).sqrt();
                let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
                let (sn, cs) = (k * golden).sin_cos();
                [r * cs, r * sn, z]
            } else {
                let (sn, cs) = (std::f64::consts::PI * (k + 0.5) / k_total).sin_cos();
                [cs, sn, 0.0]
            }
        })
        .collect()
}

/// The sliced Wasserstein-1 distance of two `dim`-dimensional point sets (2 or 3) over
/// [`SLICES`] fixed directions (module doc).
pub fn sliced_w1(a: &[Point], b: &[Point], dim: usize) -> f64 {
    let total: f64 = slice_directions(dim)
        .iter()
        .map(|e| {
            let project = |p: &[Point]| {
                p.iter()
                    .map(|q| e[0] * q[0] + e[1] * q[1] + e[2] * q[2])
                    .collect::<Vec<f64>>()
            };
            stats::wasserstein1(&project(a), &project(b))
        })
        .sum();
    total / SLICES as f64
}

/// The two reference sets `R1`, `R2` of `f0` (rank 0's copies), drawn once and compared with
/// every sampler's output.
pub struct References {
    r1: Vec<Point>,
    r2: Vec<Point>,
    dim: usize,
    seed: u64,
    heldout: Option<HeldOut>,
}

impl References {
    /// Draws the two reference sets of `f0` (this rank's block) with `n` points each, from the
    /// streams of the user seed `seed` (collective); `None` on ranks other than 0.
    pub fn draw(
        comm: &Comm,
        layout: &Layout,
        f0: &Field,
        n: u64,
        seed: u64,
    ) -> Result<Option<References>, String> {
        let draw = |purpose| draw_samples(comm, layout, f0, n, seed, purpose);
        let r1 = draw(Purpose::ReferenceA)?;
        let r2 = draw(Purpose::ReferenceB)?;
        Ok(comm.is_root().then_some(References {
            r1,
            r2,
            dim: layout.dim(),
            seed,
            heldout: None,
        }))
    }

    /// These references with the held-out comparison against `sets` (the data's training and
    /// held-out points).
    pub fn with_heldout(self, sets: Option<HeldOut>) -> References {
        References {
            heldout: sets,
            ..self
        }
    }

    /// The quality of the generated `points` against these references (module doc).
    pub fn compare(&self, points: &[Point]) -> Quality {
        let heldout = self
            .heldout
            .as_ref()
            .map_or_else(Vec::new, |h| h.compare(points));
        Quality {
            heldout,
            ..self.compare_fresh(points)
        }
    }

    /// [`References::compare`] without the held-out part.
    fn compare_fresh(&self, points: &[Point]) -> Quality {
        let (r1, r2) = (&self.r1, &self.r2);
        if self.dim == 1 {
            let xs = |p: &[Point]| p.iter().map(|q| q[0]).collect::<Vec<f64>>();
            let (s, a, b) = (xs(points), xs(r1), xs(r2));
            return Quality {
                metric: "w1",
                points: s.len(),
                value: stats::wasserstein1(&s, &a),
                floor: stats::wasserstein1(&b, &a),
                expected_floor: stats::w1_floor(&a, s.len(), a.len()),
                heldout: Vec::new(),
            };
        }
        let subset_seed = stream_seed(self.seed, Purpose::Subset);
        let pick = |p: &[Point], k: u64| {
            random_subset(p, METRIC_POINTS, crate::random::bits(subset_seed, k, 0))
        };
        let (s, a, b) = (pick(points, 0), pick(r1, 1), pick(r2, 2));
        let self_a = stats::mean_self_distance(&a);
        let energy = |x: &[Point]| {
            stats::energy_from_means(
                stats::mean_cross_distance(x, &a),
                stats::mean_self_distance(x),
                self_a,
            )
        };
        let len = a.len().max(2);
        let delta = self_a * len as f64 / (len - 1) as f64;
        Quality {
            metric: "energy_distance",
            points: s.len(),
            value: energy(&s),
            floor: energy(&b),
            expected_floor: stats::energy_floor(delta, s.len(), a.len()),
            heldout: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::initial::toy::ToyName;

    /// `n` draws of the two-moons law, keyed by `seed`.
    fn moons(n: usize, seed: u64) -> Vec<Point> {
        stats::points(&ToyName::TwoMoons.sample(n, seed))
    }

    /// Two independent samples of one law: every held-out distance sits at its noise level and
    /// the gap is within its noise of 0; a shifted generator is detected on both sides.
    #[test]
    fn same_law_is_at_the_floor_and_a_shift_is_detected() {
        let (train, held) = (moons(3000, 1), moons(1000, 2));
        let sets = HeldOut::new(&train, &held, 2, 3);
        let generated = moons(4000, 4);
        let q = sets.compare(&generated);
        assert_eq!(q[0].metric, "energy_distance");
        assert_eq!(q[1].metric, "sliced_w1");
        assert!(q.iter().all(|m| m.points == 1000));
        // Energy distance V-statistic of independent sets: mean delta (1/n + 1/m), delta =
        // E|X - X'| about 2.1 for the moons; a few times that bounds a draw.
        let delta = stats::mean_self_distance(&held) * 1000.0 / 999.0;
        let noise = delta * (1.0 / 1000.0 + 1.0 / 4000.0);
        let e = &q[0];
        assert!(
            e.to_heldout < 4.0 * noise && e.to_train < 4.0 * noise,
            "{e:?} {noise}"
        );
        assert!(e.floor < 4.0 * 2.0 * delta / 1000.0, "{e:?}");
        assert!(e.gap().abs() < 3.0 * noise, "{e:?}");
        // Shifted by 0.5 along x: far above the noise; the sliced W1 of a shift a along x is
        // a * mean |cos t| = a 2/pi (0.32), less up to the sampling noise (about 0.07 here).
        let shifted: Vec<Point> = generated.iter().map(|p| [p[0] + 0.5, p[1], 0.0]).collect();
        let s = sets.compare(&shifted);
        assert!(
            s[0].to_heldout > 5.0 * noise && s[0].to_train > 5.0 * noise,
            "{s:?}"
        );
        assert!(s[1].to_heldout > 0.2 && s[1].to_train > 0.2, "{s:?}");
        assert!(q[1].to_heldout < 0.12 && q[1].to_train < 0.12, "{q:?}");
    }

    /// A generator that reproduces its training points (jittered by much less than their
    /// spacing) has a clearly positive gap; 1D uses the exact W1.
    #[test]
    fn memorising_generator_has_a_positive_gap() {
        let all = ToyName::TwoBumps.sample(400, 5);
        let (train, held) = all.split_at(200);
        let sets = HeldOut::new(train, held, 1, 3);
        let copies: Vec<Point> = (0..4000)
            .map(|k| {
                let p = train[k % 200];
                [
                    p[0] + 1e-3 * (crate::random::uniform(9, k as u64, 0) - 0.5),
                    0.0,
                    0.0,
                ]
            })
            .collect();
        let q = sets.compare(&copies);
        assert_eq!(q[1].metric, "w1");
        for m in &q {
            assert!(m.to_train < 0.1 * m.to_heldout, "{m:?}");
            assert!(m.gap() > 0.5 * m.floor, "{m:?}");
        }
        // The floor is the distance of the two data sets themselves.
        let xs = |p: &[[f64; 2]]| p.iter().map(|q| q[0]).collect::<Vec<f64>>();
        assert_eq!(q[1].floor, stats::wasserstein1(&xs(train), &xs(held)));
    }

    #[test]
    fn sliced_w1_of_a_shift_and_of_a_set_with_itself() {
        let a = moons(300, 8);
        assert_eq!(sliced_w1(&a, &a, 2), 0.0);
        let b: Vec<Point> = a.iter().map(|p| [p[0], p[1] + 1.0, 0.0]).collect();
        // A shift by v: W1 along e_k is |<v, e_k>| exactly; the mean of |sin t_k| over the
        // midpoint directions.
        let want = (0..SLICES)
            .map(|k| {
                (std::f64::consts::PI * (k as f64 + 0.5) / SLICES as f64)
                    .sin()
                    .abs()
            })
            .sum::<f64>()
            / SLICES as f64;
        assert!((sliced_w1(&a, &b, 2) - want).abs() < 1e-12);
        // 3D: a shift by v has W1 |<v, e_k>| along every direction; the directions are unit
        // vectors spread over the sphere (mean |e_z| near 1/2).
        let dirs = slice_directions(3);
        assert!(dirs
            .iter()
            .all(|e| (e[0] * e[0] + e[1] * e[1] + e[2] * e[2] - 1.0).abs() < 1e-14));
        let mean_z = dirs.iter().map(|e| e[2].abs()).sum::<f64>() / SLICES as f64;
        assert!((mean_z - 0.5).abs() < 0.01, "{mean_z}");
        let a3: Vec<Point> = a.iter().map(|p| [p[0], p[1], 0.3 * p[0]]).collect();
        let b3: Vec<Point> = a3.iter().map(|p| [p[0], p[1], p[2] + 1.0]).collect();
        assert!((sliced_w1(&a3, &b3, 3) - mean_z).abs() < 1e-12);
    }
}
