//! Tests that draw real pictures and decode them again.

use std::path::{Path, PathBuf};

use ndarray::Array2;

use super::*;

/// A decoded 8-bit RGB picture.
struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    fn read(path: &Path) -> Picture {
        let decoder = png::Decoder::new(std::fs::File::open(path).expect("open png"));
        let mut reader = decoder.read_info().expect("png header");
        let mut rgb = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).expect("png data");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        rgb.truncate(info.buffer_size());
        Picture {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let k = 3 * (y as usize * self.width as usize + x as usize);
        [self.rgb[k], self.rgb[k + 1], self.rgb[k + 2]]
    }

    /// Pixels with `x < x_max` within `tol` (max channel difference) of `colour`.
    fn matching(&self, colour: [u8; 3], tol: u8, x_max: u32) -> Vec<(u32, u32)> {
        let mut out = vec![];
        for y in 0..self.height {
            for x in 0..self.width.min(x_max) {
                let p = self.pixel(x, y);
                if (0..3).all(|i| p[i].abs_diff(colour[i]) <= tol) {
                    out.push((x, y));
                }
            }
        }
        out
    }
}

fn centroid(pixels: &[(u32, u32)]) -> (f64, f64) {
    let n = pixels.len() as f64;
    let sx: f64 = pixels.iter().map(|p| p.0 as f64).sum();
    let sy: f64 = pixels.iter().map(|p| p.1 as f64).sum();
    (sx / n, sy / n)
}

fn tmp(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// `f(x, y)` sampled at the cell centres of an `n x n` grid on `[-l, l]^2` (row = y).
fn sample(n: usize, l: f64, f: impl Fn(f64, f64) -> f64) -> Array2<f64> {
    let h = 2.0 * l / n as f64;
    let c = |i: usize| -l + (i as f64 + 0.5) * h;
    Array2::from_shape_fn((n, n), |(j, i)| f(c(i), c(j)))
}

/// Left edge of the colour bar: heat-map pixels lie to the left.
const MAIN_WIDTH: u32 = HEATMAP_SIZE.0 - 140;

#[test]
fn heatmap_has_its_size_and_the_peak_where_the_field_peaks() {
    let dir = tempfile::tempdir().unwrap();
    let hot = viridis(1.0);
    // Peak in the lower-left quadrant, then in the upper-right one.
    for (name, (px, py)) in [("ll.png", (-3.0, -3.0)), ("ur.png", (2.0, 3.0))] {
        let field = sample(64, 6.0, |x, y| {
            (-((x - px) * (x - px) + (y - py) * (y - py))).exp()
        });
        let path = tmp(&dir, name);
        heatmap(&path, field.view(), Extent::square(6.0), false, "peak").unwrap();
        let pic = Picture::read(&path);
        assert_eq!((pic.width, pic.height), HEATMAP_SIZE);
        let hottest = pic.matching(hot, 40, MAIN_WIDTH);
        assert!(!hottest.is_empty(), "{name}: no hot pixels");
        let (cx, cy) = centroid(&hottest);
        let (mid_x, mid_y) = (MAIN_WIDTH as f64 / 2.0, HEATMAP_SIZE.1 as f64 / 2.0);
        if px < 0.0 {
            assert!(
                cx < mid_x - 80.0 && cy > mid_y + 80.0,
                "{name}: centroid {cx}, {cy}"
            );
        } else {
            assert!(
                cx > mid_x + 40.0 && cy < mid_y - 80.0,
                "{name}: centroid {cx}, {cy}"
            );
        }
        // The hot spot is small: a few percent of the plot at most.
        assert!(
            hottest.len() < 20_000,
            "{name}: {} hot pixels",
            hottest.len()
        );
    }
}

#[test]
fn log_scale_lifts_the_tails_out_of_the_floor_colour() {
    let dir = tempfile::tempdir().unwrap();
    let field = sample(96, 6.0, |x, y| (-(x * x + y * y)).exp());
    let (lin, log) = (tmp(&dir, "lin.png"), tmp(&dir, "log.png"));
    heatmap(&lin, field.view(), Extent::square(6.0), false, "linear").unwrap();
    heatmap(&log, field.view(), Extent::square(6.0), true, "log").unwrap();
    let (lin, log) = (Picture::read(&lin), Picture::read(&log));
    let floor = viridis(0.0);
    let (lin_floor, log_floor) = (
        lin.matching(floor, 6, MAIN_WIDTH).len(),
        log.matching(floor, 6, MAIN_WIDTH).len(),
    );
    // Linear: all of |x| > ~2 is at the floor; log over 12 decades: only |x| > ~5.3.
    assert!(
        lin_floor as f64 > 1.8 * log_floor as f64,
        "floor pixels: linear {lin_floor}, log {log_floor}"
    );
    let mid = viridis(0.5);
    let (lin_mid, log_mid) = (
        lin.matching(mid, 12, MAIN_WIDTH).len(),
        log.matching(mid, 12, MAIN_WIDTH).len(),
    );
    assert!(
        log_mid > 5 * lin_mid.max(1),
        "mid pixels: linear {lin_mid}, log {log_mid}"
    );
}

#[test]
fn heatmap_log_of_non_positive_fields_draws_the_floor() {
    let dir = tempfile::tempdir().unwrap();
    let mut field = sample(20, 1.0, |x, _| x);
    field[(3, 4)] = f64::NAN;
    for (name, f) in [
        ("mixed.png", field.clone()),
        ("zeros.png", Array2::zeros((5, 7))),
        ("negative.png", Array2::from_elem((4, 4), -1.0)),
    ] {
        let path = tmp(&dir, name);
        heatmap(&path, f.view(), Extent::square(1.0), true, name).unwrap();
        let pic = Picture::read(&path);
        assert_eq!((pic.width, pic.height), HEATMAP_SIZE);
        assert!(
            !pic.matching(viridis(0.0), 6, MAIN_WIDTH).is_empty(),
            "{name}"
        );
    }
}

#[test]
fn heatmap_rejects_empty_fields_and_bad_extents() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp(&dir, "x.png");
    let empty = Array2::<f64>::zeros((0, 3));
    let err = heatmap(&path, empty.view(), Extent::square(1.0), false, "t").unwrap_err();
    assert!(matches!(err, PlotError::Data(_)), "{err}");
    let one = Array2::<f64>::ones((2, 2));
    let bad = Extent {
        x0: 1.0,
        x1: -1.0,
        y0: 0.0,
        y1: 1.0,
    };
    let err = heatmap(&path, one.view(), bad, false, "t").unwrap_err();
    assert!(matches!(err, PlotError::Data(_)), "{err}");
    assert!(!path.exists());
}

fn styled(label: &str, x: Vec<f64>, y: Vec<f64>, style: LineStyle) -> Series {
    Series {
        label: label.into(),
        x,
        y,
        style,
    }
}

#[test]
fn lines_draw_every_style_in_its_colour() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp(&dir, "lines.png");
    let x: Vec<f64> = (0..50).map(|i| i as f64 / 10.0).collect();
    let series = [
        styled(
            "sin",
            x.clone(),
            x.iter().map(|t| t.sin()).collect(),
            LineStyle::Solid,
        ),
        styled(
            "cos",
            x.clone(),
            x.iter().map(|t| t.cos()).collect(),
            LineStyle::Dashed,
        ),
        styled(
            "pts",
            x.clone(),
            x.iter().map(|t| 0.5 * t.sin()).collect(),
            LineStyle::Points,
        ),
    ];
    let axes = Axes {
        title: "three".into(),
        x_label: "t".into(),
        y_label: "y".into(),
        ..Axes::default()
    };
    lines(&path, &axes, &series).unwrap();
    let pic = Picture::read(&path);
    assert_eq!((pic.width, pic.height), LINES_SIZE);
    for (k, colour) in [[31, 119, 180], [214, 39, 40], [44, 160, 44]]
        .iter()
        .enumerate()
    {
        let n = pic.matching(*colour, 10, pic.width).len();
        assert!(n > 50, "series {k}: {n} pixels of its colour");
    }
}

#[test]
fn log_axes_skip_non_positive_and_non_finite_points() {
    let dir = tempfile::tempdir().unwrap();
    let axes = Axes {
        title: "log".into(),
        log_x: true,
        log_y: true,
        ..Axes::default()
    };
    let cases = [
        vec![styled(
            "mixed",
            vec![-1.0, 0.0, 1.0, 2.0, f64::NAN, 4.0],
            vec![1.0, 1.0, -2.0, 3.0, 1.0, 0.0],
            LineStyle::Solid,
        )],
        vec![styled(
            "none",
            vec![0.0, -1.0],
            vec![1.0, 2.0],
            LineStyle::Dashed,
        )],
        vec![styled("", vec![], vec![], LineStyle::Points)],
        vec![styled("one", vec![2.0], vec![2.0], LineStyle::Points)],
    ];
    for (k, series) in cases.iter().enumerate() {
        let path = tmp(&dir, &format!("log{k}.png"));
        lines(&path, &axes, series).unwrap();
        let pic = Picture::read(&path);
        assert_eq!((pic.width, pic.height), LINES_SIZE, "case {k}");
    }
    let err = lines(
        &tmp(&dir, "bad.png"),
        &axes,
        &[styled("short", vec![1.0, 2.0], vec![1.0], LineStyle::Solid)],
    )
    .unwrap_err();
    assert!(
        matches!(err, PlotError::Data(ref m) if m.contains("short")),
        "{err}"
    );
}

#[test]
fn panels_are_laid_out_two_per_row() {
    let dir = tempfile::tempdir().unwrap();
    let t: Vec<f64> = (0..20).map(f64::from).collect();
    let panel = |name: &str| {
        let axes = Axes {
            title: name.into(),
            x_label: "t".into(),
            y_label: name.into(),
            ..Axes::default()
        };
        (
            axes,
            vec![styled(
                name,
                t.clone(),
                t.iter().map(|v| v * v).collect(),
                LineStyle::Solid,
            )],
        )
    };
    for (k, size) in [(1, (640, 420)), (3, (1280, 840)), (4, (1280, 840))] {
        let path = tmp(&dir, &format!("p{k}.png"));
        let list: Vec<_> = (0..k).map(|i| panel(&format!("q{i}"))).collect();
        panels(&path, &list).unwrap();
        let pic = Picture::read(&path);
        assert_eq!((pic.width, pic.height), size, "{k} panels");
    }
    assert!(matches!(
        panels(&tmp(&dir, "none.png"), &[]),
        Err(PlotError::Data(_))
    ));
}

#[test]
fn radial_profile_draws_cells_and_the_reference_line() {
    let dir = tempfile::tempdir().unwrap();
    let (gamma, d, kappa) = (3.0, 1.0, 1.0);
    let c = reference_constant(gamma, d, kappa).unwrap();
    let r: Vec<f64> = (0..40).map(|i| i as f64 * 0.1).collect();
    let f: Vec<f64> = r
        .iter()
        .map(|&r| {
            if r == 0.0 {
                50.0
            } else {
                c * r.powf(-2.0 / gamma) * (-r * r).exp()
            }
        })
        .collect();
    let with = tmp(&dir, "radial.png");
    radial_profile(&with, &r, &f, gamma, d, kappa, "radial").unwrap();
    let without = tmp(&dir, "radial0.png");
    radial_profile(&without, &r, &f, gamma, d, 0.0, "radial, kappa = 0").unwrap();
    let (with, without) = (Picture::read(&with), Picture::read(&without));
    assert_eq!((with.width, with.height), LINES_SIZE);
    let red = [214, 39, 40];
    assert!(
        with.matching(red, 10, with.width).len() > 50,
        "reference line missing"
    );
    assert!(
        without.matching(red, 10, without.width).is_empty(),
        "reference without kappa"
    );
    let blue = [31, 119, 180];
    assert!(
        with.matching(blue, 10, with.width).len() > 100,
        "cells missing"
    );
}

#[test]
fn profile_1d_has_the_line_size() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<f64> = (0..31).map(|i| -3.0 + 0.2 * i as f64).collect();
    let f: Vec<f64> = x.iter().map(|x| (-x * x).exp() - 0.01).collect();
    for log in [false, true] {
        let path = tmp(&dir, &format!("p{log}.png"));
        profile_1d(&path, &x, &f, log, "1D").unwrap();
        let pic = Picture::read(&path);
        assert_eq!((pic.width, pic.height), LINES_SIZE);
    }
}
