//! The exact discrete time reversal of a forward step (MODEL.md section 6).
//!
//! Every forward step is a column-stochastic matrix, `f^{n+1} = P^n f^n`:
//!
//! ```text
//! euler:    P = I + dt L(f^n)
//! ssprk2:   P = 1/2 I + 1/2 (I + dt L(f*)) (I + dt L(f^n)),   f* = f^n + dt L(f^n)
//! implicit: P = (I - dt L(f^{n+1}))^-1
//! ```
//!
//! with `L(g)` the generator whose face rates `(k_plus, k_minus)` are evaluated at `g`. The reverse
//! step is `w^n = (P^n)^T w^{n+1}`; the reverse density is `u^n = f^n w^n`. `L^T` is applied by
//! [`stage::apply_transpose`] from the stored flux rates; the implicit transpose is a linear solve
//! `(I - dt L(f^{n+1}))^T w^n = w^{n+1}` with the distributed BiCGStab of [`super::krylov`].
//!
//! The explicit reversal of SSP-RK2, `w^n = 1/2 w + 1/2 A1^T (A2^T w)` with
//! `A1 = I + dt L(f^n)`, `A2 = I + dt L(f*)`, takes two rate passes and no other block-sized
//! pass: the rates of `f^n` (kept) with `f*` written in the same pass
//! ([`stage::flux_rates_and_update`], the bits of the forward stage 1); then the rates of `f*`
//! (kept) with `A2^T w` (held three rows at a time, only the block's edges stored) and, one row
//! behind, `w <- 1/2 w + 1/2 A1^T (A2^T w)` in place on the cells whose stencil reads no ghost
//! ([`stage::reverse_ssprk2_stages`]); the block's outermost rows and columns follow once the
//! ghosts of `A2^T w` are exchanged. Euler is one pass
//! ([`stage::flux_rates_and_transpose`]). Both rate sets stay kept for
//! [`ReverseStepper::step_rates`].
//!
//! The explicit reversals work in 1D, 2D and 3D (the z-faces of [`FaceRates`]) and are
//! bit-identical for any rank count (the same face rates from the same inputs, a fixed operation
//! order per cell, no sums). The implicit one (a 5-point, in 3D 7-point, transposed system) is
//! bit-identical too with the multigrid preconditioner (exact dot products); with block-Jacobi
//! ILU(0) it agrees across rank counts to the Krylov tolerance. `w = 1` is reproduced exactly by
//! every variant (`L^T 1 = 0` in floating point, and BiCGStab returns its exact initial guess),
//! so a reverse started from `u^N = f^N` returns `u^n = f^n` to round-off.

use std::time::{Duration, Instant};

use super::krylov::{self, KrylovControl, Stencil};
use super::linear::LinearSolver;
use super::{PreconditionerKind, StepperKind};
use crate::comm::{Comm, HaloExchange};
use crate::decomp::Block;
use crate::field::Field;
use crate::mesh::Mesh;
use crate::scheme::build::FamilyBuilder;
use crate::scheme::stage::{self, BlockGeometry, FaceRates, Scratch};
use crate::scheme::{FaceCoefficients, Family, SchemeKind};

/// What one reverse step did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReverseReport {
    /// Krylov iterations (implicit only).
    pub krylov_iterations: usize,
}

/// Reverse steps for one block: `w <- (P^n)^T w`.
pub trait ReverseStepper {
    /// Replaces `w` (owned cells) by `(P^n)^T w`, where step `n` went from `f_before` to
    /// `f_after` with step size `dt` (collective; refreshes the ghosts of all three fields).
    fn step(
        &mut self,
        comm: &Comm,
        f_before: &mut Field,
        f_after: &mut Field,
        dt: f64,
        w: &mut Field,
    ) -> Result<ReverseReport, String>;

    /// Wall time spent waiting for halo messages and in the transposed updates.
    fn timers(&self) -> ReverseTimers;

    /// The forward coefficients the last [`ReverseStepper::step`] used, lent to observers (the
    /// sample walk) so that they need not evaluate them again; `None` if not available.
    fn step_rates(&self) -> Option<StepRates<'_>> {
        None
    }
}

/// The generator coefficients of the last reverse step (see [`ReverseStepper::step_rates`]).
/// The ghosts of the states they were evaluated at (`f^n`, or `f^{n+1}` for implicit, and
/// `f*`) are current after the step.
#[derive(Clone, Copy, Debug)]
pub struct StepRates<'a> {
    /// Flux rates of `L(f^n)` (explicit) or `L(f^{n+1})` (implicit).
    pub rates: &'a FaceRates,
    /// SSP-RK2: `f* = f^n + dt L(f^n)` (ghosts current) and the flux rates of `L(f*)`.
    pub star: Option<(&'a Field, &'a FaceRates)>,
}

/// Where the reverse step spends its time.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReverseTimers {
    /// Halo exchanges of `f` and `w`.
    pub halo: Duration,
    /// Per-cell values and face rates of the forward states, with the updates fused into
    /// their passes (`f*`, the transposed stages of the explicit steppers).
    pub rates: Duration,
    /// Transposed updates outside the rate passes (the rim of the last SSP-RK2 stage) and
    /// linear solves.
    pub update: Duration,
}

/// Builds the reverse stepper matching a forward scheme/stepper pair.
pub fn build_reverse(
    mesh: &Mesh,
    block: &Block,
    coefficients: FaceCoefficients,
    scheme: SchemeKind,
    stepper: StepperKind,
    preconditioner: PreconditionerKind,
) -> Box<dyn ReverseStepper> {
    scheme.build(
        coefficients,
        TransposeBuilder {
            mesh,
            block,
            stepper,
            preconditioner,
        },
    )
}

/// [`build_reverse`] for one family.
struct TransposeBuilder<'a> {
    mesh: &'a Mesh,
    block: &'a Block,
    stepper: StepperKind,
    preconditioner: PreconditionerKind,
}

impl FamilyBuilder for TransposeBuilder<'_> {
    type Output = Box<dyn ReverseStepper>;

    fn build<F: Family + 'static>(self, family: F) -> Box<dyn ReverseStepper> {
        Box::new(Transpose::new(
            family,
            self.mesh,
            self.block,
            self.stepper,
            self.preconditioner,
        ))
    }
}

/// Exchanges the ghosts of `f`, computes its per-cell values (overlapped with the exchange) and
/// stores the flux rates `(k_plus, k_minus)` of `L(f)` at every face of the block in `rates`
/// (collective). Returns the time spent in the exchange.
pub fn exchange_and_rates<F: Family>(
    comm: &Comm,
    halo: &mut HaloExchange,
    family: &F,
    geom: &BlockGeometry,
    scratch: &mut Scratch<F::Aux>,
    f: &mut Field,
    rates: &mut FaceRates,
) -> Duration {
    let exchanged = exchange_with_aux(comm, halo, family, geom, scratch, f);
    stage::flux_rates(family, geom, f, scratch, &geom.whole(), rates);
    exchanged
}

/// Exchanges the ghosts of `f` and, for a family whose face passes read stored per-cell values,
/// fills them (the owned cells overlapped with the exchange, the ghosts after it). Returns the
/// time spent in the exchange.
fn exchange_with_aux<F: Family>(
    comm: &Comm,
    halo: &mut HaloExchange,
    family: &F,
    geom: &BlockGeometry,
    scratch: &mut Scratch<F::Aux>,
    f: &mut Field,
) -> Duration {
    let t0 = Instant::now();
    halo.exchange(comm, f, |f| {
        if stage::reads_stored_aux::<F>(geom) {
            stage::fill_aux_owned(family, f, &mut scratch.aux)
        }
    });
    let exchanged = t0.elapsed();
    if stage::reads_stored_aux::<F>(geom) {
        stage::fill_aux_ghosts(family, f, &mut scratch.aux);
    }
    exchanged
}

/// The transposed forward step of a flux family.
pub struct Transpose<F: Family> {
    family: F,
    geom: BlockGeometry,
    scratch: Scratch<F::Aux>,
    halo: HaloExchange,
    /// Rates at `f^n` (and, for implicit, at `f^{n+1}`).
    rates: FaceRates,
    /// SSP-RK2: rates at `f*`.
    rates_star: FaceRates,
    /// SSP-RK2: `f*`; a work field otherwise.
    star: Field,
    work: Field,
    stepper: StepperKind,
    krylov: KrylovControl,
    matrix: Stencil,
    linear: LinearSolver,
    timers: ReverseTimers,
}

impl<F: Family> Transpose<F> {
    /// A reverse stepper for `block` of `mesh`.
    pub fn new(
        family: F,
        mesh: &Mesh,
        block: &Block,
        stepper: StepperKind,
        preconditioner: PreconditionerKind,
    ) -> Self {
        let field = Field::for_dim(mesh.dim, block.nz, block.ny, block.nx);
        let geom = BlockGeometry::new(mesh, block);
        Transpose {
            family,
            scratch: Scratch::new(&field),
            halo: HaloExchange::new(block),
            rates: FaceRates::for_geometry(&geom),
            rates_star: FaceRates::for_geometry(&geom),
            geom,
            star: field.clone(),
            work: field,
            stepper,
            krylov: KrylovControl {
                tol: 1e-13,
                max_iterations: 2000,
            },
            matrix: Stencil::for_dim(mesh.dim, block.nz, block.ny, block.nx),
            linear: LinearSolver::new(preconditioner, mesh, block),
            timers: ReverseTimers::default(),
        }
    }

    /// Exchanges the ghosts of `f` and computes its per-cell values (overlapped with the
    /// exchange), then runs `pass` (the rate pass) on it; timers updated.
    fn exchange_and<R>(
        &mut self,
        comm: &Comm,
        f: &mut Field,
        pass: impl FnOnce(&F, &BlockGeometry, &mut Scratch<F::Aux>, &Field) -> R,
    ) -> R {
        let t0 = Instant::now();
        let Transpose {
            family,
            geom,
            scratch,
            halo,
            ..
        } = self;
        let exchanged = exchange_with_aux(comm, halo, family, geom, scratch, f);
        let r = pass(family, geom, scratch, f);
        self.timers.halo += exchanged;
        self.timers.rates += t0.elapsed().saturating_sub(exchanged);
        r
    }

    /// Exchanges the ghosts of `w`.
    fn exchange(&mut self, comm: &Comm, w: &mut Field) {
        let t0 = Instant::now();
        self.halo.exchange(comm, w, |_| ());
        self.timers.halo += t0.elapsed();
    }

    /// Solves `(I - dt L(f^{n+1}))^T x = w` (rates of `f^{n+1}` in `rates`), `x` starting from
    /// `w`, and stores it in `w`.
    fn implicit_transpose(&mut self, comm: &Comm, w: &mut Field, dt: f64) -> Result<usize, String> {
        let t0 = Instant::now();
        let (nx, ny, nz) = (self.geom.nx, self.geom.ny, self.geom.nz);
        let c = dt / self.geom.h;
        let a = &mut self.matrix;
        let dim3 = a.dim3();
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let cell = (k * ny + j) * nx + i;
                    let [west, east, south, north, down, up] = self.rates.outgoing3(k, j, i);
                    let plane = (west + east) + (south + north);
                    let out = if dim3 {
                        a.down[cell] = -c * down;
                        a.up[cell] = -c * up;
                        plane + (down + up)
                    } else {
                        plane
                    };
                    a.diag[cell] = 1.0 + c * out;
                    a.west[cell] = -c * west;
                    a.east[cell] = -c * east;
                    a.south[cell] = -c * south;
                    a.north[cell] = -c * north;
                }
            }
        }
        let mut b = vec![0.0; a.cells()];
        krylov::store(w, &mut b);
        let mut x = b.clone();
        let stats = self
            .linear
            .solve(
                comm,
                &mut self.halo,
                &self.matrix,
                true,
                &b,
                &mut x,
                self.krylov,
            )
            .map_err(|e| format!("reverse implicit step (dt = {dt:e}): {e}"))?;
        krylov::load(w, &x);
        self.timers.update += t0.elapsed();
        Ok(stats.iterations)
    }
}

impl<F: Family> ReverseStepper for Transpose<F> {
    fn step(
        &mut self,
        comm: &Comm,
        f_before: &mut Field,
        f_after: &mut Field,
        dt: f64,
        w: &mut Field,
    ) -> Result<ReverseReport, String> {
        match self.stepper {
            StepperKind::Euler => {
                // One pass over f^n: its rates (kept) and w^n = (I + dt L(f^n))^T w.
                self.exchange(comm, w);
                let mut rates = std::mem::replace(&mut self.rates, FaceRates::new(0, 0));
                let mut out = std::mem::replace(&mut self.work, Field::zeros(0, 0));
                self.exchange_and(comm, f_before, |fam, geom, scratch, f| {
                    let whole = geom.whole();
                    let c = dt / geom.h;
                    stage::flux_rates_and_transpose(
                        fam, geom, f, scratch, &whole, &mut rates, w, &mut out, c,
                    );
                });
                self.rates = rates;
                std::mem::swap(w, &mut out);
                self.work = out;
                Ok(ReverseReport::default())
            }
            StepperKind::Ssprk2 => {
                // w^n = 1/2 w + 1/2 A1^T (A2^T w), A1 = I + dt L(f^n), A2 = I + dt L(f*), in
                // two passes: (1) the rates of f^n (kept) and f* = f^n + dt L(f^n) (the bits
                // of the forward stage 1); (2) the rates of f* (kept), A2^T w (three rows at a
                // time, and the block's edges) and, one row behind, A1^T of that combined with
                // w in place; then, once the ghosts of A2^T w are exchanged, the outermost rows
                // and columns of the last stage.
                let mut rates = std::mem::replace(&mut self.rates, FaceRates::new(0, 0));
                let mut star = std::mem::replace(&mut self.star, Field::zeros(0, 0));
                self.exchange_and(comm, f_before, |fam, geom, scratch, f| {
                    let whole = geom.whole();
                    let c = dt / geom.h;
                    stage::flux_rates_and_update(
                        fam, geom, f, scratch, &whole, &mut rates, &mut star, c,
                    );
                });
                self.exchange(comm, w);
                let mut rates_star = std::mem::replace(&mut self.rates_star, FaceRates::new(0, 0));
                let mut a2w = std::mem::replace(&mut self.work, Field::zeros(0, 0));
                let rest = self.exchange_and(comm, &mut star, |fam, geom, scratch, s| {
                    stage::reverse_ssprk2_stages(
                        fam,
                        geom,
                        s,
                        scratch,
                        &mut rates_star,
                        &rates,
                        w,
                        &mut a2w,
                        dt / geom.h,
                    )
                });
                self.rates_star = rates_star;
                self.star = star;
                self.exchange(comm, &mut a2w);
                let t0 = Instant::now();
                for region in &rest {
                    stage::apply_transpose_combined_in_place(
                        &self.geom,
                        &a2w,
                        &rates,
                        w,
                        region,
                        dt / self.geom.h,
                    );
                }
                self.rates = rates;
                self.work = a2w;
                self.timers.update += t0.elapsed();
                Ok(ReverseReport::default())
            }
            StepperKind::Implicit => {
                let mut rates = std::mem::replace(&mut self.rates, FaceRates::new(0, 0));
                self.exchange_and(comm, f_after, |fam, geom, scratch, f| {
                    stage::flux_rates(fam, geom, f, scratch, &geom.whole(), &mut rates);
                });
                self.rates = rates;
                let krylov_iterations = self.implicit_transpose(comm, w, dt)?;
                Ok(ReverseReport { krylov_iterations })
            }
        }
    }

    fn timers(&self) -> ReverseTimers {
        self.timers
    }

    fn step_rates(&self) -> Option<StepRates<'_>> {
        Some(StepRates {
            rates: &self.rates,
            star: (self.stepper == StepperKind::Ssprk2).then_some((&self.star, &self.rates_star)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::ProcessGrid;
    use crate::scheme::stage::Region;
    use crate::scheme::Sg;

    /// A 1D Gaussian bump on a single block, forward Euler steps at the positivity bound.
    fn forward_states(steps: usize) -> (Mesh, Sg, BlockGeometry, Vec<Field>, Vec<f64>) {
        let mesh = Mesh::new(1, 41, 6.0);
        let block = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
        let geom = BlockGeometry::new(&mesh, &block);
        let fam = Sg::new(FaceCoefficients {
            diffusion: 1.0,
            kappa: 1.0,
            gamma: 3.0,
            h: mesh.h,
        });
        let mut f = Field::zeros(block.ny, block.nx);
        for i in 0..block.nx {
            let x = mesh.centre(i) - 1.0;
            let k = f.index(0, i as isize);
            f.raw_mut()[k] = (-x * x / 0.5).exp();
        }
        let mut scratch = Scratch::new(&f);
        let whole: Region = geom.whole();
        let (mut states, mut dts) = (vec![f.clone()], Vec::new());
        for _ in 0..steps {
            stage::fill_aux_owned(&fam, &f, &mut scratch.aux);
            let rate = stage::max_rate(&fam, &geom, &f, &mut scratch, &whole, None);
            let dt = 0.9 / rate;
            let mut next = f.clone();
            stage::apply(
                &fam,
                &geom,
                &f,
                &mut scratch,
                &mut next,
                &whole,
                dt / geom.h,
            );
            f = next;
            states.push(f.clone());
            dts.push(dt);
        }
        (mesh, fam, geom, states, dts)
    }

    /// Test 5 of issue 5: the naive reversal `u^n = u^{n+1} - dt L(u^{n+1})` (the backward heat
    /// equation `d_s u = -D Lap u - ...`) started from the exact `f^N` loses the forward states
    /// within a few dozen steps of a 200-step run: round-off and the O(dt^2) mismatch per step
    /// are amplified by up to `1 + 4 dt D / h^2` per step. The exact transposed step does not.
    #[test]
    fn naive_reversal_blows_up() {
        let steps = 200;
        let (_mesh, fam, geom, states, dts) = forward_states(steps);
        let whole = geom.whole();
        let mut u = states[steps].clone();
        let mut scratch = Scratch::new(&u);
        let l1 = |a: &Field, b: &Field| -> f64 {
            a.interior()
                .iter()
                .zip(b.interior().iter())
                .map(|(x, y)| (x - y).abs())
                .sum()
        };
        let mut blew_up_after = None;
        for n in (0..steps).rev() {
            stage::fill_aux_owned(&fam, &u, &mut scratch.aux);
            let mut prev = u.clone();
            stage::apply(
                &fam,
                &geom,
                &u,
                &mut scratch,
                &mut prev,
                &whole,
                -dts[n] / geom.h,
            );
            u = prev;
            let relative = l1(&u, &states[n]) / l1(&states[n], &Field::zeros(1, geom.nx));
            if relative > 1.0 || relative.is_nan() {
                blew_up_after = Some(steps - n);
                break;
            }
        }
        let after = blew_up_after.expect("the naive reversal did not blow up");
        eprintln!(
            "naive reversal: relative L1 error above 1 after {after} of {steps} reverse steps"
        );
        assert!(
            after <= 60,
            "relative error above 1 only after {after} reverse steps"
        );
    }

    /// The transposed Euler step keeps `w = 1` exactly and conserves `sum f^n w^n = sum f^{n+1} w^{n+1}`
    /// (the reverse mass) for arbitrary `w`, on a single block without communication.
    #[test]
    fn transposed_euler_step_is_the_adjoint() {
        let steps = 5;
        let (_mesh, fam, geom, states, dts) = forward_states(steps);
        let whole = geom.whole();
        let mut scratch = Scratch::new(&states[0]);
        let mut rates = FaceRates::new(1, geom.nx);
        let mut w = Field::zeros(1, geom.nx);
        for i in 0..geom.nx {
            let k = w.index(0, i as isize);
            w.raw_mut()[k] = 1.0 + 0.5 * (i as f64 * 0.7).sin();
        }
        for n in (0..steps).rev() {
            let f = &states[n];
            stage::fill_aux_owned(&fam, f, &mut scratch.aux);
            stage::flux_rates(&fam, &geom, f, &mut scratch, &whole, &mut rates);
            let mut out = w.clone();
            stage::apply_transpose(&geom, &w, &rates, &mut out, &whole, dts[n] / geom.h);
            // <f^{n+1}, w^{n+1}> = <P f^n, w> = <f^n, P^T w>.
            let before: f64 = states[n + 1]
                .interior()
                .iter()
                .zip(w.interior().iter())
                .map(|(a, b)| a * b)
                .sum();
            let after: f64 = f
                .interior()
                .iter()
                .zip(out.interior().iter())
                .map(|(a, b)| a * b)
                .sum();
            assert!(
                (before - after).abs() <= 1e-13 * before,
                "{before} vs {after}"
            );
            w = out;
        }
        let mut ones = Field::zeros(1, geom.nx);
        ones.interior_mut().fill(1.0);
        let mut out = ones.clone();
        stage::apply_transpose(&geom, &ones, &rates, &mut out, &whole, dts[0] / geom.h);
        assert!(out.interior().iter().all(|&v| v == 1.0));
    }
}
