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
//!
//! Also here: the memorisation weights of the exact reverse dynamics started from the
//! data-independent state ([`memorisation_weights`]) and the closed forms behind the sqrt(t)
//! concentration law ([`point_mass_mean_square_distance`], [`mixture_mean_square_distance`]).

use super::quadrature::tanh_sinh;

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

    /// `(f(t, x), grad log f(t, x))` of the mixture evolved to time `t` by the OU flow
    /// (`t >= 0`), without building the evolved mixture (no allocation: this is the exact score
    /// closure of the classical baseline, called once per face and stage). Equal to
    /// `(evolve(t, D).density(x), evolve(t, D).score(x))` up to round-off; the density is
    /// `exp(max_k l_k) sum_k exp(l_k - max_k l_k)` (it underflows to 0 where `f` does, the score
    /// stays finite). In 1D the second score entry is 0.
    pub fn evolved_density_and_score(
        &self,
        t: f64,
        diffusion: f64,
        x: [f64; 2],
    ) -> (f64, [f64; 2]) {
        let a = (-t).exp();
        let noise = noise_variance(t, diffusion);
        let evolved = |c: &GaussianComponent| GaussianComponent {
            weight: c.weight,
            mean: [a * c.mean[0], a * c.mean[1]],
            std: (a * a * c.std * c.std + noise).sqrt(),
        };
        let m = self
            .components
            .iter()
            .map(|c| evolved(c).log_density(self.dim, x).0)
            .fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            return (0.0, [0.0; 2]);
        }
        let mut z = 0.0;
        let mut s = [0.0; 2];
        for c in &self.components {
            let e = evolved(c);
            let (l, inv_var) = e.log_density(self.dim, x);
            let p = (l - m).exp();
            z += p;
            s[0] += p * (e.mean[0] - x[0]) * inv_var;
            if self.dim > 1 {
                s[1] += p * (e.mean[1] - x[1]) * inv_var;
            }
        }
        (m.exp() * z, [s[0] / z, s[1] / z])
    }

    /// The responsibilities `p_k(x) = w_k N_k(x) / f(x)` (in log-sum-exp form, so they are
    /// defined where `f` underflows), written to `out` (one per component; all 0 if every weight
    /// is 0).
    pub fn responsibilities(&self, x: [f64; 2], out: &mut [f64]) {
        let m = self.max_log(x);
        if m == f64::NEG_INFINITY {
            out.fill(0.0);
            return;
        }
        let mut z = 0.0;
        for (o, c) in out.iter_mut().zip(&self.components) {
            *o = (c.log_density(self.dim, x).0 - m).exp();
            z += *o;
        }
        for o in out.iter_mut() {
            *o /= z;
        }
    }
}

/// The OU noise variance `sigma_t^2 = D (1 - e^-2t)` (with `expm1`: exact for small `t`).
pub fn noise_variance(t: f64, diffusion: f64) -> f64 {
    -diffusion * (-2.0 * t).exp_m1()
}

/// `E[g(Y)]` for `Y ~ N(centre, std^2 I_dim)` (`dim` = 1 or 2; in 1D `g` sees `y[1] = centre[1]`).
///
/// In the standardized variable `z = (y - centre) / std` the expectation is
/// `int phi(z) g(centre + std z) dz` over `|z_i| <= 9` (outside, the Gaussian mass is below
/// `3e-19`), split into six pieces of width 3, each integrated by the adaptive tanh-sinh rule of
/// [`super::quadrature`] (nested in 2D). Meant for bounded `g` that is smooth on the scale of
/// about a tenth of `std` (finer features need more refinement levels than the rule allows).
pub fn gaussian_expectation(
    dim: usize,
    centre: [f64; 2],
    std: f64,
    mut g: impl FnMut([f64; 2]) -> f64,
) -> f64 {
    // Piece boundaries -9, -6, ..., 9 in the standardized variable.
    const PIECES: [f64; 7] = [-9.0, -6.0, -3.0, 0.0, 3.0, 6.0, 9.0];
    fn line(mut g: impl FnMut(f64) -> f64) -> f64 {
        let phi = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        PIECES
            .windows(2)
            .map(|w| tanh_sinh(|z| phi(z) * g(z), w[0], w[1]))
            .sum()
    }
    if dim == 1 {
        line(|z| g([centre[0] + std * z, centre[1]]))
    } else {
        line(|z2| {
            let y2 = centre[1] + std * z2;
            line(|z1| g([centre[0] + std * z1, y2]))
        })
    }
}

/// The mass each data component carries at the end of the exact reverse dynamics (`lambda = 1`,
/// `kappa = 0`) run from `start` instead of `f(T)` (MODEL.md section 7, memorisation).
///
/// Derivation. With `u = fh w` the `lambda = 1` reverse equation is the backward Kolmogorov
/// equation of the OU process (MODEL.md section 6), so `w(t, x) = E[w(T, X_T) | X_t = x]` and,
/// started from `w(T) = q / f_T` (`q` the start density, `f_T` the forward state at `T`),
///
/// ```text
/// u(0, x) = f_0(x) E[ q(X_T) / f_T(X_T) | X_0 = x ].
/// ```
///
/// The part of `u(0)` carried by data component `k` (`a_k N(mu_k, s_k^2 I)`) has mass
/// `a_k E[q(Y) / f_T(Y)]`, `Y ~ N(e^-T mu_k, (e^-2T s_k^2 + sigma_T^2) I)` (the law of `X_T`
/// started from that component). Since `a_k N_{k,T}(y) / f_T(y) = p_k(y)` is the responsibility
/// of component `k` in `f_T`, this is
///
/// ```text
/// W_k = int q(y) p_k(y) dy = m_q E_{Y ~ q / m_q}[ p_k(Y) ],
/// ```
///
/// a bounded integrand (`0 <= p_k <= 1`), evaluated by [`gaussian_expectation`]. `sum_k W_k = m_q`;
/// starting from `q = f_T` gives `W_k = a_k`. For narrow peaks (`s_k -> 0`) `W_k` is the mass the
/// reverse run puts back on training point `k`. `start` is an isotropic Gaussian with mass
/// `start.weight`. Accurate while the components of `f_T` are not much narrower than a tenth of
/// `start.std` relative to their separations (fine for `T` of order 0.1 and above at `D = 1`).
pub fn reverse_component_masses(
    data: &GaussianMixture,
    t_final: f64,
    diffusion: f64,
    start: GaussianComponent,
) -> Vec<f64> {
    let f_t = data.evolve(t_final, diffusion);
    let k = data.components.len();
    let mut p = vec![0.0; k];
    (0..k)
        .map(|c| {
            start.weight
                * gaussian_expectation(data.dim, start.mean, start.std, |y| {
                    f_t.responsibilities(y, &mut p);
                    p[c]
                })
        })
        .collect()
}

/// [`reverse_component_masses`] from the data-independent start `q = m N(0, D I)` (the OU
/// asymptotic state of the data mass `m`): the memorisation weights.
pub fn memorisation_weights(data: &GaussianMixture, t_final: f64, diffusion: f64) -> Vec<f64> {
    let start = GaussianComponent {
        weight: data.total_mass(),
        mean: [0.0, 0.0],
        std: diffusion.sqrt(),
    };
    reverse_component_masses(data, t_final, diffusion, start)
}

/// `E|X_t - e^-t x0|^2 = dim sigma_t^2` for the OU process started from a point mass at `x0`
/// (`sigma_t^2 = D (1 - e^-2t) = 2 D t + O(t^2)`): the spread behind the sqrt(t) concentration
/// law, `2 D codim t` with `codim = dim` for point data.
pub fn point_mass_mean_square_spread(dim: usize, t: f64, diffusion: f64) -> f64 {
    dim as f64 * noise_variance(t, diffusion)
}

/// `E|X_t - x0|^2 = dim sigma_t^2 + (1 - e^-t)^2 |x0|^2` for the OU process started from a point
/// mass at `x0` (distance to the data point itself; `2 D dim t + O(t^2)`).
pub fn point_mass_mean_square_distance(dim: usize, t: f64, diffusion: f64, x0: [f64; 2]) -> f64 {
    let shrink = -(-t).exp_m1(); // 1 - e^-t
    point_mass_mean_square_spread(dim, t, diffusion) + shrink * shrink * dist2(dim, x0, [0.0; 2])
}

/// The mean over the mass of `f_t` of the squared distance from a sample to the mean of the data
/// component it came from: `sum_k (a_k/m) [dim (e^-2t s_k^2 + sigma_t^2) + (1 - e^-t)^2 |mu_k|^2]`.
/// For well-separated narrow peaks and small `t` this is the mean squared distance to the
/// nearest data point (up to exponentially small misassignment), `~ 2 D dim t + dim s^2`: the
/// sqrt(t) concentration law of exact reverse samples at forward time `t`.
pub fn mixture_mean_square_distance(data: &GaussianMixture, t: f64, diffusion: f64) -> f64 {
    let m = data.total_mass();
    let a2 = (-2.0 * t).exp();
    let noise = noise_variance(t, diffusion);
    let shrink = -(-t).exp_m1();
    data.components
        .iter()
        .map(|c| {
            c.weight
                * (data.dim as f64 * (a2 * c.std * c.std + noise)
                    + shrink * shrink * dist2(data.dim, c.mean, [0.0; 2]))
        })
        .sum::<f64>()
        / m
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

    /// The allocation-free evolved density and score equal those of the evolved mixture.
    #[test]
    fn evolved_density_and_score_match_evolve() {
        let d = 0.7;
        for mix in [mix2(), mix1()] {
            for &t in &[0.0, 0.01, 0.5, 3.0] {
                let e = mix.evolve(t, d);
                for &x in &[[0.0, 0.0], [1.4, -0.4], [-3.0, 2.5], [40.0, -35.0]] {
                    let (f, s) = mix.evolved_density_and_score(t, d, x);
                    let (fe, se) = (e.density(x), e.score(x));
                    assert!((f - fe).abs() <= 1e-13 * fe, "t {t} x {x:?}: {f} vs {fe}");
                    for ax in 0..2 {
                        assert!((s[ax] - se[ax]).abs() <= 1e-12 * (1.0 + se[ax].abs()));
                    }
                }
            }
        }
    }

    #[test]
    fn responsibilities_sum_to_one() {
        let m = mix2().evolve(0.3, 0.7);
        let mut p = [0.0; 3];
        for &x in &[[0.0, 0.0], [1.4, -0.4], [400.0, -300.0]] {
            m.responsibilities(x, &mut p);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15, "{x:?}");
            let f = m.density(x);
            if f > 1e-200 {
                let direct = m.components[0].log_density(2, x).0.exp() / f;
                assert!((p[0] - direct).abs() < 1e-13, "{x:?}");
            }
        }
    }

    #[test]
    fn gaussian_expectation_of_moments() {
        for dim in [1, 2] {
            let (c, s) = ([0.3, -1.2], 0.8);
            let one = gaussian_expectation(dim, c, s, |_| 1.0);
            let mean = gaussian_expectation(dim, c, s, |y| y[0]);
            let var = gaussian_expectation(dim, c, s, |y| dist2(dim, y, c));
            let fourth = gaussian_expectation(dim, c, s, |y| (y[0] - c[0]).powi(4));
            assert!((one - 1.0).abs() < 1e-14, "{one}");
            assert!((mean - 0.3).abs() < 1e-14, "{mean}");
            assert!((var - dim as f64 * 0.64).abs() < 1e-14, "{var}");
            assert!((fourth - 3.0 * 0.64 * 0.64).abs() < 1e-13, "{fourth}");
        }
    }

    fn peaks1() -> GaussianMixture {
        let c = |weight: f64, x: f64| GaussianComponent {
            weight,
            mean: [x, 0.0],
            std: 0.05,
        };
        GaussianMixture::new(1, vec![c(0.5, -2.0), c(0.3, 0.5), c(0.7, 2.5)])
    }

    fn peaks2() -> GaussianMixture {
        let c = |weight: f64, x: f64, y: f64| GaussianComponent {
            weight,
            mean: [x, y],
            std: 0.05,
        };
        GaussianMixture::new(
            2,
            vec![c(0.5, -1.5, 0.5), c(0.3, 1.0, 1.0), c(0.7, 0.5, -1.5)],
        )
    }

    /// `int_a^b` by tanh-sinh on about eight pieces (for the independent checks below).
    fn pieces(mut f: impl FnMut(f64) -> f64, a: f64, b: f64) -> f64 {
        let n = 8;
        let w = (b - a) / n as f64;
        (0..n)
            .map(|i| tanh_sinh(&mut f, a + i as f64 * w, a + (i + 1) as f64 * w))
            .sum()
    }

    /// Memorisation weights (responsibility form, quadrature under q) against the derivation's
    /// other forms by independent quadratures: in 1D the literal backward-Kolmogorov double
    /// integral `int a_k N_k(x) int N(y; e^-T x, sigma_T^2) q(y)/f_T(y) dy dx`, in 1D and 2D the
    /// form `a_k E[q(Y)/f_T(Y)]`, `Y ~ N_{k,T}`, integrated in y around the component. To 1e-10
    /// (the measured agreement is ~1e-16).
    #[test]
    fn memorisation_weights_match_direct_quadrature() {
        let d = 1.0;
        for (data, t) in [(peaks1(), 0.7), (peaks1(), 0.25), (peaks2(), 0.7)] {
            let dim = data.dim;
            let m = data.total_mass();
            let w = memorisation_weights(&data, t, d);
            let f_t = data.evolve(t, d);
            let ln_q = |y: [f64; 2]| {
                m.ln()
                    - 0.5 * dim as f64 * (2.0 * std::f64::consts::PI * d).ln()
                    - 0.5 * dist2(dim, y, [0.0; 2]) / d
            };
            let ratio = |y: [f64; 2]| (ln_q(y) - f_t.log_density(y)).exp();
            assert!((w.iter().sum::<f64>() - m).abs() < 1e-10 * m, "{w:?}");
            for (k, (c, ck)) in f_t.components.iter().zip(&data.components).enumerate() {
                // a_k E[q(Y)/f_T(Y)], Y ~ N(nu_k, tau_k^2 I), in y over nu_k +- 12 tau_k.
                let (nu, tau) = (c.mean, c.std);
                let norm = (2.0 * std::f64::consts::PI * tau * tau).sqrt();
                let g1 = |y: f64, y2: f64| {
                    let r2 = (y - nu[0]).powi(2);
                    (-0.5 * r2 / (tau * tau)).exp() / norm * ratio([y, y2])
                };
                let e = if dim == 1 {
                    pieces(|y| g1(y, 0.0), nu[0] - 12.0 * tau, nu[0] + 12.0 * tau)
                } else {
                    pieces(
                        |y2| {
                            let gy2 = (-0.5 * (y2 - nu[1]).powi(2) / (tau * tau)).exp() / norm;
                            gy2 * pieces(|y| g1(y, y2), nu[0] - 12.0 * tau, nu[0] + 12.0 * tau)
                        },
                        nu[1] - 12.0 * tau,
                        nu[1] + 12.0 * tau,
                    )
                };
                let direct = ck.weight * e;
                assert!(
                    (w[k] - direct).abs() < 1e-10 * m,
                    "k {k}: {} vs {direct}",
                    w[k]
                );
                if dim == 1 {
                    // The literal double integral over the data component and the OU kernel.
                    let (a, sig2) = ((-t).exp(), noise_variance(t, d));
                    let kernel_norm = (2.0 * std::f64::consts::PI * sig2).sqrt();
                    let w_x = |x: f64| {
                        let c = a * x;
                        let s = sig2.sqrt();
                        pieces(
                            |y| {
                                (-0.5 * (y - c).powi(2) / sig2).exp() / kernel_norm
                                    * ratio([y, 0.0])
                            },
                            c - 12.0 * s,
                            c + 12.0 * s,
                        )
                    };
                    let s0 = ck.std;
                    let n0 = (2.0 * std::f64::consts::PI * s0 * s0).sqrt();
                    let double = ck.weight
                        * pieces(
                            |x| (-0.5 * ((x - ck.mean[0]) / s0).powi(2)).exp() / n0 * w_x(x),
                            ck.mean[0] - 12.0 * s0,
                            ck.mean[0] + 12.0 * s0,
                        );
                    assert!(
                        (w[k] - double).abs() < 1e-10 * m,
                        "k {k}: {} vs {double}",
                        w[k]
                    );
                }
            }
            // Memorisation is not trivial here: the weights differ from the data weights.
            let shift: f64 = w
                .iter()
                .zip(&data.components)
                .map(|(a, c)| (a - c.weight).abs())
                .sum();
            assert!(shift > 1e-2, "{w:?}");
        }
        // Started from f_T itself (here: T large, f_T = the Maxwellian of mass m) the weights
        // are the data weights.
        let data = peaks1();
        let w = memorisation_weights(&data, 40.0, d);
        for (a, c) in w.iter().zip(&data.components) {
            assert!((a - c.weight).abs() < 1e-12, "{a} vs {}", c.weight);
        }
    }

    /// The concentration law: point-mass closed forms against quadrature of the evolved density,
    /// the mixture form against the mean squared distance to the nearest data point, and the
    /// small-t limit 2 D dim t.
    #[test]
    fn sqrt_t_concentration_law() {
        let d = 0.8;
        // A point mass at x0 in 1D: E|X_t - x0|^2 by quadrature of the evolved Gaussian.
        let x0 = [1.3, 0.0];
        for &t in &[1e-3, 0.1, 1.0] {
            let p = GaussianMixture::new(
                1,
                vec![GaussianComponent {
                    weight: 1.0,
                    mean: x0,
                    std: 0.0,
                }],
            )
            .evolve(t, d);
            let m2 = pieces(|x| p.density([x, 0.0]) * (x - x0[0]).powi(2), -12.0, 12.0);
            let exact = point_mass_mean_square_distance(1, t, d, x0);
            assert!((m2 - exact).abs() < 1e-10 * exact, "t {t}: {m2} vs {exact}");
            let c = p.components[0].mean[0];
            let spread = pieces(|x| p.density([x, 0.0]) * (x - c).powi(2), -12.0, 12.0);
            let s_exact = point_mass_mean_square_spread(1, t, d);
            assert!(
                (spread - s_exact).abs() < 1e-10 * s_exact,
                "{spread} vs {s_exact}"
            );
        }
        // Narrow peaks, small t: distance to the nearest data point.
        for data in [peaks1(), peaks2()] {
            let dim = data.dim;
            let m = data.total_mass();
            let nearest = |y: [f64; 2]| {
                data.components
                    .iter()
                    .map(|c| dist2(dim, y, c.mean))
                    .fold(f64::INFINITY, f64::min)
            };
            for &t in &[1e-3, 4e-3] {
                let f = data.evolve(t, d);
                let msd = if dim == 1 {
                    pieces(|x| f.density([x, 0.0]) * nearest([x, 0.0]), -6.0, 6.0) / m
                } else {
                    pieces(
                        |y| pieces(|x| f.density([x, y]) * nearest([x, y]), -4.0, 4.0),
                        -4.0,
                        4.0,
                    ) / m
                };
                let exact = mixture_mean_square_distance(&data, t, d);
                assert!(
                    (msd - exact).abs() < 1e-6 * exact,
                    "t {t}: {msd} vs {exact}"
                );
                // ~ 2 D dim t + dim s^2 (s = 0.05), to O(t^2) and O(t |mu|^2 t).
                let law = 2.0 * d * dim as f64 * t + dim as f64 * 0.05 * 0.05;
                assert!((exact - law).abs() < 0.05 * law, "t {t}: {exact} vs {law}");
            }
        }
        // Point data: (E|X_t - x0|^2) / (2 D dim t) -> 1 as t -> 0.
        for dim in [1, 2] {
            let r = |t: f64| {
                point_mass_mean_square_distance(dim, t, d, [0.5, -0.5]) / (2.0 * d * dim as f64 * t)
            };
            assert!((r(1e-8) - 1.0).abs() < 1e-7);
            assert!((r(1e-4) - 1.0).abs() < 1e-3);
        }
    }
}
