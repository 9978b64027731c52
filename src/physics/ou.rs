//! The exact Ornstein–Uhlenbeck (`kappa = 0`) solution for Gaussian-mixture data (MODEL.md
//! section 7): `d_t f = D Lap f + div(x f)`, `X_t = e^-t X_0 + sigma_t Z`,
//! `sigma_t^2 = D (1 - e^-2t)`. An isotropic Gaussian component keeps its weight, its mean moves
//! as `mu -> e^-t mu` and its variance as `s^2 -> e^-2t s^2 + D (1 - e^-2t)`.

/// One isotropic Gaussian component.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianComponent {
    /// Mass of the component.
    pub weight: f64,
    /// Mean `[x, y]` (`y` unused in 1D).
    pub mean: [f64; 2],
    /// Standard deviation per axis.
    pub std: f64,
}

/// A mixture of isotropic Gaussians in `dim` = 1 or 2 dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    /// Dimension.
    pub dim: usize,
    /// Components.
    pub components: Vec<GaussianComponent>,
}

impl GaussianMixture {
    /// The exact OU solution at time `t` started from this mixture.
    pub fn evolve(&self, t: f64, diffusion: f64) -> GaussianMixture {
        let decay = (-t).exp();
        let noise = -diffusion * (-2.0 * t).exp_m1(); // D (1 - e^-2t)
        GaussianMixture {
            dim: self.dim,
            components: self
                .components
                .iter()
                .map(|c| GaussianComponent {
                    weight: c.weight,
                    mean: [decay * c.mean[0], decay * c.mean[1]],
                    std: (decay * decay * c.std * c.std + noise).sqrt(),
                })
                .collect(),
        }
    }

    /// Squared distance to a component mean and the log of the component's density at `x`.
    fn log_component(&self, c: &GaussianComponent, x: [f64; 2]) -> (f64, f64) {
        let dx = x[0] - c.mean[0];
        let dy = if self.dim == 2 { x[1] - c.mean[1] } else { 0.0 };
        let var = c.std * c.std;
        let log_norm = -0.5 * self.dim as f64 * (2.0 * std::f64::consts::PI * var).ln();
        let r2 = dx * dx + dy * dy;
        (r2, c.weight.ln() + log_norm - 0.5 * r2 / var)
    }

    /// Density at `x`; total mass = sum of the weights.
    pub fn density(&self, x: [f64; 2]) -> f64 {
        self.components
            .iter()
            .map(|c| self.log_component(c, x).1.exp())
            .sum()
    }

    /// Score `grad log f` at `x`, in log-sum-exp form (stable far from every component).
    pub fn score(&self, x: [f64; 2]) -> [f64; 2] {
        let logs: Vec<f64> = self
            .components
            .iter()
            .map(|c| self.log_component(c, x).1)
            .collect();
        let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut num = [0.0; 2];
        let mut den = 0.0;
        for (c, l) in self.components.iter().zip(&logs) {
            let w = (l - top).exp();
            let var = c.std * c.std;
            num[0] += w * (c.mean[0] - x[0]) / var;
            if self.dim == 2 {
                num[1] += w * (c.mean[1] - x[1]) / var;
            }
            den += w;
        }
        [num[0] / den, num[1] / den]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mixture(dim: usize) -> GaussianMixture {
        GaussianMixture {
            dim,
            components: vec![
                GaussianComponent {
                    weight: 0.7,
                    mean: [1.0, -0.5],
                    std: 0.5,
                },
                GaussianComponent {
                    weight: 0.3,
                    mean: [-1.5, 0.8],
                    std: 0.7,
                },
            ],
        }
    }

    #[test]
    fn evolved_density_solves_the_ou_equation() {
        // d_t f = D Lap f + div(x f) = D Lap f + d f + x . grad f, by finite differences.
        let d = 0.8;
        for dim in [1usize, 2] {
            let m = mixture(dim);
            let (t, e) = (0.4, 1e-4);
            for x in [[0.3, 0.2], [-1.0, 0.7], [1.7, -1.1]] {
                let f = |t: f64, x: [f64; 2]| m.evolve(t, d).density(x);
                let dt = (f(t + e, x) - f(t - e, x)) / (2.0 * e);
                let mut rhs = dim as f64 * f(t, x);
                for axis in 0..dim {
                    let mut xp = x;
                    let mut xm = x;
                    xp[axis] += e;
                    xm[axis] -= e;
                    let (fp, f0, fm) = (f(t, xp), f(t, x), f(t, xm));
                    rhs += d * (fp - 2.0 * f0 + fm) / (e * e) + x[axis] * (fp - fm) / (2.0 * e);
                }
                assert!((dt - rhs).abs() < 1e-5, "dim {dim} x {x:?}: {dt} vs {rhs}");
            }
        }
    }

    #[test]
    fn mass_is_the_weight_sum_and_score_matches_log_gradient() {
        let m = mixture(1).evolve(0.3, 1.0);
        let h = 1e-3;
        let mass: f64 = (-12000..12000)
            .map(|k| m.density([(k as f64 + 0.5) * h, 0.0]) * h)
            .sum();
        assert!((mass - 1.0).abs() < 1e-10, "{mass}");
        let m2 = mixture(2);
        for x in [[0.1, 0.2], [3.0, -2.0], [-8.0, 9.0]] {
            let s = m2.score(x);
            for axis in 0..2 {
                let mut xp = x;
                let mut xm = x;
                xp[axis] += 1e-6;
                xm[axis] -= 1e-6;
                let fd = (m2.density(xp).ln() - m2.density(xm).ln()) / 2e-6;
                assert!(
                    (s[axis] - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                    "{x:?} {axis}"
                );
            }
        }
        // Far away the density underflows but the score stays finite.
        let far = m2.score([60.0, 60.0]);
        assert!(far[0].is_finite() && far[1].is_finite());
    }
}
