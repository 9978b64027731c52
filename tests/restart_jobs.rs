//! Every long job survives a time limit (issue 12): `particles`, `filter` and `study` stopped by
//! SIGTERM on 2 ranks exit 75 with their checkpoints, and `--restart auto` on another rank
//! count (3, and 1) ends with the results of an uninterrupted run, bit for bit (explicit
//! steppers); a physics change on restart is refused naming the key, and a checkpoint of
//! another job kind naming both kinds.
//!
//! The signal is sent by the ranks to themselves at a chosen progress counter
//! (`NLFP_TEST_SIGNAL`: the particle step; the cycles done by `filter`; the step of each study
//! run), through the real handler, flag and poll.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// Copies the run directory `from` to `to` (a second interrupted run to resume elsewhere).
fn copy_run(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .args(["-a", &from.to_string_lossy(), &to.to_string_lossy()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs `nlfp COMMAND cfg --out out` on `np` ranks with `extra` arguments and, if given, the
/// test signal `signal` (`TERM@P`).
fn launch(
    np: usize,
    command: &str,
    cfg: &str,
    out: &Path,
    signal: Option<&str>,
    extra: &[&str],
) -> std::process::Output {
    let out = out.to_string_lossy().into_owned();
    let mut args = vec![command, cfg, "--out", &out];
    args.extend_from_slice(extra);
    match signal {
        Some(s) => mpirun(np, &[("NLFP_TEST_SIGNAL", s)], &args),
        None => mpirun(np, &[], &args),
    }
}

/// Asserts a stop by SIGTERM: exit 75, the message, one checkpoint of `kind` valid by `nlfp
/// info`.
fn assert_stopped(res: &std::process::Output, out: &Path, kind: &str) {
    let err = stderr(res);
    assert_eq!(res.status.code(), Some(75), "{kind}: {err}");
    assert!(err.contains("SIGTERM received"), "{err}");
    assert!(err.contains("--restart auto"), "{err}");
    let ckpts = checkpoints(out);
    assert_eq!(ckpts.len(), 1, "{kind}: {ckpts:?}");
    let info = run_ok(0, &["info", &ckpts[0].to_string_lossy()]);
    assert!(info.contains(kind), "{info}");
    assert!(info.contains("verdict       valid"), "{info}");
}

/// 2D, n = 31, 3000 particles, 50 steps, positions every 10 steps.
fn particles_config() -> String {
    two_blobs(2, 31, 0.6)
        + "[time]\nt_end = 0.5\n[output]\ndiagnostics_every = 5\nprogress_every = 1000.0\n\
           [particles]\ncount = 3000\ndt = 0.01\nsmoothing = 1\nseed = 7\npositions_every = 10\n"
}

#[test]
fn particles_stopped_by_sigterm_resume_bit_for_bit_on_other_rank_counts() {
    let dir = tempdir();
    let d = dir.path();
    let reference = run_command("particles", d, "ref", &particles_config(), 2, &[]);
    let cfg = write(d, "p.toml", &particles_config());
    let out = d.join("stop");
    let res = launch(2, "particles", &cfg, &out, Some("TERM@23"), &[]);
    assert_stopped(&res, &out, "particles");
    assert!(!out.join("final.h5").exists(), "final.h5 after a stop");
    assert!(!out.join("positions.h5").exists());
    let again = d.join("again");
    copy_run(&out, &again);

    // A changed particle key is refused naming it; nothing is lost.
    let res = launch(
        2,
        "particles",
        &cfg,
        &out,
        None,
        &["--restart", "auto", "--set", "particles.seed=8"],
    );
    let err = stderr(&res);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("restart refused") && err.contains("particles.seed"),
        "{err}"
    );
    assert_eq!(checkpoints(&out).len(), 1);

    for (out, np) in [(&out, 3), (&again, 1)] {
        let res = launch(np, "particles", &cfg, out, None, &["--restart", "auto"]);
        let err = stderr(&res);
        assert!(res.status.success(), "restart on {np}: {err}");
        assert!(err.contains("resuming from"), "{err}");
        for (file, name) in [
            ("final.h5", "f"),
            ("positions.h5", "x"),
            ("positions/pos_000000000040.h5", "x"),
        ] {
            assert_eq!(
                bits(&dataset(&reference.join(file), name)),
                bits(&dataset(&out.join(file), name)),
                "{np} ranks: {file}"
            );
        }
        // The rows up to the checkpoint are kept, the later ones appended: one row per step
        // of the cadence (the density sums are rank-summed diagnostics, as in any run).
        let steps = |dir: &Path| -> Vec<String> {
            diagnostics(dir)
                .1
                .into_iter()
                .map(|r| r[0].clone())
                .collect()
        };
        assert_eq!(
            steps(&reference),
            steps(out),
            "{np} ranks: diagnostics rows"
        );
    }
}

/// 1D, n = 31, two variants of two cycles each (progress 1..4).
fn filter_config() -> String {
    two_blobs(1, 31, 0.6)
        + "[time]\nt_end = 0.25\n[output]\nprogress_every = 1000.0\n\
           [filter]\ncycles = 2\nvariant = [\"exact_asymptotic\", \"score\"]\nnoise = 0.3\nseed = 1\n"
}

/// `filter.csv` without the columns that depend on the rank count or the clock (from
/// `start_error` on).
fn filter_table(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("filter.csv")).expect("filter.csv");
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let keep = header.iter().position(|h| *h == "start_error").unwrap();
    text.lines()
        .map(|l| l.split(',').take(keep).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
fn filter_stopped_at_a_cycle_boundary_resumes_to_the_same_results() {
    let dir = tempdir();
    let d = dir.path();
    let reference = run_command("filter", d, "ref", &filter_config(), 2, &[]);
    let cfg = write(d, "f.toml", &filter_config());
    let out = d.join("stop");
    // After the first cycle of the second variant.
    let res = launch(2, "filter", &cfg, &out, Some("TERM@3"), &[]);
    assert_stopped(&res, &out, "filter");
    assert!(!out.join("filter.csv").exists(), "filter.csv after a stop");
    let res = launch(3, "filter", &cfg, &out, None, &["--restart", "auto"]);
    let err = stderr(&res);
    assert!(res.status.success(), "{err}");
    assert!(err.contains("resuming from"), "{err}");
    assert_eq!(filter_table(&reference), filter_table(&out));
    for v in ["exact_asymptotic", "score"] {
        let file = format!("filtered_{v}.h5");
        assert_eq!(
            bits(&dataset(&reference.join(&file), "f")),
            bits(&dataset(&out.join(&file), "f")),
            "{file}"
        );
    }
    // A particle checkpoint given to filter is refused naming both kinds.
    let p = run_command(
        "particles",
        d,
        "p",
        &particles_config(),
        1,
        &["checkpoint.every_steps=20"],
    );
    let ckpt = checkpoints(&p)[0].to_string_lossy().into_owned();
    let res = launch(
        1,
        "filter",
        &cfg,
        &d.join("other"),
        None,
        &["--restart", &ckpt],
    );
    let err = stderr(&res);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`particles` job cannot continue a `filter` job"),
        "{err}"
    );
}

/// 1D, supercritical, explicit; the runs n = 31 and n = 63 (different step counts).
fn study_config() -> String {
    two_blobs(1, 31, 1.5)
        + "[time]\nt_end = 2.0\ndt_max = 1.0\n[output]\ndiagnostics_every = 1\nprogress_every = 1000.0\n\
           [study]\nn = [31, 63]\nrefine = false\npictures = false\nprofile_fit = [0.0, 2.0]\n"
}

/// `study.csv` without its wall-time columns.
fn study_table(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("study.csv")).expect("study.csv");
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let wall: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.contains("wall"))
        .map(|(k, _)| k)
        .collect();
    text.lines()
        .map(|l| {
            l.split(',')
                .enumerate()
                .filter(|(k, _)| !wall.contains(k))
                .map(|(_, c)| c.to_string())
                .collect()
        })
        .collect()
}

/// The run directories of a study, by name.
fn study_runs(out: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    runs.sort();
    runs
}

#[test]
fn study_stopped_by_sigterm_keeps_finished_runs_and_resumes_the_others() {
    let dir = tempdir();
    let d = dir.path();
    let reference = run_command("study", d, "ref", &study_config(), 1, &[]);
    let steps: Vec<usize> = study_runs(&reference)
        .iter()
        .map(|r| diagnostics(r).1.len() - 1)
        .collect();
    let (short, long) = (*steps.iter().min().unwrap(), *steps.iter().max().unwrap());
    assert!(short + 4 < long, "steps {steps:?}");
    // Between the two: the short run ends before the signal, the long one is stopped by it.
    let signal = format!("TERM@{}", (short + long) / 2);
    let cfg = write(d, "s.toml", &study_config());
    let out = d.join("stop");
    let res = launch(2, "study", &cfg, &out, Some(&signal), &[]);
    let err = stderr(&res);
    assert_eq!(res.status.code(), Some(75), "{err}");
    assert!(err.contains("stopped by a signal"), "{err}");
    let runs = study_runs(&out);
    let finished: Vec<bool> = runs
        .iter()
        .map(|r| r.join("outcome.txt").exists())
        .collect();
    assert_eq!(finished.iter().filter(|&&f| f).count(), 1, "{runs:?}");
    let stopped = &runs[finished.iter().position(|f| !f).unwrap()];
    assert_eq!(checkpoints(stopped).len(), 1, "{stopped:?}");

    // `--restart` takes only `auto`.
    let res = launch(2, "study", &cfg, &out, None, &["--restart", "x.h5"]);
    assert_eq!(res.status.code(), Some(2), "{}", stderr(&res));

    // On 1 rank: every run on one rank as in the reference (with fewer ranks than runs the
    // table does not depend on the rank count; the rank-summed diagnostics of a run split over
    // ranks would differ in their last bits, as in any run).
    let res = launch(1, "study", &cfg, &out, None, &["--restart", "auto"]);
    let err = stderr(&res);
    assert!(res.status.success(), "{err}");
    assert!(err.contains("finished before, kept"), "{err}");
    assert!(err.contains("resuming from"), "{err}");
    assert_eq!(study_table(&reference), study_table(&out));
    for (a, b) in study_runs(&reference).iter().zip(&study_runs(&out)) {
        assert_same_final(a, b, &b.to_string_lossy());
    }

    // A finished run under other physics (not part of the run names) is refused naming the
    // key.
    let res = launch(
        2,
        "study",
        &cfg,
        &out,
        None,
        &["--restart", "auto", "--set", "model.kappa=0.5"],
    );
    let err = stderr(&res);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("restart refused") && err.contains("model.kappa"),
        "{err}"
    );
}
