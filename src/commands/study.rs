//! `nlfp study CONFIG [--out DIR] [--overwrite]`: a condensation study.
//!
//! The runs are the Cartesian product of the `[study]` lists (`mass_ratio`, `gamma`, `n`,
//! `scheme`; an absent list is the base config's single value; [`crate::study::plan`]). Each
//! run is a forward sweep of the base config with those values substituted, through the same
//! forward run as `nlfp forward` ([`crate::sweep::forward_run`]), into `DIR/runs/<name>/`
//! (`config.toml`, `diagnostics.csv`, `final.h5`, snapshots at the config's cadence), plus a
//! refined companion `DIR/runs/<name>_refined/` (`2n + 1` cells per axis) for every
//! supercritical run unless `study.refine = false`. When every run is done, rank 0 reads the
//! results back and writes one row per run to `DIR/study.csv` and `DIR/study.md` (crash-safe
//! replacement); the figures are defined in [`crate::study::analysis`].
//!
//! # Rank use: runs in parallel over sub-communicators
//!
//! The ranks are split into `G = min(P, J)` groups of consecutive ranks (`P` ranks, `J` runs
//! including the companions), each group a sub-communicator that runs its share of the runs one
//! after another, each run decomposed over the group's ranks; runs go to groups by the
//! longest-processing-time rule on the estimated cost `n^(d+1)` ([`crate::study::schedule`]).
//! Study grids are small, where a decomposed implicit step is dominated by latency, while
//! independent runs scale perfectly; and with `P <= J` every run is computed on one rank exactly
//! as on a single process, so the table does not depend on the rank count at all. The price is
//! balance: a refined companion costs `2^d` or more times its run.
//!
//! Failures: a run that fails (non-finite density, an I/O error its group agrees on) is
//! reported in its row (`status`) and the study goes on; the command then exits with status 1
//! after writing the table ([`crate::study::run`]).

use std::path::PathBuf;

use super::setup::{load_config, RunSetup};
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::config::{Config, MassSpec, StudyConfig};
use crate::diagnostics::DiagnosticsSetup;
use crate::signals::SignalFlags;
use crate::study::plan::{plan, Job, MassChoice, StudySpec};
use crate::study::run::{check_dir, report, run_groups, Groups};
use crate::study::{pictures, table::RunCost};
use crate::sweep::forward::{MarchEnd, MarchState};

/// Runs the command.
pub fn run(
    comm: &Comm,
    args: &RunArgs,
    out: Option<PathBuf>,
    overwrite: bool,
) -> Result<(), CommandError> {
    // Everything that can be wrong with the input is found before anything is written.
    let base = load_config(comm, args)?;
    let dir = out.unwrap_or_else(|| base.output.dir.clone());
    let input =
        |key: &str, msg: String| CommandError::Input(format!("{}: {key}: {msg}", base.source));
    if let Some(procs) = &base.decomposition.procs {
        return Err(input(
            "decomposition.procs",
            format!(
                "{procs:?} is not supported by `nlfp study`: the runs are spread over groups of ranks \
                 whose sizes the study chooses; leave it out"
            ),
        ));
    }
    let spec = study_spec(&base);
    let (points, jobs) = plan(&spec, &dir).map_err(|e| input(e.key, e.message))?;
    let configs = jobs
        .iter()
        .map(|job| job_config(&base, job))
        .collect::<Result<Vec<Config>, CommandError>>()?;
    let (ranks, groups) = (comm.size(), Groups::new(comm.size(), &jobs));
    for (k, config) in configs.iter().enumerate() {
        config
            .validate_for_ranks(groups.sizes[groups.assigned[k]])
            .map_err(|e| CommandError::Input(format!("run {}: {e}", jobs[k].name)))?;
    }
    if comm.is_root() {
        base.warnings().iter().for_each(|w| log::warn!("{w}"));
    }
    comm.on_root(|| check_dir(&dir, &jobs, overwrite))
        .map_err(CommandError::Input)?;
    let signals = SignalFlags::install().map_err(CommandError::Fatal)?;
    if comm.is_root() {
        // Pictures of an earlier study in the same directory (other snapshot times) go.
        for job in &jobs {
            let _ = std::fs::remove_dir_all(job.dir.join(pictures::PICTURES_DIR));
        }
        log::info!(
            "study: {} point(s), {} run(s) on {ranks} rank(s) in {} group(s); results in {}",
            points.len(),
            jobs.len(),
            groups.sizes.len(),
            dir.display()
        );
        for (job, &g) in jobs.iter().zip(&groups.assigned) {
            let size = groups.sizes[g];
            log::info!(
                "  {:<32} n = {:<5} group {g} ({size} rank(s))",
                job.name,
                job.n
            );
        }
    }
    let outcomes = run_groups(comm, &groups, &jobs, |sub, k| {
        run_job(sub, &jobs[k], configs[k].clone(), spec.r0, &signals)
    })?;
    let failed = comm.broadcast_result(if comm.is_root() {
        report(&dir, &spec, &points, &jobs, &outcomes, ranks).map(|n| n.to_string().into_bytes())
    } else {
        Ok(Vec::new())
    });
    let failed: usize = String::from_utf8_lossy(&failed.map_err(CommandError::Runtime)?)
        .parse()
        .unwrap_or(0);
    if failed > 0 {
        return Err(CommandError::Runtime(format!(
            "{failed} of {} run(s) failed; see {}",
            jobs.len(),
            dir.join("study.md").display()
        )));
    }
    Ok(())
}

/// The `[study]` section and the base run as the study's runtime description.
fn study_spec(base: &Config) -> StudySpec {
    let s = &base.study;
    let or_base = |list: &[f64], value: f64| {
        if list.is_empty() {
            vec![value]
        } else {
            list.to_vec()
        }
    };
    let masses = match base.model.mass_spec() {
        _ if !s.mass_ratio.is_empty() => s
            .mass_ratio
            .iter()
            .map(|&r| MassChoice::CriticalRatio(r))
            .collect(),
        MassSpec::CriticalRatio(r) => vec![MassChoice::CriticalRatio(r)],
        MassSpec::Absolute(m) => vec![MassChoice::Absolute(m)],
    };
    let schemes = if s.scheme.is_empty() {
        vec![base.time.scheme]
    } else {
        s.scheme.clone()
    };
    StudySpec {
        source: base.source.clone(),
        dim: base.grid.dim,
        half_width: base.grid.half_width,
        diffusion: base.model.diffusion,
        kappa: base.model.kappa,
        t_end: base.time.t_end,
        stepper: base.time.stepper.name(),
        masses,
        gammas: (
            or_base(&s.gamma, base.model.gamma),
            if s.gamma.is_empty() {
                "model.gamma"
            } else {
                "study.gamma"
            },
        ),
        ns: if s.n.is_empty() {
            vec![base.grid.n]
        } else {
            s.n.clone()
        },
        schemes: schemes
            .into_iter()
            .map(super::runtime::scheme_kind)
            .collect(),
        refine: s.refine,
        r0: s.r0.unwrap_or(0.5 * base.model.diffusion.sqrt()),
        profile_fit: s.profile_fit,
        relax_levels: s.relax_levels,
        pictures: s.pictures,
        heatmap_log: s.heatmap_log,
    }
}

/// The config of one run: the base with the run's values, loadable on its own
/// (`nlfp forward runs/<name>/config.toml`).
fn job_config(base: &Config, job: &Job) -> Result<Config, CommandError> {
    let mut c = base.clone();
    c.study = StudyConfig::default();
    c.grid.n = job.n;
    c.model.gamma = job.gamma;
    if let MassChoice::CriticalRatio(r) = job.mass {
        c.model.mass = None;
        c.model.mass_ratio = Some(r);
    }
    c.time.scheme = super::runtime::scheme_name(job.scheme);
    c.output.dir = job.dir.clone();
    Config::from_toml_str(&c.to_toml(), &c.source, &c.base_dir, &[])
        .map_err(|e| CommandError::Input(format!("run {}: {e}", job.name)))
}

/// One forward run on the group `comm`; `None` when it stopped on a signal.
fn run_job(
    comm: &Comm,
    job: &Job,
    config: Config,
    r0: f64,
    signals: &SignalFlags,
) -> Result<Option<RunCost>, CommandError> {
    let setup = RunSetup::from_config(comm, config)?;
    let (mut f, mut stepper) = (setup.initial_field()?, setup.stepper());
    let mut state = MarchState::start();
    let run = setup.run_dir(&job.dir);
    let diagnostics =
        DiagnosticsSetup::with_condensate_radius(setup.params, &setup.mesh, setup.mass, r0);
    let title = setup.title(&format!("study {}", job.name));
    let forward = setup.forward_run(&run, diagnostics, signals, true, title);
    let result = forward.execute(comm, &mut f, stepper.as_mut(), &mut state, None)?;
    if result.end == MarchEnd::Stopped {
        return Ok(None);
    }
    let iterations = stepper.iteration_counts();
    Ok(Some(RunCost {
        n: setup.mesh.n,
        steps: result.steps,
        wall: result.wall.as_secs_f64(),
        newton: iterations.map(|(n, _)| n),
        krylov: iterations.map(|(_, k)| k),
    }))
}
