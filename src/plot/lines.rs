//! Line plots: one set of axes, several panels, the radial log-log profile, 1D profiles.

use std::collections::HashSet;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::colour::MAX_LOG_DECADES;
use super::{draw_err, render, short_number, Axes, LineStyle, PlotError, Series, FAMILY};

/// Picture size of [`lines`], [`radial_profile`] and [`profile_1d`] in pixels.
pub const LINES_SIZE: (u32, u32) = (800, 560);

/// Size of one panel of [`panels`]; `k` panels are laid out in `min(k, 2)` columns, so the
/// picture is `cols * PANEL_SIZE.0` by `ceil(k / cols) * PANEL_SIZE.1` pixels.
pub const PANEL_SIZE: (u32, u32) = (640, 420);

/// Line colours, in series order (matplotlib's tab10), repeated when there are more series.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Line plot of `series` with a legend (series with an empty label get no entry). Non-finite
/// points, and on log axes non-positive ones, are skipped and break the line.
pub fn lines(path: &Path, axes: &Axes, series: &[Series]) -> Result<(), PlotError> {
    check(series)?;
    render(path, LINES_SIZE, |root| draw_axes(root, axes, series))
}

/// Several line plots in one picture (e.g. max f, `||f||_2`, centre mass and entropy against
/// t), in reading order, two per row (see [`PANEL_SIZE`]).
pub fn panels(path: &Path, panels: &[(Axes, Vec<Series>)]) -> Result<(), PlotError> {
    if panels.is_empty() {
        return Err(PlotError::Data("no panels to draw".into()));
    }
    for (_, series) in panels {
        check(series)?;
    }
    let (cols, rows) = grid(panels.len());
    let size = (cols * PANEL_SIZE.0, rows * PANEL_SIZE.1);
    render(path, size, |root| {
        let areas = root.split_evenly((rows as usize, cols as usize));
        for (area, (axes, series)) in areas.iter().zip(panels) {
            draw_axes(area, axes, series)?;
        }
        Ok(())
    })
}

/// Columns and rows of a [`panels`] picture with `k` panels.
fn grid(k: usize) -> (u32, u32) {
    let cols = k.clamp(1, 2);
    (cols as u32, k.div_ceil(cols) as u32)
}

/// The constant of the universal near-origin profile `f ~ C |x|^(-2/gamma)`,
/// `C = (2 D / (gamma kappa))^(1/gamma)` (MODEL.md section 3); `None` when it does not exist
/// (`kappa <= 0`, non-positive or non-finite parameters).
pub fn reference_constant(gamma: f64, diffusion: f64, kappa: f64) -> Option<f64> {
    let c = (2.0 * diffusion / (gamma * kappa)).powf(1.0 / gamma);
    (gamma > 0.0 && diffusion > 0.0 && kappa > 0.0 && c.is_finite() && c > 0.0).then_some(c)
}

/// Radial profile: the cell values `(|x|, f)` as points on log-log axes, plus the reference
/// line `C |x|^(-2/gamma)` with `C = (2D/(gamma kappa))^(1/gamma)` over the radii drawn (left
/// out when `C` does not exist, see [`reference_constant`]). Cells at `|x| = 0` or with
/// `f <= 0` cannot be drawn on log axes and are skipped, and so are cells more than
/// [`MAX_LOG_DECADES`] decades below the maximum (as in a log heat map).
pub fn radial_profile(
    path: &Path,
    radius: &[f64],
    f: &[f64],
    gamma: f64,
    diffusion: f64,
    kappa: f64,
    title: &str,
) -> Result<(), PlotError> {
    let cells = Series {
        label: "cells".into(),
        x: radius.to_vec(),
        y: above_log_floor(f),
        style: LineStyle::Points,
    };
    check(std::slice::from_ref(&cells))?;
    let drawn: Vec<f64> = radius
        .iter()
        .zip(&cells.y)
        .filter(|(r, v)| valid(**r, true) && valid(**v, true))
        .map(|(r, _)| *r)
        .collect();
    let (r_lo, r_hi) = drawn.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| {
        (lo.min(r), hi.max(r))
    });
    let mut series = vec![cells];
    if let (Some(c), false) = (
        reference_constant(gamma, diffusion, kappa),
        drawn.is_empty(),
    ) {
        let k = 64;
        let x: Vec<f64> = (0..=k)
            .map(|i| r_lo * (r_hi / r_lo).powf(i as f64 / k as f64))
            .collect();
        let y = x.iter().map(|r| c * r.powf(-2.0 / gamma)).collect();
        series.push(Series {
            label: format!("{} |x|^(-2/γ), γ = {gamma}", short_number(c)),
            x,
            y,
            style: LineStyle::Dashed,
        });
    }
    let axes = Axes {
        title: title.into(),
        x_label: "|x|".into(),
        y_label: "f".into(),
        log_x: true,
        log_y: true,
    };
    lines(path, &axes, &series)
}

/// A 1D field `f` against the cell centres `x` as a line (`log`: log10 vertical axis; cells
/// `<= 0` or more than [`MAX_LOG_DECADES`] decades below the maximum are skipped).
pub fn profile_1d(
    path: &Path,
    x: &[f64],
    f: &[f64],
    log: bool,
    title: &str,
) -> Result<(), PlotError> {
    let axes = Axes {
        title: title.into(),
        x_label: "x".into(),
        y_label: if log { "f (log scale)" } else { "f" }.into(),
        log_x: false,
        log_y: log,
    };
    let series = Series {
        label: String::new(),
        x: x.to_vec(),
        y: if log { above_log_floor(f) } else { f.to_vec() },
        style: LineStyle::Solid,
    };
    lines(path, &axes, &[series])
}

/// `f` with values below `max f * 10^-MAX_LOG_DECADES` replaced by NaN (not drawn). Keeps log
/// axes readable: far tails of a density reach 1e-60 and below, and plotters labels no log
/// ticks under `f64::EPSILON`.
fn above_log_floor(f: &[f64]) -> Vec<f64> {
    let max = f
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let floor = max * 10f64.powf(-MAX_LOG_DECADES);
    f.iter()
        .map(|&v| if v >= floor { v } else { f64::NAN })
        .collect()
}

/// `x` and `y` of every series have the same length.
fn check(series: &[Series]) -> Result<(), PlotError> {
    match series.iter().find(|s| s.x.len() != s.y.len()) {
        Some(s) => Err(PlotError::Data(format!(
            "series {:?}: {} x values but {} y values",
            s.label,
            s.x.len(),
            s.y.len()
        ))),
        None => Ok(()),
    }
}

/// Whether `v` can be drawn on a (log) axis.
fn valid(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

/// The drawable runs of consecutive valid points of `s`.
fn segments(s: &Series, log_x: bool, log_y: bool) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![];
    let mut run = vec![];
    for (&x, &y) in s.x.iter().zip(&s.y) {
        if valid(x, log_x) && valid(y, log_y) {
            run.push((x, y));
        } else if !run.is_empty() {
            out.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// Axis range covering `values` (already valid for the axis), padded a little; a default range
/// when there are none, widened when they are all equal.
fn axis_range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    match (lo.is_finite(), log) {
        (false, false) => (0.0, 1.0),
        (false, true) => (1.0, 10.0),
        (true, false) if lo == hi => {
            let pad = if lo == 0.0 { 1.0 } else { 0.05 * lo.abs() };
            (lo - pad, hi + pad)
        }
        (true, false) => {
            let pad = 0.04 * (hi - lo);
            (lo - pad, hi + pad)
        }
        (true, true) if lo == hi => (lo / 2.0, hi * 2.0),
        (true, true) => {
            let factor = (hi / lo).powf(0.04);
            (lo / factor, hi * factor)
        }
    }
}

/// Draws one set of axes with its series into `area`.
fn draw_axes<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    axes: &Axes,
    series: &[Series],
) -> Result<(), PlotError> {
    let segs: Vec<_> = series
        .iter()
        .map(|s| segments(s, axes.log_x, axes.log_y))
        .collect();
    let points = || segs.iter().flatten().flatten();
    let (x0, x1) = axis_range(points().map(|p| p.0), axes.log_x);
    let (y0, y1) = axis_range(points().map(|p| p.1), axes.log_y);
    match (axes.log_x, axes.log_y) {
        (false, false) => draw_in(area, axes, series, &segs, x0..x1, y0..y1),
        (true, false) => draw_in(area, axes, series, &segs, (x0..x1).log_scale(), y0..y1),
        (false, true) => draw_in(area, axes, series, &segs, x0..x1, (y0..y1).log_scale()),
        (true, true) => draw_in(
            area,
            axes,
            series,
            &segs,
            (x0..x1).log_scale(),
            (y0..y1).log_scale(),
        ),
    }
}

/// Draws axes `x`, `y` (linear or log coordinates) and the series' segments.
fn draw_in<DB, X, Y>(
    area: &DrawingArea<DB, Shift>,
    axes: &Axes,
    series: &[Series],
    segs: &[Vec<Vec<(f64, f64)>>],
    x: X,
    y: Y,
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(&axes.title, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc(axes.x_label.as_str())
        .y_desc(axes.y_label.as_str())
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .x_label_formatter(&|v| short_number(*v))
        .y_label_formatter(&|v| short_number(*v))
        .draw()
        .map_err(draw_err)?;
    for (k, (s, runs)) in series.iter().zip(segs).enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let line = colour.stroke_width(2);
        let anno = match s.style {
            LineStyle::Solid => chart
                .draw_series(runs.iter().map(|run| PathElement::new(run.clone(), line)))
                .map_err(draw_err)?,
            LineStyle::Dashed => chart
                .draw_series(
                    runs.iter()
                        .map(|run| DashedPathElement::new(run.clone(), 9, 6, line)),
                )
                .map_err(draw_err)?,
            LineStyle::Points => {
                // One marker per pixel position: large fields draw in time linear in the cells.
                let mut seen = HashSet::new();
                let points: Vec<(f64, f64)> = runs
                    .iter()
                    .flatten()
                    .filter(|p| seen.insert(chart.backend_coord(p)))
                    .copied()
                    .collect();
                chart
                    .draw_series(
                        points
                            .into_iter()
                            .map(|p| Circle::new(p, 3, colour.filled())),
                    )
                    .map_err(draw_err)?
            }
        };
        if s.label.is_empty() {
            continue;
        }
        anno.label(s.label.as_str());
        match s.style {
            LineStyle::Solid => {
                anno.legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line));
            }
            LineStyle::Dashed => {
                anno.legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (9, 0)], line)
                        + PathElement::new(vec![(15, 0), (24, 0)], line)
                });
            }
            LineStyle::Points => {
                anno.legend(move |(x, y)| Circle::new((x + 12, y), 3, colour.filled()));
            }
        }
    }
    if series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FAMILY, 14))
            .draw()
            .map_err(draw_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(x: &[f64], y: &[f64]) -> Series {
        Series {
            label: "s".into(),
            x: x.to_vec(),
            y: y.to_vec(),
            style: LineStyle::Solid,
        }
    }

    #[test]
    fn segments_break_at_invalid_points() {
        let s = series(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, -1.0, 3.0, f64::NAN, 5.0]);
        assert_eq!(
            segments(&s, false, true),
            vec![vec![(1.0, 1.0)], vec![(3.0, 3.0)], vec![(5.0, 5.0)]]
        );
        assert_eq!(segments(&s, false, false).len(), 2);
    }

    #[test]
    fn log_floor_drops_far_tails() {
        let f = above_log_floor(&[10.0, 1e-3, 1e-11, 1e-12, 0.0, f64::NAN]);
        assert_eq!(&f[..3], [10.0, 1e-3, 1e-11]);
        assert!(f[3..].iter().all(|v| v.is_nan()), "{f:?}");
    }

    #[test]
    fn ranges_cover_and_pad() {
        let (lo, hi) = axis_range([1.0, 3.0].into_iter(), false);
        assert!(lo < 1.0 && hi > 3.0 && hi - lo < 2.5);
        assert_eq!(axis_range(std::iter::empty(), false), (0.0, 1.0));
        assert_eq!(axis_range(std::iter::empty(), true), (1.0, 10.0));
        assert_eq!(axis_range([0.0].into_iter(), false), (-1.0, 1.0));
        assert_eq!(axis_range([4.0].into_iter(), true), (2.0, 8.0));
        let (lo, hi) = axis_range([1e-3, 1e3].into_iter(), true);
        assert!(lo < 1e-3 && lo > 1e-4 && hi > 1e3 && hi < 1e4);
    }

    #[test]
    fn reference_constant_formula() {
        let c = reference_constant(2.0, 1.0, 1.0).unwrap();
        assert!((c - 1.0).abs() < 1e-15);
        let c = reference_constant(3.0, 0.5, 2.0).unwrap();
        assert!((c - (1.0f64 / 6.0).powf(1.0 / 3.0)).abs() < 1e-15);
        assert_eq!(reference_constant(2.0, 1.0, 0.0), None);
    }

    #[test]
    fn panel_grid() {
        assert_eq!(grid(1), (1, 1));
        assert_eq!(grid(2), (2, 1));
        assert_eq!(grid(3), (2, 2));
        assert_eq!(grid(4), (2, 2));
        assert_eq!(grid(5), (2, 3));
    }
}
