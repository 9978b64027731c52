//! An exact long accumulator for sums of `f64` (Kulisch style): every finite double is an
//! integer multiple of `2^-1074`, so a sum is held exactly as a fixed-point integer
//!
//! ```text
//! S = sum_k limb_k 2^(32 k - 1074),   k = 0 .. LIMBS - 1,
//! ```
//!
//! in `i64` limbs that carry 32-bit digits (31 spare bits absorb carries: a limb can take 2^30
//! additions before [`ExactSum::normalize`] has to propagate them). Adding a double splits its
//! 53-bit mantissa, shifted to its exponent, over three limbs; no rounding happens anywhere, so
//! the result does not depend on the order of the additions or on how the terms were split into
//! partial sums. Two accumulators merge by adding limbs, which is exact integer arithmetic, so
//! ranks combine their accumulators with a plain integer SUM reduction (see
//! [`crate::comm::Comm::sum_exact_many`]). [`ExactSum::value`] rounds the exact sum once, to
//! nearest (ties to even), so it is also the correctly rounded sum.
//!
//! Non-finite terms are counted apart: any NaN, or both infinities, give NaN; otherwise an
//! infinity wins. A sum whose exact value exceeds the `f64` range rounds to `±inf`.
//!
//! Cost: a handful of integer operations per term (about as much as a multiply-add with its
//! loads), and a reduction of `LIMBS + 3` integers per sum.

/// Limbs of 32-bit digits: bits `2^-1074 .. 2^1024` need 66 limbs, plus one for carries of up
/// to 2^31 terms near the top of the range.
pub const LIMBS: usize = 67;

/// Integers a merged accumulator occupies: the limbs, then the `+inf`, `-inf` and NaN counts.
pub const WORDS: usize = LIMBS + 3;

const DIGIT: u32 = 32;
const MASK: i64 = (1 << DIGIT) - 1;
/// Additions a limb absorbs before carries must be propagated.
const PENDING_MAX: u32 = 1 << 30;

/// An exact sum of `f64` values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactSum {
    limbs: [i64; LIMBS],
    /// Counts of `+inf`, `-inf` and NaN terms.
    specials: [i64; 3],
    pending: u32,
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum::new()
    }
}

impl ExactSum {
    /// Zero.
    pub fn new() -> ExactSum {
        ExactSum {
            limbs: [0; LIMBS],
            specials: [0; 3],
            pending: 0,
        }
    }

    /// The exact sum of `values`.
    pub fn of(values: impl IntoIterator<Item = f64>) -> ExactSum {
        let mut s = ExactSum::new();
        for v in values {
            s.add(v);
        }
        s
    }

    /// The exact sum of the rounded products `a_k * b_k` (each product is rounded once, as in a
    /// plain loop, so the terms and hence the sum do not depend on the order).
    pub fn dot(a: &[f64], b: &[f64]) -> ExactSum {
        let mut s = ExactSum::new();
        for (x, y) in a.iter().zip(b) {
            s.add(x * y);
        }
        s
    }

    /// Adds `x` exactly.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let bits = x.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as usize;
        let frac = bits & ((1u64 << 52) - 1);
        if biased == 0x7ff {
            let slot = if frac != 0 {
                2
            } else if x > 0.0 {
                0
            } else {
                1
            };
            self.specials[slot] += 1;
            return;
        }
        if bits << 1 == 0 {
            return; // +-0
        }
        // x = mant 2^(p - 1074) with p = max(biased - 1, 0).
        let (mant, p) = if biased == 0 {
            (frac, 0)
        } else {
            (frac | (1u64 << 52), biased - 1)
        };
        if self.pending >= PENDING_MAX {
            self.normalize();
        }
        self.pending += 1;
        let (k, s) = (p / DIGIT as usize, p % DIGIT as usize);
        let v = u128::from(mant) << s;
        let chunks = [
            (v as i64) & MASK,
            ((v >> DIGIT) as i64) & MASK,
            (v >> (2 * DIGIT)) as i64,
        ];
        if x > 0.0 {
            for (limb, c) in self.limbs[k..k + 3].iter_mut().zip(chunks) {
                *limb += c;
            }
        } else {
            for (limb, c) in self.limbs[k..k + 3].iter_mut().zip(chunks) {
                *limb -= c;
            }
        }
    }

    /// Adds another accumulator (exact).
    pub fn merge(&mut self, other: &ExactSum) {
        self.normalize();
        let mut o = other.clone();
        o.normalize();
        for (a, b) in self.limbs.iter_mut().zip(o.limbs) {
            *a += b;
        }
        for (a, b) in self.specials.iter_mut().zip(o.specials) {
            *a += b;
        }
        self.pending = 1;
    }

    /// Propagates carries: every limb but the top one in `[0, 2^32)`, the top one signed.
    pub fn normalize(&mut self) {
        for k in 0..LIMBS - 1 {
            let carry = self.limbs[k] >> DIGIT;
            self.limbs[k] &= MASK;
            self.limbs[k + 1] += carry;
        }
        self.pending = 0;
    }

    /// The normalized accumulator as [`WORDS`] integers (limbs, then special counts), for a
    /// SUM reduction: the sum over ranks of these words is the words of the total (every limb
    /// of a normalized accumulator is below 2^32, so 2^31 ranks cannot overflow).
    pub fn to_words(&self) -> [i64; WORDS] {
        let mut s = self.clone();
        s.normalize();
        let mut w = [0i64; WORDS];
        w[..LIMBS].copy_from_slice(&s.limbs);
        w[LIMBS..].copy_from_slice(&s.specials);
        w
    }

    /// The accumulator whose [`ExactSum::to_words`] (or a sum of them) is `words`.
    pub fn from_words(words: &[i64]) -> ExactSum {
        assert_eq!(words.len(), WORDS, "an exact sum has {WORDS} words");
        let mut s = ExactSum::new();
        s.limbs.copy_from_slice(&words[..LIMBS]);
        s.specials.copy_from_slice(&words[LIMBS..]);
        s.pending = 1;
        s
    }

    /// The exact sum rounded to the nearest double (ties to even).
    pub fn value(&self) -> f64 {
        let [pos_inf, neg_inf, nan] = self.specials;
        if nan > 0 || (pos_inf > 0 && neg_inf > 0) {
            return f64::NAN;
        }
        if pos_inf > 0 {
            return f64::INFINITY;
        }
        if neg_inf > 0 {
            return f64::NEG_INFINITY;
        }
        let mut s = self.clone();
        s.normalize();
        let negative = s.limbs[LIMBS - 1] < 0;
        if negative {
            for l in s.limbs.iter_mut() {
                *l = -*l;
            }
            s.normalize();
        }
        let Some(top) = s.limbs.iter().rposition(|&l| l != 0) else {
            return 0.0;
        };
        // The top three limbs (at least 65 significant bits when `lo > 0`) and a sticky bit
        // for everything below them: one correct rounding by the u128 -> f64 conversion.
        let lo = top.saturating_sub(2);
        let mut w: u128 = 0;
        for k in (lo..=top).rev() {
            w = (w << DIGIT) | s.limbs[k] as u128;
        }
        if s.limbs[..lo].iter().any(|&l| l != 0) {
            w |= 1;
        }
        // 2^(32 lo - 1074) is a double for every lo here (-1074 .. 974); the product is exact
        // unless it overflows, and the window is exact (no sticky) when it is subnormal.
        let scale = pow2(DIGIT as i32 * lo as i32 - 1074);
        let magnitude = (w as f64) * scale;
        if negative {
            -magnitude
        } else {
            magnitude
        }
    }
}

/// `2^e` for `-1074 <= e <= 1023`.
fn pow2(e: i32) -> f64 {
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shewchuk's exact partials summation with a correctly rounded result (the algorithm of
    /// Python's `math.fsum`), an independent high-precision reference.
    fn fsum(values: &[f64]) -> f64 {
        let mut partials: Vec<f64> = Vec::new();
        for &v in values {
            let mut x = v;
            let mut i = 0;
            for j in 0..partials.len() {
                let mut y = partials[j];
                if x.abs() < y.abs() {
                    std::mem::swap(&mut x, &mut y);
                }
                let hi = x + y;
                let lo = y - (hi - x);
                if lo != 0.0 {
                    partials[i] = lo;
                    i += 1;
                }
                x = hi;
            }
            partials.truncate(i);
            partials.push(x);
        }
        // Round the partials (non-overlapping, increasing) to nearest.
        let mut n = partials.len();
        if n == 0 {
            return 0.0;
        }
        n -= 1;
        let mut hi = partials[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = partials[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }

    /// A deterministic stream of doubles over many magnitudes and both signs.
    fn wild(count: usize, seed: u64) -> Vec<f64> {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        (0..count)
            .map(|_| {
                let r = next();
                let mant = (r >> 11) as f64 / (1u64 << 53) as f64 + 0.5;
                let exp = ((r & 0xff) as i32) - 128;
                let sign = if r & 0x100 != 0 { -1.0 } else { 1.0 };
                sign * mant * 2f64.powi(exp / 2)
            })
            .collect()
    }

    #[test]
    fn cancellation_and_tiny_terms_are_exact() {
        assert_eq!(ExactSum::of([1e100, 1.0, -1e100]).value(), 1.0);
        assert_eq!(ExactSum::of([1.0, 1e-16, 1e-16]).value(), 1.0 + 2e-16);
        let tiny = f64::from_bits(1); // smallest subnormal
        assert_eq!(ExactSum::of([tiny, tiny, tiny]).value(), 3.0 * tiny);
        assert_eq!(ExactSum::of([f64::MAX, -f64::MAX, tiny]).value(), tiny);
        assert_eq!(ExactSum::of([f64::MAX, f64::MAX]).value(), f64::INFINITY);
        assert_eq!(
            ExactSum::of([-f64::MAX, -f64::MAX, 1.0]).value(),
            f64::NEG_INFINITY
        );
        assert_eq!(
            ExactSum::of([0.1, 0.2, -0.3]).value(),
            fsum(&[0.1, 0.2, -0.3])
        );
        assert_eq!(ExactSum::of([]).value().to_bits(), 0.0f64.to_bits());
        assert!(ExactSum::of([1.0, f64::NAN]).value().is_nan());
        assert!(ExactSum::of([f64::INFINITY, f64::NEG_INFINITY])
            .value()
            .is_nan());
        assert_eq!(ExactSum::of([f64::INFINITY, 1.0]).value(), f64::INFINITY);
        // A tie between two doubles rounds to even: 1 + 2^-53 -> 1, 1 + 3 * 2^-53 -> 1 + 2^-51.
        let u = 2f64.powi(-53);
        assert_eq!(ExactSum::of([1.0, u]).value(), 1.0);
        assert_eq!(ExactSum::of([1.0, u, u, u]).value(), 1.0 + 4.0 * u);
        assert_eq!(
            ExactSum::of([1.0, u, 2f64.powi(-200)]).value(),
            1.0 + 2.0 * u
        );
    }

    #[test]
    fn matches_the_correctly_rounded_reference() {
        for seed in 0..20 {
            let v = wild(1000 + 37 * seed as usize, seed);
            assert_eq!(
                ExactSum::of(v.iter().copied()).value().to_bits(),
                fsum(&v).to_bits(),
                "seed {seed}"
            );
        }
    }

    /// Shuffled terms and any split into partial accumulators merged in any order (what ranks
    /// do) give the same bits.
    #[test]
    fn order_and_split_independent() {
        let v = wild(5000, 42);
        let reference = ExactSum::of(v.iter().copied());
        let want = reference.value().to_bits();
        let mut shuffled = v.clone();
        for round in 0..5u64 {
            // Fisher-Yates with a simple LCG.
            let mut z = round
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for i in (1..shuffled.len()).rev() {
                z = z
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let j = (z >> 33) as usize % (i + 1);
                shuffled.swap(i, j);
            }
            assert_eq!(
                ExactSum::of(shuffled.iter().copied()).value().to_bits(),
                want
            );
            for parts in [2usize, 3, 7, 64] {
                let chunk = shuffled.len().div_ceil(parts);
                let partial: Vec<ExactSum> = shuffled
                    .chunks(chunk)
                    .map(|c| ExactSum::of(c.iter().copied()))
                    .collect();
                let mut merged = ExactSum::new();
                for p in partial.iter().rev() {
                    merged.merge(p);
                }
                assert_eq!(merged.value().to_bits(), want, "{parts} parts");
                // The integer-word route a SUM reduction takes.
                let mut words = [0i64; WORDS];
                for p in &partial {
                    for (w, x) in words.iter_mut().zip(p.to_words()) {
                        *w += x;
                    }
                }
                assert_eq!(ExactSum::from_words(&words).value().to_bits(), want);
            }
        }
        // Naive summation does depend on the order here.
        let naive: f64 = v.iter().sum();
        let naive_rev: f64 = v.iter().rev().sum();
        assert_ne!(naive.to_bits(), naive_rev.to_bits());
    }

    /// Reaching the carry budget of the limbs propagates the carries on the next addition,
    /// without changing the value.
    #[test]
    fn the_carry_budget_triggers_normalisation() {
        let mut s = ExactSum::new();
        let x = 1.0 - f64::EPSILON / 2.0; // all mantissa bits set
        for _ in 0..1000 {
            s.add(x);
        }
        s.pending = PENDING_MAX; // as if 2^30 additions had happened
        for _ in 0..10 {
            s.add(x);
        }
        assert_eq!(s.pending, 10);
        assert_eq!(s.value(), fsum(&vec![x; 1010]));
    }

    #[test]
    fn dot_is_the_exact_sum_of_rounded_products() {
        let a = wild(300, 3);
        let b = wild(300, 4);
        let products: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x * y).collect();
        assert_eq!(
            ExactSum::dot(&a, &b).value().to_bits(),
            fsum(&products).to_bits()
        );
    }
}
