//! Issue 13: with the multigrid preconditioner (the default) the implicit stepper and the exact
//! implicit reverse are bit-identical on 1 to 4 ranks and on two process grids per rank count,
//! and an implicit run restarted from a 4-rank checkpoint on 3 ranks continues bit for bit.
//! (Exact dot products + a decomposition-independent preconditioner: no sum depends on the
//! rank count.)

mod common;

use common::*;

fn config() -> String {
    two_blobs(2, 31, 1.5)
        + "[time]\nt_end = 0.3\ndt_max = 0.05\nstepper = \"implicit\"\n\
           [output]\ndiagnostics_every = 1\nprogress_every = 1000.0\n"
}

fn field(dir: &std::path::Path, name: &str) -> Vec<u64> {
    nlfp::io::hdf5::read_field(&dir.join(name))
        .unwrap_or_else(|e| panic!("{e}"))
        .values
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

#[test]
#[ignore = "issue 13 work in progress: with mg, Newton fails on 1-3 ranks at the first step of this run (74 Newton iterations, dt halved to 7.8e-4) but not on 4 ranks; generate writes no diagnostics.csv at the top level"]
fn implicit_forward_and_reverse_bit_identical_on_every_process_grid() {
    let dir = tempdir();
    let d = dir.path();
    let cfg = config();
    let reference = generate(d, "g1", &cfg, 1, &["decomposition.procs=[1, 1]"]);
    assert!(column(&reference, "newton_iterations").last().unwrap() > &0.0);
    for (np, procs) in [(2, "[2, 1]"), (2, "[1, 2]"), (3, "[1, 3]"), (4, "[2, 2]")] {
        let set = format!("decomposition.procs={procs}");
        let name = format!("g{np}{}", procs.replace([',', '[', ']', ' '], ""));
        let other = generate(d, &name, &cfg, np, &[&set]);
        let what = format!("implicit mg on {procs}");
        assert_same_final(&reference, &other, &what);
        assert_same_dt_sequence(&reference, &other, &what);
        assert_eq!(
            column(&reference, "krylov_iterations"),
            column(&other, "krylov_iterations"),
            "{what}: Krylov counts"
        );
        assert_eq!(
            field(&reference, "reconstruction.h5"),
            field(&other, "reconstruction.h5"),
            "{what}: the implicit reverse differs"
        );
    }
}

#[test]
#[ignore = "issue 13 work in progress: see above (1 vs 4 ranks differ)"]
fn implicit_restart_from_4_ranks_on_3_is_bit_identical() {
    let dir = tempdir();
    let d = dir.path();
    let cfg = config();
    let reference = forward(d, "ref", &cfg, 1, &["time.max_steps=10"]);
    let out = forward(
        d,
        "split",
        &cfg,
        4,
        &["time.max_steps=5", "checkpoint.every_steps=5"],
    );
    let cfg_path = d.join("split.toml").to_string_lossy().into_owned();
    let out_s = out.to_string_lossy().into_owned();
    run_ok(
        3,
        &[
            "forward",
            &cfg_path,
            "--out",
            &out_s,
            "--restart",
            "auto",
            "--set",
            "time.max_steps=10",
        ],
    );
    assert_same_final(&reference, &out, "implicit restart 4 -> 3 ranks");
    assert_same_dt_sequence(&reference, &out, "implicit restart 4 -> 3 ranks");
}
