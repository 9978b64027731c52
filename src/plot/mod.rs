//! PNG pictures drawn by the program itself (no Python): heat maps of 2D fields with a colour
//! bar, line plots with a legend (linear or log axes), several line panels in one picture, and
//! the radial log-log profile with the universal near-origin line `C |x|^(-2/gamma)`.
//!
//! Pure rendering: no MPI, no config types, no HDF5. Callers pass plain arrays and numbers.
//! The one exception is [`files`], the pictures of nlfp files for `nlfp plot`, which reads
//! HDF5 fields and diagnostics CSVs (serially) and hands plain arrays to the renderers.
//! Drawing uses `plotters` into an in-memory RGB buffer with an embedded font (DejaVu Sans,
//! `assets/fonts/`, licence next to it), so no system font, fontconfig or freetype is needed;
//! the buffer is encoded with the `png` crate. Every picture is 8-bit RGB.
//!
//! Conventions:
//! * A 2D field has shape `(ny, nx)`: row index = y (row 0 at the bottom, `y0`), column = x.
//! * On log axes (and in log colour scales) non-positive values are not drawn as lines or
//!   points (a line is broken there); non-finite values are never drawn.

mod colour;
mod compose;
pub mod files;
mod heatmap;
mod lines;

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

pub use colour::{viridis, ColourScale, MAX_LOG_DECADES};
pub use compose::side_by_side;
pub use heatmap::{heatmap, slices, Panel, HEATMAP_SIZE};
pub use lines::{
    lines, panels, profile_1d, radial_profile, reference_constant, LINES_SIZE, PANEL_SIZE,
};

/// The rectangle a 2D field covers (cell edges): `x0 <= x <= x1`, `y0 <= y <= y1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extent {
    /// Left edge.
    pub x0: f64,
    /// Right edge.
    pub x1: f64,
    /// Bottom edge.
    pub y0: f64,
    /// Top edge.
    pub y1: f64,
}

impl Extent {
    /// The square `[-l, l]^2` (the solver's domain with `half_width = l`).
    pub fn square(l: f64) -> Extent {
        Extent {
            x0: -l,
            x1: l,
            y0: -l,
            y1: l,
        }
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineStyle {
    /// A solid line.
    Solid,
    /// A dashed line.
    Dashed,
    /// Filled circles, no line.
    Points,
}

/// One curve of a line plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text (an empty label gets no legend entry).
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates (same length as `x`).
    pub y: Vec<f64>,
    /// How it is drawn.
    pub style: LineStyle,
}

/// Title, axis labels and scales of one line plot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Axes {
    /// Caption above the plot.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// Logarithmic horizontal axis.
    pub log_x: bool,
    /// Logarithmic vertical axis.
    pub log_y: bool,
}

/// Why a picture was not written.
#[derive(Debug, Clone, PartialEq)]
pub enum PlotError {
    /// The data cannot be drawn (empty field, `x` and `y` of different lengths, bad extent).
    Data(String),
    /// Drawing failed inside the plotting library.
    Draw(String),
    /// The PNG file could not be written (the message names the path).
    Io(String),
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::Data(m) | PlotError::Draw(m) | PlotError::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for PlotError {}

/// The embedded font (DejaVu Sans; licence in `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Font family name all pictures use (also plotters' default for axis labels).
const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters once per process.
fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Draw("the embedded font cannot be loaded".into()))
    }
}

/// A plotters error as a [`PlotError::Draw`].
fn draw_err<E: fmt::Debug>(e: E) -> PlotError {
    PlotError::Draw(format!("drawing failed: {e:?}"))
}

/// Renders a `width` x `height` picture with `draw` (given the RGB buffer's drawing area) and
/// writes it to `path` as PNG.
fn render<F>(path: &Path, (width, height): (u32, u32), draw: F) -> Result<(), PlotError>
where
    F: FnOnce(
        &plotters::drawing::DrawingArea<
            plotters::backend::BitMapBackend<'_>,
            plotters::coord::Shift,
        >,
    ) -> Result<(), PlotError>,
{
    use plotters::prelude::*;
    ensure_font()?;
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    write_png(path, width, height, &rgb)
}

/// Encodes 8-bit RGB pixels (row-major, top row first) as a PNG file.
fn write_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<(), PlotError> {
    let io = |e: &dyn fmt::Display| PlotError::Io(format!("{}: cannot write: {e}", path.display()));
    let file = std::fs::File::create(path).map_err(|e| io(&e))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| io(&e))?;
    writer.write_image_data(rgb).map_err(|e| io(&e))?;
    writer.finish().map_err(|e| io(&e))
}

/// A number for tick labels and titles: at most 4 significant digits, plain for moderate
/// magnitudes (`0.5`, `1235`), `1.5e-7` style otherwise.
pub fn short_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let rounded: f64 = format!("{v:.3e}").parse().unwrap_or(v);
    let a = rounded.abs();
    if (1e-3..1e5).contains(&a) {
        format!("{rounded}")
    } else {
        format!("{rounded:e}")
    }
}

#[cfg(test)]
mod render_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers_are_short() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(0.5), "0.5");
        assert_eq!(short_number(1234.5678), "1235");
        assert_eq!(short_number(1e-7), "1e-7");
        assert_eq!(short_number(-2.5e6), "-2.5e6");
        assert_eq!(short_number(0.30000000000000004), "0.3");
    }

    #[test]
    fn png_errors_name_the_path() {
        let err = write_png(Path::new("/nonexistent-dir/x.png"), 1, 1, &[0, 0, 0]).unwrap_err();
        assert!(matches!(err, PlotError::Io(_)));
        assert!(err.to_string().contains("/nonexistent-dir/x.png"), "{err}");
    }
}
