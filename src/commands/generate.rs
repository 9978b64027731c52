//! `nlfp generate CONFIG [--out DIR] [--overwrite] [--restart auto|PATH]`: the generative model end to end
//! ([`crate::generate`]): forward from the data to `T = time.t_end` recording the trajectory in
//! the store of `reverse.store`, the start state of `reverse.start`, the reverse sweep of
//! `reverse.method` back to `t = 0` carrying `reverse.samples` samples with the samplers of
//! `reverse.sampler`, the samples, their quality, the pictures and `summary.toml`.
//!
//! Checkpoints (`[checkpoint]`, SIGUSR1/SIGTERM, exit 75) in both phases
//! ([`crate::generate`]); `--restart auto|PATH` continues from one, on any rank count.

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunOutArgs;
use crate::comm::Comm;
use crate::generate::{GenerateCheckpoints, GenerateRun, GenerateSettings};
use crate::samplers::quality::HeldOut;
use crate::samplers::SamplerSettings;
use crate::signals::SignalFlags;
use crate::sweep::start::Start;

/// Runs the command.
pub fn run(comm: &Comm, args: &RunOutArgs, restart: Option<String>) -> Result<(), CommandError> {
    let setup = RunSetup::load(comm, &args.run)?;
    let signals = SignalFlags::install().map_err(CommandError::Fatal)?;
    let f0 = setup.initial_field()?;
    let mut generate = setup.generate_run(comm);
    generate.checkpoints = Some(setup.generate_checkpoints(&signals, restart));
    generate
        .execute(&setup.run_dir_for(&args.output), args.output.overwrite, f0)
        .map(|_| ())
}

impl RunSetup {
    /// `[reverse]` as the settings of a generate run.
    pub fn generate_settings(&self) -> GenerateSettings {
        let r = &self.config.reverse;
        GenerateSettings {
            start: Start {
                kind: r.start,
                amplitude: r.noise,
                seed: r.seed,
            },
            method: r.method,
            lambda: r.lambda,
            store: r.store,
            recompute_every: r.recompute_every,
            samplers: SamplerSettings {
                kind: r.sampler,
                samples: r.samples,
                seed: r.seed,
                lambda: r.lambda,
                sde_safety: r.sde_safety,
            },
        }
    }

    /// Checkpoints of a generate run (`[checkpoint]`, the signals, `--restart`).
    pub fn generate_checkpoints<'a>(
        &self,
        signals: &'a SignalFlags,
        restart: Option<String>,
    ) -> GenerateCheckpoints<'a> {
        GenerateCheckpoints {
            policy: self.checkpoint_policy(),
            physics: self.config.physics_fingerprint(),
            signals,
            restart,
        }
    }

    /// The generate run of this setup (`generate`, and every probe of `compare`).
    pub fn generate_run<'a>(&'a self, comm: &'a Comm) -> GenerateRun<'a> {
        let settings = self.generate_settings();
        GenerateRun {
            pipeline: self.pipeline(comm, self.march_control()),
            title: format!(
                "generate: {}, {} / {}, T = {}, start {}, store {}",
                self.run_line(),
                self.scheme.name(),
                self.stepper.name(),
                self.config.time.t_end,
                settings.start.kind.name(),
                settings.store.name(),
            ),
            settings,
            checkpoints: None,
            heldout: self.initial.held_out().map(|(train, held)| {
                HeldOut::new(train, held, self.layout.mesh.dim, self.config.reverse.seed)
            }),
        }
    }
}
