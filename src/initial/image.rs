//! A PNG as a 2D density (`initial.kind = "image"`).
//!
//! Every pixel is a uniform box on its rectangle of the `extent` `[x_min, x_max, y_min,
//! y_max]` (row 0 at the top, `y = y_max`), so the density on the grid is the exact area
//! average of the pixels over each cell ([`super::deposit`]), scaled to the mass by the caller.
//! The value of a pixel, in `[0, 1]`:
//!
//! ```text
//! v = alpha * Y          (invert = false)
//! v = alpha * (1 - Y)    (invert = true: dark ink on white paper is mass)
//! Y = grey,  or  0.2126 R + 0.7152 G + 0.0722 B   (Rec. 709 weights)
//! ```
//!
//! on the stored samples divided by `2^depth - 1` (the gamma-encoded values, no
//! linearisation); `alpha = 1` without an alpha channel. Any PNG the `png` crate reads:
//! grey, grey + alpha, RGB, RGBA or palette, 1 to 16 bits (palettes and low depths are
//! expanded to 8 bits, a `tRNS` chunk to an alpha channel); an animated PNG gives its first
//! frame.

use super::deposit::{Blob, Profile};

/// A decoded image: `width * height` pixel values in `[0, 1]`, row-major from the top row.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `v` of every pixel (module doc), row-major, row 0 at the top.
    pub values: Vec<f64>,
}

/// Decodes the PNG `bytes` into pixel values (module doc). Errors name `file`: not a PNG,
/// truncated or damaged, or no pixel with a positive value.
pub fn decode_png(bytes: &[u8], invert: bool, file: &str) -> Result<Image, String> {
    if bytes.is_empty() {
        return Err(format!("{file}: the file is empty, expected a PNG image"));
    }
    let bad = |e: png::DecodingError| format!("{file}: not a readable PNG image: {e}");
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(bad)?;
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(bad)?;
    let (width, height) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let wide = info.bit_depth == png::BitDepth::Sixteen;
    let max = if wide { 65535.0 } else { 255.0 };
    let sample = |row: &[u8], k: usize| {
        if wide {
            f64::from(u16::from_be_bytes([row[2 * k], row[2 * k + 1]])) / max
        } else {
            f64::from(row[k]) / max
        }
    };
    let mut values = Vec::with_capacity(width * height);
    for r in 0..height {
        let row = &buf[r * info.line_size..(r + 1) * info.line_size];
        for c in 0..width {
            let s = |k: usize| sample(row, c * channels + k);
            let (y, alpha) = match info.color_type {
                png::ColorType::Grayscale => (s(0), 1.0),
                png::ColorType::GrayscaleAlpha => (s(0), s(1)),
                png::ColorType::Rgb => (luminance(s(0), s(1), s(2)), 1.0),
                png::ColorType::Rgba => (luminance(s(0), s(1), s(2)), s(3)),
                png::ColorType::Indexed => {
                    return Err(format!("{file}: palette image was not expanded"))
                }
            };
            values.push(alpha * if invert { 1.0 - y } else { y });
        }
    }
    if !values.iter().any(|&v| v > 0.0) {
        let what = if invert {
            "white (invert = true)"
        } else {
            "black"
        };
        return Err(format!(
            "{file}: every pixel is {what} or transparent: the image has no mass"
        ));
    }
    Ok(Image {
        width,
        height,
        values,
    })
}

/// Rec. 709 luminance of gamma-encoded `R, G, B` in `[0, 1]`.
fn luminance(r: f64, g: f64, b: f64) -> f64 {
    0.2126 * r + 0.7152 * g + 0.0722 * b
}

impl Image {
    /// The pixels with a positive value as boxes on `extent = [x_min, x_max, y_min, y_max]`
    /// (weight = value: every pixel has the same area).
    pub fn blobs(&self, extent: [f64; 4]) -> Vec<Blob> {
        let [x0, x1, y0, y1] = extent;
        let (w, h) = (self.width as f64, self.height as f64);
        let x_at = |c: usize| x0 + (x1 - x0) * (c as f64 / w);
        let y_at = |r: usize| y1 - (y1 - y0) * (r as f64 / h);
        let mut out = Vec::new();
        for r in 0..self.height {
            for c in 0..self.width {
                let v = self.values[r * self.width + c];
                if v > 0.0 {
                    out.push(Blob {
                        weight: v,
                        x: Profile::Box {
                            a: x_at(c),
                            b: x_at(c + 1),
                        },
                        y: Profile::Box {
                            a: y_at(r + 1),
                            b: y_at(r),
                        },
                        z: Profile::Cell(0.0),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::decomp::{Block, ProcessGrid};
    use crate::field::Field;
    use crate::initial::deposit::deposit;
    use crate::mesh::Mesh;

    /// A PNG of `width x height` with `color`, `depth` and raw scanline `data` (packed rows).
    pub(crate) fn encode(
        width: u32,
        height: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        data: &[u8],
        palette: Option<(&[u8], &[u8])>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, width, height);
            enc.set_color(color);
            enc.set_depth(depth);
            if let Some((plte, trns)) = palette {
                enc.set_palette(plte.to_vec());
                enc.set_trns(trns.to_vec());
            }
            let mut w = enc.write_header().unwrap();
            w.write_image_data(data).unwrap();
        }
        out
    }

    fn decode(bytes: &[u8], invert: bool) -> Vec<f64> {
        decode_png(bytes, invert, "x.png").unwrap().values
    }

    /// What, width, colour type, depth, packed data, palette and tRNS, invert, expected values.
    type Case<'a> = (
        &'a str,
        u32,
        png::ColorType,
        png::BitDepth,
        &'a [u8],
        Option<(&'a [u8], &'a [u8])>,
        bool,
        &'a [f64],
    );

    #[test]
    fn every_colour_type_and_depth_gives_the_same_values() {
        use png::{BitDepth as B, ColorType as C};
        // Two pixels: full and a third (grey 0x55 = 85 = 255/3).
        let want: &[f64] = &[1.0, 1.0 / 3.0];
        let (plte, trns) = ([255, 255, 255, 255, 255, 255], [255, 85]);
        #[rustfmt::skip]
        let cases: [Case; 13] = [
            ("grey 8", 2, C::Grayscale, B::Eight, &[255, 85], None, false, want),
            ("grey 16", 2, C::Grayscale, B::Sixteen, &[255, 255, 0x55, 0x55], None, false, want),
            // 2 bits: 3 and 1 of 3, packed in one byte.
            ("grey 2", 2, C::Grayscale, B::Two, &[0b1101_0000], None, false, want),
            ("grey 1", 2, C::Grayscale, B::One, &[0b1000_0000], None, false, &[1.0, 0.0]),
            ("grey 4", 2, C::Grayscale, B::Four, &[0xF5], None, false, want),
            // Grey + alpha: alpha multiplies.
            ("grey+alpha 8", 2, C::GrayscaleAlpha, B::Eight, &[255, 255, 255, 85], None, false, want),
            ("grey+alpha 16", 2, C::GrayscaleAlpha, B::Sixteen,
             &[255, 255, 255, 255, 255, 255, 0x55, 0x55], None, false, want),
            // Grey as RGB: luminance weights add up to 1.
            ("rgb 8", 2, C::Rgb, B::Eight, &[255, 255, 255, 85, 85, 85], None, false, want),
            ("rgb 16", 2, C::Rgb, B::Sixteen,
             &[255, 255, 255, 255, 255, 255, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55], None, false, want),
            ("rgba 8", 2, C::Rgba, B::Eight, &[255, 255, 255, 255, 255, 255, 255, 85], None, false, want),
            // Pure colours: the Rec. 709 weights.
            ("rgb primaries", 3, C::Rgb, B::Eight, &[255, 0, 0, 0, 255, 0, 0, 0, 255], None, false,
             &[0.2126, 0.7152, 0.0722]),
            // Palette with tRNS: entry 0 white opaque, entry 1 white at alpha 85.
            ("palette", 2, C::Indexed, B::Eight, &[0, 1], Some((&plte, &trns)), false, want),
            // invert: 1 - Y (alpha still multiplies).
            ("inverted grey", 2, C::Grayscale, B::Eight, &[0, 170], None, true, want),
        ];
        for (what, width, colour, depth, data, palette, invert, expected) in cases {
            let got = decode(&encode(width, 1, colour, depth, data, palette), invert);
            assert_eq!(got.len(), expected.len(), "{what}");
            for (g, w) in got.iter().zip(expected) {
                assert!((g - w).abs() <= 1e-15, "{what}: {got:?} vs {expected:?}");
            }
        }
    }

    #[test]
    fn bad_files_are_named() {
        let err = |bytes: &[u8]| decode_png(bytes, false, "pic.png").unwrap_err();
        let e = err(b"");
        assert!(e.starts_with("pic.png: ") && e.contains("empty"), "{e}");
        let e = err(b"x,y\n1,2\n");
        assert!(e.starts_with("pic.png: not a readable PNG"), "{e}");
        let good = encode(
            4,
            4,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            &[200; 16],
            None,
        );
        let e = err(&good[..good.len() - 20]);
        assert!(e.starts_with("pic.png: not a readable PNG"), "{e}");
        let black = encode(
            4,
            4,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            &[0; 16],
            None,
        );
        let e = err(&black);
        assert!(e.starts_with("pic.png: ") && e.contains("no mass"), "{e}");
        let e = decode_png(
            &good.clone().iter().map(|_| 0).collect::<Vec<u8>>(),
            false,
            "pic.png",
        )
        .unwrap_err();
        assert!(e.starts_with("pic.png: not a readable PNG"), "{e}");
        let white = encode(
            2,
            2,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            &[255; 4],
            None,
        );
        let e = decode_png(&white, true, "pic.png").unwrap_err();
        assert!(e.contains("white (invert = true)"), "{e}");
    }

    /// A 3 x 3 image whose pixels cover 3 x 3 cells each: every cell holds its pixel's value,
    /// so the mass of each region is known exactly; placed on a sub-extent, the mass outside
    /// it is zero and inside it is the pixel mass.
    #[test]
    fn pixels_land_on_their_cells_by_area() {
        let data = [255, 0, 0, 0, 85, 0, 0, 0, 170];
        let png = encode(
            3,
            3,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            &data,
            None,
        );
        let image = decode_png(&png, false, "d.png").unwrap();
        let mesh = Mesh::new(2, 9, 4.5);
        let block = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
        let mut f = Field::zeros(9, 9);
        let total = deposit(
            &mesh,
            &block,
            &image.blobs([-4.5, 4.5, -4.5, 4.5]),
            &mut f.interior3_mut(),
        );
        assert!((total - 2.0).abs() < 1e-15);
        let g = f.interior();
        for iy in 0..9 {
            for ix in 0..9 {
                // Grid row iy = 0 is the bottom (y = -4); image row 0 is the top.
                let (r, c) = (2 - iy / 3, ix / 3);
                let want = data[3 * r + c] as f64 / 255.0 / 9.0;
                assert!((g[[iy, ix]] - want).abs() < 1e-16, "{iy} {ix}");
            }
        }
        // Half a pixel per cell: a 2 x 1 image on [-0.5, 0.5] x [-0.5, 0.5] of cells of width 1.
        let png = encode(
            2,
            1,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            &[255, 85],
            None,
        );
        let image = decode_png(&png, false, "d.png").unwrap();
        let mut f = Field::zeros(9, 9);
        deposit(
            &mesh,
            &block,
            &image.blobs([-0.5, 0.5, -0.5, 0.5]),
            &mut f.interior3_mut(),
        );
        let g = f.interior();
        assert!((g[[4, 4]] - 4.0 / 3.0).abs() < 1e-15);
        assert_eq!(g.iter().filter(|&&v| v != 0.0).count(), 1);
    }
}
