//! The pictures of nlfp files (`nlfp plot`): of a snapshot, final or checkpoint file the heat
//! map (2D), line (1D) or three mid-plane slices (3D) of `f` and its radial log-log profile with `C |x|^(-2/gamma)`; of a
//! diagnostics CSV the columns against `t`, one panel each; of a run directory both (its
//! `diagnostics.csv` and `final.h5`). Every input is read and checked before the first picture
//! is written ([`draw`]). Reads HDF5 and CSV files serially (no MPI).

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2, ArrayView3, Axis};

use super::{short_number, Axes, Extent, LineStyle, Panel, PlotError, Series};
use crate::io::csv::CsvTable;
use crate::io::hdf5 as h5;
use crate::mesh::Mesh;

/// A picture of `nlfp plot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Picture {
    /// The density: line (1D), heat map (2D), three mid-plane slices (3D).
    Field,
    /// The radial profile (|x|, f) on log-log axes with C |x|^(-2/gamma).
    Radial,
    /// Diagnostics columns against t, one panel each.
    Series,
}

impl Picture {
    /// The name in `--what` and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Picture::Field => "field",
            Picture::Radial => "radial",
            Picture::Series => "series",
        }
    }
}

/// What the model of a field file is, read from its stored config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoredModel {
    /// `grid.half_width`.
    pub half_width: f64,
    /// `(gamma, D, kappa)`.
    pub model: (f64, f64, f64),
}

/// What to draw.
pub struct Request<'a> {
    /// A field file, a diagnostics CSV, or a run directory.
    pub file: &'a Path,
    /// Where the pictures go: a directory or a `.png` path (default: the directory of `file`).
    pub out: Option<&'a Path>,
    /// Log colour scale (log vertical axis in 1D).
    pub log: bool,
    /// The pictures asked for (empty: all that `file` allows).
    pub what: &'a [Picture],
    /// Diagnostics columns against `t`.
    pub columns: &'a [String],
    /// Reads the stored config text of the field file at the given path.
    pub read_config: &'a dyn Fn(&str, &Path) -> Result<StoredModel, String>,
}

/// What FILE names: a field file and/or a diagnostics CSV, and the default output directory.
struct Sources {
    field: Option<PathBuf>,
    csv: Option<PathBuf>,
    dir: PathBuf,
}

fn sources(file: &Path) -> Result<Sources, String> {
    let meta = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if meta.is_dir() {
        let (csv, fin) = (file.join("diagnostics.csv"), file.join("final.h5"));
        let (csv, field) = (csv.is_file().then_some(csv), fin.is_file().then_some(fin));
        if csv.is_none() && field.is_none() {
            return Err(format!(
                "{}: holds neither diagnostics.csv nor final.h5: not an nlfp run directory",
                file.display()
            ));
        }
        return Ok(Sources {
            field,
            csv,
            dir: file.to_path_buf(),
        });
    }
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let is_csv = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    Ok(Sources {
        field: (!is_csv).then(|| file.to_path_buf()),
        csv: is_csv.then(|| file.to_path_buf()),
        dir,
    })
}

/// A field file read back: values in global index order on `mesh`, time, step, model.
struct FieldFile {
    name: String,
    mesh: Mesh,
    values: Vec<f64>,
    t: f64,
    step: u64,
    /// `(gamma, D, kappa)` from the stored config, or why not.
    model: Result<(f64, f64, f64), String>,
}

/// `path: not an nlfp ... file: reason` (without repeating the path inside the reason).
fn not_nlfp(path: &Path, what: &str, reason: &str) -> String {
    let p = path.display().to_string();
    let reason = reason.strip_prefix(&format!("{p}: ")).unwrap_or(reason);
    format!("{p}: not an nlfp {what} file: {reason}")
}

fn load_field(path: &Path, request: &Request) -> Result<FieldFile, String> {
    let kind = "snapshot, final or checkpoint";
    let stored = h5::read_field(path).map_err(|e| not_nlfp(path, kind, &e))?;
    let config = h5::read_attr_str(path, "config")
        .ok()
        .map(|text| (request.read_config)(&text, path));
    let half_width = match (h5::read_attr_f64(path, "half_width"), &config) {
        (Ok(l), _) => l,
        (Err(_), Some(Ok(c))) => c.half_width,
        (Err(e), _) => return Err(not_nlfp(path, kind, &e)),
    };
    let (dim, n) = match stored.shape[..] {
        [n] => (1, n),
        [ny, nx] if ny == nx => (2, nx),
        [nz, ny, nx] if nz == nx && ny == nx => (3, nx),
        _ => (0, 0),
    };
    if n == 0 || !(half_width.is_finite() && half_width > 0.0) {
        let why = format!(
            "dataset f has shape {:?} and half_width is {half_width} (expected [n], [n, n] or \
             [n, n, n], L > 0)",
            stored.shape
        );
        return Err(not_nlfp(path, kind, &why));
    }
    let model = match config {
        Some(Ok(c)) => Ok(c.model),
        Some(Err(e)) => Err(format!("its config attribute is invalid: {e}")),
        None => Err("it has no config attribute".into()),
    };
    Ok(FieldFile {
        name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        mesh: Mesh::new(dim, n, half_width),
        values: stored.values,
        t: stored.t,
        step: stored.step,
        model,
    })
}

/// One picture to draw and its file name inside the output directory.
struct Job {
    what: Picture,
    name: String,
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "plot".into(), |s| s.to_string_lossy().into_owned())
}

/// The pictures asked for (or all that the sources allow), checked against the sources.
fn jobs(request: &Request, src: &Sources) -> Result<Vec<Job>, String> {
    let mut whats = request.what.to_vec();
    if whats.is_empty() {
        if src.field.is_some() {
            whats.extend([Picture::Field, Picture::Radial]);
        }
        if src.csv.is_some() {
            whats.push(Picture::Series);
        }
    }
    let file = request.file.display();
    let mut out: Vec<Job> = vec![];
    for what in whats {
        if out.iter().any(|j| j.what == what) {
            continue;
        }
        let name = match (what, &src.field, &src.csv) {
            (Picture::Series, _, Some(csv)) => format!("{}.png", stem(csv)),
            (Picture::Field | Picture::Radial, Some(f), _) => {
                format!("{}_{}.png", stem(f), what.name())
            }
            (Picture::Series, _, None) => {
                return Err(format!(
                    "{file}: --what series needs a diagnostics CSV or a run directory"
                ))
            }
            _ => {
                return Err(format!(
                    "{file}: --what {} needs a snapshot, final or checkpoint file (or a run \
                     directory with final.h5)",
                    what.name()
                ))
            }
        };
        out.push(Job { what, name });
    }
    Ok(out)
}

/// Output paths of `jobs`: `--out x.png` is the picture itself when there is one, else
/// `x_<what>.png` next to it; otherwise the names inside `--out DIR` (or the default directory),
/// which is created if missing.
fn output_paths(out: Option<&Path>, dir: &Path, jobs: &[Job]) -> Result<Vec<PathBuf>, String> {
    let create = |d: &Path| {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: cannot create: {e}", d.display()))
    };
    match out {
        Some(png)
            if png
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("png")) =>
        {
            let parent = png.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent {
                create(parent)?;
            }
            if jobs.len() == 1 {
                return Ok(vec![png.to_path_buf()]);
            }
            let s = stem(png);
            Ok(jobs
                .iter()
                .map(|j| png.with_file_name(format!("{s}_{}.png", j.what.name())))
                .collect())
        }
        other => {
            let dir = other.unwrap_or(dir);
            create(dir)?;
            Ok(jobs.iter().map(|j| dir.join(&j.name)).collect())
        }
    }
}

/// Reads and checks every input, then draws; returns the report (`wrote PATH` lines). An
/// input that cannot be drawn is a [`PlotError::Data`] error.
pub fn draw(request: &Request) -> Result<String, PlotError> {
    let input = PlotError::Data;
    let src = sources(request.file).map_err(input)?;
    let jobs = jobs(request, &src).map_err(input)?;
    let needs = |w: Picture| jobs.iter().any(|j| j.what == w);
    let field = match &src.field {
        Some(p) if needs(Picture::Field) || needs(Picture::Radial) => {
            Some(load_field(p, request).map_err(input)?)
        }
        _ => None,
    };
    if let (Some(f), true) = (&field, needs(Picture::Radial)) {
        if let Err(why) = &f.model {
            return Err(input(format!(
                "{}: cannot draw the radial profile: {why} (gamma, D, kappa unknown)",
                f.name
            )));
        }
    }
    let panels = match &src.csv {
        Some(p) if needs(Picture::Series) => {
            Some(series_panels(p, request.columns).map_err(input)?)
        }
        _ => None,
    };
    let paths = output_paths(request.out, &src.dir, &jobs).map_err(input)?;
    let mut report = String::new();
    for (job, path) in jobs.iter().zip(&paths) {
        match (job.what, &field, &panels) {
            (Picture::Field, Some(f), _) => draw_field(path, f, request.log),
            (Picture::Radial, Some(f), _) => draw_radial(path, f),
            (Picture::Series, _, Some(p)) => super::panels(path, p),
            _ => unreachable!("jobs are checked against the sources"),
        }?;
        report.push_str(&format!("wrote {}\n", path.display()));
    }
    Ok(report)
}

fn draw_field(path: &Path, f: &FieldFile, log: bool) -> Result<(), PlotError> {
    density(path, &f.name, &f.mesh, &f.values, (f.t, f.step), log)
}

/// The density picture of a field `values` on `mesh` (global row-major) at `(t, step)`, titled
/// with `name`: a line (1D), a heat map (2D), or in 3D the three mid-plane slices side by side
/// on one colour scale ([`mid_planes`]); `log` for a log colour scale (vertical axis).
pub fn density(
    path: &Path,
    name: &str,
    mesh: &Mesh,
    values: &[f64],
    (t, step): (f64, u64),
    log: bool,
) -> Result<(), PlotError> {
    let title = format!("{name}: f at t = {} (step {step})", short_number(t));
    let m = mesh;
    let shape_err = |e: ndarray::ShapeError| PlotError::Data(format!("{name}: {e}"));
    match m.dim {
        1 => {
            let x: Vec<f64> = (0..m.n).map(|i| m.centre(i)).collect();
            super::profile_1d(path, &x, values, log, &title)
        }
        2 => {
            let view = ArrayView2::from_shape((m.n, m.n), values).map_err(shape_err)?;
            super::heatmap(path, view, Extent::square(m.half_width), log, &title)
        }
        _ => {
            let view = ArrayView3::from_shape((m.n, m.n, m.n), values).map_err(shape_err)?;
            let planes = mid_planes(view, m);
            let titles: Vec<String> = planes
                .iter()
                .map(|p| format!("{title}, {}", p.label))
                .collect();
            let panels: Vec<Panel> = planes
                .iter()
                .zip(&titles)
                .map(|(p, title)| Panel {
                    field: p.values.view(),
                    extent: Extent::square(m.half_width),
                    axes: p.axes,
                    title,
                })
                .collect();
            super::slices(path, &panels, log)
        }
    }
}

/// A mid-plane slice of a 3D field: its values (rows along the second axis name), its axis
/// names and the plane it is (`z = 0.15`).
pub struct MidPlane {
    /// Shape `(n, n)`: row index along `axes.1`, column along `axes.0`.
    pub values: Array2<f64>,
    /// Horizontal and vertical axis names.
    pub axes: (&'static str, &'static str),
    /// Which plane, with the coordinate of its cell centres.
    pub label: String,
}

/// The three slices of a 3D field `f[z][y][x]` through the cell [`Mesh::centre_index`] of each
/// axis (the centre cell for odd `n`, the one just below the origin for even `n`): the `x-y`
/// plane at that `z`, the `x-z` plane at that `y` and the `y-z` plane at that `x`.
pub fn mid_planes(f: ArrayView3<f64>, mesh: &Mesh) -> [MidPlane; 3] {
    let c = mesh.centre_index();
    // The centre cell of an odd n is at the origin up to round-off: label it 0.
    let coordinate = mesh.centre(c);
    let coordinate = if coordinate.abs() < 1e-9 * mesh.half_width {
        0.0
    } else {
        coordinate
    };
    let at = |axis: &str| format!("{axis} = {}", short_number(coordinate));
    [
        MidPlane {
            values: f.index_axis(Axis(0), c).to_owned(),
            axes: ("x", "y"),
            label: at("z"),
        },
        MidPlane {
            values: f.index_axis(Axis(1), c).to_owned(),
            axes: ("x", "z"),
            label: at("y"),
        },
        MidPlane {
            values: f.index_axis(Axis(2), c).to_owned(),
            axes: ("y", "z"),
            label: at("x"),
        },
    ]
}

fn draw_radial(path: &Path, f: &FieldFile) -> Result<(), PlotError> {
    let (gamma, diffusion, kappa) = f.model.clone().map_err(PlotError::Data)?;
    let m = &f.mesh;
    // Global order z, y, x (nz = 1 below 3D, ny = 1 in 1D).
    let radius: Vec<f64> = (0..m.nz())
        .flat_map(|iz| (0..m.ny()).flat_map(move |iy| (0..m.nx()).map(move |ix| (iz, iy, ix))))
        .map(|(iz, iy, ix)| {
            let [x, y, z] = m.cell_centre3(iz, iy, ix);
            (x * x + y * y + z * z).sqrt()
        })
        .collect();
    let title = format!("{}: radial profile at t = {}", f.name, short_number(f.t));
    super::radial_profile(path, &radius, &f.values, gamma, diffusion, kappa, &title)
}

/// Axis label of a diagnostics column.
fn column_label(name: &str) -> &str {
    match name {
        "max" => "max f",
        "min" => "min f",
        "l2" => "‖f‖₂",
        "centre_mass" => "centre-cell mass f(0) h^d",
        "entropy" => "entropy H",
        "mass" => "mass",
        other => other,
    }
}

/// One panel per column of the diagnostics CSV at `path`, against `t`.
fn series_panels(path: &Path, columns: &[String]) -> Result<Vec<(Axes, Vec<Series>)>, String> {
    let table = CsvTable::read(path)?;
    let t = table
        .column("t")
        .ok_or_else(|| not_nlfp(path, "diagnostics CSV", "it has no column \"t\""))?;
    if columns.is_empty() {
        return Err(format!("{}: --columns is empty", path.display()));
    }
    columns
        .iter()
        .map(|name| {
            let y = table.column(name).ok_or_else(|| {
                format!(
                    "{}: no column {name:?} (columns: {})",
                    path.display(),
                    table.header.join(", ")
                )
            })?;
            let label = column_label(name);
            let axes = Axes {
                title: format!("{label} against t"),
                x_label: "t".into(),
                y_label: label.into(),
                log_x: false,
                log_y: false,
            };
            let series = Series {
                label: String::new(),
                x: t.to_vec(),
                y: y.to_vec(),
                style: LineStyle::Solid,
            };
            Ok((axes, vec![series]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f = 100 z + 10 y + x` (cell indices) on n = 5: each slice holds the cells of its plane,
    /// rows along its vertical axis.
    #[test]
    fn mid_planes_cut_through_the_centre_cell() {
        let n = 5;
        let mesh = Mesh::new(3, n, 1.0);
        let values: Vec<f64> = (0..n * n * n)
            .map(|k| (100 * (k / 25) + 10 * (k / 5 % 5) + k % 5) as f64)
            .collect();
        let f = ArrayView3::from_shape((n, n, n), &values).unwrap();
        let [xy, xz, yz] = mid_planes(f, &mesh);
        let c = 2.0;
        for a in 0..n {
            for b in 0..n {
                let (row, col) = (a as f64, b as f64);
                assert_eq!(xy.values[(a, b)], 100.0 * c + 10.0 * row + col);
                assert_eq!(xz.values[(a, b)], 100.0 * row + 10.0 * c + col);
                assert_eq!(yz.values[(a, b)], 100.0 * row + 10.0 * col + c);
            }
        }
        assert_eq!(
            (xy.axes, xz.axes, yz.axes),
            (("x", "y"), ("x", "z"), ("y", "z"))
        );
        assert_eq!(xy.label, "z = 0");
    }
}
