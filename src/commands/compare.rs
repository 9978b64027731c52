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

use std::path::{Path, PathBuf};

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::config::{Config, StartName};
use crate::generate::summary::Summary;

/// Bisection steps after the doubling search.
const BISECTIONS: usize = 3;

/// One model's result.
#[derive(Clone, Debug)]
struct Found {
    model: &'static str,
    /// The smallest `T` found that meets the target, with its run.
    hit: Option<(f64, Summary)>,
    /// Every probe `(T, relative error)`.
    probes: Vec<(f64, f64)>,
}

/// Runs the command.
pub fn run(
    comm: &Comm,
    args: &RunArgs,
    target: f64,
    t_max: f64,
    out: Option<PathBuf>,
    overwrite: bool,
) -> Result<(), CommandError> {
    if !(target > 0.0 && target.is_finite()) {
        return Err(CommandError::Input(format!(
            "--target must be a positive number, got {target}"
        )));
    }
    let base = RunSetup::load(comm, args)?;
    if t_max.is_nan() || t_max < base.config.time.t_end {
        return Err(CommandError::Input(format!(
            "--t-max {t_max} must be at least time.t_end = {}",
            base.config.time.t_end
        )));
    }
    let dir = out.unwrap_or_else(|| base.config.output.dir.join("compare"));
    let mass = base.mass;
    let mut nonlinear = base.config.clone();
    nonlinear.reverse.start = StartName::Asymptotic;
    nonlinear.reverse.samples = 0;
    let mut ou = nonlinear.clone();
    ou.model.kappa = 0.0;
    ou.model.mass = Some(mass);
    ou.model.mass_ratio = None;
    let mut results = Vec::new();
    for (model, config) in [("nonlinear", nonlinear), ("ou", ou)] {
        results.push(search(
            comm, model, &config, mass, target, t_max, &dir, overwrite,
        )?);
    }
    if comm.is_root() {
        let (csv, md) = table(&results, target, &base, mass);
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

/// Doubling then bisection on `T` for one model.
#[allow(clippy::too_many_arguments)]
fn search(
    comm: &Comm,
    model: &'static str,
    config: &Config,
    mass: f64,
    target: f64,
    t_max: f64,
    dir: &Path,
    overwrite: bool,
) -> Result<Found, CommandError> {
    let mut found = Found {
        model,
        hit: None,
        probes: Vec::new(),
    };
    let probe = |t: f64, found: &mut Found| -> Result<bool, CommandError> {
        let mut c = config.clone();
        c.time.t_end = t;
        let setup = RunSetup::from_config(comm, c)?;
        let run = setup.run_dir(&dir.join(model).join(format!("T_{t:.6}")));
        let summary = setup
            .generate_run(comm)
            .execute(&run, overwrite, setup.initial_field()?)?;
        let relative = summary.reconstruction_error / mass;
        found.probes.push((t, relative));
        if comm.is_root() {
            log::info!("compare: {model} T = {t}: relative reconstruction error {relative:.3e}");
        }
        let hit = relative <= target;
        if hit && found.hit.as_ref().is_none_or(|(best, _)| t < *best) {
            found.hit = Some((t, summary));
        }
        Ok(hit)
    };
    let (mut lo, mut hi) = (0.0, config.time.t_end);
    loop {
        if probe(hi, &mut found)? {
            break;
        }
        if hi >= t_max {
            return Ok(found);
        }
        lo = hi;
        hi = (2.0 * hi).min(t_max);
    }
    for _ in 0..BISECTIONS {
        if lo <= 0.0 {
            lo = hi / 2.0;
            if !probe(lo, &mut found)? {
                continue;
            }
            hi = lo;
            lo = 0.0;
            continue;
        }
        let mid = 0.5 * (lo + hi);
        if probe(mid, &mut found)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(found)
}

fn table(results: &[Found], target: f64, base: &RunSetup, mass: f64) -> (String, String) {
    let mut csv = String::from(
        "model,t_needed,wall_seconds,steps,start_error_l1,reconstruction_error_l1,relative_error\n",
    );
    let mut md = format!(
        "# Nonlinear model vs OU baseline\n\n\
         Same data, grid ({}D, n = {}), scheme {} and stepper {}; mass m = {:.6e}; target \
         `||u(0) - f0||_1 <= {target:e} m`, generation from the asymptotic state.\n\n\
         | model | T needed | wall s (that run) | steps | start error | reconstruction error | relative |\n\
         |---|---|---|---|---|---|---|\n",
        base.mesh.dim,
        base.mesh.n,
        base.scheme.name(),
        base.stepper.name(),
        mass
    );
    for r in results {
        match &r.hit {
            Some((t, s)) => {
                let wall = s.forward_seconds + s.reverse_seconds;
                let rel = s.reconstruction_error / mass;
                csv += &format!(
                    "{},{t:e},{wall:.6},{},{:e},{:e},{rel:e}\n",
                    r.model, s.steps, s.start_error, s.reconstruction_error
                );
                md += &format!(
                    "| {} | {t:.4} | {wall:.2} | {} | {:.3e} | {:.3e} | {rel:.3e} |\n",
                    r.model, s.steps, s.start_error, s.reconstruction_error
                );
            }
            None => {
                let best = r.probes.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
                csv += &format!("{},,,,,,{best:e}\n", r.model);
                md += &format!(
                    "| {} | not reached up to T = {:.4} | | | | | best {best:.3e} |\n",
                    r.model,
                    r.probes.iter().map(|p| p.0).fold(0.0, f64::max)
                );
            }
        }
    }
    md += "\nProbes (T: relative error):\n\n";
    for r in results {
        let list: Vec<String> = r
            .probes
            .iter()
            .map(|(t, e)| format!("{t:.4}: {e:.2e}"))
            .collect();
        md += &format!("- {}: {}\n", r.model, list.join(", "));
    }
    (csv, md)
}
