//! Test 8: every kind of bad input is reported before any time step with a message naming the
//! key (and the closest valid key for typos), exit code 2, on one rank and under mpirun alike,
//! and nothing already in the output directory is touched.

mod common;

use std::path::Path;

use common::*;

const GOOD: &str = r#"
[grid]
dim = 2
n = 21
half_width = 6.0
[model]
gamma = 2.0
mass_ratio = 0.5
[initial]
kind = "gaussian_mixture"
components = [ { weight = 1.0, mean = [0.0, 0.0], std = 1.0 } ]
[time]
t_end = 0.01
"#;

/// Replaces the line starting with `key =` in GOOD (or appends `extra` to `section`).
fn with(replace: &str, by: &str) -> String {
    assert!(GOOD.contains(replace), "{replace}");
    GOOD.replacen(replace, by, 1)
}

/// Runs `forward` on `np` ranks into `out` (which holds a precious file) and checks exit code 2,
/// a message containing every `needles`, printed once, and the precious file intact.
fn expect_rejected(dir: &Path, name: &str, config: &str, np: usize, needles: &[&str]) {
    let cfg = write(dir, &format!("{name}.toml"), config);
    let out = dir.join(format!("out-{name}"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("diagnostics.csv"), "precious").unwrap();
    let out_s = out.to_string_lossy().into_owned();
    let res = run(np, &["forward", &cfg, "--out", &out_s, "--overwrite"]);
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    assert_eq!(
        res.status.code(),
        Some(2),
        "{name}: exit code; stderr:\n{stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{name}: message lacks {needle:?}:\n{stderr}"
        );
    }
    assert_eq!(
        stderr.matches("error:").count(),
        1,
        "{name}: the message must be printed once:\n{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("diagnostics.csv")).unwrap(),
        "precious",
        "{name}: existing output touched"
    );
    assert!(!out.join("final.h5").exists(), "{name}");
    // `check` rejects it the same way.
    let res = run(np, &["check", &cfg]);
    assert_eq!(res.status.code(), Some(2), "{name}: check exit code");
}

#[test]
fn config_errors_name_the_key() {
    let dir = tempdir();
    let d = dir.path();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "typo",
            with("t_end = 0.01", "t_end = 0.01\nsteper = \"euler\""),
            vec!["time.steper", "time.stepper"],
        ),
        (
            "section",
            GOOD.replace("[time]", "[tiem]"),
            vec!["tiem", "time"],
        ),
        ("type", with("n = 21", "n = \"abc\""), vec!["grid.n"]),
        ("float_n", with("n = 21", "n = 21.5"), vec!["grid.n"]),
        ("even", with("n = 21", "n = 20"), vec!["grid.n", "odd"]),
        ("small", with("n = 21", "n = 3"), vec!["grid.n"]),
        (
            "half_width",
            with("half_width = 6.0", "half_width = 0.0"),
            vec!["grid.half_width"],
        ),
        (
            "diffusion",
            with("gamma = 2.0", "gamma = 2.0\ndiffusion = -1.0"),
            vec!["model.diffusion"],
        ),
        (
            "gamma",
            with("gamma = 2.0", "gamma = 0.0"),
            vec!["model.gamma"],
        ),
        (
            "mass",
            with("mass_ratio = 0.5", "mass = -2.0"),
            vec!["model.mass"],
        ),
        (
            "both_masses",
            with("mass_ratio = 0.5", "mass_ratio = 0.5\nmass = 1.0"),
            vec!["model.mass"],
        ),
        (
            "no_critical_mass",
            with("gamma = 2.0", "gamma = 1.0"),
            vec!["model.mass_ratio"],
        ),
        (
            "scheme",
            with("t_end = 0.01", "t_end = 0.01\nscheme = \"weno\""),
            vec!["time.scheme", "upwind", "sg"],
        ),
        (
            "safety",
            with("t_end = 0.01", "t_end = 0.01\nsafety = 1.5"),
            vec!["time.safety"],
        ),
        (
            "procs",
            format!("{GOOD}\n[decomposition]\nprocs = [3, 1]\n"),
            vec!["decomposition.procs"],
        ),
    ];
    for (name, config, needles) in &cases {
        expect_rejected(d, name, config, 0, needles);
    }
    // Under mpirun the verdict is the same, printed once, and no rank hangs.
    for (name, config, needles) in cases
        .iter()
        .filter(|c| ["typo", "even", "procs"].contains(&c.0))
    {
        expect_rejected(d, &format!("{name}-np2"), config, 2, needles);
    }
}

#[test]
fn more_ranks_than_cells_is_rejected() {
    let dir = tempdir();
    let config = r#"
[grid]
dim = 1
n = 5
[model]
gamma = 3.0
mass = 1.0
[initial]
kind = "disc"
radius = 2.0
[time]
t_end = 0.01
"#;
    expect_rejected(dir.path(), "ranks", config, 6, &["grid.n"]);
    let two_d = GOOD.replace("n = 21", "n = 5") + "\n[decomposition]\nprocs = [1, 6]\n";
    expect_rejected(dir.path(), "ranks2d", &two_d, 6, &["decomposition.procs"]);
}

#[test]
fn points_file_errors_name_file_and_line() {
    let dir = tempdir();
    let d = dir.path();
    let base = GOOD.replace(
        "kind = \"gaussian_mixture\"\ncomponents = [ { weight = 1.0, mean = [0.0, 0.0], std = 1.0 } ]",
        "kind = \"points\"\nfile = \"samples.csv\"",
    );
    assert!(base.contains("samples.csv"));
    // Missing file.
    expect_rejected(d, "missing_csv", &base, 0, &["samples.csv"]);
    expect_rejected(d, "missing_csv_np2", &base, 2, &["samples.csv"]);
    // Malformed line 3.
    write(d, "samples.csv", "x,y\n0.1,0.2\n0.3,abc\n0.5,0.5\n");
    expect_rejected(d, "bad_csv", &base, 0, &["samples.csv", ":3"]);
    // Wrong column count on line 2.
    write(d, "samples.csv", "0.1,0.2\n0.3\n");
    expect_rejected(d, "short_csv", &base, 0, &["samples.csv", ":2"]);
    // A valid file runs.
    write(d, "samples.csv", "x,y\n0.1,0.2\n-0.3,0.25\n1.0,-1.0\n");
    let out = forward(d, "good_csv", &base, 0, &[]);
    let f = final_field(&out);
    assert_eq!(f.shape, vec![21, 21]);
}

#[test]
fn existing_results_are_not_overwritten() {
    let dir = tempdir();
    let d = dir.path();
    let cfg = write(d, "good.toml", GOOD);
    let out = d.join("results");
    let out_s = out.to_string_lossy().into_owned();
    run_ok(0, &["forward", &cfg, "--out", &out_s]);
    let before = std::fs::read(out.join("final.h5")).unwrap();
    let res = run(2, &["forward", &cfg, "--out", &out_s]);
    assert_eq!(res.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        stderr.contains("--overwrite") && stderr.contains("results"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(out.join("final.h5")).unwrap(), before);
    // `check` prints the resolved run and writes nothing.
    let text = run_ok(2, &["check", &cfg]);
    for needle in ["process grid", "memory", "first dt", "m_c"] {
        assert!(
            text.contains(needle),
            "check output lacks {needle}:\n{text}"
        );
    }
}
