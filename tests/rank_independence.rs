//! Test 3: the same run on 1, 2, 3 and 4 ranks, on process grids 1x1, 2x1, 1x2, 3x1 and 2x2
//! with an `n` that no rank count divides, gives bit-identical `final.h5` fields and the same
//! dt sequence. Explicit steps with a MAX-reduced dt make this exact.

mod common;

use common::*;

fn config(dim: usize, n: usize) -> String {
    let comps = if dim == 2 {
        r#"{ weight = 1.0, mean = [1.0, 0.3], std = 0.4 }, { weight = 0.5, mean = [-0.8, -1.1], std = 0.6 }"#
    } else {
        r#"{ weight = 1.0, mean = [1.0], std = 0.4 }, { weight = 0.5, mean = [-0.8], std = 0.6 }"#
    };
    let gamma = if dim == 2 { 2.0 } else { 3.0 };
    format!(
        r#"
[grid]
dim = {dim}
n = {n}
half_width = 4.0
[model]
gamma = {gamma}
mass_ratio = 1.3
[initial]
kind = "gaussian_mixture"
components = [ {comps} ]
[time]
t_end = 0.05
max_steps = 150
[output]
diagnostics_every = 1
"#
    )
}

fn assert_identical(reference: &std::path::Path, other: &std::path::Path, what: &str) {
    assert_same_final(reference, other, what);
    assert_same_dt_sequence(reference, other, what);
}

#[test]
fn two_d_bit_identical_on_every_process_grid() {
    let dir = tempdir();
    let cfg = config(2, 31);
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
                &cfg,
                np,
                &[&sets[0], &sets[1], &procs_set],
            )
        };
        let reference = run_on(1, "[1, 1]");
        assert!(column(&reference, "max").last().unwrap() > &column(&reference, "max")[0]);
        for (np, procs) in [(2, "[2, 1]"), (2, "[1, 2]"), (3, "[3, 1]"), (4, "[2, 2]")] {
            let other = run_on(np, procs);
            assert_identical(
                &reference,
                &other,
                &format!("{scheme}/{stepper} on {procs}"),
            );
        }
        // The automatic choice and a run without mpirun agree too.
        let auto = forward(
            dir.path(),
            &format!("{scheme}-auto3"),
            &cfg,
            3,
            &[&sets[0], &sets[1]],
        );
        assert_identical(
            &reference,
            &auto,
            &format!("{scheme}/{stepper} automatic grid, 3 ranks"),
        );
        let single = forward(
            dir.path(),
            &format!("{scheme}-singleton"),
            &cfg,
            0,
            &[&sets[0], &sets[1]],
        );
        assert_identical(
            &reference,
            &single,
            &format!("{scheme}/{stepper} without mpirun"),
        );
    }
}

#[test]
fn one_d_bit_identical_on_1_to_4_ranks() {
    let dir = tempdir();
    let cfg = config(1, 61);
    let reference = forward(dir.path(), "r1", &cfg, 1, &[]);
    for np in 2..=4 {
        let other = forward(dir.path(), &format!("r{np}"), &cfg, np, &[]);
        assert_identical(&reference, &other, &format!("1D on {np} ranks"));
    }
}
