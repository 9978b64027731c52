//! `nlfp study CONFIG [--out DIR] [--overwrite] [--restart auto]`: a condensation study. The runs are the
//! Cartesian product of the `[study]` lists ([`crate::study::plan`]), each a forward sweep of
//! the base config with those values, through the forward run of `nlfp forward`
//! ([`crate::sweep::forward_run`]), into `DIR/runs/<name>/` (plus a refined companion
//! `<name>_refined` for every supercritical run unless `study.refine = false`), spread over
//! groups of ranks ([`crate::study::run`]); then rank 0 reads the results back and writes
//! `DIR/study.csv` and `DIR/study.md` (the figures of [`crate::study::analysis`]). A run that
//! fails is reported in its row and the study goes on; the command then exits with status 1.
//! SIGTERM checkpoints every running run and exits 75; `--restart auto` keeps the finished runs,
//! continues the interrupted ones from their checkpoints and starts the rest
//! ([`crate::study::run`], "Stop and resume").

use super::setup::{load_config, RunSetup};
use super::CommandError;
use crate::cli::RunOutArgs;
use crate::comm::Comm;
use crate::config::{Config, MassSpec, StudyConfig};
use crate::diagnostics::DiagnosticsSetup;
use crate::io::checkpoint::{self, JobKind};
use crate::signals::SignalFlags;
use crate::study::plan::{plan, Job, MassChoice, StudySpec};
use crate::study::run::{
    check_resumable, finish, finished_agreed, forget_finished, log_plan, prepare, record_finished,
    run_groups, Groups,
};
use crate::study::table::RunCost;
use crate::sweep::forward::{MarchEnd, MarchState};

/// Runs the command.
pub fn run(comm: &Comm, args: &RunOutArgs, restart: Option<String>) -> Result<(), CommandError> {
    // Everything that can be wrong with the input is found before anything is written.
    let base = load_config(comm, &args.run)?;
    super::setup::refuse_3d(&base, "study")?;
    let resume = match restart.as_deref() {
        None => false,
        Some("auto") => true,
        Some(other) => {
            return Err(CommandError::Input(format!(
                "study --restart {other:?}: a study resumes every run from its own checkpoints; \
                 the only value is `auto`"
            )))
        }
    };
    let (dir, overwrite) = (args.output.dir_or(&base.output.dir), args.output.overwrite);
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
    let groups = Groups::new(comm.size(), &jobs);
    for (k, config) in configs.iter().enumerate() {
        config
            .validate_for_ranks(groups.sizes[groups.assigned[k]])
            .map_err(|e| CommandError::Input(format!("run {}: {e}", jobs[k].name)))?;
    }
    if comm.is_root() {
        base.warnings().iter().for_each(|w| log::warn!("{w}"));
    }
    comm.on_root(|| prepare(&dir, &jobs, overwrite || resume))
        .map_err(CommandError::Input)?;
    if resume {
        comm.on_root(|| {
            jobs.iter().zip(&configs).try_for_each(|(job, c)| {
                let physics = c.physics_fingerprint();
                let ckpts = job.dir.join(&c.checkpoint.dir);
                if check_resumable(&job.dir, &ckpts, &physics)? {
                    log::info!("study {}: finished before, kept", job.name);
                }
                Ok(())
            })
        })
        .map_err(CommandError::Input)?;
    }
    let signals = SignalFlags::install().map_err(CommandError::Fatal)?;
    if comm.is_root() {
        log_plan(&dir, &points, &jobs, &groups, comm.size());
    }
    let mut stopped = false;
    let every = base.output.progress_every;
    let outcomes = run_groups(comm, &groups, &jobs, every, |sub, k| {
        let cost = run_job(sub, &jobs[k], configs[k].clone(), spec.r0, &signals, resume)?;
        stopped |= cost.is_none();
        Ok(cost)
    })?;
    let finished = finish(comm, &dir, &spec, (&points, &jobs), &outcomes);
    // A signal stopped a run (with its checkpoint): exit 75, "requeue me", not a failure.
    if comm.any(stopped) {
        return Err(CommandError::Requeue(format!(
            "the study was stopped by a signal; the runs that ended are in {}; continue with \
             --restart auto",
            dir.display()
        )));
    }
    finished
}

/// `list`, or the base run's single `value` when it is empty.
fn or_base<T: Clone>(list: &[T], value: T) -> Vec<T> {
    if list.is_empty() {
        vec![value]
    } else {
        list.to_vec()
    }
}

/// The `[study]` section and the base run as the study's runtime description.
fn study_spec(base: &Config) -> StudySpec {
    let s = &base.study;
    let masses = match base.model.mass_spec() {
        _ if !s.mass_ratio.is_empty() => {
            let ratio = |&r: &f64| MassChoice::CriticalRatio(r);
            s.mass_ratio.iter().map(ratio).collect()
        }
        MassSpec::CriticalRatio(r) => vec![MassChoice::CriticalRatio(r)],
        MassSpec::Absolute(m) => vec![MassChoice::Absolute(m)],
    };
    let gamma_key = if s.gamma.is_empty() {
        "model.gamma"
    } else {
        "study.gamma"
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
        gammas: (or_base(&s.gamma, base.model.gamma), gamma_key),
        ns: or_base(&s.n, base.grid.n),
        schemes: or_base(&s.scheme, base.time.scheme),
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
    c.time.scheme = job.scheme;
    c.output.dir = job.dir.clone();
    Config::from_toml_str(&c.to_toml(), &c.source, &c.base_dir, &[])
        .map_err(|e| CommandError::Input(format!("run {}: {e}", job.name)))
}

/// One forward run on the group `comm`; `None` when it stopped on a signal. With `resume`, a
/// finished run is kept (its recorded cost) and an interrupted one continues from its newest
/// valid checkpoint.
fn run_job(
    comm: &Comm,
    job: &Job,
    config: Config,
    r0: f64,
    signals: &SignalFlags,
    resume: bool,
) -> Result<Option<RunCost>, CommandError> {
    let setup = RunSetup::from_config(comm, config)?;
    let physics = setup.config.physics_fingerprint();
    if resume {
        let done = finished_agreed(comm, &job.dir, &physics).map_err(CommandError::Input)?;
        if let Some(cost) = done {
            return Ok(Some(cost));
        }
    }
    let (mut f, mut stepper) = (setup.initial_field()?, setup.stepper());
    let run = setup.run_dir(&job.dir);
    let loaded = match resume {
        true => checkpoint::resume(
            comm,
            "auto",
            &run.join(&setup.config.checkpoint.dir),
            JobKind::Forward,
            &physics,
            &setup.layout,
        )
        .map_err(CommandError::Input)?,
        false => None,
    };
    let resumed = loaded.map(|l| {
        f = l.f;
        l.state
    });
    if let Some(c) = &resumed {
        stepper
            .restore(&c.stepper_state)
            .map_err(|e| CommandError::Input(format!("checkpoint: {e}")))?;
    }
    let mut state = resumed
        .as_ref()
        .map_or_else(MarchState::start, MarchState::from);
    comm.on_root(|| {
        forget_finished(&job.dir);
        Ok(())
    })
    .map_err(CommandError::Fatal)?;
    let diagnostics =
        DiagnosticsSetup::with_condensate_radius(setup.params, &setup.layout.mesh, setup.mass, r0);
    let title = setup.title(&format!("study {}", job.name));
    let forward = setup.forward_run(&run, diagnostics, signals, true, title);
    let result = forward.execute(comm, &mut f, stepper.as_mut(), &mut state, resumed.as_ref())?;
    if result.end == MarchEnd::Stopped {
        return Ok(None);
    }
    let iterations = stepper.iteration_counts();
    let cost = RunCost::of(setup.layout.mesh.n, &result, iterations);
    comm.on_root(|| record_finished(&job.dir, &cost, &physics))
        .map_err(CommandError::Fatal)?;
    Ok(Some(cost))
}
