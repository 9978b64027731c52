//! Heat map of a 2D field with a colour bar.

use std::path::Path;

use ndarray::ArrayView2;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::colour::ColourScale;
use super::{draw_err, render, short_number, Extent, PlotError, FAMILY};

/// Picture size of [`heatmap`] in pixels (width, height).
pub const HEATMAP_SIZE: (u32, u32) = (820, 700);

/// Width of the colour bar strip on the right.
const BAR_WIDTH: u32 = 140;

/// Heat map of a global-shaped 2D field (row index = y, row 0 at `extent.y0`; column = x; shape
/// `(ny, nx)`), with axes, a colour bar and `title`. Each cell is a rectangle of the extent
/// (nearest-cell sampling per pixel). `log`: log10 colour scale over at most
/// [`super::MAX_LOG_DECADES`] decades below the maximum; cells `<= 0` (and tinier ones) get the
/// floor colour. Non-finite cells are grey.
pub fn heatmap(
    path: &Path,
    field: ArrayView2<f64>,
    extent: Extent,
    log: bool,
    title: &str,
) -> Result<(), PlotError> {
    let (ny, nx) = field.dim();
    if nx == 0 || ny == 0 {
        return Err(PlotError::Data(format!("{title}: empty field")));
    }
    let Extent { x0, x1, y0, y1 } = extent;
    if !(x0.is_finite() && x1.is_finite() && y0.is_finite() && y1.is_finite())
        || x0 >= x1
        || y0 >= y1
    {
        return Err(PlotError::Data(format!("{title}: bad extent {extent:?}")));
    }
    let scale = ColourScale::covering(field.iter().copied(), log);
    render(path, HEATMAP_SIZE, |root| {
        let (main, bar) = root.split_horizontally(HEATMAP_SIZE.0 - BAR_WIDTH);
        let mut chart = ChartBuilder::on(&main)
            .caption(title, (FAMILY, 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        let plot = chart.plotting_area().strip_coord_spec();
        let (pw, ph) = plot.dim_in_pixel();
        for py in 0..ph {
            // Pixel row 0 is the top edge (y1); field row 0 is the bottom (y0).
            let from_top = ((py as f64 + 0.5) / ph as f64 * ny as f64) as usize;
            let row = ny - 1 - from_top.min(ny - 1);
            for px in 0..pw {
                let col = (((px as f64 + 0.5) / pw as f64 * nx as f64) as usize).min(nx - 1);
                let [r, g, b] = scale.colour(field[(row, col)]);
                plot.draw_pixel((px as i32, py as i32), &RGBColor(r, g, b))
                    .map_err(draw_err)?;
            }
        }
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("x")
            .y_desc("y")
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16))
            .x_label_formatter(&|v| short_number(*v))
            .y_label_formatter(&|v| short_number(*v))
            .draw()
            .map_err(draw_err)?;
        // The bar spans the same pixel rows as the plotting area.
        let (_, rows) = chart.plotting_area().get_pixel_range();
        let (_, bar_rows) = bar.get_pixel_range();
        let top = (rows.start - bar_rows.start).max(0) as u32;
        let bottom = (bar_rows.end - rows.end).max(0) as u32;
        let label = if log { "f (log scale)" } else { "f" };
        if log {
            colour_bar(&bar, (scale.lo..scale.hi).log_scale(), label, top, bottom)
        } else {
            colour_bar(&bar, scale.lo..scale.hi, label, top, bottom)
        }
    })
}

/// Draws the viridis colour bar into `area`, its axis `y` on the right, with `top` and
/// `bottom` margins in pixels.
fn colour_bar<DB, Y>(
    area: &DrawingArea<DB, Shift>,
    y: Y,
    label: &str,
    top: u32,
    bottom: u32,
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .margin_top(top)
        .margin_bottom(bottom)
        .margin_left(12)
        .margin_right(8)
        .right_y_label_area_size(95)
        .build_cartesian_2d(0.0..1.0, y)
        .map_err(draw_err)?;
    let strip = chart.plotting_area().strip_coord_spec();
    let (pw, ph) = strip.dim_in_pixel();
    for py in 0..ph {
        let s = 1.0 - (py as f64 + 0.5) / ph as f64;
        let [r, g, b] = super::viridis(s);
        for px in 0..pw {
            strip
                .draw_pixel((px as i32, py as i32), &RGBColor(r, g, b))
                .map_err(draw_err)?;
        }
    }
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(label)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .y_label_formatter(&|v| short_number(*v))
        .draw()
        .map_err(draw_err)
}
