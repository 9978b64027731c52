//! `nlfp plot FILE`: PNG pictures of a snapshot, final or checkpoint file (heat map or line of
//! `f`, radial log-log profile with `C |x|^(-2/gamma)`), of a diagnostics CSV (columns against
//! `t`, one panel each), or of a run directory (its `diagnostics.csv` and `final.h5`); see
//! [`crate::plot::files`].
//!
//! Rank 0 reads (serially, no collective I/O) and draws; the other ranks only wait for its
//! verdict, so that every rank returns the same result.

use std::path::Path;

use super::CommandError;
use crate::cli::{PlotArgs, PlotWhat};
use crate::comm::Comm;
use crate::config::Config;
use crate::plot::files::{self, Picture, Request, StoredModel};
use crate::plot::PlotError;

/// Runs the command: rank 0 draws and prints the paths written.
pub fn run(comm: &Comm, args: &PlotArgs) -> Result<(), CommandError> {
    // Rank 0's verdict, framed for the broadcast: `O` + report, `R` + run-time failure, or an
    // error (bad input).
    let framed = if comm.is_root() {
        match draw(args) {
            Ok(report) => Ok([b"O", report.as_bytes()].concat()),
            Err(PlotError::Draw(m)) => Ok([b"R", m.as_bytes()].concat()),
            Err(PlotError::Data(m) | PlotError::Io(m)) => Err(m),
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

/// Draws what `args` asks for (rank 0).
fn draw(args: &PlotArgs) -> Result<String, PlotError> {
    let what: Vec<Picture> = args
        .what
        .iter()
        .map(|w| match w {
            PlotWhat::Field => Picture::Field,
            PlotWhat::Radial => Picture::Radial,
            PlotWhat::Series => Picture::Series,
        })
        .collect();
    files::draw(&Request {
        file: &args.file,
        out: args.out.as_deref(),
        log: args.log,
        what: &what,
        columns: &args.columns,
        read_config: &stored_model,
    })
}

/// The grid half width and the model of the config stored in the field file `path`.
fn stored_model(text: &str, path: &Path) -> Result<StoredModel, String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let c = Config::from_toml_str(text, &path.display().to_string(), dir, &[])
        .map_err(|e| e.to_string())?;
    Ok(StoredModel {
        half_width: c.grid.half_width,
        model: (c.model.gamma, c.model.diffusion, c.model.kappa),
    })
}
