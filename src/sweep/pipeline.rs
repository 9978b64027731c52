//! The forward → record → start → reverse pipeline that `generate`, `filter` and `compare` run
//! (MODEL.md section 6; ARCHITECTURE.md principle 9), as phases with explicit state:
//!
//! 1. [`ForwardPhase`]: the forward march from the data `f^0` to `T`, recording every state in
//!    a trajectory store ([`super::trajectory`]); its state is the field, the march state (time,
//!    step, every step size), the stepper and the store.
//! 2. [`Recorded`]: the finished forward run; [`Recorded::start_state`] makes the reverse's
//!    start state `u^N` ([`super::start`]).
//! 3. [`ReversePhase`]: the reverse march from `u^N` to `u^0` ([`super::reverse`]), its state a
//!    [`ReverseState`] (step reached, `u`, `w`, counters); observers (the samplers) see every
//!    step.
//!
//! Each phase is a value between calls, so a driver can write what it needs after each one,
//! and a checkpointing driver can save and restore a phase's state between steps.

use super::checkpointer::Checkpointer;
use super::forward::{
    ForwardMarch, MarchControl, MarchError, MarchResult, MarchSink, MarchState, OutputCadence,
};
use super::observers::ReverseObserver;
use super::reverse::{
    ReverseKind, ReverseMarch, ReverseMethod, ReverseResult, ReverseState, StateMap,
};
use super::score::ScoreReverse;
use super::start::Start;
use super::trajectory::{StoreState, TrajectoryRecorder, TrajectoryStore};
use crate::comm::Comm;
use crate::decomp::Block;
use crate::diagnostics::DiagnosticsSetup;
use crate::field::Field;
use crate::io::checkpoint::Loaded;
use crate::io::csv::CsvWriter;
use crate::layout::Layout;
use crate::mesh::Mesh;
use crate::physics::ModelParams;
use crate::progress::ReverseProgress;
use crate::scheme::{FaceCoefficients, SchemeKind};
use crate::time::reverse::build_reverse;
use crate::time::{build_stepper, Requests, StepControl, StepperKind, TimeStepper};

/// The phase of a checkpoint written during the forward march of a pipeline.
pub const PHASE_FORWARD: &str = "forward";
/// The phase of a checkpoint written during the reverse march of a pipeline.
pub const PHASE_REVERSE: &str = "reverse";

/// The run a pipeline marches (runtime structs only).
pub struct Pipeline<'a> {
    /// Communicator.
    pub comm: &'a Comm,
    /// Mesh, process grid and this rank's block.
    pub layout: &'a Layout,
    /// Model parameters.
    pub params: ModelParams,
    /// The mass `m` (diagnostics, asymptotic start state).
    pub mass: f64,
    /// Forward flux family.
    pub scheme: SchemeKind,
    /// Forward stepper.
    pub stepper: StepperKind,
    /// Forward step control.
    pub control: StepControl,
    /// `T`, the step limit and the reporting cadences of the forward march.
    pub march: MarchControl,
}

impl<'a> Pipeline<'a> {
    /// The global grid.
    pub fn mesh(&self) -> &'a Mesh {
        &self.layout.mesh
    }

    /// This rank's block.
    pub fn block(&self) -> &'a Block {
        &self.layout.block
    }
}

impl Pipeline<'_> {
    /// The face coefficients of the model on this grid.
    pub fn coefficients(&self) -> FaceCoefficients {
        FaceCoefficients {
            diffusion: self.params.diffusion,
            kappa: self.params.kappa,
            gamma: self.params.gamma,
            h: self.mesh().h,
        }
    }

    /// A fresh forward stepper of the run's kind.
    pub fn forward_stepper(&self) -> Box<dyn TimeStepper> {
        build_stepper(
            self.mesh(),
            self.block(),
            self.coefficients(),
            self.scheme,
            self.stepper,
            self.control,
        )
    }

    /// Phase 1 at `t = 0`: the data `f0` (this rank's block), recording into `store`.
    pub fn forward(&self, f0: Field, store: Box<dyn TrajectoryStore>) -> ForwardPhase {
        ForwardPhase {
            f: f0,
            state: MarchState::start(),
            stepper: self.forward_stepper(),
            store,
        }
    }

    /// Phase 1 continued from a checkpoint of [`PHASE_FORWARD`]: its `f`, march state, stepper
    /// state, and the trajectory recorded so far restored into `store` (built for resuming).
    pub fn resume_forward(
        &self,
        loaded: &mut Loaded,
        mut store: Box<dyn TrajectoryStore>,
    ) -> Result<ForwardPhase, String> {
        let c = &loaded.state;
        let mut stepper = self.forward_stepper();
        stepper
            .restore(&c.stepper_state)
            .map_err(|e| format!("{}: {e}", loaded.path.display()))?;
        let state = MarchState::from(c);
        self.march
            .admits(&state)
            .map_err(|e| format!("{}: {e}", loaded.path.display()))?;
        let saved = StoreState::from_loaded(loaded)?;
        store.restore(self.comm, saved, &state.dt_history, state.step)?;
        Ok(ForwardPhase {
            f: std::mem::replace(&mut loaded.f, Field::zeros(0, 0)),
            state,
            stepper,
            store,
        })
    }

    /// The reverse method `kind` (`lambda`, `safety`: the stabilisation and positivity safety
    /// of the score method; `smoothing` maps its stored states).
    pub fn method(
        &self,
        kind: ReverseKind,
        lambda: f64,
        safety: f64,
        smoothing: Option<Box<dyn StateMap>>,
    ) -> ReverseMethod {
        match kind {
            ReverseKind::Exact => ReverseMethod::Exact(build_reverse(
                self.mesh(),
                self.block(),
                self.coefficients(),
                self.scheme,
                self.stepper,
                self.control.preconditioner,
            )),
            ReverseKind::Score => ReverseMethod::Score {
                reverse: Box::new(ScoreReverse::new(
                    self.mesh(),
                    self.block(),
                    self.params.diffusion,
                    self.params.kappa,
                    self.params.gamma,
                    lambda,
                    safety,
                )),
                smoothing,
            },
        }
    }
}

/// Phase 1: the forward march from the data, recording every state.
pub struct ForwardPhase {
    /// The forward state `f^n` (this rank's block).
    pub f: Field,
    /// Time, step and every step size so far.
    pub state: MarchState,
    /// The forward stepper (its own state: the implicit step controller).
    pub stepper: Box<dyn TimeStepper>,
    /// Where the states go.
    pub store: Box<dyn TrajectoryStore>,
}

impl ForwardPhase {
    /// Marches to `T` (or the step limit), recording every state (the start state too) and
    /// writing the forward diagnostics to `csv` (rank 0). Collective.
    pub fn run(&mut self, p: &Pipeline, csv: Option<CsvWriter>) -> Result<MarchResult, MarchError> {
        self.run_checkpointed(p, csv, None)
    }

    /// [`ForwardPhase::run`] with checkpoints of [`PHASE_FORWARD`] by `checkpoints` (at its
    /// cadences and on requests; the march state, the stepper's and what the store needs to go
    /// on). The march ends early ([`crate::sweep::forward::MarchEnd::Stopped`]) on a stop
    /// request. Collective.
    pub fn run_checkpointed(
        &mut self,
        p: &Pipeline,
        csv: Option<CsvWriter>,
        checkpoints: Option<&mut Checkpointer>,
    ) -> Result<MarchResult, MarchError> {
        let diagnostics = DiagnosticsSetup::new(p.params, p.mesh(), p.mass);
        let mut march = ForwardMarch {
            comm: p.comm,
            mesh: p.mesh(),
            block: p.block(),
            diagnostics: &diagnostics,
            csv,
        };
        let cadence = OutputCadence {
            snapshot_every: 0,
            snapshot_dt: 0.0,
            checkpoint_every: checkpoints.as_ref().map_or(0, |c| c.every_steps()),
        };
        let mut sink = CheckpointingRecorder {
            recorder: TrajectoryRecorder {
                comm: p.comm,
                store: self.store.as_mut(),
            },
            layout: p.layout,
            checkpoints,
        };
        march.run(
            self.stepper.as_mut(),
            &mut self.f,
            &mut self.state,
            p.march,
            cadence,
            &mut sink,
        )
    }

    /// The recorded run (after [`ForwardPhase::run`]).
    pub fn finish(self) -> Recorded {
        Recorded {
            f_end: self.f,
            state: self.state,
            store: self.store,
        }
    }
}

/// The sink of a forward phase: records every state; checkpoints when asked.
struct CheckpointingRecorder<'c, 'a> {
    recorder: TrajectoryRecorder<'c>,
    layout: &'c Layout,
    checkpoints: Option<&'c mut Checkpointer<'a>>,
}

impl MarchSink for CheckpointingRecorder<'_, '_> {
    fn snapshot(&mut self, _: &Field, _: &MarchState) -> Result<(), String> {
        Ok(())
    }

    fn checkpoint(
        &mut self,
        f: &Field,
        state: &MarchState,
        stepper_state: &[f64],
    ) -> Result<(), String> {
        let Some(c) = self.checkpoints.as_mut() else {
            return Ok(());
        };
        let saved = self
            .recorder
            .store
            .save(self.layout, state.step)
            .into_saved();
        c.write_at(state.step, PHASE_FORWARD, f, state, stepper_state, &saved)
            .map(|_| ())
    }

    fn poll(&mut self, step: u64) -> Result<Requests, String> {
        match self.checkpoints.as_mut() {
            Some(c) => c.poll(step),
            None => Ok(Requests::default()),
        }
    }

    fn after_step(&mut self, f: &Field, state: &MarchState) -> Result<(), String> {
        self.recorder.after_step(f, state)
    }
}

/// Between the phases: the recorded forward run.
pub struct Recorded {
    /// `f^N = f(T)` (this rank's block).
    pub f_end: Field,
    /// Time, step count and every step size of the forward run.
    pub state: MarchState,
    /// The recorded states `f^0, ..., f^N`.
    pub store: Box<dyn TrajectoryStore>,
}

impl Recorded {
    /// The recorded run of a checkpoint of [`PHASE_REVERSE`]: `f_end`, the march state and the
    /// states the reverse still needs restored into `store` (built for resuming).
    pub fn resume(
        comm: &Comm,
        loaded: &mut Loaded,
        mut store: Box<dyn TrajectoryStore>,
        reverse_step: u64,
    ) -> Result<Recorded, String> {
        let state = MarchState::from(&loaded.state);
        let f_end = loaded.take_field("f_end")?;
        let saved = StoreState::from_loaded(loaded)?;
        store.restore(comm, saved, &state.dt_history, reverse_step)?;
        Ok(Recorded {
            f_end,
            state,
            store,
        })
    }

    /// Phase 2: the start state `u^N` of `start`.
    pub fn start_state(&self, p: &Pipeline, start: Start) -> Field {
        start.state(&p.params, p.mesh(), p.block(), p.mass, &self.f_end)
    }

    /// Phase 3 at `n = N`: the reverse from `u` by `method`, writing the reverse diagnostics to
    /// `csv` (rank 0); `observer` sees the start. Collective.
    pub fn reverse<'a>(
        &mut self,
        p: &Pipeline<'a>,
        method: ReverseMethod,
        u: Field,
        csv: Option<CsvWriter>,
        observer: &mut dyn ReverseObserver,
    ) -> Result<ReversePhase<'a>, String> {
        let mut march = ReverseMarch {
            comm: p.comm,
            mesh: p.mesh(),
            block: p.block(),
            csv,
            method,
            progress: ReverseProgress::new(p.comm.is_root(), "reverse", p.march.progress_every),
        };
        let state = march.start(self.store.as_mut(), &self.state.dt_history, u, observer)?;
        Ok(ReversePhase { march, state })
    }

    /// Releases the store (removes scratch files; collective).
    pub fn finish(self, comm: &Comm) -> Result<(), String> {
        self.store.finish(comm)
    }
}

/// Phase 3: the reverse march and where it stands.
pub struct ReversePhase<'a> {
    /// The march (its method and diagnostics CSV).
    pub march: ReverseMarch<'a>,
    /// Where it stands.
    pub state: ReverseState,
}

impl ReversePhase<'_> {
    /// [`ReversePhase::run`], asking `pause` before every step (see
    /// [`ReverseMarch::run_until`]): `false` when paused at a step boundary.
    pub fn run_until(
        &mut self,
        recorded: &mut Recorded,
        observer: &mut dyn ReverseObserver,
        pause: &mut dyn FnMut(u64) -> bool,
    ) -> Result<bool, String> {
        self.march.run_until(
            recorded.store.as_mut(),
            &recorded.state.dt_history,
            &mut self.state,
            observer,
            pause,
        )
    }

    /// The reverse's part of a checkpoint of [`PHASE_REVERSE`] (`u` is the checkpoint's `f`):
    /// the march state ([`ReverseState::save`]), `f_end`, and the states the store still needs.
    pub fn save(&self, p: &Pipeline, recorded: &Recorded) -> crate::io::checkpoint::Saved {
        let mut saved = self.state.save();
        saved.fields.push(("f_end".into(), recorded.f_end.clone()));
        saved.extend(recorded.store.save(p.layout, self.state.step).into_saved());
        saved
    }

    /// Marches down to `n = 0`, reading the states of `recorded`; `observer` sees every step.
    pub fn run(
        &mut self,
        recorded: &mut Recorded,
        observer: &mut dyn ReverseObserver,
    ) -> Result<(), String> {
        self.march.run(
            recorded.store.as_mut(),
            &recorded.state.dt_history,
            &mut self.state,
            observer,
        )
    }

    /// `u^0` and what the march did (after [`ReversePhase::run`]).
    pub fn finish(mut self) -> (Field, ReverseResult) {
        let u = std::mem::replace(&mut self.state.u, Field::zeros(0, 0));
        (u, self.state.result())
    }
}
