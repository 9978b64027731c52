//! SIGUSR1 / SIGTERM as flags polled at step boundaries (never acted on inside a handler).
//!
//! * SIGUSR1: checkpoint at the next step boundary, then continue (or stop, by config).
//! * SIGTERM: checkpoint at the next step boundary and exit with code 75 ("requeue me").
//!
//! The flags are per process; the march ORs them across ranks inside the time-step reduction,
//! so a signal delivered to one rank (or forwarded by `mpirun` to all) reaches every rank within
//! one step. [`RequestPoller`] turns them, the checkpoint timer and the fault-injection hook of
//! the tests into the [`Requests`] a march polls before every step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::time::Requests;

/// Environment variable for fault-injection tests: `RANK:STEP` makes that rank fail alone
/// before that step, to check that the whole job stops promptly.
pub const FAULT_INJECT_ENV: &str = "NLFP_FAULT_INJECT";

/// Environment variable for signal tests: `TERM@P` (or `USR1@P`) makes every rank send itself
/// that signal when the job's progress counter reaches `P` (the step of a march; `N + (N - n)`
/// at reverse step `n` of `generate`), so a test stops a job in a chosen phase without racing
/// it. The signal takes the same path as one from outside (handler, flag, poll).
pub const TEST_SIGNAL_ENV: &str = "NLFP_TEST_SIGNAL";

/// Signals received since the last [`SignalFlags::take`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// SIGUSR1 arrived.
    pub usr1: bool,
    /// SIGTERM (or SIGINT) arrived.
    pub term: bool,
}

/// Installed handlers and their flags.
pub struct SignalFlags {
    usr1: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
}

impl SignalFlags {
    /// Installs flag-setting handlers for SIGUSR1, SIGTERM and SIGINT.
    pub fn install() -> Result<SignalFlags, String> {
        let usr1 = Arc::new(AtomicBool::new(false));
        let term = Arc::new(AtomicBool::new(false));
        let register = |sig, flag: &Arc<AtomicBool>| {
            signal_hook::flag::register(sig, Arc::clone(flag))
                .map(|_| ())
                .map_err(|e| format!("cannot install a handler for signal {sig}: {e}"))
        };
        register(signal_hook::consts::SIGUSR1, &usr1)?;
        register(signal_hook::consts::SIGTERM, &term)?;
        register(signal_hook::consts::SIGINT, &term)?;
        Ok(SignalFlags { usr1, term })
    }

    /// The signals received since the last call, clearing them.
    pub fn take(&self) -> Received {
        Received {
            usr1: self.usr1.swap(false, Ordering::Relaxed),
            term: self.term.swap(false, Ordering::Relaxed),
        }
    }
}

/// This rank's checkpoint and stop requests, polled once per step: signals, a wall-clock
/// checkpoint timer (rank 0's clock decides, so the ranks never disagree about it), and the
/// fault injection of [`FAULT_INJECT_ENV`].
pub struct RequestPoller<'a> {
    signals: &'a SignalFlags,
    rank: usize,
    /// Seconds between timed checkpoints (0 = none).
    every_seconds: f64,
    /// Whether SIGUSR1 stops after its checkpoint (SIGTERM always does).
    usr1_stops: bool,
    last_checkpoint: Instant,
    fault: Option<u64>,
    test_signal: Option<(i32, u64)>,
}

impl<'a> RequestPoller<'a> {
    /// The poller of rank `rank`.
    pub fn new(
        signals: &'a SignalFlags,
        rank: usize,
        every_seconds: f64,
        usr1_stops: bool,
    ) -> Self {
        RequestPoller {
            signals,
            rank,
            every_seconds,
            usr1_stops,
            last_checkpoint: Instant::now(),
            fault: fault_injection(rank),
            test_signal: test_signal(),
        }
    }

    /// Sends this process the signal of [`TEST_SIGNAL_ENV`] when `progress` is its trigger.
    pub fn test_signal(&mut self, progress: u64) {
        if let Some((signal, at)) = self.test_signal {
            if at == progress {
                self.test_signal = None;
                let _ = signal_hook::low_level::raise(signal);
            }
        }
    }

    /// Restarts the checkpoint timer (after a checkpoint was written).
    pub fn checkpoint_written(&mut self) {
        self.last_checkpoint = Instant::now();
    }

    /// The requests before step `step + 1`. An error is a failure of this rank alone (the
    /// injected fault): the job must be aborted.
    pub fn poll(&mut self, step: u64) -> Result<Requests, String> {
        if self.fault == Some(step) {
            return Err(format!(
                "injected fault ({FAULT_INJECT_ENV}) on rank {} before step {}",
                self.rank,
                step + 1
            ));
        }
        let received = self.signals.take();
        let timer_due = self.rank == 0
            && self.every_seconds > 0.0
            && self.last_checkpoint.elapsed().as_secs_f64() >= self.every_seconds;
        if received.usr1 || received.term {
            log::warn!(
                "rank {}: {} received: checkpoint at the next step boundary{}",
                self.rank,
                if received.term { "SIGTERM" } else { "SIGUSR1" },
                if received.term || self.usr1_stops {
                    ", then stop (exit code 75)"
                } else {
                    ""
                }
            );
        }
        Ok(Requests {
            checkpoint: received.usr1 || received.term || timer_due,
            stop: received.term || (received.usr1 && self.usr1_stops),
        })
    }
}

fn test_signal() -> Option<(i32, u64)> {
    let spec = std::env::var(TEST_SIGNAL_ENV).ok()?;
    let (name, at) = spec.split_once('@')?;
    let signal = match name.trim() {
        "TERM" => signal_hook::consts::SIGTERM,
        "USR1" => signal_hook::consts::SIGUSR1,
        _ => return None,
    };
    Some((signal, at.trim().parse().ok()?))
}

fn fault_injection(rank: usize) -> Option<u64> {
    let spec = std::env::var(FAULT_INJECT_ENV).ok()?;
    let (r, s) = spec.split_once(':')?;
    (r.trim().parse::<usize>().ok()? == rank)
        .then(|| s.trim().parse::<u64>().ok())
        .flatten()
}
