//! Counter-based random numbers: a value is a pure function of `(seed, key, counter)`, so
//! results do not depend on which rank draws them or in which order.
//!
//! The one generator of the code base is Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel
//! random numbers: as easy as 1, 2, 3", SC 2011; Random123): [`bits`] / [`uniform`] use it with
//! `ctr = [key lo, key hi, counter lo, counter hi]`, `key = [seed lo, seed hi]`; the particle
//! system lays out its own counters on the same bijection (`crate::particles::rng`). [`mix`] is
//! the `splitmix64` finaliser, used as a hash (checksums, seed derivation), not as a generator.

/// `splitmix64`: a fast, well-mixed 64-bit hash step.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Philox multipliers and Weyl key increments (Random123).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = u64::from(a) * u64::from(b);
    ((p >> 32) as u32, p as u32)
}

/// The Philox4x32 bijection with `rounds` rounds.
#[inline(always)]
pub fn philox4x32(rounds: u32, ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = ctr;
    let mut k = key;
    for r in 0..rounds {
        if r > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// Philox4x32-10, the recommended variant.
#[inline(always)]
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    philox4x32(10, ctr, key)
}

/// 64 random bits keyed by `(seed, key, counter)`: the first two words of the Philox4x32-10
/// block at `ctr = [key lo, key hi, counter lo, counter hi]` under `[seed lo, seed hi]`.
#[inline]
pub fn bits(seed: u64, key: u64, counter: u64) -> u64 {
    let block = philox4x32_10(
        [
            key as u32,
            (key >> 32) as u32,
            counter as u32,
            (counter >> 32) as u32,
        ],
        [seed as u32, (seed >> 32) as u32],
    );
    (u64::from(block[0]) << 32) | u64::from(block[1])
}

/// Uniform in `[0, 1)` with 53 random bits.
#[inline]
pub fn uniform(seed: u64, key: u64, counter: u64) -> f64 {
    (bits(seed, key, counter) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64 known answer (first output of the reference generator seeded with 0).
    #[test]
    fn splitmix_known_answer() {
        assert_eq!(mix(0), 0xE220_A839_7B1D_CDAF);
    }

    /// Mean and variance of 10^5 uniforms within 5 standard errors; keys and counters differ.
    #[test]
    fn uniform_moments() {
        let n = 100_000u64;
        let (mut s, mut s2) = (0.0, 0.0);
        for k in 0..n {
            let u = uniform(7, k, 3);
            assert!((0.0..1.0).contains(&u));
            s += u;
            s2 += u * u;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(
            (mean - 0.5).abs() < 5.0 * (1.0 / 12.0 / n as f64).sqrt(),
            "{mean}"
        );
        assert!((var - 1.0 / 12.0).abs() < 1e-3, "{var}");
        assert_ne!(uniform(7, 1, 3), uniform(7, 1, 4));
        assert_ne!(uniform(7, 1, 3), uniform(8, 1, 3));
    }
}
