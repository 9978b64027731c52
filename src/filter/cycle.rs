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
//! The trajectory is kept in memory (a [`MemoryStore`]).

use std::time::Instant;

use crate::comm::Comm;
use crate::decomp::Block;
use crate::diagnostics::DiagnosticsSetup;
use crate::field::Field;
use crate::filter::smooth::Smoother;
use crate::mesh::Mesh;
use crate::physics::ModelParams;
use crate::scheme::{FaceCoefficients, SchemeKind};
use crate::sweep::forward::OutputCadence;
use crate::sweep::forward::{ForwardMarch, MarchControl, MarchError, MarchState};
use crate::sweep::reverse::{asymptotic_state, NoObserver, ReverseMarch, ReverseMethod};
use crate::sweep::score::ScoreReverse;
use crate::sweep::trajectory::TrajectoryRecorder;
use crate::sweep::trajectory::{MemoryStore, TrajectoryStore};
use crate::time::reverse::build_reverse;
use crate::time::{build_stepper, StepControl, StepperKind};

/// The reverse of a filtering cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Exact discrete reversal from the terminal state (the identity).
    ExactTerminal,
    /// Exact discrete reversal from the asymptotic state.
    ExactAsymptotic,
    /// Score-based reverse from the terminal state, score of the smoothed forward states.
    Score,
    /// Score-based reverse from the asymptotic state.
    ScoreAsymptotic,
}

impl Variant {
    /// Every variant, in the order of the config's messages.
    pub const ALL: [Variant; 4] = [
        Variant::ExactTerminal,
        Variant::ExactAsymptotic,
        Variant::Score,
        Variant::ScoreAsymptotic,
    ];

    /// Config name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::ExactTerminal => "exact_terminal",
            Variant::ExactAsymptotic => "exact_asymptotic",
            Variant::Score => "score",
            Variant::ScoreAsymptotic => "score_asymptotic",
        }
    }

    /// Whether the reverse starts from the asymptotic state.
    pub fn from_asymptotic(self) -> bool {
        matches!(self, Variant::ExactAsymptotic | Variant::ScoreAsymptotic)
    }

    /// Whether the reverse is the score-based one.
    pub fn is_score(self) -> bool {
        matches!(self, Variant::Score | Variant::ScoreAsymptotic)
    }
}

/// Everything a cycle needs (runtime structs only).
pub struct CycleSetup<'a> {
    /// Communicator.
    pub comm: &'a Comm,
    /// Global grid.
    pub mesh: &'a Mesh,
    /// This rank's block.
    pub block: &'a Block,
    /// Model parameters.
    pub params: ModelParams,
    /// Mass `m` of the densities (for the asymptotic state).
    pub mass: f64,
    /// Forward flux family.
    pub scheme: SchemeKind,
    /// Forward stepper.
    pub stepper: StepperKind,
    /// Forward step control.
    pub control: StepControl,
    /// `T`.
    pub t_end: f64,
    /// Forward step limit.
    pub max_steps: u64,
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

/// Runs one cycle of `variant` from `g` (owned cells), replacing it by the result. Collective;
/// errors are known to every rank.
pub fn run_cycle(s: &CycleSetup, variant: Variant, g: &mut Field) -> Result<CycleReport, String> {
    let comm = s.comm;
    let coefficients = FaceCoefficients {
        diffusion: s.params.diffusion,
        kappa: s.params.kappa,
        gamma: s.params.gamma,
        h: s.mesh.h,
    };
    // 1. Forward to T, recording.
    let start = Instant::now();
    let mut store = MemoryStore::new();
    let diagnostics = DiagnosticsSetup::new(s.params, s.mesh, s.mass);
    let mut march = ForwardMarch {
        comm,
        mesh: s.mesh,
        block: s.block,
        diagnostics: &diagnostics,
        csv: None,
    };
    let mut stepper = build_stepper(
        s.mesh,
        s.block,
        coefficients,
        s.scheme,
        s.stepper,
        s.control,
    );
    let mut f = g.clone();
    let mut state = MarchState::start();
    let control = MarchControl {
        t_end: s.t_end,
        max_steps: s.max_steps,
        diagnostics_every: u64::MAX,
        progress_every: f64::INFINITY,
    };
    let cadence = OutputCadence {
        snapshot_every: 0,
        snapshot_dt: 0.0,
        checkpoint_every: 0,
    };
    let mut sink = TrajectoryRecorder {
        comm,
        store: &mut store,
    };
    march
        .run(
            stepper.as_mut(),
            &mut f,
            &mut state,
            control,
            cadence,
            &mut sink,
        )
        .map_err(|e| match e {
            MarchError::Global(m) | MarchError::Local(m) => m,
        })?;
    let forward_seconds = start.elapsed().as_secs_f64();

    // 2. The start state.
    let mut u = if variant.from_asymptotic() {
        asymptotic_state(&s.params, s.mesh, s.block, s.mass)
    } else {
        f.clone()
    };
    let vol = s.mesh.cell_volume();
    let local: f64 = u
        .interior()
        .iter()
        .zip(f.interior().iter())
        .map(|(a, b)| (a - b).abs())
        .sum();
    let start_error = comm.sum_many(&[local * vol])[0];

    // 3. The reverse.
    let start = Instant::now();
    let steps = state.dt_history.len();
    let mut reverse_substeps = 0u64;
    if variant.is_score() {
        let mut rev = ScoreReverse::new(
            s.mesh,
            s.block,
            s.params.diffusion,
            s.params.kappa,
            s.params.gamma,
            s.lambda,
            s.safety,
        );
        let mut smoother = Smoother::new(s.mesh.dim, s.block, s.smoothing);
        let (ny, nx) = (s.block.ny, s.block.nx);
        let mut fh_after = Field::zeros(ny, nx);
        let mut fh_before = Field::zeros(ny, nx);
        store.fetch(comm, steps as u64, &mut fh_after)?;
        smoother.apply(comm, &mut fh_after);
        for n in (0..steps).rev() {
            store.fetch(comm, n as u64, &mut fh_before)?;
            smoother.apply(comm, &mut fh_before);
            let dt = state.dt_history[n];
            reverse_substeps +=
                rev.interval(comm, &mut u, &mut fh_after, &mut fh_before, dt) as u64;
            std::mem::swap(&mut fh_after, &mut fh_before);
        }
    } else {
        let mut rev = build_reverse(s.mesh, s.block, coefficients, s.scheme, s.stepper);
        let mut reverse_march = ReverseMarch {
            comm,
            mesh: s.mesh,
            block: s.block,
            csv: None,
        };
        reverse_march.run(
            ReverseMethod::Exact(rev.as_mut()),
            &mut store,
            &state.dt_history,
            &mut u,
            &mut NoObserver,
        )?;
    }
    let reverse_seconds = start.elapsed().as_secs_f64();
    let finite = u.interior().iter().all(|v| v.is_finite());
    if comm.any(!finite) {
        return Err(format!(
            "{}: non-finite density after the reverse",
            variant.name()
        ));
    }
    g.copy_interior_from(&u);
    Ok(CycleReport {
        forward_steps: state.step,
        reverse_substeps,
        start_error,
        forward_seconds,
        reverse_seconds,
    })
}
