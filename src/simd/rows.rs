//! The [`super::math`] kernels over whole slices, dispatched on the CPU's instruction set
//! ([`super::dispatched!`]): `out[i] = kernel(x[i])`. Every level gives the bits of the scalar
//! kernel.

use super::dispatched;
use super::math;

/// Arguments per chunk of the kernels that decide per chunk which branches to evaluate.
pub const CHUNK: usize = 64;

dispatched! {
    /// `out[i] = e^x[i]`, three passes per chunk ([`math::exp_chunk`]).
    pub fn exp(x: &[f64], out: &mut [f64]) {
        math::exp_chunk(x, out);
    }
}

dispatched! {
    /// `out[i] = e^x[i] - 1`.
    pub fn expm1(x: &[f64], out: &mut [f64]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = math::expm1(v);
        }
    }
}

dispatched! {
    /// `out[i] = ln x[i]`.
    pub fn ln(x: &[f64], out: &mut [f64]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = math::ln(v);
        }
    }
}

dispatched! {
    /// `out[i] = ln x[i]` ([`math::ln_fast`]: one division, within 1 ulp), by chunks of
    /// [`CHUNK`] ([`math::ln_fast_chunk`]: chunks of normal values skip the special cases).
    pub fn ln_fast(x: &[f64], out: &mut [f64]) {
        for (xc, oc) in x.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            math::ln_fast_chunk(xc, oc);
        }
    }
}

dispatched! {
    /// `out[i] = ln(1 + x[i])`.
    pub fn log1p(x: &[f64], out: &mut [f64]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = math::log1p(v);
        }
    }
}

dispatched! {
    /// `out[i] = ln(1 + w[i])`, `w[i] = k[i]` or `1 / k[i]`, whichever is at most 1, in chunks
    /// of [`CHUNK`] that skip the general branch when all their arguments are below
    /// [`math::LN1P_SMALL`] ([`math::ln1p_fold_chunk`]).
    pub fn ln1p_fold(k: &[f64], out: &mut [f64]) {
        for (o, v) in out.chunks_mut(CHUNK).zip(k.chunks(CHUNK)) {
            math::ln1p_fold_chunk(v, o);
        }
    }
}

dispatched! {
    /// `out[i] = x[i]^g` (`x[i] >= 0`).
    pub fn pow(x: &[f64], g: f64, out: &mut [f64]) {
        math::pow_chunk(x, g, out);
    }
}

dispatched! {
    /// `out[i] = x[i]^g` by [`math::pow_fast`] (`x[i] >= 0`), two passes per chunk
    /// ([`math::pow_fast_chunk`]).
    pub fn pow_fast(x: &[f64], g: f64, out: &mut [f64]) {
        math::pow_fast_chunk(x, g, out);
    }
}

dispatched! {
    /// `out[i] = B(a[i]) = a[i] / expm1(a[i])` (`a[i] >= 0`), in chunks of [`CHUNK`] that
    /// evaluate only the branches their arguments need ([`math::bernoulli_chunk`]).
    pub fn bernoulli(a: &[f64], out: &mut [f64]) {
        for (o, v) in out.chunks_mut(CHUNK).zip(a.chunks(CHUNK)) {
            math::bernoulli_chunk(v, o);
        }
    }
}
