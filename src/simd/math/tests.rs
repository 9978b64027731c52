//! Accuracy of the kernels against double-double references (about 100 correct bits) over the
//! whole argument range, subnormals, 0, the special values and the Bernoulli series switch
//! included; and the bits of the row kernels at every dispatch level against the scalar kernel.

use super::*;
use crate::simd::{rows, with_level, Level};

/// A double-double `hi + lo`, `|lo| <= ulp(hi) / 2`.
#[derive(Clone, Copy, Debug)]
struct Dd(f64, f64);

fn dd(x: f64) -> Dd {
    Dd(x, 0.0)
}

fn tp(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

fn add(a: Dd, b: Dd) -> Dd {
    let (s, e) = two_sum(a.0, b.0);
    let (s, e) = fast_two_sum(s, e + (a.1 + b.1));
    Dd(s, e)
}

fn neg(a: Dd) -> Dd {
    Dd(-a.0, -a.1)
}

fn sub(a: Dd, b: Dd) -> Dd {
    add(a, neg(b))
}

fn mul(a: Dd, b: Dd) -> Dd {
    let (p, e) = tp(a.0, b.0);
    let (p, e) = fast_two_sum(p, e + (a.0 * b.1 + a.1 * b.0));
    Dd(p, e)
}

fn div(a: Dd, b: Dd) -> Dd {
    let q1 = a.0 / b.0;
    let r = sub(a, mul(b, dd(q1)));
    let q2 = r.0 / b.0;
    let r = sub(r, mul(b, dd(q2)));
    let q3 = r.0 / b.0;
    let (q1, q2) = fast_two_sum(q1, q2);
    add(Dd(q1, q2), dd(q3))
}

/// `x 2^k`, exact while the result is a normal number or zero.
fn scale(x: f64, k: i32) -> f64 {
    x * 2f64.powi(k / 2) * 2f64.powi(k - k / 2)
}

const LN2: Dd = Dd(std::f64::consts::LN_2, 2.319_046_813_846_299_6e-17);

/// `e^x = m 2^n`.
fn exp_ref(x: Dd) -> (Dd, i32) {
    let n = (x.0 * std::f64::consts::LOG2_E).round();
    let r = sub(x, mul(LN2, dd(n)));
    let r = Dd(r.0 / 1024.0, r.1 / 1024.0);
    let (mut sum, mut term) = (dd(1.0), dd(1.0));
    for k in 1..=16 {
        term = div(mul(term, r), dd(k as f64));
        sum = add(sum, term);
    }
    for _ in 0..10 {
        sum = mul(sum, sum);
    }
    (sum, n as i32)
}

/// `e^x - 1 = m 2^n`.
fn expm1_ref(x: Dd) -> (Dd, i32) {
    if x.0.abs() < 0.5 {
        let (mut sum, mut term) = (x, x);
        for k in 2..=40 {
            term = div(mul(term, x), dd(k as f64));
            sum = add(sum, term);
        }
        (sum, 0)
    } else {
        let (m, n) = exp_ref(x);
        (sub(m, dd(scale(1.0, -n))), n)
    }
}

/// `ln x` for finite `x > 0`.
fn ln_ref(x: f64) -> Dd {
    let y0 = x.ln();
    // One Newton step for e^y = x: y1 = y0 + x e^-y0 - 1.
    if y0.abs() < 0.5 {
        // x e^-y0 - 1 = (x - 1) e^-y0 + (e^-y0 - 1), x - 1 exact here.
        let (em1, n) = expm1_ref(dd(-y0));
        assert_eq!(n, 0);
        let corr = add(mul(dd(x - 1.0), add(em1, dd(1.0))), em1);
        add(dd(y0), corr)
    } else {
        let (m, n) = exp_ref(dd(-y0));
        let corr = sub(mul(dd(scale(x, n)), m), dd(1.0));
        add(dd(y0), corr)
    }
}

/// `ln(1 + y)` for `-1 < y < 1e300`.
fn log1p_ref(y: f64) -> Dd {
    let z0 = dd(y.ln_1p());
    // Newton for e^z = 1 + y: z1 = z0 - (e^z0 - 1 - y) / e^z0.
    if z0.0.abs() < 0.5 {
        let (em1, _) = expm1_ref(z0);
        sub(z0, div(sub(em1, dd(y)), add(em1, dd(1.0))))
    } else {
        let (m, n) = exp_ref(z0);
        // 1 - (1 + y) / e^z0 with 1 + y as a double-double.
        let (s, e) = two_sum(1.0, y);
        let one_plus_y = Dd(scale(s, -n), scale(e, -n));
        sub(z0, sub(dd(1.0), div(one_plus_y, m)))
    }
}

/// The error of `approx` against the true value `m 2^e` in ulps of the true value
/// (subnormal spacing below the normal range).
fn ulps(approx: f64, m: Dd, e: i32) -> f64 {
    let t = m.0;
    assert!(t != 0.0 && t.is_finite());
    // floor(log2 |t|), subnormal t included.
    let tn = scale(t.abs(), 64);
    let te = e + ((tn.to_bits() >> 52) as i32 - 1023) - 64;
    let ulp_e = (te - 52).max(-1074);
    let a = scale(approx, -e);
    let d = (a - m.0) - m.1;
    d.abs() / scale(1.0, ulp_e - e)
}

/// Deterministic uniform numbers in `[0, 1)`.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn uniform(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.next()
    }

    /// Log-uniform in `[a, b]`, `0 < a < b`.
    fn log_uniform(&mut self, a: f64, b: f64) -> f64 {
        let (la, lb) = (a.ln(), b.ln());
        (la + (lb - la) * self.next()).exp().clamp(a, b)
    }
}

/// Every positive double from the smallest subnormal up, a few per binade, random mantissas.
fn all_binades(rng: &mut Lcg, per: usize) -> Vec<f64> {
    let mut v = Vec::new();
    for bits in 1..64u64 {
        v.push(f64::from_bits(bits)); // small subnormals
    }
    for e in -1074..1024i32 {
        for _ in 0..per {
            let x = scale(1.0 + rng.next(), e);
            if x > 0.0 && x.is_finite() {
                v.push(x);
            }
        }
    }
    v
}

/// Asserts `max ulp <= bound` over `xs`, reporting the worst argument.
fn check(name: &str, xs: &[f64], bound: f64, f: impl Fn(f64) -> f64, r: impl Fn(f64) -> (Dd, i32)) {
    let mut worst = (0.0, 0.0);
    for &x in xs {
        let (m, e) = r(x);
        let u = ulps(f(x), m, e);
        assert!(!u.is_nan(), "{name}({x:e}) = {} vs {m:?} 2^{e}", f(x));
        if u > worst.0 {
            worst = (u, x);
        }
    }
    println!(
        "{name}: max {:.3} ulp at {:e} ({} arguments)",
        worst.0,
        worst.1,
        xs.len()
    );
    assert!(
        worst.0 <= bound,
        "{name}: {} ulp at {:e} (bound {bound})",
        worst.0,
        worst.1
    );
}

/// Every entry of the `2^(j/128)` table against the double-double reference (`2^-92`
/// relative) and libm's `exp2` (the high part is the nearest double: `|lo| <= ulp(hi) / 2`).
#[test]
fn exp2_table_is_exact_to_a_double_double() {
    for (j, &[hi, lo]) in EXP2_TABLE.iter().enumerate() {
        let x = j as f64 / 128.0;
        let (m, n) = exp_ref(mul(LN2, dd(x)));
        let d = sub(Dd(hi, lo), Dd(scale(m.0, n), scale(m.1, n)));
        // The reference (ten squarings of a Taylor sum) is good to about 2^-94.
        assert!(d.0.abs() <= hi * 2f64.powi(-92), "{j}: {d:?}");
        let ulp = f64::from_bits(hi.to_bits() + 1) - hi;
        assert!(lo.abs() <= ulp / 2.0, "{j}: lo {lo:e}");
        assert!(
            (hi - x.exp2()).abs() <= ulp,
            "{j}: {hi} vs exp2 {}",
            x.exp2()
        );
    }
    assert_eq!(EXP2_TABLE[0], [1.0, 0.0]);
}

#[test]
fn exp_within_one_ulp_over_its_range() {
    let mut rng = Lcg(1);
    let mut xs: Vec<f64> = (0..40_000).map(|_| rng.uniform(-745.13, 709.78)).collect();
    xs.extend((0..5_000).map(|_| rng.uniform(-745.13, -708.39))); // subnormal results
    xs.extend((0..5_000).map(|_| rng.log_uniform(1e-320, 1.0)));
    xs.extend((0..5_000).map(|_| -rng.log_uniform(1e-320, 1.0)));
    xs.extend([
        0.0, -0.0, 1.0, -1.0, 709.78, -708.39, -745.13, 5e-324, -5e-324,
    ]);
    check("exp", &xs, 1.0, exp, |x| exp_ref(dd(x)));
    assert_eq!(exp(0.0), 1.0);
    assert_eq!(exp(-745.2), 0.0);
    assert_eq!(exp(-1e300), 0.0);
    assert_eq!(exp(f64::NEG_INFINITY), 0.0);
    assert_eq!(exp(709.8), f64::INFINITY);
    assert_eq!(exp(f64::INFINITY), f64::INFINITY);
    assert!(exp(f64::NAN).is_nan());
}

#[test]
fn expm1_within_one_ulp_with_full_relative_accuracy_near_zero() {
    let mut rng = Lcg(2);
    let mut xs: Vec<f64> = (0..40_000).map(|_| rng.uniform(-40.0, 709.78)).collect();
    xs.extend((0..10_000).map(|_| rng.uniform(-1.0, 1.0)));
    xs.extend((0..5_000).map(|_| rng.log_uniform(5e-324, 1.0)));
    xs.extend((0..5_000).map(|_| -rng.log_uniform(5e-324, 1.0)));
    xs.extend([
        5e-324, -5e-324, 1e-310, 0.34657, -0.34657, 0.35, -0.35, 709.78,
    ]);
    check("expm1", &xs, 1.0, expm1, |x| expm1_ref(dd(x)));
    assert_eq!(expm1(0.0), 0.0);
    assert_eq!(expm1(-40.0), -1.0);
    assert_eq!(expm1(-1e300), -1.0);
    assert_eq!(expm1(f64::NEG_INFINITY), -1.0);
    assert_eq!(expm1(709.8), f64::INFINITY);
    assert_eq!(expm1(f64::INFINITY), f64::INFINITY);
    assert!(expm1(f64::NAN).is_nan());
}

#[test]
fn ln_within_one_ulp_over_every_binade() {
    let mut rng = Lcg(3);
    let mut xs = all_binades(&mut rng, 12);
    xs.extend((1..2000).map(|k| 1.0 + k as f64 * f64::EPSILON));
    xs.extend((1..2000).map(|k| 1.0 - k as f64 * f64::EPSILON / 2.0));
    xs.extend((0..5000).map(|_| rng.uniform(0.5, 2.0)));
    xs.extend([
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        std::f64::consts::SQRT_2,
        2.0,
        0.5,
    ]);
    for (name, ln) in [("ln", ln as fn(f64) -> f64), ("ln_fast", ln_fast)] {
        check(name, &xs, 1.0, ln, |x| (ln_ref(x), 0));
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
    }
}

#[test]
fn log1p_within_one_ulp_from_subnormals_to_huge_and_down_to_minus_one() {
    let mut rng = Lcg(4);
    let mut ys: Vec<f64> = (0..20_000)
        .map(|_| rng.log_uniform(5e-324, 1e300))
        .collect();
    ys.extend((0..10_000).map(|_| rng.uniform(0.0, 1.0)));
    ys.extend((0..10_000).map(|_| -rng.log_uniform(5e-324, 0.999_999_999)));
    ys.extend((0..2_000).map(|_| -1.0 + rng.log_uniform(1e-16, 1e-3)));
    ys.extend([
        5e-324,
        1e-310,
        1.0,
        1e-17,
        2.0,
        -0.5,
        -1.0 + f64::EPSILON / 2.0,
    ]);
    check("log1p", &ys, 1.0, log1p, |y| (log1p_ref(y), 0));
    assert_eq!(log1p(0.0), 0.0);
    assert_eq!(log1p(-1.0), f64::NEG_INFINITY);
    assert_eq!(log1p(f64::INFINITY), f64::INFINITY);
    assert!(log1p(-2.0).is_nan() && log1p(f64::NAN).is_nan());
}

#[test]
fn pow_within_two_ulp_including_subnormal_results() {
    let mut rng = Lcg(5);
    for g in [2.3, 0.5, 3.7, 1.0 / 3.0, 1.0, 7.9, 1.25] {
        let lim = f64::MAX.ln() / g;
        let low = (-745.0 / g).max(-744.0);
        let mut xs: Vec<f64> = (0..8_000)
            .map(|_| rng.uniform(low, lim - 1e-9).exp())
            .collect();
        xs.extend((0..2_000).map(|_| rng.uniform(0.0, 3.0)));
        xs.retain(|&x| x > 0.0 && x.is_finite() && g * x.ln() > -745.0);
        check(
            &format!("pow(., {g})"),
            &xs,
            2.0,
            |x| pow(x, g),
            |x| exp_ref(mul(dd(g), ln_ref(x))),
        );
        assert_eq!(pow(0.0, g), 0.0);
        assert_eq!(pow(1.0, g), 1.0);
        assert_eq!(pow(f64::INFINITY, g), f64::INFINITY);
        assert!(pow(-1.0, g).is_nan());
    }
    assert_eq!(pow(0.0, 0.0), 1.0);
    assert_eq!(pow(1e300, 2.3), f64::INFINITY);
    assert_eq!(pow(1e-300, 2.3), 0.0);
}

#[test]
fn pow_fast_within_one_plus_g_ulp_including_subnormal_results() {
    let mut rng = Lcg(9);
    for g in [2.3, 0.5, 3.7, 1.0 / 3.0, 1.0, 7.9, 1.25] {
        let lim = f64::MAX.ln() / g;
        let low = (-745.0 / g).max(-744.0);
        let mut xs: Vec<f64> = (0..8_000)
            .map(|_| rng.uniform(low, lim - 1e-9).exp())
            .collect();
        xs.extend((0..4_000).map(|_| rng.uniform(0.0, 3.0)));
        xs.extend((0..2_000).map(|_| rng.uniform(0.5, 1.5)));
        xs.retain(|&x| x > 0.0 && x.is_finite() && g * x.ln() > -745.0);
        let mut worst = (0.0f64, 0.0, 0.0);
        for &x in &xs {
            let (m, e) = exp_ref(mul(dd(g), ln_ref(x)));
            let u = ulps(pow_fast(x, g), m, e);
            if u > worst.0 {
                worst = (u, x, 0.0);
            }
        }
        println!(
            "pow_fast(., {g}): max {:.3} ulp at {:e} ({} arguments)",
            worst.0,
            worst.1,
            xs.len()
        );
        assert!(
            worst.0 <= 1.0 + g,
            "pow_fast(., {g}): {} ulp at {:e}",
            worst.0,
            worst.1
        );
        assert_eq!(pow_fast(0.0, g), 0.0);
        assert_eq!(pow_fast(1.0, g), 1.0);
        assert_eq!(pow_fast(f64::INFINITY, g), f64::INFINITY);
        assert!(pow_fast(-1.0, g).is_nan() && pow_fast(f64::NAN, g).is_nan());
    }
    assert_eq!(pow_fast(0.0, 0.0), 1.0);
    assert_eq!(pow_fast(1e300, 2.3), f64::INFINITY);
    assert_eq!(pow_fast(1e-300, 2.3), 0.0);
    assert_eq!(pow_fast(5e-324, 2.3), 0.0);
}

#[test]
fn bernoulli_within_two_ulp_across_the_polynomial_switches() {
    let b_ref = |a: f64| {
        let (m, n) = expm1_ref(dd(a));
        (div(dd(a), m), -n)
    };
    let mut rng = Lcg(6);
    let mut a: Vec<f64> = (0..20_000).map(|_| rng.uniform(0.0, 709.78)).collect();
    a.extend((0..10_000).map(|_| rng.uniform(0.0, 2.0)));
    a.extend((0..5_000).map(|_| rng.log_uniform(5e-324, 1.0)));
    // Both sides of the switches at 1/4 and 1, and the polynomials' whole ranges.
    for c in [BERNOULLI_SMALL, BERNOULLI_POLY] {
        a.extend((-500..500).map(|k| c * (1.0 + k as f64 * f64::EPSILON)));
    }
    a.extend((0..20_000).map(|_| rng.uniform(0.0, 1.0)));
    a.extend((0..20_000).map(|_| rng.uniform(0.0, BERNOULLI_SMALL)));
    a.retain(|&x| x > 0.0);
    check("bernoulli", &a, 2.0, bernoulli, b_ref);
    // The short pair keeps 0.7 ulp for both members over its range (`B(-a)` above 1);
    // mirror-symmetric bits.
    let small: Vec<f64> = a.iter().copied().filter(|&x| x < BERNOULLI_SMALL).collect();
    check("bernoulli_small", &small, 0.7, bernoulli_small, b_ref);
    let b_neg_ref = |a: f64| {
        let (m, n) = expm1_ref(dd(-a));
        (div(dd(-a), m), -n)
    };
    let b_neg = |a: f64| bernoulli_small_pair(a).1;
    check("bernoulli_small_pair B(-a)", &small, 0.7, b_neg, b_neg_ref);
    for &z in &small {
        let (p, m) = bernoulli_small_pair(z);
        let (p_mirror, m_mirror) = bernoulli_small_pair(-z);
        assert_eq!(
            (p.to_bits(), m.to_bits()),
            (m_mirror.to_bits(), p_mirror.to_bits())
        );
        assert_eq!(bernoulli(z).to_bits(), p.to_bits(), "{z:e}");
    }
    assert_eq!(bernoulli(0.0), 1.0);
    assert_eq!(bernoulli(709.8), 0.0);
    assert_eq!(bernoulli(1e5), 0.0);
    assert_eq!(bernoulli(f64::INFINITY), 0.0);
}

#[test]
fn ln1p_fold_within_two_ulp_of_log1p_of_k_or_its_reciprocal() {
    let mut rng = Lcg(8);
    let mut ks: Vec<f64> = (0..20_000)
        .map(|_| rng.log_uniform(5e-324, 1e308))
        .collect();
    ks.extend((0..20_000).map(|_| rng.uniform(0.0, 4.0)));
    ks.extend((0..20_000).map(|_| rng.uniform(0.0, 2.0 * LN1P_SMALL)));
    // Both sides of the Taylor switch (2^-8) and of the four-way one (sqrt 2 - 1, 1,
    // sqrt 2 + 1).
    for c in [
        LN1P_SMALL,
        std::f64::consts::SQRT_2 - 1.0,
        1.0,
        std::f64::consts::SQRT_2 + 1.0,
    ] {
        ks.extend((-500..500).map(|i| c * (1.0 + i as f64 * f64::EPSILON)));
    }
    ks.extend([5e-324, 1e-310, 0.5, 1.0, 2.0, 1e300, f64::MAX]);
    ks.retain(|&k| k > 0.0);
    // ln(1 + 1/k) = log1p(w_hi) + w_lo / (1 + w_hi) to about 2^-105, w_hi + w_lo = 1/k.
    let reference = |k: f64| {
        if k <= 1.0 {
            (log1p_ref(k), 0)
        } else {
            let w = div(dd(1.0), dd(k));
            (add(log1p_ref(w.0), dd(w.1 / (1.0 + w.0))), 0)
        }
    };
    check("ln1p_fold", &ks, 2.0, ln1p_fold, reference);
    let small: Vec<f64> = ks.iter().copied().filter(|&k| k < LN1P_SMALL).collect();
    check("ln1p_small", &small, 1.0, ln1p_small, reference);
    assert_eq!(ln1p_fold(0.0), 0.0);
    assert_eq!(ln1p_fold(f64::INFINITY), 0.0);
    assert!(ln1p_fold(f64::NAN).is_nan());
}

/// Same bits, or both NaN.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn rows_give_the_scalar_bits_at_every_level_and_length() {
    let mut rng = Lcg(7);
    let mut xs: Vec<f64> = (0..3000).map(|_| rng.uniform(-800.0, 800.0)).collect();
    xs.extend((0..3000).map(|_| rng.log_uniform(5e-324, 1e300)));
    xs.extend((0..1000).map(|_| rng.uniform(0.0, 2e-6)));
    // Whole chunks below 1 (the middle branch of the Bernoulli chunk skip) and below 2^-8.
    xs.extend((0..1000).map(|_| rng.uniform(0.0, 0.9)));
    xs.extend((0..1000).map(|_| rng.uniform(0.0, 0.004)));
    xs.extend([
        0.0,
        -0.0,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -1.0,
        1.0,
    ]);
    type Row = fn(&[f64], &mut [f64]);
    type Kernel = (&'static str, Row, fn(f64) -> f64);
    let kernels: [Kernel; 9] = [
        ("exp", rows::exp, exp),
        ("expm1", rows::expm1, expm1),
        ("ln", rows::ln, ln),
        ("log1p", rows::log1p, log1p),
        ("bernoulli", rows::bernoulli, bernoulli),
        ("pow2.3", |x, o| rows::pow(x, 2.3, o), |x| pow(x, 2.3)),
        (
            "pow_fast2.3",
            |x, o| rows::pow_fast(x, 2.3, o),
            |x| pow_fast(x, 2.3),
        ),
        ("ln1p_fold", rows::ln1p_fold, ln1p_fold),
        ("ln_fast", rows::ln_fast, ln_fast),
    ];
    for level in Level::ALL {
        with_level(level, || {
            for (name, row, scalar) in kernels {
                // Whole slice, and odd lengths at odd offsets (vector body + scalar tail).
                for (start, len) in [(0, xs.len()), (3, 1), (5, 7), (11, 37), (1, 1001)] {
                    let x = &xs[start..start + len];
                    let mut out = vec![0.0; len];
                    row(x, &mut out);
                    for (k, (&o, &v)) in out.iter().zip(x).enumerate() {
                        assert!(
                            same(o, scalar(v)),
                            "{name} at {level:?}, slice {start}+{len} [{k}] ({v:e}): {o:e} vs {:e}",
                            scalar(v)
                        );
                    }
                }
            }
        });
    }
}

/// `ln_fast` uses one form of fdlibm's result everywhere: within 1 ulp also in fdlibm's band
/// of mantissas near `sqrt(2)` (and `sqrt(1/2)`), densely sampled there.
#[test]
fn ln_fast_within_one_ulp_in_fdlibms_band() {
    let mut rng = Lcg(9);
    let mut xs: Vec<f64> = (0..100_000).map(|_| rng.uniform(1.37, 1.43)).collect();
    xs.extend((0..100_000).map(|_| rng.uniform(0.68, 0.72)));
    xs.extend((0..50_000).map(|_| rng.uniform(1.37, 1.43) * 1024.0));
    xs.extend((0..50_000).map(|_| rng.uniform(0.68, 0.72) / 1024.0));
    check("ln_fast band", &xs, 1.0, ln_fast, |x| (ln_ref(x), 0));
    // The normal-value form gives the same bits.
    for &x in &xs {
        assert_eq!(ln_fast_normal(x).to_bits(), ln_fast(x).to_bits(), "{x:e}");
    }
}
