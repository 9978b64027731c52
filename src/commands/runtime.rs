//! The config sections as the runtime structs the library modules define (output directory,
//! march control and cadences, checkpoint policy): the translations every command shares.

use std::path::Path;

use super::setup::RunSetup;
use super::CommandError;
use crate::comm::Comm;
use crate::config::{ReverseMethodName, SamplerName, SchemeName, StartName, StoreName, Usr1Action};
use crate::diagnostics::DiagnosticsSetup;
use crate::generate::{GenerateRun, GenerateSettings};
use crate::io::run_dir::RunDir;
use crate::samplers::{SamplerKind, SamplerSettings};
use crate::scheme::SchemeKind;
use crate::signals::SignalFlags;
use crate::sweep::forward::{MarchControl, OutputCadence};
use crate::sweep::forward_run::{CheckpointPolicy, ForwardRun};
use crate::sweep::pipeline::Pipeline;
use crate::sweep::reverse::ReverseKind;
use crate::sweep::start::StartKind;
use crate::sweep::trajectory::StoreKind;

/// The flux family named by `time.scheme`.
pub fn scheme_kind(name: SchemeName) -> SchemeKind {
    match name {
        SchemeName::Upwind => SchemeKind::Upwind,
        SchemeName::Sg => SchemeKind::Sg,
    }
}

/// The `time.scheme` name of a flux family.
pub fn scheme_name(kind: SchemeKind) -> SchemeName {
    match kind {
        SchemeKind::Upwind => SchemeName::Upwind,
        SchemeKind::Sg => SchemeName::Sg,
    }
}

impl RunSetup {
    /// The output directory `dir` of this run (nothing is touched on disk).
    pub fn run_dir(&self, dir: &Path) -> RunDir {
        RunDir::new(
            dir,
            self.config.to_toml(),
            self.io_mode(),
            &self.mesh,
            self.grid,
            &self.block,
        )
    }

    /// `forward: 2D n = 101 on 2 x 1 ranks, m = ..., sg / ssprk2, t_end = 1`: the first log
    /// line of a run named `label`.
    pub fn title(&self, label: &str) -> String {
        format!(
            "{label}: {}, {} / {}, t_end = {}",
            self.run_line(),
            self.scheme.name(),
            self.stepper.name(),
            self.config.time.t_end
        )
    }

    /// `time.t_end`, `time.max_steps` and the `[output]` reporting cadences.
    pub fn march_control(&self) -> MarchControl {
        MarchControl {
            t_end: self.config.time.t_end,
            max_steps: self.config.time.max_steps,
            diagnostics_every: self.config.output.diagnostics_every,
            progress_every: self.config.output.progress_every,
        }
    }

    /// The snapshot cadences of `[output]` and `checkpoint.every_steps`.
    pub fn output_cadence(&self) -> OutputCadence {
        OutputCadence {
            snapshot_every: self.config.output.snapshot_every,
            snapshot_dt: self.config.output.snapshot_dt,
            checkpoint_every: self.config.checkpoint.every_steps,
        }
    }

    /// `[checkpoint]`: directory, timer, how many to keep, what SIGUSR1 does.
    pub fn checkpoint_policy(&self) -> CheckpointPolicy {
        let c = &self.config.checkpoint;
        CheckpointPolicy {
            dir: c.dir.clone(),
            every_seconds: c.every_seconds,
            keep: c.keep as usize,
            usr1_stops: c.on_usr1 == Usr1Action::Stop,
        }
    }

    /// The forward run of this setup into `run` (`forward` and every run of `study`).
    pub fn forward_run<'a>(
        &self,
        run: &'a RunDir,
        diagnostics: DiagnosticsSetup,
        signals: &'a SignalFlags,
        replace: bool,
        title: String,
    ) -> ForwardRun<'a> {
        ForwardRun {
            run,
            diagnostics,
            control: self.march_control(),
            cadence: self.output_cadence(),
            checkpoints: self.checkpoint_policy(),
            physics: self.config.physics_fingerprint(),
            signals,
            replace,
            title,
        }
    }

    /// The forward → record → start → reverse pipeline of this run, its forward march
    /// controlled by `march`.
    pub fn pipeline<'a>(&'a self, comm: &'a Comm, march: MarchControl) -> Pipeline<'a> {
        Pipeline {
            comm,
            mesh: &self.mesh,
            block: &self.block,
            params: self.params,
            mass: self.mass,
            scheme: self.scheme,
            stepper: self.stepper,
            control: self.control,
            march,
        }
    }

    /// The initial density on the whole grid, global row-major (every rank computes all of it).
    pub fn initial_global(&self) -> Result<Vec<f64>, CommandError> {
        self.initial
            .global(&self.mesh, self.mass)
            .map_err(|e| CommandError::Input(format!("{}: initial: {e}", self.config.source)))
    }

    /// `[reverse]` as the settings of a generate run.
    pub fn generate_settings(&self) -> GenerateSettings {
        let r = &self.config.reverse;
        GenerateSettings {
            start: match r.start {
                StartName::Terminal => StartKind::Terminal,
                StartName::Asymptotic => StartKind::Asymptotic,
                StartName::Perturbed => StartKind::Perturbed {
                    amplitude: r.noise,
                    seed: r.seed,
                },
            },
            method: match r.method {
                ReverseMethodName::Exact => ReverseKind::Exact,
                ReverseMethodName::Score => ReverseKind::Score,
            },
            lambda: r.lambda,
            store: match r.store {
                StoreName::Memory => StoreKind::Memory,
                StoreName::Disk => StoreKind::Disk,
                StoreName::Recompute => StoreKind::Recompute,
            },
            recompute_every: r.recompute_every,
            samplers: SamplerSettings {
                kind: match r.sampler {
                    SamplerName::Walk => SamplerKind::Walk,
                    SamplerName::Sde => SamplerKind::Sde,
                    SamplerName::Both => SamplerKind::Both,
                },
                samples: r.samples,
                seed: r.seed,
                lambda: r.lambda,
                sde_safety: r.sde_safety,
            },
        }
    }

    /// The generate run of this setup (`generate`, and every probe of `compare`).
    pub fn generate_run<'a>(&'a self, comm: &'a Comm) -> GenerateRun<'a> {
        let settings = self.generate_settings();
        GenerateRun {
            pipeline: self.pipeline(comm, self.march_control()),
            grid: self.grid,
            title: format!(
                "generate: {}, {} / {}, T = {}, start {}, store {}",
                self.run_line(),
                self.scheme.name(),
                self.stepper.name(),
                self.config.time.t_end,
                settings.start.name(),
                settings.store.name(),
            ),
            settings,
        }
    }
}
