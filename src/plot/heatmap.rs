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
    let scale = ColourScale::covering(field.iter().copied(), log);
    let panel = Panel {
        field,
        extent,
        axes: ("x", "y"),
        title,
    };
    panel.check()?;
    render(path, HEATMAP_SIZE, |root| panel.draw(root, &scale))
}

/// One heat-map panel of [`heatmap`] or [`slices`]: the 2D field (row = vertical axis, row 0 at
/// the bottom), the rectangle it covers, the names of its horizontal and vertical axes, and
/// its title.
pub struct Panel<'a> {
    /// Shape `(rows, cols)`: rows along the vertical axis.
    pub field: ArrayView2<'a, f64>,
    /// The rectangle the field covers (cell edges).
    pub extent: Extent,
    /// Names of the horizontal and vertical axes.
    pub axes: (&'a str, &'a str),
    /// Caption.
    pub title: &'a str,
}

impl Panel<'_> {
    fn check(&self) -> Result<(), PlotError> {
        let (ny, nx) = self.field.dim();
        let title = self.title;
        if nx == 0 || ny == 0 {
            return Err(PlotError::Data(format!("{title}: empty field")));
        }
        let Extent { x0, x1, y0, y1 } = self.extent;
        if !(x0.is_finite() && x1.is_finite() && y0.is_finite() && y1.is_finite())
            || x0 >= x1
            || y0 >= y1
        {
            let extent = self.extent;
            return Err(PlotError::Data(format!("{title}: bad extent {extent:?}")));
        }
        Ok(())
    }

    /// Draws the panel and its colour bar (of `scale`) into `area`.
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        scale: &ColourScale,
    ) -> Result<(), PlotError> {
        let (ny, nx) = self.field.dim();
        let Extent { x0, x1, y0, y1 } = self.extent;
        let (width, _) = area.dim_in_pixel();
        let (main, bar) = area.split_horizontally(width.saturating_sub(BAR_WIDTH));
        let mut chart = ChartBuilder::on(&main)
            .caption(self.title, (FAMILY, 22))
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
                let [r, g, b] = scale.colour(self.field[(row, col)]);
                plot.draw_pixel((px as i32, py as i32), &RGBColor(r, g, b))
                    .map_err(draw_err)?;
            }
        }
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(self.axes.0)
            .y_desc(self.axes.1)
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
        let label = if scale.log { "f (log scale)" } else { "f" };
        if scale.log {
            colour_bar(&bar, (scale.lo..scale.hi).log_scale(), label, top, bottom)
        } else {
            colour_bar(&bar, scale.lo..scale.hi, label, top, bottom)
        }
    }
}

/// Several heat-map panels side by side in one picture (each [`HEATMAP_SIZE`]), all on one
/// colour scale covering every panel's values (so colours compare across panels); `log` as in
/// [`heatmap`]. The three mid-plane slices of a 3D field are drawn this way.
pub fn slices(path: &Path, panels: &[Panel], log: bool) -> Result<(), PlotError> {
    if panels.is_empty() {
        return Err(PlotError::Data("no panels to draw".into()));
    }
    for panel in panels {
        panel.check()?;
    }
    let scale = ColourScale::covering(panels.iter().flat_map(|p| p.field.iter().copied()), log);
    let size = (HEATMAP_SIZE.0 * panels.len() as u32, HEATMAP_SIZE.1);
    render(path, size, |root| {
        let areas = root.split_evenly((1, panels.len()));
        for (panel, area) in panels.iter().zip(&areas) {
            panel.draw(area, &scale)?;
        }
        Ok(())
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
