//! The PNG pictures of one study run, drawn with [`crate::plot`] into `<run>/pictures/`:
//!
//! - `f_step<step>.png` for every snapshot (the chosen times) and `f_final.png`: the density,
//!   a heat map in 2D and a line in 1D, log scale when asked;
//! - `series.png`: max f, `||f||_2`, centre-cell mass and entropy against `t`, with the refined
//!   companion's max f and `||f||_2`, and the discrete predictions of the late centre mass and
//!   entropy as dashed lines;
//! - `radial.png`: `f` against `|x|` on log-log axes with `C |x|^(-2/gamma)`;
//! - `max_ratio.png` (runs with a refined companion): the max-f ratio against `t` with the
//!   levels `2^(d/2)` (the blow-up criterion) and `2^d`.
//!
//! Callers pass arrays; nothing here reads files.

use std::path::{Path, PathBuf};

use super::analysis::{Figures, Series};
use super::fit;
use crate::mesh::Mesh;
use crate::physics::ModelParams;
use crate::plot::{self, short_number, Axes, LineStyle, PlotError};

/// Subdirectory of a run directory holding its pictures.
pub const PICTURES_DIR: &str = "pictures";

/// A field at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Time.
    pub t: f64,
    /// Step.
    pub step: u64,
    /// Values, global, row-major `ny x nx`.
    pub values: Vec<f64>,
}

/// What the pictures of one run are drawn from.
#[derive(Clone, Copy, Debug)]
pub struct RunPictures<'a> {
    /// Run name (in titles).
    pub name: &'a str,
    /// The run directory (pictures go to its `pictures/`).
    pub dir: &'a Path,
    /// The run's grid.
    pub mesh: Mesh,
    /// Model parameters.
    pub params: ModelParams,
    /// Diagnostics of the run.
    pub series: &'a Series,
    /// Diagnostics and grid size of the refined companion.
    pub refined: Option<(&'a Series, usize)>,
    /// The snapshots, in time order.
    pub snapshots: &'a [Frame],
    /// The final field.
    pub last: &'a Frame,
    /// The run's figures.
    pub figures: &'a Figures,
    /// Log scale for the density pictures.
    pub log: bool,
}

/// Draws every picture of the run; returns the paths written.
pub fn draw(p: &RunPictures) -> Result<Vec<PathBuf>, PlotError> {
    let out = p.dir.join(PICTURES_DIR);
    std::fs::create_dir_all(&out)
        .map_err(|e| PlotError::Io(format!("{}: cannot create: {e}", out.display())))?;
    let mut written = Vec::new();
    for frame in p.snapshots {
        let path = out.join(format!("f_step{:06}.png", frame.step));
        density(p, frame, &path)?;
        written.push(path);
    }
    let path = out.join("f_final.png");
    density(p, p.last, &path)?;
    written.push(path);

    let path = out.join("series.png");
    plot::panels(&path, &series_panels(p))?;
    written.push(path);

    let path = out.join("radial.png");
    let radius: Vec<f64> = super::analysis::radii_squared(&p.mesh)
        .iter()
        .map(|r2| r2.sqrt())
        .collect();
    let title = format!(
        "{}: radial profile at t = {} (fitted exponent {})",
        p.name,
        short_number(p.last.t),
        p.figures.exponent.map_or("none".into(), short_number)
    );
    plot::radial_profile(
        &path,
        &radius,
        &p.last.values,
        p.params.gamma,
        p.params.diffusion,
        p.params.kappa,
        &title,
    )?;
    written.push(path);

    if let Some((fine, n_fine)) = p.refined {
        let path = out.join("max_ratio.png");
        max_ratio(p, fine, n_fine, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// The heat map of a frame (3D: its mid-plane `z = 0`, as a 2D field).
fn density(p: &RunPictures, frame: &Frame, path: &Path) -> Result<(), PlotError> {
    let at = (frame.t, frame.step);
    let m = &p.mesh;
    if m.dim == 3 {
        let plane = m.n * m.n;
        let k = m.centre_index();
        let slice = frame
            .values
            .get(k * plane..(k + 1) * plane)
            .ok_or_else(|| {
                PlotError::Data(format!(
                    "{}: a 3D frame of {} values",
                    p.name,
                    frame.values.len()
                ))
            })?;
        let planar = Mesh::new(2, m.n, m.half_width);
        let name = format!("{} (z = 0)", p.name);
        return plot::files::density(path, &name, &planar, slice, at, p.log);
    }
    plot::files::density(path, p.name, m, &frame.values, at, p.log)
}

fn line(label: &str, x: &[f64], y: &[f64], style: LineStyle) -> plot::Series {
    plot::Series {
        label: label.into(),
        x: x.to_vec(),
        y: y.to_vec(),
        style,
    }
}

/// A horizontal dashed line at `y` over the run's time range.
fn level(label: &str, t: &[f64], y: f64) -> plot::Series {
    let (t0, t1) = (t[0], t[t.len() - 1]);
    line(label, &[t0, t1], &[y, y], LineStyle::Dashed)
}

fn series_panels(p: &RunPictures) -> Vec<(Axes, Vec<plot::Series>)> {
    let s = p.series;
    let axes = |title: &str, y: &str, log_y: bool| Axes {
        title: title.into(),
        x_label: "t".into(),
        y_label: y.into(),
        log_x: false,
        log_y,
    };
    let run_label = format!("n = {}", p.mesh.n);
    let with_refined = |y: &[f64], pick: fn(&Series) -> &[f64]| {
        let mut v = vec![line(&run_label, &s.t, y, LineStyle::Solid)];
        if let Some((fine, n)) = p.refined {
            v.push(line(
                &format!("n = {n}"),
                &fine.t,
                pick(fine),
                LineStyle::Dashed,
            ));
        }
        v
    };
    let f = p.figures;
    vec![
        (
            axes("max f", "max f", true),
            with_refined(&s.max, |x| &x.max),
        ),
        (axes("‖f‖₂", "‖f‖₂", true), with_refined(&s.l2, |x| &x.l2)),
        (
            axes("centre-cell mass", "f(0) h^d", false),
            vec![
                line(&run_label, &s.t, &s.centre_mass, LineStyle::Solid),
                level("discrete prediction", &s.t, f.centre_discrete),
            ],
        ),
        (
            axes("entropy", "H", false),
            vec![
                line(&run_label, &s.t, &s.entropy, LineStyle::Solid),
                level("H_h (discrete steady state)", &s.t, f.entropy_discrete),
            ],
        ),
    ]
}

fn max_ratio(p: &RunPictures, fine: &Series, n_fine: usize, path: &Path) -> Result<(), PlotError> {
    let s = p.series;
    let t_end = s.t[s.t.len() - 1].min(fine.t[fine.t.len() - 1]);
    // ln max f interpolated linearly in t, as for the blow-up time.
    let ln_fine: Vec<f64> = fine.max.iter().map(|m| m.ln()).collect();
    let (t, ratio): (Vec<f64>, Vec<f64>) =
        s.t.iter()
            .zip(&s.max)
            .filter(|(t, _)| **t <= t_end)
            .map(|(&t, &m)| (t, (fit::interpolate(&fine.t, &ln_fine, t) - m.ln()).exp()))
            .unzip();
    let d = p.mesh.dim as i32;
    let title = format!(
        "{}: max f (n = {n_fine}) / max f (n = {}); T_blowup = {}",
        p.name,
        p.mesh.n,
        p.figures.blowup_time.map_or("none".into(), short_number)
    );
    let axes = Axes {
        title,
        x_label: "t".into(),
        y_label: "max-f ratio".into(),
        log_x: false,
        log_y: false,
    };
    let series = [
        line("ratio", &t, &ratio, LineStyle::Solid),
        level(
            &format!("2^(d/2) = {}", short_number(2f64.powf(d as f64 / 2.0))),
            &t,
            2f64.powf(d as f64 / 2.0),
        ),
        level(&format!("2^d = {}", 2i32.pow(d as u32)), &t, 2f64.powi(d)),
    ];
    plot::lines(path, &axes, &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_picture_of_a_run_is_written() {
        let dir = std::env::temp_dir().join(format!("nlfp-study-pictures-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for dim in [1, 2] {
            let mesh = Mesh::new(dim, 21, 6.0);
            let params = ModelParams::new(1.0, 1.0, 3.0);
            let values: Vec<f64> = (0..mesh.ny())
                .flat_map(|iy| (0..mesh.nx()).map(move |ix| (iy, ix)))
                .map(|(iy, ix)| {
                    let [x, y] = mesh.cell_centre(iy, ix);
                    params.steady_state(x * x + y * y, 0.01)
                })
                .collect();
            let t: Vec<f64> = (0..10).map(|k| 0.1 * k as f64).collect();
            let series = Series {
                t: t.clone(),
                max: t.iter().map(|s| 1.0 + s).collect(),
                l2: vec![1.0; 10],
                entropy: t.iter().map(|s| -s).collect(),
                centre_mass: t.clone(),
                ..Series::default()
            };
            let fine = Series {
                max: t.iter().map(|s| 1.0 + 3.0 * s).collect(),
                ..series.clone()
            };
            let frame = Frame {
                t: 0.9,
                step: 9,
                values,
            };
            let figures = Figures {
                supercritical: true,
                blowup_time: Some(0.5),
                max_ratio_final: Some(2.0),
                centre_mass: 1.0,
                centre_discrete: 1.0,
                centre_continuum: 1.0,
                condensate: 1.0,
                condensate_expected: 1.0,
                exponent: Some(-0.6),
                exponent_reference: Some(-0.6),
                exponent_cells: 4,
                entropy: -1.0,
                entropy_discrete: -1.0,
                beta_h: 0.01,
                relax_rate: None,
                relax_rows: 0,
            };
            let run_dir = dir.join(format!("run{dim}"));
            let written = draw(&RunPictures {
                name: "test",
                dir: &run_dir,
                mesh,
                params,
                series: &series,
                refined: Some((&fine, 43)),
                snapshots: std::slice::from_ref(&frame),
                last: &frame,
                figures: &figures,
                log: true,
            })
            .unwrap();
            let names: Vec<String> = written
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            assert_eq!(
                names,
                [
                    "f_step000009.png",
                    "f_final.png",
                    "series.png",
                    "radial.png",
                    "max_ratio.png"
                ]
            );
            for p in &written {
                let bytes = std::fs::read(p).unwrap();
                assert_eq!(&bytes[1..4], b"PNG", "{}", p.display());
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
