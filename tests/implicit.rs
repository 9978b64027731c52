//! The backward-Euler Newton–Krylov stepper: first-order agreement with a fine explicit run
//! (subcritical, where the solution is smooth in time), mass, positivity and symmetry, and
//! agreement across rank counts to the solver tolerance through condensation (2D, 1.5 m_c).

mod common;

use common::*;

fn config(dim: usize, n: usize, mass_ratio: f64) -> String {
    let (gamma, means) = if dim == 2 {
        (2.0, ("[1.0, 0.5]", "[-1.0, -0.5]"))
    } else {
        (3.0, ("[1.0]", "[-1.0]"))
    };
    format!(
        r#"
[grid]
dim = {dim}
n = {n}
half_width = 6.0
[model]
gamma = {gamma}
mass_ratio = {mass_ratio}
[initial]
kind = "gaussian_mixture"
components = [ {{ weight = 1.0, mean = {}, std = 0.6 }}, {{ weight = 1.0, mean = {}, std = 0.6 }} ]
[time]
t_end = 0.2
dt_max = 1.0
[output]
diagnostics_every = 1
"#,
        means.0, means.1
    )
}

#[test]
fn implicit_is_first_order_in_time_and_conservative() {
    let dir = tempdir();
    let d = dir.path();
    for scheme in ["upwind", "sg"] {
        let scheme_set = format!("time.scheme=\"{scheme}\"");
        let reference = forward(
            d,
            &format!("ref-{scheme}"),
            &config(1, 81, 0.8),
            0,
            &[&scheme_set, "time.stepper=\"ssprk2\""],
        );
        let exact = final_field(&reference).values;
        let mut errors = Vec::new();
        for dt in [0.02, 0.01, 0.005] {
            let dt_set = format!("time.dt_max={dt}");
            let out = forward(
                d,
                &format!("imp-{scheme}-{dt}"),
                &config(1, 81, 0.8),
                0,
                &[&scheme_set, "time.stepper=\"implicit\"", &dt_set],
            );
            let f = final_field(&out);
            assert_eq!(f.t, 0.2);
            errors.push(max_diff(&f.values, &exact));
            let drift = column(&out, "mass_drift");
            let worst = drift.iter().fold(0.0f64, |a, d| a.max(d.abs()));
            assert!(worst <= 1e-10, "{scheme} dt {dt}: mass drift {worst:e}");
            assert!(column(&out, "min").iter().all(|&m| m >= 0.0));
            let sym = column(&out, "symmetry_defect");
            assert!(
                sym.iter().all(|&s| s <= 1e-10),
                "{scheme} dt {dt}: symmetry"
            );
        }
        let ratios: Vec<f64> = errors.windows(2).map(|w| w[0] / w[1]).collect();
        assert!(
            ratios.iter().all(|&r| r > 1.7 && r < 2.3),
            "{scheme}: errors {errors:?}, ratios {ratios:?} (first order expected)"
        );
    }
}

#[test]
fn implicit_agrees_across_rank_counts_to_solver_tolerance() {
    let dir = tempdir();
    let d = dir.path();
    let sets = ["time.stepper=\"implicit\"", "time.dt_max=0.01"];
    let one = forward(d, "one", &config(2, 41, 1.5), 1, &sets);
    let three = forward(d, "three", &config(2, 41, 1.5), 3, &sets);
    let (a, b) = (final_field(&one), final_field(&three));
    let scale = a.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = max_diff(&a.values, &b.values);
    assert!(
        diff <= 1e-8 * scale,
        "1 vs 3 ranks differ by {diff:e} (max f {scale:e})"
    );
    assert_eq!(column(&one, "step").len(), column(&three, "step").len());
}
