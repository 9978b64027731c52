//! `f^gamma` for a whole array, with the exponent classified once per stage so that the loop
//! body is branch-free: integer exponents by multiplication, half-integers with one `sqrt`,
//! anything else with the branch-free [`crate::simd::math::pow_fast`] (within `1 + gamma` ulp,
//! vectorisable).
//! Strict IEEE arithmetic throughout (no fast-math, no FMA).

/// How `f^gamma` is evaluated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Power {
    /// `f^k` for integer `1 <= k <= 4`, by repeated multiplication.
    Int(u32),
    /// `f^(k + 1/2)` for integer `0 <= k <= 3`: `f^k * sqrt(f)`.
    HalfInt(u32),
    /// General exponent: [`crate::simd::math::pow_fast`].
    General(f64),
}

impl Power {
    /// Classifies `gamma`.
    pub fn new(gamma: f64) -> Power {
        for k in 1..=4u32 {
            if gamma == k as f64 {
                return Power::Int(k);
            }
        }
        for k in 0..=3u32 {
            if gamma == k as f64 + 0.5 {
                return Power::HalfInt(k);
            }
        }
        Power::General(gamma)
    }

    /// `f^gamma` for one value (`f >= 0`).
    #[inline(always)]
    pub fn eval(self, f: f64) -> f64 {
        match self {
            Power::Int(k) => int_pow(f, k),
            Power::HalfInt(k) => int_pow(f, k) * f.sqrt(),
            Power::General(g) => crate::simd::math::pow_fast(f, g),
        }
    }

    /// Applies `body(i, f[i], f[i]^gamma)` for every `i`, with the exponent branch hoisted out
    /// of the loop so each variant is a tight, vectorisable loop.
    #[inline(always)]
    pub fn for_each(self, f: &[f64], mut body: impl FnMut(usize, f64, f64)) {
        macro_rules! run {
            ($pow:expr) => {
                for (i, &v) in f.iter().enumerate() {
                    body(i, v, $pow(v))
                }
            };
        }
        match self {
            Power::Int(1) => run!(|v: f64| v),
            Power::Int(2) => run!(|v: f64| v * v),
            Power::Int(3) => run!(|v: f64| v * v * v),
            Power::Int(4) => run!(|v: f64| {
                let s = v * v;
                s * s
            }),
            Power::HalfInt(0) => run!(|v: f64| v.sqrt()),
            Power::HalfInt(1) => run!(|v: f64| v * v.sqrt()),
            Power::HalfInt(2) => run!(|v: f64| v * v * v.sqrt()),
            Power::HalfInt(3) => run!(|v: f64| v * v * v * v.sqrt()),
            other => run!(|v: f64| other.eval(v)),
        }
    }
}

#[inline(always)]
fn int_pow(f: f64, k: u32) -> f64 {
    match k {
        0 => 1.0,
        1 => f,
        2 => f * f,
        3 => f * f * f,
        4 => {
            let s = f * f;
            s * s
        }
        _ => f.powi(k as i32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_and_values_match_powf() {
        for gamma in [1.0, 2.0, 3.0, 4.0, 0.5, 1.5, 2.5, 3.5, 2.3, 7.0] {
            let p = Power::new(gamma);
            let xs = [0.0, 1e-3, 0.7, 1.0, 3.3, 1e4];
            let mut seen = Vec::new();
            p.for_each(&xs, |i, f, fg| {
                assert_eq!(f, xs[i]);
                seen.push(fg);
                let exact = f.powf(gamma);
                assert!(
                    (fg - exact).abs() <= 4.0 * f64::EPSILON * exact,
                    "{gamma} {f}"
                );
                assert_eq!(fg, p.eval(f));
            });
            assert_eq!(seen.len(), xs.len());
        }
        assert_eq!(Power::new(2.0), Power::Int(2));
        assert_eq!(Power::new(2.5), Power::HalfInt(2));
        assert_eq!(Power::new(2.3), Power::General(2.3));
    }
}
