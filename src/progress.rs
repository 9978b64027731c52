//! One progress reporter for every phase that can run longer than a few seconds (forward march,
//! recomputed store segments, reverse sweep, walk and SDE sampler, particle steps, filter cycles,
//! study runs, compare probes).
//!
//! Rank 0 prints, at most every `output.progress_every` wall-clock seconds, one line in the same
//! format for every phase:
//!
//! ```text
//! [INFO] progress reverse   42.0%  840 / 2000 steps  elapsed 12s  ETA 17s  t = 1.160e0
//! ```
//!
//! the phase, the percentage of the phase's own unit done (`done / total`, clamped to
//! `[0, 100]`), the count in that unit, the elapsed wall time of the phase, an ETA that assumes the
//! remaining units cost what the done ones did (`elapsed (total - done) / done`), and optional
//! phase-specific fields (the implicit stepper adds its Newton and Krylov counts since the last
//! line). When standard error is a terminal the line is redrawn in place instead of scrolled;
//! in batch logs (not a terminal) every report is its own log line. Other ranks never print.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::sweep::forward::format_duration;

/// Progress of one phase, reported by rank 0.
pub struct Progress {
    phase: &'static str,
    unit: &'static str,
    /// Units at the start of the phase (a resumed march starts at its checkpoint's `t`).
    origin: f64,
    total: f64,
    every: Duration,
    start: Instant,
    last: Instant,
    /// Whether this rank prints (rank 0 only).
    prints: bool,
    /// Redraw one line in place (standard error is a terminal) rather than log lines.
    in_place: bool,
    /// Whether an in-place line is on screen (ended by a newline when the phase finishes).
    drawn: bool,
}

impl Progress {
    /// A reporter for `phase` counting `total` units named `unit` (plural), printing on rank 0
    /// (`is_root`) at most every `every_seconds`. The first report is due `every_seconds` after
    /// the phase starts.
    pub fn new(
        is_root: bool,
        phase: &'static str,
        unit: &'static str,
        total: f64,
        every_seconds: f64,
    ) -> Progress {
        let now = Instant::now();
        Progress {
            phase,
            unit,
            origin: 0.0,
            total,
            // Infinite (a silent phase): never due.
            every: Duration::try_from_secs_f64(every_seconds.max(0.0)).unwrap_or(Duration::MAX),
            start: now,
            last: now,
            prints: is_root,
            in_place: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    /// The same reporter for a phase that starts at `origin` units (percent and ETA count from
    /// there: `(done - origin) / (total - origin)`).
    pub fn starting_at(mut self, origin: f64) -> Progress {
        self.origin = origin;
        self
    }

    /// Whether a report is due (rank 0, `every` seconds since the last one).
    pub fn due(&self) -> bool {
        self.prints && self.last.elapsed() >= self.every
    }

    /// Reports `done` units if a report is due; `extra` (called only then) adds phase-specific
    /// fields to the line.
    pub fn tick(&mut self, done: f64, extra: impl FnOnce() -> String) {
        if self.due() {
            self.report(done, extra);
        }
    }

    /// Reports `done` units now (rank 0), due or not: the last line of a phase.
    pub fn report(&mut self, done: f64, extra: impl FnOnce() -> String) {
        if self.prints {
            let line = self.line(done, self.start.elapsed(), &extra());
            self.emit(&line);
            self.last = Instant::now();
        }
    }

    /// Ends the phase: an in-place line is closed by a newline (no further report).
    pub fn finish(&mut self) {
        if self.drawn {
            let _ = writeln!(std::io::stderr());
            self.drawn = false;
        }
    }

    /// The progress line for `done` units after `elapsed`, with `extra` appended when not empty.
    pub fn line(&self, done: f64, elapsed: Duration, extra: &str) -> String {
        let span = self.total - self.origin;
        let fraction = if span > 0.0 {
            ((done - self.origin) / span).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let secs = elapsed.as_secs_f64();
        let eta = if fraction > 0.0 {
            format_duration(secs * (1.0 - fraction) / fraction)
        } else {
            "?".into()
        };
        let mut line = format!(
            "progress {:<9} {:5.1}%  {} / {} {}  elapsed {}  ETA {eta}",
            self.phase,
            100.0 * fraction,
            count(done),
            count(self.total),
            self.unit,
            format_duration(secs),
        );
        if !extra.is_empty() {
            line.push_str("  ");
            line.push_str(extra);
        }
        line
    }

    fn emit(&mut self, line: &str) {
        if self.in_place {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
            self.drawn = true;
        } else {
            log::info!("{line}");
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The progress of an observer of the reverse sweep (the walk, the SDE sampler), which learns
/// how many steps there are from the first step it sees: forward step indices `n` count down
/// to 0, so after the first step `n_1` the phase has `n_1 + 1` steps and `n_1 + 1 - n` are
/// done after step `n`. The line for `n = 0` is always printed (the phase's last).
pub struct ReverseProgress {
    is_root: bool,
    phase: &'static str,
    every_seconds: f64,
    /// `(n_1 + 1, reporter)` from the first step on.
    started: Option<(u64, Progress)>,
}

impl ReverseProgress {
    /// A reporter for the observer `phase`, printing on rank 0 at most every `every_seconds`.
    pub fn new(is_root: bool, phase: &'static str, every_seconds: f64) -> ReverseProgress {
        ReverseProgress {
            is_root,
            phase,
            every_seconds,
            started: None,
        }
    }

    /// Step `n` has been observed; `extra` adds the observer's fields.
    pub fn step(&mut self, n: u64, extra: impl FnOnce() -> String) {
        let (is_root, phase, every) = (self.is_root, self.phase, self.every_seconds);
        let (steps, progress) = self.started.get_or_insert_with(|| {
            let steps = n + 1;
            let p = Progress::new(is_root, phase, "reverse steps", steps as f64, every);
            (steps, p)
        });
        let done = (*steps - n.min(*steps)) as f64;
        if n == 0 {
            progress.report(done, extra);
            progress.finish();
        } else {
            progress.tick(done, extra);
        }
    }
}

/// A count of units: an integer when it is one, else three significant digits.
fn count(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_names_phase_percent_count_and_eta() {
        let p = Progress::new(true, "walk", "sub-steps", 2000.0, 5.0);
        let line = p.line(500.0, Duration::from_secs(10), "");
        assert_eq!(
            line,
            "progress walk       25.0%  500 / 2000 sub-steps  elapsed 10s  ETA 30s"
        );
        let line = p.line(2000.0, Duration::from_secs(75), "newton 3  krylov 12");
        assert_eq!(
            line,
            "progress walk      100.0%  2000 / 2000 sub-steps  elapsed 1m15s  ETA 0s  newton 3  krylov 12"
        );
        // Nothing done yet: no ETA; beyond the total is clamped.
        assert!(p
            .line(0.0, Duration::from_secs(1), "")
            .contains("0.0%  0 / 2000"));
        assert!(p.line(0.0, Duration::from_secs(1), "").ends_with("ETA ?"));
        assert!(p
            .line(3000.0, Duration::from_secs(1), "")
            .contains("100.0%"));
        // A fractional unit (model time) keeps four significant digits; a resumed phase counts
        // from its origin.
        let t = Progress::new(true, "forward", "model time", 2.5, 5.0).starting_at(0.5);
        assert!(t
            .line(1.5, Duration::from_secs(4), "")
            .contains(" 50.0%  1.500e0 / 2.500e0 model time  elapsed 4s  ETA 4s"));
    }

    #[test]
    fn only_rank_zero_reports_and_only_when_due() {
        let mut other = Progress::new(false, "reverse", "steps", 10.0, 0.0);
        assert!(!other.due());
        other.tick(5.0, || {
            unreachable!("a rank other than 0 never formats a line")
        });
        let mut root = Progress::new(true, "reverse", "steps", 10.0, 0.0);
        assert!(root.due());
        let slow = Progress::new(true, "reverse", "steps", 10.0, 3600.0);
        assert!(!slow.due());
        let silent = Progress::new(true, "filter", "cycles", 10.0, f64::INFINITY);
        assert!(!silent.due());
        root.finish();
    }

    #[test]
    fn reverse_progress_counts_down_to_the_last_step() {
        let mut p = ReverseProgress::new(true, "walk", 3600.0);
        let mut lines = Vec::new();
        for n in (0..5u64).rev() {
            p.step(n, || {
                lines.push(n);
                String::new()
            });
        }
        // Not due before the last step; the last step (n = 0) always reports.
        assert_eq!(lines, vec![0]);
        let (steps, reporter) = p.started.as_ref().unwrap();
        assert_eq!(*steps, 5);
        assert!(reporter
            .line(5.0, Duration::from_secs(2), "")
            .contains("100.0%  5 / 5 reverse steps"));
    }
}
