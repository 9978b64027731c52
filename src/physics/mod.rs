//! Pointwise physics of the nonlinear Fokker–Planck model (MODEL.md sections 2, 3 and 7).
//!
//! ```text
//! d_t f = D Lap f + div( x f (1 + kappa f^gamma) )
//!       = div( M(f) grad xi ),   M(f) = f (1 + kappa f^gamma),   xi = |x|^2/2 + D Phi'(f)
//! Phi'(f) = log f - (1/gamma) log(1 + kappa f^gamma)                 (Phi'' = 1/M)
//! ```
//!
//! Everything here is a pure function of local values: no I/O, no MPI, no configuration, and no
//! allocation in the per-cell functions ([`ModelParams::mobility`], [`ModelParams::phi_prime`],
//! [`ModelParams::g_integral`], [`ModelParams::phi`], [`ModelParams::entropy_density`],
//! [`ModelParams::steady_state`]).
//!
//! - [`quadrature`]: double-exponential quadrature (exp-sinh, tanh-sinh).
//! - [`critical`]: the critical mass `m_c` (closed form in 2D, quadrature in any dimension).
//! - [`steady`]: the steady family `f_beta`, its mass, and `beta` for a given mass.
//! - [`entropy`]: `G`, `Phi` and the entropy density.
//! - [`ou`]: the exact linear Ornstein–Uhlenbeck (`kappa = 0`) solution for Gaussian mixtures.

pub mod critical;
pub mod entropy;
pub mod ou;
pub mod quadrature;
pub mod steady;

use crate::simd::math;

/// Parameters of the forward equation `d_t f = D Lap f + div(x f (1 + kappa f^gamma))`.
///
/// Valid values: `diffusion > 0`, `kappa >= 0`, `gamma > 0` (not checked here; the driver
/// validates the configuration). `kappa = 0` is the linear Ornstein–Uhlenbeck baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelParams {
    /// Diffusion coefficient `D > 0`.
    pub diffusion: f64,
    /// Nonlinearity strength `kappa >= 0`.
    pub kappa: f64,
    /// Nonlinearity exponent `gamma > 0`.
    pub gamma: f64,
}

impl ModelParams {
    /// Builds the parameter set `(D, kappa, gamma)`.
    pub const fn new(diffusion: f64, kappa: f64, gamma: f64) -> ModelParams {
        ModelParams {
            diffusion,
            kappa,
            gamma,
        }
    }

    /// Mobility `M(f) = f (1 + kappa f^gamma)` (`f >= 0`); the drift flux is `-x M(f)` per unit
    /// `grad(|x|^2/2)`, i.e. the flux is `J = -M(f) grad xi`.
    #[inline]
    pub fn mobility(&self, f: f64) -> f64 {
        f * (1.0 + self.kappa * f.powf(self.gamma))
    }

    /// `Phi'(f) = log f - (1/gamma) log(1 + kappa f^gamma)`, so that `Phi''(f) = 1/M(f)`.
    ///
    /// Evaluated without cancellation: where `kappa f^gamma > 1` (in particular in a condensate
    /// cell) it uses the equivalent form
    /// `Phi'(f) = -(1/gamma) (log kappa + log1p(f^-gamma / kappa))`, which tends to the finite limit
    /// `-(log kappa)/gamma` as `f -> inf`; otherwise `log f - log1p(kappa f^gamma)/gamma`.
    /// `f = 0` gives `-inf`; `kappa = 0` gives `log f`.
    #[inline]
    pub fn phi_prime(&self, f: f64) -> f64 {
        let kappa_f_pow = self.kappa * f.powf(self.gamma);
        phi_prime_from(math::ln(f), kappa_f_pow, 1.0 / self.gamma, self.kappa.ln())
    }

    /// Critical mass `m_c` on `R^dim` (MODEL.md section 3):
    ///
    /// ```text
    /// m_c = kappa^(-1/gamma) D^(d/2) (2 pi/gamma)^(d/2) / Gamma(d/2) int_0^inf u^(d/2-1) (e^u-1)^(-1/gamma) du
    /// ```
    ///
    /// `None` when there is no condensation: `kappa == 0` or `gamma * dim <= 2` (the integral
    /// diverges at `u = 0`), or `dim == 0`. Uses the closed form
    /// `2 pi^2 D kappa^(-1/gamma) / (gamma sin(pi/gamma))` in 2D and the quadrature otherwise.
    pub fn critical_mass(&self, dim: usize) -> Option<f64> {
        if dim == 2 {
            critical::critical_mass_2d_closed_form(self.gamma, self.diffusion, self.kappa)
        } else {
            critical::critical_mass_quadrature(dim, self.gamma, self.diffusion, self.kappa)
        }
    }
}

/// The kernel behind [`ModelParams::phi_prime`], from precomputed per-cell inputs
/// (`ln f`, `kappa f^gamma`) and constants (`1/gamma`, `ln kappa`), so flux loops evaluate the
/// power and the logarithm once per cell:
///
/// ```text
/// Phi'(f) = -(1/gamma) (ln kappa + log1p(1 / (kappa f^gamma)))   where kappa f^gamma > 1,
///           ln f - (1/gamma) log1p(kappa f^gamma)                otherwise.
/// ```
#[inline(always)]
pub fn phi_prime_from(ln_f: f64, kappa_f_pow: f64, inv_gamma: f64, ln_kappa: f64) -> f64 {
    // One `ln1p_fold`: `log1p` of `kappa f^gamma` or of its reciprocal, whichever is at most 1.
    let l = math::ln1p_fold(kappa_f_pow);
    phi_prime_from_fold(ln_f, kappa_f_pow, l, inv_gamma, ln_kappa)
}

/// [`phi_prime_from`] with `l = ln1p_fold(kappa f^gamma)` ([`math::ln1p_fold`]) computed by the
/// caller (a row kernel's chunk pass, [`math::ln1p_fold_chunk`]). Branch-free (both forms
/// computed, one selected), so that row loops vectorise.
#[inline(always)]
pub fn phi_prime_from_fold(
    ln_f: f64,
    kappa_f_pow: f64,
    l: f64,
    inv_gamma: f64,
    ln_kappa: f64,
) -> f64 {
    let big = -inv_gamma * (ln_kappa + l);
    let small = ln_f - inv_gamma * l;
    if kappa_f_pow > 1.0 {
        big
    } else {
        small
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobility_values() {
        let p = ModelParams::new(1.0, 2.0, 3.0);
        assert_eq!(p.mobility(0.0), 0.0);
        assert!((p.mobility(2.0) - 2.0 * (1.0 + 16.0)).abs() < 1e-14);
        let ou = ModelParams::new(1.0, 0.0, 3.0);
        assert_eq!(ou.mobility(1.7), 1.7);
    }

    #[test]
    fn phi_prime_limits() {
        let p = ModelParams::new(1.0, 0.5, 2.5);
        assert_eq!(p.phi_prime(0.0), f64::NEG_INFINITY);
        let lim = -(0.5f64).ln() / 2.5;
        assert_eq!(p.phi_prime(f64::INFINITY), lim);
        assert!((p.phi_prime(1e200) - lim).abs() < 1e-300 + 1e-15 * lim.abs());
        let ou = ModelParams::new(1.0, 0.0, 2.5);
        assert_eq!(ou.phi_prime(3.0), 3.0f64.ln());
    }

    #[test]
    fn phi_prime_matches_naive_and_is_continuous_at_switch() {
        for &(kappa, gamma) in &[(1.0, 2.0), (0.3, 2.5), (4.0, 3.0), (1.0, 0.5)] {
            let p = ModelParams::new(1.0, kappa, gamma);
            // The switch point kappa f^gamma = 1.
            let fs = (1.0f64 / kappa).powf(1.0 / gamma);
            for &f in &[
                1e-6,
                0.1,
                0.5 * fs,
                fs * (1.0 - 1e-12),
                fs,
                fs * (1.0 + 1e-12),
                2.0 * fs,
            ] {
                let naive = f.ln() - (1.0 + kappa * f.powf(gamma)).ln() / gamma;
                assert!(
                    (p.phi_prime(f) - naive).abs() < 1e-14 * (1.0 + naive.abs()),
                    "kappa {kappa} gamma {gamma} f {f}: {} vs {naive}",
                    p.phi_prime(f)
                );
            }
        }
    }

    #[test]
    fn phi_prime_is_accurate_in_condensate_cells() {
        // Phi'(f) + (log kappa)/gamma = -(1/gamma) log1p(f^-gamma/kappa) ~ -f^-gamma/(gamma kappa):
        // the stable form keeps full relative accuracy of this small difference.
        let p = ModelParams::new(1.0, 1.0, 2.0);
        for &f in &[1e3, 1e6, 1e9] {
            let d = p.phi_prime(f);
            let expect = -(f.powi(-2)).ln_1p() / 2.0;
            assert!(
                (d - expect).abs() <= 1e-15 * expect.abs(),
                "{f}: {d} {expect}"
            );
        }
    }

    #[test]
    fn phi_double_prime_is_inverse_mobility() {
        let p = ModelParams::new(0.7, 0.3, 2.5);
        for &f in &[1e-3, 0.2, 1.0, 3.0, 40.0, 1e3] {
            let h = 1e-3 * f;
            let d2 = (p.phi_prime(f + h) - p.phi_prime(f - h)) / (2.0 * h);
            let inv_m = 1.0 / p.mobility(f);
            assert!((d2 - inv_m).abs() < 1e-5 * inv_m, "{f}: {d2} vs {inv_m}");
        }
    }

    #[test]
    fn critical_mass_dispatch() {
        let p = ModelParams::new(1.0, 1.0, 2.0);
        let pi2 = std::f64::consts::PI.powi(2);
        assert!((p.critical_mass(2).unwrap() - pi2).abs() < 1e-13 * pi2);
        assert!(p.critical_mass(1).is_none()); // gamma * dim = 2
        assert!(ModelParams::new(1.0, 0.0, 3.0).critical_mass(2).is_none());
        let p3 = ModelParams::new(1.0, 1.0, 3.0);
        assert!((p3.critical_mass(1).unwrap() - 5.872_100_155).abs() < 1e-8);
    }
}
