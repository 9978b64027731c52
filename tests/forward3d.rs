//! `nlfp forward` in 3D (issue 15): the same run on 1, 2 and 4 ranks and on two 3D process
//! grids gives bit-identical `final.h5` fields (global-shaped `[n, n, n]`, z, y, x) and dt
//! sequences; the mass is conserved; the snapshot index is a `3DCoRectMesh` series; commands and
//! options that are not built in 3D yet are refused with exit code 2, naming `grid.dim`.

mod common;

use common::*;

/// Three off-centre Gaussian blobs in the KQ model (gamma = 1) at half the 3D critical mass.
const CONFIG: &str = r#"
[grid]
dim = 3
n = 15
half_width = 4.0
[model]
gamma = 1.0
mass_ratio = 0.5
[initial]
kind = "gaussian_mixture"
components = [
  { weight = 1.0, mean = [1.0, 0.3, -0.5], std = 0.6 },
  { weight = 0.7, mean = [-0.8, -1.0, 0.4], std = 0.5 },
  { weight = 0.5, mean = [0.2, 0.9, 1.1], std = 0.7 },
]
[time]
t_end = 0.02
max_steps = 12
[output]
diagnostics_every = 1
snapshot_every = 6
"#;

#[test]
fn three_d_forward_bit_identical_on_rank_counts_and_process_grids() {
    let dir = tempdir();
    for (scheme, stepper) in [("sg", "ssprk2"), ("upwind", "euler")] {
        let sets = [
            format!("time.scheme=\"{scheme}\""),
            format!("time.stepper=\"{stepper}\""),
        ];
        let run_on = |np: usize, procs: &str| {
            let procs_set = format!("decomposition.procs={procs}");
            let name = format!("{scheme}-{np}-{}", procs.replace([',', '[', ']', ' '], ""));
            forward(
                dir.path(),
                &name,
                CONFIG,
                np,
                &[&sets[0], &sets[1], &procs_set],
            )
        };
        let reference = run_on(1, "[1, 1, 1]");
        let f = final_field(&reference);
        assert_eq!(
            f.shape,
            vec![15, 15, 15],
            "final.h5 is global-shaped [n, n, n]"
        );
        assert!(f.values.iter().all(|v| *v >= 0.0), "positivity");
        let drift = column(&reference, "mass_drift");
        assert!(max_abs(drift) < 1e-13, "mass conserved to round-off");
        for (np, procs) in [(2, "[1, 1, 2]"), (4, "[2, 2, 1]"), (4, "[1, 2, 2]")] {
            let other = run_on(np, procs);
            let what = format!("{scheme}/{stepper} on {procs}");
            assert_same_final(&reference, &other, &what);
            assert_same_dt_sequence(&reference, &other, &what);
        }
        let xdmf = std::fs::read_to_string(reference.join("snapshots.xdmf")).unwrap();
        assert!(xdmf.contains("TopologyType=\"3DCoRectMesh\" Dimensions=\"16 16 16\""));
        assert!(xdmf.contains("<DataItem Dimensions=\"15 15 15\""));
    }
}

#[test]
fn three_d_refuses_what_is_not_built_yet() {
    let dir = tempdir();
    let cfg = write(dir.path(), "c.toml", CONFIG);
    let refused = |args: &[&str], needles: &[&str]| {
        let res = run(0, args);
        let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
        assert_eq!(res.status.code(), Some(2), "{args:?}: {stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{args:?}: no {needle:?} in {stderr}"
            );
        }
    };
    let out = dir.path().join("out").to_string_lossy().into_owned();
    for command in ["generate", "particles", "filter", "study"] {
        refused(
            &[command, &cfg, "--out", &out],
            &["grid.dim = 3", &format!("`nlfp {command}`")],
        );
    }
    refused(
        &["check", &cfg, "--set", "time.stepper=\"implicit\""],
        &["time.stepper", "grid.dim = 3"],
    );
    refused(
        &[
            "forward",
            &cfg,
            "--out",
            &out,
            "--set",
            "decomposition.procs=[1, 1]",
        ],
        &["decomposition.procs", "grid.dim = 3"],
    );
    // `nlfp check` takes the 3D config and reports the process grid and the memory.
    let res = run(2, &["check", &cfg]);
    let stdout = String::from_utf8_lossy(&res.stdout).into_owned();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(stdout.contains("3D, 15 cells per axis"), "{stdout}");
    assert!(
        stdout.contains("process grid  2 x 1 x 1 = 2 ranks"),
        "{stdout}"
    );
}
