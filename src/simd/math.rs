//! Branch-free scalar kernels of `exp`, `expm1`, `ln`, `log1p`, `pow` and the Bernoulli
//! function, written to be inlined into loops over slices that the compiler vectorises (see the
//! module doc of [`crate::simd`]): every special case is a select between values computed
//! anyway, integers live in the bits of doubles (no float/int conversions, which SSE2 and AVX2
//! lack for 64-bit lanes), there is no FMA. The one table, `2^(j/128)` ([`EXP2_TABLE`]), is
//! computed at compile time and read by exact indexing (the same bits in every lane and level);
//! the chunk helpers ([`exp_of_chunk`]) read it in a loop of its own, so the arithmetic loops
//! vectorise whether or not gathers are fast.
//!
//! * `exp(x) = 2^m (T_hi + (T_lo + T_hi p(r)))`: `n = round(128 x / ln 2) = 128 m + j`,
//!   `r = x - n ln2/128` (two-part `ln 2 / 128`, `|r| <= ln 2 / 256`, exact up to one
//!   rounding), `T = 2^(j/128)` as a double-double from the table, `p` the degree-5 Taylor
//!   polynomial of `expm1` (truncation `< 2^-60` relative). `2^m` is applied as `2^m1 2^m2`,
//!   `m1 + m2 = m`, so results in the subnormal range are rounded once more only.
//! * `expm1(x) = 2 ((2^(n-1) - 1/2) + 2^(n-1) r + 2^(n-1) (p(r) - r))`, `n = round(x / ln 2)`,
//!   `p` the degree-13 Taylor polynomial of `expm1` on `|r| <= ln 2 / 2`, `r` carried with
//!   its rounding error and the first two terms added exactly (two-sum), so small arguments
//!   keep full relative accuracy and the cancellation at `n = 1`, `r < 0` costs nothing (no
//!   table: it is only the large branch of the Bernoulli function).
//! * `ln(x) = k ln 2 + ln(m)`, `m in [sqrt(1/2), sqrt(2))`, `ln(m) = 2s + s R(s^2)`,
//!   `s = (m - 1)/(m + 1)` carried as a double-double and `R` the minimax polynomial of
//!   fdlibm's `log` (error `< 2^-58.45`). [`ln_dd`] returns the result as a double-double
//!   (relative error about `2^-59`), which `pow` uses.
//! * `log1p(y) = ln(u) + (y - (u - 1)) / u`, `u = 1 + y` rounded (the correction is the exact
//!   rounding error of `u`).
//! * `ln1p_fold(k) = ln(1 + min(k, 1/k))` for `Phi'`: one division, or none below `2^-8`
//!   (the degree-7 Taylor polynomial [`ln1p_small`]; [`ln1p_fold_chunk`] skips the division
//!   for a chunk of such arguments).
//! * `pow(x, g) = exp(g ln x)` with `g ln x` as a double-double (Dekker's product), so the
//!   error stays near one ulp even where `|g ln x|` is hundreds; [`pow_fast`] the same with
//!   the one-division `ln` (within `1 + g` ulp), for the general exponent of the schemes; a row
//!   of them in passes ([`pow_fast_chunk`]: logarithms and reductions, table, polynomials).
//! * `bernoulli(a) = a / expm1(a)` for `a >= 1`, 0 once `expm1` overflows (`a > 709.78`, where
//!   the true value is below `1e-305`); below 1 its Taylor polynomial `1 - a/2 + sum B_2k
//!   a^2k / (2k)!`, to degree 12 below `1/4`, to degree 22 above (no division, no
//!   exponential); [`bernoulli_chunk`] evaluates only the branches a chunk needs.
//!
//! Accuracy (asserted by the tests against double-double references over the whole argument
//! range, subnormals and the special values included): `exp`, `expm1`, `ln`, `log1p`,
//! `ln1p_small`, `bernoulli_small` within 1 ulp, `pow`, `ln1p_fold` and `bernoulli` within
//! 2 ulp (1 ulp of the subnormal spacing where the result is subnormal), `pow_fast(., g)`
//! within `1 + g` ulp.

// The polynomial and split constants keep the digits of their published derivations (fdlibm), and
// the range guards are written as min/max on purpose (the same operation sequence in every lane).
#![allow(clippy::excessive_precision, clippy::manual_clamp)]

/// `1.5 * 2^52`: adding it rounds a double with `|x| < 2^51` to an integer (ties to even),
/// which then sits in the low bits of the sum.
const MAGIC: f64 = 6_755_399_441_055_744.0;
/// `2^52 + 1023` as a double and as bits, for reading a biased exponent as a double.
const EXP_BIAS_F: f64 = 4_503_599_627_371_519.0;
const TWO52_BITS: u64 = 0x4330_0000_0000_0000;
/// `2^52`.
const TWO52: f64 = 4_503_599_627_370_496.0;
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// `ln 2` in two parts: the high part has 32 significant bits, so `n LN2_HI` is exact for
/// `|n| < 2^21`.
#[allow(clippy::excessive_precision)] // fdlibm's published digits
const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
#[allow(clippy::excessive_precision)]
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
const SQRT2: f64 = std::f64::consts::SQRT_2;
const TWO54: f64 = 18_014_398_509_481_984.0;
/// Dekker's splitting constant `2^27 + 1`.
const SPLITTER: f64 = 134_217_729.0;

/// Taylor coefficients `1/k!`, `k = 2..=13`.
const C: [f64; 12] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// fdlibm's `log` polynomial `R(z) = z (LG1 + z (LG2 + ... + z LG7))`, `z = s^2`.
#[allow(clippy::excessive_precision)]
const LG: [f64; 7] = [
    6.666_666_666_666_735_130e-1,
    3.999_999_999_940_941_908e-1,
    2.857_142_874_366_239_149e-1,
    2.222_219_843_214_978_396e-1,
    1.818_357_216_161_805_012e-1,
    1.531_383_769_920_937_332e-1,
    1.479_819_860_511_658_591e-1,
];

/// `if c { a } else { b }` on values already computed (a select, not a branch).
#[inline(always)]
fn sel(c: bool, a: f64, b: f64) -> f64 {
    if c {
        a
    } else {
        b
    }
}

/// `(n, t)`: `n = round(x)` (ties to even) for `|x| < 2^51`, and `t = n + MAGIC`, whose low
/// bits hold `n`.
#[inline(always)]
fn round_magic(x: f64) -> (f64, f64) {
    let t = x + MAGIC;
    (t - MAGIC, t)
}

/// `2^n` from `t = n + MAGIC` ([`round_magic`]), for `-1022 <= n <= 1023`.
#[inline(always)]
fn pow2_from_magic(t: f64) -> f64 {
    f64::from_bits(t.to_bits().wrapping_add(1023) << 52)
}

/// `2^n` for an integer-valued `n` with `-1022 <= n <= 1023`.
#[inline(always)]
fn pow2(n: f64) -> f64 {
    pow2_from_magic(n + MAGIC)
}

/// `expm1(r) - r` for `|r| <= 0.35` by the degree-13 Taylor polynomial of `expm1`.
#[inline(always)]
fn expm1_tail(r: f64) -> f64 {
    let mut q = C[11];
    for &c in C[..11].iter().rev() {
        q = c + r * q;
    }
    (r * r) * q
}

/// Bits of the table index of [`exp_dd`]: `2^(j / 2^EXP_TABLE_BITS)`, `j < 128`.
pub const EXP_TABLE_BITS: u32 = 7;
const EXP_N: usize = 1 << EXP_TABLE_BITS;
/// `2^7 / ln 2`, and `ln 2 / 2^7` in the two parts of [`LN2_HI`] / [`LN2_LO`] (exact scalings:
/// `n LN2_N_HI` is exact for `|n| < 2^21`).
const INV_LN2_N: f64 = LOG2_E * EXP_N as f64;
const LN2_N_HI: f64 = LN2_HI / EXP_N as f64;
const LN2_N_LO: f64 = LN2_LO / EXP_N as f64;

/// `2^(j/128) = hi + lo` for `j = 0..128`, computed at compile time in double-double
/// arithmetic (`exp(j ln2 / 128)` by its Taylor series, relative error below `2^-100`), `hi`
/// the nearest double: exact indexing, the same bits at every level.
pub static EXP2_TABLE: [[f64; 2]; EXP_N] = exp2_table();

/// Compile-time double-double helpers for [`EXP2_TABLE`] (plain `f64` arithmetic, which const
/// evaluation performs with IEEE rounding).
mod dd_const {
    pub const fn two_sum(a: f64, b: f64) -> (f64, f64) {
        let s = a + b;
        let bb = s - a;
        (s, (a - (s - bb)) + (b - bb))
    }
    pub const fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
        let s = a + b;
        (s, b - (s - a))
    }
    const fn split(a: f64) -> (f64, f64) {
        let c = 134_217_729.0 * a;
        let hi = c - (c - a);
        (hi, a - hi)
    }
    pub const fn two_prod(a: f64, b: f64) -> (f64, f64) {
        let p = a * b;
        let (ah, al) = split(a);
        let (bh, bl) = split(b);
        (p, (((ah * bh - p) + ah * bl) + al * bh) + al * bl)
    }
    pub const fn add(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
        let (s, e) = two_sum(a.0, b.0);
        fast_two_sum(s, e + (a.1 + b.1))
    }
    pub const fn mul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
        let (p, e) = two_prod(a.0, b.0);
        fast_two_sum(p, e + (a.0 * b.1 + a.1 * b.0))
    }
    /// `a / d` for a double `d`.
    pub const fn div(a: (f64, f64), d: f64) -> (f64, f64) {
        let q1 = a.0 / d;
        let (p, e) = two_prod(q1, d);
        let r = ((a.0 - p) - e) + a.1;
        fast_two_sum(q1, r / d)
    }
}

const fn exp2_table() -> [[f64; 2]; EXP_N] {
    // ln 2 as a double-double.
    const LN2_DD: (f64, f64) = (std::f64::consts::LN_2, 2.319_046_813_846_299_6e-17);
    let mut t = [[0.0; 2]; EXP_N];
    let mut j = 0;
    while j < EXP_N {
        let x = dd_const::mul(LN2_DD, (j as f64 / EXP_N as f64, 0.0));
        let (mut sum, mut term) = ((1.0, 0.0), (1.0, 0.0));
        let mut k = 1;
        while k <= 30 {
            term = dd_const::div(dd_const::mul(term, x), k as f64);
            sum = dd_const::add(sum, term);
            k += 1;
        }
        t[j] = [sum.0, sum.1];
        j += 1;
    }
    t
}

/// `expm1(r)` for `|r| <= ln 2 / 256` by its Taylor polynomial to degree 5,
/// `r + r^2 (1/2 + r (1/6 + r (1/24 + r/120)))` (truncation below `2^-60` relative).
#[inline(always)]
fn expm1_poly5(r: f64) -> f64 {
    let q = 1.0 / 24.0 + r * (1.0 / 120.0);
    let q = 1.0 / 6.0 + r * q;
    let q = 0.5 + r * q;
    r + (r * r) * q
}

/// `exp(hi + lo)` for a double-double argument (`|lo| <= ulp(hi)`); `exp(x)` is
/// `exp_dd(x, 0)`. Table-driven: `n = round(128 x / ln 2)`, `n = 128 m + j`,
/// `r = x - n ln2/128` (two-part `ln 2 / 128`, `|r| <= ln 2 / 256`, exact up to one rounding),
/// `exp(x) = 2^m (T_hi + (T_lo + T_hi p(r)))` with `T = 2^(j/128)` from [`EXP2_TABLE`] and
/// `p` the degree-5 Taylor polynomial of `expm1` ([`expm1_poly5`]). `2^m` is applied as
/// `2^m1 2^m2`, `m1 + m2 = m`, so results in the subnormal range are rounded once more only.
#[inline(always)]
pub fn exp_dd(hi: f64, lo: f64) -> f64 {
    let (r, m, j) = exp_reduce(hi, lo);
    let [th, tl] = EXP2_TABLE[j];
    exp_finish(hi, r, m, th, tl)
}

/// The reduction of [`exp_dd`]: `(r, m, j)` with `hi + lo = (128 m + j) ln2/128 + r`
/// (`j < 128` the table index).
#[inline(always)]
pub fn exp_reduce(hi: f64, lo: f64) -> (f64, f64, usize) {
    let x = hi.clamp(-746.0, 710.0);
    let (n, t) = round_magic(x * INV_LN2_N);
    let r = ((x - n * LN2_N_HI) - n * LN2_N_LO) + lo;
    // j = n mod 128 (the low bits of t hold n + 2^51, a multiple of 128 apart), m = (n - j)/128.
    let jb = t.to_bits() & (EXP_N as u64 - 1);
    let jf = f64::from_bits(jb | TWO52_BITS) - TWO52;
    let m = (n - jf) * (1.0 / EXP_N as f64);
    (r, m, jb as usize)
}

/// The end of [`exp_dd`] from [`exp_reduce`]'s `r`, `m` and the table entry `th + tl`:
/// `2^m (th + (tl + th p(r)))`, NaN for a NaN `hi`.
#[inline(always)]
pub fn exp_finish(hi: f64, r: f64, m: f64, th: f64, tl: f64) -> f64 {
    let p = expm1_poly5(r);
    let s = th + (tl + th * p);
    let (m1, t1) = round_magic(m * 0.5);
    let t2 = (m - m1) + MAGIC;
    let v = (s * pow2_from_magic(t1)) * pow2_from_magic(t2);
    sel(hi.is_nan(), hi, v)
}

/// Values per chunk of the chunked row helpers ([`exp_chunk`], [`pow_fast_chunk`]).
const PASS: usize = 64;

/// `out[i] = finish(x[i], exp(yh + yl))`, `(yh, yl) = arg(x[i])`, in three passes per 64
/// values: the arguments and their reductions ([`exp_reduce`]), the table look-ups (a loop of
/// loads on its own, so that the arithmetic passes vectorise whether or not the instruction
/// set has a fast gather) and the polynomials ([`exp_finish`]). The bits of
/// `finish(x, exp_dd(arg(x)))`. Inline into a dispatched row kernel.
#[inline(always)]
pub fn exp_of_chunk(
    x: &[f64],
    out: &mut [f64],
    arg: impl Fn(f64) -> (f64, f64),
    finish: impl Fn(f64, f64) -> f64,
) {
    let mut yh = [0.0; PASS];
    let mut r = [0.0; PASS];
    let mut m = [0.0; PASS];
    let mut j = [0usize; PASS];
    let mut th = [0.0; PASS];
    let mut tl = [0.0; PASS];
    for (xc, oc) in x.chunks(PASS).zip(out.chunks_mut(PASS)) {
        let n = xc.len();
        let oc = &mut oc[..n];
        for i in 0..n {
            let (h, l) = arg(xc[i]);
            yh[i] = h;
            (r[i], m[i], j[i]) = exp_reduce(h, l);
        }
        table_pass(&j[..n], &mut th[..n], &mut tl[..n]);
        for i in 0..n {
            oc[i] = finish(xc[i], exp_finish(yh[i], r[i], m[i], th[i], tl[i]));
        }
    }
}

/// `out[i] = exp(x[i])` ([`exp_of_chunk`]).
#[inline(always)]
pub fn exp_chunk(x: &[f64], out: &mut [f64]) {
    exp_of_chunk(x, out, |v| (v, 0.0), |_, e| e);
}

/// `th[i] + tl[i] = 2^(j[i]/128)` ([`EXP2_TABLE`]).
#[inline(always)]
fn table_pass(j: &[usize], th: &mut [f64], tl: &mut [f64]) {
    for ((&j, h), l) in j.iter().zip(th.iter_mut()).zip(tl.iter_mut()) {
        [*h, *l] = EXP2_TABLE[j & (EXP_N - 1)];
    }
}

/// `e^x`: within 1 ulp; 0 below `-745.13`, `inf` above `709.78`, NaN for NaN.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    exp_dd(x, 0.0)
}

/// `e^x - 1` with full relative accuracy near 0: within 1 ulp; `-1` below `-37.5`, `inf`
/// above `709.78`, NaN for NaN.
#[inline(always)]
pub fn expm1(x: f64) -> f64 {
    let xc = x.clamp(-60.0, 710.0);
    let (n, _) = round_magic(xc * LOG2_E);
    // r + c = x - n ln 2 to about 2^-85 (c: the rounding error of r).
    let (r, c) = two_sum(xc - n * LN2_HI, -(n * LN2_LO));
    let t = expm1_tail(r);
    let s = pow2(n - 1.0);
    // 2^n (1 + r + c + t) - 1 = 2 ((2^(n-1) - 1/2) + 2^(n-1) r + 2^(n-1) (t + c)): the first
    // two terms summed exactly, so the cancellation for n = 1 and r < 0 costs nothing.
    let (h, l) = two_sum(s - 0.5, s * r);
    let v = 2.0 * (h + (l + s * (t + c)));
    // n = 0: r + t itself (keeps subnormal arguments, which the halving above would round).
    let v = sel(n == 0.0, r + t, v);
    sel(x.is_nan(), x, v)
}

/// `a + b = s + e` exactly (Knuth's two-sum).
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// `a + b = s + e` exactly when `|a| >= |b|` (or `a = 0`).
#[inline(always)]
fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// Dekker's split of `a` into two 26-bit halves.
#[inline(always)]
fn split(a: f64) -> (f64, f64) {
    let c = SPLITTER * a;
    let hi = c - (c - a);
    (hi, a - hi)
}

/// `a b = p + e` exactly (Dekker's product, no FMA), for `|a|, |b| < 2^995`.
#[inline(always)]
pub fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let e = (((ah * bh - p) + ah * bl) + al * bh) + al * bl;
    (p, e)
}

/// `1/d` to a relative `1e-6` for `d` in `[1.70, 2.42]`, without a division: the chord of
/// `1/d` through the interval ends (relative error below 3.1 %), then two Newton steps
/// `r <- r (2 - d r)` (each squares the error).
#[inline(always)]
fn recip_near_2(d: f64) -> f64 {
    const A: f64 = 2.0 - (1.0 - std::f64::consts::FRAC_1_SQRT_2);
    const B: f64 = 1.0 + SQRT2;
    let r = ((A + B) - d) * (1.0 / (A * B));
    let r = r * (2.0 - d * r);
    r * (2.0 - d * r)
}

/// `ln x = hi + lo` (relative error about `2^-59`) for finite `x > 0`, subnormals included.
/// Other arguments give meaningless values (the callers select the special values).
#[inline(always)]
pub fn ln_dd(x: f64) -> (f64, f64) {
    let sub = x < f64::MIN_POSITIVE;
    let xs = sel(sub, x * TWO54, x);
    let bits = xs.to_bits();
    // Biased exponent as a double, then the mantissa in [1, 2).
    let e = f64::from_bits((bits >> 52) | TWO52_BITS) - EXP_BIAS_F;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let big = m > SQRT2;
    let m = sel(big, m * 0.5, m);
    let k = (e - sel(sub, 54.0, 0.0)) + sel(big, 1.0, 0.0);
    let f = m - 1.0;
    // s = f / (2 + f) as a double-double.
    let d_hi = 2.0 + f;
    let d_lo = f - (d_hi - 2.0);
    let s = f / d_hi;
    let (p_hi, p_lo) = two_prod(s, d_hi);
    // The correction needs 1/d_hi to a few bits only (it is below ulp(s)): the chord of 1/d on
    // [2 - (1 - sqrt(1/2)), 1 + sqrt(2)] (3 %) and two Newton steps (1e-6), not a division.
    let inv = recip_near_2(d_hi);
    let s_lo = (((f - p_hi) - p_lo) - s * d_lo) * inv;
    let z = s * s;
    let r = z * horner(z, &LG);
    let (hi, e1) = two_sum(k * LN2_HI, 2.0 * s);
    let lo = e1 + (k * LN2_LO + (2.0 * s_lo + s * r));
    fast_two_sum(hi, lo)
}

/// `ln` of the arguments [`ln_dd`] does not cover: `-inf` at 0, `inf` at `inf`, NaN below 0
/// and for NaN.
#[inline(always)]
fn ln_special(x: f64) -> f64 {
    sel(
        x == 0.0,
        f64::NEG_INFINITY,
        sel(x == f64::INFINITY, x, f64::NAN),
    )
}

/// Natural logarithm: within 1 ulp (nearly always correctly rounded: the high part of
/// [`ln_dd`]); `-inf` at 0, NaN below 0.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    let (hi, _) = ln_dd(x);
    sel(x > 0.0 && x < f64::INFINITY, hi, ln_special(x))
}

/// Natural logarithm with one division (against two in [`ln`]): within 1 ulp, not always
/// correctly rounded; `-inf` at 0, NaN below 0.
///
/// fdlibm's `log` without its branches and with one division: `x = 2^k m`,
/// `m in [sqrt(1/2), sqrt(2))`, `f = m - 1`, `s = f / (2 + f)`, `R = s^2 (LG1 + ... )` and
/// `ln x = k ln2_hi - ((s (f - R) - k ln2_lo) - f)` everywhere (fdlibm switches to the form
/// with `f^2 / 2` where the mantissa is near `sqrt(2)`; without it the error there is
/// 0.95 ulp instead of 0.89, asserted below 1 ulp by the tests, for a quarter fewer
/// operations).
#[inline(always)]
pub fn ln_fast(x: f64) -> f64 {
    let (kh, t) = ln_fast_parts(x);
    sel(x > 0.0 && x < f64::INFINITY, kh + t, ln_special(x))
}

/// `out[i] = ln_fast(x[i])` for a chunk, skipping the subnormal scaling and the special
/// values when every argument is normal and finite (`f64::MIN_POSITIVE <= x < inf`, the
/// usual chunk of densities); each value is the one [`ln_fast`] gives, so the bits do not
/// depend on the chunk. Inline into a dispatched row kernel.
#[inline(always)]
pub fn ln_fast_chunk(x: &[f64], out: &mut [f64]) {
    let out = &mut out[..x.len()];
    let mut all_normal = true;
    for &v in x {
        all_normal &= (f64::MIN_POSITIVE..f64::INFINITY).contains(&v);
    }
    if all_normal {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = ln_fast_normal(v);
        }
    } else {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = ln_fast(v);
        }
    }
}

/// [`ln_fast`] for a normal, finite `x > 0` (`f64::MIN_POSITIVE <= x < inf`), with its bits
/// there; without the subnormal scaling and the special values (meaningless elsewhere).
#[inline(always)]
pub fn ln_fast_normal(x: f64) -> f64 {
    let (kh, t) = ln_fast_parts_scaled(x, false);
    kh + t
}

/// `(k ln2_hi, t)` with `ln x = k ln2_hi + t` for finite `x > 0` (the last addition of
/// [`ln_fast`] not done; `k ln2_hi` is exact, `|t| < 0.35` accurate to about `2^-53`
/// absolute). Other arguments give meaningless values.
#[inline(always)]
fn ln_fast_parts(x: f64) -> (f64, f64) {
    ln_fast_parts_scaled(x, x < f64::MIN_POSITIVE)
}

/// [`ln_fast_parts`] with the subnormal test `sub = x < f64::MIN_POSITIVE` given (`false`
/// where the caller knows `x` is normal: the scaling then folds away, same bits).
#[inline(always)]
fn ln_fast_parts_scaled(x: f64, sub: bool) -> (f64, f64) {
    let xs = sel(sub, x * TWO54, x);
    let bits = xs.to_bits();
    let e = f64::from_bits((bits >> 52) | TWO52_BITS) - EXP_BIAS_F;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let big = m > SQRT2;
    let m = sel(big, m * 0.5, m);
    let k = (e - sel(sub, 54.0, 0.0)) + sel(big, 1.0, 0.0);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG[1] + w * (LG[3] + w * LG[5]));
    let t2 = z * (LG[0] + w * (LG[2] + w * (LG[4] + w * LG[6])));
    let r = t2 + t1;
    (k * LN2_HI, -((s * (f - r) - k * LN2_LO) - f))
}

/// `ln(1 + y)` with full relative accuracy near 0: within 1 ulp; `-inf` at `-1`, NaN below.
#[inline(always)]
pub fn log1p(y: f64) -> f64 {
    let u = 1.0 + y;
    let c = y - (u - 1.0);
    let (hi, lo) = ln_dd(u);
    let v = hi + (lo + c / u);
    sel(u > 0.0 && u < f64::INFINITY, v, ln_special(u))
}

/// `ln(1 + w)` with `w = k` for `0 <= k <= 1` and `w = 1/k` for `k > 1` (0 at `k = inf`),
/// with one division and without forming `1/k`: `ln(1 + w) = j ln 2 + 2 atanh(s)`,
/// `s = ((1 + w)/2^j - 1) / ((1 + w)/2^j + 1)`, `j = [w > sqrt(2) - 1]`:
///
/// ```text
///              j = 0                 j = 1
/// k <= 1       s = k / (2 + k)       s = (k - 1) / (k + 3)
/// k > 1        s = 0.5 / (k + 0.5)   s = (1 - k) / (1 + 3k)
/// ```
///
/// and `2 atanh(s) = 2s + s R(s^2)` with fdlibm's `log` polynomial (`|s| <= 0.172`). Within
/// 2 ulp of `ln(1 + w)` (relative, so `ln(1 + 1/k)` keeps its digits for huge `k`). This is
/// what `Phi'` needs (the two branches of [`crate::physics::phi_prime_from`]). NaN for NaN.
/// Below [`LN1P_SMALL`] [`ln1p_fold`] selects the division-free [`ln1p_small`] instead.
#[inline(always)]
pub fn ln1p_fold_general(k: f64) -> f64 {
    let big = k > 1.0;
    let j = (big && k < 1.0 + SQRT2) || (!big && k > SQRT2 - 1.0);
    let num = sel(big, sel(j, 1.0 - k, 0.5), sel(j, k - 1.0, k));
    let den = sel(
        big,
        sel(j, 1.0 + 3.0 * k, k + 0.5),
        sel(j, k + 3.0, 2.0 + k),
    );
    let s = num / den;
    let z = s * s;
    let r = z * horner(z, &LG);
    let jf = sel(j, 1.0, 0.0);
    jf * LN2_HI + (2.0 * s + (s * r + jf * LN2_LO))
}

/// Below this [`ln1p_fold`] is the Taylor polynomial [`ln1p_small`] (`2^-8`).
pub const LN1P_SMALL: f64 = 0.003_906_25;

/// `ln(1 + k)` for `0 <= k <= 2^-8` by its Taylor polynomial to degree 7,
/// `k + k^2 (-1/2 + k (1/3 + k (-1/4 + k (1/5 + k (-1/6 + k/7)))))` (truncation below `2^-59`
/// relative; the correction term is below `2^-9 k`, so its rounding is far below an ulp):
/// within 1 ulp, no division; exact for subnormal `k`.
#[inline(always)]
pub fn ln1p_small(k: f64) -> f64 {
    let p = -1.0 / 6.0 + k * (1.0 / 7.0);
    let p = 0.2 + k * p;
    let p = -0.25 + k * p;
    let p = 1.0 / 3.0 + k * p;
    let p = -0.5 + k * p;
    k + (k * k) * p
}

/// `ln(1 + w)`, `w = k` for `0 <= k <= 1` and `w = 1/k` for `k > 1` (0 at `k = inf`; NaN for
/// NaN): [`ln1p_small`] below [`LN1P_SMALL`], [`ln1p_fold_general`] above (both computed, one
/// selected); within 2 ulp. A chunk of arguments all below [`LN1P_SMALL`] may skip the
/// general branch, one with none below it the Taylor branch ([`ln1p_fold_chunk`]), with the
/// same bits.
#[inline(always)]
pub fn ln1p_fold(k: f64) -> f64 {
    sel(k < LN1P_SMALL, ln1p_small(k), ln1p_fold_general(k))
}

/// `out[i] = ln1p_fold(k[i])` for a chunk, skipping the general branch (and its division)
/// when every argument is below [`LN1P_SMALL`] and the Taylor branch when none is; each
/// value is the one [`ln1p_fold`] selects, so the bits do not depend on the chunk. Inline
/// into a dispatched row kernel.
#[inline(always)]
pub fn ln1p_fold_chunk(k: &[f64], out: &mut [f64]) {
    let out = &mut out[..k.len()];
    let (mut all_small, mut any_small) = (true, false);
    for &v in k {
        let small = v < LN1P_SMALL;
        all_small &= small;
        any_small |= small;
    }
    macro_rules! each {
        ($f:path) => {
            for (o, &v) in out.iter_mut().zip(k) {
                *o = $f(v);
            }
        };
    }
    match (all_small, any_small) {
        (true, _) => each!(ln1p_small),
        (false, false) => each!(ln1p_fold_general),
        (false, true) => each!(ln1p_fold),
    }
}

/// `x^g` for `x >= 0` (NaN for `x < 0`): within 2 ulp; `0^g` is 0 for `g > 0`, 1 for `g = 0`.
#[inline(always)]
pub fn pow(x: f64, g: f64) -> f64 {
    let (yh, yl) = pow_log(x, g);
    pow_special(x, g, exp_dd(yh, yl))
}

/// `g ln x = yh + yl` for [`pow`] (the double-double `ln` times `g`, Dekker's product).
#[inline(always)]
fn pow_log(x: f64, g: f64) -> (f64, f64) {
    let (lh, ll) = ln_dd(x);
    let (yh, yl) = two_prod(g, lh);
    (yh, yl + g * ll)
}

/// `x^g = exp(g ln x)` for `x >= 0` with the one-division `ln` of [`ln_fast`] and the
/// table-driven [`exp_dd`]: `ln x = k ln2_hi + t` (the parts of [`ln_fast`] before its last
/// addition), `g k ln2_hi` exactly as a double-double (Dekker's product), `g t` rounded, the
/// sum renormalised (two-sum) and passed to [`exp_dd`] ([`pow_fast_log`] then
/// [`pow_fast_exp`]; a row runs them as two passes, [`pow_fast_chunk`]).
/// The error of `t` (about `2^-53` absolute) times `g` is the relative error of the result:
/// within `1 + g` ulp for `0 < g <= 8` whatever `|g ln x|` (the test asserts it over the whole
/// range), against 2 ulp for [`pow`] at twice the cost. Special values as [`pow`]: `0^g` is 0
/// for `g > 0`, 1 for `g = 0`; results below `2^-1075` are 0.
#[inline(always)]
pub fn pow_fast(x: f64, g: f64) -> f64 {
    let (yh, yl) = pow_fast_log(x, g);
    pow_fast_exp(x, g, yh, yl)
}

/// The first half of [`pow_fast`]: `g ln x = yh + yl` (meaningless unless `0 < x < inf`).
#[inline(always)]
pub fn pow_fast_log(x: f64, g: f64) -> (f64, f64) {
    let (kh, t) = ln_fast_parts(x);
    let (ph, pl) = two_prod(g, kh);
    let (yh, yl) = two_sum(ph, g * t);
    (yh, yl + pl)
}

/// The second half of [`pow_fast`]: `exp(yh + yl)` and the special values of `x`.
#[inline(always)]
pub fn pow_fast_exp(x: f64, g: f64, yh: f64, yl: f64) -> f64 {
    pow_special(x, g, exp_dd(yh, yl))
}

/// `v` (`x^g` computed for `0 < x < inf`) or the special value of `x^g` for other `x`.
#[inline(always)]
fn pow_special(x: f64, g: f64, v: f64) -> f64 {
    let zero = sel(g > 0.0, 0.0, sel(g == 0.0, 1.0, f64::INFINITY));
    let inf = sel(g > 0.0, f64::INFINITY, sel(g == 0.0, 1.0, 0.0));
    sel(
        x > 0.0 && x < f64::INFINITY,
        v,
        sel(x == 0.0, zero, sel(x == f64::INFINITY, inf, f64::NAN)),
    )
}

/// `out[i] = pow_fast(x[i], g)` by [`exp_of_chunk`] (passes over 64 values: the logarithms
/// with the reductions of the exponentials, the table look-ups, the polynomials with the
/// special values). The bits of [`pow_fast`]. Inline into a dispatched row kernel.
#[inline(always)]
pub fn pow_fast_chunk(x: &[f64], g: f64, out: &mut [f64]) {
    exp_of_chunk(x, out, |v| pow_fast_log(v, g), |v, e| pow_special(v, g, e));
}

/// `out[i] = pow(x[i], g)` by [`exp_of_chunk`]. The bits of [`pow`].
#[inline(always)]
pub fn pow_chunk(x: &[f64], g: f64, out: &mut [f64]) {
    exp_of_chunk(x, out, |v| pow_log(v, g), |v, e| pow_special(v, g, e));
}

/// Below this the Bernoulli function is its short polynomial ([`bernoulli_small`],
/// [`bernoulli_small_pair`]).
pub const BERNOULLI_SMALL: f64 = 0.25;

/// Below this (and above [`BERNOULLI_SMALL`]) the Bernoulli function is its long Taylor
/// polynomial ([`bernoulli_poly`]), above it `a / expm1(a)`.
pub const BERNOULLI_POLY: f64 = 1.0;

/// `B_2k / (2k)!`, `k = 1..=11`: `B(a) = 1 - a/2 + sum_k B_2k a^2k / (2k)!` (radius `2 pi`).
const BERNOULLI_TAYLOR: [f64; 11] = [
    8.333_333_333_333_333e-2,
    -1.388_888_888_888_889e-3,
    3.306_878_306_878_307e-5,
    -8.267_195_767_195_768e-7,
    2.087_675_698_786_81e-8,
    -5.284_190_138_687_493e-10,
    1.338_253_653_068_467_9e-11,
    -3.389_680_296_322_582_7e-13,
    8.586_062_056_277_845e-15,
    -2.174_868_698_558_062e-16,
    5.509_002_828_360_229_5e-18,
];

/// `Q` of [`bernoulli_small_pair`] on `0 <= t <= 1/16`: the Taylor coefficients
/// `B_2k / (2k)!`, `k = 1..=6`, economised to degree 4 (the `t^5` term replaced by its
/// Chebyshev projection on `[0, 1/16]`): `t Q(t)` within `1e-19` of the Taylor series.
const BERNOULLI_SMALL_Q: [f64; 5] = [
    8.333_333_333_333_333e-2,
    -1.388_888_888_888_101_4e-3,
    3.306_878_296_799_514e-5,
    -8.267_150_614_203_859e-7,
    2.079_419_151_695_111e-8,
];

/// `(B(z), B(-z)) = (1 + (w - z/2), 1 + (w + z/2))` for `|z| <` [`BERNOULLI_SMALL`], with
/// `w = t Q(t)`, `t = z^2` (`BERNOULLI_SMALL_Q`, Horner), since `B(z) + z/2 = 1 + w` is even:
/// no `|z|`, no select, mirror-symmetric bits (the pair of `-z` is the pair of `z` swapped),
/// and one rounding near 1 (within 0.7 ulp).
#[inline(always)]
pub fn bernoulli_small_pair(z: f64) -> (f64, f64) {
    let t = z * z;
    let w = t * horner(t, &BERNOULLI_SMALL_Q);
    let half = 0.5 * z;
    (1.0 + (w - half), 1.0 + (w + half))
}

/// `B(a)` for `0 <= a < 1/4`: the first of [`bernoulli_small_pair`] (no division, no
/// exponential).
#[inline(always)]
pub fn bernoulli_small(a: f64) -> f64 {
    bernoulli_small_pair(a).0
}

/// `c[0] + t (c[1] + t (c[2] + ...))`.
#[inline(always)]
fn horner(t: f64, c: &[f64]) -> f64 {
    let (last, rest) = c.split_last().expect("a polynomial has a coefficient");
    let mut q = *last;
    for &ci in rest.iter().rev() {
        q = ci + t * q;
    }
    q
}

/// `B(a)` for `0 <= a <= 1` by its Taylor polynomial `1 + a (-1/2 + a Q(a^2))`,
/// `Q(t) = sum_k B_2k t^(k-1) / (2k)!` to `k = 11` (truncation below `2^-57` relative at
/// `a = 1`): no division, no exponential.
#[inline(always)]
pub fn bernoulli_poly(a: f64) -> f64 {
    let q = horner(a * a, &BERNOULLI_TAYLOR);
    1.0 + a * (-0.5 + a * q)
}

/// `B(a) = a / expm1(a)` for `a >= 1` (the last branch of [`bernoulli`]): 0 once `expm1`
/// overflows (`a > 709.78`) and at `inf`.
#[inline(always)]
pub fn bernoulli_large(a: f64) -> f64 {
    let e = expm1(a);
    sel(e == f64::INFINITY, 0.0, a / e)
}

/// `B(a)` for `0 <= a < 1`: [`bernoulli_small`] below [`BERNOULLI_SMALL`],
/// [`bernoulli_poly`] above (both computed, one selected).
#[inline(always)]
pub fn bernoulli_below_one(a: f64) -> f64 {
    sel(a < BERNOULLI_SMALL, bernoulli_small(a), bernoulli_poly(a))
}

/// `B(a) = a / expm1(a)` for `a >= 0`, three branches, all computed, one selected:
/// [`bernoulli_small`] below [`BERNOULLI_SMALL`] (1 at 0), [`bernoulli_poly`] below
/// [`BERNOULLI_POLY`], [`bernoulli_large`] above (0 once `expm1` overflows, `a > 709.78`, and
/// at `inf`). `B(-a) = B(a) + a`. A chunk of arguments may skip the branches none of them
/// selects ([`bernoulli_chunk`]) with the same bits.
#[inline(always)]
pub fn bernoulli(a: f64) -> f64 {
    sel(
        a < BERNOULLI_SMALL,
        bernoulli_small(a),
        bernoulli_above_small(a),
    )
}

/// `B(a)` for `a >=` [`BERNOULLI_SMALL`]: [`bernoulli_poly`] below [`BERNOULLI_POLY`],
/// [`bernoulli_large`] above (both computed, one selected), the value [`bernoulli`] selects
/// there; below [`BERNOULLI_SMALL`] a value of no use (for a caller that takes its own
/// branch there: [`bernoulli_small_pair`]).
#[inline(always)]
pub fn bernoulli_above_small(a: f64) -> f64 {
    sel(a < BERNOULLI_POLY, bernoulli_poly(a), bernoulli_large(a))
}

/// `out[i] = bernoulli_above_small(a[i])` for a chunk, without [`bernoulli_large`] when every
/// argument is below [`BERNOULLI_POLY`] (the same bits). Inline into a dispatched row kernel.
#[inline(always)]
pub fn bernoulli_above_small_chunk(a: &[f64], out: &mut [f64]) {
    let out = &mut out[..a.len()];
    let mut all_below_one = true;
    for &v in a {
        all_below_one &= v < BERNOULLI_POLY;
    }
    if all_below_one {
        for (o, &v) in out.iter_mut().zip(a) {
            *o = bernoulli_poly(v);
        }
    } else {
        for (o, &v) in out.iter_mut().zip(a) {
            *o = bernoulli_above_small(v);
        }
    }
}

/// `out[i] = bernoulli(a[i])` for a chunk, evaluating only the branches the chunk needs: all
/// arguments below [`BERNOULLI_SMALL`] ([`bernoulli_small`] alone), all below
/// [`BERNOULLI_POLY`] ([`bernoulli_below_one`]), or any (all three). Each value is still the
/// one [`bernoulli`] selects for its own argument, so the bits do not depend on the chunk.
/// Inline into a dispatched row kernel.
#[inline(always)]
pub fn bernoulli_chunk(a: &[f64], out: &mut [f64]) {
    let out = &mut out[..a.len()];
    let (mut all_small, mut all_below_one) = (true, true);
    for &v in a {
        all_small &= v < BERNOULLI_SMALL;
        all_below_one &= v < BERNOULLI_POLY;
    }
    if all_small {
        for (o, &v) in out.iter_mut().zip(a) {
            *o = bernoulli_small(v);
        }
    } else if all_below_one {
        for (o, &v) in out.iter_mut().zip(a) {
            *o = bernoulli_below_one(v);
        }
    } else {
        for (o, &v) in out.iter_mut().zip(a) {
            *o = bernoulli(v);
        }
    }
}

#[cfg(test)]
mod tests;
