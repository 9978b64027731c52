//! Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random
//! numbers: as easy as 1, 2, 3", SC 2011; the Random123 reference), keyed by the run's seed.
//!
//! A draw is a pure function of `(seed, particle id, step, stream)`: no generator state is carried
//! or moved between ranks, so a particle's random numbers do not depend on which rank pushes it,
//! in what order, or how many ranks there are. The 128-bit counter is
//!
//! ```text
//! ctr = [id mod 2^32, id div 2^32, step mod 2^32, (step div 2^32) * 2^8 + stream]
//! key = [seed mod 2^32, seed div 2^32]
//! ```
//!
//! (steps below 2^56, 256 streams). One block gives four 32-bit words: two standard normals by
//! inversion of two 52-bit uniforms ([`normal_quantile`]; Box–Muller is kept as
//! [`CounterRng::normals_box_muller`] but costs about twice as much, and the normals are most of
//! the push), or a 53-bit uniform and two 32-bit uniforms (the initial draw). Known-answer
//! tests against Random123's `kat_vectors` are below.

/// Independent uses of the generator; each has its own counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Stream {
    /// Drawing the initial positions (`step` = 0).
    Initial = 0,
    /// The Brownian increments of the forward particle system (`step` = the step being taken).
    Forward = 1,
    /// The Brownian increments of a reverse-time sampler.
    Reverse = 2,
    /// Drawing the start positions of a reverse-time sampler.
    ReverseInitial = 3,
}

pub use crate::random::{philox4x32, philox4x32_10};

/// A uniform in `[0, 1)` with 53 random bits from two words.
#[inline(always)]
pub fn uniform53(hi: u32, lo: u32) -> f64 {
    let bits = ((u64::from(hi) << 32) | u64::from(lo)) >> 11;
    bits as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform in `(0, 1)` from one word: `(x + 1/2) / 2^32`.
#[inline(always)]
pub fn uniform32_open(x: u32) -> f64 {
    (f64::from(x) + 0.5) * (1.0 / 4_294_967_296.0)
}

/// Two independent standard normals by Box–Muller from `u1` in `(0, 1]` and `u2` in `[0, 1)`:
/// `sqrt(-2 ln u1) (cos 2 pi u2, sin 2 pi u2)`.
#[inline(always)]
pub fn box_muller(u1: f64, u2: f64) -> [f64; 2] {
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
    [r * c, r * s]
}

/// The standard normal quantile `Phi^-1(p)` for `p` in `(0, 1)` by Acklam's rational
/// approximation (relative error below `1.15e-9` everywhere): a rational function of
/// `(p - 1/2)^2` for `0.02425 <= p <= 0.97575` (no transcendental function: 95% of the draws),
/// of `sqrt(-2 ln p)` in the tails. About five times faster than Box–Muller's logarithm, square
/// root and sine/cosine on this class of machine, and the push is dominated by its normals.
#[inline(always)]
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    let tail = |q: f64| {
        let q = (-2.0 * q.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail(p)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail(1.0 - p)
    }
}

/// A uniform in `(0, 1)` with 52 random bits from two words: `(k + 1/2) / 2^52`, so that both
/// ends are representable (`2^-53` and `1 - 2^-53`).
#[inline(always)]
pub fn uniform52_open(hi: u32, lo: u32) -> f64 {
    let bits = ((u64::from(hi) << 32) | u64::from(lo)) >> 12;
    (bits as f64 + 0.5) * (1.0 / (1u64 << 52) as f64)
}

/// The generator of one run: Philox4x32-10 keyed by the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterRng {
    key: [u32; 2],
}

impl CounterRng {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> CounterRng {
        CounterRng {
            key: [seed as u32, (seed >> 32) as u32],
        }
    }

    /// The 128 random bits of `(id, step, stream)`.
    #[inline(always)]
    pub fn block(&self, id: u64, step: u64, stream: Stream) -> [u32; 4] {
        debug_assert!(step < 1 << 56);
        let ctr = [
            id as u32,
            (id >> 32) as u32,
            step as u32,
            (((step >> 32) as u32) << 8) | stream as u32,
        ];
        philox4x32_10(ctr, self.key)
    }

    /// Two independent standard normals for `(id, step, stream)` by Box–Muller.
    #[inline(always)]
    pub fn normals_box_muller(&self, id: u64, step: u64, stream: Stream) -> [f64; 2] {
        let b = self.block(id, step, stream);
        // 1 - u maps [0, 1) onto (0, 1]: the logarithm never sees 0.
        box_muller(1.0 - uniform53(b[0], b[1]), uniform53(b[2], b[3]))
    }

    /// Two independent standard normals for `(id, step, stream)` by inversion
    /// ([`normal_quantile`] of two 52-bit uniforms in `(0, 1)`; `|z| < 8.3`).
    #[inline(always)]
    pub fn normals(&self, id: u64, step: u64, stream: Stream) -> [f64; 2] {
        let b = self.block(id, step, stream);
        [
            normal_quantile(uniform52_open(b[0], b[1])),
            normal_quantile(uniform52_open(b[2], b[3])),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123 `kat_vectors`, "philox4x32 10" lines: counter, key, expected output.
    const KAT: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
        (
            [0, 0, 0, 0],
            [0, 0],
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
        ),
        (
            [u32::MAX; 4],
            [u32::MAX; 2],
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
        ),
        (
            [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
            [0xa409_3822, 0x299f_31d0],
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
        ),
    ];

    #[test]
    fn philox_known_answers() {
        for (ctr, key, want) in KAT {
            assert_eq!(
                philox4x32_10(ctr, key),
                want,
                "ctr {ctr:08x?} key {key:08x?}"
            );
        }
    }

    #[test]
    fn counter_layout() {
        // Seed and id map onto the key and the first counter words as documented: with the
        // third KAT's key and counter words the generator reproduces its answer.
        let rng = CounterRng::new(0x299f_31d0_a409_3822);
        let id = 0x85a3_08d3_243f_6a88u64;
        let step = (0x0003_7073u64 << 32) | 0x1319_8a2e;
        let ctr = [
            id as u32,
            (id >> 32) as u32,
            step as u32,
            (((step >> 32) as u32) << 8) | Stream::Reverse as u32,
        ];
        assert_eq!(ctr[3], 0x0370_7302);
        assert_eq!(
            rng.block(id, step, Stream::Reverse),
            philox4x32_10(ctr, KAT[2].1)
        );
        let kat = [ctr[0], ctr[1], ctr[2], 0x0370_7344];
        assert_eq!(philox4x32_10(kat, rng.key), KAT[2].2);
        // Every part of the counter and the key matters.
        let b = rng.block(7, 3, Stream::Forward);
        assert_eq!(b, rng.block(7, 3, Stream::Forward));
        assert_ne!(b, rng.block(7, 3, Stream::Reverse));
        assert_ne!(b, rng.block(7, 4, Stream::Forward));
        assert_ne!(b, rng.block(8, 3, Stream::Forward));
        assert_ne!(b, rng.block(7 + (1 << 32), 3, Stream::Forward));
        assert_ne!(b, rng.block(7, 3 + (1 << 32), Stream::Forward));
        assert_ne!(
            CounterRng::new(1).block(7, 3, Stream::Forward),
            CounterRng::new(2).block(7, 3, Stream::Forward)
        );
    }

    #[test]
    fn uniforms_cover_their_ranges() {
        assert_eq!(uniform53(0, 0), 0.0);
        assert!(uniform53(u32::MAX, u32::MAX) < 1.0);
        assert!(uniform32_open(0) > 0.0);
        assert!(uniform32_open(u32::MAX) < 1.0);
        let z = box_muller(1.0, 0.0);
        assert_eq!(z, [0.0, 0.0]);
        assert!(box_muller(f64::MIN_POSITIVE, 0.25)[1] > 37.0);
    }

    #[test]
    fn normal_quantile_matches_reference_values() {
        // Phi^-1 at a few probabilities (central region and both tails).
        let cases = [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.841_344_746_068_542_9, 1.0),
            (0.1, -1.281_551_565_544_601),
            (0.02, -2.053_748_910_631_823),
            (0.001, -3.090_232_306_167_813),
            (1e-10, -6.361_340_902_404_056),
            (0.999_999, 4.753_424_308_822_899),
        ];
        for (p, want) in cases {
            let got = normal_quantile(p);
            assert!(
                (got - want).abs() <= 1.2e-9 * want.abs().max(1e-300) + 1e-15,
                "Phi^-1({p}) = {got}, want {want}"
            );
            if (1e-3..=0.999).contains(&p) {
                // (1 - p is inexact for tiny p.)
                assert!((normal_quantile(1.0 - p) + got).abs() < 1e-9 * got.abs().max(1.0));
            }
        }
        let (lo, hi) = (uniform52_open(0, 0), uniform52_open(u32::MAX, u32::MAX));
        assert!(lo > 0.0 && hi < 1.0);
        assert!(normal_quantile(lo) > -8.3 && normal_quantile(hi) < 8.3);
        // Monotone across the region boundaries.
        let mut last = f64::NEG_INFINITY;
        for k in 1..100_000 {
            let z = normal_quantile(k as f64 / 100_000.0);
            assert!(z > last, "not increasing at {k}");
            last = z;
        }
    }

    #[test]
    fn box_muller_normals_have_unit_variance() {
        let rng = CounterRng::new(3);
        let n = 100_000u64;
        let mut s2 = 0.0;
        for id in 0..n {
            let [a, b] = rng.normals_box_muller(id, 0, Stream::Forward);
            s2 += a * a + b * b;
        }
        let var = s2 / (2 * n) as f64;
        assert!(
            (var - 1.0).abs() < 5.0 * (2.0 / (2 * n) as f64).sqrt(),
            "{var}"
        );
    }

    /// Mean, variance, skewness, kurtosis and the normal CDF at a few points, over many
    /// (id, step) pairs; correlation between the two normals of a block and between steps.
    #[test]
    fn normals_have_the_right_statistics() {
        let rng = CounterRng::new(42);
        let n = 400_000usize;
        let (mut s1, mut s2, mut s3, mut s4) = (0.0, 0.0, 0.0, 0.0);
        let mut cross = 0.0;
        let mut lag = 0.0;
        let thresholds = [-2.0, -1.0, 0.0, 0.5, 1.5];
        let cdf = [0.022_750_13, 0.158_655_25, 0.5, 0.691_462_46, 0.933_192_80];
        let mut below = [0usize; 5];
        for k in 0..n {
            let id = k as u64 / 4;
            let step = k as u64 % 4;
            let [a, b] = rng.normals(id, step, Stream::Forward);
            let [c, _] = rng.normals(id, step + 1, Stream::Forward);
            for z in [a, b] {
                s1 += z;
                s2 += z * z;
                s3 += z * z * z;
                s4 += z * z * z * z;
                for (t, cnt) in thresholds.iter().zip(below.iter_mut()) {
                    *cnt += usize::from(z < *t);
                }
            }
            cross += a * b;
            lag += a * c;
        }
        let m = (2 * n) as f64;
        let se = 1.0 / m.sqrt();
        assert!((s1 / m).abs() < 5.0 * se, "mean {}", s1 / m);
        assert!(
            (s2 / m - 1.0).abs() < 5.0 * 2f64.sqrt() * se,
            "var {}",
            s2 / m
        );
        assert!((s3 / m).abs() < 5.0 * 15f64.sqrt() * se, "skew {}", s3 / m);
        assert!(
            (s4 / m - 3.0).abs() < 5.0 * 96f64.sqrt() * se,
            "kurt {}",
            s4 / m
        );
        let se1 = 1.0 / (n as f64).sqrt();
        assert!(
            (cross / n as f64).abs() < 5.0 * se1,
            "pair corr {}",
            cross / n as f64
        );
        assert!(
            (lag / n as f64).abs() < 5.0 * se1,
            "step corr {}",
            lag / n as f64
        );
        for ((t, c), p) in thresholds.iter().zip(below).zip(cdf) {
            let frac = c as f64 / m;
            let sd = (p * (1.0 - p) / m).sqrt();
            assert!((frac - p).abs() < 5.0 * sd, "P(z < {t}) = {frac}, want {p}");
        }
    }

    /// Chi-square test of 64 equal bins for the 32-bit uniforms of the initial stream.
    #[test]
    fn uniforms_pass_chi_square() {
        let rng = CounterRng::new(7);
        let bins = 64usize;
        let n = 256_000usize;
        let mut counts = vec![0usize; bins];
        for id in 0..n as u64 {
            let b = rng.block(id, 0, Stream::Initial);
            let u = uniform32_open(b[2]);
            counts[(u * bins as f64) as usize] += 1;
            let v = uniform53(b[0], b[1]);
            counts[(v * bins as f64) as usize] += 1;
        }
        let expect = (2 * n) as f64 / bins as f64;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expect).powi(2) / expect)
            .sum();
        // 63 degrees of freedom: mean 63, sd 11.2; 120 is beyond the 99.999% quantile.
        assert!(chi2 < 120.0, "chi2 = {chi2}");
    }
}
