//! `nlfp plot FILE`: PNG pictures of a snapshot, final or checkpoint file (heat map or line of
//! `f`, radial log-log profile with `C |x|^(-2/gamma)`), of a diagnostics CSV (columns against
//! `t`, one panel each), or of a run directory (its `diagnostics.csv` and `final.h5`).
//!
//! Rank 0 reads (serially, no collective I/O) and draws; the other ranks only wait for its
//! verdict, so that every rank returns the same result. Every input is read and checked before
//! the first picture is written.

use std::path::{Path, PathBuf};

use ndarray::ArrayView2;

use super::CommandError;
use crate::cli::{PlotArgs, PlotWhat};
use crate::comm::Comm;
use crate::config::Config;
use crate::io::csv::CsvTable;
use crate::io::hdf5 as h5;
use crate::mesh::Mesh;
use crate::plot::{self, short_number, Axes, Extent, LineStyle, PlotError, Series};

/// Runs the command: rank 0 draws and prints the paths written.
pub fn run(comm: &Comm, args: &PlotArgs) -> Result<(), CommandError> {
    // Rank 0's verdict, framed for the broadcast: `O` + report, `R` + run-time failure, or an
    // error (bad input).
    let framed = if comm.is_root() {
        match draw(args) {
            Ok(report) => Ok([b"O", report.as_bytes()].concat()),
            Err(CommandError::Runtime(m)) => Ok([b"R", m.as_bytes()].concat()),
            Err(CommandError::Input(m) | CommandError::Fatal(m) | CommandError::Requeue(m)) => {
                Err(m)
            }
        }
    } else {
        Ok(Vec::new())
    };
    let verdict = comm.broadcast_result(framed).map_err(CommandError::Input)?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match verdict.split_first() {
        Some((b'O', report)) => {
            if comm.is_root() {
                print!("{}", text(report));
            }
            Ok(())
        }
        Some((_, msg)) => Err(CommandError::Runtime(text(msg))),
        None => Err(CommandError::Runtime("plot: no verdict from rank 0".into())),
    }
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

fn load_field(path: &Path) -> Result<FieldFile, String> {
    let kind = "snapshot, final or checkpoint";
    let stored = h5::read_field(path).map_err(|e| not_nlfp(path, kind, &e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let config = h5::read_attr_str(path, "config")
        .ok()
        .map(|text| Config::from_toml_str(&text, &path.display().to_string(), dir, &[]));
    let half_width = match (h5::read_attr_f64(path, "half_width"), &config) {
        (Ok(l), _) => l,
        (Err(_), Some(Ok(c))) => c.grid.half_width,
        (Err(e), _) => return Err(not_nlfp(path, kind, &e)),
    };
    let (dim, n) = match stored.shape[..] {
        [n] => (1, n),
        [ny, nx] if ny == nx => (2, nx),
        _ => (0, 0),
    };
    if n == 0 || !(half_width.is_finite() && half_width > 0.0) {
        let why = format!(
            "dataset f has shape {:?} and half_width is {half_width} (expected [n] or [n, n], L > 0)",
            stored.shape
        );
        return Err(not_nlfp(path, kind, &why));
    }
    let model = match config {
        Some(Ok(c)) => Ok((c.model.gamma, c.model.diffusion, c.model.kappa)),
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

/// One picture to draw.
struct Job {
    what: PlotWhat,
    /// File name inside the output directory.
    name: String,
}

fn suffix(what: PlotWhat) -> &'static str {
    match what {
        PlotWhat::Field => "field",
        PlotWhat::Radial => "radial",
        PlotWhat::Series => "series",
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "plot".into(), |s| s.to_string_lossy().into_owned())
}

/// The pictures asked for (or all that the sources allow), checked against the sources.
fn jobs(args: &PlotArgs, src: &Sources) -> Result<Vec<Job>, String> {
    let mut whats = args.what.clone();
    if whats.is_empty() {
        if src.field.is_some() {
            whats.extend([PlotWhat::Field, PlotWhat::Radial]);
        }
        if src.csv.is_some() {
            whats.push(PlotWhat::Series);
        }
    }
    let mut out: Vec<Job> = vec![];
    for what in whats {
        if out.iter().any(|j| j.what == what) {
            continue;
        }
        let name = match (what, &src.field, &src.csv) {
            (PlotWhat::Series, _, Some(csv)) => format!("{}.png", stem(csv)),
            (PlotWhat::Field | PlotWhat::Radial, Some(f), _) => {
                format!("{}_{}.png", stem(f), suffix(what))
            }
            (PlotWhat::Series, _, None) => {
                return Err(format!(
                    "{}: --what series needs a diagnostics CSV or a run directory",
                    args.file.display()
                ))
            }
            _ => {
                return Err(format!(
                    "{}: --what {} needs a snapshot, final or checkpoint file (or a run \
                     directory with final.h5)",
                    args.file.display(),
                    suffix(what)
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
                .map(|j| png.with_file_name(format!("{s}_{}.png", suffix(j.what))))
                .collect())
        }
        other => {
            let dir = other.unwrap_or(dir);
            create(dir)?;
            Ok(jobs.iter().map(|j| dir.join(&j.name)).collect())
        }
    }
}

fn plot_err(e: PlotError) -> CommandError {
    match e {
        PlotError::Draw(m) => CommandError::Runtime(m),
        PlotError::Data(m) | PlotError::Io(m) => CommandError::Input(m),
    }
}

/// Reads and checks every input, then draws; returns the report (`wrote PATH` lines).
fn draw(args: &PlotArgs) -> Result<String, CommandError> {
    let input = CommandError::Input;
    let src = sources(&args.file).map_err(input)?;
    let jobs = jobs(args, &src).map_err(input)?;
    let needs = |w: PlotWhat| jobs.iter().any(|j| j.what == w);
    let field = match &src.field {
        Some(p) if needs(PlotWhat::Field) || needs(PlotWhat::Radial) => {
            Some(load_field(p).map_err(input)?)
        }
        _ => None,
    };
    if let (Some(f), true) = (&field, needs(PlotWhat::Radial)) {
        if let Err(why) = &f.model {
            return Err(input(format!(
                "{}: cannot draw the radial profile: {why} (gamma, D, kappa unknown)",
                f.name
            )));
        }
    }
    let panels = match &src.csv {
        Some(p) if needs(PlotWhat::Series) => Some(series_panels(p, &args.columns).map_err(input)?),
        _ => None,
    };
    let paths = output_paths(args.out.as_deref(), &src.dir, &jobs).map_err(input)?;
    let mut report = String::new();
    for (job, path) in jobs.iter().zip(&paths) {
        match (job.what, &field, &panels) {
            (PlotWhat::Field, Some(f), _) => draw_field(path, f, args.log),
            (PlotWhat::Radial, Some(f), _) => draw_radial(path, f),
            (PlotWhat::Series, _, Some(p)) => plot::panels(path, p),
            _ => unreachable!("jobs are checked against the sources"),
        }
        .map_err(plot_err)?;
        report.push_str(&format!("wrote {}\n", path.display()));
    }
    Ok(report)
}

fn draw_field(path: &Path, f: &FieldFile, log: bool) -> Result<(), PlotError> {
    let title = format!(
        "{}: f at t = {} (step {})",
        f.name,
        short_number(f.t),
        f.step
    );
    let m = &f.mesh;
    if m.dim == 1 {
        let x: Vec<f64> = (0..m.n).map(|i| m.centre(i)).collect();
        plot::profile_1d(path, &x, &f.values, log, &title)
    } else {
        let view = ArrayView2::from_shape((m.n, m.n), &f.values)
            .map_err(|e| PlotError::Data(format!("{}: {e}", f.name)))?;
        plot::heatmap(path, view, Extent::square(m.half_width), log, &title)
    }
}

fn draw_radial(path: &Path, f: &FieldFile) -> Result<(), PlotError> {
    let (gamma, diffusion, kappa) = f.model.clone().map_err(PlotError::Data)?;
    let m = &f.mesh;
    let radius: Vec<f64> = (0..m.ny())
        .flat_map(|iy| (0..m.nx()).map(move |ix| (iy, ix)))
        .map(|(iy, ix)| {
            let [x, y] = m.cell_centre(iy, ix);
            x.hypot(y)
        })
        .collect();
    let title = format!("{}: radial profile at t = {}", f.name, short_number(f.t));
    plot::radial_profile(path, &radius, &f.values, gamma, diffusion, kappa, &title)
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
