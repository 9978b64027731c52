//! `nlfp filter CONFIG [--out DIR] [--overwrite] [--restart auto|PATH]`: density filtering by successive
//! forward–reverse cycles (issue 7; [`crate::filter`]).
//!
//! The clean density is the `[initial]` one; the noisy one adds the seeded noise of `[filter]`
//! ([`crate::filter::noise`]). Every variant of `filter.variant` starts from the same noisy
//! density and runs `filter.cycles` cycles (forward to `time.t_end` recording, reverse to 0).
//! Each density is gathered on rank 0 and measured against the clean one
//! ([`crate::filter::run`]).
//!
//! Writes into the output directory: `config.toml`, `clean.h5`, `noisy.h5`,
//! `filtered_<variant>.h5` (the last cycle of each variant), `filter.csv`, `filter.md` and the
//! pictures `density.png` (1D) or `density_*.png` (2D heat maps) of the recommended variant
//! (`score` when run, see [`crate::filter::report::Study::recommended`]), `error.png` and
//! `spectrum.png`.
//!
//! Checkpoints at cycle boundaries (`[checkpoint]`, SIGUSR1/SIGTERM, exit 75; job `filter`,
//! [`crate::filter::run`]); `--restart auto|PATH` continues from one, on any rank count. The
//! `[filter]` keys but `cycles` join the physics fingerprint of these checkpoints.

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunOutArgs;
use crate::comm::Comm;
use crate::filter::cycle::CycleSettings;
use crate::filter::noise::NoiseSpec;
use crate::filter::run::{FilterRun, OUTPUT_FILES};
use crate::io::checkpoint::JobKind;
use crate::signals::SignalFlags;
use crate::sweep::checkpointer::Checkpointer;
use crate::sweep::forward::MarchControl;

/// Runs the command.
pub fn run(comm: &Comm, args: &RunOutArgs, restart: Option<String>) -> Result<(), CommandError> {
    let setup = RunSetup::load(comm, &args.run)?;
    setup.refuse_3d("filter")?;
    let signals = SignalFlags::install().map_err(CommandError::Fatal)?;
    let run = setup.run_dir_for(&args.output);
    let fc = &setup.config.filter;
    let variants: Vec<&str> = fc.variants.iter().map(|v| v.name()).collect();
    let physics = format!(
        "{}filter.variant = {variants:?}\nfilter.lambda = {:?}\nfilter.smoothing = {:?}\n\
         filter.noise_kind = {}\nfilter.noise = {:?}\nfilter.seed = {}\nfilter.samples = {}\n",
        setup.config.physics_fingerprint(),
        fc.lambda,
        fc.smoothing,
        fc.noise_kind.name(),
        fc.noise,
        fc.seed,
        fc.samples
    );
    let (policy, t_end) = (setup.checkpoint_policy(), setup.config.time.t_end);
    let job = JobKind::Filter;
    let checkpointer = Checkpointer::new(comm, &run, &policy, job, physics, t_end, &signals);
    let resumed = checkpointer
        .resume(restart.as_deref())
        .map_err(CommandError::Input)?;
    let replace = args.output.overwrite || restart.is_some();
    checkpointer.create_run(&OUTPUT_FILES, &[], resumed.is_some(), replace)?;
    let march = MarchControl {
        diagnostics_every: u64::MAX,
        progress_every: f64::INFINITY,
        ..setup.march_control()
    };
    let filter = FilterRun {
        pipeline: setup.pipeline(comm, march),
        settings: CycleSettings {
            lambda: fc.lambda,
            smoothing: fc.smoothing,
            safety: setup.config.time.safety,
        },
        cycles: fc.cycles,
        variants: fc.variants.clone(),
        clean: setup.initial_global()?,
        noise: noise_spec(&setup),
        source: (
            setup.config.source.clone(),
            setup.config.initial.kind.name(),
        ),
    };
    filter
        .execute(&run, Some(checkpointer), resumed)
        .map(|_| ())
}

/// The noise of the config.
pub fn noise_spec(setup: &RunSetup) -> NoiseSpec {
    let f = &setup.config.filter;
    NoiseSpec {
        kind: f.noise_kind,
        amplitude: f.noise,
        seed: f.seed,
        samples: f.samples,
    }
}
