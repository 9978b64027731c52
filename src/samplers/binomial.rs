//! Exact binomial variates from a keyed uniform stream (pure; no state beyond the stream).
//!
//! `Binomial(n, p)` for `p <= 1/2` (otherwise `n - Binomial(n, 1 - p)`):
//!
//! * `n p < 10`: inversion by geometric waiting times, `k` = the number of partial sums of
//!   `G_i = ceil(ln U_i / ln(1 - p))` (geometric on `{1, 2, ...}`) that stay `<= n`;
//!   expected `n p + 1` uniforms;
//! * `n p >= 10`: Hörmann's transformed rejection with squeeze, BTRS (W. Hörmann, "The
//!   generation of binomial random variates", J. Statist. Comput. Simul. 46, 1993), with the
//!   log-space acceptance test and the Stirling-series tail of `ln k!`; exact, about 2.3
//!   uniforms per variate whatever `n`.
//!
//! Both are exact in law (up to floating point); the unit tests compare histograms with the
//! binomial probabilities.

use crate::random;

/// A stream of uniforms `random::uniform(seed, key, counter)`, `counter` counting up from a
/// start value: the draws of one binomial or one cell are a pure function of `(seed, key,
/// start)`, so they do not depend on which rank makes them.
#[derive(Clone, Copy, Debug)]
pub struct Stream {
    seed: u64,
    key: u64,
    counter: u64,
}

impl Stream {
    /// The stream `(seed, key)` from counter `start`.
    pub fn new(seed: u64, key: u64, start: u64) -> Stream {
        Stream {
            seed,
            key,
            counter: start,
        }
    }

    /// The next uniform in `[0, 1)`.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        let u = random::uniform(self.seed, self.key, self.counter);
        self.counter = self.counter.wrapping_add(1);
        u
    }

    /// The next 64 random bits.
    #[inline]
    pub fn bits(&mut self) -> u64 {
        let b = random::bits(self.seed, self.key, self.counter);
        self.counter = self.counter.wrapping_add(1);
        b
    }
}

/// A `Binomial(n, p)` variate (`p` is clamped to `[0, 1]`; NaN counts as 0).
pub fn binomial(n: u64, p: f64, s: &mut Stream) -> u64 {
    if n == 0 || p.is_nan() || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    if p > 0.5 {
        return n - binomial(n, 1.0 - p, s);
    }
    if n as f64 * p < 10.0 {
        inversion(n, p, s)
    } else {
        btrs(n, p, s)
    }
}

/// Inversion by geometric waiting times (`p <= 1/2`, small `n p`).
fn inversion(n: u64, p: f64, s: &mut Stream) -> u64 {
    let log_q = (-p).ln_1p();
    let (mut sum, mut k) = (0.0f64, 0u64);
    loop {
        // U in [0, 1): ln 0 = -inf gives an infinite wait (the loop ends).
        let g = (s.uniform().ln() / log_q).ceil();
        sum += g;
        if sum > n as f64 {
            return k;
        }
        k += 1;
    }
}

/// `ln k! - (ln sqrt(2 pi) + (k + 1/2) ln(k + 1) - (k + 1))`: the Stirling-series tail.
fn stirling_tail(k: f64) -> f64 {
    const TABLE: [f64; 10] = [
        0.081_061_466_795_327_2,
        0.041_340_695_955_409_2,
        0.027_677_925_684_998_3,
        0.020_790_672_103_765_09,
        0.016_644_691_189_821_1,
        0.013_876_128_823_070_7,
        0.011_896_709_945_891_7,
        0.010_411_265_261_972,
        0.009_255_462_182_712_73,
        0.008_330_563_433_362_87,
    ];
    if k <= 9.0 {
        return TABLE[k as usize];
    }
    let kp1sq = (k + 1.0) * (k + 1.0);
    (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / 1260.0 / kp1sq) / kp1sq) / (k + 1.0)
}

/// BTRS (`p <= 1/2`, `n p >= 10`).
fn btrs(n: u64, p: f64, s: &mut Stream) -> u64 {
    let nf = n as f64;
    let spq = (nf * p * (1.0 - p)).sqrt();
    let b = 1.15 + 2.53 * spq;
    let a = -0.0873 + 0.0248 * b + 0.01 * p;
    let c = nf * p + 0.5;
    let v_r = 0.92 - 4.2 / b;
    let r = p / (1.0 - p);
    let alpha = (2.83 + 5.1 / b) * spq;
    let m = ((nf + 1.0) * p).floor();
    loop {
        let u = s.uniform() - 0.5;
        let v = s.uniform();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + c).floor();
        if us >= 0.07 && v <= v_r {
            return k as u64;
        }
        if k < 0.0 || k > nf || us <= 0.0 {
            continue;
        }
        let v = (v * alpha / (a / (us * us) + b)).ln();
        let bound = (m + 0.5) * ((m + 1.0) / (r * (nf - m + 1.0))).ln()
            + (nf + 1.0) * ((nf - m + 1.0) / (nf - k + 1.0)).ln()
            + (k + 0.5) * (r * (nf - k + 1.0) / (k + 1.0)).ln()
            + stirling_tail(m)
            + stirling_tail(nf - m)
            - stirling_tail(k)
            - stirling_tail(nf - k);
        if v <= bound {
            return k as u64;
        }
    }
}

/// Splits `n` items over categories with non-negative `weights` (a multinomial draw) by
/// sequential binomials: category `k` gets `Binomial(remaining, w_k / sum_{l >= k} w_l)`, the
/// last one the rest. With all weights zero (or not finite) everything goes to category 0.
pub fn split<const K: usize>(n: u64, weights: &[f64; K], s: &mut Stream) -> [u64; K] {
    let mut out = [0u64; K];
    let mut suffix = [0.0f64; K];
    let mut acc = 0.0;
    for k in (0..K).rev() {
        acc += weights[k].max(0.0);
        suffix[k] = acc;
    }
    if n == 0 {
        return out;
    }
    if !(suffix[0] > 0.0 && suffix[0].is_finite()) {
        out[0] = n;
        return out;
    }
    let mut remaining = n;
    for k in 0..K - 1 {
        if remaining == 0 {
            return out;
        }
        let w = weights[k].max(0.0);
        let x = if suffix[k] > 0.0 {
            binomial(remaining, w / suffix[k], s)
        } else {
            0
        };
        out[k] = x;
        remaining -= x;
    }
    out[K - 1] = remaining;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ln k!` summed directly.
    fn ln_factorial(k: u64) -> f64 {
        (1..=k).map(|i| (i as f64).ln()).sum()
    }

    #[test]
    fn stirling_tail_matches_ln_factorial() {
        for k in 0..40u64 {
            let kf = k as f64;
            let want = ln_factorial(k)
                - (0.5 * (2.0 * std::f64::consts::PI).ln() + (kf + 0.5) * (kf + 1.0).ln()
                    - (kf + 1.0));
            // The table is exact; the series (k >= 10) is good to 3e-11, which moves the
            // acceptance test of BTRS by that much in log space: negligible.
            let tol = if k <= 9 { 1e-12 } else { 1e-10 };
            assert!(
                (stirling_tail(kf) - want).abs() < tol,
                "k = {k}: {} vs {want}",
                stirling_tail(kf)
            );
        }
    }

    /// `ln P(X = k)` for `X ~ Binomial(n, p)`.
    fn ln_pmf(n: u64, p: f64, k: u64) -> f64 {
        ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
            + k as f64 * p.ln()
            + (n - k) as f64 * (1.0 - p).ln()
    }

    /// Chi-square of `draws` binomial variates against the exact probabilities (cells with an
    /// expected count below 5 pooled), for both algorithms and `p` on both sides of 1/2.
    #[test]
    fn histograms_match_the_binomial_law() {
        let draws = 200_000u64;
        for (case, &(n, p)) in [
            (20u64, 0.3),
            (7, 0.05),
            (400, 0.02),
            (1000, 0.4),
            (60, 0.5),
            (50, 0.93),
            (100_000, 0.37),
        ]
        .iter()
        .enumerate()
        {
            let mut s = Stream::new(11, case as u64, 0);
            let mut hist = std::collections::HashMap::new();
            let (mut sum, mut sum2) = (0.0, 0.0);
            for _ in 0..draws {
                let k = binomial(n, p, &mut s);
                assert!(k <= n);
                *hist.entry(k).or_insert(0u64) += 1;
                sum += k as f64;
                sum2 += (k as f64).powi(2);
            }
            let mean = sum / draws as f64;
            let var = sum2 / draws as f64 - mean * mean;
            let (mu, sigma2) = (n as f64 * p, n as f64 * p * (1.0 - p));
            assert!(
                (mean - mu).abs() < 5.0 * (sigma2 / draws as f64).sqrt(),
                "n = {n}, p = {p}: mean {mean} vs {mu}"
            );
            assert!(
                (var / sigma2 - 1.0).abs() < 0.03,
                "n = {n}, p = {p}: variance {var} vs {sigma2}"
            );
            if n > 5000 {
                continue;
            }
            let (mut chi2, mut dof) = (0.0, 0usize);
            let (mut pooled_obs, mut pooled_exp) = (0.0, 0.0);
            for k in 0..=n {
                let e = draws as f64 * ln_pmf(n, p, k).exp();
                let o = *hist.get(&k).unwrap_or(&0) as f64;
                if e >= 5.0 {
                    chi2 += (o - e).powi(2) / e;
                    dof += 1;
                } else {
                    pooled_obs += o;
                    pooled_exp += e;
                }
            }
            if pooled_exp >= 5.0 {
                chi2 += (pooled_obs - pooled_exp).powi(2) / pooled_exp;
                dof += 1;
            }
            let dof = (dof - 1) as f64;
            assert!(
                chi2 < dof + 5.0 * (2.0 * dof).sqrt(),
                "n = {n}, p = {p}: chi2 = {chi2:.1} with {dof} degrees of freedom"
            );
        }
    }

    #[test]
    fn edge_cases() {
        let mut s = Stream::new(1, 2, 3);
        assert_eq!(binomial(0, 0.5, &mut s), 0);
        assert_eq!(binomial(10, 0.0, &mut s), 0);
        assert_eq!(binomial(10, 1.0, &mut s), 10);
        assert_eq!(binomial(10, f64::NAN, &mut s), 0);
        assert_eq!(split(7, &[0.0; 5], &mut s), [7, 0, 0, 0, 0]);
        assert_eq!(
            split(7, &[0.0, 0.0, 2.0, 0.0, 0.0], &mut s),
            [0, 0, 7, 0, 0]
        );
        let parts = split(1000, &[1.0, 2.0, 3.0, 0.0, 4.0], &mut s);
        assert_eq!(parts.iter().sum::<u64>(), 1000);
        assert_eq!(parts[3], 0);
    }

    /// The multinomial split has the right means (5 standard errors).
    #[test]
    fn split_means() {
        let w = [0.5, 0.1, 0.2, 0.15, 0.05];
        let (reps, n) = (20_000u64, 37u64);
        let mut sums = [0.0f64; 5];
        for r in 0..reps {
            let mut s = Stream::new(5, r, 0);
            let parts = split(n, &w, &mut s);
            for k in 0..5 {
                sums[k] += parts[k] as f64;
            }
        }
        for k in 0..5 {
            let mean = sums[k] / reps as f64;
            let sd = (n as f64 * w[k] * (1.0 - w[k]) / reps as f64).sqrt();
            assert!(
                (mean - n as f64 * w[k]).abs() < 5.0 * sd,
                "category {k}: {mean}"
            );
        }
    }
}
