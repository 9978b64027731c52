//! Forward-solver numerics against invariants and exact solutions, through the real binary:
//! mass conservation, positivity, symmetry, the subcritical steady state, and the OU
//! (kappa = 0) Gaussian-mixture solution.

mod common;

use common::*;
use nlfp::mesh::Mesh;
use nlfp::physics::ou::{GaussianComponent, GaussianMixture};
use nlfp::physics::ModelParams;
use nlfp::scheme::SchemeKind;
use nlfp::time::StepperKind;

/// Every flux family by its config name.
fn schemes() -> impl Iterator<Item = SchemeKind> {
    SchemeKind::ALL.into_iter()
}

/// Every explicit stepper (the implicit one conserves mass to its Newton tolerance only; its
/// own tests are in `implicit.rs`).
fn explicit_steppers() -> impl Iterator<Item = StepperKind> {
    StepperKind::ALL
        .into_iter()
        .filter(|s| *s != StepperKind::Implicit)
}

/// Symmetric (f(x) = f(-x)) supercritical data: two equal blobs at +-(1.2, 0.5).
fn symmetric_config(dim: usize, n: usize, gamma: f64) -> String {
    let (m1, m2) = if dim == 2 {
        ("[1.2, 0.5]", "[-1.2, -0.5]")
    } else {
        ("[1.2]", "[-1.2]")
    };
    format!(
        r#"
[grid]
dim = {dim}
n = {n}
half_width = 6.0
[model]
diffusion = 1.0
kappa = 1.0
gamma = {gamma}
mass_ratio = 1.5
[initial]
kind = "gaussian_mixture"
components = [ {{ weight = 1.0, mean = {m1}, std = 0.5 }}, {{ weight = 1.0, mean = {m2}, std = 0.5 }} ]
[time]
t_end = 1000.0
dt_max = 1.0
[output]
diagnostics_every = 1
progress_every = 1000.0
"#
    )
}

/// Tests 1 and 2: mass drift <= 1e-12 over 1e4 steps (1D) / 1e3 steps (2D), f >= 0 at every
/// step, symmetric data symmetric to 1e-10 of max f, for every scheme and stepper.
#[test]
fn mass_positivity_and_symmetry_every_scheme_and_stepper() {
    let dir = tempdir();
    for (dim, n, gamma, steps) in [(1usize, 101usize, 3.0, 10_000u64), (2, 41, 2.0, 1000)] {
        for scheme in schemes().map(SchemeKind::name) {
            for stepper in explicit_steppers().map(StepperKind::name) {
                let name = format!("d{dim}-{scheme}-{stepper}");
                let steps_s = format!("time.max_steps={steps}");
                let scheme_s = format!("time.scheme=\"{scheme}\"");
                let stepper_s = format!("time.stepper=\"{stepper}\"");
                let out = forward(
                    dir.path(),
                    &name,
                    &symmetric_config(dim, n, gamma),
                    0,
                    &[&steps_s, &scheme_s, &stepper_s],
                );
                let step = column(&out, "step");
                assert_eq!(*step.last().unwrap() as u64, steps, "{name}");
                assert_eq!(step.len() as u64, steps + 1, "{name}: a row per step");
                let drift = column(&out, "mass_drift");
                let worst = max_abs(drift.iter().copied());
                assert!(worst <= 1e-12, "{name}: mass drift {worst:e}");
                let min = column(&out, "min");
                assert!(
                    min.iter().all(|&m| m >= 0.0),
                    "{name}: negative density at step {:?}",
                    min.iter().position(|&m| m < 0.0)
                );
                let sym = column(&out, "symmetry_defect");
                let worst_sym = max_abs(sym.iter().copied());
                assert!(worst_sym <= 1e-10, "{name}: symmetry defect {worst_sym:e}");
                // The run really is nonlinear: the centre grew.
                let max = column(&out, "max");
                assert!(max.last().unwrap() > &max[0], "{name}");
            }
        }
    }
}

/// Test 6, 2D: gamma = 2, D = kappa = 1, m = pi^2/2 converges with `sg` to the nodal f_beta
/// (exact discrete steady state), whose continuum value at the origin is tan(m/(2 pi)) = 1.
#[test]
fn subcritical_2d_converges_to_nodal_f_beta() {
    let dir = tempdir();
    let params = ModelParams {
        diffusion: 1.0,
        kappa: 1.0,
        gamma: 2.0,
    };
    let mass = std::f64::consts::PI.powi(2) / 2.0;
    let mut centre_errors = Vec::new();
    let ns = [41usize, 81];
    for n in ns {
        let config = format!(
            r#"
[grid]
dim = 2
n = {n}
half_width = 6.0
[model]
gamma = 2.0
mass = {mass:e}
[initial]
kind = "gaussian_mixture"
components = [ {{ weight = 1.0, mean = [0.4, -0.3], std = 1.0 }} ]
[time]
t_end = 25.0
dt_max = 1.0
scheme = "sg"
[output]
diagnostics_every = 100000
"#
        );
        let out = forward(dir.path(), &format!("steady{n}"), &config, 0, &[]);
        let f = final_field(&out);
        let mesh = Mesh::new(2, n, 6.0);
        // Discrete beta: the nodal f_beta of discrete mass m (bisection in beta).
        let nodal = |beta: f64| -> Vec<f64> {
            (0..n * n)
                .map(|k| {
                    let [x, y] = mesh.cell_centre(k / n, k % n);
                    params.steady_state(x * x + y * y, beta)
                })
                .collect()
        };
        let nodal_mass = |beta: f64| nodal(beta).iter().sum::<f64>() * mesh.cell_volume();
        let (mut lo, mut hi) = (1e-6, 5.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if nodal_mass(mid) > mass {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let target = nodal(0.5 * (lo + hi));
        let err = max_diff(&f.values, &target);
        assert!(err < 1e-9, "n = {n}: distance to nodal f_beta {err:e}");
        let centre = f.values[mesh.origin_cell().0 * n + mesh.origin_cell().1];
        centre_errors.push((centre - 1.0).abs());
    }
    // The discrete mass of the nodal f_beta is a midpoint sum of a smooth, fast-decaying
    // function, spectrally close to the integral, so f_h(0) is within round-off of 1.
    assert!(
        centre_errors.iter().all(|&e| e < 1e-7),
        "f(0) - 1: {centre_errors:?} on n = {ns:?}"
    );
}

/// Test 6, 1D: gamma = 3, m = m_c / 2; the error against the continuum f_beta falls at (at
/// least) second order under refinement. SG makes the nodal f_beta exact, so the only error is
/// the discrete mass constraint, a midpoint sum that converges faster than second order; the
/// finest grid reaches the steady-state floor (~1e-8 after t = 40).
#[test]
fn subcritical_1d_steady_state_second_order() {
    let dir = tempdir();
    let params = ModelParams {
        diffusion: 1.0,
        kappa: 1.0,
        gamma: 3.0,
    };
    let mc = params.critical_mass(1).unwrap();
    let beta = params.beta_for_mass(1, mc / 2.0).unwrap();
    let ns = [41usize, 81, 161];
    let mut errors = Vec::new();
    for n in ns {
        let config = format!(
            r#"
[grid]
dim = 1
n = {n}
half_width = 6.0
[model]
gamma = 3.0
mass_ratio = 0.5
[initial]
kind = "disc"
radius = 1.5
[time]
t_end = 40.0
dt_max = 1.0
scheme = "sg"
[output]
diagnostics_every = 100000
"#
        );
        let out = forward(dir.path(), &format!("steady1d-{n}"), &config, 0, &[]);
        let f = final_field(&out);
        let mesh = Mesh::new(1, n, 6.0);
        let exact: Vec<f64> = (0..n)
            .map(|i| params.steady_state(mesh.centre(i).powi(2), beta))
            .collect();
        errors.push(max_diff(&f.values, &exact));
    }
    let p = orders(&errors, &ns);
    for (k, &q) in p.iter().enumerate() {
        assert!(
            q > 1.8 || errors[k + 1] < 1e-8,
            "orders {p:?}, errors {errors:?}"
        );
    }
    assert!(errors[2] < 1e-7, "errors {errors:?}");
}

/// Test 7: kappa = 0 (OU) against the exact Gaussian-mixture solution, second order with `sg`,
/// in 1D (three grids) and 2D (two grids).
#[test]
fn ou_gaussian_mixture_second_order_with_sg() {
    let dir = tempdir();
    let t_end = 0.5;
    for (dim, ns) in [(1usize, vec![41usize, 81, 161]), (2, vec![41, 81])] {
        let mixture = GaussianMixture {
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
        };
        let exact_t = mixture.evolve(t_end, 1.0);
        let mean = |c: &GaussianComponent| {
            if dim == 2 {
                format!("[{:e}, {:e}]", c.mean[0], c.mean[1])
            } else {
                format!("[{:e}]", c.mean[0])
            }
        };
        let comps: Vec<String> = mixture
            .components
            .iter()
            .map(|c| {
                format!(
                    "{{ weight = {:e}, mean = {}, std = {:e} }}",
                    c.weight,
                    mean(c),
                    c.std
                )
            })
            .collect();
        let mut errors = Vec::new();
        for &n in &ns {
            let config = format!(
                r#"
[grid]
dim = {dim}
n = {n}
half_width = 6.0
[model]
kappa = 0.0
mass = 1.0
[initial]
kind = "gaussian_mixture"
components = [ {} ]
[time]
t_end = {t_end}
scheme = "sg"
stepper = "ssprk2"
[output]
diagnostics_every = 100000
"#,
                comps.join(", ")
            );
            let out = forward(dir.path(), &format!("ou{dim}-{n}"), &config, 0, &[]);
            let f = final_field(&out);
            assert_eq!(f.t, t_end);
            let mesh = Mesh::new(dim, n, 6.0);
            let ny = mesh.ny();
            // Initial data are cell-centre samples normalised to mass 1; so is the reference.
            let exact: Vec<f64> = (0..ny * n)
                .map(|k| exact_t.density(mesh.cell_centre(k / n, k % n)))
                .collect();
            errors.push(max_diff(&f.values, &exact));
        }
        let p = orders(&errors, &ns);
        assert!(
            p.iter().all(|&q| q > 1.8),
            "dim {dim}: orders {p:?}, errors {errors:?}"
        );
    }
}

/// The OU mixture of the order tests, in `dim` dimensions: its `[initial]` components and the
/// exact density at `t`.
fn ou_mixture(dim: usize) -> GaussianMixture {
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

/// A 1D OU (kappa = 0) run of `ou_mixture(1)` to `t_end` on `n` cells with `sets`.
fn ou_1d_run(dir: &std::path::Path, name: &str, n: usize, t_end: f64, sets: &[&str]) -> Vec<f64> {
    let mixture = ou_mixture(1);
    let comps: Vec<String> = mixture
        .components
        .iter()
        .map(|c| {
            format!(
                "{{ weight = {:e}, mean = [{:e}], std = {:e} }}",
                c.weight, c.mean[0], c.std
            )
        })
        .collect();
    let config = format!(
        r#"
[grid]
dim = 1
n = {n}
half_width = 6.0
[model]
kappa = 0.0
mass = 1.0
[initial]
kind = "gaussian_mixture"
components = [ {} ]
[time]
t_end = {t_end}
[output]
diagnostics_every = 100000
"#,
        comps.join(", ")
    );
    let out = forward(dir, name, &config, 0, sets);
    let f = final_field(&out);
    assert_eq!(f.t, t_end, "{name}: final time");
    f.values
}

/// Every scheme's observed spatial order against its declared `SchemeKind::order()` (exact OU
/// solution, SSP-RK2 at the positivity time step, whose O(h^4) time error is negligible), and
/// every stepper's observed time order against `StepperKind::order()` (fixed n, dt halved,
/// against the same stepper at dt / 16). A new scheme or stepper is tested the day it is added.
#[test]
fn every_scheme_and_stepper_converges_at_its_declared_order() {
    let dir = tempdir();
    let t_end = 0.5;
    let exact_t = ou_mixture(1).evolve(t_end, 1.0);
    let ns = [41usize, 81, 161];
    for scheme in SchemeKind::ALL {
        let scheme_set = format!("time.scheme=\"{}\"", scheme.name());
        let errors: Vec<f64> = ns
            .iter()
            .map(|&n| {
                let name = format!("space-{}-{n}", scheme.name());
                let f = ou_1d_run(dir.path(), &name, n, t_end, &[&scheme_set]);
                let mesh = Mesh::new(1, n, 6.0);
                let exact: Vec<f64> = (0..n)
                    .map(|i| exact_t.density(mesh.cell_centre(0, i)))
                    .collect();
                max_diff(&f, &exact)
            })
            .collect();
        let p = orders(&errors, &ns);
        let want = scheme.order() as f64;
        assert!(
            p.iter().all(|&q| q > want - 0.25),
            "{}: observed spatial orders {p:?} (declared {want}), errors {errors:?}",
            scheme.name()
        );
    }
    // dt below the positivity bound at n = 41 (about 0.02), so dt_max sets every step.
    let dts = [0.004, 0.002, 0.001];
    for stepper in StepperKind::ALL {
        let run = |dt: f64| {
            let sets = [
                format!("time.stepper=\"{}\"", stepper.name()),
                "time.scheme=\"sg\"".to_string(),
                format!("time.dt_max={dt:e}"),
            ];
            let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
            let name = format!("time-{}-{dt:e}", stepper.name());
            ou_1d_run(dir.path(), &name, 41, t_end, &sets)
        };
        let reference = run(dts[2] / 16.0);
        let errors: Vec<f64> = dts
            .iter()
            .map(|&dt| max_diff(&run(dt), &reference))
            .collect();
        // dt halves: orders() takes "cells" that double, i.e. 1/dt.
        let steps: Vec<usize> = dts.iter().map(|dt| (t_end / dt).round() as usize).collect();
        let p = orders(&errors, &steps);
        let want = stepper.order() as f64;
        assert!(
            p.iter().all(|&q| q > want - 0.25),
            "{}: observed time orders {p:?} (declared {want}), errors {errors:?}",
            stepper.name()
        );
    }
}
