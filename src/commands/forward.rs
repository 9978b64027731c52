//! `nlfp forward CONFIG [--out DIR] [--restart auto|PATH]`: the forward sweep.
//!
//! Writes into the output directory: `config.toml` (resolved), `diagnostics.csv`, `final.h5`,
//! snapshots under `snapshots/` with the `snapshots.xdmf` sidecar, and checkpoints under the
//! checkpoint directory (`checkpoints/` by default) with a `latest` pointer.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::config::{StudyConfig, Usr1Action};
use crate::diagnostics::{Diagnostics, DiagnosticsSetup};
use crate::field::Field;
use crate::io::checkpoint::{self, CheckpointState, CheckpointWrite};
use crate::io::csv::CsvWriter;
use crate::io::hdf5::{self as h5, write_field, FieldMeta, IoMode};
use crate::io::xdmf::{self, SnapshotEntry};
use crate::signals::SignalFlags;
use crate::sweep::forward::{
    format_duration, ForwardMarch, MarchControl, MarchEnd, MarchError, MarchResult, MarchSink,
    MarchState, OutputCadence,
};
use crate::time::{Requests, TimeStepper};

/// Files a forward run writes; an output directory holding any of them is not reused unless
/// `--overwrite` (start afresh) or `--restart` (continue) is given.
pub const OUTPUT_FILES: [&str; 4] = [
    "config.toml",
    "diagnostics.csv",
    "final.h5",
    "snapshots.xdmf",
];

/// Subdirectory of the output directory holding the snapshots.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Environment variable for fault-injection tests: `RANK:STEP` makes that rank fail alone
/// before that step, to check that the whole job stops promptly.
pub const FAULT_INJECT_ENV: &str = "NLFP_FAULT_INJECT";

/// Runs the command.
pub fn run(
    comm: &Comm,
    args: &RunArgs,
    out: Option<PathBuf>,
    overwrite: bool,
    restart: Option<String>,
) -> Result<(), CommandError> {
    // Everything that can be wrong with the input is found before anything is written.
    let setup = RunSetup::load(comm, args)?;
    let signals = SignalFlags::install().map_err(CommandError::Fatal)?;
    let mut f = setup.initial_field()?;
    let mut stepper = setup.stepper();
    let dir = out.unwrap_or_else(|| setup.config.output.dir.clone());
    let ckpt_dir = dir.join(&setup.config.checkpoint.dir); // an absolute dir replaces `dir`
    let physics = setup.config.physics_fingerprint();
    if comm.is_root() && setup.config.study != StudyConfig::default() {
        log::warn!("[study] is used by `nlfp study` only; `nlfp forward` ignores it");
    }

    // Where to start: t = 0, or a verified checkpoint.
    let resumed = match restart.as_deref() {
        None => None,
        Some("auto") => find_auto(comm, &setup, &ckpt_dir, &physics, &mut f)?,
        Some(path) => Some(load_checkpoint(
            comm,
            &setup,
            Path::new(path),
            &physics,
            &mut f,
        )?),
    };
    if let Some(c) = &resumed {
        stepper
            .restore(&c.stepper_state)
            .map_err(|e| CommandError::Input(format!("checkpoint: {e}")))?;
    }
    let mut state = match &resumed {
        Some(c) => MarchState {
            t: c.t,
            step: c.step,
            dt_history: c.dt_history.clone(),
        },
        None => MarchState::start(),
    };
    let result = execute(
        comm,
        &Execution {
            setup: &setup,
            dir: &dir,
            diagnostics: DiagnosticsSetup::new(setup.params, &setup.mesh, setup.mass),
            signals: &signals,
            replace: overwrite || restart.is_some(),
            resumed: resumed.as_ref(),
            label: "forward",
        },
        &mut f,
        stepper.as_mut(),
        &mut state,
    )?;
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

/// What [`execute`] needs besides the field, the stepper and the march state.
pub(crate) struct Execution<'a> {
    /// The run.
    pub setup: &'a RunSetup,
    /// Output directory.
    pub dir: &'a Path,
    /// Diagnostics of the run.
    pub diagnostics: DiagnosticsSetup,
    /// Signal flags (installed once per process).
    pub signals: &'a SignalFlags,
    /// Whether results already in `dir` may be replaced (`--overwrite` or `--restart`).
    pub replace: bool,
    /// The checkpoint the run resumes from, if any (`f`, the stepper and the state are already
    /// restored from it).
    pub resumed: Option<&'a CheckpointState>,
    /// Name of the run in log lines.
    pub label: &'a str,
}

/// Marches `f` from `state` to `t_end` into `run.dir`: prepares the directory, writes
/// `config.toml`, `diagnostics.csv`, snapshots and checkpoints at their cadences and `final.h5`
/// (collective). When the march stops on request (signal) the result says so and no `final.h5`
/// is written; the caller decides what that means.
pub(crate) fn execute(
    comm: &Comm,
    run: &Execution,
    f: &mut Field,
    stepper: &mut dyn TimeStepper,
    state: &mut MarchState,
) -> Result<MarchResult, CommandError> {
    let setup = run.setup;
    let dir = run.dir.to_path_buf();
    let ckpt_dir = dir.join(&setup.config.checkpoint.dir); // an absolute dir replaces `dir`
    let config_text = setup.config.to_toml();
    let physics = setup.config.physics_fingerprint();
    let resumed = run.resumed;
    let prepared = if comm.is_root() {
        super::prepare_output_dir(
            &dir,
            &OUTPUT_FILES,
            run.replace,
            ", continue with --restart auto,",
            &if resumed.is_none() {
                vec![dir.join(SNAPSHOT_DIR), ckpt_dir.clone()]
            } else {
                Vec::new()
            },
            &[checkpoint::LATEST],
        )
        .map(|_| Vec::new())
    } else {
        Ok(Vec::new())
    };
    comm.broadcast_result(prepared)
        .map_err(CommandError::Input)?;

    let mut csv = None;
    if comm.is_root() {
        let csv_path = dir.join("diagnostics.csv");
        let written = std::fs::write(dir.join("config.toml"), &config_text)
            .map_err(|e| format!("{}: {e}", dir.join("config.toml").display()))
            .and_then(|_| match resumed {
                Some(c) => CsvWriter::resume(&csv_path, &Diagnostics::HEADER, c.step),
                None => CsvWriter::create(&csv_path, &Diagnostics::HEADER),
            });
        match written {
            Ok(w) => csv = Some(w),
            Err(e) => return Err(CommandError::Fatal(e)),
        }
        log::info!(
            "{}: {}, {} / {}, t_end = {}{}",
            run.label,
            setup.run_line(),
            setup.scheme.name(),
            setup.stepper.name(),
            setup.config.time.t_end,
            match resumed {
                Some(c) => format!(", resuming at step {} (t = {:e})", c.step, c.t),
                None => String::new(),
            }
        );
    }
    let io_mode = setup.io_mode();
    let mut sink = ForwardSink {
        comm,
        setup,
        dir: dir.clone(),
        ckpt_dir,
        config_text: config_text.clone(),
        physics,
        io_mode,
        signals: run.signals,
        entries: if comm.is_root() {
            existing_snapshots(&dir, state.step)
        } else {
            Vec::new()
        },
        last_checkpoint: Instant::now(),
        fault: fault_injection(comm.rank()),
    };
    let mut march = ForwardMarch {
        comm,
        mesh: &setup.mesh,
        block: &setup.block,
        diagnostics: &run.diagnostics,
        csv,
    };
    let control = MarchControl {
        t_end: setup.config.time.t_end,
        max_steps: setup.config.time.max_steps,
        diagnostics_every: setup.config.output.diagnostics_every,
        progress_every: setup.config.output.progress_every,
    };
    let cadence = OutputCadence {
        snapshot_every: setup.config.output.snapshot_every,
        snapshot_dt: setup.config.output.snapshot_dt,
        checkpoint_every: setup.config.checkpoint.every_steps,
    };
    let result = march
        .run(stepper, f, state, control, cadence, &mut sink)
        .map_err(|e| match e {
            MarchError::Global(msg) => CommandError::Runtime(msg),
            MarchError::Local(msg) => CommandError::Fatal(msg),
        })?;
    if result.end == MarchEnd::Stopped {
        return Ok(result);
    }

    let final_path = dir.join("final.h5");
    write_field(
        comm,
        &final_path,
        &setup.mesh,
        setup.grid,
        &setup.block,
        f,
        &FieldMeta {
            t: result.t,
            step: result.steps,
            dt: result.last_dt,
            config: config_text,
        },
        io_mode,
    )
    .map_err(CommandError::Runtime)?;

    if comm.is_root() {
        let timers = result.timers;
        let total = timers.total().as_secs_f64().max(1e-12);
        let steps_here = (result.steps - resumed.map_or(0, |c| c.step)) as f64;
        log::info!(
            "done: {} steps to t = {:.6e} in {} ({:.3e} cell-steps/s); mass drift {:.3e}, min f {:.3e}",
            result.steps,
            result.t,
            format_duration(result.wall.as_secs_f64()),
            setup.mesh.cells() as f64 * steps_here / result.wall.as_secs_f64().max(1e-12),
            result.last.mass_drift,
            result.last.min,
        );
        log::info!(
            "rank 0 time shares: update {:.1}%, rate {:.1}%, aux {:.1}%, halo wait {:.1}%, reduce {:.1}%",
            100.0 * timers.update.as_secs_f64() / total,
            100.0 * timers.rate.as_secs_f64() / total,
            100.0 * timers.aux.as_secs_f64() / total,
            100.0 * timers.halo_wait.as_secs_f64() / total,
            100.0 * timers.reduce.as_secs_f64() / total,
        );
        log::info!(
            "results in {}: final.h5, diagnostics.csv, config.toml",
            dir.display()
        );
    }
    Ok(result)
}

/// Snapshots, checkpoints and requests of a forward run.
struct ForwardSink<'a> {
    comm: &'a Comm,
    setup: &'a RunSetup,
    dir: PathBuf,
    ckpt_dir: PathBuf,
    config_text: String,
    physics: String,
    io_mode: IoMode,
    signals: &'a SignalFlags,
    entries: Vec<SnapshotEntry>,
    last_checkpoint: Instant,
    fault: Option<u64>,
}

impl MarchSink for ForwardSink<'_> {
    fn snapshot(&mut self, f: &Field, state: &MarchState) -> Result<(), String> {
        let name = format!("snap_{:012}.h5", state.step);
        let snap_dir = self.dir.join(SNAPSHOT_DIR);
        let made = if self.comm.is_root() {
            std::fs::create_dir_all(&snap_dir).map_err(|e| format!("{}: {e}", snap_dir.display()))
        } else {
            Ok(())
        };
        if self.comm.any(made.is_err()) {
            return Err(made
                .err()
                .unwrap_or_else(|| "rank 0 could not create the snapshot directory".into()));
        }
        let s = self.setup;
        write_field(
            self.comm,
            &snap_dir.join(&name),
            &s.mesh,
            s.grid,
            &s.block,
            f,
            &FieldMeta {
                t: state.t,
                step: state.step,
                dt: state.last_dt(),
                config: self.config_text.clone(),
            },
            self.io_mode,
        )?;
        if self.comm.is_root() {
            self.entries.retain(|e| e.step != state.step);
            self.entries.push(SnapshotEntry {
                step: state.step,
                t: state.t,
                file: format!("{SNAPSHOT_DIR}/{name}"),
            });
            xdmf::write(&self.dir.join("snapshots.xdmf"), &s.mesh, &self.entries)
                .map_err(|e| format!("snapshot index: {e}"))?;
        }
        Ok(())
    }

    fn checkpoint(
        &mut self,
        f: &Field,
        state: &MarchState,
        stepper_state: &[f64],
    ) -> Result<(), String> {
        let s = self.setup;
        let t0 = Instant::now();
        let path = checkpoint::write(
            self.comm,
            &CheckpointWrite {
                dir: &self.ckpt_dir,
                mesh: &s.mesh,
                grid: s.grid,
                block: &s.block,
                f,
                state: &CheckpointState {
                    t: state.t,
                    step: state.step,
                    dt_history: state.dt_history.clone(),
                    config: self.config_text.clone(),
                    physics: self.physics.clone(),
                    stepper_state: stepper_state.to_vec(),
                },
                keep: s.config.checkpoint.keep as usize,
                mode: self.io_mode,
            },
        )?;
        self.last_checkpoint = Instant::now();
        if self.comm.is_root() {
            log::info!(
                "checkpoint {} (step {}, t = {:e}) in {:.2}s",
                path.display(),
                state.step,
                state.t,
                t0.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }

    fn poll(&mut self, step: u64) -> Result<Requests, String> {
        if self.fault == Some(step) {
            return Err(format!(
                "injected fault ({FAULT_INJECT_ENV}) on rank {} before step {}",
                self.comm.rank(),
                step + 1
            ));
        }
        let received = self.signals.take();
        let every = self.setup.config.checkpoint.every_seconds;
        // Only rank 0's clock decides, so the ranks never disagree about a timer.
        let timer_due = self.comm.is_root()
            && every > 0.0
            && self.last_checkpoint.elapsed().as_secs_f64() >= every;
        if received.usr1 || received.term {
            log::warn!(
                "rank {}: {} received: checkpoint at the next step boundary{}",
                self.comm.rank(),
                if received.term { "SIGTERM" } else { "SIGUSR1" },
                if received.term || self.setup.config.checkpoint.on_usr1 == Usr1Action::Stop {
                    ", then stop (exit code 75)"
                } else {
                    ""
                }
            );
        }
        Ok(Requests {
            checkpoint: received.usr1 || received.term || timer_due,
            stop: received.term
                || (received.usr1 && self.setup.config.checkpoint.on_usr1 == Usr1Action::Stop),
        })
    }
}

fn fault_injection(rank: usize) -> Option<u64> {
    let spec = std::env::var(FAULT_INJECT_ENV).ok()?;
    let (r, s) = spec.split_once(':')?;
    (r.trim().parse::<usize>().ok()? == rank)
        .then(|| s.trim().parse::<u64>().ok())
        .flatten()
}

/// Verifies and loads a checkpoint named on the command line (errors are input errors).
fn load_checkpoint(
    comm: &Comm,
    setup: &RunSetup,
    path: &Path,
    physics: &str,
    f: &mut Field,
) -> Result<CheckpointState, CommandError> {
    try_checkpoint(comm, setup, path, physics, f).map_err(|e| match e {
        Attempt::Refused(msg) | Attempt::Invalid(msg) => CommandError::Input(msg),
    })
}

enum Attempt {
    /// The checkpoint is fine but belongs to other physics: never fall back past it.
    Refused(String),
    /// Unreadable, truncated, or failing a checksum.
    Invalid(String),
}

fn try_checkpoint(
    comm: &Comm,
    setup: &RunSetup,
    path: &Path,
    physics: &str,
    f: &mut Field,
) -> Result<CheckpointState, Attempt> {
    let local = checkpoint::read_state(path);
    if comm.any(local.is_err()) {
        return Err(Attempt::Invalid(local.err().unwrap_or_else(|| {
            format!("{}: another rank could not read it", path.display())
        })));
    }
    let state = local.map_err(Attempt::Invalid)?;
    let differences = checkpoint::physics_differences(&state.physics, physics);
    if !differences.is_empty() {
        return Err(Attempt::Refused(format!(
            "{}: restart refused: the physics differs from the checkpoint's in {} \
             (only t_end, output cadence, checkpoint settings and the rank count may change)",
            path.display(),
            differences.join(", ")
        )));
    }
    checkpoint::read_field(comm, path, &setup.mesh, &setup.block, f).map_err(Attempt::Invalid)?;
    Ok(state)
}

/// `--restart auto`: the newest valid checkpoint, logging why newer ones were skipped; `None`
/// (start from t = 0) when the directory holds no checkpoint at all.
fn find_auto(
    comm: &Comm,
    setup: &RunSetup,
    ckpt_dir: &Path,
    physics: &str,
    f: &mut Field,
) -> Result<Option<CheckpointState>, CommandError> {
    // Rank 0 lists the directory; every rank tries the same files in the same order.
    let listing = if comm.is_root() {
        checkpoint::list(ckpt_dir)
            .into_iter()
            .map(|(_, p)| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        String::new()
    };
    let listing = String::from_utf8(comm.broadcast_bytes(listing.into_bytes())).unwrap_or_default();
    let candidates: Vec<&str> = listing.lines().filter(|l| !l.is_empty()).collect();
    if candidates.is_empty() {
        if comm.is_root() {
            log::info!(
                "restart auto: no checkpoint in {}; starting from t = 0",
                ckpt_dir.display()
            );
        }
        return Ok(None);
    }
    if let (true, Some(latest)) = (comm.is_root(), checkpoint::latest_pointer(ckpt_dir)) {
        log::debug!("restart auto: latest pointer names {latest}");
    }
    for candidate in &candidates {
        match try_checkpoint(comm, setup, Path::new(candidate), physics, f) {
            Ok(state) => {
                if comm.is_root() {
                    log::info!(
                        "restart auto: resuming from {} (step {}, t = {:e})",
                        candidate,
                        state.step,
                        state.t
                    );
                }
                return Ok(Some(state));
            }
            Err(Attempt::Refused(msg)) => return Err(CommandError::Input(msg)),
            Err(Attempt::Invalid(msg)) => {
                if comm.is_root() {
                    log::warn!("restart auto: skipping {candidate}: {msg}");
                }
            }
        }
    }
    Err(CommandError::Input(format!(
        "restart auto: none of the {} checkpoints in {} is valid (see the warnings above); \
         start afresh with --overwrite instead",
        candidates.len(),
        ckpt_dir.display()
    )))
}

/// Snapshots already on disk up to `step` (a resumed run); later ones belonged to the
/// interrupted run's future and are removed.
fn existing_snapshots(dir: &Path, step: u64) -> Vec<SnapshotEntry> {
    let snap_dir = dir.join(SNAPSHOT_DIR);
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(&snap_dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(s) = name
            .strip_prefix("snap_")
            .and_then(|r| r.strip_suffix(".h5"))
            .and_then(|r| r.parse::<u64>().ok())
        else {
            continue;
        };
        if s > step {
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        if let Ok(t) = h5::read_attr_f64(&entry.path(), "t") {
            entries.push(SnapshotEntry {
                step: s,
                t,
                file: format!("{SNAPSHOT_DIR}/{name}"),
            });
        }
    }
    entries.sort_by_key(|e| e.step);
    entries
}
