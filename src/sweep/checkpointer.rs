//! The one checkpoint writer of every long job (`forward`, `generate` in both phases,
//! `particles`, `filter`): [`Checkpointer`] owns the checkpoint directory of a run (claims it,
//! clears what a fresh run replaces), polls the requests (signals, the wall-clock timer, the
//! fault injection of the tests: [`crate::signals::RequestPoller`]) and writes a checkpoint of
//! a job kind and phase ([`crate::io::checkpoint::write`]) with whatever further datasets the
//! job saves ([`Saved`]).
//!
//! Marches whose step has a global reduction fold the requests into it (the forward march);
//! the others agree on them with one small reduction per step ([`Checkpointer::poll_agreed`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::forward::MarchState;
use crate::comm::Comm;
use crate::error::CommandError;
use crate::field::Field;
use crate::io::checkpoint::{self, CheckpointState, CheckpointWrite, JobKind, Loaded, Saved};
use crate::io::run_dir::{DirRules, RunDir};
use crate::signals::{RequestPoller, SignalFlags};
use crate::time::Requests;

/// Completes the refusal of a run directory with results of a run that checkpoints.
pub const RESTART_HINT: &str = ", continue with --restart auto,";

/// Where and when a run checkpoints.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointPolicy {
    /// The checkpoint directory (an absolute one replaces the run directory).
    pub dir: PathBuf,
    /// Steps between checkpoints (0 = none).
    pub every_steps: u64,
    /// Seconds between timed checkpoints (0 = none).
    pub every_seconds: f64,
    /// How many checkpoints to keep.
    pub keep: usize,
    /// Whether SIGUSR1 stops the run after its checkpoint.
    pub usr1_stops: bool,
}

/// The checkpoints of one run.
pub struct Checkpointer<'a> {
    comm: &'a Comm,
    run: &'a RunDir,
    dir: PathBuf,
    job: JobKind,
    physics: String,
    t_end: f64,
    keep: usize,
    every_steps: u64,
    requests: RequestPoller<'a>,
    last: Option<PathBuf>,
}

impl<'a> Checkpointer<'a> {
    /// The checkpoints of the `job` run in `run` by `policy`, stamped with the physics
    /// fingerprint `physics` and the final time `t_end`.
    pub fn new(
        comm: &'a Comm,
        run: &'a RunDir,
        policy: &CheckpointPolicy,
        job: JobKind,
        physics: String,
        t_end: f64,
        signals: &'a SignalFlags,
    ) -> Self {
        Checkpointer {
            comm,
            run,
            dir: run.join(&policy.dir),
            job,
            physics,
            t_end,
            keep: policy.keep,
            every_steps: policy.every_steps,
            requests: RequestPoller::new(
                signals,
                comm.rank(),
                policy.every_seconds,
                policy.usr1_stops,
            ),
            last: None,
        }
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Steps between checkpoints (0 = none).
    pub fn every_steps(&self) -> u64 {
        self.every_steps
    }

    /// The job kind.
    pub fn job(&self) -> JobKind {
        self.job
    }

    /// The physics fingerprint.
    pub fn physics(&self) -> &str {
        &self.physics
    }

    /// The checkpoint a restart `request` (`auto` or a path) names in this run's directory,
    /// verified against this run's kind, physics and grid ([`checkpoint::resume`]); `None`
    /// without a request. Collective; an error is bad input.
    pub fn resume(&self, request: Option<&str>) -> Result<Option<Loaded>, String> {
        match request {
            Some(request) => checkpoint::resume(
                self.comm,
                request,
                &self.dir,
                self.job,
                &self.physics,
                self.run.layout(),
            ),
            None => Ok(None),
        }
    }

    /// Claims the checkpoint directory ([`checkpoint::check_owner`]: refused when it holds
    /// another run's checkpoints) and, for a fresh run (`resumed` false), deletes this run's
    /// old checkpoints ([`checkpoint::clear`]). Rank 0's work; the verdict is every rank's
    /// (an error is bad input: nothing was written).
    pub fn prepare(&self, resumed: bool) -> Result<(), String> {
        self.comm.on_root(|| {
            checkpoint::check_owner(&self.dir, self.run.path())?;
            if !resumed {
                checkpoint::clear(&self.dir, self.run.path());
            }
            Ok(())
        })
    }

    /// Creates the run directory of this checkpointed run: the checkpoint directory first
    /// ([`Checkpointer::prepare`]: a foreign one is refused before anything is written), then
    /// the run directory ([`RunDir::create`]), which refuses earlier `results` without `replace`
    /// (`--overwrite` or `--restart`) and, for a fresh run (`resumed` false), clears the
    /// subdirectories `fresh_clear`. Collective.
    pub fn create_run(
        &self,
        results: &[&str],
        fresh_clear: &[&str],
        resumed: bool,
        replace: bool,
    ) -> Result<(), CommandError> {
        self.prepare(resumed || !replace)
            .map_err(CommandError::Input)?;
        let clear = match resumed {
            true => Vec::new(),
            false => fresh_clear.iter().map(PathBuf::from).collect(),
        };
        let rules = DirRules {
            results,
            hint: RESTART_HINT,
            clear,
            extra: &[],
        };
        self.run.create(self.comm, &rules, replace)
    }

    /// This rank's requests before step `step + 1` (see [`RequestPoller::poll`]).
    pub fn poll(&mut self, step: u64) -> Result<Requests, String> {
        self.requests.test_signal(step);
        self.requests.poll(step)
    }

    /// The requests before a step, agreed on by every rank (one small reduction), with the
    /// step cadence (`due_step`: steps taken in this march, due at multiples of
    /// `checkpoint.every_steps`); `progress` is the job's progress counter. A failure of this
    /// rank alone (the injected fault) aborts the job. Collective.
    pub fn poll_agreed(&mut self, step: u64, due_step: u64, progress: u64) -> Requests {
        self.requests.test_signal(progress);
        let local = match self.requests.poll(step) {
            Ok(r) => r,
            Err(e) => {
                log::error!("{e}");
                self.comm.abort(1);
            }
        };
        let v = self.comm.max_many(&[
            f64::from(u8::from(local.checkpoint)),
            f64::from(u8::from(local.stop)),
        ]);
        let due = self.every_steps > 0 && due_step > 0 && due_step.is_multiple_of(self.every_steps);
        Requests {
            checkpoint: v[0] > 0.0 || v[1] > 0.0 || due,
            stop: v[1] > 0.0,
        }
    }

    /// Writes the checkpoint of `phase` at the march state `march` (collective): `f`, the
    /// stepper's own state and the job's further datasets `saved`, with the progress counter
    /// `seq` as its file-name index ([`CheckpointWrite::seq`]: the step of a single march).
    /// Logs it (rank 0) and restarts the timer.
    pub fn write_at(
        &mut self,
        seq: u64,
        phase: &str,
        f: &Field,
        march: &MarchState,
        stepper_state: &[f64],
        saved: &Saved,
    ) -> Result<PathBuf, String> {
        let run = self.run;
        let t0 = Instant::now();
        let state = CheckpointState {
            job: self.job,
            phase: phase.to_string(),
            t: march.t,
            t_end: self.t_end,
            step: march.step,
            dt_history: march.dt_history.clone(),
            config: run.config().to_string(),
            physics: self.physics.clone(),
            stepper_state: stepper_state.to_vec(),
        };
        let path = checkpoint::write(
            self.comm,
            &CheckpointWrite {
                dir: &self.dir,
                owner: run.path(),
                layout: run.layout(),
                f,
                state: &state,
                seq,
                saved,
                keep: self.keep,
                mode: run.io_mode(),
            },
        )?;
        self.requests.checkpoint_written();
        if self.comm.is_root() {
            log::info!(
                "checkpoint {} ({} {phase}, progress {seq}, t = {:e}) in {:.2}s",
                path.display(),
                self.job.name(),
                march.t,
                t0.elapsed().as_secs_f64()
            );
        }
        self.last = Some(path.clone());
        Ok(path)
    }

    /// The last checkpoint written, if any.
    pub fn last(&self) -> Option<&Path> {
        self.last.as_deref()
    }

    /// The message of a run stopped on request (exit code 75).
    pub fn stopped_message(&self) -> String {
        format!(
            "checkpoint {} written; resume with --restart auto",
            self.last
                .as_deref()
                .map_or_else(|| "(none)".into(), |p| p.display().to_string())
        )
    }
}
