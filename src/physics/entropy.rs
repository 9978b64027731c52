//! Entropy of the gradient flow (MODEL.md section 2).
//!
//! ```text
//! H(f) = sum over cells h^d ( |x|^2/2 f + D Phi(f) ),
//! Phi(f) = f log f - (f/gamma) log(1 + kappa f^gamma) - G(f) = f Phi'(f) - G(f),   Phi(0) = 0,
//! G(f)   = int_0^f ds / (1 + kappa s^gamma),
//! ```
//!
//! so that `(f Phi' - G)' = Phi' + f/M - 1/(1 + kappa f^gamma) = Phi'`.
//!
//! # How `G` is evaluated
//!
//! `G` is needed per cell (up to ~1e6 cells per diagnostic), so there is no adaptive quadrature:
//! every branch below costs a bounded, small number of operations (at most ~30 series terms or
//! 14 Gauss–Legendre nodes) and is accurate to ~1e-15 relative (tested to 1e-12 against adaptive
//! quadrature for `1e-8 <= f <= 1e8`). With `w = kappa f^gamma`:
//!
//! - `kappa = 0`: `G = f`. `gamma = 2`: `G = atan(sqrt(kappa) f)/sqrt(kappa)`. `gamma = 1`:
//!   `G = log1p(kappa f)/kappa` (exact closed forms, the common cases).
//! - `w <= 1/4`: `G = f sum_n (-w)^n / (1 + n gamma)` (the hypergeometric series
//!   `f 2F1(1, 1/gamma; 1 + 1/gamma; -w)`; alternating, terms `<= 4^-n`, a handful of terms in
//!   the tails where `w` is tiny).
//! - `1/4 < w < 4`: in the log variable `s = f e^(y/gamma)` the integral is
//!   `G = (f/gamma) int_(-inf)^0 e^(y/gamma) / (1 + w e^y) dy`, whose integrand is analytic in the
//!   strip `|Im y| < pi` whatever `gamma` (poles at `w e^y = -1`), unlike the integrand in `s`, which
//!   is not smooth at `s = 0` for non-integer `gamma`. The part `y < y0 = log(1/(4w))` is
//!   `e^(y0/gamma) G(f_(1/4))/f_(1/4)` by the series; the rest, an interval of length at most
//!   `log 16`, takes a 14-point Gauss–Legendre rule (error below 1e-19 for `gamma >= 0.25`, from
//!   the Bernstein-ellipse bound with the poles at distance `pi`; checked in 40-digit arithmetic).
//! - `w >= 4`, `gamma >= 1.1`: the tail form
//!   `G = G_inf - f sum_n (-1)^n w^-(n+1) / (gamma (n+1) - 1)`,
//!   `G_inf = kappa^(-1/gamma) (pi/gamma) / sin(pi/gamma)` (the Beta integral `B(1/gamma, 1-1/gamma)`),
//!   which needs `gamma > 1`; the difference loses at most a factor ~10 to cancellation at
//!   `gamma = 1.1`, `w = 4`.
//! - `w >= 4`, `gamma < 1.1` (rare: no condensation in 1D or 2D): from the reference point
//!   `w0 = 4` (`f0 = f (4/w)^(1/gamma)`, `G(f0)` by the previous branch),
//!   `G = G(f0) + sum_n (-1)^n f0 4^-(n+1) expm1(p_n L)/p_n`, `p_n = 1 - gamma (n+1)`,
//!   `L = log(f/f0)` (the expansion of `1/(1 + kappa s^gamma)` in powers of `1/(kappa s^gamma) <= 1/4`,
//!   integrated termwise; `expm1(p L)/p -> L` as `p -> 0`, so `gamma = 1/k` is harmless).

use super::ModelParams;
use std::f64::consts::PI;

/// Upper end of the small-`w` series branch.
const W_LO: f64 = 0.25;
/// Lower end of the large-`w` branches.
const W_HI: f64 = 4.0;
/// Smallest `gamma` for the `G_inf` tail form.
const GAMMA_TAIL: f64 = 1.1;

/// Positive nodes and weights of the 14-point Gauss–Legendre rule on `[-1, 1]` (symmetric).
const GL14: [(f64, f64); 7] = [
    (0.10805494870734367, 0.2152638534631578),
    (0.31911236892788974, 0.2051984637212956),
    (0.5152486363581541, 0.18553839747793782),
    (0.6872929048116855, 0.15720316715819355),
    (0.827201315069765, 0.12151857068790319),
    (0.9284348836635735, 0.08015808715976021),
    (0.9862838086968123, 0.03511946033175186),
];

impl ModelParams {
    /// `G(f) = int_0^f ds / (1 + kappa s^gamma)` for `f >= 0` (see the module docs for the method).
    ///
    /// `G(0) = 0`, `G(f) = f` for `kappa = 0`, `G(+inf) = G_inf` for `gamma > 1`.
    #[inline]
    pub fn g_integral(&self, f: f64) -> f64 {
        let (k, g) = (self.kappa, self.gamma);
        if k == 0.0 || f == 0.0 {
            f
        } else if g == 2.0 {
            let s = k.sqrt();
            (s * f).atan() / s
        } else if g == 1.0 {
            (k * f).ln_1p() / k
        } else {
            g_general(f, k, g)
        }
    }

    /// `Phi(f) = f Phi'(f) - G(f) = f log f - (f/gamma) log(1 + kappa f^gamma) - G(f)`, with the
    /// stable [`ModelParams::phi_prime`]; `Phi(0) = 0`. Convex, `Phi'' = 1/M`.
    #[inline]
    pub fn phi(&self, f: f64) -> f64 {
        if f == 0.0 {
            return 0.0;
        }
        f * self.phi_prime(f) - self.g_integral(f)
    }

    /// Entropy density `|x|^2/2 f + D Phi(f)` at `r2 = |x|^2`; the entropy is
    /// `H = sum over cells h^d entropy_density(|x_i|^2, f_i)`, non-increasing along the flow.
    #[inline]
    pub fn entropy_density(&self, r2: f64, f: f64) -> f64 {
        0.5 * r2 * f + self.diffusion * self.phi(f)
    }

    /// `G_inf = int_0^inf ds / (1 + kappa s^gamma) = kappa^(-1/gamma) (pi/gamma) / sin(pi/gamma)`,
    /// `+inf` for `gamma <= 1` or `kappa = 0`.
    pub fn g_integral_limit(&self) -> f64 {
        if self.kappa == 0.0 || self.gamma <= 1.0 {
            f64::INFINITY
        } else {
            g_inf(self.kappa, self.gamma)
        }
    }
}

#[inline]
fn g_inf(k: f64, g: f64) -> f64 {
    k.powf(-1.0 / g) * (PI / g) / (PI / g).sin()
}

/// `G(f)` without the closed-form shortcuts (`kappa > 0`, `f > 0`).
#[inline]
fn g_general(f: f64, k: f64, g: f64) -> f64 {
    let w = k * f.powf(g);
    if w <= W_LO {
        f * small_series(w, g)
    } else if w < W_HI {
        f * middle(w, g)
    } else if w == f64::INFINITY {
        if g > 1.0 {
            g_inf(k, g)
        } else {
            f64::INFINITY
        }
    } else if g >= GAMMA_TAIL {
        g_inf(k, g) - f * tail_series(w, g)
    } else {
        from_reference(f, w, g)
    }
}

/// `G/f = sum_{n>=0} (-w)^n / (1 + n gamma)` for `0 <= w <= 1/4`.
#[inline]
fn small_series(w: f64, g: f64) -> f64 {
    let mut sum = 1.0;
    let mut pw = 1.0;
    let mut n = 0.0;
    while n < 64.0 {
        n += 1.0;
        pw *= -w;
        let t = pw / (1.0 + n * g);
        sum += t;
        if t.abs() <= 1e-17 * sum {
            break;
        }
    }
    sum
}

/// `G/f` for `1/4 < w < 4`: series part below `y0 = log(1/(4w))` plus 14-point Gauss–Legendre on
/// `(1/gamma) int_y0^0 e^(y/gamma) / (1 + w e^y) dy`.
#[inline]
fn middle(w: f64, g: f64) -> f64 {
    let y0 = (W_LO / w).ln();
    let half = 0.5 * y0; // midpoint and (negative) half-length of [y0, 0]
    let inv_g = 1.0 / g;
    let integrand = |y: f64| (y * inv_g).exp() / (1.0 + w * y.exp());
    let mut acc = 0.0;
    for &(x, wt) in GL14.iter() {
        acc += wt * (integrand(half * (1.0 - x)) + integrand(half * (1.0 + x)));
    }
    (y0 * inv_g).exp() * small_series(W_LO, g) - half * inv_g * acc
}

/// `T = sum_{n>=0} (-1)^n w^-(n+1) / (gamma (n+1) - 1)` for `w >= 4`, `gamma > 1`, so that
/// `G = G_inf - f T`.
#[inline]
fn tail_series(w: f64, g: f64) -> f64 {
    let q = -1.0 / w;
    let mut pw = -1.0;
    let mut sum = 0.0;
    let mut n = 0.0;
    while n < 64.0 {
        n += 1.0;
        pw *= q;
        let t = pw / (g * n - 1.0);
        sum += t;
        if t.abs() <= 1e-17 * sum.abs() {
            break;
        }
    }
    sum
}

/// `G(f)` for `w >= 4`, any `gamma` (module docs, last branch).
fn from_reference(f: f64, w: f64, g: f64) -> f64 {
    let ratio = W_HI / w;
    let f0 = f * ratio.powf(1.0 / g);
    let big_l = -ratio.ln() / g; // log(f / f0)
    let mut sum = f0 * middle(W_HI, g);
    let mut coef = f0;
    let mut n = 0.0;
    while n < 64.0 {
        n += 1.0;
        coef *= -1.0 / W_HI;
        let p = 1.0 - g * n;
        let e = if p == 0.0 {
            big_l
        } else {
            (p * big_l).exp_m1() / p
        };
        let t = -coef * e; // (-1)^(n-1) f0 4^-n E
        sum += t;
        if t.abs() <= 1e-17 * sum.abs() {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent reference: adaptive Gauss–Kronrod (7/15, QUADPACK qk15 constants) on `[a, b]`.
    /// A panel is accepted when `|K15 - G7| <= abs_tol` (for smooth panels the Kronrod value is then
    /// far more accurate than that difference; at a cusp like `s^0.7` both are of the same order),
    /// else bisected, at most `depth` times. The tolerance is not split between halves, so the
    /// total error is about `abs_tol` times the number of panels near non-smooth points.
    fn adaptive_gk<F: Fn(f64) -> f64>(f: &F, a: f64, b: f64, abs_tol: f64, depth: u32) -> f64 {
        const XGK: [f64; 8] = [
            0.9914553711208126,
            0.9491079123427585,
            0.8648644233597691,
            0.7415311855993945,
            0.5860872354676911,
            0.4058451513773972,
            0.20778495500789848,
            0.0,
        ];
        const WGK: [f64; 8] = [
            0.022935322010529224,
            0.06309209262997856,
            0.10479001032225019,
            0.14065325971552592,
            0.1690047266392679,
            0.19035057806478542,
            0.20443294007529889,
            0.20948214108472782,
        ];
        const WG: [f64; 4] = [
            0.1294849661688697,
            0.27970539148927664,
            0.3818300505051189,
            0.4179591836734694,
        ];
        let c = 0.5 * (a + b);
        let h = 0.5 * (b - a);
        let fc = f(c);
        let mut k = WGK[7] * fc;
        let mut gsum = WG[3] * fc;
        for j in 0..7 {
            let v = f(c - h * XGK[j]) + f(c + h * XGK[j]);
            k += WGK[j] * v;
            if j % 2 == 1 {
                gsum += WG[j / 2] * v;
            }
        }
        let (k, gsum) = (k * h, gsum * h);
        if (k - gsum).abs() <= abs_tol || depth == 0 {
            k
        } else {
            adaptive_gk(f, a, c, abs_tol, depth - 1) + adaptive_gk(f, c, b, abs_tol, depth - 1)
        }
    }

    /// `G(f)` by adaptive quadrature, split at geometric breakpoints for efficiency.
    fn g_reference(p: &ModelParams, f: f64) -> f64 {
        let integrand = |s: f64| 1.0 / (1.0 + p.kappa * s.powf(p.gamma));
        // G(f) >= min(f, s1) / 2 with kappa s1^gamma = 1 (the integrand is >= 1/2 on [0, s1]):
        // 1e-15 of that per panel.
        let s1 = p.kappa.powf(-1.0 / p.gamma);
        let tol = 0.5e-15 * f.min(s1);
        let mut total = 0.0;
        let mut a = 0.0;
        let mut b = f.min(1e-3);
        loop {
            total += adaptive_gk(&integrand, a, b, tol, 60);
            if b >= f {
                break;
            }
            a = b;
            b = (4.0 * b).min(f);
        }
        total
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn gauss_kronrod_reference_is_exact_on_polynomials() {
        let v = adaptive_gk(&|x: f64| x.powi(21) + 3.0 * x.powi(4), 0.0, 1.0, 0.0, 0);
        assert!(rel(v, 1.0 / 22.0 + 0.6) < 1e-15);
    }

    #[test]
    fn gauss_legendre_table_is_a_rule() {
        // Sum of weights 2, exact for x^26.
        let s: f64 = GL14.iter().map(|&(_, w)| 2.0 * w).sum();
        assert!((s - 2.0).abs() < 1e-15);
        let m: f64 = GL14.iter().map(|&(x, w)| 2.0 * w * x.powi(26)).sum();
        assert!(rel(m, 2.0 / 27.0) < 1e-14);
    }

    /// The reference itself, against the closed forms for gamma = 2 and 1 and a cusp case.
    #[test]
    fn reference_quadrature_is_accurate() {
        for &kappa in &[1.0f64, 0.3] {
            for &f in &[1e-8, 1e-3, 0.7, 3.0, 1e4, 1e8] {
                let p2 = ModelParams::new(1.0, kappa, 2.0);
                let e2 = (kappa.sqrt() * f).atan() / kappa.sqrt();
                assert!(rel(g_reference(&p2, f), e2) < 1e-14, "kappa {kappa} f {f}");
                let p1 = ModelParams::new(1.0, kappa, 1.0);
                let e1 = (kappa * f).ln_1p() / kappa;
                assert!(rel(g_reference(&p1, f), e1) < 1e-14, "kappa {kappa} f {f}");
            }
        }
        // gamma = 1/2: G = (2/kappa) (sqrt f - log1p(kappa sqrt f) / kappa), a cusp at s = 0.
        let p = ModelParams::new(1.0, 0.3, 0.5);
        for &f in &[1e-8f64, 0.1, 5.0, 1e6] {
            let x = 0.3 * f.sqrt();
            // x - log1p(x), by its series where it cancels.
            let x_minus_log1p = if x < 0.01 {
                (2..12).map(|n| (-x).powi(n) / n as f64).sum::<f64>()
            } else {
                x - x.ln_1p()
            };
            let e = 2.0 / (0.3 * 0.3) * x_minus_log1p;
            assert!(rel(g_reference(&p, f), e) < 1e-13, "f {f}");
        }
    }

    /// G against adaptive quadrature over 1e-8 <= f <= 1e8.
    #[test]
    fn g_matches_adaptive_quadrature() {
        let gammas = [2.0, 2.5, 3.0, 1.5, 4.0, 7.0, 1.1, 1.05, 0.7, 0.5, 1.0];
        for &gamma in &gammas {
            for &kappa in &[1.0, 0.3] {
                let p = ModelParams::new(1.0, kappa, gamma);
                let mut worst: f64 = 0.0;
                for i in 0..=64 {
                    let f = 10f64.powf(-8.0 + 16.0 * i as f64 / 64.0);
                    let g = p.g_integral(f);
                    let r = g_reference(&p, f);
                    worst = worst.max(rel(g, r));
                    assert!(
                        rel(g, r) < 1e-12,
                        "gamma {gamma} kappa {kappa} f {f}: {g} vs {r}"
                    );
                }
                assert!(worst < 1e-12, "gamma {gamma} kappa {kappa}: {worst}");
                if std::env::var("NLFP_PRINT").is_ok() {
                    println!("gamma {gamma} kappa {kappa}: worst rel {worst:e}");
                }
            }
        }
    }

    /// The general path (series / Gauss–Legendre / tail / reference point) agrees with the closed
    /// forms for gamma = 2 and gamma = 1 across all branches.
    #[test]
    fn general_path_matches_closed_forms() {
        for &kappa in &[1.0f64, 0.3, 7.0] {
            for i in 0..=200 {
                let f = 10f64.powf(-10.0 + 20.0 * i as f64 / 200.0);
                let s = kappa.sqrt();
                let atan = (s * f).atan() / s;
                assert!(rel(g_general(f, kappa, 2.0), atan) < 2e-15, "g 2, f {f}");
                let log = (kappa * f).ln_1p() / kappa;
                // gamma = 1 exercises `from_reference` with p_0 = 0.
                assert!(rel(g_general(f, kappa, 1.0), log) < 1e-14, "g 1, f {f}");
            }
        }
    }

    #[test]
    fn g_is_continuous_across_branch_points() {
        for &gamma in &[2.5, 3.0, 0.7, 1.05] {
            let p = ModelParams::new(1.0, 0.3, gamma);
            for &wb in &[W_LO, W_HI] {
                let fb = (wb / p.kappa).powf(1.0 / gamma);
                // G(fb (1 + e)) - G(fb (1 - e)) = 2 e fb / (1 + wb) + O(e^2): a jump between
                // branches would show up on top of it.
                let e = 1e-10;
                let lo = p.g_integral(fb * (1.0 - e));
                let hi = p.g_integral(fb * (1.0 + e));
                let slope = 2.0 * e * fb / (1.0 + wb);
                assert!(
                    (hi - lo - slope).abs() < 1e-15 * hi,
                    "gamma {gamma} w {wb}: {} vs {slope}",
                    hi - lo
                );
            }
        }
    }

    #[test]
    fn g_limits() {
        let p = ModelParams::new(1.0, 0.3, 2.5);
        assert_eq!(p.g_integral(0.0), 0.0);
        assert_eq!(p.g_integral(f64::INFINITY), p.g_integral_limit());
        assert!(rel(p.g_integral(1e30), p.g_integral_limit()) < 1e-15);
        let exact_limit = 0.3f64.powf(-0.4) * (PI / 2.5) / (PI / 2.5).sin();
        assert!(rel(p.g_integral_limit(), exact_limit) < 1e-15);
        assert!(rel(p.g_integral(1e-12), 1e-12) < 1e-15);
        let p2 = ModelParams::new(1.0, 0.3, 2.0);
        assert!(rel(p2.g_integral(f64::INFINITY), p2.g_integral_limit()) < 1e-15);
        let p07 = ModelParams::new(1.0, 0.3, 0.7);
        assert_eq!(p07.g_integral(f64::INFINITY), f64::INFINITY);
    }

    /// kappa = 0: G(f) = f and Phi(f) = f log f - f.
    #[test]
    fn linear_case() {
        let p = ModelParams::new(0.5, 0.0, 2.5);
        for &f in &[0.0, 1e-300, 1e-8, 0.3, 1.0, 17.0, 1e100] {
            assert_eq!(p.g_integral(f), f);
            let phi = if f == 0.0 { 0.0 } else { f * f.ln() - f };
            assert!((p.phi(f) - phi).abs() <= 1e-15 * phi.abs(), "{f}");
        }
        // r2/2 f + D (f log f - f) at r2 = 2, f = 1, D = 0.5: 1 - 0.5.
        assert!((p.entropy_density(2.0, 1.0) - 0.5).abs() < 1e-16);
    }

    /// dPhi/df = Phi' by central differences, on every branch of G.
    #[test]
    fn phi_derivative_is_phi_prime() {
        for &(kappa, gamma) in &[(1.0, 2.0), (0.3, 2.5), (1.0, 3.0), (0.3, 0.7), (2.0, 7.0)] {
            let p = ModelParams::new(0.8, kappa, gamma);
            for i in 0..=40 {
                let f = 10f64.powf(-6.0 + 12.0 * i as f64 / 40.0);
                let h = 1e-4 * f;
                let fd = (p.phi(f + h) - p.phi(f - h)) / (2.0 * h);
                let d = p.phi_prime(f);
                // Truncation ~ (h/f)^2 f^2 Phi''' ~ 1e-8; round-off ~ eps |Phi| / h.
                let tol = 1e-7 * (1.0 + d.abs()) + 1e-15 * p.phi(f).abs() / h;
                assert!(
                    (fd - d).abs() < tol,
                    "kappa {kappa} gamma {gamma} f {f}: {fd} vs {d}"
                );
            }
            assert_eq!(p.phi(0.0), 0.0);
            assert!(p.phi(1e-300).abs() < 1e-296);
        }
    }

    #[test]
    fn entropy_density_formula() {
        let p = ModelParams::new(0.8, 0.3, 2.5);
        let (r2, f) = (3.0, 0.7f64);
        let phi = f * f.ln() - f / 2.5 * (1.0 + 0.3 * f.powf(2.5)).ln() - p.g_integral(f);
        let e = 0.5 * r2 * f + 0.8 * phi;
        assert!(rel(p.entropy_density(r2, f), e) < 1e-14);
    }

    /// The steady state f_beta minimises H - xi_0 * mass among densities of its mass: along the
    /// perturbation f_beta + eps g with int g = 0, the first variation sum (r2/2 + D Phi') g = 0.
    #[test]
    fn steady_state_is_critical_point_of_entropy() {
        let p = ModelParams::new(0.8, 0.3, 2.5);
        let beta = 0.2;
        let n = 2001;
        let l = 8.0;
        let h = 2.0 * l / (n - 1) as f64;
        let xs: Vec<f64> = (0..n).map(|i| -l + i as f64 * h).collect();
        let pert = |x: f64| (1.0 - 2.0 * x * x) * (-x * x).exp(); // int = 0 on R (to e^-64)
        let entropy = |eps: f64| -> f64 {
            xs.iter()
                .map(|&x| {
                    let f = p.steady_state(x * x, beta) + eps * pert(x);
                    h * p.entropy_density(x * x, f)
                })
                .sum()
        };
        let d = 1e-4;
        let first = (entropy(d) - entropy(-d)) / (2.0 * d);
        assert!(first.abs() < 1e-9, "{first}");
        assert!(entropy(d) > entropy(0.0) && entropy(-d) > entropy(0.0));
    }
}
