//! Test 7: `nlfp generate` as a real Slurm batch job, stopped in its reverse phase and requeued.
//!
//! On a single-node Slurm started by `scripts/slurm-local.sh start` (which installs slurm-wlm and
//! munge with apt-get when absent), `jobs/nlfp.sbatch generate` runs a short 2D generate on 2 ranks
//! with `checkpoint.on_usr1 = "stop"`. Once the job log shows the reverse phase, `scancel
//! --signal=USR1 --batch` signals the batch shell, which forwards SIGUSR1 to the job step; the
//! ranks checkpoint (phase `reverse`: `u`, `w`, the recorded run, the walk's state) and exit 75,
//! the script runs `scontrol requeue`, and the requeued job resumes with `--restart auto` from that
//! reverse-phase checkpoint and finishes. Its `reconstruction.h5`, `samples.h5`, `samples.csv` and
//! `reverse.csv` (but its wall-time column) must equal, bit for bit, those of an uninterrupted
//! run of the same config, and Slurm must report the job as restarted once.
//!
//! Needs root (Slurm daemons, munge) and apt-get or an installed Slurm: otherwise the test says why
//! and returns. Set `NLFP_SKIP_SLURM_TEST=1` to skip it on purpose. `NLFP_LAUNCHER=mpirun|srun`
//! (passed on to the job) selects the launcher inside the job; the default lets the script choose.
//! `NLFP_SLURM_TEST_T_END` changes the simulated end time (default 0.6: about 500 forward steps
//! and as many reverse steps, 5-20 s on 2 ranks).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The repository root (scripts and job files live there).
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary under test.
fn nlfp() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nlfp"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command to completion, panicking with its output when it cannot start.
fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs a command and asserts success; returns stdout.
fn run_ok(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// OpenMPI settings for tests: root allowed, oversubscription, ROMIO for parallel HDF5.
fn mpi_env(cmd: &mut Command) -> &mut Command {
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("OMPI_MCA_io", "^ompio")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
}

/// `mpirun -n np nlfp args...`
fn mpirun_nlfp(np: usize, args: &[&str]) -> Command {
    let mut cmd = Command::new("mpirun");
    cmd.arg("-n").arg(np.to_string()).arg(nlfp()).args(args);
    mpi_env(&mut cmd);
    cmd
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Why this machine cannot run the test, if it cannot.
fn skip_reason() -> Option<String> {
    if std::env::var_os("NLFP_SKIP_SLURM_TEST").is_some() {
        return Some("NLFP_SKIP_SLURM_TEST is set".into());
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .map(|o| text(&o.stdout));
    if uid.as_deref().map(str::trim) != Some("0") {
        return Some("not root: a local Slurm (slurmctld, slurmd, munged) needs root".into());
    }
    let slurm_installed = ["slurmctld", "slurmd", "sbatch", "munged"]
        .iter()
        .all(|c| have(c));
    if !slurm_installed && !have("apt-get") {
        return Some(
            "no apt-get to install slurm-wlm and munge, and they are not installed".into(),
        );
    }
    if !have("mpirun") {
        return Some("no mpirun".into());
    }
    None
}

/// A Slurm client command with the local Slurm's config.
fn slurm(prog: &str, conf: &str) -> Command {
    let mut cmd = Command::new(prog);
    cmd.env("SLURM_CONF", conf);
    cmd
}

/// Stops what the test started, also when it fails: cancels the job, then stops the local Slurm
/// unless it was already running before the test.
struct SlurmGuard {
    conf: String,
    stop_on_drop: bool,
    job: Option<String>,
}

impl SlurmGuard {
    fn start() -> SlurmGuard {
        let script = repo().join("scripts/slurm-local.sh");
        let was_running = Command::new("bash")
            .arg(&script)
            .arg("status")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        let t0 = Instant::now();
        let out = run_ok(Command::new("bash").arg(&script).arg("start"));
        eprintln!(
            "slurm: {} ({:.1} s)",
            out.trim(),
            t0.elapsed().as_secs_f64()
        );
        let env = run_ok(Command::new("bash").arg(&script).arg("env"));
        let conf = env
            .trim()
            .strip_prefix("export SLURM_CONF=")
            .unwrap_or_else(|| panic!("unexpected `slurm-local.sh env` output: {env}"))
            .to_string();
        SlurmGuard {
            conf,
            stop_on_drop: !was_running,
            job: None,
        }
    }
}

impl Drop for SlurmGuard {
    fn drop(&mut self) {
        if let Some(job) = &self.job {
            let _ = slurm("scancel", &self.conf).arg(job).output();
        }
        if self.stop_on_drop {
            let _ = Command::new("bash")
                .arg(repo().join("scripts/slurm-local.sh"))
                .arg("stop")
                .status();
        }
    }
}

/// `JobState` and `Restarts` of a job from `scontrol show job`, None when Slurm no longer knows it.
fn job_state(conf: &str, job: &str) -> Option<(String, u32)> {
    let out = slurm("scontrol", conf)
        .args(["show", "job", job])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = text(&out.stdout);
    let field = |key: &str| {
        s.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(str::to_string)
    };
    let state = field("JobState=")?;
    let restarts = field("Restarts=").and_then(|r| r.parse().ok()).unwrap_or(0);
    Some((state, restarts))
}

/// The 2D generate config of the test: supercritical, SSP-RK2 with the exact reverse, the
/// recompute store (its kept states go into the checkpoint) and the walk sampler; progress lines
/// twice a second tell the test which phase the job is in.
fn config(t_end: f64) -> String {
    format!(
        r#"# tests/slurm.rs: a short supercritical 2D generate that can be interrupted.
[grid]
dim = 2
n = 151
half_width = 6.0

[model]
kappa = 1.0
gamma = 2.0
mass_ratio = 1.5

[initial]
kind = "gaussian_mixture"
components = [
    {{ weight = 1.0, mean = [1.5, 0.0], std = 0.5 }},
    {{ weight = 1.0, mean = [-0.75, 1.3], std = 0.5 }},
    {{ weight = 1.0, mean = [-0.75, -1.3], std = 0.5 }},
]

[time]
t_end = {t_end}
stepper = "ssprk2"
scheme = "sg"

[reverse]
samples = 1000
seed = 7

[checkpoint]
keep = 3

[output]
diagnostics_every = 100
progress_every = 0.5
"#
    )
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn slurm_job_is_stopped_requeued_and_resumes_bit_identically() {
    if let Some(why) = skip_reason() {
        eprintln!("slurm test skipped: {why}");
        return;
    }
    let t_end: f64 = std::env::var("NLFP_SLURM_TEST_T_END")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.6);

    // Declared before the guard so that the guard (job cancelled, Slurm stopped) drops first.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mut guard = SlurmGuard::start();
    let conf = guard.conf.clone();

    let cfg = dir.join("run.toml");
    std::fs::write(&cfg, config(t_end)).unwrap();
    let cfg_s = cfg.to_string_lossy().into_owned();

    // 1. The uninterrupted reference on 2 ranks.
    let reference = dir.join("reference");
    let t0 = Instant::now();
    run_ok(&mut mpirun_nlfp(
        2,
        &["generate", &cfg_s, "--out", &reference.to_string_lossy()],
    ));
    let t_ref = t0.elapsed();
    eprintln!("reference run: {:.1} s", t_ref.as_secs_f64());

    // 2. The same run as a batch job that stops on SIGUSR1 (exit 75) and requeues itself.
    let out = dir.join("job");
    let log_pattern = dir.join("job-%j.out");
    let sbatch = run_ok(
        slurm("sbatch", &conf)
            .current_dir(dir)
            .env("NLFP_BIN", nlfp())
            .arg("--parsable")
            .arg("--ntasks=2")
            .arg("--time=00:15:00")
            .arg(format!("--output={}", log_pattern.display()))
            .arg(repo().join("jobs/nlfp.sbatch"))
            .arg("generate")
            .arg(&cfg_s)
            .arg(&out)
            .args(["--set", "checkpoint.on_usr1=stop"]),
    );
    let job = sbatch.trim().split(';').next().unwrap().to_string();
    assert!(!job.is_empty(), "sbatch printed no job id");
    guard.job = Some(job.clone());
    let log = dir.join(format!("job-{job}.out"));
    eprintln!("submitted job {job}");

    // 3. Wait until the job log shows the reverse phase, then ask the batch shell to stop it.
    let t_sub = Instant::now();
    loop {
        let st = job_state(&conf, &job);
        let in_reverse = read_log(&log).contains("progress reverse");
        if matches!(&st, Some((s, _)) if s == "RUNNING") && in_reverse {
            break;
        }
        if let Some((s, _)) = &st {
            assert!(
                s == "PENDING" || s == "RUNNING" || s == "CONFIGURING",
                "job {job} is {s} before it was signalled (reverse phase too short? raise \
                 NLFP_SLURM_TEST_T_END)\nlog:\n{}",
                read_log(&log)
            );
        }
        assert!(
            t_sub.elapsed() < Duration::from_secs(180),
            "job {job} has not reached its reverse phase within 180 s (state {st:?})\nlog:\n{}",
            read_log(&log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "job {job} in its reverse phase after {:.1} s: sending USR1 to the batch shell",
        t_sub.elapsed().as_secs_f64()
    );
    run_ok(slurm("scancel", &conf).args(["--signal=USR1", "--batch", &job]));
    let t_sig = Instant::now();

    // 4. Wait (bounded) for the requeued job to finish: the whole run again plus the requeue,
    //    with room for a machine that other work slows down (the reference run measures it).
    let deadline = Duration::from_secs(300).max(t_ref.mul_f64(3.0));
    let mut completed_unrestarted: Option<Instant> = None;
    let restarts = loop {
        let st = job_state(&conf, &job);
        match &st {
            Some((s, r)) if s == "COMPLETED" && *r >= 1 => break *r,
            Some((s, 0)) if s == "COMPLETED" => {
                // Tolerate a transient state right at the requeue, not a finished job.
                let since = *completed_unrestarted.get_or_insert_with(Instant::now);
                assert!(
                    since.elapsed() < Duration::from_secs(10),
                    "job {job} completed without being requeued\nlog:\n{}",
                    read_log(&log)
                );
            }
            Some((s, _))
                if [
                    "FAILED",
                    "CANCELLED",
                    "TIMEOUT",
                    "NODE_FAIL",
                    "BOOT_FAIL",
                    "OUT_OF_MEMORY",
                    "DEADLINE",
                ]
                .contains(&s.as_str()) =>
            {
                panic!("job {job} ended {s}\nlog:\n{}", read_log(&log))
            }
            None => panic!("Slurm no longer knows job {job}\nlog:\n{}", read_log(&log)),
            _ => completed_unrestarted = None,
        }
        assert!(
            t_sig.elapsed() < deadline,
            "job {job} not completed within {} s after the signal (state {st:?})\nlog:\n{}",
            deadline.as_secs(),
            read_log(&log)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    guard.job = None;
    let log_text = read_log(&log);
    for line in log_text
        .lines()
        .filter(|l| l.starts_with("generate.sbatch"))
    {
        eprintln!("  {line}");
    }
    eprintln!(
        "job {job} completed after {restarts} restart(s), {:.1} s after the signal, {:.1} s after submission",
        t_sig.elapsed().as_secs_f64(),
        t_sub.elapsed().as_secs_f64()
    );

    // 5. The job really stopped, was requeued, and resumed from its checkpoint.
    assert_eq!(
        restarts, 1,
        "Restarts in scontrol show job\nlog:\n{log_text}"
    );
    let start_lines = log_text
        .lines()
        .filter(|l| l.contains("]: start: job"))
        .count();
    assert_eq!(
        start_lines, 2,
        "two starts of the batch script expected\nlog:\n{log_text}"
    );
    // "resuming from ... (reverse phase": nlfp's `--restart auto` found the reverse-phase
    // checkpoint (a restart from t = 0 would give the same results, so this is what shows that
    // the job really resumed, and where).
    for needle in [
        "got SIGUSR1",
        "requeueing job",
        "restart 1",
        "(reverse phase, step",
        "done (exit 0)",
    ] {
        assert!(
            log_text.contains(needle),
            "`{needle}` missing from the job log:\n{log_text}"
        );
    }

    // 6. Bit for bit the uninterrupted run.
    for (file, name) in [("reconstruction.h5", "f"), ("samples.h5", "samples")] {
        let a = common::dataset(&reference.join(file), name);
        let b = common::dataset(&out.join(file), name);
        assert_eq!(a.len(), b.len(), "{file}: length");
        let differing = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| x.to_bits() != y.to_bits())
            .count();
        assert_eq!(
            differing,
            0,
            "{file}: {differing} of {} values differ",
            a.len()
        );
        eprintln!("{file} identical: {} values", a.len());
    }
    let text = |dir: &Path, file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    assert_eq!(
        text(&reference, "samples.csv"),
        text(&out, "samples.csv"),
        "samples.csv"
    );
    assert!(!text(&out, "samples.csv").is_empty(), "samples.csv missing");
    // reverse.csv but its last column (wall seconds).
    let rows = |dir: &Path| -> Vec<String> {
        text(dir, "reverse.csv")
            .lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(head, _)| head).to_string())
            .collect()
    };
    let (ra, rb) = (rows(&reference), rows(&out));
    assert!(ra.len() > 100, "reverse.csv has {} rows", ra.len());
    assert_eq!(ra, rb, "reverse.csv but wall_seconds");
}
