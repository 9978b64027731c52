//! `nlfp filter CONFIG [--out DIR] [--overwrite]`: density filtering by successive
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

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunOutArgs;
use crate::comm::Comm;
use crate::filter::cycle::CycleSettings;
use crate::filter::noise::NoiseSpec;
use crate::filter::run::{FilterRun, OUTPUT_FILES};
use crate::io::run_dir::DirRules;
use crate::sweep::forward::MarchControl;

/// Runs the command.
pub fn run(comm: &Comm, args: &RunOutArgs) -> Result<(), CommandError> {
    let setup = RunSetup::load(comm, &args.run)?;
    let run = setup.run_dir_for(&args.output);
    let rules = DirRules {
        results: &OUTPUT_FILES,
        ..DirRules::default()
    };
    run.create(comm, &rules, args.output.overwrite)?;
    let fc = &setup.config.filter;
    let march = MarchControl {
        diagnostics_every: u64::MAX,
        progress_every: f64::INFINITY,
        ..setup.march_control()
    };
    let filter = FilterRun {
        pipeline: setup.pipeline(comm, march),
        grid: setup.grid,
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
    filter.execute(&run).map(|_| ())
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
