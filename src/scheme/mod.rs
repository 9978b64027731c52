//! Two-point face fluxes in the single form
//!
//! ```text
//! F = k_plus f_L - k_minus f_R,     k_plus, k_minus >= 0,
//! ```
//!
//! `F` being the flux through the face in the +axis direction, `f_L` / `f_R` the values in the
//! cells below / above the face and `x_f` the face coordinate along the axis. The continuous flux
//! is `J = -D grad f - x f (1 + kappa f^gamma)`. This one form gives positivity, exact mass
//! conservation and the exact discrete time reversal (MODEL.md sections 4 and 6).
//!
//! Two families ([`SchemeKind`]):
//! * `upwind`: `k_plus = D/h + [x_f < 0] |x_f| (1 + kappa f_L^gamma)`,
//!   `k_minus = D/h + [x_f > 0] x_f (1 + kappa f_R^gamma)` (drift points to the origin, so the
//!   upwind cell is the outer one). First order.
//! * `sg`: well-balanced Scharfetter–Gummel, `G = (ln f_R - ln f_L) / (Phi'(f_R) - Phi'(f_L))`,
//!   `Pe = x_f h G / D`, `k_plus = (D/h) B(Pe)`, `k_minus = (D/h) B(-Pe)`, `B(z) = z / expm1(z)`.
//!   Second order; the nodal values of `f_beta` are exact discrete steady states.
//!
//! Each family splits its work into a per-cell part ([`Family::aux`], where `f^gamma` and
//! logarithms are computed once per cell) and a per-face part ([`Family::rates`]). Both also
//! come a row at a time ([`Family::aux_row`], [`Family::rates_row`]): the transcendentals
//! (`ln`, `log1p`, `pow`, the Bernoulli function) are the branch-free kernels of
//! [`crate::simd::math`], run over rows by the CPU-dispatched kernels of [`rows`], with the
//! same bits as the per-cell and per-face methods at every instruction-set level.

pub mod build;
pub mod face_rates;
pub mod geometry;
pub mod linear;
pub mod power;
pub mod rows;
pub mod stage;

pub use power::Power;

use crate::names::named_enum;
use crate::physics::phi_prime_from_fold;
use crate::simd::math;

named_enum! {
    /// The flux family, selected by `time.scheme` (`ALL`: tests iterate over every scheme).
    pub enum SchemeKind {
        /// Monotone upwind drift + central diffusion (first order, robust).
        Upwind = "upwind",
        /// Well-balanced Scharfetter–Gummel (exact discrete steady states).
        Sg = "sg",
    }
}

impl SchemeKind {
    /// Spatial order of accuracy.
    pub fn order(self) -> u32 {
        match self {
            SchemeKind::Upwind => 1,
            SchemeKind::Sg => 2,
        }
    }
}

/// Coefficients every family needs: `D`, `kappa`, `gamma` and the cell width `h`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceCoefficients {
    /// Diffusion `D`.
    pub diffusion: f64,
    /// Nonlinearity strength `kappa`.
    pub kappa: f64,
    /// Exponent `gamma`.
    pub gamma: f64,
    /// Cell width `h`.
    pub h: f64,
}

/// A flux family: per-cell auxiliary values and per-face rates.
pub trait Family: Copy + Send + Sync {
    /// What is precomputed per cell.
    type Aux: Copy + Default + Send + Sync;

    /// Per-cell values from `f` and `f^gamma` (the power is computed by the caller, once per
    /// cell, branch-free; see [`Power::for_each`]).
    fn aux(&self, f: f64, f_pow_gamma: f64) -> Self::Aux;

    /// `(k_plus, k_minus)` at a face at coordinate `x_f` between cells with values `f_l`, `f_r`.
    fn rates(&self, x_f: f64, f_l: f64, f_r: f64, l: Self::Aux, r: Self::Aux) -> (f64, f64);

    /// The rates used in the positivity time-step bound: `k_plus` is the rate at which the
    /// lower cell loses mass through this face, `k_minus` the upper cell's.
    fn dt_rates(&self, x_f: f64, f_l: f64, f_r: f64, l: Self::Aux, r: Self::Aux) -> (f64, f64);

    /// The exponent classification for [`Family::aux`].
    fn power(&self) -> Power;

    /// Whether [`Family::rates_row`] is worth calling (its face rates involve transcendentals);
    /// otherwise the face loops call [`Family::rates`] face by face, fused with their own work.
    const ROW_RATES: bool = false;

    /// `aux[i] = aux(f[i], f[i]^gamma)` for a span of cells (`aux` at least as long as `f`),
    /// with the same bits as [`Family::aux`].
    #[inline(always)]
    fn aux_row(&self, f: &[f64], aux: &mut [Self::Aux]) {
        let aux = &mut aux[..f.len()];
        self.power()
            .for_each(f, |i, v, v_pow| aux[i] = self.aux(v, v_pow));
    }

    /// `(kp[k], km[k]) = rates(x_f[k], f_l[k], f_r[k], l[k], r[k])` for a row of faces, with the
    /// same bits as [`Family::rates`].
    // A pure row kernel over seven slices (face coordinates, values and per-cell values on
    // both sides, two outputs): the slices are the kernel's inputs.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn rates_row(
        &self,
        x_f: &[f64],
        f_l: &[f64],
        f_r: &[f64],
        l: &[Self::Aux],
        r: &[Self::Aux],
        kp: &mut [f64],
        km: &mut [f64],
    ) {
        for k in 0..x_f.len() {
            (kp[k], km[k]) = self.rates(x_f[k], f_l[k], f_r[k], l[k], r[k]);
        }
    }

    /// `flux[k] = k_plus f_l[k] - k_minus f_r[k]` with the rates of [`Family::rates_row`], and
    /// `spare[k] = 0`: the face fluxes of a row, the bits of [`Family::rates_row`] followed by
    /// [`rows::flux_from_rates`] (a family may do both in one pass).
    // A pure row kernel over seven slices, as `rates_row`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn flux_row(
        &self,
        x_f: &[f64],
        f_l: &[f64],
        f_r: &[f64],
        l: &[Self::Aux],
        r: &[Self::Aux],
        flux: &mut [f64],
        spare: &mut [f64],
    ) {
        self.rates_row(x_f, f_l, f_r, l, r, flux, spare);
        rows::flux_from_rates(f_l, f_r, flux, spare);
    }

    /// Whether [`Family::dt_rates`] equals [`Family::rates`], so the rates of the time-step
    /// pass can be kept and reused by the update.
    const DT_RATES_ARE_FLUX_RATES: bool;

    /// Whether the face passes of [`stage`] compute the per-cell values themselves, a row at a
    /// time into row buffers ([`Family::aux_row`], the same bits), instead of reading the
    /// stored array: for a family whose per-cell values are costly and large (`sg`: three
    /// doubles and two logarithms per cell), this saves a pass over memory. Callers then need
    /// [`stage::fill_aux_owned`] / [`stage::fill_aux_ghosts`] only for other uses of the
    /// values (the implicit Jacobian).
    const AUX_IN_FACE_PASS: bool = false;

    /// `(dF/df_L, dF/df_R)` of the face flux `F = k_plus f_L - k_minus f_R` (rates included),
    /// for the Jacobian of the implicit stepper.
    fn flux_derivatives(
        &self,
        x_f: f64,
        f_l: f64,
        f_r: f64,
        l: Self::Aux,
        r: Self::Aux,
    ) -> (f64, f64);
}

/// Upwind drift + central diffusion. `Aux = kappa f^gamma`.
#[derive(Clone, Copy, Debug)]
pub struct Upwind {
    d_over_h: f64,
    kappa: f64,
    gamma: f64,
    power: Power,
}

impl Upwind {
    /// The family for these coefficients.
    pub fn new(c: FaceCoefficients) -> Self {
        Upwind {
            d_over_h: c.diffusion / c.h,
            kappa: c.kappa,
            gamma: c.gamma,
            power: Power::new(c.gamma),
        }
    }
}

impl Family for Upwind {
    type Aux = f64;
    const DT_RATES_ARE_FLUX_RATES: bool = false;

    #[inline(always)]
    fn aux(&self, _f: f64, f_pow_gamma: f64) -> f64 {
        self.kappa * f_pow_gamma
    }

    /// `k_plus = D/h + max(-x_f, 0) (1 + kappa f_L^gamma)`,
    /// `k_minus = D/h + max(x_f, 0) (1 + kappa f_R^gamma)`.
    #[inline(always)]
    fn rates(&self, x_f: f64, _f_l: f64, _f_r: f64, l: f64, r: f64) -> (f64, f64) {
        let inward_from_left = (-x_f).max(0.0);
        let inward_from_right = x_f.max(0.0);
        (
            self.d_over_h + inward_from_left * (1.0 + l),
            self.d_over_h + inward_from_right * (1.0 + r),
        )
    }

    /// As [`Family::rates`] with the mobility derivative `M'(f)/f`-factor
    /// `1 + (1 + gamma) kappa f^gamma` in place of `1 + kappa f^gamma` (MODEL.md section 5:
    /// without it the explicit upwind scheme oscillates).
    #[inline(always)]
    fn dt_rates(&self, x_f: f64, _f_l: f64, _f_r: f64, l: f64, r: f64) -> (f64, f64) {
        let g1 = 1.0 + self.gamma;
        (
            self.d_over_h + (-x_f).max(0.0) * (1.0 + g1 * l),
            self.d_over_h + x_f.max(0.0) * (1.0 + g1 * r),
        )
    }

    fn power(&self) -> Power {
        self.power
    }

    fn aux_row(&self, f: &[f64], aux: &mut [f64]) {
        rows::upwind_aux(self.power, self.kappa, f, aux);
    }

    /// `F = D/h (f_L - f_R) + max(-x_f, 0) M(f_L) - max(x_f, 0) M(f_R)`, `M(f) = f (1 + kappa f^gamma)`:
    /// `dF/df_L = D/h + max(-x_f, 0) M'(f_L)`, `dF/df_R = -(D/h + max(x_f, 0) M'(f_R))`, with
    /// `M'(f) = 1 + (1 + gamma) kappa f^gamma`.
    #[inline(always)]
    fn flux_derivatives(&self, x_f: f64, _f_l: f64, _f_r: f64, l: f64, r: f64) -> (f64, f64) {
        let g1 = 1.0 + self.gamma;
        (
            self.d_over_h + (-x_f).max(0.0) * (1.0 + g1 * l),
            -(self.d_over_h + x_f.max(0.0) * (1.0 + g1 * r)),
        )
    }
}

/// Per-cell values of the Scharfetter–Gummel family: the two logarithms every face reads.
/// `kappa f^gamma`, which only the equal-value limit of [`Sg`]'s mean `G` needs, is not kept
/// (two doubles a cell instead of three: the face row kernels read them as pairs); the faces
/// that take that limit recompute it from `f`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SgAux {
    /// `ln f` (`-inf` for `f = 0`).
    pub ln_f: f64,
    /// `Phi'(f)`, evaluated stably (see [`crate::physics::phi_prime_from`]).
    pub phi_prime: f64,
}

/// Well-balanced Scharfetter–Gummel family.
#[derive(Clone, Copy, Debug)]
pub struct Sg {
    d_over_h: f64,
    h_over_d: f64,
    kappa: f64,
    inv_gamma: f64,
    ln_kappa: f64,
    power: Power,
}

impl Sg {
    /// The family for these coefficients.
    pub fn new(c: FaceCoefficients) -> Self {
        Sg {
            d_over_h: c.diffusion / c.h,
            h_over_d: c.h / c.diffusion,
            kappa: c.kappa,
            inv_gamma: 1.0 / c.gamma,
            ln_kappa: c.kappa.ln(),
            power: Power::new(c.gamma),
        }
    }

    /// `(B(z), B(-z))` with `B(z) = z / expm1(z)`, both positive and without cancellation
    /// (the short pair [`math::bernoulli_small_pair`] below `|z|` 1/4, `B(|z|)` by
    /// [`math::bernoulli_above_small`] above).
    #[inline(always)]
    pub fn bernoulli_pair(z: f64) -> (f64, f64) {
        Sg::bernoulli_pair_from(z, math::bernoulli_above_small(z.abs()))
    }

    /// `(B(z), B(-z))` from `z` and `b = B(|z|)` ([`math::bernoulli_above_small`]):
    /// [`math::bernoulli_small_pair`] where `|z| <` [`math::BERNOULLI_SMALL`] (`b` unused);
    /// elsewhere, with `a = |z|`, `B(a) = b` (small for large `a`) and `B(-a) = B(a) + a`
    /// ([`Sg::bernoulli_pair_large`]). Mirror-symmetric bits: the pair of `-z` is the pair of
    /// `z` swapped.
    #[inline(always)]
    fn bernoulli_pair_from(z: f64, b: f64) -> (f64, f64) {
        let large = Sg::bernoulli_pair_large(z, b);
        if z.abs() < math::BERNOULLI_SMALL {
            math::bernoulli_small_pair(z)
        } else {
            large
        }
    }

    /// [`Sg::bernoulli_pair_from`] where `|z| >=` [`math::BERNOULLI_SMALL`] (its bits there):
    /// `(b, b + |z|)` for `z >= 0`, swapped for `z < 0`.
    #[inline(always)]
    fn bernoulli_pair_large(z: f64, b: f64) -> (f64, f64) {
        let b_neg = b + z.abs();
        if z >= 0.0 {
            (b, b_neg)
        } else {
            (b_neg, b)
        }
    }

    /// `(D/h) (B(z), B(-z))` from `z` and `b = B(|z|)` (the last step of [`Family::rates`]).
    #[inline(always)]
    fn pair(&self, z: f64, b: f64) -> (f64, f64) {
        self.scaled(Sg::bernoulli_pair_from(z, b))
    }

    /// `(D/h) (p, m)`.
    #[inline(always)]
    fn scaled(&self, (p, m): (f64, f64)) -> (f64, f64) {
        (self.d_over_h * p, self.d_over_h * m)
    }

    /// `Phi'(f)` from `ln f` and `kappa f^gamma`, in the two stable forms of
    /// [`crate::physics::phi_prime_from`]:
    ///
    /// ```text
    /// Phi'(f) = -(1/gamma) (ln kappa + log1p(1 / (kappa f^gamma)))   where kappa f^gamma > 1,
    ///           ln f - (1/gamma) log1p(kappa f^gamma)                otherwise,
    /// ```
    ///
    /// the `log1p` of both by [`math::ln1p_fold`] (one division, no `1 / (kappa f^gamma)`; no
    /// division at all where `kappa f^gamma < 2^-8`).
    #[inline(always)]
    fn phi_prime(&self, ln_f: f64, kappa_f_pow: f64) -> f64 {
        self.phi_prime_from_fold(ln_f, kappa_f_pow, math::ln1p_fold(kappa_f_pow))
    }

    /// [`Sg::phi_prime`] from `l = ln1p_fold(kappa f^gamma)` computed by the caller (a row
    /// kernel's chunk pass, [`math::ln1p_fold_chunk`]).
    #[inline(always)]
    fn phi_prime_from_fold(&self, ln_f: f64, kappa_f_pow: f64, l: f64) -> f64 {
        phi_prime_from_fold(ln_f, kappa_f_pow, l, self.inv_gamma, self.ln_kappa)
    }

    /// The Scharfetter–Gummel mean `G` of `1 + kappa f^gamma` between `f_l` and `f_r`:
    /// `(ln f_R - ln f_L) / (Phi'(f_R) - Phi'(f_L))`; 1 if a value is 0 (`ln f -> -inf`
    /// dominates `Phi' -> -inf`: the ratio tends to 1); the equal-value limit
    /// `1 + kappa (f_L^gamma + f_R^gamma) / 2` where `|ln f_R - ln f_L| < 1e-9` or the `Phi'`
    /// agree (there `f_R / f_L = 1 + O(1e-9)`, and any mean of `1 + kappa f^gamma` is the limit
    /// to `O(1e-18)`; the arithmetic one needs no square root).
    #[inline(always)]
    fn mean_g(&self, f_l: f64, f_r: f64, l: SgAux, r: SgAux) -> f64 {
        let (d_ln, d_phi) = Sg::differences(l, r);
        let (g, equal_limit) = Sg::mean_g_of_differences(d_ln, d_phi, f_l, f_r);
        if equal_limit {
            self.equal_limit(self.power.eval(f_l), self.power.eval(f_r))
        } else {
            g
        }
    }

    /// `(ln f_R - ln f_L, Phi'(f_R) - Phi'(f_L))` across a face.
    #[inline(always)]
    fn differences(l: SgAux, r: SgAux) -> (f64, f64) {
        (r.ln_f - l.ln_f, r.phi_prime - l.phi_prime)
    }

    /// The branch-free part of [`Sg::mean_g`] from the [`Sg::differences`]: `(G, false)` for a
    /// face with a zero value (`G = 1`) or outside the equal-value limit (the ratio),
    /// `(ratio, true)` for a face in that limit, whose `G` is then [`Sg::equal_limit`] (the
    /// row kernel computes the powers only for chunks that have such a face).
    #[inline(always)]
    fn mean_g_of_differences(d_ln: f64, d_phi: f64, f_l: f64, f_r: f64) -> (f64, bool) {
        let ratio = d_ln / d_phi;
        let zero = f_l == 0.0 || f_r == 0.0;
        let equal_limit = !zero & ((d_ln.abs() < 1e-9) | (d_phi == 0.0));
        (if zero { 1.0 } else { ratio }, equal_limit)
    }

    /// The equal-value limit `1 + (kappa f_L^gamma + kappa f_R^gamma) / 2` of `G` from
    /// `f_L^gamma`, `f_R^gamma`.
    #[inline(always)]
    fn equal_limit(&self, pow_l: f64, pow_r: f64) -> f64 {
        1.0 + 0.5 * (self.kappa * pow_l + self.kappa * pow_r)
    }

    /// The Peclet number `Pe = x_f (h/D) G` of a face.
    #[inline(always)]
    fn peclet(&self, x_f: f64, f_l: f64, f_r: f64, l: SgAux, r: SgAux) -> f64 {
        self.peclet_of_mean(x_f, self.mean_g(f_l, f_r, l, r))
    }

    /// `Pe = x_f (h/D) G` from the mean `G`.
    #[inline(always)]
    fn peclet_of_mean(&self, x_f: f64, g: f64) -> f64 {
        x_f * self.h_over_d * g
    }
}

impl Family for Sg {
    type Aux = SgAux;
    const DT_RATES_ARE_FLUX_RATES: bool = true;

    const ROW_RATES: bool = true;

    const AUX_IN_FACE_PASS: bool = true;

    /// `ln f` ([`math::ln_fast`]), `kappa f^gamma`, `Phi'(f)`.
    #[inline(always)]
    fn aux(&self, f: f64, f_pow_gamma: f64) -> SgAux {
        let ln_f = math::ln_fast(f);
        SgAux {
            ln_f,
            phi_prime: self.phi_prime(ln_f, self.kappa * f_pow_gamma),
        }
    }

    /// `Pe = x_f h G / D`, `(k_plus, k_minus) = (D/h) (B(Pe), B(-Pe))`.
    #[inline(always)]
    fn rates(&self, x_f: f64, f_l: f64, f_r: f64, l: SgAux, r: SgAux) -> (f64, f64) {
        let z = self.peclet(x_f, f_l, f_r, l, r);
        self.pair(z, math::bernoulli_above_small(z.abs()))
    }

    fn aux_row(&self, f: &[f64], aux: &mut [SgAux]) {
        rows::sg_aux(*self, f, aux);
    }

    fn rates_row(
        &self,
        x_f: &[f64],
        f_l: &[f64],
        f_r: &[f64],
        l: &[SgAux],
        r: &[SgAux],
        kp: &mut [f64],
        km: &mut [f64],
    ) {
        rows::sg_rates(*self, x_f, f_l, f_r, l, r, kp, km);
    }

    fn flux_row(
        &self,
        x_f: &[f64],
        f_l: &[f64],
        f_r: &[f64],
        l: &[SgAux],
        r: &[SgAux],
        flux: &mut [f64],
        spare: &mut [f64],
    ) {
        rows::sg_fluxes(*self, x_f, f_l, f_r, l, r, flux, spare);
    }

    #[inline(always)]
    fn dt_rates(&self, x_f: f64, f_l: f64, f_r: f64, l: SgAux, r: SgAux) -> (f64, f64) {
        self.rates(x_f, f_l, f_r, l, r)
    }

    fn power(&self) -> Power {
        self.power
    }

    /// With `z = Pe = x_f h G / D`, `F = (D/h) (B(z) f_L - B(-z) f_R)`:
    /// `dF/df_L = (D/h) (B(z) + S dz/df_L)`, `dF/df_R = (D/h) (-B(-z) + S dz/df_R)` with
    /// `S = B'(z) f_L + B'(-z) f_R`, `B'(z) = (B(z)/z) (1 - B(-z))` (`-1/2` at 0), and
    /// `dG/df = [-(dPhi)/f + (d ln f)/M(f)] / dPhi^2` at the lower cell (mirror at the upper),
    /// using `Phi'' = 1/M`. Where `G` is frozen (a zero value, or the equal-value limit) its
    /// derivative is taken as that of `1 + kappa (f_L^gamma + f_R^gamma) / 2`.
    fn flux_derivatives(&self, x_f: f64, f_l: f64, f_r: f64, l: SgAux, r: SgAux) -> (f64, f64) {
        let (d_ln, d_phi) = Sg::differences(l, r);
        let (g_or_one, equal_limit) = Sg::mean_g_of_differences(d_ln, d_phi, f_l, f_r);
        let (pow_l, pow_r) = (self.power.eval(f_l), self.power.eval(f_r));
        let g = if equal_limit {
            self.equal_limit(pow_l, pow_r)
        } else {
            g_or_one
        };
        let scale = x_f * self.h_over_d;
        let z = scale * g;
        let (b_plus, b_minus) = Sg::bernoulli_pair(z);
        let b_prime = |z: f64, b_z: f64, b_mz: f64| {
            if z.abs() < 1e-6 {
                -0.5 + z / 6.0
            } else {
                (b_z / z) * (1.0 - b_mz)
            }
        };
        let s = b_prime(z, b_plus, b_minus) * f_l + b_prime(-z, b_minus, b_plus) * f_r;
        let (dg_l, dg_r) = if f_l == 0.0 || f_r == 0.0 {
            (0.0, 0.0)
        } else {
            let (kappa_pow_l, kappa_pow_r) = (self.kappa * pow_l, self.kappa * pow_r);
            if equal_limit {
                let half_gamma = 0.5 / self.inv_gamma;
                (
                    half_gamma * kappa_pow_l / f_l,
                    half_gamma * kappa_pow_r / f_r,
                )
            } else {
                let m_l = f_l * (1.0 + kappa_pow_l);
                let m_r = f_r * (1.0 + kappa_pow_r);
                let d2 = d_phi * d_phi;
                (
                    (-d_phi / f_l + d_ln / m_l) / d2,
                    (d_phi / f_r - d_ln / m_r) / d2,
                )
            }
        };
        (
            self.d_over_h * (b_plus + s * scale * dg_l),
            self.d_over_h * (-b_minus + s * scale * dg_r),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::phi_prime_from;

    fn coeffs(kappa: f64, gamma: f64) -> FaceCoefficients {
        FaceCoefficients {
            diffusion: 0.7,
            kappa,
            gamma,
            h: 0.1,
        }
    }

    #[test]
    fn bernoulli_pair_is_positive_and_satisfies_b_minus_z_equals_b_z_plus_z() {
        for z in [-800.0, -30.0, -1.0, -1e-12, 0.0, 1e-12, 0.3, 30.0, 800.0] {
            let (bp, bm) = Sg::bernoulli_pair(z);
            assert!(bp >= 0.0 && bm >= 0.0, "{z}");
            assert!((bm - bp - z).abs() <= 1e-14 * (1.0 + z.abs()), "{z}");
        }
        assert_eq!(Sg::bernoulli_pair(0.0), (1.0, 1.0));
        let (bp, _) = Sg::bernoulli_pair(1.0);
        assert!((bp - 1.0 / (1f64.exp() - 1.0)).abs() < 1e-15);
    }

    #[test]
    fn stable_phi_prime_matches_naive_where_naive_is_accurate() {
        let (kappa, gamma) = (1.3, 2.5);
        for f in [1e-6, 0.1, 0.7, 0.9, 1.2, 3.0] {
            let kfg = kappa * f64::powf(f, gamma);
            let naive = f.ln() - (1.0 + kfg).ln() / gamma;
            let stable = phi_prime_from(f.ln(), kfg, 1.0 / gamma, kappa.ln());
            assert!((naive - stable).abs() < 1e-13, "{f}");
        }
        // In a condensate cell the naive form cancels to garbage; the stable one tends to
        // -ln(kappa)/gamma from below.
        let f = 1e9;
        let kfg = f64::powf(f, 2.0);
        let stable = phi_prime_from(f.ln(), kfg, 0.5, 0.0);
        assert!(stable < 0.0 && stable > -1e-17);
    }

    #[test]
    fn kappa_zero_reduces_both_families_to_linear_ou() {
        let c = coeffs(0.0, 2.0);
        let up = Upwind::new(c);
        let sg = Sg::new(c);
        let (fl, fr) = (0.3, 0.8);
        let x_f = -1.25;
        let (kp, km) = up.rates(x_f, fl, fr, up.aux(fl, fl * fl), up.aux(fr, fr * fr));
        assert_eq!(kp, 0.7 / 0.1 + 1.25);
        assert_eq!(km, 0.7 / 0.1);
        // SG with G = 1 is classical Scharfetter–Gummel.
        let (kp, km) = sg.rates(x_f, fl, fr, sg.aux(fl, fl * fl), sg.aux(fr, fr * fr));
        let pe: f64 = x_f * 0.1 / 0.7;
        assert!((kp - 7.0 * pe / pe.exp_m1()).abs() < 1e-13);
        assert!((km - 7.0 * (-pe) / (-pe).exp_m1()).abs() < 1e-13);
    }

    #[test]
    fn sg_flux_vanishes_on_nodal_steady_states() {
        // f_beta(x) = kappa^(-1/g) (exp(g (x^2/(2D) + beta)) - 1)^(-1/g) makes xi constant,
        // so the SG flux between any two nodal values is zero up to round-off.
        let (kappa, gamma, d, beta) = (1.0, 3.0, 0.7, 0.2);
        let c = FaceCoefficients {
            diffusion: d,
            kappa,
            gamma,
            h: 0.1,
        };
        let sg = Sg::new(c);
        let f_beta = |x: f64| {
            f64::powf(kappa, -1.0 / gamma)
                * f64::powf((gamma * (x * x / (2.0 * d) + beta)).exp_m1(), -1.0 / gamma)
        };
        for k in -20..20 {
            let (xl, xr) = (k as f64 * 0.1, (k + 1) as f64 * 0.1);
            let (fl, fr) = (f_beta(xl), f_beta(xr));
            let x_f = 0.5 * (xl + xr);
            let (kp, km) = sg.rates(
                x_f,
                fl,
                fr,
                sg.aux(fl, fl.powf(gamma)),
                sg.aux(fr, fr.powf(gamma)),
            );
            let flux = kp * fl - km * fr;
            assert!(flux.abs() < 1e-12 * (kp * fl), "face {k}: {flux}");
        }
    }

    /// The analytic face-flux derivatives match central differences of the flux.
    #[test]
    fn flux_derivatives_match_finite_differences() {
        fn check<F: Family>(fam: F, gamma: f64, cases: &[(f64, f64, f64)]) {
            let flux = |x_f: f64, fl: f64, fr: f64| {
                let (a, b) = (fam.aux(fl, fl.powf(gamma)), fam.aux(fr, fr.powf(gamma)));
                let (kp, km) = fam.rates(x_f, fl, fr, a, b);
                kp * fl - km * fr
            };
            for &(x_f, fl, fr) in cases {
                let (dl, dr) = fam.flux_derivatives(
                    x_f,
                    fl,
                    fr,
                    fam.aux(fl, fl.powf(gamma)),
                    fam.aux(fr, fr.powf(gamma)),
                );
                let (el, er) = (1e-6 * fl, 1e-6 * fr);
                let fd_l = (flux(x_f, fl + el, fr) - flux(x_f, fl - el, fr)) / (2.0 * el);
                let fd_r = (flux(x_f, fl, fr + er) - flux(x_f, fl, fr - er)) / (2.0 * er);
                let tol = |v: f64| 1e-6 * (1.0 + v.abs());
                assert!(
                    (dl - fd_l).abs() < tol(fd_l),
                    "{x_f} {fl} {fr}: dL {dl} vs {fd_l}"
                );
                assert!(
                    (dr - fd_r).abs() < tol(fd_r),
                    "{x_f} {fl} {fr}: dR {dr} vs {fd_r}"
                );
            }
        }
        let cases = [
            (0.35, 0.4, 1.3),
            (-0.35, 1.3, 0.4),
            (1.05, 0.05, 0.02),
            (-2.0, 3.0, 30.0),
            (0.05, 50.0, 4.0),
        ];
        for gamma in [2.0, 2.5, 3.0] {
            check(Upwind::new(coeffs(1.0, gamma)), gamma, &cases);
            check(Sg::new(coeffs(1.0, gamma)), gamma, &cases);
        }
    }

    #[test]
    fn zero_neighbour_gives_finite_rates() {
        let sg = Sg::new(coeffs(1.0, 2.0));
        let (kp, km) = sg.rates(0.5, 0.0, 2.0, sg.aux(0.0, 0.0), sg.aux(2.0, 4.0));
        assert!(kp.is_finite() && km.is_finite() && kp >= 0.0 && km >= 0.0);
        let (kp, km) = sg.rates(0.5, 0.0, 0.0, sg.aux(0.0, 0.0), sg.aux(0.0, 0.0));
        assert!(kp.is_finite() && km.is_finite());
    }
}
