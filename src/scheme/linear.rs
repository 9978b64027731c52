//! Face rates of the **linear** stabilized reverse equation (MODEL.md section 6)
//!
//! ```text
//! d_s u = lambda D Lap u - div(u V),     V = x (1 + kappa fh^gamma) + (1 + lambda) D grad ln fh,
//! ```
//!
//! `fh(s) = f(T - s)` being the forward solution read backwards and `lambda >= 0` the
//! stabilization (`lambda = 1`: reverse SDE, `lambda = 0`: probability flow). The flux through a
//! face in the +axis direction is `J = u V - lambda D du/dx`, written in the project's single form
//!
//! ```text
//! F = k_plus u_L - k_minus u_R,     k_plus, k_minus >= 0,
//! ```
//!
//! `u_L` / `u_R` the values below / above the face. With the face velocity `V_f` and
//! `eps = lambda D`, Scharfetter–Gummel gives (`Pe = V_f h / eps`, `B(z) = z / expm1(z)`)
//!
//! ```text
//! k_plus = (eps/h) B(-Pe),   k_minus = (eps/h) B(Pe),
//! ```
//!
//! evaluated without cancellation as `k_plus = c + max(V_f, 0)`, `k_minus = c + max(-V_f, 0)`,
//! `c = (eps/h) B(|Pe|)` (using `B(-z) = B(z) + z`). At `lambda = 0` this is exactly the upwind
//! flux `F = max(V_f, 0) u_L - max(-V_f, 0) u_R`; for constant `V` the discrete equilibrium
//! (`F = 0`) is `u_R / u_L = exp(V h / eps)`, the exact one.
//!
//! **Face velocity** `V_f = x_f G_f + (1 + lambda) D s_f`, `x_f` the face coordinate along the
//! axis, where
//! * `s_f` is the score (component of `grad ln fh` along the axis) at the face: either from the
//!   grid, `s_f = (ln fh_R - ln fh_L) / h`, or from a closure (the exact OU score);
//! * `G_f` is the face value of `1 + kappa fh^gamma`: from the grid, the same Scharfetter–Gummel
//!   mean the forward `sg` scheme uses, `G = (ln fh_R - ln fh_L) / (Phi'(fh_R) - Phi'(fh_L))`
//!   (`1 + kappa sqrt(fh_L fh_R)^gamma` when `|ln fh_R - ln fh_L| < 1e-9`; exactly 1 when
//!   `kappa = 0`); from a closure, `1 + kappa fh(x_f)^gamma`.
//!
//! With the grid mean, every nodal forward steady state `fh = f_beta(x_j)` (zero forward `sg`
//! flux) is also an exact discrete steady state of the reverse scheme for every `lambda > 0`, and
//! gives `V_f = 0` for `lambda = 0`: the reverse scheme is well balanced like the forward one.
//!
//! **Underflow rule.** On the grid, `ln fh` is taken of `max(fh, FH_FLOOR)`, `FH_FLOOR` the
//! smallest positive normal number: where `fh` underflowed to 0 the score is large and points
//! towards the positive cells (so `u` is driven out of cells the forward state does not
//! reach), but finite. Such faces can dominate the positivity bound of the explicit sub-steps.

use crate::physics::phi_prime_from;
use crate::simd::math;

/// `fh` is floored at this value before taking logarithms (the smallest positive normal `f64`).
pub const FH_FLOOR: f64 = f64::MIN_POSITIVE;

/// `ln max(fh, FH_FLOOR)` (also maps a NaN to the floor).
#[inline(always)]
pub fn floored_ln(fh: f64) -> f64 {
    fh.max(FH_FLOOR).ln()
}

/// `B(a) = a / expm1(a)` for `a >= 0`: 1 at 0, and 0 once `expm1` overflows (`a > 709.78`,
/// where the true value is below `1e-305`), so an infinite Peclet number is handled. The
/// branch-free [`math::bernoulli`] (its Taylor polynomial below 1, no libm call), within 2 ulp.
#[inline(always)]
pub fn bernoulli_abs(a: f64) -> f64 {
    math::bernoulli(a)
}

/// Per-cell values of the forward state entering the reverse face velocity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ForwardAux {
    /// `ln fh` (floored, see [`FH_FLOOR`]).
    pub ln_fh: f64,
    /// `kappa fh^gamma`.
    pub kappa_fh_pow: f64,
    /// `Phi'(fh)` (stable form, [`phi_prime_from`]).
    pub phi_prime: f64,
}

/// The face kernels of the linear reverse equation for fixed `(D, kappa, gamma, lambda, h)`.
#[derive(Clone, Copy, Debug)]
pub struct ReverseFace {
    /// `eps / h = lambda D / h`.
    eps_over_h: f64,
    /// `h / eps` (unused when `lambda = 0`).
    h_over_eps: f64,
    /// Whether `lambda > 0` (otherwise pure upwind).
    diffusive: bool,
    /// `(1 + lambda) D`, the score coefficient.
    score_coeff: f64,
    /// `1 / h`.
    inv_h: f64,
    kappa: f64,
    gamma: f64,
    inv_gamma: f64,
    ln_kappa: f64,
}

impl ReverseFace {
    /// Kernels for diffusion `D > 0`, `kappa >= 0`, `gamma > 0`, `lambda >= 0`, cell width `h`.
    pub fn new(diffusion: f64, kappa: f64, gamma: f64, lambda: f64, h: f64) -> Self {
        let eps = lambda * diffusion;
        ReverseFace {
            eps_over_h: eps / h,
            h_over_eps: if eps > 0.0 { h / eps } else { 0.0 },
            diffusive: eps > 0.0,
            score_coeff: (1.0 + lambda) * diffusion,
            inv_h: 1.0 / h,
            kappa,
            gamma,
            inv_gamma: 1.0 / gamma,
            ln_kappa: kappa.ln(),
        }
    }

    /// Whether `kappa > 0` (otherwise `G_f = 1` and [`ForwardAux`] needs only `ln fh`).
    #[inline(always)]
    pub fn nonlinear(&self) -> bool {
        self.kappa > 0.0
    }

    /// `(k_plus, k_minus)` for face velocity `v` (see the module doc):
    /// `k_plus = c + max(v, 0)`, `k_minus = c + max(-v, 0)`, `c = (eps/h) B(|v| h / eps)`
    /// (`c = 0` when `lambda = 0`: upwind).
    #[inline(always)]
    pub fn rates(&self, v: f64) -> (f64, f64) {
        let c = if self.diffusive {
            self.eps_over_h * bernoulli_abs(v.abs() * self.h_over_eps)
        } else {
            0.0
        };
        (c + v.max(0.0), c + (-v).max(0.0))
    }

    /// `V_f = x_f g_f + (1 + lambda) D s_f` from a face value `g_f` of `1 + kappa fh^gamma` and the
    /// score `s_f` along the axis.
    #[inline(always)]
    pub fn velocity(&self, x_f: f64, g_f: f64, score_f: f64) -> f64 {
        x_f * g_f + self.score_coeff * score_f
    }

    /// Per-cell values from `ln fh` (already floored): `kappa fh^gamma = kappa exp(gamma ln fh)`
    /// by the branch-free [`math::exp`].
    #[inline(always)]
    pub fn aux(&self, ln_fh: f64) -> ForwardAux {
        if self.kappa > 0.0 {
            let kappa_fh_pow = self.kappa * math::exp(self.gamma * ln_fh);
            ForwardAux {
                ln_fh,
                kappa_fh_pow,
                phi_prime: phi_prime_from(ln_fh, kappa_fh_pow, self.inv_gamma, self.ln_kappa),
            }
        } else {
            ForwardAux {
                ln_fh,
                kappa_fh_pow: 0.0,
                phi_prime: ln_fh,
            }
        }
    }

    /// The grid face value `G_f` of `1 + kappa fh^gamma` (module doc): the Scharfetter–Gummel
    /// mean `(ln fh_R - ln fh_L) / (Phi'(fh_R) - Phi'(fh_L))`, its equal-value limit
    /// `1 + sqrt(kappa fh_L^gamma kappa fh_R^gamma)`, or 1 when `kappa = 0`.
    #[inline(always)]
    pub fn mean_g(&self, l: ForwardAux, r: ForwardAux) -> f64 {
        if self.kappa == 0.0 {
            return 1.0;
        }
        let d_ln = r.ln_fh - l.ln_fh;
        let d_phi = r.phi_prime - l.phi_prime;
        if d_ln.abs() < 1e-9 || d_phi == 0.0 {
            1.0 + (l.kappa_fh_pow * r.kappa_fh_pow).sqrt()
        } else {
            d_ln / d_phi
        }
    }

    /// `(k_plus, k_minus)` at a face at `x_f` between cells with forward values `l`, `r` (grid
    /// score `s_f = (ln fh_R - ln fh_L) / h`, grid mean `G_f`).
    #[inline(always)]
    pub fn grid_rates(&self, x_f: f64, l: ForwardAux, r: ForwardAux) -> (f64, f64) {
        let s_f = (r.ln_fh - l.ln_fh) * self.inv_h;
        self.rates(self.velocity(x_f, self.mean_g(l, r), s_f))
    }

    /// `(k_plus, k_minus)` at a face at `x_f` from the closure values at the face: `fh` and the
    /// score component `s_f` along the axis (`G_f = 1 + kappa fh^gamma`).
    #[inline(always)]
    pub fn closure_rates(&self, x_f: f64, fh: f64, s_f: f64) -> (f64, f64) {
        let g = if self.kappa > 0.0 {
            1.0 + self.kappa * fh.powf(self.gamma)
        } else {
            1.0
        };
        self.rates(self.velocity(x_f, g, s_f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bernoulli_values_and_limits() {
        assert_eq!(bernoulli_abs(0.0), 1.0);
        assert!((bernoulli_abs(1.0) - 1.0 / (1f64.exp() - 1.0)).abs() < 1e-15);
        assert!((bernoulli_abs(1e-10) - (1.0 - 0.5e-10)).abs() < 1e-16);
        assert_eq!(bernoulli_abs(800.0), 0.0);
        assert_eq!(bernoulli_abs(f64::INFINITY), 0.0);
        assert!(bernoulli_abs(700.0) > 0.0);
    }

    /// `k_plus = (eps/h) B(-Pe)`, `k_minus = (eps/h) B(Pe)` against the direct formula.
    #[test]
    fn rates_are_scharfetter_gummel() {
        let (d, lambda, h) = (0.7, 1.3, 0.05);
        let face = ReverseFace::new(d, 0.0, 2.0, lambda, h);
        let eps = lambda * d;
        for v in [-30.0, -2.0, -1e-3, 0.0, 1e-7, 0.4, 5.0, 60.0] {
            let pe: f64 = v * h / eps;
            let b = |z: f64| if z == 0.0 { 1.0 } else { z / z.exp_m1() };
            let (kp, km) = face.rates(v);
            assert!(kp >= 0.0 && km >= 0.0);
            let (ep, em) = (eps / h * b(-pe), eps / h * b(pe));
            assert!((kp - ep).abs() <= 1e-13 * ep, "{v}: {kp} vs {ep}");
            assert!(
                (km - em).abs() <= 1e-13 * em.max(1e-300),
                "{v}: {km} vs {em}"
            );
        }
    }

    /// Scharfetter–Gummel tends to upwind as lambda -> 0, and is upwind at lambda = 0.
    #[test]
    fn sg_tends_to_upwind_as_lambda_vanishes() {
        let (d, h) = (1.0, 0.1);
        for v in [-3.0f64, -0.2, 0.5, 4.0] {
            let up = (v.max(0.0), (-v).max(0.0));
            assert_eq!(ReverseFace::new(d, 0.0, 2.0, 0.0, h).rates(v), up);
            let mut prev = f64::INFINITY;
            for lambda in [1e-1, 1e-2, 1e-3, 1e-4, 1e-6] {
                let (kp, km) = ReverseFace::new(d, 0.0, 2.0, lambda, h).rates(v);
                let err = (kp - up.0).abs() + (km - up.1).abs();
                assert!(err <= prev, "lambda {lambda}: {err} > {prev}");
                // The diffusive excess is (eps/h) B(|Pe|) <= (eps/h) (1 + ...) -> 0.
                assert!(
                    err <= 2.0 * lambda * d / h + 1e-15,
                    "lambda {lambda}: {err}"
                );
                prev = err;
            }
            assert!(prev < 1e-12, "{v}: {prev}");
        }
        // v = 0: pure diffusion, eps/h both ways.
        let (kp, km) = ReverseFace::new(d, 0.0, 2.0, 0.5, h).rates(0.0);
        assert_eq!((kp, km), (5.0, 5.0));
    }

    /// For constant V the zero-flux ratio u_R/u_L = k_plus/k_minus is exactly exp(V h/(lambda D)).
    #[test]
    fn constant_velocity_equilibrium_is_exact() {
        let (d, lambda, h) = (0.8, 1.0, 0.1);
        let face = ReverseFace::new(d, 0.0, 2.0, lambda, h);
        for v in [-50.0, -3.0, -0.1, 0.0, 1e-9, 0.7, 12.0, 60.0] {
            let (kp, km) = face.rates(v);
            let ratio = kp / km;
            let exact = (v * h / (lambda * d)).exp();
            assert!(
                (ratio - exact).abs() <= 1e-13 * exact,
                "{v}: {ratio} vs {exact}"
            );
            // A chain of cells in this ratio carries zero flux through every face.
            let (ul, ur) = (0.3, 0.3 * exact);
            let flux = kp * ul - km * ur;
            assert!(flux.abs() <= 1e-13 * kp * ul, "{v}: {flux}");
        }
    }

    /// The grid face velocity: score from log differences, G from the SG mean; the nodal forward
    /// steady states f_beta are exact discrete steady states of the reverse scheme for every
    /// lambda (and give V_f = 0 at lambda = 0).
    #[test]
    fn forward_steady_states_are_reverse_steady_states() {
        let (kappa, gamma, d, beta, h) = (1.0, 3.0, 0.7, 0.2, 0.1);
        let f_beta = |x: f64| {
            f64::powf(kappa, -1.0 / gamma)
                * f64::powf((gamma * (x * x / (2.0 * d) + beta)).exp_m1(), -1.0 / gamma)
        };
        for lambda in [0.0, 0.3, 1.0, 2.0] {
            let face = ReverseFace::new(d, kappa, gamma, lambda, h);
            assert!(face.nonlinear());
            for k in -20..20 {
                let (xl, xr) = (k as f64 * h, (k + 1) as f64 * h);
                let (fl, fr) = (f_beta(xl), f_beta(xr));
                let (al, ar) = (face.aux(floored_ln(fl)), face.aux(floored_ln(fr)));
                let x_f = 0.5 * (xl + xr);
                let (kp, km) = face.grid_rates(x_f, al, ar);
                let flux = kp * fl - km * fr;
                // Round-off scale: the size of the terms that cancel in V_f and in F.
                let scale = (kp + km + x_f.abs() * face.mean_g(al, ar)) * (fl + fr);
                assert!(
                    flux.abs() < 1e-12 * scale,
                    "lambda {lambda} face {k}: {flux} ({kp} {km})"
                );
            }
        }
    }

    #[test]
    fn grid_score_is_log_difference_and_floor_keeps_it_finite() {
        let (d, lambda, h) = (0.5, 1.0, 0.2);
        let face = ReverseFace::new(d, 0.0, 2.0, lambda, h);
        let (fl, fr) = (0.2f64, 0.5f64);
        let v = face.velocity(-0.3, 1.0, (fr.ln() - fl.ln()) / h);
        let (kp, km) = face.grid_rates(-0.3, face.aux(fl.ln()), face.aux(fr.ln()));
        assert_eq!((kp, km), face.rates(v));
        // A zero forward value: the score is large, finite and points to the positive cell.
        let (kp, km) = face.grid_rates(0.0, face.aux(floored_ln(0.0)), face.aux(fr.ln()));
        assert!(kp.is_finite() && km.is_finite());
        assert!(kp > 1e3 && km < 1e-300, "{kp} {km}");
        // Closure rates with kappa = 0 ignore fh.
        assert_eq!(
            face.closure_rates(0.4, 123.0, 0.7),
            face.rates(face.velocity(0.4, 1.0, 0.7))
        );
    }
}
