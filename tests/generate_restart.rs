//! `nlfp generate` survives a time limit (issue 12) and its checkpoints are trustworthy
//! (issue 17, items 5–7): stopped by SIGTERM in the forward and in the reverse phase on 2
//! ranks, resumed with `--restart auto` on 3 and on 1, the results equal an uninterrupted run
//! bit for bit; a truncated newest checkpoint or one with a changed attribute is skipped with
//! its reason; a physics change is refused naming the key; a checkpoint of another job kind is
//! refused naming both; `--overwrite` never deletes outside the output directory what is not
//! verifiably the run's, and a checkpoint directory shared with another run is refused.
//!
//! The signal is sent by the ranks to themselves at a chosen progress counter
//! (`NLFP_TEST_SIGNAL`, [`nlfp::signals::TEST_SIGNAL_ENV`]): the real handler, flag and poll,
//! without racing a run that takes a second.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// 2D, n = 31, T = 1 (100 forward steps), both samplers.
fn config() -> String {
    two_blobs(2, 31, 1.5)
        + "[time]\nt_end = 1.0\n\
           [output]\ndiagnostics_every = 1000\nprogress_every = 1000.0\n\
           [reverse]\nsamples = 300\nseed = 3\nsampler = \"both\"\n"
}

fn mpirun(np: usize, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new("mpirun");
    cmd.arg("-n").arg(np.to_string()).arg(nlfp());
    mpi_env(&mut cmd).env("RUST_LOG", "info").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("cannot launch nlfp")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn generate_args<'a>(cfg: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["generate", cfg, "--out", out];
    args.extend_from_slice(extra);
    args
}

fn checkpoints(out: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(out.join("checkpoints"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.retain(|p| p.extension().is_some_and(|e| e == "h5"));
    found.sort();
    found
}

fn dataset(path: &Path, name: &str) -> Vec<f64> {
    let file = hdf5::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.dataset(name).unwrap().read_raw::<f64>().unwrap()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Every result of `b` equals `a`'s bit for bit. `reverse.csv`: the columns that involve no
/// sum over the ranks bit for bit (all of them when `same_ranks`); the mass and L1 sums, whose
/// last bits depend on the rank count (as in any uninterrupted run), to 1e-13 relative.
fn assert_same_results(a: &Path, b: &Path, same_ranks: bool, what: &str) {
    for (file, name) in [
        ("reconstruction.h5", "f"),
        ("terminal.h5", "f"),
        ("start.h5", "f"),
        ("samples.h5", "samples"),
        ("samples_sde.h5", "samples"),
    ] {
        assert_eq!(
            bits(&dataset(&a.join(file), name)),
            bits(&dataset(&b.join(file), name)),
            "{what}: {file}"
        );
    }
    for file in ["samples.csv", "samples_sde.csv"] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{what}: {file}"
        );
    }
    let rows = |dir: &Path| -> Vec<Vec<String>> {
        std::fs::read_to_string(dir.join("reverse.csv"))
            .unwrap()
            .lines()
            .map(|l| l.split(',').take(9).map(str::to_string).collect())
            .collect()
    };
    let (ra, rb) = (rows(a), rows(b));
    assert_eq!(ra.len(), rb.len(), "{what}: reverse.csv rows");
    assert_eq!(ra.len(), 102, "{what}: header + rows 100..=0");
    for (x, y) in ra.iter().zip(&rb).skip(1) {
        for col in 0..9 {
            let summed = col == 3 || col == 6; // mass, l1_to_forward
            if same_ranks || !summed {
                assert_eq!(
                    x[col], y[col],
                    "{what}: reverse.csv step {} col {col}",
                    x[0]
                );
            } else {
                let (p, q): (f64, f64) = (x[col].parse().unwrap(), y[col].parse().unwrap());
                assert!(
                    (p - q).abs() <= 1e-13 * p.abs(),
                    "{what}: step {} {p} {q}",
                    x[0]
                );
            }
        }
    }
}

#[test]
fn generate_stopped_in_either_phase_resumes_bit_for_bit_on_another_rank_count() {
    let dir = tempdir();
    let d = dir.path();
    let reference = generate(d, "ref", &config(), 2, &[]);
    let cfg = write(d, "g.toml", &config());
    // Progress 45: forward step 45; progress 150: reverse step n = 50 (2N - n with N = 100).
    for (at, phase, np) in [(45, "forward", 3), (150, "reverse", 1)] {
        let out = d.join(format!("stop{at}"));
        let out_s = out.to_string_lossy().into_owned();
        let signal = format!("TERM@{at}");
        let res = mpirun(
            2,
            &[("NLFP_TEST_SIGNAL", &signal)],
            &generate_args(&cfg, &out_s, &[]),
        );
        let err = stderr(&res);
        assert_eq!(res.status.code(), Some(75), "{phase}: {err}");
        assert!(err.contains("SIGTERM received"), "{err}");
        assert!(err.contains("resume with --restart auto"), "{err}");
        assert!(err.contains(&format!("generate {phase}")), "{err}");
        // Nothing that looks like a finished run.
        for file in ["reconstruction.h5", "samples.h5", "summary.toml"] {
            assert!(!out.join(file).exists(), "{phase}: {file} after a stop");
        }
        let ckpts = checkpoints(&out);
        assert_eq!(ckpts.len(), 1, "{ckpts:?}");
        let info = run_ok(0, &["info", &ckpts[0].to_string_lossy()]);
        assert!(
            info.contains(&format!("generate (phase {phase})")),
            "{info}"
        );
        assert!(info.contains("verdict       valid"), "{info}");
        let res = mpirun(
            np,
            &[],
            &generate_args(&cfg, &out_s, &["--restart", "auto"]),
        );
        let err = stderr(&res);
        assert!(res.status.success(), "{phase} restart on {np}: {err}");
        assert!(err.contains("resuming from"), "{err}");
        assert_same_results(
            &reference,
            &out,
            false,
            &format!("{phase} stop, {np} ranks"),
        );
    }
}

#[test]
fn damaged_checkpoints_are_skipped_other_physics_and_other_kinds_refused() {
    let dir = tempdir();
    let d = dir.path();
    let sets = ["checkpoint.every_steps=30", "checkpoint.keep=10"];
    let reference = generate(d, "ref", &config(), 2, &sets);
    let ckpts = checkpoints(&reference);
    let names: Vec<String> = ckpts
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // Forward at 30, 60, 90; reverse at n = 70, 40, 10 (progress 130, 160, 190).
    assert_eq!(
        names,
        [30, 60, 90, 130, 160, 190].map(|s| format!("ckpt_{s:012}.h5"))
    );
    let cfg = write(d, "g.toml", &config());
    let copy = |name: &str| {
        let out = d.join(name);
        let status = Command::new("cp")
            .args(["-a", &reference.to_string_lossy(), &out.to_string_lossy()])
            .status()
            .unwrap();
        assert!(status.success());
        for file in [
            "reconstruction.h5",
            "samples.h5",
            "samples.csv",
            "summary.toml",
        ] {
            std::fs::remove_file(out.join(file)).unwrap();
        }
        out
    };

    // Truncated newest (190), `t` of the next (160) one ulp off, `physics` of 130 changed by
    // one byte: all three are corruption, skipped with their reasons; 90 (forward) is used.
    let out = copy("damaged");
    let ck = checkpoints(&out);
    let bytes = std::fs::read(&ck[5]).unwrap();
    std::fs::write(&ck[5], &bytes[..bytes.len() / 2]).unwrap();
    {
        let file = hdf5::File::open_rw(&ck[4]).unwrap();
        let attr = file.attr("t").unwrap();
        let t: f64 = attr.read_scalar().unwrap();
        attr.write_scalar(&f64::from_bits(t.to_bits() + 1)).unwrap();
    }
    let mut bytes = std::fs::read(&ck[3]).unwrap();
    let key = b"model.gamma = 2";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("physics text in the file");
    bytes[at + key.len() - 1] = b'3';
    std::fs::write(&ck[3], &bytes).unwrap();
    let info = run(0, &["info", &ck[4].to_string_lossy()]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("INVALID"));
    let out_s = out.to_string_lossy().into_owned();
    let res = mpirun(3, &[], &generate_args(&cfg, &out_s, &["--restart", "auto"]));
    let err = stderr(&res);
    assert!(res.status.success(), "{err}");
    for (k, reason) in [
        (5, "cannot open"),
        (4, "attributes fail their checksum"),
        (3, "attributes fail their checksum"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains("skipping") && l.contains(&names[k]))
            .unwrap_or_else(|| panic!("{} not skipped: {err}", names[k]));
        assert!(line.contains(reason), "{line}");
    }
    assert!(
        err.contains(&format!("resuming from {}", ck[2].display())),
        "{err}"
    );
    assert_same_results(&reference, &out, false, "fallback to 90");

    // A real physics change is refused, naming the key.
    let out = copy("physics");
    let out_s = out.to_string_lossy().into_owned();
    let res = mpirun(
        2,
        &[],
        &generate_args(
            &cfg,
            &out_s,
            &["--restart", "auto", "--set", "model.gamma=2.5"],
        ),
    );
    let err = stderr(&res);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("restart refused") && err.contains("model.gamma"),
        "{err}"
    );

    // A generate checkpoint given to forward, and a forward checkpoint given to generate.
    let ck = checkpoints(&out)[3].to_string_lossy().into_owned();
    let fwd = d.join("fwd").to_string_lossy().into_owned();
    let res = mpirun(2, &[], &["forward", &cfg, "--out", &fwd, "--restart", &ck]);
    let err = stderr(&res);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`generate` job cannot continue a `forward` job"),
        "{err}"
    );
    let fwd_run = forward(d, "fwd", &config(), 1, &sets);
    let fck = checkpoints(&fwd_run)[0].to_string_lossy().into_owned();
    let res = mpirun(1, &[], &generate_args(&cfg, &out_s, &["--restart", &fck]));
    let err = stderr(&res);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`forward` job cannot continue a `generate` job"),
        "{err}"
    );
}

#[test]
fn overwrite_never_deletes_what_is_not_the_runs_and_runs_do_not_share_checkpoints() {
    let dir = tempdir();
    let d = dir.path();
    let shared = d.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    // Files next to the run that are not its checkpoints, one of them named like one.
    std::fs::write(shared.join("unrelated.h5"), b"keep me").unwrap();
    std::fs::write(shared.join("ckpt_000000000999.h5"), b"not nlfp's").unwrap();
    let config = two_blobs(2, 31, 0.5) + "[time]\nt_end = 0.2\n";
    let sets = ["checkpoint.every_steps=5", "checkpoint.dir=\"../shared\""];
    forward(d, "a", &config, 1, &sets);
    let ours = |dir: &Path| {
        nlfp::io::checkpoint::list(dir)
            .into_iter()
            .filter(|(s, _)| *s != 999)
            .count()
    };
    assert!(ours(&shared) > 0);
    // Again with --overwrite: this run's checkpoints are replaced, nothing else is touched.
    forward(d, "a", &config, 1, &sets);
    assert!(shared.join("unrelated.h5").exists());
    assert_eq!(
        std::fs::read(shared.join("ckpt_000000000999.h5")).unwrap(),
        b"not nlfp's"
    );
    // Another run with the same checkpoint directory is refused before it writes anything.
    let cfg = write(d, "b.toml", &config);
    let out_b = d.join("b").to_string_lossy().into_owned();
    let mut args = vec!["forward", &cfg, "--out", &out_b, "--overwrite"];
    for s in &sets {
        args.extend(["--set", s]);
    }
    let res = run(1, &args);
    let err = stderr(&res);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("holds") && err.contains("give each run its own"),
        "{err}"
    );
    assert!(!d.join("b").join("final.h5").exists());
}
