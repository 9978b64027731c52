//! Row kernels of the flux families: per-cell values of a span of cells and face rates of a
//! row of faces, compiled for every CPU level ([`crate::simd::dispatched!`]) and giving the bits
//! of the per-cell / per-face scalar methods ([`Family::aux`], [`Family::rates`]), which call
//! the same `#[inline(always)]` pieces.
//!
//! Work is done in chunks of [`CHUNK`] cells with stack buffers (no allocation): a pass that
//! reads the array-of-structs per-cell values into contiguous arguments, one that runs the
//! vector math over them, and one that writes the results. A cell's result does not depend on
//! the chunk or vector it falls in.
//!
//! [`Family::aux`]: super::Family::aux
//! [`Family::rates`]: super::Family::rates

use super::{Power, Sg, SgAux};
use crate::simd::{dispatched, math};

/// Cells per chunk of the row kernels.
pub const CHUNK: usize = 64;

/// `out[i] = f[i]^gamma` with the exponent class hoisted out of the loop (the arithmetic of
/// [`Power::eval`]).
#[inline(always)]
pub fn power_row(power: Power, f: &[f64], out: &mut [f64]) {
    macro_rules! run {
        ($pow:expr) => {
            for (o, &v) in out.iter_mut().zip(f) {
                *o = $pow(v)
            }
        };
    }
    match power {
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
        Power::General(g) => run!(|v: f64| math::pow(v, g)),
        other => run!(|v: f64| other.eval(v)),
    }
}

dispatched! {
    /// `aux[i] = kappa f[i]^gamma` (the `upwind` per-cell value).
    pub fn upwind_aux(power: Power, kappa: f64, f: &[f64], aux: &mut [f64]) {
        let aux = &mut aux[..f.len()];
        power_row(power, f, aux);
        for a in aux.iter_mut() {
            *a *= kappa;
        }
    }
}

dispatched! {
    /// `aux[i] = Sg::aux(f[i], f[i]^gamma)`.
    pub fn sg_aux(k: Sg, f: &[f64], aux: &mut [SgAux]) {
        for (fc, ac) in f.chunks(CHUNK).zip(aux.chunks_mut(CHUNK)) {
            let n = fc.len();
            let mut pw = [0.0; CHUNK];
            let mut ln = [0.0; CHUNK];
            let mut phi = [0.0; CHUNK];
            power_row(k.power, fc, &mut pw[..n]);
            for i in 0..n {
                pw[i] *= k.kappa;
                ln[i] = math::ln(fc[i]);
                phi[i] = k.phi_prime(ln[i], pw[i]);
            }
            for i in 0..n {
                ac[i] = SgAux {
                    ln_f: ln[i],
                    phi_prime: phi[i],
                    kappa_f_pow: pw[i],
                };
            }
        }
    }
}

dispatched! {
    /// `(kp[k], km[k]) = Sg::rates(x_f[k], fl[k], fr[k], al[k], ar[k])`.
    #[allow(clippy::too_many_arguments)]
    pub fn sg_rates(
        k: Sg,
        x_f: &[f64],
        fl: &[f64],
        fr: &[f64],
        al: &[SgAux],
        ar: &[SgAux],
        kp: &mut [f64],
        km: &mut [f64],
    ) {
        let n_all = x_f.len();
        let mut start = 0;
        while start < n_all {
            let n = CHUNK.min(n_all - start);
            let r = start..start + n;
            let (x_f, fl, fr, al, ar) = (&x_f[r.clone()], &fl[r.clone()], &fr[r.clone()], &al[r.clone()], &ar[r.clone()]);
            let (kp, km) = (&mut kp[r.clone()], &mut km[r]);
            let mut z = [0.0; CHUNK];
            let mut b = [0.0; CHUNK];
            for i in 0..n {
                z[i] = k.peclet(x_f[i], fl[i], fr[i], al[i], ar[i]);
            }
            for i in 0..n {
                b[i] = math::bernoulli(z[i].abs());
            }
            for i in 0..n {
                (kp[i], km[i]) = k.pair(z[i], b[i]);
            }
            start += n;
        }
    }
}
