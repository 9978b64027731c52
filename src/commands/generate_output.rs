//! The generation outputs of `nlfp generate`: the samples carried back by the reverse walk
//! (`samples.h5`, `samples.csv`) and by the reverse SDE sampler (`samples_sde.h5`,
//! `samples_sde.csv`), their quality report against fresh samples of the data, and
//! the pictures (`generate.png`, `samples.png`).
//!
//! # Quality report
//!
//! Two independent reference sets `R1`, `R2` of the same size `N` are drawn from the data
//! density `f0` on the grid (multinomial over the cells plus uniform jitter inside the cell,
//! exactly how the generated samples `S` are placed, with their own seed streams). Reported:
//!
//! * 2D: the energy distance `E(S, R1)` (V-statistic, [`crate::stats`]), the measured noise
//!   floor `E(R2, R1)` and its expectation `delta (2/N)`, `delta = E|X - X'|` estimated from
//!   `R1`. The O(N^2) sums use random subsets of [`METRIC_POINTS`] points of each set when `N`
//!   is larger (the floors then refer to the subset size, stated as `metric_points`).
//! * 1D: the exact W1 of the empirical measures (all `N` points), the measured floor
//!   `W1(R2, R1)` and its leading-order expectation.
//!
//! A generator whose samples follow `f0` up to the reconstruction error `||u(0) - f0||_1 / m`
//! has `E(S, R1)` within the sampling noise of the floor: the energy distance of two laws
//! differing by `epsilon` in total variation is at most `diam * epsilon^2 / 2`.

use std::path::Path;

use ndarray::Array2;

use super::setup::RunSetup;
use crate::comm::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::io::samples::{self, SamplesMeta};
use crate::plot::{self, Axes, Extent, LineStyle, Series};
use crate::sampling::{self, Purpose};
use crate::stats;

/// Largest point set the O(N^2) energy distance uses (random subsets above).
pub const METRIC_POINTS: usize = 5_000;

/// Largest grid (cells) that is gathered on rank 0 and drawn.
pub const PICTURE_CELLS: usize = 4 << 20;

/// Largest number of points drawn in the scatter picture.
const SCATTER_POINTS: usize = 5_000;

/// The sample metric of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    /// `energy_distance` (2D) or `w1` (1D).
    pub metric: &'static str,
    /// Points per set entering the metric.
    pub points: usize,
    /// Generated samples against the reference set `R1`.
    pub value: f64,
    /// `R2` against `R1`: the measured sampling-noise floor.
    pub floor: f64,
    /// The expected floor for this set size.
    pub expected_floor: f64,
}

/// Writes `<stem>.h5` and `<stem>.csv` (rank 0; `points` are rank 0's gathered samples):
/// `samples` for the grid walk, `samples_sde` for the SDE sampler.
pub fn write_samples(
    dir: &Path,
    stem: &str,
    points: &[[f64; 2]],
    setup: &RunSetup,
    config_text: &str,
) -> Result<(), String> {
    let dim = setup.mesh.dim;
    samples::write_h5(
        &dir.join(format!("{stem}.h5")),
        points,
        dim,
        &SamplesMeta {
            seed: setup.config.reverse.seed,
            h: setup.mesh.h,
            config: config_text.to_string(),
        },
    )?;
    samples::write_csv(&dir.join(format!("{stem}.csv")), points, dim)
}

/// The two reference sets `R1`, `R2` of `f0` (rank 0's copies), drawn once and compared with
/// every sampler's output.
pub struct References {
    r1: Vec<[f64; 2]>,
    r2: Vec<[f64; 2]>,
}

/// Draws the two reference sets of `f0` with `reverse.samples` points each (collective);
/// `None` on ranks other than 0.
pub fn references(comm: &Comm, setup: &RunSetup, f0: &Field) -> Result<Option<References>, String> {
    let n = setup.config.reverse.samples;
    let seed = setup.config.reverse.seed;
    let draw = |purpose| {
        sampling::draw_samples(
            comm,
            &setup.mesh,
            setup.grid,
            &setup.block,
            f0,
            n,
            seed,
            purpose,
        )
    };
    let r1 = draw(Purpose::ReferenceA)?;
    let r2 = draw(Purpose::ReferenceB)?;
    Ok(comm.is_root().then_some(References { r1, r2 }))
}

/// Draws the two reference sets of `f0` (collective) and, on rank 0, compares the generated
/// `points` with them. `None` elsewhere.
pub fn quality(
    comm: &Comm,
    setup: &RunSetup,
    f0: &Field,
    points: &[[f64; 2]],
) -> Result<Option<Quality>, String> {
    Ok(references(comm, setup, f0)?.map(|refs| refs.compare(setup, points)))
}

impl References {
    /// The quality of the generated `points` against these references (module doc).
    pub fn compare(&self, setup: &RunSetup, points: &[[f64; 2]]) -> Quality {
        let (r1, r2) = (&self.r1, &self.r2);
        if setup.mesh.dim == 1 {
            let xs = |p: &[[f64; 2]]| p.iter().map(|q| q[0]).collect::<Vec<f64>>();
            let (s, a, b) = (xs(points), xs(r1), xs(r2));
            return Quality {
                metric: "w1",
                points: s.len(),
                value: stats::wasserstein1(&s, &a),
                floor: stats::wasserstein1(&b, &a),
                expected_floor: stats::w1_floor(&a, s.len(), a.len()),
            };
        }
        let subset_seed = sampling::stream_seed(setup.config.reverse.seed, Purpose::Subset);
        let pick = |p: &[[f64; 2]], k: u64| {
            sampling::random_subset(p, METRIC_POINTS, crate::random::bits(subset_seed, k, 0))
        };
        let (s, a, b) = (pick(points, 0), pick(r1, 1), pick(r2, 2));
        let self_a = stats::mean_self_distance(&a);
        let value = stats::energy_from_means(
            stats::mean_cross_distance(&s, &a),
            stats::mean_self_distance(&s),
            self_a,
        );
        let floor = stats::energy_from_means(
            stats::mean_cross_distance(&b, &a),
            stats::mean_self_distance(&b),
            self_a,
        );
        let len = a.len().max(2);
        let delta = self_a * len as f64 / (len - 1) as f64;
        Quality {
            metric: "energy_distance",
            points: s.len(),
            value,
            floor,
            expected_floor: stats::energy_floor(delta, s.len(), a.len()),
        }
    }
}

/// The global field on rank 0 (`(ny, nx)`, row = y), `None` elsewhere. Collective.
pub fn gather_global(comm: &Comm, setup: &RunSetup, f: &Field) -> Option<Array2<f64>> {
    let local: Vec<f64> = f.interior().iter().copied().collect();
    let parts = comm.gather_to_root(&local);
    if !comm.is_root() {
        return None;
    }
    let mesh = &setup.mesh;
    let mut global = Array2::zeros((mesh.ny(), mesh.nx()));
    for (rank, part) in parts.iter().enumerate() {
        let b = Block::new(mesh, setup.grid, rank);
        for j in 0..b.ny {
            for i in 0..b.nx {
                global[(b.y0 + j, b.x0 + i)] = part[j * b.nx + i];
            }
        }
    }
    Some(global)
}

/// The global fields a picture shows.
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

/// Draws `generate.png` (data, condensed state and reconstruction side by side) and, with
/// samples, `samples.png` (rank 0): the grid walk's `points` and the SDE sampler's
/// `sde_points` (either may be empty). Returns the names written.
pub fn pictures(
    dir: &Path,
    setup: &RunSetup,
    fields: &PictureFields,
    points: &[[f64; 2]],
    sde_points: &[[f64; 2]],
    t_end: f64,
) -> Result<Vec<&'static str>, String> {
    let err = |e: plot::PlotError| e.to_string();
    let mesh = &setup.mesh;
    let l = mesh.half_width;
    let mut written = vec!["generate.png"];
    if mesh.dim == 2 {
        let parts = [
            (
                ".generate_data.png",
                &fields.data,
                false,
                "data f0".to_string(),
            ),
            (
                ".generate_terminal.png",
                &fields.terminal,
                true,
                format!(
                    "condensed state f(T), T = {} (log)",
                    plot::short_number(t_end)
                ),
            ),
            (
                ".generate_reconstruction.png",
                &fields.reconstruction,
                false,
                "reconstruction u(0)".to_string(),
            ),
        ];
        for (name, field, log, title) in &parts {
            plot::heatmap(
                &dir.join(name),
                field.view(),
                Extent::square(l),
                *log,
                title,
            )
            .map_err(err)?;
        }
        let paths: Vec<std::path::PathBuf> = parts.iter().map(|p| dir.join(p.0)).collect();
        let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let joined = plot::side_by_side(&dir.join("generate.png"), &refs).map_err(err);
        for p in &paths {
            let _ = std::fs::remove_file(p);
        }
        joined?;
        let sets: Vec<(&str, &[[f64; 2]])> = [("walk", points), ("sde", sde_points)]
            .into_iter()
            .filter(|(_, p)| !p.is_empty())
            .collect();
        if !sets.is_empty() {
            let labelled = sets.len() > 1;
            let mut title = Vec::new();
            let series: Vec<Series> = sets
                .iter()
                .map(|(name, p)| {
                    let shown = sampling::random_subset(p, SCATTER_POINTS, 17);
                    title.push(format!(
                        "{}{} of {}",
                        if labelled {
                            format!("{name} ")
                        } else {
                            String::new()
                        },
                        shown.len(),
                        p.len()
                    ));
                    Series {
                        label: if labelled {
                            name.to_string()
                        } else {
                            String::new()
                        },
                        x: shown.iter().map(|q| q[0]).collect(),
                        y: shown.iter().map(|q| q[1]).collect(),
                        style: LineStyle::Points,
                    }
                })
                .collect();
            let axes = Axes {
                title: format!("generated samples ({})", title.join(", ")),
                x_label: "x".into(),
                y_label: "y".into(),
                ..Axes::default()
            };
            plot::lines(&dir.join("samples.png"), &axes, &series).map_err(err)?;
            written.push("samples.png");
        }
        return Ok(written);
    }
    // 1D: lines.
    let x: Vec<f64> = (0..mesh.nx()).map(|i| mesh.centre(i)).collect();
    let row = |a: &Array2<f64>| a.row(0).to_vec();
    let line = |label: &str, y: Vec<f64>, style| Series {
        label: label.into(),
        x: x.clone(),
        y,
        style,
    };
    let floor_log = |v: Vec<f64>| {
        let max = v.iter().cloned().fold(0.0f64, f64::max);
        v.into_iter()
            .map(|y| if y > max * 1e-12 { y } else { f64::NAN })
            .collect::<Vec<f64>>()
    };
    plot::panels(
        &dir.join("generate.png"),
        &[
            (
                Axes {
                    title: "data f0 and reconstruction u(0)".into(),
                    x_label: "x".into(),
                    y_label: "density".into(),
                    ..Axes::default()
                },
                vec![
                    line("f0", row(&fields.data), LineStyle::Solid),
                    line("u(0)", row(&fields.reconstruction), LineStyle::Dashed),
                ],
            ),
            (
                Axes {
                    title: format!(
                        "condensed f(T) and start u(T), T = {}",
                        plot::short_number(t_end)
                    ),
                    x_label: "x".into(),
                    y_label: "density (log)".into(),
                    log_y: true,
                    ..Axes::default()
                },
                vec![
                    line("f(T)", floor_log(row(&fields.terminal)), LineStyle::Solid),
                    line("u(T)", floor_log(row(&fields.start)), LineStyle::Dashed),
                ],
            ),
        ],
    )
    .map_err(err)?;
    let sets: Vec<(&str, &[[f64; 2]])> = [("walk samples", points), ("sde samples", sde_points)]
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if !sets.is_empty() {
        // Histogram densities of the samples per cell against f0 / m.
        let mass: f64 = fields.data.iter().sum::<f64>() * mesh.h;
        let mut series = vec![line(
            "f0 / m",
            row(&fields.data).iter().map(|v| v / mass).collect(),
            LineStyle::Solid,
        )];
        for (name, p) in &sets {
            let mut hist = vec![0.0; mesh.nx()];
            for q in p.iter() {
                if let Some(i) = mesh.locate(q[0]) {
                    hist[i] += 1.0;
                }
            }
            let scale = 1.0 / (p.len() as f64 * mesh.h);
            series.push(line(
                name,
                hist.iter().map(|c| c * scale).collect(),
                LineStyle::Points,
            ));
        }
        let axes = Axes {
            title: format!(
                "{} generated samples: histogram",
                sets.iter()
                    .map(|(name, p)| format!("{} {}", p.len(), name.trim_end_matches(" samples")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            x_label: "x".into(),
            y_label: "probability density".into(),
            ..Axes::default()
        };
        plot::lines(&dir.join("samples.png"), &axes, &series).map_err(err)?;
        written.push("samples.png");
    }
    Ok(written)
}
