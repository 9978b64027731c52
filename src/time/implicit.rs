//! Backward Euler with Newton–Krylov (MODEL.md section 5): solve
//!
//! ```text
//! R(f) = f - f^n - dt L_h(f) = 0
//! ```
//!
//! by Newton on the full nonlinear residual (coefficients are never lagged), with the Jacobian
//! `J = I - dt dL_h/df` assembled from the analytic face-flux derivatives of the family
//! ([`Family::flux_derivatives`]; an M-matrix for `upwind`; 5-point in 1D and 2D, 7-point in 3D
//! with the same formula on the z-faces), each linear system solved by the
//! distributed BiCGStab of [`super::krylov`] with the preconditioner of `time.preconditioner`
//! ([`super::linear`]: geometric multigrid by default, or block-Jacobi ILU(0)). Newton steps are
//! damped so iterates stay positive (below); `dt` is halved when Newton or Krylov fails and grown
//! by 1.5 after a step that took at most 3 Newton iterations, never above `dt_max`.
//!
//! Convergence is `max_c |R_c| / max(1, J_cc) <= tol * max(1, max f^n)` (a MAX reduction, with
//! the Jacobian diagonal of the previous Newton iterate, 1 before the first), so every rank takes
//! the same decisions. The diagonal scaling makes the test meaningful as `h` shrinks: the
//! round-off floor of `R_c` grows like `eps J_cc f_c` (`J_cc - 1 = dt` times the outgoing rates,
//! `~ dt / h^2`), and at n = 511 the unscaled residual stagnated at 1e-10 .. 3e-9 above its 3e-11
//! target (every Newton failure of the headline run); `|R_c| / J_cc` is the Jacobi estimate of
//! the remaining correction of `f_c`, in units of `f`.
//!
//! The step length `lambda` is limited only by cells the residual test can see
//! (`f_c > tol max(1, max f^n)`): every such cell keeps at least a tenth of its value; every cell
//! is then floored at a tenth of its value, so iterates stay strictly positive. (Limiting by every
//! cell let far-tail cells with `f ~ 1e-21`, whose updates are linear-solver noise, shrink the
//! step of the whole field tenfold per iteration: the multigrid Newton stall of issue 13.)
//!
//! The dot products inside the Krylov solver are exact sums, so with the multigrid preconditioner
//! results are bit-identical on every rank count and process grid; with block-Jacobi ILU(0) they
//! agree across rank counts to the solver tolerance.

use std::time::Instant;

use super::krylov::{self, KrylovControl, Stencil};
use super::linear::LinearSolver;
use super::{Requests, StageTimers, StepControl, StepReport, TimeStepper};
use crate::comm::{Comm, HaloExchange};
use crate::decomp::Block;
use crate::field::Field;
use crate::mesh::Mesh;
use crate::scheme::stage::{self, BlockGeometry, Scratch};
use crate::scheme::Family;

/// Newton and Krylov settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NewtonControl {
    /// Residual tolerance relative to `max(1, max f)`.
    pub tol: f64,
    /// Newton iterations before the step is retried with `dt / 2`.
    pub max_iterations: usize,
    /// The linear solver.
    pub krylov: KrylovControl,
    /// Smallest step before giving up.
    pub dt_min: f64,
}

impl Default for NewtonControl {
    fn default() -> Self {
        NewtonControl {
            tol: 1e-11,
            max_iterations: 12,
            krylov: KrylovControl {
                tol: 1e-8,
                max_iterations: 400,
            },
            dt_min: 1e-14,
        }
    }
}

/// Iteration totals of an implicit run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImplicitCounts {
    /// Newton iterations.
    pub newton: u64,
    /// Krylov iterations.
    pub krylov: u64,
    /// Step attempts rejected (dt halved).
    pub rejected: u64,
    /// Step attempts whose Newton iteration did not converge (a subset of `rejected`; the
    /// others are linear-solver failures).
    pub newton_failures: u64,
}

/// Backward Euler + Newton–Krylov for a flux family.
pub struct Implicit<F: Family> {
    family: F,
    geom: BlockGeometry,
    block: Block,
    scratch: Scratch<F::Aux>,
    halo: HaloExchange,
    iterate: Field,
    advanced: Field,
    jacobian: Stencil,
    linear: LinearSolver,
    control: StepControl,
    newton: NewtonControl,
    dt_next: f64,
    counts: ImplicitCounts,
    timers: StageTimers,
}

impl<F: Family> Implicit<F> {
    /// A stepper for `block` of `mesh`; the first step tries `dt_max`.
    pub fn new(family: F, mesh: &Mesh, block: &Block, control: StepControl) -> Self {
        let geom = BlockGeometry::new(mesh, block);
        let field = Field::for_dim(mesh.dim, block.nz, block.ny, block.nx);
        Implicit {
            family,
            geom,
            block: block.clone(),
            scratch: Scratch::new(&field),
            halo: HaloExchange::new(block),
            iterate: field.clone(),
            advanced: field,
            jacobian: Stencil::for_dim(mesh.dim, block.nz, block.ny, block.nx),
            linear: LinearSolver::new(control.preconditioner, mesh, block),
            control,
            newton: NewtonControl::default(),
            dt_next: control.dt_max,
            counts: ImplicitCounts::default(),
            timers: StageTimers::default(),
        }
    }

    /// Iteration totals so far.
    pub fn counts(&self) -> ImplicitCounts {
        self.counts
    }

    /// Refreshes the ghosts and per-cell values of the iterate.
    fn refresh(&mut self, comm: &Comm) {
        let t0 = Instant::now();
        let (family, scratch) = (&self.family, &mut self.scratch);
        self.halo.exchange(comm, &mut self.iterate, |f| {
            stage::fill_aux_owned(family, f, &mut scratch.aux)
        });
        stage::fill_aux_ghosts(&self.family, &self.iterate, &mut self.scratch.aux);
        self.timers.aux += t0.elapsed();
    }

    /// `R = f - f^n - dt L_h(f)` on the owned cells (cell order of [`Stencil`]), and `max |R|`.
    fn residual(&mut self, f_old: &Field, dt: f64, r: &mut [f64]) -> f64 {
        let t0 = Instant::now();
        let whole = self.geom.whole();
        stage::apply(
            &self.family,
            &self.geom,
            &self.iterate,
            &mut self.scratch,
            &mut self.advanced,
            &whole,
            dt / self.geom.h,
        );
        let nx = self.block.nx;
        let (f, old, adv) = (self.iterate.raw(), f_old.raw(), self.advanced.raw());
        let mut worst = 0.0f64;
        krylov::for_rows(&self.iterate, |c0, k0| {
            for i in 0..nx {
                let k = k0 + i;
                // advanced = f + dt L(f), so R = f - f^n - (advanced - f).
                let res = (f[k] - old[k]) - (adv[k] - f[k]);
                r[c0 + i] = res;
                worst = worst.max(res.abs());
            }
        });
        self.timers.update += t0.elapsed();
        worst
    }

    /// `J = I - dt dL_h/df` from the face-flux derivatives at the iterate (7-point in 3D).
    fn assemble(&mut self, dt: f64) {
        let (nx, ny, nz) = (self.block.nx, self.block.ny, self.block.nz);
        let c = dt / self.geom.h;
        let f = &self.iterate;
        let aux = &self.scratch.aux;
        let geom = &self.geom;
        let fam = &self.family;
        let a = &mut self.jacobian;
        let boundary = geom.boundary;
        let dim3 = a.dim3();
        let face = |k_l: usize, k_r: usize, x_f: f64| {
            fam.flux_derivatives(x_f, f.raw()[k_l], f.raw()[k_r], aux[k_l], aux[k_r])
        };
        let (s, ps) = (f.stride(), f.plane_stride());
        let zero = (0.0, 0.0);
        for kz in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let cell = (kz * ny + j) * nx + i;
                    let k = f.index3(kz as isize, j as isize, i as isize);
                    // West face i, east face i + 1, south face j, north face j + 1, down face
                    // kz, up face kz + 1; (dF/df_L, dF/df_R) of each.
                    let west = if i == 0 && boundary[0] {
                        zero
                    } else {
                        face(k - 1, k, geom.x_faces[i])
                    };
                    let east = if i + 1 == nx && boundary[1] {
                        zero
                    } else {
                        face(k, k + 1, geom.x_faces[i + 1])
                    };
                    let south = if j == 0 && boundary[2] {
                        zero
                    } else {
                        face(k - s, k, geom.y_faces[j])
                    };
                    let north = if j + 1 == ny && boundary[3] {
                        zero
                    } else {
                        face(k, k + s, geom.y_faces[j + 1])
                    };
                    let plane = (west.1 - east.0) + (south.1 - north.0);
                    let out = if dim3 {
                        let down = if kz == 0 && boundary[4] {
                            zero
                        } else {
                            face(k - ps, k, geom.z_faces[kz])
                        };
                        let up = if kz + 1 == nz && boundary[5] {
                            zero
                        } else {
                            face(k, k + ps, geom.z_faces[kz + 1])
                        };
                        a.down[cell] = -c * down.0;
                        a.up[cell] = c * up.1;
                        plane + (down.1 - up.0)
                    } else {
                        plane
                    };
                    a.diag[cell] = 1.0 - c * out;
                    a.west[cell] = -c * west.0;
                    a.east[cell] = c * east.1;
                    a.south[cell] = -c * south.0;
                    a.north[cell] = c * north.1;
                }
            }
        }
    }

    /// One backward-Euler solve with step `dt` from `f_old` into `self.iterate`; `None` on
    /// failure (collective: all ranks agree).
    fn solve(&mut self, comm: &Comm, f_old: &Field, dt: f64) -> Option<usize> {
        let n = self.block.cells();
        let (mut r, mut delta) = (vec![0.0; n], vec![0.0; n]);
        self.iterate.copy_interior_from(f_old);
        let scale = comm
            .max(f_old.interior3().iter().fold(0.0f64, |m, &v| m.max(v)))
            .max(1.0);
        // Per-cell scale of the convergence test: the Jacobian diagonal of the previous Newton
        // iterate, at least 1 (1 before the first assembly).
        let mut diag = vec![1.0; n];
        for iteration in 0..self.newton.max_iterations {
            self.refresh(comm);
            let local = self.residual(f_old, dt, &mut r);
            let scaled = r
                .iter()
                .zip(&diag)
                .fold(0.0f64, |m, (v, d)| m.max(v.abs() / d));
            let t0 = Instant::now();
            let reduced = comm.max_many(&[local, scaled]);
            let (worst, scaled) = (reduced[0], reduced[1]);
            self.timers.reduce += t0.elapsed();
            if !worst.is_finite() {
                self.counts.newton_failures += 1;
                return None;
            }
            if scaled <= self.newton.tol * scale {
                return Some(iteration);
            }
            self.counts.newton += 1;
            let t0 = Instant::now();
            self.assemble(dt);
            for (d, &a) in diag.iter_mut().zip(&self.jacobian.diag) {
                *d = a.max(1.0);
            }
            for v in r.iter_mut() {
                *v = -*v;
            }
            delta.fill(0.0);
            let solved = self.linear.solve(
                comm,
                &mut self.halo,
                &self.jacobian,
                false,
                &r,
                &mut delta,
                self.newton.krylov,
            );
            self.timers.rate += t0.elapsed();
            let stats = match solved {
                Ok(stats) => stats,
                Err(e) => {
                    // Every rank sees the same verdict; rank 0 tells why dt is halved.
                    if comm.is_root() {
                        log::warn!("implicit step dt = {dt:e}, Newton iteration {iteration}: {e}");
                    }
                    return None;
                }
            };
            self.counts.krylov += stats.iterations as u64;
            // Damping: the step length is limited by the cells that the residual test can see
            // (`f > tol max(1, max f)`), so that every such cell keeps at least a tenth of its
            // value; every cell (the far tail included) is then floored at a tenth of its value,
            // so iterates stay strictly positive where they are positive.
            let floor = self.newton.tol * scale;
            let nx = self.block.nx;
            let mut lambda = 1.0f64;
            let f = self.iterate.raw();
            krylov::for_rows(&self.iterate, |c0, k0| {
                for i in 0..nx {
                    let d = delta[c0 + i];
                    if d < 0.0 && f[k0 + i] > floor {
                        lambda = lambda.min(0.9 * f[k0 + i] / -d);
                    }
                }
            });
            let lambda = comm.min(lambda);
            if comm.is_root() {
                log::debug!(
                    "Newton dt = {dt:e}, iteration {iteration}: max |R| = {worst:e}, \
                     max |R / J_cc| = {scaled:e} (target {:e}), \
                     {} Krylov iterations to {:e}, step length {lambda}",
                    self.newton.tol * scale,
                    stats.iterations,
                    stats.relative_residual
                );
            }
            let mut rows = Vec::with_capacity(self.block.ny * self.block.nz);
            krylov::for_rows(&self.iterate, |c0, k0| rows.push((c0, k0)));
            let f = self.iterate.raw_mut();
            for (c0, k0) in rows {
                for i in 0..nx {
                    let v = f[k0 + i] + lambda * delta[c0 + i];
                    f[k0 + i] = v.max(0.1 * f[k0 + i]).max(0.0);
                }
            }
        }
        self.counts.newton_failures += 1;
        if comm.is_root() {
            log::debug!("implicit step dt = {dt:e}: Newton did not converge");
        }
        None
    }
}

impl<F: Family> TimeStepper for Implicit<F> {
    fn next_dt(
        &mut self,
        comm: &Comm,
        _f: &mut Field,
        t: f64,
        t_end: f64,
        requests: Requests,
    ) -> StepReport {
        let [r0, r1] = requests.encode();
        let reduced = comm.max_many(&[r0, r1]);
        StepReport {
            dt: self.dt_next.min(self.control.dt_max).min(t_end - t),
            max_rate: 0.0,
            rejected: 0,
            requests: Requests::decode(&reduced),
        }
    }

    fn step(
        &mut self,
        comm: &Comm,
        f: &mut Field,
        t: f64,
        t_end: f64,
        requests: Requests,
    ) -> StepReport {
        let mut report = self.next_dt(comm, f, t, t_end, requests);
        loop {
            match self.solve(comm, f, report.dt) {
                Some(iterations) => {
                    f.copy_interior_from(&self.iterate);
                    // Grow after an easy step; keep the step otherwise.
                    self.dt_next = if iterations <= 3 {
                        (1.5 * report.dt).min(self.control.dt_max)
                    } else {
                        report.dt
                    };
                    return report;
                }
                None => {
                    self.counts.rejected += 1;
                    report.rejected += 1;
                    report.dt *= 0.5;
                    self.dt_next = report.dt;
                    if report.dt < self.newton.dt_min {
                        // Give up loudly: the march stops on the non-finite field.
                        f.interior_mut().fill(f64::NAN);
                        return report;
                    }
                }
            }
        }
    }

    fn replay(&mut self, comm: &Comm, f: &mut Field, dt: f64) -> Result<(), String> {
        // `solve` starts from f^n whatever happened before, so the same dt gives the same bits.
        match self.solve(comm, f, dt) {
            Some(_) => {
                f.copy_interior_from(&self.iterate);
                Ok(())
            }
            None => Err(format!(
                "the replayed implicit step with dt = {dt:e} did not converge"
            )),
        }
    }

    fn timers(&self) -> StageTimers {
        self.timers
    }

    fn iteration_counts(&self) -> Option<(u64, u64)> {
        Some((self.counts.newton, self.counts.krylov))
    }

    fn failure_counts(&self) -> Option<(u64, u64)> {
        Some((self.counts.newton_failures, self.counts.rejected))
    }

    /// `[dt_next, newton, krylov, rejected, newton_failures]`.
    fn state(&self) -> Vec<f64> {
        vec![
            self.dt_next,
            self.counts.newton as f64,
            self.counts.krylov as f64,
            self.counts.rejected as f64,
            self.counts.newton_failures as f64,
        ]
    }

    /// Accepts the state of [`Implicit::state`], or its first four values (checkpoints written
    /// before `newton_failures` was counted: it restarts from 0).
    fn restore(&mut self, state: &[f64]) -> Result<(), String> {
        match state {
            [dt, newton, krylov, rejected, rest @ ..] if *dt > 0.0 && rest.len() <= 1 => {
                self.dt_next = *dt;
                self.counts = ImplicitCounts {
                    newton: *newton as u64,
                    krylov: *krylov as u64,
                    rejected: *rejected as u64,
                    newton_failures: rest.first().map_or(0, |&v| v as u64),
                };
                Ok(())
            }
            _ => Err(format!(
                "implicit stepper state has {} values, expected [dt_next, newton, krylov, \
                 rejected, newton_failures]",
                state.len()
            )),
        }
    }
}
