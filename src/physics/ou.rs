//! Exact solution of the linear baseline (`kappa = 0`, MODEL.md section 7) for Gaussian mixtures.
//!
//! The Ornstein–Uhlenbeck equation `d_t f = D Lap f + div(x f)` is the law of
//! `X_t = e^-t X_0 + sigma_t Z`, `sigma_t^2 = D (1 - e^-2t)`. An isotropic Gaussian component
//! `N(mu, s^2 I)` of weight `w` therefore stays Gaussian with
//!
//! ```text
//! mu -> e^-t mu,      s^2 -> e^-2t s^2 + D (1 - e^-2t),      w -> w,
//! ```
//!
//! and a mixture stays a mixture; as `t -> inf` every mixture tends to the Maxwellian
//! `m (2 pi D)^(-d/2) exp(-|x|^2/(2D))` of the same mass `m`. The density is normalised to the
//! total weight (a mass, not a probability), and the score `grad log f` is evaluated in
//! log-sum-exp form, so it stays finite where the density itself underflows.

/// One isotropic Gaussian component `w N(mean, std^2 I)` (in 1D only `mean[0]` is used).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianComponent {
    /// Mass of the component (its integral), `>= 0`.
    pub weight: f64,
    /// Centre; `mean[1]` is ignored in 1D.
    pub mean: [f64; 2],
    /// Standard deviation per axis, `>= 0` (`0` is a Dirac mass: allowed as data for
    /// [`GaussianMixture::evolve`] with `t > 0`, not for [`GaussianMixture::density`]).
    pub std: f64,
}

/// A weighted sum of isotropic Gaussians on `R^dim`, `dim` = 1 or 2.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    /// Space dimension (1 or 2).
    pub dim: usize,
    /// The components.
    pub components: Vec<GaussianComponent>,
}

impl GaussianComponent {
    /// `log( w (2 pi s^2)^(-d/2) exp(-|x - mu|^2 / (2 s^2)) )` and `1/s^2`.
    #[inline]
    fn log_density(&self, dim: usize, x: [f64; 2]) -> (f64, f64) {
        let var = self.std * self.std;
        let r2 = dist2(dim, x, self.mean);
        let log = self.weight.ln()
            - 0.5 * dim as f64 * (2.0 * std::f64::consts::PI * var).ln()
            - 0.5 * r2 / var;
        (log, 1.0 / var)
    }
}

impl GaussianMixture {
    /// The mixture `sum_k components[k]` on `R^dim`.
    pub fn new(dim: usize, components: Vec<GaussianComponent>) -> GaussianMixture {
        debug_assert!(dim == 1 || dim == 2, "dim must be 1 or 2");
        GaussianMixture { dim, components }
    }

    /// Total mass `sum_k weight_k` (the integral of [`GaussianMixture::density`]).
    pub fn total_mass(&self) -> f64 {
        self.components.iter().map(|c| c.weight).sum()
    }

    /// The exact OU solution at time `t >= 0` started from `self` at time 0:
    /// `mu -> e^-t mu`, `s^2 -> e^-2t s^2 + D (1 - e^-2t)` (computed with `expm1`, so it is exact
    /// to round-off for small `t` too), weights unchanged.
    pub fn evolve(&self, t: f64, diffusion: f64) -> GaussianMixture {
        let a = (-t).exp();
        let noise = -diffusion * (-2.0 * t).exp_m1(); // D (1 - e^-2t)
        let components = self
            .components
            .iter()
            .map(|c| GaussianComponent {
                weight: c.weight,
                mean: [a * c.mean[0], a * c.mean[1]],
                std: (a * a * c.std * c.std + noise).sqrt(),
            })
            .collect();
        GaussianMixture {
            dim: self.dim,
            components,
        }
    }

    /// `f(x) = sum_k w_k (2 pi s_k^2)^(-d/2) exp(-|x - mu_k|^2 / (2 s_k^2))` (`x[1]` ignored in 1D).
    pub fn density(&self, x: [f64; 2]) -> f64 {
        self.components
            .iter()
            .map(|c| c.log_density(self.dim, x).0.exp())
            .sum()
    }

    /// `log f(x)` in log-sum-exp form (finite where `f` underflows; `-inf` if all weights are 0).
    pub fn log_density(&self, x: [f64; 2]) -> f64 {
        let m = self.max_log(x);
        if m == f64::NEG_INFINITY {
            return m;
        }
        let z: f64 = self
            .components
            .iter()
            .map(|c| (c.log_density(self.dim, x).0 - m).exp())
            .sum();
        m + z.ln()
    }

    /// Score `grad log f(x) = sum_k p_k(x) (mu_k - x) / s_k^2`, with the responsibilities
    /// `p_k = exp(l_k - max_j l_j) / sum_j exp(l_j - max_j l_j)` of the log-densities `l_k`
    /// (log-sum-exp form: no underflow far from the data). In 1D the second entry is 0.
    /// `[0, 0]` if all weights are 0.
    pub fn score(&self, x: [f64; 2]) -> [f64; 2] {
        let m = self.max_log(x);
        if m == f64::NEG_INFINITY {
            return [0.0; 2];
        }
        let mut z = 0.0;
        let mut s = [0.0; 2];
        for c in &self.components {
            let (l, inv_var) = c.log_density(self.dim, x);
            let p = (l - m).exp();
            z += p;
            s[0] += p * (c.mean[0] - x[0]) * inv_var;
            if self.dim > 1 {
                s[1] += p * (c.mean[1] - x[1]) * inv_var;
            }
        }
        [s[0] / z, s[1] / z]
    }

    fn max_log(&self, x: [f64; 2]) -> f64 {
        self.components
            .iter()
            .map(|c| c.log_density(self.dim, x).0)
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

#[inline]
fn dist2(dim: usize, x: [f64; 2], y: [f64; 2]) -> f64 {
    let d0 = x[0] - y[0];
    if dim > 1 {
        let d1 = x[1] - y[1];
        d0 * d0 + d1 * d1
    } else {
        d0 * d0
    }
}

#[cfg(test)]
mod tests {
    use super::super::quadrature::tanh_sinh;
    use super::super::ModelParams;
    use super::*;

    fn mix2() -> GaussianMixture {
        GaussianMixture::new(
            2,
            vec![
                GaussianComponent {
                    weight: 0.7,
                    mean: [1.5, -0.5],
                    std: 0.4,
                },
                GaussianComponent {
                    weight: 1.3,
                    mean: [-1.0, 1.0],
                    std: 0.8,
                },
                GaussianComponent {
                    weight: 0.5,
                    mean: [0.2, 2.0],
                    std: 0.25,
                },
            ],
        )
    }

    fn mix1() -> GaussianMixture {
        GaussianMixture::new(
            1,
            vec![
                GaussianComponent {
                    weight: 2.0,
                    mean: [-1.2, 99.0],
                    std: 0.3,
                },
                GaussianComponent {
                    weight: 0.4,
                    mean: [2.0, -99.0],
                    std: 0.6,
                },
            ],
        )
    }

    /// The evolved density satisfies d_t f = D Lap f + div(x f) (finite differences).
    #[test]
    fn evolved_density_solves_ou_equation() {
        let d = 0.7;
        for mix in [mix2(), mix1()] {
            let dim = mix.dim;
            for &t in &[0.05, 0.3, 2.0] {
                let f = |tt: f64, x: [f64; 2]| mix.evolve(tt, d).density(x);
                let (dt, h) = (1e-4, 1e-3);
                for &x in &[[0.0, 0.0], [1.2, -0.3], [-0.7, 1.4], [0.3, 2.1]] {
                    let f0 = f(t, x);
                    let dtf = (f(t + dt, x) - f(t - dt, x)) / (2.0 * dt);
                    let mut lap = 0.0;
                    let mut div = dim as f64 * f0;
                    for ax in 0..dim {
                        let mut xp = x;
                        let mut xm = x;
                        xp[ax] += h;
                        xm[ax] -= h;
                        let (fp, fm) = (f(t, xp), f(t, xm));
                        lap += (fp - 2.0 * f0 + fm) / (h * h);
                        div += x[ax] * (fp - fm) / (2.0 * h);
                    }
                    let rhs = d * lap + div;
                    let scale = dtf.abs() + d * lap.abs() + div.abs();
                    assert!(
                        (dtf - rhs).abs() < 1e-5 * scale,
                        "dim {dim} t {t} x {x:?}: {dtf} vs {rhs}"
                    );
                }
            }
        }
    }

    #[test]
    fn evolution_is_a_semigroup_and_tends_to_the_maxwellian() {
        let d = 0.7;
        let m = mix2();
        let a = m.evolve(0.4, d).evolve(0.9, d);
        let b = m.evolve(1.3, d);
        for (ca, cb) in a.components.iter().zip(&b.components) {
            assert!((ca.std - cb.std).abs() < 1e-15);
            assert!((ca.mean[0] - cb.mean[0]).abs() < 1e-15);
            assert!((ca.mean[1] - cb.mean[1]).abs() < 1e-15);
        }
        assert_eq!(m.evolve(0.0, d), m);
        // Dirac data is fine for t > 0.
        let dirac = GaussianMixture::new(
            1,
            vec![GaussianComponent {
                weight: 1.0,
                mean: [1.0, 0.0],
                std: 0.0,
            }],
        );
        let e = dirac.evolve(1e-6, d);
        let exact = (d * -(-2e-6f64).exp_m1()).sqrt(); // sqrt(D (1 - e^-2t))
        assert!((e.components[0].std - exact).abs() < 1e-15 * exact);
        assert!((e.components[0].std - (2e-6 * d).sqrt()).abs() < 1e-6 * exact);
        // t -> inf: the kappa = 0 steady state of the same mass.
        let late = m.evolve(40.0, d);
        let ou = ModelParams::new(d, 0.0, 2.0);
        let beta = ou.beta_for_mass(2, m.total_mass()).unwrap();
        for &x in &[[0.0, 0.0], [1.0, -2.0], [3.0, 0.5]] {
            let r2 = x[0] * x[0] + x[1] * x[1];
            let fs = ou.steady_state(r2, beta);
            let fl = late.density(x);
            assert!((fl - fs).abs() < 1e-12 * fs, "{x:?}: {fl} vs {fs}");
        }
    }

    /// Mass by quadrature equals the sum of the weights.
    #[test]
    fn mass_is_the_weight_sum() {
        let d = 0.7;
        for &t in &[0.0, 0.5] {
            let m2 = mix2().evolve(t, d);
            let r = 10.0;
            let mass2 = tanh_sinh(
                |y: f64| tanh_sinh(|x: f64| m2.density([x, y]), -r, r),
                -r,
                r,
            );
            assert!(
                (mass2 - m2.total_mass()).abs() < 1e-12 * m2.total_mass(),
                "{mass2}"
            );
            let m1 = mix1().evolve(t, d);
            let mass1 = tanh_sinh(|x: f64| m1.density([x, 0.0]), -r, r);
            assert!((mass1 - 2.4).abs() < 1e-13 * 2.4, "{mass1}");
        }
    }

    /// Score against finite differences of log density, also where the density underflows.
    #[test]
    fn score_matches_gradient_of_log_density() {
        let d = 0.7;
        for mix in [mix2().evolve(0.1, d), mix1().evolve(0.1, d), mix2()] {
            let h = 1e-5;
            for &x in &[[0.0, 0.0], [1.4, -0.4], [-3.0, 2.5], [40.0, -35.0]] {
                let s = mix.score(x);
                for ax in 0..mix.dim {
                    let mut xp = x;
                    let mut xm = x;
                    xp[ax] += h;
                    xm[ax] -= h;
                    let fd = (mix.log_density(xp) - mix.log_density(xm)) / (2.0 * h);
                    assert!(
                        (s[ax] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                        "x {x:?} axis {ax}: {} vs {fd}",
                        s[ax]
                    );
                }
                if mix.dim == 1 {
                    assert_eq!(s[1], 0.0);
                }
                // Consistent with the plain density where it does not underflow.
                let f = mix.density(x);
                if f > 1e-200 {
                    assert!((mix.log_density(x) - f.ln()).abs() < 1e-13 * (1.0 + f.ln().abs()));
                }
            }
        }
        // Far away (density = 0 in floating point) the score is that of the widest component.
        let m = mix2();
        let x = [400.0, -300.0];
        assert_eq!(m.density(x), 0.0);
        let s = m.score(x);
        let c = m.components[1];
        let expect = [
            (c.mean[0] - x[0]) / (c.std * c.std),
            (c.mean[1] - x[1]) / (c.std * c.std),
        ];
        assert!((s[0] - expect[0]).abs() < 1e-12 * expect[0].abs());
        assert!((s[1] - expect[1]).abs() < 1e-12 * expect[1].abs());
    }
}
