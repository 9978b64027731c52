//! `nlfp plot`: PNG pictures of the files a real run writes (final, snapshot, diagnostics, run
//! directory; 3D as three mid-plane slices, 2D and 1D), as one process and under mpirun; bad input exits with code 2 and a
//! message naming the file.

mod common;

use std::path::Path;

use common::*;
use nlfp::plot::{HEATMAP_SIZE, LINES_SIZE, PANEL_SIZE};

const RUN_2D: &str = r#"
[grid]
dim = 2
n = 31
half_width = 6.0
[model]
gamma = 2.0
mass_ratio = 1.5
[initial]
kind = "gaussian_mixture"
components = [ { weight = 1.0, mean = [1.0, 0.0], std = 0.8 } ]
[time]
t_end = 0.5
[output]
snapshot_every = 5
"#;

const RUN_1D: &str = r#"
[grid]
dim = 1
n = 41
half_width = 6.0
[model]
gamma = 3.0
mass_ratio = 1.5
[initial]
kind = "gaussian_mixture"
components = [ { weight = 1.0, mean = [0.0], std = 1.0 } ]
[time]
t_end = 0.2
"#;

const RUN_3D: &str = r#"
[grid]
dim = 3
n = 11
half_width = 4.0
[model]
gamma = 1.0
mass_ratio = 1.5
[initial]
kind = "gaussian_mixture"
components = [ { weight = 1.0, mean = [1.0, 0.0, 0.5], std = 0.8 } ]
[time]
t_end = 0.05
"#;

/// Width and height of the PNG at `path`, which must decode completely.
fn png_size(path: &Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file).read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png data");
    (info.width, info.height)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn plot_renders_final_snapshot_diagnostics_and_run_directory() {
    let dir = tempdir();
    let run = forward(dir.path(), "run2d", RUN_2D, 0, &[]);
    let pics = dir.path().join("pics");

    let out = run_ok(0, &["plot", &s(&run.join("final.h5")), "--out", &s(&pics)]);
    assert_eq!(out.matches("wrote ").count(), 2, "{out}");
    assert_eq!(png_size(&pics.join("final_field.png")), HEATMAP_SIZE);
    assert_eq!(png_size(&pics.join("final_radial.png")), LINES_SIZE);

    let mut snaps: Vec<_> = std::fs::read_dir(run.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "h5"))
        .collect();
    snaps.sort();
    assert!(snaps.len() >= 2, "snapshots: {snaps:?}");
    let snap_png = dir.path().join("snap.png");
    let args = [
        "plot",
        &s(&snaps[1]),
        "--log",
        "--what",
        "field",
        "--out",
        &s(&snap_png),
    ];
    run_ok(0, &args);
    assert_eq!(png_size(&snap_png), HEATMAP_SIZE);

    run_ok(
        0,
        &["plot", &s(&run.join("diagnostics.csv")), "--out", &s(&pics)],
    );
    let panels_size = (2 * PANEL_SIZE.0, 2 * PANEL_SIZE.1);
    assert_eq!(png_size(&pics.join("diagnostics.png")), panels_size);

    // A run directory under mpirun: rank 0 draws all three and reports once.
    let out = run_ok(2, &["plot", &s(&run)]);
    assert_eq!(out.matches("wrote ").count(), 3, "{out}");
    assert_eq!(png_size(&run.join("final_field.png")), HEATMAP_SIZE);
    assert_eq!(png_size(&run.join("final_radial.png")), LINES_SIZE);
    assert_eq!(png_size(&run.join("diagnostics.png")), panels_size);

    // Several pictures for one `.png` path: `<stem>_<what>.png` next to it.
    let base = dir.path().join("all.png");
    run_ok(
        0,
        &[
            "plot",
            &s(&run),
            "--out",
            &s(&base),
            "--what",
            "field,series",
        ],
    );
    assert_eq!(png_size(&dir.path().join("all_field.png")), HEATMAP_SIZE);
    assert_eq!(png_size(&dir.path().join("all_series.png")), panels_size);
    assert!(!dir.path().join("all_radial.png").exists());
}

#[test]
fn plot_draws_a_1d_field_as_a_line() {
    let dir = tempdir();
    let run = forward(dir.path(), "run1d", RUN_1D, 0, &[]);
    let out = run_ok(0, &["plot", &s(&run.join("final.h5")), "--log"]);
    assert_eq!(out.matches("wrote ").count(), 2, "{out}");
    assert_eq!(png_size(&run.join("final_field.png")), LINES_SIZE);
    assert_eq!(png_size(&run.join("final_radial.png")), LINES_SIZE);
}

#[test]
fn plot_draws_a_3d_field_as_three_mid_plane_slices() {
    let dir = tempdir();
    let run = forward(dir.path(), "run3d", RUN_3D, 2, &[]);
    let out = run_ok(0, &["plot", &s(&run)]);
    assert_eq!(out.matches("wrote ").count(), 3, "{out}");
    let slices = (3 * HEATMAP_SIZE.0, HEATMAP_SIZE.1);
    assert_eq!(png_size(&run.join("final_field.png")), slices);
    assert_eq!(png_size(&run.join("final_radial.png")), LINES_SIZE);
}

/// Exit code 2, one message naming `needle`, no panic, on one rank and under mpirun.
fn expect_rejected(np: usize, args: &[&str], needles: &[&str]) {
    let res = run(np, args);
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    assert_eq!(res.status.code(), Some(2), "{args:?}: stderr:\n{stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: message lacks {needle:?}:\n{stderr}"
        );
    }
    assert_eq!(stderr.matches("error:").count(), 1, "{args:?}:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}:\n{stderr}");
}

#[test]
fn plot_bad_input_exits_2_naming_the_file() {
    let dir = tempdir();
    let missing = s(&dir.path().join("missing.h5"));
    expect_rejected(0, &["plot", &missing], &["missing.h5"]);
    expect_rejected(2, &["plot", &missing], &["missing.h5"]);

    let not_h5 = write(dir.path(), "notes.h5", "not HDF5");
    expect_rejected(0, &["plot", &not_h5], &["notes.h5", "not an nlfp"]);

    let csv = write(dir.path(), "diag.csv", "step,t,max\n0,0,1\n1,0.1,2\n");
    expect_rejected(
        0,
        &["plot", &csv, "--columns", "max,bogus"],
        &["diag.csv", "\"bogus\""],
    );
    let no_t = write(dir.path(), "other.csv", "a,b\n1,2\n");
    expect_rejected(0, &["plot", &no_t], &["other.csv", "no column \"t\""]);
    expect_rejected(
        0,
        &["plot", &csv, "--what", "field"],
        &["diag.csv", "--what field"],
    );

    let empty_dir = dir.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    expect_rejected(
        0,
        &["plot", &s(&empty_dir)],
        &["empty", "not an nlfp run directory"],
    );
    assert_eq!(std::fs::read_dir(&empty_dir).unwrap().count(), 0);
}
