//! `nlfp generate` in 3D (issue 15): the exact reversal of `euler` and `ssprk2` from the
//! terminal state recovers the data to round-off for both flux families and every trajectory
//! store; the whole run (reconstruction, samples, reverse diagnostics) is bit-identical on 1, 2
//! and 4 ranks and on two 3D process grids; a run stopped by a signal in either phase and
//! resumed on another rank count equals the uninterrupted one bit for bit; the walk's samples
//! have three coordinates whose mean is the reconstruction's.

mod common;

use std::path::Path;

use common::*;

/// Two off-centre Gaussian blobs in the KQ model (gamma = 1) at 0.6 of the 3D critical mass,
/// n = 13, 12 forward steps.
const CONFIG: &str = r#"
[grid]
dim = 3
n = 13
half_width = 4.0
[model]
gamma = 1.0
mass_ratio = 0.6
[initial]
kind = "gaussian_mixture"
components = [
  { weight = 1.0, mean = [1.0, 0.3, -0.5], std = 0.6 },
  { weight = 0.7, mean = [-0.8, -1.0, 0.4], std = 0.5 },
]
[time]
t_end = 10.0
dt_max = 1.0
max_steps = 12
stepper = "ssprk2"
[output]
diagnostics_every = 1000
progress_every = 1000.0
[reverse]
samples = 3000
seed = 5
"#;

/// Forward steps of [`CONFIG`] (the run stops at `time.max_steps`).
const STEPS: u64 = 12;

/// The owned values of dataset `f` of `dir/file`.
fn field(dir: &Path, file: &str) -> Vec<f64> {
    dataset(&dir.join(file), "f")
}

/// Cell volume `h^3` of [`CONFIG`]'s grid.
fn cell_volume() -> f64 {
    (8.0f64 / 13.0).powi(3)
}

/// Every result of `b` equals `a`'s bit for bit, `reverse.csv` but for `wall_seconds` too.
fn assert_same_results(a: &Path, b: &Path, what: &str) {
    for (file, name) in [
        ("reconstruction.h5", "f"),
        ("terminal.h5", "f"),
        ("start.h5", "f"),
        ("samples.h5", "samples"),
    ] {
        assert_eq!(
            bits(&dataset(&a.join(file), name)),
            bits(&dataset(&b.join(file), name)),
            "{what}: {file}"
        );
    }
    assert_eq!(
        std::fs::read(a.join("samples.csv")).unwrap(),
        std::fs::read(b.join("samples.csv")).unwrap(),
        "{what}: samples.csv"
    );
    let rows = |dir: &Path| -> Vec<Vec<String>> {
        std::fs::read_to_string(dir.join("reverse.csv"))
            .unwrap()
            .lines()
            .map(|l| l.split(',').take(9).map(str::to_string).collect())
            .collect()
    };
    let (ra, rb) = (rows(a), rows(b));
    assert_eq!(ra.len() as u64, STEPS + 2, "{what}: header + rows N..=0");
    assert_eq!(ra, rb, "{what}: reverse.csv but wall_seconds");
}

/// From the terminal state the exact reversal of `euler` and `ssprk2` returns `f0` to
/// round-off (`||u(0) - f0||_1 <= 1e-11 m`) with both flux families; from a perturbed start it
/// keeps the reverse mass to round-off and `||u^n - f^n||_1` never grows; the `disk` and
/// `recompute` stores give the `memory` store's bits.
#[test]
fn three_d_exact_reversal_recovers_the_data() {
    let tmp = tempdir();
    let d = tmp.path();
    for stepper in ["euler", "ssprk2"] {
        for scheme in ["upwind", "sg"] {
            let name = format!("{stepper}_{scheme}");
            let sets = [
                &format!("time.stepper={stepper}") as &str,
                &format!("time.scheme={scheme}"),
                "reverse.start=terminal",
                "reverse.samples=0",
            ];
            let out = generate(d, &name, CONFIG, 0, &sets);
            let data = field(&out, "data.h5");
            assert_eq!(data.len(), 13 * 13 * 13);
            let mass: f64 = data.iter().sum::<f64>() * cell_volume();
            let back = field(&out, "reconstruction.h5");
            let err: f64 = back
                .iter()
                .zip(&data)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                * cell_volume();
            eprintln!("{name}: ||u(0) - f0||_1 = {err:.3e} (m = {mass:.4})");
            assert!(err <= 1e-11 * mass, "{name}: ||u0 - f0||_1 = {err:e}");
            // The forward really moved the density: the reversal is not trivial.
            let terminal = field(&out, "terminal.h5");
            let moved: f64 = terminal
                .iter()
                .zip(&data)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                * cell_volume();
            assert!(moved > 0.1 * mass, "{name}: ||f(T) - f0||_1 = {moved:e}");
            // From a perturbed start `w != 1`: the transposed steps carry the reverse mass
            // `sum f^n w^n h^3` unchanged (P^T is the adjoint of a mass-conserving P) and
            // `||u^n - f^n||_1` never grows (w obeys a maximum principle).
            let perturbed = [
                &format!("time.stepper={stepper}") as &str,
                &format!("time.scheme={scheme}"),
                "reverse.start=perturbed",
                "reverse.noise=0.3",
                "reverse.samples=0",
            ];
            let p = generate(d, &format!("{name}_perturbed"), CONFIG, 0, &perturbed);
            let text = std::fs::read_to_string(p.join("reverse.csv")).unwrap();
            let rows: Vec<Vec<f64>> = text
                .lines()
                .skip(1)
                .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
                .collect();
            assert_eq!(rows.len() as u64, STEPS + 1);
            let (m0, l1_start) = (rows[0][3], rows[0][6]);
            assert!(l1_start > 1e-3 * m0, "{name}: start error {l1_start:e}");
            for pair in rows.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                assert!(
                    (b[3] - m0).abs() <= 1e-13 * m0,
                    "{name}: mass {} vs {m0}",
                    b[3]
                );
                assert!(
                    b[6] <= a[6] * (1.0 + 1e-13),
                    "{name}: L1 grew {} -> {}",
                    a[6],
                    b[6]
                );
            }
            if stepper == "ssprk2" && scheme == "sg" {
                for store in ["disk", "recompute"] {
                    let mut with_store = sets.to_vec();
                    let key = format!("reverse.store={store}");
                    with_store.push(&key);
                    let other = generate(d, &format!("{name}_{store}"), CONFIG, 0, &with_store);
                    assert_eq!(
                        bits(&field(&other, "reconstruction.h5")),
                        bits(&back),
                        "{store} store"
                    );
                    assert!(!other.join("trajectory.h5").exists());
                }
            }
        }
    }
}

/// The same generate run on 1, 2 and 4 ranks and on the 3D process grids 1 x 2 x 2 and
/// 2 x 1 x 2 gives the same bits: reconstruction, samples (walk), reverse diagnostics.
#[test]
fn three_d_generate_bit_identical_on_rank_counts_and_process_grids() {
    let tmp = tempdir();
    let d = tmp.path();
    let reference = generate(d, "one", CONFIG, 1, &[]);
    for (np, procs) in [
        (2, None),
        (4, None),
        (4, Some("[1,2,2]")),
        (4, Some("[2,1,2]")),
    ] {
        let key = procs.map(|p| format!("decomposition.procs={p}"));
        let sets: Vec<&str> = key.iter().map(String::as_str).collect();
        let name = format!(
            "np{np}_{}",
            procs.unwrap_or("auto").replace(['[', ']', ','], "")
        );
        let out = generate(d, &name, CONFIG, np, &sets);
        assert_same_results(&reference, &out, &name);
    }
}

/// A run stopped by SIGTERM in the forward phase or in the reverse phase on 4 ranks and
/// resumed with `--restart auto` on 3 ranks equals the uninterrupted run bit for bit (the
/// `memory` and `recompute` stores: 3D states in the checkpoint).
#[test]
fn three_d_generate_stopped_and_resumed_on_another_rank_count() {
    let tmp = tempdir();
    let d = tmp.path();
    let reference = generate(d, "ref", CONFIG, 4, &[]);
    let cfg = write(d, "g.toml", CONFIG);
    // Progress counter: forward step n, then 2N - n in the reverse.
    for (at, phase, store) in [
        (5, "forward", "memory"),
        (STEPS + 7, "reverse", "memory"),
        (STEPS + 4, "reverse", "recompute"),
    ] {
        let out = d.join(format!("stop_{at}_{store}"));
        let out_s = out.to_string_lossy().into_owned();
        let store_key = format!("reverse.store={store}");
        let signal = format!("TERM@{at}");
        let args = ["generate", &cfg, "--out", &out_s, "--set", &store_key];
        let res = mpirun(4, &[("NLFP_TEST_SIGNAL", &signal)], &args);
        let err = stderr(&res);
        assert_eq!(res.status.code(), Some(75), "{phase}: {err}");
        assert!(err.contains(&format!("generate {phase}")), "{err}");
        assert!(!out.join("reconstruction.h5").exists());
        let mut resume = args.to_vec();
        resume.extend(["--restart", "auto"]);
        let res = mpirun(3, &[], &resume);
        let err = stderr(&res);
        assert!(res.status.success(), "{phase} {store}: {err}");
        assert!(err.contains("resuming from"), "{err}");
        assert_same_results(&reference, &out, &format!("{phase} stop, {store} store"));
    }
}

/// The walk's samples are `[N, 3]` in `samples.h5` and `x,y,z` in `samples.csv`, all inside
/// the box, and their empirical mean is the reconstruction's mean `sum x u(0) h^3 / m` within
/// four standard errors per axis (the walk is exact in law, the jitter uniform in the cell).
#[test]
fn three_d_walk_samples_have_three_coordinates_and_the_reconstructions_mean() {
    let tmp = tempdir();
    let out = generate(tmp.path(), "walk", CONFIG, 2, &["reverse.samples=6000"]);
    let file = hdf5::File::open(out.join("samples.h5")).unwrap();
    let ds = file.dataset("samples").unwrap();
    assert_eq!(ds.shape(), vec![6000, 3]);
    let flat: Vec<f64> = ds.read_raw().unwrap();
    let csv = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("x,y,z"));
    assert_eq!(csv.lines().count(), 6001);
    let points: Vec<&[f64]> = flat.chunks_exact(3).collect();
    assert!(points.iter().all(|p| p.iter().all(|v| v.abs() <= 4.0)));
    let u = field(&out, "reconstruction.h5");
    let (n, h) = (13usize, 8.0 / 13.0);
    let centre = |i: usize| -4.0 + (i as f64 + 0.5) * h;
    let mass: f64 = u.iter().sum();
    for axis in 0..3 {
        // Index order z, y, x: axis 0 (x) is the fastest.
        let stride = [1, n, n * n][axis];
        let want: f64 = u
            .iter()
            .enumerate()
            .map(|(c, v)| v * centre((c / stride) % n))
            .sum::<f64>()
            / mass;
        let values: Vec<f64> = points.iter().map(|p| p[axis]).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        let se = (var / values.len() as f64).sqrt();
        eprintln!("axis {axis}: sample mean {mean:.4} vs {want:.4} (se {se:.4})");
        assert!(
            (mean - want).abs() < 4.0 * se,
            "axis {axis}: {mean} vs {want}"
        );
    }
    // Not a trivial check: the blobs are off-centre, so the means are not 0.
    let summary = std::fs::read_to_string(out.join("summary.toml")).unwrap();
    assert!(summary.contains("energy_distance"), "{summary}");
    assert!(out.join("generate.png").exists() && out.join("samples.png").exists());
}

/// `nlfp study` takes a 3D config (two masses, a refined companion for the supercritical one,
/// on 2 ranks): one row per run with `dim = 3` and the 3D critical mass
/// `(2 pi)^{3/2} zeta(3/2) = 41.14389` (gamma = 1), pictures (mid-plane heat maps, the radial
/// profile) and `study.md`.
#[test]
fn three_d_study_writes_its_table() {
    let tmp = tempdir();
    let config = r#"
[grid]
dim = 3
n = 9
half_width = 4.0
[model]
gamma = 1.0
mass_ratio = 1.5
[initial]
kind = "gaussian_mixture"
components = [ { weight = 1.0, mean = [0.5, 0.0, 0.2], std = 0.8 } ]
[time]
t_end = 0.3
stepper = "ssprk2"
[output]
diagnostics_every = 5
progress_every = 100.0
[study]
mass_ratio = [0.8, 1.5]
profile_fit = [0.0, 2.0]
"#;
    let out = run_command("study", tmp.path(), "study", config, 2, &[]);
    let text = std::fs::read_to_string(out.join("study.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    let col = |row: &[&str], name: &str| -> String {
        row[header.iter().position(|h| *h == name).unwrap()].to_string()
    };
    for row in &rows {
        assert_eq!(col(row, "status"), "ok", "{text}");
        assert_eq!(col(row, "dim"), "3");
        let m_c: f64 = col(row, "critical_mass").parse().unwrap();
        assert!((m_c - 41.14389).abs() < 1e-4, "{m_c}");
        let centre: f64 = col(row, "centre_mass").parse().unwrap();
        assert!(centre > 0.0 && centre.is_finite());
    }
    assert!(std::fs::read_to_string(out.join("study.md"))
        .unwrap()
        .contains("mr1.5"));
    let pictures = out.join("runs").join("mr1.5_g1_n9_sg").join("pictures");
    for file in ["f_final.png", "radial.png", "series.png", "max_ratio.png"] {
        assert!(pictures.join(file).exists(), "{file}");
    }
}

/// `nlfp compare` takes a 3D config: both models (nonlinear and OU) find a horizon meeting the
/// target, and the table says so.
#[test]
fn three_d_compare_writes_its_table() {
    let tmp = tempdir();
    let cfg = write(tmp.path(), "c.toml", CONFIG);
    let out = tmp.path().join("cmp");
    run_ok(
        2,
        &[
            "compare",
            &cfg,
            "--target",
            "0.2",
            "--t-max",
            "4",
            "--out",
            out.to_str().unwrap(),
            "--set",
            "time.t_end=0.25",
            "--set",
            "time.max_steps=1000",
        ],
    );
    let text = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    for (row, model) in rows.iter().zip(["nonlinear", "ou"]) {
        assert_eq!(row[0], model);
        let t: f64 = row[1].parse().unwrap_or_else(|_| panic!("{model}: {text}"));
        let relative: f64 = row[6].parse().unwrap();
        assert!(t > 0.0 && t <= 4.0 && relative <= 0.2, "{row:?}");
    }
}

/// The score method (`reverse.method = "score"`, the direct discretisation of the stabilized
/// reverse equation with the grid score) in 3D: bit-identical on 1 rank and on a 1 x 2 x 2
/// grid, mass kept, and only approximately reversible: from the terminal state it returns
/// close to `f0` (relative L1 error below 0.2, a quarter of the distance the forward moved; 0.09
/// measured).
#[test]
fn three_d_score_method_is_rank_independent_and_approximately_reversible() {
    let tmp = tempdir();
    let d = tmp.path();
    let sets = [
        "reverse.method=\"score\"",
        "reverse.start=terminal",
        "reverse.samples=0",
    ];
    let one = generate(d, "one", CONFIG, 0, &sets);
    let mut grid = sets.to_vec();
    grid.push("decomposition.procs=[1,2,2]");
    let four = generate(d, "four", CONFIG, 4, &grid);
    let (a, b) = (
        field(&one, "reconstruction.h5"),
        field(&four, "reconstruction.h5"),
    );
    assert_eq!(bits(&a), bits(&b), "1 rank vs 1 x 2 x 2");
    let data = field(&one, "data.h5");
    let mass: f64 = data.iter().sum::<f64>() * cell_volume();
    let back_mass: f64 = a.iter().sum::<f64>() * cell_volume();
    assert!(
        (back_mass - mass).abs() <= 1e-12 * mass,
        "{back_mass} vs {mass}"
    );
    assert!(a.iter().all(|v| *v >= 0.0));
    let err: f64 = a.iter().zip(&data).map(|(x, y)| (x - y).abs()).sum::<f64>() * cell_volume();
    let moved: f64 = field(&one, "terminal.h5")
        .iter()
        .zip(&data)
        .map(|(x, y)| (x - y).abs())
        .sum::<f64>()
        * cell_volume();
    eprintln!(
        "score 3D: ||u(0) - f0||_1 / m = {:.3e}, ||f(T) - f0||_1 / m = {:.3e}",
        err / mass,
        moved / mass
    );
    assert!(
        err > 0.0 && err < 0.2 * mass && err < 0.25 * moved,
        "{err} {moved} {mass}"
    );
}
