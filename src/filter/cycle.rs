//! One filtering cycle: forward from the current density `g_k` to `T`, recording the trajectory,
//! then a reverse variant back to `t = 0`, giving `g_{k+1}`.
//!
//! Variants ([`Variant`]):
//! * `exact_terminal`: the exact discrete reversal from `f(T)` itself. It returns `g_k` to
//!   round-off: the identity, not a filter.
//! * `exact_asymptotic`: the exact discrete reversal from the data-independent asymptotic state
//!   of the same mass. The result is `g_k w^0` with `w^0` smooth (a maximum principle holds for
//!   `w`), so noise in `g_k` (the forward state at `t = 0`) is carried into `g_{k+1}`.
//! * `score`: the score-based reverse ([`crate::sweep::score::ScoreReverse`], stabilisation
//!   `lambda`) from `f(T)`, with the score taken of the smoothed forward states `S f(t)` (the
//!   binomial [`Smoother`] of width `smoothing` cells; 0 = the raw grid score).
//! * `score_asymptotic`: the same from the asymptotic state.
//!
//! A cycle is the pipeline of `nlfp generate` ([`crate::sweep::pipeline`]) without samples:
//! the trajectory is kept in memory (a [`MemoryStore`]), and the score variants map every
//! stored state by the smoother before its score is taken.

use crate::comm::Comm;
use crate::field::Field;
use crate::filter::smooth::Smoother;
use crate::names::named_enum;
use crate::sweep::observers::Observers;
use crate::sweep::pipeline::Pipeline;
use crate::sweep::reverse::{ReverseKind, StateMap};
use crate::sweep::start::StartKind;
use crate::sweep::trajectory::MemoryStore;

named_enum! {
    /// The reverse of a filtering cycle, selected by `filter.variant`.
    pub enum Variant {
        /// Exact discrete reversal from the terminal state (the identity: not a filter).
        ExactTerminal = "exact_terminal",
        /// Exact discrete reversal from the asymptotic state.
        ExactAsymptotic = "exact_asymptotic",
        /// Score-based reverse from the terminal state, score of the smoothed forward states.
        Score = "score",
        /// Score-based reverse from the asymptotic state.
        ScoreAsymptotic = "score_asymptotic",
    }
}

impl Variant {
    /// Whether the reverse starts from the asymptotic state.
    pub fn from_asymptotic(self) -> bool {
        matches!(self, Variant::ExactAsymptotic | Variant::ScoreAsymptotic)
    }

    /// Whether the reverse is the score-based one.
    pub fn is_score(self) -> bool {
        matches!(self, Variant::Score | Variant::ScoreAsymptotic)
    }
}

/// What a filtering cycle needs besides the pipeline of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CycleSettings {
    /// Stabilisation `lambda` of the score variants.
    pub lambda: f64,
    /// Smoothing width (cells) of the forward states before their score is taken.
    pub smoothing: f64,
    /// Positivity safety of the score sub-steps, `0 < safety <= 1`.
    pub safety: f64,
}

/// What one cycle did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CycleReport {
    /// Forward steps.
    pub forward_steps: u64,
    /// Score sub-steps (0 for the exact variants).
    pub reverse_substeps: u64,
    /// `||u(T) - f(T)||_1`.
    pub start_error: f64,
    /// Wall seconds of the forward and of the reverse.
    pub forward_seconds: f64,
    /// Wall seconds of the reverse.
    pub reverse_seconds: f64,
}

impl StateMap for Smoother {
    fn apply(&mut self, comm: &Comm, f: &mut Field) {
        Smoother::apply(self, comm, f);
    }
}

/// Runs one cycle of `variant` through the pipeline `p` (its forward march writing no
/// diagnostics) from `g` (owned cells), replacing it by the result. Collective; errors are
/// known to every rank.
pub fn run_cycle(
    p: &Pipeline,
    s: CycleSettings,
    variant: Variant,
    g: &mut Field,
) -> Result<CycleReport, String> {
    let name = |e: String| format!("{}: {e}", variant.name());
    // 1. Forward to T, recording.
    let mut forward = p.forward(g.clone(), Box::new(MemoryStore::new()));
    let march = forward.run(p, None).map_err(|e| e.message())?;
    let mut recorded = forward.finish();
    // 2. The start state.
    let start = if variant.from_asymptotic() {
        StartKind::Asymptotic
    } else {
        StartKind::Terminal
    };
    let u = recorded.start_state(p, start.into());
    // 3. The reverse.
    let (kind, smoothing) = if variant.is_score() {
        let smoother = Smoother::new(p.mesh().dim, p.block(), s.smoothing);
        (
            ReverseKind::Score,
            Some(Box::new(smoother) as Box<dyn StateMap>),
        )
    } else {
        (ReverseKind::Exact, None)
    };
    let method = p.method(kind, s.lambda, s.safety, smoothing);
    let mut none = Observers::default();
    let mut reverse = recorded
        .reverse(p, method, u, None, &mut none)
        .map_err(name)?;
    reverse.run(&mut recorded, &mut none).map_err(name)?;
    let (u, result) = reverse.finish();
    g.copy_interior_from(&u);
    Ok(CycleReport {
        forward_steps: march.steps,
        reverse_substeps: result.substeps,
        start_error: result.start_error,
        forward_seconds: march.wall.as_secs_f64(),
        reverse_seconds: result.wall.as_secs_f64(),
    })
}
