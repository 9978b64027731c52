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
use crate::config::Config;
use crate::diagnostics::DiagnosticsSetup;
use crate::io::checkpoint::{self, JobKind};
use crate::signals::SignalFlags;
use crate::study::plan::{plan, Job};
use crate::study::run::{
    check_resumable, finish, finished_agreed, forget_finished, log_plan, prepare, record_finished,
    run_groups, Groups,
};
use crate::study::table::RunCost;
use crate::sweep::forward::MarchEnd;
use crate::sweep::forward_run::ForwardStart;

/// Runs the command.
pub fn run(comm: &Comm, args: &RunOutArgs, restart: Option<String>) -> Result<(), CommandError> {
    // Everything that can be wrong with the input is found before anything is written.
    let base = load_config(comm, &args.run)?;
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
    let spec = base.study_spec();
    let (points, jobs) = plan(&spec, &dir).map_err(|e| input(e.key, e.message))?;
    let configs = jobs
        .iter()
        .map(|job| {
            base.study_run(job)
                .map_err(|e| CommandError::Input(format!("run {}: {e}", job.name)))
        })
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
    let (f0, mut stepper) = (setup.initial_field()?, setup.stepper());
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
    let start = ForwardStart::new(f0, loaded, stepper.as_mut()).map_err(CommandError::Input)?;
    let (mut f, mut state, resumed) = (start.f, start.state, start.resumed);
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
