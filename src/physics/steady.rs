//! The steady family `f_beta` and its mass (MODEL.md section 3).
//!
//! Zero flux means `xi = |x|^2/2 + D Phi'(f) = const`. With `u = |x|^2 / (2D)` and
//! `z = gamma (u + beta)` this gives, for `kappa > 0` and `beta >= 0`,
//!
//! ```text
//! f_beta(x) = kappa^(-1/gamma) (e^z - 1)^(-1/gamma),      xi = -D beta - (D/gamma) log kappa,
//! ```
//!
//! decreasing in `beta`; `f_c = f_0` is singular at the origin like the universal profile
//! `(2D/(gamma kappa))^(1/gamma) |x|^(-2/gamma)`. Its mass on `R^d` is, in polar coordinates,
//!
//! ```text
//! mass(beta) = c_d int_0^inf u^(d/2 - 1) f_beta(u) du,     c_d = (2 pi D)^(d/2) / Gamma(d/2)
//! ```
//!
//! (`2 pi D int f du` in 2D, `sqrt(2D) int u^(-1/2) f du = 2 int_0^inf f dx` in 1D), decreasing
//! from `m_c = mass(0)` to 0, with `d mass / d beta = -c_d int u^(d/2-1) M(f_beta) du` because
//! `d f_beta / d beta = -M(f_beta) = -f_beta (1 + kappa f_beta^gamma)`.
//!
//! `kappa = 0` (linear OU): the family degenerates to the Maxwellians. We use the same `xi = -D beta`
//! normalisation without the `log kappa` term, i.e. `f_beta = exp(-(|x|^2/(2D) + beta))` with
//! `beta` any real number and `mass = (2 pi D)^(d/2) e^(-beta)`: this is the limit of the
//! `kappa > 0` family with `beta` shifted by `(log kappa)/gamma`, and it is the asymptotic state
//! of the OU baseline, so generation can start from `f_beta` for every `kappa`.

use super::critical::{gamma_half_integer, ln_expm1};
use super::quadrature;
use super::ModelParams;
use std::f64::consts::PI;

impl ModelParams {
    /// `f_beta` at `r2 = |x|^2`:
    /// `kappa^(-1/gamma) (exp(gamma (r2/(2D) + beta)) - 1)^(-1/gamma)` for `kappa > 0`, `beta >= 0`.
    ///
    /// Evaluated as `exp(-(log kappa + ln(e^z - 1))/gamma)` with `ln(e^z - 1) = z + log1p(-e^-z)`
    /// for `z > 1` ([`super::critical::ln_expm1`]): no overflow, full relative accuracy in the far tail and
    /// near the origin. `beta = 0`, `r2 = 0` gives `+inf`. `beta < 0` is outside the family for
    /// `kappa > 0` (NaN where `r2/(2D) < -beta`). For `kappa = 0`: `exp(-(r2/(2D) + beta))`, see the
    /// module docs.
    #[inline]
    pub fn steady_state(&self, r2: f64, beta: f64) -> f64 {
        steady_of_u(self, r2 / (2.0 * self.diffusion), beta)
    }

    /// Leading term of `f_c` at the origin, the universal blow-up profile:
    /// `(2D/(gamma kappa))^(1/gamma) |x|^(-2/gamma)` (`r2 = |x|^2`; `+inf` for `kappa = 0`).
    #[inline]
    pub fn condensate_profile(&self, r2: f64) -> f64 {
        (2.0 * self.diffusion / (self.gamma * self.kappa * r2)).powf(1.0 / self.gamma)
    }

    /// Mass of `f_beta` on `R^dim` (`dim >= 1`):
    /// `(2 pi D)^(d/2)/Gamma(d/2) int_0^inf u^(d/2-1) f_beta(u) du`, `u = |x|^2/(2D)`, by exp-sinh
    /// quadrature. `beta = 0` gives `m_c` (`+inf` if `gamma dim <= 2`); `kappa = 0` gives
    /// `(2 pi D)^(d/2) e^-beta`.
    pub fn steady_mass(&self, dim: usize, beta: f64) -> f64 {
        let c = mass_prefactor(self.diffusion, dim);
        if self.kappa == 0.0 {
            return c * gamma_half_integer(dim) * (-beta).exp();
        }
        if beta == 0.0 {
            return self.critical_mass(dim).unwrap_or(f64::INFINITY);
        }
        let a = 0.5 * dim as f64 - 1.0;
        c * quadrature::exp_sinh(
            |u: f64| radial_power(u, a) * steady_of_u(self, u, beta),
            0.0,
        )
    }

    /// `d mass(f_beta) / d beta = -(2 pi D)^(d/2)/Gamma(d/2) int_0^inf u^(d/2-1) M(f_beta(u)) du`
    /// (negative; `-inf` at `beta = 0` when `kappa > 0`). Uses
    /// `M(f_beta) = f_beta / (1 - e^-z) = -f_beta / expm1(-z)`, `z = gamma (u + beta)`.
    pub fn steady_mass_derivative(&self, dim: usize, beta: f64) -> f64 {
        if self.kappa == 0.0 {
            return -self.steady_mass(dim, beta);
        }
        if beta == 0.0 {
            return f64::NEG_INFINITY;
        }
        let c = mass_prefactor(self.diffusion, dim);
        let a = 0.5 * dim as f64 - 1.0;
        let g = self.gamma;
        let integrand = |u: f64| {
            let f = steady_of_u(self, u, beta);
            radial_power(u, a) * (-f / (-g * (u + beta)).exp_m1())
        };
        -c * quadrature::exp_sinh(integrand, 0.0)
    }

    /// Mass of `f_beta` in the ball `|x| < radius` of `R^dim`:
    /// `(2 pi D)^(d/2)/Gamma(d/2) int_0^U u^(d/2-1) f_beta(u) du`, `U = radius^2/(2D)`, by tanh-sinh.
    ///
    /// For `beta = 0` (the `int_{|x| < r0} f_c` of the condensate estimate, MODEL.md section 3) the
    /// singular factor is removed analytically: with `p = d/2 - 1/gamma` and `v = u^p`,
    /// `int_0^U u^(d/2-1) f_0 du = (gamma kappa)^(-1/gamma) / p int_0^(U^p) h(gamma v^(1/p)) dv`,
    /// `h(y) = (y/(e^y - 1))^(1/gamma)`. `+inf` if `beta = 0` and `gamma dim <= 2`.
    pub fn steady_mass_in_ball(&self, dim: usize, beta: f64, radius: f64) -> f64 {
        let c = mass_prefactor(self.diffusion, dim);
        let big_u = radius * radius / (2.0 * self.diffusion);
        let a = 0.5 * dim as f64 - 1.0;
        let g = self.gamma;
        if self.kappa != 0.0 && beta == 0.0 {
            let p = 0.5 * dim as f64 - 1.0 / g;
            if p <= 0.0 {
                return f64::INFINITY;
            }
            let h = |v: f64| {
                let y = g * v.powf(1.0 / p);
                if y == 0.0 {
                    return 1.0;
                }
                let ln_ratio = if y > 1.0 {
                    ln_expm1(y) - y.ln()
                } else {
                    (y.exp_m1() / y).ln()
                };
                (-ln_ratio / g).exp()
            };
            let scale = (g * self.kappa).powf(-1.0 / g) / p;
            return c * scale * quadrature::tanh_sinh(h, 0.0, big_u.powf(p));
        }
        c * quadrature::tanh_sinh(
            |u: f64| radial_power(u, a) * steady_of_u(self, u, beta),
            0.0,
            big_u,
        )
    }

    /// The `beta` with `mass(f_beta) = mass` on `R^dim`.
    ///
    /// `None` if `mass <= 0` (or not finite) or, when condensation is possible (`kappa > 0`,
    /// `gamma dim > 2`), if `mass >= m_c`: then the asymptotic state is `f_c + (m - m_c) delta_0`
    /// instead. For `kappa = 0` the answer is `log((2 pi D)^(d/2) / mass)` (any sign).
    ///
    /// Method: safeguarded Newton on `g(beta) = log mass(beta) - log mass` (decreasing in `beta`),
    /// with `g' = mass'/mass` from [`ModelParams::steady_mass_derivative`], inside a bracket
    /// `[lo, hi]` that is shrunk every iteration. The bracket starts from
    /// `A e^-beta <= mass(beta) <= A e^-beta (1 - e^(-gamma beta))^(-1/gamma)`,
    /// `A = kappa^(-1/gamma) (2 pi D)^(d/2)` (from `e^z - 1 <= e^z` and `e^z - 1 >= e^z (1 - e^(-gamma beta))`),
    /// so `beta >= log(A/mass)`. Steps that leave the bracket are replaced by bisection (geometric
    /// when the bracket spans decades, towards 0 when `lo = 0`). Converges to ~1e-15 relative in `beta`.
    pub fn beta_for_mass(&self, dim: usize, mass: f64) -> Option<f64> {
        if dim == 0 || mass.is_nan() || mass <= 0.0 || mass == f64::INFINITY {
            return None;
        }
        let c = mass_prefactor(self.diffusion, dim) * gamma_half_integer(dim);
        if self.kappa == 0.0 {
            return Some((c / mass).ln());
        }
        if let Some(mc) = self.critical_mass(dim) {
            if mass >= mc {
                return None;
            }
        }
        let ln_target = mass.ln();
        let g_of = |beta: f64| self.steady_mass(dim, beta).ln() - ln_target;
        let big_a = self.kappa.powf(-1.0 / self.gamma) * c;
        let mut lo = (big_a / mass).ln().max(0.0);
        // Upper end of the bracket: step up until the mass is below the target.
        let mut hi = lo + 1.0;
        let mut g_hi = g_of(hi);
        while g_hi > 0.0 {
            lo = hi;
            hi = 2.0 * hi + 1.0;
            g_hi = g_of(hi);
        }
        let mut beta = if lo > 0.0 { lo } else { 0.5 * hi };
        for _ in 0..200 {
            let m = self.steady_mass(dim, beta);
            let g = m.ln() - ln_target;
            if g == 0.0 {
                return Some(beta);
            }
            if g > 0.0 {
                lo = lo.max(beta);
            } else {
                hi = hi.min(beta);
            }
            let dg = self.steady_mass_derivative(dim, beta) / m;
            let newton = beta - g / dg;
            let next = if newton > lo && newton < hi && newton.is_finite() {
                newton
            } else if lo > 0.0 && hi > 4.0 * lo {
                (lo * hi).sqrt()
            } else if lo == 0.0 {
                hi / 16.0
            } else {
                0.5 * (lo + hi)
            };
            let step = (next - beta).abs();
            beta = next;
            if step <= 1e-15 * beta || hi - lo <= 1e-15 * hi {
                return Some(beta);
            }
        }
        Some(beta)
    }
}

/// `f_beta` as a function of `u = |x|^2/(2D)`; see [`ModelParams::steady_state`].
#[inline]
fn steady_of_u(p: &ModelParams, u: f64, beta: f64) -> f64 {
    if p.kappa == 0.0 {
        return (-(u + beta)).exp();
    }
    let z = p.gamma * (u + beta);
    (-(p.kappa.ln() + ln_expm1(z)) / p.gamma).exp()
}

/// `u^a` with `u^0 = 1` even at `u = 0` (2D) and `u^(-1/2)` in 1D.
#[inline]
fn radial_power(u: f64, a: f64) -> f64 {
    if a == 0.0 {
        1.0
    } else if a == -0.5 {
        1.0 / u.sqrt()
    } else {
        u.powf(a)
    }
}

/// `(2 pi D)^(d/2) / Gamma(d/2)`: mass of a radial density on `R^d` is this times
/// `int_0^inf u^(d/2-1) f(u) du` with `u = |x|^2/(2D)`.
fn mass_prefactor(diffusion: f64, dim: usize) -> f64 {
    (2.0 * PI * diffusion).powf(0.5 * dim as f64) / gamma_half_integer(dim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    /// `2 pi arcsin(e^-beta)`, written as `2 pi atan(1 / (e^beta sqrt(1 - e^-2beta)))` so that it
    /// stays accurate both as `beta -> 0` and for large `beta`.
    fn exact_mass_g2(beta: f64) -> f64 {
        2.0 * PI * (1.0 / (beta.exp() * (-(-2.0 * beta).exp_m1()).sqrt())).atan()
    }

    #[test]
    fn steady_state_values() {
        let p = ModelParams::new(1.0, 1.0, 2.0);
        assert_eq!(p.steady_state(0.0, 0.0), f64::INFINITY);
        // f_beta(0) = (e^(2 beta) - 1)^(-1/2)
        for &beta in &[1e-6f64, 0.1, 1.0, 5.0, 40.0] {
            let e = (2.0 * beta).exp_m1().powf(-0.5);
            assert!(rel(p.steady_state(0.0, beta), e) < 1e-14, "{beta}");
        }
        // Far tail: e^-(u + beta) (1 - e^-2z)^(-1/2) ~ e^-(u+beta), no underflow to 0 before 1e-300.
        let f = p.steady_state(2.0 * 600.0, 0.5);
        assert!(rel(f, (-600.5f64).exp()) < 1e-13, "{f}");
        // General kappa, D, gamma against the naive formula where it is safe.
        let q = ModelParams::new(0.7, 0.3, 2.5);
        for &(r2, beta) in &[(0.3f64, 0.2f64), (2.0, 0.0), (0.01, 1.5)] {
            let z = 2.5 * (r2 / 1.4 + beta);
            let naive = 0.3f64.powf(-0.4) * (z.exp() - 1.0).powf(-0.4);
            assert!(rel(q.steady_state(r2, beta), naive) < 1e-14);
        }
        // kappa = 0: the Maxwellian.
        let ou = ModelParams::new(0.5, 0.0, 2.0);
        assert!(rel(ou.steady_state(1.0, -0.3), (-(1.0 + -0.3f64)).exp()) < 1e-15);
    }

    #[test]
    fn steady_states_are_zero_flux() {
        // xi = r2/2 + D Phi'(f_beta) = -D beta - (D/gamma) log kappa, for every r2.
        let p = ModelParams::new(0.7, 0.3, 2.5);
        for &beta in &[1e-3, 0.4, 3.0] {
            let xi0 = -p.diffusion * beta - p.diffusion / p.gamma * p.kappa.ln();
            for &r2 in &[0.0, 0.01, 1.0, 10.0, 100.0] {
                let xi = 0.5 * r2 + p.diffusion * p.phi_prime(p.steady_state(r2, beta));
                assert!((xi - xi0).abs() < 1e-12 * (1.0 + r2), "beta {beta} r2 {r2}");
            }
        }
    }

    #[test]
    fn condensate_profile_is_the_leading_term_of_f_c() {
        let p = ModelParams::new(0.7, 0.3, 2.5);
        for &r2 in &[1e-6, 1e-10] {
            let ratio = p.steady_state(r2, 0.0) / p.condensate_profile(r2);
            assert!((ratio - 1.0).abs() < r2.sqrt(), "{r2}: {ratio}");
        }
    }

    /// Acceptance: 2D, gamma = 2, D = kappa = 1: mass(beta) = 2 pi arcsin(e^-beta).
    #[test]
    fn mass_gamma_two_2d_exact() {
        let p = ModelParams::new(1.0, 1.0, 2.0);
        for &beta in &[1e-10, 1e-6, 1e-3, 0.05, 0.3, 1.0, 2.0, 5.0, 20.0] {
            let m = p.steady_mass(2, beta);
            let e = exact_mass_g2(beta);
            assert!(rel(m, e) < 1e-11, "beta {beta}: {m} vs {e}");
        }
    }

    /// Acceptance: beta_for_mass(pi^2/2) gives f_beta(0) = tan(m/(2 pi)) = 1.
    #[test]
    fn beta_for_half_critical_mass_gamma_two() {
        let p = ModelParams::new(1.0, 1.0, 2.0);
        let m = 0.5 * PI * PI;
        let beta = p.beta_for_mass(2, m).unwrap();
        assert!(rel(beta, 0.5 * 2f64.ln()) < 1e-12, "{beta}");
        let f0 = p.steady_state(0.0, beta);
        assert!((f0 - 1.0).abs() < 1e-11, "{f0}");
        // Other subcritical masses: f_beta(0) = tan(m / (2 pi)).
        for &frac in &[1e-6, 0.01, 0.2, 0.7, 0.95, 0.999, 0.999_999] {
            let m = frac * PI * PI;
            let beta = p.beta_for_mass(2, m).unwrap();
            let f0 = p.steady_state(0.0, beta);
            let e = (m / (2.0 * PI)).tan();
            assert!(rel(f0, e) < 1e-9, "frac {frac}: {f0} vs {e}");
            assert!(rel(p.steady_mass(2, beta), m) < 1e-13, "frac {frac}");
        }
    }

    /// Acceptance: mass(f_beta) -> m_c as beta -> 0, monotonically.
    #[test]
    fn mass_tends_to_critical_mass() {
        for &(dim, gamma) in &[(2usize, 2.0), (2, 3.0), (1, 3.0), (2, 7.0), (1, 4.0)] {
            let p = ModelParams::new(0.8, 1.7, gamma);
            let mc = p.critical_mass(dim).unwrap();
            assert_eq!(p.steady_mass(dim, 0.0), mc);
            let mut prev = 0.0;
            for &beta in &[1.0, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12] {
                let m = p.steady_mass(dim, beta);
                assert!(
                    m > prev && m < mc,
                    "dim {dim} gamma {gamma} beta {beta}: {m} {mc}"
                );
                // m_c - m ~ C beta^(d/2 - 1/gamma): the deficit shrinks accordingly.
                let pexp = 0.5 * dim as f64 - 1.0 / gamma;
                assert!(
                    (mc - m) / mc < 10.0 * beta.powf(pexp),
                    "dim {dim} gamma {gamma} beta {beta}"
                );
                prev = m;
            }
        }
    }

    #[test]
    fn mass_derivative_matches_finite_differences() {
        for &(dim, gamma) in &[(2usize, 2.0), (1, 3.0), (2, 2.5)] {
            let p = ModelParams::new(0.8, 1.7, gamma);
            for &beta in &[1e-3, 0.1, 1.0, 4.0] {
                let h = 1e-5 * beta;
                let fd = (p.steady_mass(dim, beta + h) - p.steady_mass(dim, beta - h)) / (2.0 * h);
                let an = p.steady_mass_derivative(dim, beta);
                assert!(
                    rel(an, fd) < 1e-7,
                    "dim {dim} gamma {gamma} beta {beta}: {an} {fd}"
                );
            }
        }
    }

    #[test]
    fn beta_for_mass_roundtrip_and_rejections() {
        for &(dim, gamma, d, kappa) in &[
            (1usize, 3.0, 1.0, 1.0),
            (2, 2.5, 0.7, 0.3),
            (1, 1.5, 1.0, 2.0),
        ] {
            let p = ModelParams::new(d, kappa, gamma);
            for &beta in &[1e-7, 1e-3, 0.2, 1.0, 7.0, 30.0] {
                let m = p.steady_mass(dim, beta);
                let b = p.beta_for_mass(dim, m).unwrap();
                assert!(
                    rel(b, beta) < 1e-8,
                    "dim {dim} gamma {gamma} beta {beta}: {b}"
                );
                assert!(rel(p.steady_mass(dim, b), m) < 1e-13);
            }
            assert!(p.beta_for_mass(dim, 0.0).is_none());
            assert!(p.beta_for_mass(dim, -1.0).is_none());
            if let Some(mc) = p.critical_mass(dim) {
                assert!(p.beta_for_mass(dim, mc).is_none());
                assert!(p.beta_for_mass(dim, 1.5 * mc).is_none());
            } else {
                // gamma dim <= 2: every mass has a steady state.
                assert!(p.beta_for_mass(dim, 1e4).is_some());
            }
        }
        // kappa = 0: Maxwellian of the requested mass.
        let ou = ModelParams::new(0.5, 0.0, 2.0);
        let b = ou.beta_for_mass(2, 10.0).unwrap();
        assert!(rel(ou.steady_mass(2, b), 10.0) < 1e-15);
        assert!(b < 0.0);
    }

    #[test]
    fn mass_in_ball_gamma_two_exact_and_limits() {
        // 2D, gamma 2: 2 pi D kappa^(-1/2) (asin(e^-beta) - asin(e^-(U + beta))), U = R^2/(2D).
        let p = ModelParams::new(1.0, 1.0, 2.0);
        for &beta in &[0.0f64, 0.3] {
            for &r in &[0.05f64, 0.5, 2.0] {
                let u = r * r / 2.0;
                let e = 2.0 * PI * ((-beta).exp().asin() - (-(u + beta)).exp().asin());
                let m = p.steady_mass_in_ball(2, beta, r);
                assert!(rel(m, e) < 1e-12, "beta {beta} r {r}: {m} vs {e}");
            }
        }
        // Large balls hold the whole mass (MODEL.md: L >= 6 sqrt(D) changes m_c by < 1e-7).
        for &(dim, gamma) in &[(1usize, 3.0), (2, 2.5), (2, 7.0)] {
            let q = ModelParams::new(0.6, 0.4, gamma);
            for &beta in &[0.0, 0.5] {
                let total = q.steady_mass(dim, beta);
                let inside = q.steady_mass_in_ball(dim, beta, 60.0 * q.diffusion.sqrt());
                assert!(
                    rel(inside, total) < 1e-12,
                    "dim {dim} gamma {gamma} beta {beta}"
                );
                let box6 = q.steady_mass_in_ball(dim, beta, 6.0 * q.diffusion.sqrt());
                assert!(total - box6 < 1e-6 * total);
            }
        }
    }
}
