//! SIGUSR1 / SIGTERM as flags polled at step boundaries (never acted on inside a handler).
//!
//! * SIGUSR1: checkpoint at the next step boundary, then continue (or stop, by config).
//! * SIGTERM: checkpoint at the next step boundary and exit with code 75 ("requeue me").
//!
//! The flags are per process; the march ORs them across ranks inside the time-step reduction,
//! so a signal delivered to one rank (or forwarded by `mpirun` to all) reaches every rank within
//! one step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
