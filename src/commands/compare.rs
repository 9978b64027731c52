//! `nlfp compare CONFIG [--target E] [--t-max T] [--out DIR] [--overwrite]`: the nonlinear model
//! against the classical score-based baseline (linear OU, `kappa = 0`) on the same data, grid,
//! scheme and stepper.
//!
//! For each model the command searches the smallest horizon `T` at which generation (forward to
//! `T`, exact reverse from the data-independent asymptotic state of the same mass) reconstructs
//! the data to the relative L1 error `E`: `||u(0) - f0||_1 <= E m`. It doubles `T` from
//! `time.t_end` until the target is met (or `--t-max` is passed), then bisects the last interval
//! three times. Every probe is a full `nlfp generate` run in `DIR/<model>/T_<T>/`, so each one
//! can be inspected. The table (`DIR/compare.md`, `DIR/compare.csv`, and the log) gives per model
//! the `T` found, the wall time of the generate run at that `T`, its forward steps, start and
//! reconstruction errors.
//!
//! The OU run uses the nonlinear run's resolved mass `m` (OU has no critical mass).
//!
//! Every probe checkpoints like `nlfp generate` (`[checkpoint]`, SIGUSR1/SIGTERM, exit 75).
//! `--restart auto` continues an interrupted comparison: a probe whose directory holds the
//! `summary.toml` of a run of the same resolved config is kept, not run again
//! ([`crate::generate::compare::finished_probe`]); the others run with `--restart auto`, so the
//! interrupted one resumes from its newest checkpoint. The search takes the same path, and the
//! table equals the uninterrupted one but for the wall-time column of the resumed probe.

use std::path::PathBuf;

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::generate::compare::{finished_probe, search, table, TableHead};
use crate::signals::SignalFlags;
use crate::sweep::start::StartKind;

/// Runs the command.
pub fn run(
    comm: &Comm,
    args: &RunArgs,
    target: f64,
    t_max: f64,
    out: Option<PathBuf>,
    overwrite: bool,
    restart: Option<String>,
) -> Result<(), CommandError> {
    if !(target > 0.0 && target.is_finite()) {
        return Err(CommandError::Input(format!(
            "--target must be a positive number, got {target}"
        )));
    }
    if let Some(path) = restart.as_deref().filter(|r| *r != "auto") {
        return Err(CommandError::Input(format!(
            "--restart {path}: compare resumes with `--restart auto` only (each probe from its \
             own checkpoints)"
        )));
    }
    let base = RunSetup::load(comm, args)?;
    let signals = SignalFlags::install().map_err(CommandError::Fatal)?;
    let t_start = base.config.time.t_end;
    if t_max.is_nan() || t_max < t_start {
        return Err(CommandError::Input(format!(
            "--t-max {t_max} must be at least time.t_end = {t_start}"
        )));
    }
    let dir = out.unwrap_or_else(|| base.config.output.dir.join("compare"));
    let mass = base.mass;
    let mut nonlinear = base.config.clone();
    nonlinear.reverse.start = StartKind::Asymptotic;
    nonlinear.reverse.samples = 0;
    let mut ou = nonlinear.clone();
    ou.model.kappa = 0.0;
    ou.model.mass = Some(mass);
    ou.model.mass_ratio = None;
    let mut results = Vec::new();
    for (model, config) in [("nonlinear", nonlinear), ("ou", ou)] {
        // Every probe is a full generate run in DIR/<model>/T_<T>/.
        let probe = |t: f64| {
            let mut c = config.clone();
            c.time.t_end = t;
            let setup = RunSetup::from_config(comm, c)?;
            let run = setup.run_dir(&dir.join(model).join(format!("T_{t:.6}")));
            let kept = match restart {
                Some(_) => finished_probe(comm, &run).map_err(CommandError::Input)?,
                None => None,
            };
            let summary = match kept {
                Some(summary) => summary,
                None => {
                    let mut generate = setup.generate_run(comm);
                    generate.checkpoints =
                        Some(setup.generate_checkpoints(&signals, restart.clone()));
                    generate.execute(&run, overwrite, setup.initial_field()?)?
                }
            };
            Ok::<_, CommandError>((summary.reconstruction_error / mass, summary))
        };
        results.push(search(
            model,
            (t_start, t_max),
            target,
            comm.is_root(),
            probe,
        )?);
    }
    if comm.is_root() {
        let head = TableHead {
            dim: base.layout.mesh.dim,
            n: base.layout.mesh.n,
            scheme: base.scheme.name(),
            stepper: base.stepper.name(),
            mass,
            target,
        };
        let (csv, md) = table(&results, &head);
        let written = crate::io::replace_file(&dir.join("compare.csv"), csv.as_bytes())
            .and_then(|_| crate::io::replace_file(&dir.join("compare.md"), md.as_bytes()));
        written.map_err(CommandError::Fatal)?;
        println!("{md}");
        log::info!(
            "results in {}: compare.md, compare.csv, one directory per probe",
            dir.display()
        );
    }
    Ok(())
}
