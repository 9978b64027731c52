//! Distances between sample sets, for the quality report of `nlfp generate` (pure functions).
//!
//! * Energy distance (2D; any dimension in principle), the V-statistic
//!
//!   ```text
//!   E(X, Y) = 2/(n m) sum_ij |x_i - y_j| - 1/n^2 sum_ij |x_i - x_j| - 1/m^2 sum_ij |y_i - y_j|
//!   ```
//!
//!   (Székely–Rizzo; it is the squared energy distance of the two empirical measures, `>= 0`,
//!   zero iff they are equal). For two independent sets from one law it is not zero: its mean
//!   is the noise floor `delta (1/n + 1/m)`, `delta = E|X - X'|` ([`energy_floor`]), and
//!   `E nm/(n+m)` is a weighted sum of chi-square(1) variables whose weights add up to
//!   `delta`. O(n m) work: callers subsample large sets.
//! * Wasserstein-1 in 1D, exact for empirical measures of any sizes:
//!   `W1 = int |F_n(x) - G_m(x)| dx` over the merged sorted points (for equal sizes the mean of
//!   `|x_(k) - y_(k)|`). Its noise floor for two independent sets from `F` is
//!   `sqrt((1/n + 1/m) 2/pi) int sqrt(F (1 - F)) dx` to leading order (the empirical
//!   processes are Brownian bridges, `E|B(t)| = sqrt(2 t (1 - t) / pi)`) ([`w1_floor`]).

/// A sample point `[x, y, z]` (`y = 0` in 1D, `z = 0` in 1D and 2D: the distances below are
/// then those of the lower dimension, bit for bit, since adding `0^2` is exact).
pub type Point = [f64; 3];

/// Points of any dimension up to 3 as [`Point`]s (missing coordinates 0).
pub fn points<const D: usize>(p: &[[f64; D]]) -> Vec<Point> {
    p.iter()
        .map(|q| {
            let mut out = [0.0; 3];
            out[..D].copy_from_slice(q);
            out
        })
        .collect()
}

/// `|p - q|` (Euclidean), `((dx^2 + dy^2) + dz^2)^(1/2)`.
#[inline]
fn distance(p: &Point, q: &Point) -> f64 {
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
}

/// `1/(n m) sum_ij |a_i - b_j|` (Euclidean).
pub fn mean_cross_distance(a: &[Point], b: &[Point]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let total: f64 = a
        .iter()
        .map(|p| b.iter().map(|q| distance(p, q)).sum::<f64>())
        .sum();
    total / (a.len() as f64 * b.len() as f64)
}

/// `1/n^2 sum_ij |a_i - a_j|` (the diagonal contributes zeros).
pub fn mean_self_distance(a: &[Point]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let total: f64 = (0..a.len())
        .map(|i| a[i + 1..].iter().map(|q| distance(&a[i], q)).sum::<f64>())
        .sum();
    2.0 * total / (a.len() as f64).powi(2)
}

/// The energy distance (V-statistic) from the three mean distances.
pub fn energy_from_means(cross: f64, self_a: f64, self_b: f64) -> f64 {
    2.0 * cross - self_a - self_b
}

/// The energy distance (V-statistic) between two point sets.
pub fn energy_distance(a: &[Point], b: &[Point]) -> f64 {
    energy_from_means(
        mean_cross_distance(a, b),
        mean_self_distance(a),
        mean_self_distance(b),
    )
}

/// The mean energy distance of two independent sets of sizes `n`, `m` from one law with
/// `E|X - X'| = delta` (estimate `delta` by the V-statistic `mean_self_distance` times
/// `n / (n - 1)`).
pub fn energy_floor(delta: f64, n: usize, m: usize) -> f64 {
    delta * (1.0 / n as f64 + 1.0 / m as f64)
}

/// The exact Wasserstein-1 distance between the empirical measures of `a` and `b`.
pub fn wasserstein1(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    if a.len() == b.len() {
        return a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64;
    }
    // int |F_a - F_b| over the merged points.
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut x_prev = a[0].min(b[0]);
    let mut total = 0.0;
    while i < a.len() || j < b.len() {
        let take_a = j == b.len() || (i < a.len() && a[i] <= b[j]);
        let x = if take_a { a[i] } else { b[j] };
        total += (i as f64 / na - j as f64 / nb).abs() * (x - x_prev);
        x_prev = x;
        if take_a {
            i += 1;
        } else {
            j += 1;
        }
    }
    total
}

/// The leading-order mean W1 between two independent empirical measures of sizes `n`, `m`
/// from the law whose empirical version is `reference`.
pub fn w1_floor(reference: &[f64], n: usize, m: usize) -> f64 {
    if reference.len() < 2 {
        return 0.0;
    }
    let mut r = reference.to_vec();
    r.sort_by(f64::total_cmp);
    let len = r.len() as f64;
    let integral: f64 = r
        .windows(2)
        .enumerate()
        .map(|(k, w)| {
            let f = (k + 1) as f64 / len;
            (f * (1.0 - f)).sqrt() * (w[1] - w[0])
        })
        .sum();
    ((1.0 / n as f64 + 1.0 / m as f64) * 2.0 / std::f64::consts::PI).sqrt() * integral
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::uniform;

    #[test]
    fn w1_of_shifted_sets_is_the_shift() {
        let a: Vec<f64> = (0..500).map(|k| uniform(3, k, 0) * 4.0 - 2.0).collect();
        let b: Vec<f64> = a.iter().rev().map(|x| x + 0.37).collect();
        assert!((wasserstein1(&a, &b) - 0.37).abs() < 1e-14);
        assert_eq!(wasserstein1(&a, &a), 0.0);
        // Unequal sizes: W1(delta_0, {0, 1}) = 1/2; W1({0}, {1, 2, 3}) = 2.
        assert!((wasserstein1(&[0.0], &[0.0, 1.0]) - 0.5).abs() < 1e-15);
        assert!((wasserstein1(&[0.0], &[1.0, 2.0, 3.0]) - 2.0).abs() < 1e-15);
        // A set against its duplicate (unequal sizes, same measure) is at distance 0.
        let twice: Vec<f64> = a.iter().chain(&a).copied().collect();
        assert!(wasserstein1(&a, &twice) < 1e-14);
    }

    #[test]
    fn energy_distance_exact_values() {
        let a: Vec<Point> = (0..300)
            .map(|k| [uniform(5, k, 0), uniform(5, k, 1), 0.0])
            .collect();
        assert!(energy_distance(&a, &a).abs() < 1e-13);
        // Two points: E({x}, {y}) = 2 |x - y|.
        assert!((energy_distance(&[[0.0, 0.0, 0.0]], &[[3.0, 4.0, 0.0]]) - 10.0).abs() < 1e-14);
        // {0, 2} against {1} on a line: 2 * 1 - (2 * 2)/4 - 0 = 1.
        let e = energy_distance(&[[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]], &[[1.0, 0.0, 0.0]]);
        assert!((e - 1.0).abs() < 1e-15, "{e}");
        // Translation invariance and growth with the shift.
        let b: Vec<Point> = a.iter().map(|p| [p[0] + 0.5, p[1], 0.0]).collect();
        let c: Vec<Point> = a.iter().map(|p| [p[0] + 1.0, p[1], 0.0]).collect();
        assert!(energy_distance(&a, &b) > 0.1);
        assert!(energy_distance(&a, &c) > energy_distance(&a, &b));
    }

    /// The noise floors are the means over independent repetitions (within 15 %).
    #[test]
    fn noise_floors_are_the_means() {
        let (n, reps) = (200usize, 200u64);
        let gauss = |seed: u64, k: u64| {
            let (u1, u2) = (uniform(seed, k, 0), uniform(seed, k, 1));
            let r = (-2.0 * (1.0 - u1).ln()).sqrt();
            let t = 2.0 * std::f64::consts::PI * u2;
            [r * t.cos(), r * t.sin(), 0.0]
        };
        let (mut e_sum, mut e_floor, mut w_sum, mut w_floor) = (0.0, 0.0, 0.0, 0.0);
        for r in 0..reps {
            let a: Vec<Point> = (0..n as u64).map(|k| gauss(2 * r, k)).collect();
            let b: Vec<Point> = (0..n as u64).map(|k| gauss(2 * r + 1, k)).collect();
            e_sum += energy_distance(&a, &b);
            let delta = mean_self_distance(&a) * n as f64 / (n - 1) as f64;
            e_floor += energy_floor(delta, n, n);
            let (ax, bx): (Vec<f64>, Vec<f64>) = (
                a.iter().map(|p| p[0]).collect(),
                b.iter().map(|p| p[0]).collect(),
            );
            w_sum += wasserstein1(&ax, &bx);
            w_floor += w1_floor(&ax, n, n);
        }
        let (e, ef, w, wf) = (e_sum / reps as f64, e_floor / reps as f64, w_sum, w_floor);
        assert!((e / ef - 1.0).abs() < 0.15, "energy {e:e} vs floor {ef:e}");
        assert!((w / wf - 1.0).abs() < 0.15, "W1 {w:e} vs floor {wf:e}");
    }
}
