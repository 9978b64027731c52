//! The pictures of a generate run (rank 0): `generate.png` (2D: heat maps of the data, the
//! condensed state (log) and the reconstruction side by side; 1D: the data against the
//! reconstruction and the condensed state against the start state) and, with samples,
//! `samples.png` (2D: the data `f0 / m` and each sampler's 2D histogram density on the grid's
//! cells, `count / (N h^2)`, as heat maps side by side on one colour scale, readable at any
//! sample count; 1D: their histogram densities against `f0 / m`). In 3D the pictures are the
//! 2D ones of the x-y marginals `int f dz = h sum_k f[k, ., .]` and of the samples' `(x, y)`.

use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::mesh::Mesh;
use crate::plot::{self, Axes, Extent, LineStyle, Series};
use crate::samplers::Generated;

/// Largest grid (cells) that is gathered on rank 0 and drawn.
pub const PICTURE_CELLS: usize = 4 << 20;

/// The global fields a picture shows (`(ny, nx)`, row = y).
pub struct PictureFields {
    /// The data `f0`.
    pub data: Array2<f64>,
    /// The terminal forward state `f(T)`.
    pub terminal: Array2<f64>,
    /// The start state `u(T)`.
    pub start: Array2<f64>,
    /// The reconstruction `u(0)`.
    pub reconstruction: Array2<f64>,
}

impl PictureFields {
    /// The fields from their global row-major values on `mesh` (3D: their x-y marginals).
    pub fn new(
        mesh: &Mesh,
        data: Vec<f64>,
        terminal: Vec<f64>,
        start: Vec<f64>,
        reconstruction: Vec<f64>,
    ) -> PictureFields {
        let shape = (mesh.ny(), mesh.nx());
        let plane = mesh.ny() * mesh.nx();
        let marginal = |v: Vec<f64>| {
            let mut out = vec![0.0; plane];
            for layer in v.chunks_exact(plane) {
                out.iter_mut().zip(layer).for_each(|(o, &x)| *o += x);
            }
            out.iter().map(|&x| x * mesh.h).collect()
        };
        let grid = |v: Vec<f64>| {
            let v = if mesh.dim == 3 { marginal(v) } else { v };
            Array2::from_shape_vec(shape, v).expect("a global field")
        };
        PictureFields {
            data: grid(data),
            terminal: grid(terminal),
            start: grid(start),
            reconstruction: grid(reconstruction),
        }
    }
}

/// Draws `generate.png` and, with samples, `samples.png` into `dir` (rank 0): the samples of
/// every sampler in `generated` (none, either or both). Returns the names written.
pub fn draw(
    dir: &Path,
    mesh: &Mesh,
    fields: &PictureFields,
    generated: &Generated,
    t_end: f64,
) -> Result<Vec<&'static str>, String> {
    let err = |e: plot::PlotError| e.to_string();
    let sets: Vec<(&str, &[crate::stats::Point])> = [
        ("walk", generated.walk.as_ref().map(|w| &w.0[..])),
        ("sde", generated.sde.as_ref().map(|s| &s.0[..])),
    ]
    .into_iter()
    .filter_map(|(name, p)| p.filter(|p| !p.is_empty()).map(|p| (name, p)))
    .collect();
    let mut written = vec!["generate.png"];
    if mesh.dim >= 2 {
        densities_2d(dir, mesh, fields, t_end).map_err(err)?;
        if !sets.is_empty() {
            histograms_2d(dir, mesh, fields, &sets).map_err(err)?;
            written.push("samples.png");
        }
    } else {
        densities_1d(dir, mesh, fields, t_end).map_err(err)?;
        if !sets.is_empty() {
            histograms(&dir.join("samples.png"), mesh, fields, &sets).map_err(err)?;
            written.push("samples.png");
        }
    }
    Ok(written)
}

/// 2D `generate.png`: the three heat maps side by side.
fn densities_2d(
    dir: &Path,
    mesh: &Mesh,
    fields: &PictureFields,
    t_end: f64,
) -> Result<(), plot::PlotError> {
    let terminal = format!(
        "condensed state f(T), T = {} (log)",
        plot::short_number(t_end)
    );
    let parts = [
        (
            ".generate_data.png",
            &fields.data,
            false,
            "data f0".to_string(),
        ),
        (".generate_terminal.png", &fields.terminal, true, terminal),
        (
            ".generate_reconstruction.png",
            &fields.reconstruction,
            false,
            "reconstruction u(0)".to_string(),
        ),
    ];
    for (name, field, log, title) in &parts {
        let extent = Extent::square(mesh.half_width);
        plot::heatmap(&dir.join(name), field.view(), extent, *log, title)?;
    }
    let paths: Vec<PathBuf> = parts.iter().map(|p| dir.join(p.0)).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let joined = plot::side_by_side(&dir.join("generate.png"), &refs);
    for p in &paths {
        let _ = std::fs::remove_file(p);
    }
    joined
}

/// 2D `samples.png`: `f0 / m` and the histogram density of each set, side by side.
fn histograms_2d(
    dir: &Path,
    mesh: &Mesh,
    fields: &PictureFields,
    sets: &[(&str, &[crate::stats::Point])],
) -> Result<(), plot::PlotError> {
    // The fields are 2D (in 3D the x-y marginals): cell area h^2.
    let mass = fields.data.sum() * (mesh.h * mesh.h);
    let mut panels = vec![(
        ".samples_data.png".to_string(),
        fields.data.mapv(|v| v / mass),
        "data f0 / m".to_string(),
    )];
    for (name, points) in sets {
        let mut counts = Array2::<f64>::zeros((mesh.ny(), mesh.nx()));
        for p in points.iter() {
            if let (Some(ix), Some(iy)) = (mesh.locate(p[0]), mesh.locate(p[1])) {
                counts[[iy, ix]] += 1.0;
            }
        }
        let scale = 1.0 / (points.len() as f64 * mesh.cell_volume());
        panels.push((
            format!(".samples_{name}.png"),
            counts.mapv(|c| c * scale),
            format!("{name}: {} samples, histogram density", points.len()),
        ));
    }
    // Each panel on its own colour scale (the heat map's); the titles say what is shown.
    for (name, field, title) in &panels {
        let extent = Extent::square(mesh.half_width);
        plot::heatmap(&dir.join(name), field.view(), extent, false, title)?;
    }
    let paths: Vec<PathBuf> = panels.iter().map(|p| dir.join(&p.0)).collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let joined = plot::side_by_side(&dir.join("samples.png"), &refs);
    for p in &paths {
        let _ = std::fs::remove_file(p);
    }
    joined
}

/// Linear axes titled `title` with `x` across and `y_label` up.
fn against_x(title: String, y_label: &str) -> Axes {
    Axes {
        title,
        x_label: "x".into(),
        y_label: y_label.into(),
        ..Axes::default()
    }
}

/// A line against the cell centres of a 1D grid.
fn line(mesh: &Mesh, label: &str, y: Vec<f64>, style: LineStyle) -> Series {
    Series {
        label: label.into(),
        x: (0..mesh.nx()).map(|i| mesh.centre(i)).collect(),
        y,
        style,
    }
}

/// 1D `generate.png`: data against reconstruction, condensed state against start state (log).
fn densities_1d(
    dir: &Path,
    mesh: &Mesh,
    fields: &PictureFields,
    t_end: f64,
) -> Result<(), plot::PlotError> {
    let row = |a: &Array2<f64>| a.row(0).to_vec();
    let floor_log = |v: Vec<f64>| {
        let max = v.iter().cloned().fold(0.0f64, f64::max);
        v.into_iter()
            .map(|y| if y > max * 1e-12 { y } else { f64::NAN })
            .collect::<Vec<f64>>()
    };
    let reconstruction = against_x("data f0 and reconstruction u(0)".into(), "density");
    let t_end = plot::short_number(t_end);
    let condensed = Axes {
        log_y: true,
        ..against_x(
            format!("condensed f(T) and start u(T), T = {t_end}"),
            "density (log)",
        )
    };
    plot::panels(
        &dir.join("generate.png"),
        &[
            (
                reconstruction,
                vec![
                    line(mesh, "f0", row(&fields.data), LineStyle::Solid),
                    line(mesh, "u(0)", row(&fields.reconstruction), LineStyle::Dashed),
                ],
            ),
            (
                condensed,
                vec![
                    line(
                        mesh,
                        "f(T)",
                        floor_log(row(&fields.terminal)),
                        LineStyle::Solid,
                    ),
                    line(
                        mesh,
                        "u(T)",
                        floor_log(row(&fields.start)),
                        LineStyle::Dashed,
                    ),
                ],
            ),
        ],
    )
}

/// 1D `samples.png`: histogram densities of the samples per cell against `f0 / m`.
fn histograms(
    path: &Path,
    mesh: &Mesh,
    fields: &PictureFields,
    sets: &[(&str, &[crate::stats::Point])],
) -> Result<(), plot::PlotError> {
    let data = fields.data.row(0).to_vec();
    let mass: f64 = fields.data.iter().sum::<f64>() * mesh.h;
    let mut series = vec![line(
        mesh,
        "f0 / m",
        data.iter().map(|v| v / mass).collect(),
        LineStyle::Solid,
    )];
    for (name, p) in sets {
        let mut hist = vec![0.0; mesh.nx()];
        for q in p.iter() {
            if let Some(i) = mesh.locate(q[0]) {
                hist[i] += 1.0;
            }
        }
        let scale = 1.0 / (p.len() as f64 * mesh.h);
        let label = format!("{name} samples");
        series.push(line(
            mesh,
            &label,
            hist.iter().map(|c| c * scale).collect(),
            LineStyle::Points,
        ));
    }
    let counts: Vec<String> = sets
        .iter()
        .map(|(name, p)| format!("{} {name}", p.len()))
        .collect();
    let title = format!("{} generated samples: histogram", counts.join(", "));
    let axes = against_x(title, "probability density");
    plot::lines(path, &axes, &series)
}
