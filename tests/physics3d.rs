//! The physics of the 3D solver (issue 15), through `nlfp forward` on small grids (n <= 41):
//!
//! * subcritical steady state: WB-SG converges to the nodal `f_beta` of the discrete mass;
//! * supercritical late state (KQ, gamma = 1, 1.5 m_c): the scheme's exact discrete steady
//!   state, the nodal `f_beta_h` of the discrete mass, with the condensate in the centre cell;
//! * radial data against a 1D radial finite-volume solution of
//!   `d_t f = r^-2 d_r (r^2 (D f_r + r f (1 + kappa f^gamma)))` (the reference is written here,
//!   on a grid fine enough that its own error is negligible): first order for `upwind`, second
//!   order for `sg`;
//! * a `points` CSV of `x,y,z` lines as the 3D initial density, the same bits on 1 and 3 ranks.

mod common;

use common::*;
use nlfp::mesh::Mesh;
use nlfp::physics::ModelParams;
use nlfp::study::analysis::discrete_beta;

const UNIT: ModelParams = ModelParams {
    diffusion: 1.0,
    kappa: 1.0,
    gamma: 2.0,
};

/// A 3D config (D = kappa = 1) on `[-l, l]^3`.
fn config(n: usize, l: f64, gamma: f64, mass: &str, initial: &str, time: &str) -> String {
    format!(
        "[grid]\ndim = 3\nn = {n}\nhalf_width = {l}\n[model]\ngamma = {gamma}\n{mass}\n\
         [initial]\n{initial}\n[time]\n{time}\n[output]\ndiagnostics_every = 100000\n"
    )
}

/// Cell values of `value(r^2)` on `mesh` in global order (z, y, x).
fn nodal(mesh: &Mesh, value: impl Fn(f64) -> f64) -> Vec<f64> {
    let n = mesh.n;
    (0..n * n * n)
        .map(|k| {
            let [x, y, z] = mesh.cell_centre3(k / (n * n), k / n % n, k % n);
            value(x * x + y * y + z * z)
        })
        .collect()
}

/// Issue 15: gamma = 2 at half the 3D critical mass (18.85271 / 2) from an off-centre blob
/// converges with `sg` to the nodal `f_beta_h` whose discrete mass is `m`
/// ([`discrete_beta`]), on two grids; `beta_h` is within the midpoint-sum error of the
/// continuum beta.
#[test]
fn subcritical_3d_converges_to_nodal_f_beta() {
    let dir = tempdir();
    let mass = 0.5 * UNIT.critical_mass(3).unwrap();
    let continuum_beta = UNIT.beta_for_mass(3, mass).unwrap();
    for n in [15usize, 21] {
        let text = config(
            n,
            6.0,
            2.0,
            &format!("mass = {mass:e}"),
            "kind = \"gaussian_mixture\"\n\
             components = [ { weight = 1.0, mean = [0.4, -0.3, 0.6], std = 1.0 } ]",
            "t_end = 25.0\ndt_max = 1.0\nscheme = \"sg\"\nstepper = \"ssprk2\"",
        );
        let out = forward(dir.path(), &format!("steady{n}"), &text, 0, &[]);
        let f = final_field(&out);
        let mesh = Mesh::new(3, n, 6.0);
        let beta = discrete_beta(&UNIT, &mesh, mass);
        let target = nodal(&mesh, |r2| UNIT.steady_state(r2, beta));
        let err = max_diff(&f.values, &target);
        assert!(err < 1e-9, "n = {n}: distance to nodal f_beta {err:e}");
        assert!(
            (beta - continuum_beta).abs() < 1e-3,
            "n = {n}: discrete beta {beta} vs continuum {continuum_beta}"
        );
    }
}

/// Issue 15: the KQ model (gamma = 1) at 1.5 m_c(3D) = 1.5 (2 pi)^{3/2} zeta(3/2) from three
/// off-centre blobs condenses at the origin, and the late state is the scheme's exact discrete
/// steady state: the nodal `f_beta_h` of discrete mass `m` (to 1e-9 of its largest value), its
/// centre cell holding `m - sum_{j != c} f_beta_h(x_j) h^3`. `beta_h` is small but not
/// negligible at gamma = 1 (the centre value is `1 / (e^beta_h - 1)`, so `beta_h ~ h^3 / m_0`):
/// the prediction with `f_c = f_0` off the centre is about 1 % off on these grids and closer on
/// the finer one.
#[test]
fn supercritical_3d_kq_condenses_into_the_discrete_steady_state() {
    let dir = tempdir();
    let params = ModelParams { gamma: 1.0, ..UNIT };
    let l = 5.0;
    let mass = 1.5 * params.critical_mass(3).unwrap();
    assert!((mass / 1.5 - 41.14389).abs() < 1e-5, "m_c = {}", mass / 1.5);
    let mut f_c_errors = vec![];
    for (n, t_end) in [(15usize, 20.0), (21, 25.0)] {
        let text = config(
            n,
            l,
            1.0,
            "mass_ratio = 1.5",
            "kind = \"gaussian_mixture\"\ncomponents = [\n\
             { weight = 1.0, mean = [1.2, 0.0, 0.4], std = 0.8 },\n\
             { weight = 1.0, mean = [-0.6, 1.0, -0.4], std = 0.8 },\n\
             { weight = 1.0, mean = [-0.6, -1.0, 0.0], std = 0.8 } ]",
            &format!("t_end = {t_end}\ndt_max = 1.0\nscheme = \"sg\"\nstepper = \"ssprk2\""),
        );
        let out = forward(dir.path(), &format!("late{n}"), &text, 0, &[]);
        let f = final_field(&out);
        let mesh = Mesh::new(3, n, l);
        let beta = discrete_beta(&params, &mesh, mass);
        let target = nodal(&mesh, |r2| params.steady_state(r2, beta));
        let top = target.iter().fold(0.0f64, |a, &b| a.max(b));
        let err = max_diff(&f.values, &target);
        assert!(
            err < 1e-9 * top,
            "n = {n}: distance to nodal f_beta_h {err:e} (max {top:e})"
        );
        let (cz, cy, cx) = mesh.origin_cell3();
        let c = (cz * n + cy) * n + cx;
        let centre = f.values[c] * mesh.cell_volume();
        let off = |beta: f64| {
            let v = nodal(&mesh, |r2| params.steady_state(r2, beta));
            let others = v.iter().enumerate().filter(|&(j, _)| j != c);
            others.map(|(_, x)| x).sum::<f64>() * mesh.cell_volume()
        };
        let discrete = mass - off(beta);
        assert!(
            ((centre - discrete) / discrete).abs() < 1e-9,
            "n = {n}: centre-cell mass {centre} vs m - sum_(j != c) f_beta_h h^3 = {discrete}"
        );
        f_c_errors.push(((centre - (mass - off(0.0))) / centre).abs());
    }
    assert!(
        f_c_errors[1] < f_c_errors[0] && f_c_errors[1] < 0.02,
        "centre-cell mass against m - sum_(j != c) f_c h^3, relative: {f_c_errors:?}"
    );
}

/// A 1D radial finite-volume solution of `d_t f = r^-2 d_r (r^2 (D f_r + r f (1 + kappa f^gamma)))`
/// on `[0, radius]` (no flux at both ends) from `f0`, to time `t_end`: `cells` cells of width
/// `dr`, cell volumes `(r_{i+1/2}^3 - r_{i-1/2}^3) / 3`, face fluxes
/// `r^2 (D (f_{i+1} - f_i)/dr + r f_face (1 + kappa f_face^gamma))` with `f_face` the mean of
/// the two cells (second order), Heun's method (SSP-RK2) with `dt` below the diffusive and the
/// drift limits. Returns the cell-centre values and the centres.
fn radial_reference(
    params: &ModelParams,
    f0: impl Fn(f64) -> f64,
    radius: f64,
    cells: usize,
    t_end: f64,
) -> (Vec<f64>, Vec<f64>) {
    let dr = radius / cells as f64;
    let centre: Vec<f64> = (0..cells).map(|i| (i as f64 + 0.5) * dr).collect();
    let volume: Vec<f64> = (0..cells)
        .map(|i| {
            let (a, b) = (i as f64 * dr, (i + 1) as f64 * dr);
            (b.powi(3) - a.powi(3)) / 3.0
        })
        .collect();
    let (d, kappa, gamma) = (params.diffusion, params.kappa, params.gamma);
    let rhs = |f: &[f64], out: &mut [f64]| {
        out.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..cells - 1 {
            let r = (i + 1) as f64 * dr;
            let face = 0.5 * (f[i] + f[i + 1]);
            let flux =
                r * r * (d * (f[i + 1] - f[i]) / dr + r * face * (1.0 + kappa * face.powf(gamma)));
            // The flux is the outward rate of change of the mass inside r: into cell i, out of i+1.
            out[i] += flux / volume[i];
            out[i + 1] -= flux / volume[i + 1];
        }
    };
    let mut f: Vec<f64> = centre.iter().map(|&r| f0(r)).collect();
    let (mut k1, mut k2, mut stage) = (vec![0.0; cells], vec![0.0; cells], vec![0.0; cells]);
    let mut t = 0.0;
    while t < t_end {
        let top = f.iter().fold(0.0f64, |a, &b| a.max(b));
        let drift = radius * (1.0 + kappa * top.powf(gamma));
        let dt_limit = 0.25 / (2.0 * d / (dr * dr) + 2.0 * drift / dr);
        let dt = dt_limit.min(t_end - t);
        rhs(&f, &mut k1);
        for i in 0..cells {
            stage[i] = f[i] + dt * k1[i];
        }
        rhs(&stage, &mut k2);
        for i in 0..cells {
            f[i] += 0.5 * dt * (k1[i] + k2[i]);
        }
        t += dt;
    }
    (f, centre)
}

/// Issue 15: a centred Gaussian (radial data, 0.5 m_c, gamma = 2) in 3D against the 1D radial
/// reference at t = 0.5 (600 radial cells, whose own error is ~1e-4 of the 3D ones): the L1
/// error `sum_j |f_j - f_ref(|x_j|)| h^3` falls at first order for `upwind` and at second
/// order for `sg` from n = 21 to n = 41.
#[test]
fn radial_data_in_3d_converge_to_the_radial_solution() {
    let dir = tempdir();
    let (l, std, t_end) = (5.0, 0.8, 0.5);
    let mass = 0.5 * UNIT.critical_mass(3).unwrap();
    // f0 = m N(0, std^2 I): the 3D initial density is normalised to m on the grid, the
    // Gaussian's mass beyond the box (7 std) is below 1e-10.
    let norm = mass / (2.0 * std::f64::consts::PI * std * std).powf(1.5);
    let f0 = |r: f64| norm * (-0.5 * r * r / (std * std)).exp();
    let (reference, centres) = radial_reference(&UNIT, f0, 1.8 * l, 600, t_end);
    let dr = centres[1] - centres[0];
    let at = |r: f64| {
        // Linear interpolation between the reference's cell centres.
        let s = (r / dr - 0.5).max(0.0);
        let i = (s.floor() as usize).min(centres.len() - 2);
        let w = s - i as f64;
        (1.0 - w) * reference[i] + w * reference[i + 1]
    };
    let ns = [21usize, 41];
    for scheme in ["upwind", "sg"] {
        let errors: Vec<f64> = ns
            .iter()
            .map(|&n| {
                let text = config(
                    n,
                    l,
                    2.0,
                    &format!("mass = {mass:e}"),
                    &format!(
                        "kind = \"gaussian_mixture\"\n\
                         components = [ {{ weight = 1.0, mean = [0.0, 0.0, 0.0], std = {std} }} ]"
                    ),
                    &format!("t_end = {t_end}\nscheme = \"{scheme}\"\nstepper = \"ssprk2\""),
                );
                let out = forward(dir.path(), &format!("{scheme}{n}"), &text, 0, &[]);
                let f = final_field(&out);
                let mesh = Mesh::new(3, n, l);
                let exact = nodal(&mesh, |r2| at(r2.sqrt()));
                f.values
                    .iter()
                    .zip(&exact)
                    .map(|(a, b)| (a - b).abs())
                    .sum::<f64>()
                    * mesh.cell_volume()
            })
            .collect();
        let order = orders(&errors, &ns)[0];
        // Measured here: sg 0.0705 -> 0.0184 (order 2.01); upwind 1.66 -> 0.97 (0.80: first
        // order, not yet asymptotic at these coarse grids).
        let expected = if scheme == "sg" { 1.7..2.6 } else { 0.65..1.3 };
        assert!(
            expected.contains(&order),
            "{scheme}: L1 errors {errors:?} on n = {ns:?}, observed order {order}"
        );
    }
}

/// Issue 15: `initial.kind = "points"` in 3D: a CSV of `x,y,z` lines (with a header) as a
/// kernel density; the mass is the requested one, the mean is the points' mean, and 1 and 3
/// ranks give the same bits; with `holdout` the held-out points enter the sample report of
/// `nlfp generate` in 3D.
#[test]
fn three_d_points_csv_is_the_initial_density() {
    let dir = tempdir();
    let csv = "x,y,z\n0.5,0.0,-0.5\n-1.0,0.5,0.25\n0.25,-0.75,1.0\n0.0,0.0,0.0\n";
    write(dir.path(), "points.csv", csv);
    let text = config(
        15,
        4.0,
        1.0,
        "mass = 2.0",
        "kind = \"points\"\nfile = \"points.csv\"\nbandwidth = 0.6",
        "t_end = 0.05\nstepper = \"ssprk2\"\nscheme = \"sg\"",
    );
    let sets = ["time.max_steps=1", "output.snapshot_every=1"];
    let one = forward(dir.path(), "one", &text, 1, &sets);
    let mut snapshots: Vec<_> = std::fs::read_dir(one.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "h5"))
        .collect();
    snapshots.sort();
    let f0 = dataset(&snapshots[0], "f");
    let mesh = Mesh::new(3, 15, 4.0);
    let n = 15;
    assert_eq!(f0.len(), n * n * n, "step-0 snapshot {:?}", snapshots[0]);
    let total: f64 = f0.iter().sum::<f64>() * mesh.cell_volume();
    assert!((total - 2.0).abs() < 1e-12, "mass {total}");
    for (axis, expected) in [(0, -0.0625), (1, -0.0625), (2, 0.1875)] {
        let mean: f64 = f0
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let c = mesh.cell_centre3(k / (n * n), k / n % n, k % n);
                v * c[axis] * mesh.cell_volume() / total
            })
            .sum();
        assert!((mean - expected).abs() < 1e-4, "axis {axis}: mean {mean}");
    }
    let a = forward(dir.path(), "a", &text, 1, &[]);
    let b = forward(dir.path(), "b", &text, 3, &[]);
    assert_same_final(&a, &b, "3D points on 1 and 3 ranks");
    // Held out of f0, two of eight points measure the samples of `nlfp generate` in 3D.
    let csv8 = format!("{csv}1.0,1.0,-1.0\n-0.5,-1.0,0.5\n0.75,-0.25,-1.25\n-1.25,0.25,0.75\n");
    write(dir.path(), "points.csv", &csv8);
    let sets = [
        "initial.holdout=0.25",
        "reverse.samples=200",
        "time.t_end=0.1",
    ];
    let out = generate(dir.path(), "held", &text, 2, &sets);
    let summary = std::fs::read_to_string(out.join("summary.toml")).unwrap();
    assert!(summary.contains("heldout_points = 2"), "{summary}");
}
