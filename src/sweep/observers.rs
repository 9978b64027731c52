//! What sees the reverse march step by step: the samplers that carry particles back along
//! with the reverse density ([`crate::samplers`]). One trait, [`ReverseObserver`], and one
//! combinator, [`Observers`] (several observers in order; none at all when empty).

use crate::comm::Comm;
use crate::field::Field;
use crate::time::reverse::StepRates;

/// One reverse step as an observer sees it: step `n` of the forward run (from `f_before =
/// f^n` to `f_after = f^{n+1}`, of size `dt`) has just been reversed, giving `u = u^n`.
pub struct ReverseStep<'a> {
    /// The forward step index `n`.
    pub n: u64,
    /// Its size.
    pub dt: f64,
    /// `f^n`.
    pub f_before: &'a mut Field,
    /// `f^{n+1}`.
    pub f_after: &'a mut Field,
    /// `u^n`.
    pub u: &'a Field,
    /// The forward coefficients the reverse stepper used, when it lends them. Without them the
    /// ghosts of the fields are not guaranteed current: exchange them if needed.
    pub rates: Option<StepRates<'a>>,
}

impl ReverseStep<'_> {
    /// The same step, borrowed again (to hand it to one observer after another).
    pub fn reborrow(&mut self) -> ReverseStep<'_> {
        ReverseStep {
            n: self.n,
            dt: self.dt,
            f_before: &mut *self.f_before,
            f_after: &mut *self.f_after,
            u: self.u,
            rates: self.rates,
        }
    }
}

/// Sees every reverse step (e.g. to move samples along with the reverse density). Collective.
pub trait ReverseObserver {
    /// Called once before the first reverse step with the terminal forward state `f^N` and the
    /// start state `u^N`.
    fn start(&mut self, comm: &Comm, f_end: &mut Field, u_start: &Field) -> Result<(), String>;
    /// Called after every reverse step.
    fn step(&mut self, comm: &Comm, step: ReverseStep<'_>) -> Result<(), String>;
}

/// Several observers, called in order (none when empty).
#[derive(Default)]
pub struct Observers<'a>(pub Vec<&'a mut dyn ReverseObserver>);

impl ReverseObserver for Observers<'_> {
    fn start(&mut self, comm: &Comm, f_end: &mut Field, u_start: &Field) -> Result<(), String> {
        self.0
            .iter_mut()
            .try_for_each(|o| o.start(comm, f_end, u_start))
    }

    fn step(&mut self, comm: &Comm, mut step: ReverseStep<'_>) -> Result<(), String> {
        self.0
            .iter_mut()
            .try_for_each(|o| o.step(comm, step.reborrow()))
    }
}
