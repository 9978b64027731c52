//! `nlfp forward CONFIG [--out DIR] [--restart auto|PATH]`: the forward sweep.
//!
//! Writes into the output directory: `config.toml` (resolved), `diagnostics.csv`, `final.h5`,
//! snapshots under `snapshots/` with the `snapshots.xdmf` sidecar, and checkpoints under the
//! checkpoint directory (`checkpoints/` by default) with a `latest` pointer
//! ([`crate::sweep::forward_run`]). `--restart` picks the checkpoint to continue from
//! ([`crate::io::checkpoint::resume`]).

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunOutArgs;
use crate::comm::Comm;
use crate::config::{StudyConfig, Usr1Action};
use crate::diagnostics::DiagnosticsSetup;
use crate::io::checkpoint::{self, JobKind};
use crate::io::run_dir::RunDir;
use crate::signals::SignalFlags;
use crate::sweep::forward::MarchEnd;
use crate::sweep::forward_run::{CheckpointPolicy, ForwardRun, ForwardStart};

/// Runs the command.
pub fn run(comm: &Comm, args: &RunOutArgs, restart: Option<String>) -> Result<(), CommandError> {
    // Everything that can be wrong with the input is found before anything is written.
    let setup = RunSetup::load(comm, &args.run)?;
    let signals = SignalFlags::install().map_err(CommandError::Fatal)?;
    let f0 = setup.initial_field()?;
    let mut stepper = setup.stepper();
    let run = setup.run_dir_for(&args.output);
    let ckpt_dir = run.join(&setup.config.checkpoint.dir);
    let physics = setup.config.physics_fingerprint();
    if comm.is_root() && setup.config.study != StudyConfig::default() {
        log::warn!("[study] is used by `nlfp study` only; `nlfp forward` ignores it");
    }

    // Where to start: t = 0, or a verified checkpoint.
    let resumed = match restart.as_deref() {
        None => None,
        Some(request) => checkpoint::resume(
            comm,
            request,
            &ckpt_dir,
            JobKind::Forward,
            &physics,
            &setup.layout,
        )
        .map_err(CommandError::Input)?,
    };
    let start = ForwardStart::new(f0, resumed, stepper.as_mut()).map_err(CommandError::Input)?;
    let (mut f, mut state, resumed) = (start.f, start.state, start.resumed);
    let diagnostics = DiagnosticsSetup::new(setup.params, &setup.layout.mesh, setup.mass);
    let (replace, title) = (
        args.output.overwrite || restart.is_some(),
        setup.title("forward"),
    );
    let forward = setup.forward_run(&run, diagnostics, &signals, replace, title);
    let result = forward.execute(comm, &mut f, stepper.as_mut(), &mut state, resumed.as_ref())?;
    if result.end == MarchEnd::Stopped {
        return Err(CommandError::Requeue(format!(
            "checkpoint {} written at step {} (t = {:e}); resume with --restart auto",
            ckpt_dir.join(checkpoint::file_name(state.step)).display(),
            state.step,
            state.t
        )));
    }
    Ok(())
}

impl RunSetup {
    /// `[checkpoint]`: directory, timer, how many to keep, what SIGUSR1 does.
    pub fn checkpoint_policy(&self) -> CheckpointPolicy {
        let c = &self.config.checkpoint;
        CheckpointPolicy {
            dir: c.dir.clone(),
            every_steps: c.every_steps,
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
}
