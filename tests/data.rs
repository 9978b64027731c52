//! Data from the user's world end to end: a bad image or held-out choice is refused with exit
//! code 2 naming the file or key (on 2 ranks, nobody hangs); the held-out report of
//! `nlfp generate` sees a generator that reproduces a histogram of few points.

mod common;

use std::path::Path;

use common::*;

const BASE: &str = r#"
[grid]
dim = 2
n = 41
half_width = 6.0
[model]
mass_ratio = 0.5
[initial]
KIND
[time]
t_end = 0.3
[output]
diagnostics_every = 1000
progress_every = 1000.0
[reverse]
samples = 2000
seed = 3
"#;

fn config(kind: &str) -> String {
    BASE.replace("KIND", kind)
}

/// A grey 8-bit PNG of `w x h` pixels.
fn grey_png(w: u32, h: u32, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(pixels).unwrap();
    }
    out
}

/// `generate` on `np` ranks must fail with exit 2, one message holding every needle.
fn rejected(dir: &Path, name: &str, text: &str, np: usize, needles: &[&str]) {
    let cfg = write(dir, &format!("{name}.toml"), text);
    let out = dir
        .join(format!("out-{name}"))
        .to_string_lossy()
        .into_owned();
    let res = run(np, &["generate", &cfg, "--out", &out, "--overwrite"]);
    let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
    assert_eq!(res.status.code(), Some(2), "{name}: stderr:\n{stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{name}: no {needle:?} in:\n{stderr}"
        );
    }
    assert_eq!(stderr.matches("error:").count(), 1, "{name}: {stderr}");
}

#[test]
fn bad_images_and_holdouts_exit_2_naming_the_file_or_key() {
    let dir = tempdir();
    let d = dir.path();
    let image = config("kind = \"image\"\nfile = \"pic.png\"");
    std::fs::write(d.join("pic.png"), b"").unwrap();
    rejected(d, "empty", &image, 2, &["pic.png", "empty"]);
    std::fs::write(d.join("pic.png"), b"x,y\n1,2\n").unwrap();
    rejected(d, "not_png", &image, 2, &["pic.png", "not a readable PNG"]);
    let good = grey_png(8, 8, &[200; 64]);
    std::fs::write(d.join("pic.png"), &good[..good.len() / 2]).unwrap();
    rejected(
        d,
        "truncated",
        &image,
        0,
        &["pic.png", "not a readable PNG"],
    );
    std::fs::write(d.join("pic.png"), grey_png(8, 8, &[0; 64])).unwrap();
    rejected(d, "black", &image, 2, &["pic.png", "no mass"]);
    std::fs::remove_file(d.join("pic.png")).unwrap();
    rejected(d, "missing", &image, 2, &["pic.png"]);
    // Three points cannot hold out 10 %.
    write(d, "p.csv", "0,0\n1,1\n-1,0.5\n");
    let points = config("kind = \"points\"\nfile = \"p.csv\"\nholdout = 0.1");
    rejected(d, "holdout", &points, 2, &["initial.holdout", "0 held out"]);
    // A toy in the wrong dimension is a config error.
    let toy = config("kind = \"toy\"\nname = \"two_bumps\"");
    rejected(
        d,
        "toy_dim",
        &toy,
        0,
        &["initial.name", "1D set but grid.dim = 2"],
    );
}

fn summary(dir: &Path) -> toml::Table {
    let text = std::fs::read_to_string(dir.join("summary.toml")).unwrap();
    text.parse().unwrap()
}

/// Started from the exact terminal state, the exact reverse reproduces the histogram of the
/// training points, so the walk's samples sit in their cells: closer to the 20 training
/// points than to the 20 held-out ones, on both metrics, by more than the sets' own floor.
#[test]
fn memorisation_gap_is_positive_for_an_exact_reverse_of_few_points() {
    let dir = tempdir();
    let d = dir.path();
    let text =
        config("kind = \"toy\"\nname = \"two_moons\"\nsamples = 40\nholdout = 0.5\nseed = 4")
            .replace("seed = 3", "seed = 3\nstart = \"terminal\"");
    let out = generate(d, "memorise", &text, 2, &[]);
    let s = summary(&out);
    let f = |k: &str| s[k].as_float().unwrap_or_else(|| panic!("{k}"));
    assert_eq!(s["heldout_points"].as_integer(), Some(20));
    for m in ["energy_distance", "sliced_w1"] {
        let gap = f(&format!("heldout_{m}_gap"));
        let to_train = f(&format!("heldout_{m}_to_train"));
        let to_held = f(&format!("heldout_{m}_to_heldout"));
        assert!((gap - (to_held - to_train)).abs() <= 1e-12 * to_held, "{m}");
        assert!(to_train < 0.5 * to_held, "{m}: {to_train} vs {to_held}");
        assert!(
            gap > 0.3 * f(&format!("heldout_{m}_floor")),
            "{m}: gap {gap}"
        );
    }
    // The same run on one rank gives the same report (the held-out split is rank-free).
    let one = generate(d, "memorise1", &text, 0, &[]);
    let s1 = summary(&one);
    for k in ["heldout_energy_distance_gap", "heldout_sliced_w1_floor"] {
        assert_eq!(s1[k].as_float(), s[k].as_float(), "{k}");
    }
}
