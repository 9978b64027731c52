//! Across nodes (issue 18): the ranks of one job on two hosts that share nothing but a TCP link
//! and the file system, against the same job on one host, bit for bit.
//!
//! The two hosts are network namespaces joined by a veth pair, built by `scripts/twohosts.sh`
//! (the same script a user runs by hand); OpenMPI uses only its TCP transport on that pair's
//! subnet and starts the second host's daemon through the script's rsh agent. The test makes its
//! own names and subnet, removes them when it ends (also when it fails: a guard's `Drop`), and
//! skips with a printed reason when it cannot make them (not root, no `ip`, no namespaces).
//! `NLFP_REQUIRE_MULTIHOST=1` turns such a skip into a failure.
//!
//! Covered: `forward` with snapshots and checkpoints on 1 + 1 and 1 + 2 ranks; a two-host
//! checkpoint resumed on one host; SIGTERM to the ranks on both hosts (exit 75, resumed on one
//! host); `generate` with samples; `generate` stopped by SIGTERM across the hosts in its reverse
//! phase and resumed on one host.
//!
//! Time across the namespaces measures nothing (a ping-pong sees milliseconds): correctness only,
//! on tiny grids. Every launch has a time limit, so a hang fails the test instead of stalling it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_same_final, mpi_env, nlfp, run_ok, tempdir, write};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script() -> PathBuf {
    repo().join("scripts/twohosts.sh")
}

/// The two hosts of this test run; removed on drop.
struct TwoHosts {
    name: String,
    subnet: String,
}

impl TwoHosts {
    /// Names and a subnet of this process's own (so parallel runs do not collide).
    fn new() -> TwoHosts {
        let pid = std::process::id();
        TwoHosts {
            name: format!("nlt{}", pid % 100_000),
            subnet: format!("10.{}.{}", 200 + (pid / 250) % 50, pid % 250 + 1),
        }
    }

    fn script(&self) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(script())
            .env("NLFP_TWOHOSTS_NAME", &self.name)
            .env("NLFP_TWOHOSTS_SUBNET", &self.subnet);
        mpi_env(&mut cmd);
        cmd
    }

    /// Builds the hosts; `Err` with the reason when this machine cannot.
    fn up(&self) -> Result<(), String> {
        let out = self
            .script()
            .arg("up")
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "scripts/twohosts.sh up failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// `scripts/twohosts.sh run -n A,B ARGS...`, stdout and stderr piped.
    fn launch(&self, per_host: (usize, usize), args: &[&str]) -> Command {
        let mut cmd = self.script();
        cmd.arg("run")
            .arg("-n")
            .arg(format!("{},{}", per_host.0, per_host.1))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        let out = self.script().arg("down").output();
        if !matches!(&out, Ok(o) if o.status.success()) {
            eprintln!("multihost: removing {} failed: {out:?}", self.name);
        }
    }
}

/// Why this machine cannot make the hosts, if it cannot.
fn skip_reason() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root: network namespaces need root".into());
    }
    for tool in ["ip", "mpirun"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Some(format!("{tool} not found"));
        }
    }
    None
}

/// Waits for `child` at most `limit`; kills it (and fails) on time-out.
fn wait_limited(mut child: std::process::Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what}: no end within {limit:?} (hang?)\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const LIMIT: Duration = Duration::from_secs(180);

/// `nlfp COMMAND CONFIG --out DIR --overwrite --set ...` across the two hosts.
fn across(
    hosts: &TwoHosts,
    per_host: (usize, usize),
    command: &str,
    cfg: &str,
    out: &Path,
    sets: &[&str],
) {
    let bin = nlfp().to_string_lossy().into_owned();
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec![bin.as_str(), command, cfg, "--out", &out_s, "--overwrite"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let child = hosts.launch(per_host, &args).spawn().expect("launch");
    let what = format!("{command} on {per_host:?} ranks across two hosts");
    assert_ok(&wait_limited(child, LIMIT, &what), &what);
}

/// `nlfp COMMAND CONFIG --out DIR --overwrite --set ...` on this host.
fn one_host(np: usize, command: &str, cfg: &str, out: &Path, sets: &[&str]) {
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec![command, cfg, "--out", &out_s, "--overwrite"];
    for s in sets {
        args.extend(["--set", s]);
    }
    run_ok(np, &args);
}

/// The diagnostics CSV without its wall-clock column.
fn diagnostics_without_wall(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let wall = header.iter().position(|h| h.contains("wall"));
    std::iter::once(header.join(","))
        .chain(lines.map(|l| {
            l.split(',')
                .enumerate()
                .filter(|(k, _)| Some(*k) != wall)
                .map(|(_, c)| c)
                .collect::<Vec<_>>()
                .join(",")
        }))
        .collect()
}

fn assert_same_bytes(a: &Path, b: &Path) {
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        read(a) == read(b),
        "{} and {} differ",
        a.display(),
        b.display()
    );
}

/// The `f` dataset of an nlfp field file, as bits.
fn field_bits(path: &Path) -> Vec<u64> {
    let f = nlfp::io::hdf5::read_field(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.values.iter().map(|x| x.to_bits()).collect()
}

/// The `.h5` files of `dir`, sorted by name.
fn h5_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "h5"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn checkpoint_files(out: &Path) -> Vec<PathBuf> {
    h5_files(&out.join("checkpoints"))
}

fn names(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

const FORWARD: &str = "[time]\nt_end = 100.0\nmax_steps = 60\ndt_max = 0.01\n\
                       [output]\ndiagnostics_every = 5\nsnapshot_every = 20\n\
                       [checkpoint]\nevery_steps = 20\nkeep = 2\n";

const GENERATE: &str = "[time]\nt_end = 0.3\ndt_max = 0.01\n\
                        [output]\ndiagnostics_every = 5\n\
                        [reverse]\nsamples = 3000\nseed = 11\n";

/// Placement: the two hosts' ranks really sit in different namespaces (different addresses).
fn check_placement(hosts: &TwoHosts) {
    let child = hosts
        .launch(
            (1, 1),
            &[
                "sh",
                "-c",
                "echo \"rank $OMPI_COMM_WORLD_RANK $(ip -o -4 addr show | awk '$2 != \"lo\" {print $4}')\"",
            ],
        )
        .spawn()
        .expect("launch");
    let out = assert_ok(&wait_limited(child, LIMIT, "placement"), "placement");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            format!("rank 0 {}.1/24", hosts.subnet),
            format!("rank 1 {}.2/24", hosts.subnet)
        ],
        "ranks not on the two hosts: {out}"
    );
}

#[test]
fn two_hosts_over_tcp_give_the_one_host_bits() {
    if let Some(why) = skip_reason() {
        assert!(
            std::env::var_os("NLFP_REQUIRE_MULTIHOST").is_none(),
            "multihost test required but skipped: {why}"
        );
        eprintln!("multihost test SKIPPED: {why}");
        return;
    }
    let hosts = TwoHosts::new();
    if let Err(why) = hosts.up() {
        assert!(
            std::env::var_os("NLFP_REQUIRE_MULTIHOST").is_none(),
            "multihost test required but skipped: {why}"
        );
        eprintln!("multihost test SKIPPED: {why}");
        return;
    }
    check_placement(&hosts);
    let dir = tempdir();
    let d = dir.path();

    // 1. forward with snapshots and checkpoints: 2 ranks on two hosts, and 3 (1 + 2), each
    //    against the same rank count on one host (the fields are bit-identical for any rank
    //    count; the diagnostics' sums only for the same decomposition).
    let fwd = format!("{}{FORWARD}", common::two_blobs(2, 41, 1.5));
    let cfg = write(d, "forward.toml", &fwd);
    for per_host in [(1, 1), (1, 2)] {
        let np = per_host.0 + per_host.1;
        let reference = d.join(format!("fwd_one_host_{np}"));
        one_host(np, "forward", &cfg, &reference, &[]);
        let out = d.join(format!("fwd_{}_{}", per_host.0, per_host.1));
        across(&hosts, per_host, "forward", &cfg, &out, &[]);
        let what = format!("forward on {per_host:?}");
        assert_same_final(&reference, &out, &what);
        assert_eq!(
            diagnostics_without_wall(&reference.join("diagnostics.csv")),
            diagnostics_without_wall(&out.join("diagnostics.csv")),
            "{what}: diagnostics differ"
        );
        let (want, got) = (checkpoint_files(&reference), checkpoint_files(&out));
        assert_eq!(want.len(), 2, "{want:?}");
        assert_eq!(names(&want), names(&got), "{what}: checkpoint names");
        let (want, got) = (
            h5_files(&reference.join("snapshots")),
            h5_files(&out.join("snapshots")),
        );
        assert_eq!(want.len(), 4, "snapshots at steps 0, 20, 40, 60: {want:?}");
        assert_eq!(names(&want), names(&got), "{what}: snapshot names");
        for (a, b) in want.iter().zip(&got) {
            assert_eq!(field_bits(a), field_bits(b), "{what}: {}", b.display());
        }
    }

    // 2. A checkpoint written across two hosts resumes on one host (one process, no mpirun)
    //    to the uninterrupted result.
    let reference = d.join("fwd_one_host_2");
    let stopped = d.join("fwd_stopped");
    across(
        &hosts,
        (1, 1),
        "forward",
        &cfg,
        &stopped,
        &["time.max_steps=40"],
    );
    let stopped_s = stopped.to_string_lossy().into_owned();
    run_ok(
        0,
        &["forward", &cfg, "--out", &stopped_s, "--restart", "auto"],
    );
    assert_same_final(&reference, &stopped, "forward resumed on one host");

    // 3. SIGTERM to the ranks on both hosts: checkpoint, exit 75; resumed on one host.
    let term = d.join("fwd_term");
    let long = ["time.max_steps=400", "checkpoint.every_steps=0"];
    let reference_long = d.join("fwd_long");
    one_host(2, "forward", &cfg, &reference_long, &long);
    let bin = nlfp().to_string_lossy().into_owned();
    let term_s = term.to_string_lossy().into_owned();
    let mut args = vec![bin.as_str(), "forward", &cfg, "--out", &term_s];
    for s in long {
        args.extend(["--set", s]);
    }
    let child = hosts.launch((1, 1), &args).spawn().expect("launch");
    let rows = || {
        std::fs::read_to_string(term.join("diagnostics.csv"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let start = Instant::now();
    while rows() < 4 {
        assert!(start.elapsed() < LIMIT, "the two-host run did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pattern = format!("^{} forward .*{}", bin, term.display());
    let killed = Command::new("pkill")
        .args(["-TERM", "-f", &pattern])
        .status()
        .unwrap();
    assert!(killed.success(), "no rank matched {pattern}");
    let out = wait_limited(child, LIMIT, "SIGTERM across two hosts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert_eq!(checkpoint_files(&term).len(), 1, "one checkpoint: {stderr}");
    let mut resume = vec!["forward", &cfg, "--out", &term_s, "--restart", "auto"];
    for s in long {
        resume.extend(["--set", s]);
    }
    run_ok(0, &resume);
    assert_same_final(
        &reference_long,
        &term,
        "SIGTERM across two hosts, resumed on one",
    );

    // 4. generate with samples: reconstruction, samples and reverse diagnostics.
    let gen = format!("{}{GENERATE}", common::two_blobs(2, 31, 1.5));
    let cfg = write(d, "generate.toml", &gen);
    let reference = d.join("gen_one_host");
    one_host(2, "generate", &cfg, &reference, &[]);
    let out = d.join("gen_two_hosts");
    across(&hosts, (1, 1), "generate", &cfg, &out, &[]);
    for name in ["terminal.h5", "start.h5", "reconstruction.h5"] {
        assert_eq!(
            field_bits(&reference.join(name)),
            field_bits(&out.join(name)),
            "generate: {name}"
        );
    }
    assert_same_bytes(&reference.join("samples.csv"), &out.join("samples.csv"));
    for csv in ["forward.csv", "reverse.csv"] {
        assert_eq!(
            diagnostics_without_wall(&reference.join(csv)),
            diagnostics_without_wall(&out.join(csv)),
            "generate: {csv}"
        );
    }

    // 5. generate stopped by SIGTERM on both hosts in its reverse phase (every rank signals
    //    itself at progress 45: N = 30 forward steps, then reverse step n = 15; the signal takes
    //    the handler/flag/poll path of one from outside), checkpoint and exit 75; resumed on one
    //    host as one process, to the one-host result bit for bit.
    let stopped = d.join("gen_term");
    let stopped_s = stopped.to_string_lossy().into_owned();
    let bin = nlfp().to_string_lossy().into_owned();
    let args = [bin.as_str(), "generate", &cfg, "--out", &stopped_s];
    let child = hosts
        .launch((1, 1), &args)
        .env("NLFP_TEST_SIGNAL", "TERM@45")
        .env("NLFP_TWOHOSTS_MPIRUN_ARGS", "-x NLFP_TEST_SIGNAL")
        .spawn()
        .expect("launch");
    let out = wait_limited(child, LIMIT, "generate SIGTERM across two hosts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    let ckpts = checkpoint_files(&stopped);
    assert_eq!(ckpts.len(), 1, "one checkpoint: {stderr}");
    let info = run_ok(0, &["info", &ckpts[0].to_string_lossy()]);
    assert!(info.contains("generate (phase reverse)"), "{info}");
    assert!(
        !stopped.join("reconstruction.h5").exists(),
        "a stopped generate left a reconstruction"
    );
    run_ok(
        0,
        &["generate", &cfg, "--out", &stopped_s, "--restart", "auto"],
    );
    for name in ["terminal.h5", "start.h5", "reconstruction.h5"] {
        assert_eq!(
            field_bits(&reference.join(name)),
            field_bits(&stopped.join(name)),
            "generate stopped across two hosts, resumed on one: {name}"
        );
    }
    assert_same_bytes(&reference.join("samples.csv"), &stopped.join("samples.csv"));
}
