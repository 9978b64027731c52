//! Progress lines (issue 19): with a tiny `output.progress_every` every long phase of
//! `generate` (forward, reverse, walk), `particles` and `study` (its runs, and each run's
//! forward march) prints progress lines from rank 0 only, named by phase, with percentages that
//! never decrease and end at 100 %.

mod common;

use std::collections::BTreeMap;

use common::{mpi_env, nlfp, tempdir, write};

/// A small 2D run: two blobs, supercritical, to `t = 0.3`.
const CONFIG: &str = r#"
[grid]
dim = 2
n = 21
[model]
kappa = 1.0
gamma = 2.0
mass_ratio = 1.2
[initial]
kind = "gaussian_mixture"
components = [
    { weight = 1.0, mean = [1.5, 0.0], std = 0.5 },
    { weight = 1.0, mean = [-1.5, 0.5], std = 0.6 },
]
[time]
t_end = 0.3
[output]
diagnostics_every = 5
progress_every = 1e-6
[reverse]
samples = 300
"#;

/// Runs `nlfp command config --out dir/name` on 2 ranks with progress logging at `info`;
/// returns standard error.
fn run_logged(command: &str, dir: &std::path::Path, name: &str, config: &str) -> String {
    let cfg = write(dir, &format!("{name}.toml"), config);
    let out = dir.join(name);
    let mut cmd = std::process::Command::new("mpirun");
    cmd.args(["-n", "2"]).arg(nlfp());
    mpi_env(&mut cmd).env("RUST_LOG", "info").args([
        command,
        cfg.as_str(),
        "--out",
        out.to_str().unwrap(),
        "--overwrite",
    ]);
    let output = cmd.output().expect("cannot launch nlfp");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{command} failed ({:?}):\n{stderr}",
        output.status.code()
    );
    stderr
}

/// The percentages of every phase's progress lines, in order, after checking that each line
/// comes from rank 0 and names its unit, elapsed time and ETA.
fn phases(stderr: &str) -> BTreeMap<String, Vec<f64>> {
    let mut phases: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for line in stderr.lines().filter(|l| l.contains("progress ")) {
        assert!(
            line.starts_with("[INFO] progress "),
            "a progress line not from rank 0 or not at info: {line}"
        );
        assert!(
            line.contains(" elapsed ") && line.contains(" ETA "),
            "{line}"
        );
        let mut words = line["[INFO] progress ".len()..].split_whitespace();
        let phase = words.next().unwrap().to_string();
        let percent: f64 = words
            .next()
            .and_then(|w| w.strip_suffix('%'))
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no percentage in {line}"));
        phases.entry(phase).or_default().push(percent);
    }
    phases
}

fn assert_phases(stderr: &str, expected: &[&str]) {
    let phases = phases(stderr);
    for name in expected {
        let Some(percents) = phases.get(*name) else {
            panic!("no progress line for phase {name}; phases seen: {phases:?}\n{stderr}");
        };
        assert!(
            percents.windows(2).all(|w| w[1] >= w[0]),
            "{name}: percentages decrease: {percents:?}"
        );
        assert!(
            percents.iter().all(|p| (0.0..=100.0).contains(p)),
            "{name}: {percents:?}"
        );
        assert_eq!(percents.last(), Some(&100.0), "{name}: {percents:?}");
    }
}

#[test]
fn generate_reports_forward_reverse_and_walk() {
    let dir = tempdir();
    let stderr = run_logged("generate", dir.path(), "gen", CONFIG);
    assert_phases(&stderr, &["forward", "reverse", "walk"]);
}

#[test]
fn particles_report_their_steps() {
    let dir = tempdir();
    let config = format!("{CONFIG}[particles]\ncount = 2000\ndt = 0.01\n");
    let stderr = run_logged("particles", dir.path(), "part", &config);
    assert_phases(&stderr, &["particles"]);
}

/// A 1D study of two runs (one supercritical, with its refined companion: three runs).
const STUDY: &str = r#"
[grid]
dim = 1
n = 101
[model]
gamma = 3.0
mass_ratio = 1.5
[initial]
kind = "gaussian_mixture"
components = [ { weight = 1.0, mean = [0.6], std = 0.8 }, { weight = 0.5, mean = [-1.0], std = 0.5 } ]
[time]
t_end = 1.0
stepper = "implicit"
scheme = "sg"
dt_max = 0.05
[output]
diagnostics_every = 1
progress_every = 1e-6
[study]
mass_ratio = [0.8, 1.5]
profile_fit = [0.0, 0.3]
"#;

#[test]
fn study_reports_runs_and_their_forward_marches() {
    let dir = tempdir();
    let stderr = run_logged("study", dir.path(), "study", STUDY);
    assert_phases(&stderr, &["study"]);
    // Each run's forward march reports from 0 to 100 % again: lines, not one monotone series.
    let forward = &phases(&stderr)["forward"];
    assert!(forward.contains(&100.0), "{forward:?}");
}
