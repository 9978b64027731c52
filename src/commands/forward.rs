//! `nlfp forward CONFIG [--out DIR]`: the forward sweep. Writes `config.toml` (resolved),
//! `diagnostics.csv` and `final.h5` into the output directory.

use std::path::{Path, PathBuf};

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::diagnostics::{Diagnostics, DiagnosticsSetup};
use crate::io::csv::CsvWriter;
use crate::io::hdf5::{write_field, FieldMeta};
use crate::sweep::forward::{format_duration, ForwardMarch, MarchControl};

/// Files a forward run writes; an output directory holding any of them is not reused unless
/// `--overwrite` is given.
pub const OUTPUT_FILES: [&str; 3] = ["config.toml", "diagnostics.csv", "final.h5"];

/// Runs the command.
pub fn run(
    comm: &Comm,
    args: &RunArgs,
    out: Option<PathBuf>,
    overwrite: bool,
) -> Result<(), CommandError> {
    // Everything that can be wrong with the input is found before anything is written.
    let setup = RunSetup::load(comm, args)?;
    let mut f = setup.initial_field()?;
    let mut stepper = setup.stepper();
    let dir = out.unwrap_or_else(|| setup.config.output.dir.clone());
    let prepared = if comm.is_root() {
        prepare_output_dir(&dir, overwrite).map(|_| Vec::new())
    } else {
        Ok(Vec::new())
    };
    comm.broadcast_result(prepared)
        .map_err(CommandError::Input)?;

    let config_text = setup.config.to_toml();
    let mut csv = None;
    if comm.is_root() {
        let written = std::fs::write(dir.join("config.toml"), &config_text)
            .map_err(|e| format!("{}: {e}", dir.join("config.toml").display()))
            .and_then(|_| CsvWriter::create(&dir.join("diagnostics.csv"), &Diagnostics::HEADER));
        match written {
            Ok(w) => csv = Some(w),
            Err(e) => return Err(CommandError::Fatal(e)),
        }
        log::info!(
            "forward: {}D n = {} on {} x {} ranks, {} / {}, m = {:.6e}{}, t_end = {}",
            setup.mesh.dim,
            setup.mesh.n,
            setup.grid.px,
            setup.grid.py,
            setup.scheme.name(),
            setup.stepper.name(),
            setup.mass,
            setup
                .critical_mass
                .map(|mc| format!(" ({:.4} m_c)", setup.mass / mc))
                .unwrap_or_default(),
            setup.config.time.t_end
        );
    }
    let diagnostics = DiagnosticsSetup::new(setup.params, &setup.mesh, setup.mass);
    let mut march = ForwardMarch {
        comm,
        mesh: &setup.mesh,
        block: &setup.block,
        diagnostics: &diagnostics,
        csv,
    };
    let control = MarchControl {
        t_end: setup.config.time.t_end,
        max_steps: setup.config.time.max_steps,
        diagnostics_every: setup.config.output.diagnostics_every,
        progress_every: setup.config.output.progress_every,
    };
    let result = march
        .run(stepper.as_mut(), &mut f, 0.0, 0, control)
        .map_err(CommandError::Runtime)?;

    let final_path = dir.join("final.h5");
    write_field(
        comm,
        &final_path,
        &setup.mesh,
        setup.grid,
        &setup.block,
        &f,
        &FieldMeta {
            t: result.t,
            step: result.steps,
            dt: result.last_dt,
            config: config_text,
        },
    )
    .map_err(CommandError::Runtime)?;

    if comm.is_root() {
        let timers = result.timers;
        let total = timers.total().as_secs_f64().max(1e-12);
        log::info!(
            "done: {} steps to t = {:.6e} in {} ({:.3e} cell-steps/s); mass drift {:.3e}, min f {:.3e}",
            result.steps,
            result.t,
            format_duration(result.wall.as_secs_f64()),
            (setup.mesh.cells() as f64 * result.steps as f64) / result.wall.as_secs_f64().max(1e-12),
            result.last.mass_drift,
            result.last.min,
        );
        log::info!(
            "rank 0 time shares: update {:.1}%, rate {:.1}%, aux {:.1}%, halo wait {:.1}%, reduce {:.1}%",
            100.0 * timers.update.as_secs_f64() / total,
            100.0 * timers.rate.as_secs_f64() / total,
            100.0 * timers.aux.as_secs_f64() / total,
            100.0 * timers.halo_wait.as_secs_f64() / total,
            100.0 * timers.reduce.as_secs_f64() / total,
        );
        log::info!(
            "results in {}: final.h5, diagnostics.csv, config.toml",
            dir.display()
        );
    }
    Ok(())
}

/// Creates `dir`, refusing to replace earlier results unless `overwrite`.
fn prepare_output_dir(dir: &Path, overwrite: bool) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "output directory {} exists and is not a directory",
            dir.display()
        ));
    }
    let existing: Vec<&str> = OUTPUT_FILES
        .iter()
        .copied()
        .filter(|name| dir.join(name).exists())
        .collect();
    if !existing.is_empty() && !overwrite {
        return Err(format!(
            "output directory {} already holds {}; choose another with --out DIR or pass --overwrite",
            dir.display(),
            existing.join(", ")
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create output directory {}: {e}", dir.display()))
}
