//! Shared helpers of the integration tests: run the real `nlfp` binary (as a single process or
//! under `mpirun`), write configs into temporary directories, read results back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn nlfp() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nlfp"))
}

/// OpenMPI settings for tests: root allowed, oversubscription, ROMIO for parallel HDF5.
pub fn mpi_env(cmd: &mut Command) -> &mut Command {
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("OMPI_MCA_io", "^ompio")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env("RUST_LOG", "warn")
}

/// Runs `nlfp args...` on `np` ranks (`np = 0`: a single process without mpirun).
pub fn run(np: usize, args: &[&str]) -> Output {
    let mut cmd = if np == 0 {
        Command::new(nlfp())
    } else {
        let mut c = Command::new("mpirun");
        c.arg("-n").arg(np.to_string()).arg(nlfp());
        c
    };
    mpi_env(&mut cmd).args(args);
    cmd.output().expect("cannot launch nlfp")
}

/// Runs and asserts success, returning stdout.
pub fn run_ok(np: usize, args: &[&str]) -> String {
    let out = run(np, args);
    assert!(
        out.status.success(),
        "nlfp {args:?} on {np} ranks failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh temporary directory (removed when dropped).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Writes `text` as `name` in `dir` and returns the path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// Runs `nlfp COMMAND` (`forward`, `generate`, `particles`, `study`, ...) for `config` (TOML
/// text) on `np` ranks (0: no mpirun) with extra `--set` overrides, writing into `dir/name`;
/// returns the output directory.
pub fn run_command(
    command: &str,
    dir: &Path,
    name: &str,
    config: &str,
    np: usize,
    sets: &[&str],
) -> PathBuf {
    let cfg = write(dir, &format!("{name}.toml"), config);
    let out = dir.join(name);
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec![
        command,
        cfg.as_str(),
        "--out",
        out_s.as_str(),
        "--overwrite",
    ];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    run_ok(np, &args);
    out
}

/// [`run_command`] with `forward`.
pub fn forward(dir: &Path, name: &str, config: &str, np: usize, sets: &[&str]) -> PathBuf {
    run_command("forward", dir, name, config, np, sets)
}

/// [`run_command`] with `generate`.
pub fn generate(dir: &Path, name: &str, config: &str, np: usize, sets: &[&str]) -> PathBuf {
    run_command("generate", dir, name, config, np, sets)
}

/// The `f` dataset of `dir/final.h5` with its shape and time.
pub fn final_field(dir: &Path) -> nlfp::io::hdf5::StoredField {
    nlfp::io::hdf5::read_field(&dir.join("final.h5")).expect("read final.h5")
}

/// The diagnostics CSV as (header, rows of cells).
pub fn diagnostics(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(dir.join("diagnostics.csv")).expect("diagnostics.csv");
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// One numeric column of the diagnostics CSV.
pub fn column(dir: &Path, name: &str) -> Vec<f64> {
    let (header, rows) = diagnostics(dir);
    let k = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    rows.iter()
        .map(|r| r[k].parse::<f64>().unwrap_or(f64::NAN))
        .collect()
}

/// The largest of `|v|` over `values`, NaN if any value is NaN (a plain `f64::max` fold would
/// drop it and hide a broken run).
pub fn max_abs(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(0.0, |m: f64, v| {
        if m.is_nan() || v.is_nan() {
            f64::NAN
        } else {
            m.max(v.abs())
        }
    })
}

/// Max-norm of the difference of two equally long vectors (NaN propagates).
pub fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "vectors of different lengths");
    max_abs(a.iter().zip(b).map(|(x, y)| x - y))
}

/// Whether `a` and `b` have the same length and the same bits in every entry.
pub fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Observed convergence orders `ln(e_k / e_{k+1}) / ln(n_{k+1} / n_k)` for errors `e` on grids
/// of `n` cells per axis.
pub fn orders(errors: &[f64], ns: &[usize]) -> Vec<f64> {
    errors
        .windows(2)
        .zip(ns.windows(2))
        .map(|(e, n)| (e[0] / e[1]).ln() / (n[1] as f64 / n[0] as f64).ln())
        .collect()
}

/// Asserts that `a/final.h5` and `b/final.h5` hold bit-identical fields at the same step and t.
pub fn assert_same_final(a: &Path, b: &Path, what: &str) {
    let (fa, fb) = (final_field(a), final_field(b));
    assert_eq!(fa.shape, fb.shape, "{what}: shape");
    assert_eq!(fa.step, fb.step, "{what}: step count");
    assert_eq!(fa.t.to_bits(), fb.t.to_bits(), "{what}: final time");
    let differing = fa
        .values
        .iter()
        .zip(&fb.values)
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    assert_eq!(differing, 0, "{what}: {differing} values differ");
}

/// Asserts that the `dt` columns of two runs' diagnostics are bit-identical.
pub fn assert_same_dt_sequence(a: &Path, b: &Path, what: &str) {
    let bits = |p: &Path| -> Vec<u64> { column(p, "dt").iter().map(|x| x.to_bits()).collect() };
    assert_eq!(bits(a), bits(b), "{what}: dt sequences differ");
}

/// For `harness = false` MPI test programs: under `mpirun` (a rank), returns `None` so the caller
/// runs its checks; otherwise relaunches this program under `mpirun -n P` for every `P` in
/// `rank_counts`, prints `<label>: N passed, M failed` and returns the exit code.
pub fn relaunch_under_mpirun(rank_counts: &[usize], label: &str) -> Option<i32> {
    if std::env::var_os("OMPI_COMM_WORLD_SIZE").is_some() {
        return None;
    }
    let exe = std::env::current_exe().expect("own path");
    let (mut passed, mut failed) = (0, 0);
    for np in rank_counts {
        let mut cmd = Command::new("mpirun");
        mpi_env(&mut cmd).arg("-n").arg(np.to_string()).arg(&exe);
        let out = cmd.output().expect("cannot launch mpirun");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if out.status.success() {
            passed += 1;
        } else {
            failed += 1;
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    println!("{label}: {passed} passed, {failed} failed");
    Some(i32::from(failed > 0))
}

/// The `[grid]`, `[model]` and `[initial]` sections of the two-blob test problem: 1D (gamma = 3)
/// or 2D (gamma = 2) on `[-6, 6]^dim` with `n` cells per axis, mass `ratio` m_c, two Gaussian
/// blobs off the origin. Callers append their own `[time]`, `[output]`, ... sections.
pub fn two_blobs(dim: usize, n: usize, ratio: f64) -> String {
    let (gamma, components) = if dim == 1 {
        (
            3.0,
            "{ weight = 1.0, mean = [1.2], std = 0.4 }, { weight = 0.6, mean = [-1.5], std = 0.5 }",
        )
    } else {
        (
            2.0,
            "{ weight = 1.0, mean = [1.2, 0.3], std = 0.6 }, { weight = 0.7, mean = [-1.0, -1.0], std = 0.5 }",
        )
    };
    format!(
        "[grid]\ndim = {dim}\nn = {n}\nhalf_width = 6.0\n\
         [model]\ngamma = {gamma}\nmass_ratio = {ratio}\n\
         [initial]\nkind = \"gaussian_mixture\"\ncomponents = [{components}]\n"
    )
}
