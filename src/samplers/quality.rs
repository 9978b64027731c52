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

use super::{draw_samples, random_subset, stream_seed, Purpose};
use crate::comm::Comm;
use crate::decomp::{Block, ProcessGrid};
use crate::field::Field;
use crate::mesh::Mesh;
use crate::stats;

/// Largest point set the O(N^2) energy distance uses (random subsets above).
pub const METRIC_POINTS: usize = 5_000;

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
}

/// The two reference sets `R1`, `R2` of `f0` (rank 0's copies), drawn once and compared with
/// every sampler's output.
pub struct References {
    r1: Vec<[f64; 2]>,
    r2: Vec<[f64; 2]>,
    dim: usize,
    seed: u64,
}

impl References {
    /// Draws the two reference sets of `f0` (this rank's block) with `n` points each, from the
    /// streams of the user seed `seed` (collective); `None` on ranks other than 0.
    pub fn draw(
        comm: &Comm,
        mesh: &Mesh,
        grid: ProcessGrid,
        block: &Block,
        f0: &Field,
        n: u64,
        seed: u64,
    ) -> Result<Option<References>, String> {
        let draw = |purpose| draw_samples(comm, mesh, grid, block, f0, n, seed, purpose);
        let r1 = draw(Purpose::ReferenceA)?;
        let r2 = draw(Purpose::ReferenceB)?;
        Ok(comm.is_root().then_some(References {
            r1,
            r2,
            dim: mesh.dim,
            seed,
        }))
    }

    /// The quality of the generated `points` against these references (module doc).
    pub fn compare(&self, points: &[[f64; 2]]) -> Quality {
        let (r1, r2) = (&self.r1, &self.r2);
        if self.dim == 1 {
            let xs = |p: &[[f64; 2]]| p.iter().map(|q| q[0]).collect::<Vec<f64>>();
            let (s, a, b) = (xs(points), xs(r1), xs(r2));
            return Quality {
                metric: "w1",
                points: s.len(),
                value: stats::wasserstein1(&s, &a),
                floor: stats::wasserstein1(&b, &a),
                expected_floor: stats::w1_floor(&a, s.len(), a.len()),
            };
        }
        let subset_seed = stream_seed(self.seed, Purpose::Subset);
        let pick = |p: &[[f64; 2]], k: u64| {
            random_subset(p, METRIC_POINTS, crate::random::bits(subset_seed, k, 0))
        };
        let (s, a, b) = (pick(points, 0), pick(r1, 1), pick(r2, 2));
        let self_a = stats::mean_self_distance(&a);
        let energy = |x: &[[f64; 2]]| {
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
        }
    }
}
