//! Pictures side by side: several PNG files (as written by this module) joined left to right
//! into one, top-aligned on a white background.

use std::path::Path;

use super::{write_png, PlotError};

/// Decodes an 8-bit RGB PNG as `(width, height, pixels)`.
fn read_rgb(path: &Path) -> Result<(u32, u32, Vec<u8>), PlotError> {
    let io = |e: &dyn std::fmt::Display| PlotError::Io(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| io(&e))?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .map_err(|e| io(&e))?;
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| io(&e))?;
    if info.color_type != png::ColorType::Rgb || info.bit_depth != png::BitDepth::Eight {
        return Err(PlotError::Data(format!(
            "{}: not an 8-bit RGB picture",
            path.display()
        )));
    }
    buf.truncate(info.buffer_size());
    Ok((info.width, info.height, buf))
}

/// Joins the pictures `parts` left to right into `path` (the height is the tallest part's).
pub fn side_by_side(path: &Path, parts: &[&Path]) -> Result<(), PlotError> {
    if parts.is_empty() {
        return Err(PlotError::Data("no pictures to join".into()));
    }
    let pictures = parts
        .iter()
        .map(|p| read_rgb(p))
        .collect::<Result<Vec<_>, _>>()?;
    let width: u32 = pictures.iter().map(|p| p.0).sum();
    let height = pictures.iter().map(|p| p.1).max().unwrap_or(0);
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    let mut x0 = 0usize;
    for (w, h, px) in &pictures {
        let (w, h) = (*w as usize, *h as usize);
        for row in 0..h {
            let dst = (row * width as usize + x0) * 3;
            rgb[dst..dst + 3 * w].copy_from_slice(&px[row * 3 * w..(row + 1) * 3 * w]);
        }
        x0 += w;
    }
    write_png(path, width, height, &rgb)
}
