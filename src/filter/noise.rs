//! Seeded noisy versions of a clean density (pure: no MPI), computed on the whole grid in global
//! index order, so every rank builds the same bits whatever the rank count.
//!
//! * `Multiplicative`: `g_j (1 + a xi_j)`, `xi_j` uniform in `[-1, 1)`, `0 <= a < 1` (positive
//!   wherever `g_j > 0`).
//! * `Additive`: `g_j + a max(g) xi_j`, then floored (below).
//! * `Samples`: the histogram of `N` samples drawn from `g` (a sample falls in cell `j` with
//!   probability `g_j / sum g`, by inversion of the cumulative sum with one uniform per sample),
//!   `count_j m / (N h^d)`, then floored.
//!
//! `xi_j` is `uniform(seed, j, 0)` of [`crate::random`] keyed by the global cell index
//! `j = iy nx + ix`; sample `s` uses `uniform(seed, s, 1)`.
//!
//! **Kept positive, same mass.** The additive and sample kinds are floored at
//! [`FLOOR_FRACTION`] times the mean density `sum g / N` (cells the noise drove negative, or
//! that no sample reached). Every kind is then rescaled by the single factor
//! `sum_j g_j / sum_j noisy_j`, so the noisy density has the clean one's discrete mass
//! `h^d sum g` (to round-off) and the noise shape is unchanged.

use crate::names::named_enum;

named_enum! {
    /// What kind of noise, selected by `filter.noise_kind`.
    pub enum NoiseKind {
        /// `g (1 + a xi)`.
        Multiplicative = "multiplicative",
        /// `g + a max(g) xi`, floored.
        Additive = "additive",
        /// Histogram of `N` samples of `g`, floored.
        Samples = "samples",
    }
}

/// The noise of a filtering study.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseSpec {
    /// Kind.
    pub kind: NoiseKind,
    /// Amplitude `a` (multiplicative, additive).
    pub amplitude: f64,
    /// Seed.
    pub seed: u64,
    /// Number of samples (samples kind).
    pub samples: u64,
}

/// Floor of the additive and sample kinds, relative to the mean density `sum g / N`.
pub const FLOOR_FRACTION: f64 = 1e-6;

/// The noisy density of the clean `clean` (global cells, row-major, `clean_j >= 0`, positive
/// sum); same length, same sum to round-off.
pub fn noisy_density(clean: &[f64], spec: &NoiseSpec) -> Vec<f64> {
    let total: f64 = clean.iter().sum();
    assert!(
        total > 0.0 && total.is_finite(),
        "noisy_density: clean sum {total}"
    );
    let floor = FLOOR_FRACTION * total / clean.len() as f64;
    let xi = |j: usize| 2.0 * crate::random::uniform(spec.seed, j as u64, 0) - 1.0;
    let mut noisy: Vec<f64> = match spec.kind {
        NoiseKind::Multiplicative => clean
            .iter()
            .enumerate()
            .map(|(j, &g)| g * (1.0 + spec.amplitude * xi(j)))
            .collect(),
        NoiseKind::Additive => {
            let max = clean.iter().copied().fold(0.0, f64::max);
            clean
                .iter()
                .enumerate()
                .map(|(j, &g)| (g + spec.amplitude * max * xi(j)).max(floor))
                .collect()
        }
        NoiseKind::Samples => {
            let counts = sample_counts(clean, spec.samples, spec.seed);
            let per_sample = total / spec.samples.max(1) as f64;
            counts
                .iter()
                .map(|&c| (c as f64 * per_sample).max(floor))
                .collect()
        }
    };
    let scale = total / noisy.iter().sum::<f64>();
    for v in &mut noisy {
        *v *= scale;
    }
    noisy
}

/// How many of `n` samples of the density `weights` fall in each cell.
pub fn sample_counts(weights: &[f64], n: u64, seed: u64) -> Vec<u64> {
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for &w in weights {
        acc += w;
        cumulative.push(acc);
    }
    let mut counts = vec![0u64; weights.len()];
    for s in 0..n {
        let target = crate::random::uniform(seed, s, 1) * acc;
        // The first cell whose cumulative sum exceeds the target (never an empty cell).
        let j = cumulative.partition_point(|&c| c <= target);
        counts[j.min(weights.len() - 1)] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(n: usize) -> Vec<f64> {
        (0..n)
            .map(|j| (-((j as f64 - n as f64 / 2.0) / 6.0).powi(2)).exp())
            .collect()
    }

    #[test]
    fn every_kind_keeps_the_sum_and_positivity() {
        let g = clean(61);
        let total: f64 = g.iter().sum();
        for kind in NoiseKind::ALL {
            let spec = NoiseSpec {
                kind,
                amplitude: 0.5,
                seed: 3,
                samples: 500,
            };
            let v = noisy_density(&g, &spec);
            let s: f64 = v.iter().sum();
            assert!(
                (s - total).abs() < 1e-13 * total,
                "{kind:?}: {s} vs {total}"
            );
            assert!(v.iter().all(|&x| x > 0.0), "{kind:?}");
            assert_ne!(v, g);
            // Seeded: the same numbers again, other numbers for another seed.
            assert_eq!(v, noisy_density(&g, &spec));
            assert_ne!(v, noisy_density(&g, &NoiseSpec { seed: 4, ..spec }));
        }
    }

    /// Multiplicative noise stays within `g (1 +- a)` before the (tiny) rescaling.
    #[test]
    fn multiplicative_noise_is_bounded() {
        let g = clean(61);
        let spec = NoiseSpec {
            kind: NoiseKind::Multiplicative,
            amplitude: 0.3,
            seed: 9,
            samples: 0,
        };
        let v = noisy_density(&g, &spec);
        for (a, b) in v.iter().zip(&g) {
            assert!(*a >= 0.6 * b && *a <= 1.4 * b);
        }
    }

    /// Sample counts add up to N and follow the weights (chi-square-like loose check).
    #[test]
    fn samples_follow_the_weights() {
        let w = [1.0, 0.0, 3.0, 6.0];
        let counts = sample_counts(&w, 100_000, 1);
        assert_eq!(counts.iter().sum::<u64>(), 100_000);
        assert_eq!(counts[1], 0);
        for (c, p) in counts.iter().zip([0.1, 0.0, 0.3, 0.6]) {
            let expected = p * 1e5;
            assert!((*c as f64 - expected).abs() <= 5.0 * expected.sqrt().max(1.0));
        }
    }
}
