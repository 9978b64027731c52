//! Checkpoints, restart, signals and failures (issue 3, tests 1-6), through the real binary
//! under `mpirun`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A 2D supercritical run on an uneven grid (31 = no rank count divides it).
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
[output]
diagnostics_every = 1
"#;

/// Test 1: 2N steps == N steps + checkpoint + restart + N steps, bit for bit, on the same rank
/// count and from 4 ranks onto 3 and onto 1; the diagnostics continue without a gap.
#[test]
fn restart_is_bit_identical_on_any_rank_count() {
    let dir = tempdir();
    let d = dir.path();
    let reference = forward(d, "ref", CONFIG, 2, &[]);
    for (first, second) in [(2usize, 2usize), (4, 3), (4, 1)] {
        let name = format!("split-{first}-{second}");
        let out = forward(
            d,
            &name,
            CONFIG,
            first,
            &["time.max_steps=60", "checkpoint.every_steps=30"],
        );
        assert_eq!(checkpoints(&out).len(), 2, "{name}");
        let cfg = d.join(format!("{name}.toml"));
        let out_s = out.to_string_lossy().into_owned();
        run_ok(
            second,
            &[
                "forward",
                &cfg.to_string_lossy(),
                "--out",
                &out_s,
                "--restart",
                "auto",
            ],
        );
        assert_same_final(&reference, &out, &name);
        let (steps, ref_steps) = (column(&out, "step"), column(&reference, "step"));
        assert_eq!(
            steps, ref_steps,
            "{name}: diagnostics rows continue exactly"
        );
        assert_same_dt_sequence(&reference, &out, &name);
    }
}

/// Test 2: a truncated checkpoint and one with a flipped data byte are detected; `auto` falls
/// back to the previous valid one; an explicit path to a bad file is a clear error.
#[test]
fn corrupt_checkpoints_are_detected() {
    let dir = tempdir();
    let d = dir.path();
    let reference = forward(d, "ref", CONFIG, 2, &[]);
    let out = forward(
        d,
        "corrupt",
        CONFIG,
        2,
        &[
            "time.max_steps=90",
            "checkpoint.every_steps=30",
            "checkpoint.keep=5",
        ],
    );
    let ckpts = checkpoints(&out);
    assert_eq!(ckpts.len(), 3);
    // Newest (step 90): truncate. Step 60: flip one byte inside the data of f.
    let newest = std::fs::read(&ckpts[2]).unwrap();
    std::fs::write(&ckpts[2], &newest[..newest.len() / 2]).unwrap();
    let stored = nlfp::io::hdf5::read_field(&ckpts[1]).unwrap();
    let probe = stored.values[31 * 15 + 15].to_le_bytes();
    let mut bytes = std::fs::read(&ckpts[1]).unwrap();
    let at = bytes
        .windows(8)
        .position(|w| w == probe)
        .expect("value bytes in the file");
    bytes[at + 3] ^= 0x10;
    std::fs::write(&ckpts[1], &bytes).unwrap();

    let cfg = d.join("corrupt.toml").to_string_lossy().into_owned();
    let out_s = out.to_string_lossy().into_owned();
    for bad in [&ckpts[2], &ckpts[1]] {
        let res = run(
            2,
            &[
                "forward",
                &cfg,
                "--out",
                &out_s,
                "--restart",
                &bad.to_string_lossy(),
            ],
        );
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(
            stderr.contains(&*bad.file_name().unwrap().to_string_lossy()),
            "{stderr}"
        );
        if bad == &ckpts[1] {
            assert!(stderr.contains("checksum"), "{stderr}");
        }
    }
    let info = run(0, &["info", &ckpts[1].to_string_lossy()]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("INVALID"));
    let res = run(2, &["forward", &cfg, "--out", &out_s, "--restart", "auto"]);
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    assert!(res.status.success(), "{stderr}");
    assert!(
        stderr.contains("skipping") && stderr.contains("ckpt_000000000090.h5"),
        "{stderr}"
    );
    assert!(stderr.contains("ckpt_000000000060.h5"), "{stderr}");
    // Continued from step 30 (the config file says 120 steps): equal to the uninterrupted run.
    assert_same_final(&reference, &out, "fallback restart");
}

/// Test 3: a restart with other physics is refused, naming the key.
#[test]
fn restart_with_other_physics_is_refused() {
    let dir = tempdir();
    let d = dir.path();
    let out = forward(
        d,
        "phys",
        CONFIG,
        2,
        &["time.max_steps=30", "checkpoint.every_steps=30"],
    );
    let cfg = d.join("phys.toml").to_string_lossy().into_owned();
    let out_s = out.to_string_lossy().into_owned();
    // Other physics is refused naming the key; so is a limit below the checkpoint (step 30):
    // the run would end at the checkpoint, not at the configured end.
    for (set, names) in [
        ("model.gamma=2.5", "model.gamma"),
        ("time.max_steps=20", "step 30, past time.max_steps = 20"),
        ("time.t_end=1e-6", "past time.t_end = 1e-6"),
    ] {
        let res = run(
            2,
            &[
                "forward",
                &cfg,
                "--out",
                &out_s,
                "--restart",
                "auto",
                "--set",
                set,
            ],
        );
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{set}: {stderr}");
        assert!(stderr.contains(names), "{set}: {stderr}");
        assert!(stderr.contains("restart refused"), "{set}: {stderr}");
    }
    assert_eq!(
        checkpoints(&out).len(),
        1,
        "the refused restarts kept the checkpoint"
    );
    // t_end, cadences and the rank count may change.
    run_ok(
        3,
        &[
            "forward",
            &cfg,
            "--out",
            &out_s,
            "--restart",
            "auto",
            "--set",
            "time.max_steps=40",
            "--set",
            "output.diagnostics_every=5",
        ],
    );
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal_ranks(signal: &str, out: &Path) {
    // The ranks' command lines start with the binary; mpirun's starts with "mpirun".
    let pattern = format!("^{} forward .*{}", nlfp().display(), out.display());
    let status = Command::new("pkill")
        .args([&format!("-{signal}"), "-f", &pattern])
        .status()
        .unwrap();
    assert!(status.success(), "no rank matched {pattern}");
}

/// Test 4: SIGUSR1 checkpoints and the run goes on; SIGTERM checkpoints and exits 75; the
/// resumed run matches the uninterrupted one bit for bit.
#[test]
fn signals_checkpoint_and_stop_with_75() {
    let dir = tempdir();
    let d = dir.path();
    let sets = [
        "grid.n=151",
        "time.max_steps=1500",
        "output.diagnostics_every=10",
    ];
    let reference = forward(d, "ref", CONFIG, 2, &sets);
    let cfg = write(d, "sig.toml", CONFIG);
    let out = d.join("sig");
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec!["-n", "2"];
    let bin = nlfp().to_string_lossy().into_owned();
    args.extend([bin.as_str(), "forward", &cfg, "--out", &out_s]);
    for s in &sets {
        args.extend(["--set", s]);
    }
    let mut cmd = Command::new("mpirun");
    mpi_env(&mut cmd)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let rows = |p: &Path| {
        std::fs::read_to_string(p.join("diagnostics.csv"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    wait_for("the run to start", Duration::from_secs(60), || {
        rows(&out) > 3
    });
    signal_ranks("USR1", &out);
    wait_for("the SIGUSR1 checkpoint", Duration::from_secs(60), || {
        !checkpoints(&out).is_empty()
    });
    let after_usr1 = rows(&out);
    wait_for("the run to go on", Duration::from_secs(60), || {
        rows(&out) > after_usr1 + 3
    });
    signal_ranks("TERM", &out);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("resume with --restart auto"), "{stderr}");
    let ckpts = checkpoints(&out);
    assert_eq!(ckpts.len(), 2, "one checkpoint per signal: {ckpts:?}");
    let info = run_ok(0, &["info", &ckpts[1].to_string_lossy()]);
    assert!(info.contains("verdict       valid"), "{info}");
    assert!(!out.join("final.h5").exists());
    run_ok(
        2,
        &[
            "forward",
            &cfg,
            "--out",
            &out_s,
            "--restart",
            "auto",
            "--set",
            sets[0],
            "--set",
            sets[1],
            "--set",
            sets[2],
        ],
    );
    assert_same_final(&reference, &out, "signal-interrupted run");
}

/// Test 5: one failing rank ends every rank promptly, with its message.
#[test]
fn a_failing_rank_ends_the_job() {
    let dir = tempdir();
    let d = dir.path();
    let cfg = write(d, "fail.toml", CONFIG);
    let out_s = d.join("fail").to_string_lossy().into_owned();
    let start = Instant::now();
    let mut cmd = Command::new("mpirun");
    mpi_env(&mut cmd)
        .env("NLFP_FAULT_INJECT", "1:5")
        .args(["-n", "3"])
        .arg(nlfp())
        .args([
            "forward",
            &cfg,
            "--out",
            &out_s,
            "--set",
            "time.max_steps=100000000",
            "--set",
            "time.t_end=1e9",
        ]);
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("injected fault") && stderr.contains("rank 1"),
        "{stderr}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}

/// Test 6: the XDMF sidecar parses and names the right datasets, shapes and times; h5dump (not
/// this project's code) reads the snapshots. Snapshots by step and by simulated time.
#[test]
fn snapshots_and_xdmf() {
    let dir = tempdir();
    let d = dir.path();
    for (dim, n) in [(2usize, 31usize), (1, 41)] {
        let config = if dim == 2 {
            CONFIG.to_string()
        } else {
            CONFIG
                .replace("dim = 2", "dim = 1")
                .replace("n = 31", "n = 41")
                .replace("gamma = 2.0", "gamma = 3.0")
                .replace("[1.0, 0.4]", "[1.0]")
                .replace("[-1.2, -0.5]", "[-1.2]")
        };
        let out = forward(
            d,
            &format!("snap{dim}"),
            &config,
            2,
            &["output.snapshot_every=50", "output.snapshot_dt=0.05"],
        );
        let text = std::fs::read_to_string(out.join("snapshots.xdmf")).unwrap();
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        let doc = roxmltree::Document::parse_with_options(&text, options).expect("XDMF is XML");
        let grids: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("Grid") && n.attribute("GridType") == Some("Uniform"))
            .collect();
        let steps = column(&out, "step");
        let times = column(&out, "t");
        assert!(grids.len() >= 3, "{text}");
        let mut last_t = -1.0;
        for g in &grids {
            let time: f64 = g
                .children()
                .find(|c| c.has_tag_name("Time"))
                .and_then(|c| c.attribute("Value"))
                .unwrap()
                .parse()
                .unwrap();
            assert!(time > last_t);
            last_t = time;
            let topo = g.children().find(|c| c.has_tag_name("Topology")).unwrap();
            let ny = if dim == 2 { n } else { 1 };
            assert_eq!(
                topo.attribute("Dimensions"),
                Some(format!("{} {}", ny + 1, n + 1).as_str())
            );
            let attr = g.children().find(|c| c.has_tag_name("Attribute")).unwrap();
            assert_eq!(attr.attribute("Center"), Some("Cell"));
            let item = attr
                .children()
                .find(|c| c.has_tag_name("DataItem"))
                .unwrap();
            assert_eq!(
                item.attribute("Dimensions"),
                Some(format!("{ny} {n}").as_str())
            );
            let (file, dataset) = item.text().unwrap().trim().split_once(':').unwrap();
            assert_eq!(dataset, "/f");
            let path = out.join(file);
            // The snapshot's time is a time of the run.
            let step: f64 = file
                .trim_start_matches("snapshots/snap_")
                .trim_end_matches(".h5")
                .parse()
                .unwrap();
            let k = steps.iter().position(|&s| s == step).expect("step row");
            assert_eq!(times[k].to_bits(), time.to_bits(), "{file}");
            // h5dump reads it without this project's code.
            let dump = Command::new("h5dump")
                .args(["-H", "-d", "f"])
                .arg(&path)
                .output()
                .expect("h5dump");
            let header = String::from_utf8_lossy(&dump.stdout);
            let shape = if dim == 2 {
                format!("( {n}, {n} )")
            } else {
                format!("( {n} )")
            };
            assert!(header.contains(&shape), "{header}");
            let info = run_ok(0, &["info", &path.to_string_lossy()]);
            assert!(info.contains("verdict       valid"), "{info}");
        }
    }
}
