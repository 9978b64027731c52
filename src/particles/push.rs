//! Pointwise kernels of a particle step: the semi-implicit drift of the forward SDE and the
//! reflection at the box walls. Pure functions of one particle's values.
//!
//! Forward SDE (MODEL.md section 2): `dX = -X (1 + kappa rho(X)^gamma) dt + sqrt(2D) dW`. The drift
//! grows superlinearly with the density, and explicit Euler–Maruyama diverges, so the drift
//! coefficient is frozen at the old position and the contraction taken implicitly:
//!
//! ```text
//! X <- X / (1 + dt (1 + kappa rho(X)^gamma)) + sqrt(2 D dt) xi,     xi ~ N(0, I)
//! ```
//!
//! which maps any `rho >= 0` to a contraction towards the origin (never past it).

use crate::physics::ModelParams;
use crate::scheme::power::Power;

/// The semi-implicit forward step for one step size `dt`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SemiImplicit {
    dt: f64,
    kappa: f64,
    power: Power,
    sigma: f64,
}

impl SemiImplicit {
    /// The step of size `dt` for `params`.
    pub fn new(params: &ModelParams, dt: f64) -> SemiImplicit {
        SemiImplicit {
            dt,
            kappa: params.kappa,
            power: Power::new(params.gamma),
            sigma: (2.0 * params.diffusion * dt).sqrt(),
        }
    }

    /// The contraction factor `1 / (1 + dt (1 + kappa rho^gamma))` at density `rho >= 0`.
    #[inline(always)]
    pub fn factor(&self, rho: f64) -> f64 {
        self.factor_of_power(self.power.eval(rho))
    }

    /// The contraction factor from `rho^gamma` (for loops that evaluate the power themselves,
    /// with the exponent's branch hoisted: see [`SemiImplicit::power`]).
    #[inline(always)]
    pub fn factor_of_power(&self, rho_gamma: f64) -> f64 {
        1.0 / (1.0 + self.dt * (1.0 + self.kappa * rho_gamma))
    }

    /// How `rho^gamma` is evaluated.
    pub fn power(&self) -> Power {
        self.power
    }

    /// The noise amplitude `sqrt(2 D dt)`.
    #[inline(always)]
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// One coordinate's update: `x * factor + sigma * xi`.
    #[inline(always)]
    pub fn advance(&self, x: f64, factor: f64, xi: f64) -> f64 {
        x * factor + self.sigma * xi
    }
}

/// Reflects `x` into `[-l, l]` (specular reflection at both walls, repeated for a jump of
/// several box widths): the image of `x` under the folding of period `4l`. Identity inside.
#[inline(always)]
pub fn reflect(x: f64, l: f64) -> f64 {
    if x.abs() <= l {
        return x;
    }
    let y = (x + l).rem_euclid(4.0 * l);
    if y <= 2.0 * l {
        y - l
    } else {
        3.0 * l - y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_folds_into_the_box() {
        let l = 2.0;
        assert_eq!(reflect(1.5, l), 1.5);
        assert_eq!(reflect(-2.0, l), -2.0);
        assert!((reflect(2.5, l) - 1.5).abs() < 1e-15);
        assert!((reflect(-2.5, l) + 1.5).abs() < 1e-15);
        assert!((reflect(6.5, l) + 1.5).abs() < 1e-15); // 6.5 = -1.5 + 8
        assert!((reflect(10.25, l) - 1.75).abs() < 1e-14); // 10.25 = 2.25 + 8
        for k in 0..1000 {
            let x = -37.0 + 0.0741 * k as f64;
            let r = reflect(x, l);
            assert!(r.abs() <= l, "{x} -> {r}");
        }
    }

    #[test]
    fn step_contracts_and_scales_noise() {
        let params = ModelParams::new(0.5, 2.0, 2.0);
        let s = SemiImplicit::new(&params, 0.01);
        assert!((s.sigma() - 0.1).abs() < 1e-15);
        assert!((s.factor(0.0) - 1.0 / 1.01).abs() < 1e-15);
        assert!((s.factor(3.0) - 1.0 / (1.0 + 0.01 * 19.0)).abs() < 1e-15);
        assert!(s.factor(1e300) >= 0.0);
        assert!((s.advance(2.0, 0.5, 1.0) - 1.1).abs() < 1e-15);
    }
}
