//! Reliability under hostile conditions (issue 17): a full disk, a second writer, huge grids,
//! tampered files. Full-disk cases run on a small tmpfs when the test runs as root and
//! mounting works (otherwise they print why they are skipped).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A 2D supercritical run on an uneven grid.
const CONFIG: &str = r#"
[grid]
dim = 2
n = 31
half_width = 6.0
[model]
gamma = 2.0
mass_ratio = 1.4
[initial]
kind = "gaussian_mixture"
components = [ { weight = 1.0, mean = [1.0, 0.4], std = 0.6 }, { weight = 0.7, mean = [-1.2, -0.5], std = 0.5 } ]
[time]
t_end = 100.0
max_steps = 120
[reverse]
start = "asymptotic"
samples = 100
seed = 1
"#;

/// A tmpfs of `kib` KiB mounted under a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with the reason printed) when not root or when mounting fails.
    fn mount(kib: usize) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            println!("skipped: full-disk case needs root to mount a tmpfs");
            return None;
        }
        let dir = tempdir();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .status();
        match status {
            Ok(s) if s.success() => Some(Tmpfs { dir }),
            other => {
                println!("skipped: cannot mount a tmpfs ({other:?})");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Runs `mpirun -n np nlfp args`, killed after `limit`; returns the output and the time taken.
fn run_bounded(np: usize, args: &[&str], limit: Duration) -> (Output, Duration) {
    let mut cmd = Command::new("mpirun");
    mpi_env(&mut cmd)
        .arg("-n")
        .arg(np.to_string())
        .arg(nlfp())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("mpirun");
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "nlfp {args:?} still running after {limit:?} (deadlock?)\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    (out, start.elapsed())
}

fn checkpoints(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out.join("checkpoints"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "h5"));
    v.sort();
    v
}

/// Items 2 and 4: a full disk while writing snapshots (and their index) on 2 ranks ends the run
/// promptly with exit 1 and a message naming the file; no deadlock, no segfault; the last
/// checkpoint written is still valid.
#[test]
fn full_disk_during_forward_ends_cleanly() {
    let Some(fs) = Tmpfs::mount(200) else { return };
    let dir = tempdir();
    let cfg = write(dir.path(), "full.toml", CONFIG);
    let out = fs.path().join("run");
    let out_s = out.to_string_lossy().into_owned();
    let (output, took) = run_bounded(
        2,
        &[
            "forward",
            &cfg,
            "--out",
            &out_s,
            "--set",
            "output.snapshot_every=5",
            "--set",
            "checkpoint.every_steps=10",
        ],
        Duration::from_secs(90),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no space left"), "{stderr}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let ckpts = checkpoints(&out);
    let last = ckpts.last().expect("a checkpoint before the disk filled");
    let info = run_ok(0, &["info", &last.to_string_lossy()]);
    assert!(info.contains("verdict       valid"), "{info}");
    // No temporary file is left behind looking like a result.
    assert!(!out.join("snapshots.xdmf.tmp").exists());
}

/// Items 3 and 4: a full disk under the `disk` trajectory store of `generate` on 2 ranks ends
/// with exit 1 and the message, promptly (no deadlock in HDF5's close, no crash at finalize).
#[test]
fn full_disk_with_disk_store_ends_generate_cleanly() {
    let Some(fs) = Tmpfs::mount(400) else { return };
    let dir = tempdir();
    let cfg = write(dir.path(), "gen.toml", CONFIG);
    let out_s = fs.path().join("gen").to_string_lossy().into_owned();
    let (output, took) = run_bounded(
        2,
        &[
            "generate",
            &cfg,
            "--out",
            &out_s,
            "--set",
            "reverse.store=\"disk\"",
        ],
        Duration::from_secs(90),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("trajectory.h5") && stderr.contains("no space left"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

/// Item 8: a second writer on a running job's output directory is refused with exit 2, naming
/// the holder's host and pid, and the first job's diagnostics are left alone.
#[test]
fn a_second_writer_is_refused() {
    let dir = tempdir();
    let d = dir.path();
    let cfg = write(d, "lock.toml", CONFIG);
    let out = d.join("run");
    let out_s = out.to_string_lossy().into_owned();
    let sets = [
        "--set",
        "time.max_steps=100000000",
        "--set",
        "time.t_end=1e9",
        "--set",
        "checkpoint.every_steps=10",
    ];
    let mut cmd = Command::new("mpirun");
    mpi_env(&mut cmd)
        .args(["-n", "2"])
        .arg(nlfp())
        .args(["forward", &cfg, "--out", &out_s])
        .args(sets)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let first = cmd.spawn().unwrap();
    let start = Instant::now();
    while checkpoints(&out).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "first run did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let rows =
        || std::fs::read_to_string(out.join("diagnostics.csv")).map_or(0, |t| t.lines().count());
    let before = rows();
    let mut args = vec![
        "forward",
        cfg.as_str(),
        "--out",
        out_s.as_str(),
        "--restart",
        "auto",
    ];
    args.extend(sets);
    let (second, _) = run_bounded(2, &args, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    let holder = std::fs::read_to_string(out.join(".nlfp.lock")).unwrap();
    assert!(
        holder.starts_with("host ") && holder.contains(", pid "),
        "{holder}"
    );
    assert!(
        stderr.contains("is in use by another nlfp run") && stderr.contains(holder.trim()),
        "{stderr}"
    );
    // The first run went on writing its diagnostics (not truncated by the second).
    assert!(rows() >= before, "diagnostics truncated");
    // SAFETY: signals the mpirun this test started.
    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    // mpirun itself was signalled, so its exit code is its own; the ranks stopped cleanly.
    let output = first.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("resume with --restart auto"), "{stderr}");
}

/// Item 1 and the half-width part of item 9: grids that cannot fit or overflow the index
/// arithmetic, and a half width whose products leave the floating-point range, are refused by
/// `check` and by the commands before anything is allocated or written (exit 2, numbers in the
/// message).
#[test]
fn huge_grids_are_refused_before_allocating() {
    let dir = tempdir();
    let cfg = write(dir.path(), "huge.toml", CONFIG);
    let out_s = dir.path().join("huge").to_string_lossy().into_owned();
    let cases: [(&str, &[&str]); 3] = [
        (
            "grid.n=200001",
            &["does not fit in memory", "per node", "are available"],
        ),
        (
            "grid.n=9223372036854775807",
            &["grid.n", "overflow the index arithmetic"],
        ),
        (
            "grid.half_width=1e300",
            &["grid.half_width", "got 1e300", "h^2 = inf"],
        ),
    ];
    for (set, needles) in cases {
        for command in ["check", "forward"] {
            let mut args = vec![command, cfg.as_str(), "--set", set];
            if command == "forward" {
                args.extend(["--out", out_s.as_str()]);
            }
            let (out, took) = run_bounded(2, &args, Duration::from_secs(60));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {set}: {stderr}");
            for n in needles {
                assert!(stderr.contains(n), "{command} {set}: {n:?} not in {stderr}");
            }
            assert!(
                took < Duration::from_secs(30),
                "{command} {set} took {took:?}"
            );
        }
        assert!(
            !dir.path().join("huge").exists(),
            "{set}: nothing is written"
        );
    }
}

/// Item 9: `nlfp info` checks the `n` / `dim` attributes against the dataset's shape.
#[test]
fn info_checks_grid_attributes_against_the_shape() {
    let dir = tempdir();
    let out = forward(dir.path(), "info", CONFIG, 0, &["time.max_steps=3"]);
    let file = out.join("final.h5");
    let info = run_ok(0, &["info", &file.to_string_lossy()]);
    assert!(info.contains("verdict       valid"), "{info}");
    assert!(
        info.contains("attributes    valid: dim = 2, n = 31 match"),
        "{info}"
    );
    {
        let f = hdf5::File::open_rw(&file).unwrap();
        f.delete_attr("n").unwrap();
        f.new_attr::<u64>()
            .create("n")
            .unwrap()
            .write_scalar(&33u64)
            .unwrap();
    }
    let info = run_ok(0, &["info", &file.to_string_lossy()]);
    assert!(info.contains("n = 33 do not match"), "{info}");
    assert!(info.contains("verdict       INVALID"), "{info}");
}

/// Item 9: `study` stopped by SIGTERM exits 75 (requeue), not 1.
#[test]
#[ignore = "start detection does not see the runs' diagnostics yet (buffered CSV?); to finish"]
fn study_stopped_by_sigterm_exits_75() {
    let dir = tempdir();
    let d = dir.path();
    let config = format!(
        "{CONFIG}[output]\ndiagnostics_every = 1\n[study]\nmass_ratio = [0.8, 1.4]\nprofile_fit = [0.0, 2.0]\n"
    );
    let cfg = write(d, "study.toml", &config);
    let out = d.join("study");
    let out_s = out.to_string_lossy().into_owned();
    let mut cmd = Command::new("mpirun");
    mpi_env(&mut cmd)
        .args(["-n", "2"])
        .arg(nlfp())
        .args(["study", &cfg, "--out", &out_s])
        .args([
            "--set",
            "time.max_steps=100000000",
            "--set",
            "time.t_end=1e9",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    let started = || {
        std::fs::read_dir(&out)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_to_string(e.path().join("diagnostics.csv"))
                    .is_ok_and(|t| t.lines().count() > 3)
            })
    };
    while !started() {
        assert!(child.try_wait().unwrap().is_none(), "study ended early");
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "study did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The ranks' command lines start with the binary; mpirun's starts with "mpirun".
    let pattern = format!("^{} study .*{}", nlfp().display(), out.display());
    let status = Command::new("pkill")
        .args(["-TERM", "-f", &pattern])
        .status()
        .unwrap();
    assert!(status.success(), "no rank matched {pattern}");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
}
