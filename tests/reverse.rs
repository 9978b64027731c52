//! The reverse sweep (issue 5): exact discrete time reversal from the terminal state, the
//! contraction properties, generation from the asymptotic state, the three trajectory stores,
//! rank-count independence.

mod common;

use std::path::Path;

use common::*;
use nlfp::sweep::trajectory::StoreKind;
use nlfp::time::StepperKind;

/// A small config: 1D (gamma = 3, n = 41) or 2D (gamma = 2, n = 21), mass `ratio` m_c.
fn config(dim: usize, ratio: f64) -> String {
    two_blobs(dim, if dim == 1 { 41 } else { 21 }, ratio)
        + "[time]\nt_end = 1.5\ndt_max = 0.05\n\
           [output]\ndiagnostics_every = 1\nprogress_every = 1000.0\n"
}

fn field(dir: &Path, name: &str) -> Vec<f64> {
    nlfp::io::hdf5::read_field(&dir.join(name))
        .unwrap_or_else(|e| panic!("{e}"))
        .values
}

/// A column of `reverse.csv`, from `n = N` down to `n = 0`.
fn reverse_column(dir: &Path, name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(dir.join("reverse.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let k = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(k).unwrap().parse().unwrap())
        .collect()
}

fn summary(dir: &Path, key: &str) -> f64 {
    let text = std::fs::read_to_string(dir.join("summary.toml")).unwrap();
    let table: toml::Table = text.parse().unwrap();
    table[key]
        .as_float()
        .or_else(|| table[key].as_integer().map(|i| i as f64))
        .unwrap()
}

fn l1(a: &[f64], b: &[f64], cell_volume: f64) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() * cell_volume
}

fn cell_volume(dim: usize) -> f64 {
    let h: f64 = if dim == 1 { 12.0 / 41.0 } else { 12.0 / 21.0 };
    h.powi(dim as i32)
}

/// Every stepper by its config name: a new stepper is tested the day it is added.
fn steppers() -> impl Iterator<Item = &'static str> {
    StepperKind::ALL.iter().map(|s| s.name())
}

/// Test 1: from the terminal state the reverse returns `f^0` to `1e-11 m`, 1D and 2D, sub- and
/// supercritical, every stepper, at 1 and 3 ranks; explicit runs are bit-identical across rank
/// counts (also from the asymptotic state, where `w` is far from 1).
#[test]
fn exact_reversal_from_the_terminal_state() {
    let tmp = tempdir();
    for dim in [1, 2] {
        for ratio in [0.6, 1.5] {
            let cfg = config(dim, ratio);
            for stepper in steppers() {
                for np in [0, 3] {
                    let name = format!("d{dim}_{ratio}_{stepper}_{np}");
                    let sets = [
                        &format!("time.stepper={stepper}") as &str,
                        "reverse.start=terminal",
                    ];
                    let out = generate(tmp.path(), &name, &cfg, np, &sets);
                    let data = field(&out, "data.h5");
                    let mass: f64 = data.iter().sum::<f64>() * cell_volume(dim);
                    let back = field(&out, "reconstruction.h5");
                    let err = l1(&back, &data, cell_volume(dim));
                    assert!(err <= 1e-11 * mass, "{name}: ||u0 - f0||_1 = {err:e}");
                }
                if stepper != "implicit" {
                    for (start, scheme) in [
                        ("terminal", "sg"),
                        ("asymptotic", "sg"),
                        ("asymptotic", "upwind"),
                    ] {
                        let sets = [
                            &format!("time.stepper={stepper}") as &str,
                            &format!("reverse.start={start}"),
                            &format!("time.scheme={scheme}"),
                        ];
                        let one = generate(tmp.path(), "one", &cfg, 0, &sets);
                        let three = generate(tmp.path(), "three", &cfg, 3, &sets);
                        let (a, b) = (
                            field(&one, "reconstruction.h5"),
                            field(&three, "reconstruction.h5"),
                        );
                        assert!(
                            same_bits(&a, &b),
                            "{dim}D {ratio} {stepper} {scheme} {start}: 1 and 3 ranks differ by {:e}",
                            max_diff(&a, &b)
                        );
                    }
                }
            }
        }
    }
}

/// Tests 2 and 3: from the asymptotic state, `||u^n - f^n||_1` and `sup |w - 1|` never grow in
/// reverse time, mass and positivity are kept, and the reconstruction error is at most 0.2 of
/// the start error.
#[test]
fn reverse_contracts_and_generation_beats_the_start_error() {
    let tmp = tempdir();
    for dim in [1, 2] {
        for ratio in [0.6, 1.5] {
            let cfg = config(dim, ratio);
            for stepper in steppers() {
                let name = format!("d{dim}_{ratio}_{stepper}");
                let sets = [&format!("time.stepper={stepper}") as &str, "time.t_end=3.0"];
                let out = generate(tmp.path(), &name, &cfg, 2, &sets);
                let l1s = reverse_column(&out, "l1_to_forward");
                let sup_w = reverse_column(&out, "sup_w_minus_1");
                let mass = reverse_column(&out, "mass");
                let min = reverse_column(&out, "min");
                for k in 1..l1s.len() {
                    assert!(
                        l1s[k] <= l1s[k - 1] * (1.0 + 1e-12) + 1e-15,
                        "{name}: ||u - f||_1 grew at reverse row {k}: {:e} -> {:e}",
                        l1s[k - 1],
                        l1s[k]
                    );
                    assert!(
                        sup_w[k] <= sup_w[k - 1] * (1.0 + 1e-12) + 1e-15,
                        "{name}: sup |w - 1| grew at row {k}: {:e} -> {:e}",
                        sup_w[k - 1],
                        sup_w[k]
                    );
                    assert!(
                        (mass[k] - mass[0]).abs() <= 1e-12 * mass[0],
                        "{name}: mass drift {:e}",
                        (mass[k] - mass[0]) / mass[0]
                    );
                }
                assert!(min.iter().all(|&m| m >= 0.0), "{name}: negative density");
                let start = summary(&out, "start_error_l1");
                let end = summary(&out, "reconstruction_error_l1");
                assert!(
                    start > 1e-3,
                    "{name}: the test needs a real start error, got {start:e}"
                );
                assert!(
                    end <= 0.2 * start,
                    "{name}: reconstruction error {end:e} vs start error {start:e}"
                );
            }
        }
    }
}

/// Test 4: the memory, disk and recompute stores (automatic K and K = 3) give bit-identical
/// reverse results, for every stepper, at 2 ranks.
#[test]
fn every_trajectory_store_gives_the_same_bits() {
    let tmp = tempdir();
    let cfg = config(2, 1.5);
    for stepper in steppers() {
        let stepper_set = format!("time.stepper={stepper}");
        let reference = generate(
            tmp.path(),
            "memory",
            &cfg,
            2,
            &[&stepper_set, "reverse.store=memory"],
        );
        let want = field(&reference, "reconstruction.h5");
        let want_csv = std::fs::read_to_string(reference.join("reverse.csv")).unwrap();
        // Every store (the memory reference included), the recompute store also with K = 3.
        let mut variants: Vec<(String, Vec<String>)> = StoreKind::ALL
            .iter()
            .map(|k| {
                (
                    k.name().to_string(),
                    vec![format!("reverse.store={}", k.name())],
                )
            })
            .collect();
        variants.push((
            "recompute_3".into(),
            vec![
                "reverse.store=recompute".into(),
                "reverse.recompute_every=3".into(),
            ],
        ));
        for (name, sets) in &variants {
            let name = name.as_str();
            let mut all = vec![stepper_set.as_str()];
            all.extend(sets.iter().map(String::as_str));
            let out = generate(tmp.path(), name, &cfg, 2, &all);
            let got = field(&out, "reconstruction.h5");
            assert!(
                same_bits(&want, &got),
                "{stepper} {name}: differs from memory by {:e}",
                max_diff(&want, &got)
            );
            // The per-step diagnostics agree too (wall time aside).
            let strip = |t: &str| -> Vec<String> {
                t.lines()
                    .map(|l| l.rsplit_once(',').map_or("", |x| x.0).to_string())
                    .collect()
            };
            let got_csv = std::fs::read_to_string(out.join("reverse.csv")).unwrap();
            assert_eq!(strip(&want_csv), strip(&got_csv), "{stepper} {name}");
            assert!(
                !out.join("trajectory.h5").exists(),
                "scratch file left behind"
            );
            if name.starts_with(StoreKind::Recompute.name()) {
                assert!(summary(&out, "recomputed_steps") > 0.0);
            }
        }
    }
}

/// The perturbed start: seeded noise, the same for any rank count, damped by the reverse.
#[test]
fn perturbed_start_is_seeded_and_damped() {
    let tmp = tempdir();
    let cfg = config(1, 0.6).replace("n = 41", "n = 161");
    let sets = [
        "reverse.start=perturbed",
        "reverse.noise=0.2",
        "reverse.seed=7",
    ];
    let one = generate(tmp.path(), "one", &cfg, 0, &sets);
    let two = generate(tmp.path(), "two", &cfg, 2, &sets);
    let (a, b) = (field(&one, "start.h5"), field(&two, "start.h5"));
    assert!(same_bits(&a, &b));
    let terminal = field(&one, "terminal.h5");
    let ratio: Vec<f64> = a.iter().zip(&terminal).map(|(u, f)| u / f - 1.0).collect();
    assert!(ratio.iter().all(|r| r.abs() <= 0.2 + 1e-12));
    assert!(ratio.iter().any(|r| r.abs() > 0.1), "noise too weak");
    // Cell-wise independent noise in w is averaged by the reverse kernel over the forward
    // spread sqrt(2 D T) ~ 1.7 ~ 23 cells here (h = 0.075), so its L1 size falls by about
    // sqrt(23) ~ 5; the bound 0.5 leaves a factor 2.5 for the noise of the noise.
    let start = summary(&one, "start_error_l1");
    let end = summary(&one, "reconstruction_error_l1");
    assert!(end < 0.5 * start, "noise not damped: {end:e} vs {start:e}");
}

/// `nlfp compare`: both models reach the target, the table says at which T, and the T found
/// meets the target while the probe below it (when there is one) does not.
#[test]
fn compare_finds_the_horizon_for_both_models() {
    let tmp = tempdir();
    let cfg = write(tmp.path(), "c.toml", &config(1, 1.5));
    let out = tmp.path().join("cmp");
    run_ok(
        2,
        &[
            "compare",
            &cfg,
            "--target",
            "1e-3",
            "--t-max",
            "16",
            "--out",
            out.to_str().unwrap(),
            "--set",
            "time.t_end=0.5",
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
        let t: f64 = row[1]
            .parse()
            .unwrap_or_else(|_| panic!("{model}: no T found: {text}"));
        let relative: f64 = row[6].parse().unwrap();
        assert!(t > 0.0 && t <= 16.0 && relative <= 1e-3, "{row:?}");
        let probe_dir = out.join(model).join(format!("T_{t:.6}"));
        assert!(
            probe_dir.join("summary.toml").exists(),
            "{}",
            probe_dir.display()
        );
    }
    assert!(std::fs::read_to_string(out.join("compare.md"))
        .unwrap()
        .contains("| ou |"));

    // Interrupted and resumed: SIGTERM inside the second probe (T = 1; the progress counter
    // restarts with every probe and runs to 2N, so 2 N(T = 0.5) + N(T = 0.5) / 2 is reached
    // first there) on 2 ranks exits 75; `--restart auto` on 3 ranks keeps the finished first
    // probe, resumes the second from its checkpoint, and the table equals the uninterrupted
    // one but for the wall-time column.
    let first_steps = summary(&out.join("nonlinear").join("T_0.500000"), "steps") as u64;
    let signal = format!("TERM@{}", 2 * first_steps + first_steps / 2);
    let resumed = tmp.path().join("cmp_resumed");
    let args = |extra: &[&'static str]| {
        let mut a: Vec<String> = [
            "compare",
            &cfg,
            "--target",
            "1e-3",
            "--t-max",
            "16",
            "--out",
            resumed.to_str().unwrap(),
            "--set",
            "time.t_end=0.5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let stopped_args = args(&[]);
    let stopped_args: Vec<&str> = stopped_args.iter().map(String::as_str).collect();
    let stopped = mpirun(2, &[("NLFP_TEST_SIGNAL", signal.as_str())], &stopped_args);
    assert_eq!(stopped.status.code(), Some(75), "{}", stderr(&stopped));
    assert!(!resumed.join("compare.csv").exists());
    let again_args = args(&["--restart", "auto"]);
    let again_args: Vec<&str> = again_args.iter().map(String::as_str).collect();
    let again = mpirun(3, &[], &again_args);
    let log = stderr(&again);
    assert!(again.status.success(), "{log}");
    assert!(log.contains("is finished (T = 0.5), kept"), "{log}");
    assert!(log.contains("restart auto: resuming from"), "{log}");
    let without_wall = |dir: &Path| -> Vec<Vec<String>> {
        std::fs::read_to_string(dir.join("compare.csv"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
                cells.remove(2);
                cells
            })
            .collect()
    };
    assert_eq!(without_wall(&out), without_wall(&resumed));
}

/// `reverse.method = "score"`: the direct discretisation of the stabilized reverse PDE is only
/// approximately reversible: from the terminal state its reconstruction error is small, falls
/// under refinement (about second order for lambda = 1 with the SG flux: measured 3.6x per
/// doubling of n), and mass is conserved; lambda = 0 (probability flow, upwind) is first order.
#[test]
fn score_method_is_approximately_reversible() {
    let tmp = tempdir();
    let mut errors = Vec::new();
    for n in [81, 161, 321] {
        let cfg = config(1, 0.6).replace("n = 41", &format!("n = {n}"));
        let out = generate(
            tmp.path(),
            &format!("score{n}"),
            &cfg,
            2,
            &[
                "reverse.method=score",
                "reverse.lambda=1.0",
                "reverse.start=terminal",
            ],
        );
        let mass = reverse_column(&out, "mass");
        assert!(mass.iter().all(|m| (m - mass[0]).abs() <= 1e-12 * mass[0]));
        assert!(reverse_column(&out, "min").iter().all(|&m| m >= 0.0));
        errors.push(summary(&out, "reconstruction_error_l1") / mass[0]);
    }
    eprintln!("score method, relative reconstruction errors at n = 81, 161, 321: {errors:?}");
    assert!(errors[2] < 0.01, "{errors:?}");
    assert!(errors[1] / errors[2] > 3.0, "not converging: {errors:?}");
}

/// Issue 5 test 6, memorisation through `nlfp generate` (kappa = 0, the classical baseline): data
/// made of three narrow Gaussian peaks, forward to T, exact discrete reversal from the
/// data-independent state m N(0, D). The mass the reverse puts back on each peak (the
/// responsibility-weighted mass of u(0)) matches the closed-form memorisation weights
/// `W_k = a_k E[q(Y) / f_T(Y)]` to 1e-3 of m, and differs from the data weights a_k.
#[test]
fn memorisation_weights_through_generate() {
    use nlfp::physics::ou::{memorisation_weights, GaussianComponent, GaussianMixture};
    let peaks = [(0.5, -2.0), (0.3, 0.5), (0.7, 2.5)];
    let std = 0.1;
    let t_end = 0.25;
    let n = 481;
    let components: Vec<String> = peaks
        .iter()
        .map(|(w, mu)| format!("{{ weight = {w}, mean = [{mu}], std = {std} }}"))
        .collect();
    let mass: f64 = peaks.iter().map(|p| p.0).sum();
    let cfg = format!(
        "[grid]\ndim = 1\nn = {n}\nhalf_width = 6.0\n\
         [model]\nkappa = 0.0\nmass = {mass}\n\
         [initial]\nkind = \"gaussian_mixture\"\ncomponents = [{}]\n\
         [time]\nt_end = {t_end}\nstepper = \"ssprk2\"\n\
         [output]\ndiagnostics_every = 100000\nprogress_every = 1000.0\n\
         [reverse]\nsamples = 0\n",
        components.join(", ")
    );
    let tmp = tempdir();
    let out = generate(tmp.path(), "memo", &cfg, 2, &[]);
    let u0 = field(&out, "reconstruction.h5");
    let data = GaussianMixture::new(
        1,
        peaks
            .iter()
            .map(|&(weight, mu)| GaussianComponent {
                weight,
                mean: [mu, 0.0],
                std,
            })
            .collect(),
    );
    let expected = memorisation_weights(&data, t_end, 1.0);
    let mesh = nlfp::mesh::Mesh::new(1, n, 6.0);
    let mut got = [0.0; 3];
    let mut p = [0.0; 3];
    for (i, u) in u0.iter().enumerate() {
        data.responsibilities([mesh.centre(i), 0.0], &mut p);
        for k in 0..3 {
            got[k] += p[k] * u * mesh.h;
        }
    }
    eprintln!("memorisation: generate {got:?}, closed form {expected:?}, data {peaks:?}");
    for k in 0..3 {
        assert!(
            (got[k] - expected[k]).abs() <= 1e-3 * mass,
            "peak {k}: {} vs closed form {}",
            got[k],
            expected[k]
        );
        assert!(
            (expected[k] - peaks[k].0).abs() > 1e-2,
            "weights do not differ from the data"
        );
    }
}
