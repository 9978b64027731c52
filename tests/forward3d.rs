//! `nlfp forward` in 3D (issue 15): the same run on 1, 2 and 4 ranks and on two 3D process
//! grids gives bit-identical `final.h5` fields (global-shaped `[n, n, n]`, z, y, x) and dt
//! sequences, also after a checkpoint restart on another rank count and with independent MPI-IO;
//! the mass is conserved; the snapshot index is a `3DCoRectMesh` series; commands and
//! options that are not built in 3D yet (`particles`, `filter`, the SDE sampler of `generate`)
//! are refused with exit code 2, naming `grid.dim`.

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
t_end = 1.0
dt_max = 1.0
max_steps = 12
[output]
diagnostics_every = 1
snapshot_every = 6
"#;

/// The first child of `n` named `tag`.
fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, tag: &str) -> roxmltree::Node<'a, 'i> {
    n.children().find(|c| c.has_tag_name(tag)).unwrap()
}

/// The snapshot index parses as XML; every grid is a `3DCoRectMesh` of `16^3` nodes on
/// `[-4, 4]^3` whose cell data names an existing `[15, 15, 15]` snapshot.
fn check_xdmf(out: &std::path::Path) {
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
    assert!(grids.len() >= 2, "{text}");
    for g in grids {
        let topo = child(g, "Topology");
        assert_eq!(topo.attribute("TopologyType"), Some("3DCoRectMesh"));
        assert_eq!(topo.attribute("Dimensions"), Some("16 16 16"));
        let geometry = child(g, "Geometry");
        assert_eq!(geometry.attribute("GeometryType"), Some("ORIGIN_DXDYDZ"));
        let items: Vec<Vec<f64>> = geometry
            .children()
            .filter(|c| c.has_tag_name("DataItem"))
            .map(|c| {
                c.text()
                    .unwrap()
                    .split_whitespace()
                    .map(|v| v.parse().unwrap())
                    .collect()
            })
            .collect();
        let h = 8.0 / 15.0;
        assert_eq!(items, vec![vec![-4.0; 3], vec![h; 3]]);
        let data = child(child(g, "Attribute"), "DataItem");
        assert_eq!(data.attribute("Dimensions"), Some("15 15 15"));
        let file = data.text().unwrap().trim_end_matches(":/f");
        let snapshot = nlfp::io::hdf5::read_field(&out.join(file)).unwrap();
        assert_eq!(snapshot.shape, vec![15, 15, 15]);
    }
}

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
        check_xdmf(&reference);
    }
}

/// A 3D run checkpointed on 4 ranks and restarted on 3 (another process grid) ends with the
/// bits of the uninterrupted run; independent MPI-IO writes the same file as collective.
#[test]
fn three_d_restart_on_another_rank_count_and_independent_io() {
    let dir = tempdir();
    let d = dir.path();
    let reference = forward(d, "ref", CONFIG, 1, &[]);
    let out = forward(
        d,
        "split",
        CONFIG,
        4,
        &["time.max_steps=7", "checkpoint.every_steps=3"],
    );
    let cfg = d.join("split.toml").to_string_lossy().into_owned();
    let out_s = out.to_string_lossy().into_owned();
    run_ok(3, &["forward", &cfg, "--out", &out_s, "--restart", "auto"]);
    assert_same_final(&reference, &out, "restart 4 -> 3 ranks");
    assert_eq!(column(&out, "step"), column(&reference, "step"));
    assert_same_dt_sequence(&reference, &out, "restart 4 -> 3 ranks");
    let independent = forward(d, "indep", CONFIG, 2, &["output.io=\"independent\""]);
    assert_same_final(&reference, &independent, "independent MPI-IO");
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
    for command in ["particles", "filter"] {
        refused(
            &[command, &cfg, "--out", &out],
            &["grid.dim = 3", &format!("`nlfp {command}`")],
        );
    }
    // generate runs in 3D with the grid walk only.
    for (set, key) in [
        ("reverse.sampler=\"sde\"", "reverse.sampler"),
        ("reverse.sampler=\"both\"", "reverse.sampler"),
    ] {
        refused(
            &["generate", &cfg, "--out", &out, "--set", set],
            &[key, "grid.dim = 3", "not built in 3D yet"],
        );
    }
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
    // A 3D grid too large for the memory is refused with the estimate (4001^3 cells: ~3 TB).
    refused(
        &["check", &cfg, "--set", "grid.n=4001"],
        &[
            "grid does not fit in memory",
            "on the largest rank",
            "grid.n",
        ],
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
    // The implicit stepper is built in 3D (7-point Jacobian): `check` takes it.
    let res = run(0, &["check", &cfg, "--set", "time.stepper=\"implicit\""]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(
        stdout.contains("process grid  2 x 1 x 1 = 2 ranks"),
        "{stdout}"
    );
}
