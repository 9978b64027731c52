//! Row kernels of the flux families: per-cell values of a span of cells and face rates of a
//! row of faces, compiled for every CPU level ([`crate::simd::dispatched!`]) and giving the bits
//! of the per-cell / per-face scalar methods ([`Family::aux`], [`Family::rates`]), which call
//! the same `#[inline(always)]` pieces.
//!
//! Work is done in chunks of [`CHUNK`] cells with stack buffers (no allocation), in passes that
//! each vectorise: per cell, `kappa f^gamma` with the tests of the chunk's forms, then `ln f`,
//! `ln1p_fold` and `Phi'` in one pass storing the pairs ([`SgAux`]); per face, the differences
//! of those pairs across the face (plain loads), then one pass that takes a common chunk to its
//! rates or fluxes (no face in the equal-value limit of `G`, every `|Pe|` below 1/4: the short
//! Bernoulli pair), the chunk redone by the general passes otherwise. Each cell or face gets
//! the value its own arguments select, so a result does not depend on the chunk or vector it
//! falls in.
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
        Power::General(g) => math::pow_fast_chunk(f, g, out),
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
    /// The face fluxes from the face rates, in place: `flux[k] = k_plus f_l[k] - k_minus f_r[k]`
    /// with `k_plus = flux[k]`, `k_minus = spare[k]` on entry; `spare[k] = 0` on return (the
    /// second value of a flux, unused).
    pub fn flux_from_rates(f_l: &[f64], f_r: &[f64], flux: &mut [f64], spare: &mut [f64]) {
        let n = flux.len();
        let (f_l, f_r, spare) = (&f_l[..n], &f_r[..n], &mut spare[..n]);
        for k in 0..n {
            flux[k] = flux[k] * f_l[k] - spare[k] * f_r[k];
            spare[k] = 0.0;
        }
    }
}

dispatched! {
    /// `aux[i] = Sg::aux(f[i], f[i]^gamma)`: per chunk, `kappa f^gamma` and the two tests of
    /// the chunk forms in one pass, then `ln f`, `ln1p_fold(kappa f^gamma)` and `Phi'` in one
    /// pass that stores the pairs, in the form the chunk allows: [`math::ln_fast_normal`]
    /// where every `f` is normal ([`math::ln_fast_chunk`]'s test), [`math::ln1p_small`] where
    /// every `kappa f^gamma` is below [`math::LN1P_SMALL`] and [`math::ln1p_fold_general`]
    /// where none is ([`math::ln1p_fold_chunk`]'s tests: no division in a chunk of dilute
    /// cells, no Taylor branch in a chunk of dense ones). Each cell gets the value its own
    /// arguments select.
    pub fn sg_aux(k: Sg, f: &[f64], aux: &mut [SgAux]) {
        // One chunk buffer, zeroed once per call, not per chunk.
        let mut pw = [0.0; CHUNK];
        for (fc, ac) in f.chunks(CHUNK).zip(aux.chunks_mut(CHUNK)) {
            let n = fc.len();
            let (pw, ac) = (&mut pw[..n], &mut ac[..n]);
            power_row(k.power, fc, pw);
            let (mut all_normal, mut all_small, mut any_small) = (true, true, false);
            for i in 0..n {
                pw[i] *= k.kappa;
                all_normal &= (f64::MIN_POSITIVE..f64::INFINITY).contains(&fc[i]);
                let small = pw[i] < math::LN1P_SMALL;
                all_small &= small;
                any_small |= small;
            }
            macro_rules! cells {
                ($ln:path, $ln1p:path) => {
                    for i in 0..n {
                        let ln_f = $ln(fc[i]);
                        let phi_prime = k.phi_prime_from_fold(ln_f, pw[i], $ln1p(pw[i]));
                        ac[i] = SgAux { ln_f, phi_prime };
                    }
                };
            }
            match (all_normal, all_small, any_small) {
                (true, true, _) => cells!(math::ln_fast_normal, math::ln1p_small),
                (true, false, false) => cells!(math::ln_fast_normal, math::ln1p_fold_general),
                (true, false, true) => cells!(math::ln_fast_normal, math::ln1p_fold),
                (false, true, _) => cells!(math::ln_fast, math::ln1p_small),
                (false, false, false) => cells!(math::ln_fast, math::ln1p_fold_general),
                (false, false, true) => cells!(math::ln_fast, math::ln1p_fold),
            }
        }
    }
}

/// `(kp[k], km[k]) = Sg::rates(x_f[k], fl[k], fr[k], al[k], ar[k])`, or with `FLUX` the face
/// flux `kp[k] = k_plus fl[k] - k_minus fr[k]` (and `km[k] = 0`), the bits of
/// [`flux_from_rates`] after the rates, in the same pass. The body of [`sg_rates`] and
/// [`sg_fluxes`].
// A pure row kernel over seven slices (face coordinates, values and per-cell values on both
// sides, two outputs): the slices are the kernel's inputs.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sg_faces<const FLUX: bool>(
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
    // Chunk buffers zeroed once per call, not per chunk; three of them (the rims of an
    // overlapped pass call this for one or two faces a row, where zeroing would dominate):
    // the differences' buffers take |Pe| and B(|Pe|) once they are used up, and those of the
    // rare equal-value limit are zeroed only when it occurs.
    let mut z = [0.0; CHUNK];
    let (mut d_ln, mut d_phi) = ([0.0; CHUNK], [0.0; CHUNK]);
    while start < n_all {
        let n = CHUNK.min(n_all - start);
        let r = start..start + n;
        let (x_f, fl, fr, al, ar) = (
            &x_f[r.clone()],
            &fl[r.clone()],
            &fr[r.clone()],
            &al[r.clone()],
            &ar[r.clone()],
        );
        let (kp, km) = (&mut kp[r.clone()], &mut km[r]);
        // The differences first, in a pass of their own: every pair of per-cell values is
        // read (plain loads, no masked gathers), then the faces work on plain arrays.
        for i in 0..n {
            (d_ln[i], d_phi[i]) = Sg::differences(al[i], ar[i]);
        }
        // One pass for the common chunk, the short Bernoulli pair: no face in the
        // equal-value limit and every |Pe| below BERNOULLI_SMALL. Otherwise the chunk is
        // redone below; each face gets the value its own arguments select either way.
        let mut any_equal_limit = false;
        let mut all_small = true;
        for i in 0..n {
            let (g, equal_limit) = Sg::mean_g_of_differences(d_ln[i], d_phi[i], fl[i], fr[i]);
            any_equal_limit |= equal_limit;
            let zi = k.peclet_of_mean(x_f[i], g);
            z[i] = zi;
            let ai = zi.abs();
            all_small &= ai < math::BERNOULLI_SMALL;
            (kp[i], km[i]) = out::<FLUX>(k.scaled(math::bernoulli_small_pair(zi)), fl[i], fr[i]);
        }
        if any_equal_limit || !all_small {
            // The equal-value limit of G needs f^gamma on both sides: computed only for a
            // chunk that has such a face (rare: equal neighbours to 1e-9).
            if any_equal_limit {
                let (mut pow_l, mut pow_r) = ([0.0; CHUNK], [0.0; CHUNK]);
                power_row(k.power, fl, &mut pow_l[..n]);
                power_row(k.power, fr, &mut pow_r[..n]);
                for i in 0..n {
                    let (_, equal_limit) =
                        Sg::mean_g_of_differences(d_ln[i], d_phi[i], fl[i], fr[i]);
                    if equal_limit {
                        z[i] = k.peclet_of_mean(x_f[i], k.equal_limit(pow_l[i], pow_r[i]));
                    }
                }
            }
            let (a, b) = (&mut d_ln, &mut d_phi);
            let mut any_small = false;
            for i in 0..n {
                a[i] = z[i].abs();
                any_small |= a[i] < math::BERNOULLI_SMALL;
            }
            math::bernoulli_above_small_chunk(&a[..n], &mut b[..n]);
            if any_small {
                for i in 0..n {
                    (kp[i], km[i]) = out::<FLUX>(k.pair(z[i], b[i]), fl[i], fr[i]);
                }
            } else {
                // No face of the short pair: the pair of B(|z|) alone (the same bits).
                for i in 0..n {
                    let pair = k.scaled(Sg::bernoulli_pair_large(z[i], b[i]));
                    (kp[i], km[i]) = out::<FLUX>(pair, fl[i], fr[i]);
                }
            }
        }
        start += n;
    }
}

/// A face's two outputs of [`sg_faces`]: the rates, or the flux `k_plus f_l - k_minus f_r` and 0.
#[inline(always)]
fn out<const FLUX: bool>((k_plus, k_minus): (f64, f64), f_l: f64, f_r: f64) -> (f64, f64) {
    if FLUX {
        (k_plus * f_l - k_minus * f_r, 0.0)
    } else {
        (k_plus, k_minus)
    }
}

dispatched! {
    /// `(kp[k], km[k]) = Sg::rates(x_f[k], fl[k], fr[k], al[k], ar[k])`.
    // A pure row kernel over seven slices, as `sg_faces`.
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
        sg_faces::<false>(k, x_f, fl, fr, al, ar, kp, km);
    }
}

dispatched! {
    /// `flux[k] = k_plus fl[k] - k_minus fr[k]` with `(k_plus, k_minus) = Sg::rates(..)` of face
    /// `k`, `spare[k] = 0`: the bits of [`sg_rates`] followed by [`flux_from_rates`].
    // A pure row kernel over seven slices, as `sg_faces`.
    #[allow(clippy::too_many_arguments)]
    pub fn sg_fluxes(
        k: Sg,
        x_f: &[f64],
        fl: &[f64],
        fr: &[f64],
        al: &[SgAux],
        ar: &[SgAux],
        flux: &mut [f64],
        spare: &mut [f64],
    ) {
        sg_faces::<true>(k, x_f, fl, fr, al, ar, flux, spare);
    }
}

#[cfg(test)]
mod tests {
    use super::super::stage::{self, BlockGeometry, FaceRates, Scratch};
    use super::super::{FaceCoefficients, Family, Sg, Upwind};
    use crate::decomp::{Block, ProcessGrid};
    use crate::field::Field;
    use crate::mesh::Mesh;
    use crate::simd::{with_level, Level};

    /// A 45 x 45 field with every special case of the kernels: zeros (and zero neighbours),
    /// subnormal and underflowing values, equal neighbours (the equal-value limit of G),
    /// condensate values (kappa f^gamma > 1) and a smooth bump.
    fn field(mesh: &Mesh, block: &Block) -> Field {
        let mut f = Field::zeros(block.ny, block.nx);
        for j in 0..block.ny {
            for i in 0..block.nx {
                let [x, y] = mesh.cell_centre(j, i);
                let v = match (i + 3 * j) % 9 {
                    0 => 0.0,
                    1 => 5e-320,
                    2 => 1.0,
                    3 if i > 0 => f.get(j as isize, i as isize - 1),
                    4 => 40.0 * (-(x * x + y * y)).exp(),
                    5 => 1e-200,
                    _ => 3.0 * (-(x * x + y * y) / 2.0).exp() + 1e-3,
                };
                let k = f.index(j as isize, i as isize);
                f.raw_mut()[k] = v;
            }
        }
        f
    }

    /// Bits of one stage, the kept rates and the rate bound of `family` at `level`.
    fn stage_bits<F: Family>(family: F, level: Level) -> (Vec<u64>, Vec<u64>, u64) {
        let mesh = Mesh::new(2, 45, 6.0);
        let block = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
        let geom = BlockGeometry::new(&mesh, &block);
        let f = field(&mesh, &block);
        with_level(level, || {
            let mut scratch = Scratch::new(&f);
            let mut out = f.clone();
            let mut rates = FaceRates::new(block.ny, block.nx);
            stage::fill_aux_owned(&family, &f, &mut scratch.aux);
            let whole = geom.whole();
            stage::apply(&family, &geom, &f, &mut scratch, &mut out, &whole, 1e-3);
            let rate = stage::flux_rates(&family, &geom, &f, &mut scratch, &whole, &mut rates);
            let mut kept = Vec::new();
            for j in 0..block.ny {
                for i in 0..block.nx {
                    kept.extend(rates.outgoing(j, i).map(f64::to_bits));
                }
            }
            let bits = out.raw().iter().map(|v| v.to_bits()).collect();
            (bits, kept, rate.to_bits())
        })
    }

    /// A stage of `sg` (and of `upwind` with a general exponent) gives the same bits at every
    /// dispatch level, and the row kernels the bits of the per-cell / per-face methods.
    #[test]
    fn stage_bits_are_the_same_at_every_level() {
        let c = |gamma| FaceCoefficients {
            diffusion: 0.7,
            kappa: 1.3,
            gamma,
            h: 12.0 / 45.0,
        };
        for gamma in [2.0, 2.5, 2.3] {
            let sg = stage_bits(Sg::new(c(gamma)), Level::Baseline);
            let up = stage_bits(Upwind::new(c(gamma)), Level::Baseline);
            assert!(sg.0.iter().all(|&b| f64::from_bits(b).is_finite()));
            for level in [Level::Avx2, Level::Avx512] {
                assert!(
                    stage_bits(Sg::new(c(gamma)), level) == sg,
                    "sg {gamma} {level:?}"
                );
                assert!(
                    stage_bits(Upwind::new(c(gamma)), level) == up,
                    "upwind {level:?}"
                );
            }
        }
        // Rows against the per-cell and per-face methods.
        let sg = Sg::new(c(2.3));
        let mesh = Mesh::new(2, 45, 6.0);
        let block = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
        let f = field(&mesh, &block);
        let mut vals: Vec<f64> = f.raw().to_vec();
        // A dense stretch (every kappa f^gamma above 2^-8: whole chunks without the Taylor
        // branch of ln1p_fold; kappa f^gamma on both sides of 1).
        vals.extend((0..200).map(|k| 1.0 + 0.9 * (k as f64 * 0.21).sin()));
        // A dilute stretch (kappa f^gamma < 2^-8: whole chunks skip the division of
        // ln1p_fold) with small Peclet numbers (whole chunks of the short Bernoulli branch).
        vals.extend((0..300).map(|k| 1e-3 * (1.5 + (k as f64 * 0.37).sin())));
        for level in Level::ALL {
            with_level(level, || {
                let mut aux = vec![Default::default(); vals.len()];
                sg.aux_row(&vals, &mut aux);
                let n = vals.len() - 1;
                let xf: Vec<f64> = (0..n)
                    .map(|k| (k as f64 - 900.0) * if k + 299 < n { 0.013 } else { 1e-4 })
                    .collect();
                let (mut kp, mut km) = (vec![0.0; n], vec![0.0; n]);
                sg.rates_row(
                    &xf,
                    &vals[..n],
                    &vals[1..],
                    &aux[..n],
                    &aux[1..],
                    &mut kp,
                    &mut km,
                );
                // The fluxes in one pass: the rates' bits, then the flux.
                let (mut flux, mut spare) = (vec![0.0; n], vec![1.0; n]);
                sg.flux_row(
                    &xf,
                    &vals[..n],
                    &vals[1..],
                    &aux[..n],
                    &aux[1..],
                    &mut flux,
                    &mut spare,
                );
                for k in 0..n {
                    let expected = kp[k] * vals[k] - km[k] * vals[k + 1];
                    assert_eq!(flux[k].to_bits(), expected.to_bits(), "flux {k}");
                    assert_eq!(spare[k], 0.0);
                }
                for k in 0..n {
                    let a = sg.aux(vals[k], sg.power().eval(vals[k]));
                    assert_eq!(aux[k].ln_f.to_bits(), a.ln_f.to_bits(), "{k}");
                    assert_eq!(aux[k].phi_prime.to_bits(), a.phi_prime.to_bits(), "{k}");
                    let (p, m) = sg.rates(xf[k], vals[k], vals[k + 1], aux[k], aux[k + 1]);
                    assert_eq!(
                        (kp[k].to_bits(), km[k].to_bits()),
                        (p.to_bits(), m.to_bits())
                    );
                }
            });
        }
    }

    /// One stage's rate bound and update of `family` on `f`: (rate bits, field bits) of the
    /// rate pass followed by the evaluating update, of the fused pass on the whole block and
    /// of the fused pass over the interior and the rim regions.
    fn rate_and_update_bits<F: Family>(family: F, mesh: &Mesh, f: &Field) -> [(u64, Vec<u64>); 3] {
        let block = Block::new(mesh, ProcessGrid::single(), 0);
        let geom = BlockGeometry::new(mesh, &block);
        let mut scratch = Scratch::new(f);
        stage::fill_aux_owned(&family, f, &mut scratch.aux);
        stage::fill_aux_ghosts(&family, f, &mut scratch.aux);
        let bits = |g: &Field| g.raw().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let whole = geom.whole();
        let mut two = f.clone();
        let rate = stage::max_rate(&family, &geom, f, &mut scratch, &whole, None);
        stage::apply(&family, &geom, f, &mut scratch, &mut two, &whole, 1e-3);
        let mut one = f.clone();
        let fused =
            stage::max_rate_and_update(&family, &geom, f, &mut scratch, &whole, &mut one, 1e-3);
        let (interior, rim) = geom.split_interior_rim();
        let mut split = f.clone();
        let mut split_rate = 0.0f64;
        for region in std::iter::once(&interior).chain(&rim) {
            let r = stage::max_rate_and_update(
                &family,
                &geom,
                f,
                &mut scratch,
                region,
                &mut split,
                1e-3,
            );
            split_rate = split_rate.max(r);
        }
        [
            (rate.to_bits(), bits(&two)),
            (fused.to_bits(), bits(&one)),
            (split_rate.to_bits(), bits(&split)),
        ]
    }

    /// The fused rate-and-update pass of the second SSP-RK2 stage gives the bits of the rate
    /// pass followed by the update, in 2D and 3D, on the whole block and split into interior
    /// and rim (`sg` fused, `upwind` through its two-pass fallback).
    #[test]
    fn fused_rate_and_update_gives_the_bits_of_two_passes() {
        for (dim, n) in [(2, 45), (3, 13)] {
            let mesh = Mesh::new(dim, n, 6.0);
            let c = FaceCoefficients {
                diffusion: 0.7,
                kappa: 1.3,
                gamma: 2.3,
                h: mesh.h,
            };
            let mut f = Field::for_dim(dim, mesh.nz(), n, n);
            for k in 0..f.nz() {
                for j in 0..n {
                    for i in 0..n {
                        let r2 = [i, j, k]
                            .iter()
                            .map(|&m| (m as f64 - 6.0).powi(2))
                            .sum::<f64>();
                        let v = match (i + 3 * j + 5 * k) % 7 {
                            0 => 0.0,
                            1 => 5e-320,
                            2 => 40.0 * (-r2 / 4.0).exp(),
                            3 => 1e-200,
                            _ => 3.0 * (-r2 / 20.0).exp() + 1e-3,
                        };
                        let at = f.index3(k as isize, j as isize, i as isize);
                        f.raw_mut()[at] = v;
                    }
                }
            }
            let sg = rate_and_update_bits(Sg::new(c), &mesh, &f);
            assert!(sg[0].1.iter().all(|&b| f64::from_bits(b).is_finite()));
            assert!(sg[0].0 > 0);
            assert!(sg[1] == sg[0] && sg[2] == sg[0], "sg {dim}D");
            let up = rate_and_update_bits(Upwind::new(c), &mesh, &f);
            assert!(up[1] == up[0] && up[2] == up[0], "upwind {dim}D");
        }
    }
}
