//! Distributed Krylov solver for the linear systems of the implicit stepper: BiCGStab, right
//! preconditioned by any [`Preconditioner`]: block Jacobi (an ILU(0) of each rank's block,
//! couplings to other ranks dropped) here, or the geometric multigrid V-cycle of
//! [`super::multigrid`].
//!
//! The operator is a 5-point stencil on the block,
//!
//! ```text
//! (A x)_c = diag_c x_c + west_c x_{c-e_x} + east_c x_{c+e_x} + south_c x_{c-e_y} + north_c x_{c+e_y},
//! ```
//!
//! which is the shape of the Jacobian of any two-point-flux finite-volume residual. Neighbours
//! across a rank boundary are read from the ghost layer after a halo exchange; couplings across the
//! physical boundary must be zero (zero-flux faces contribute none). Dot products and norms are
//! exact sums ([`crate::numeric::ExactSum`], combined by [`Comm::sum_exact_many`]) rounded once,
//! so they have the same bits on every rank count; every other operation is per cell. With a
//! preconditioner that does not depend on the decomposition (multigrid) the iterates are
//! therefore bit-identical on any rank count and process grid; block-Jacobi ILU(0) depends on
//! the blocks, so with it results agree across rank counts to the solver tolerance only.

use crate::comm::{Comm, HaloExchange};
use crate::field::Field;
use crate::numeric::ExactSum;

/// An approximate inverse `z = M^-1 r` on the owned cells of a block (collective: it may
/// communicate, and every rank calls it together). It must be a fixed linear map for the
/// duration of a solve.
pub trait Preconditioner {
    /// `z = M^-1 r`.
    fn apply(&mut self, comm: &Comm, r: &[f64], z: &mut [f64]);
}

impl Preconditioner for BlockIlu0 {
    fn apply(&mut self, _comm: &Comm, r: &[f64], z: &mut [f64]) {
        self.solve(r, z);
    }
}

/// A 5-point stencil operator on one block; coefficient vectors are indexed by owned cell,
/// row-major (`j nx + i`).
#[derive(Clone, Debug, PartialEq)]
pub struct Stencil5 {
    /// Owned cells along x.
    pub nx: usize,
    /// Owned cells along y.
    pub ny: usize,
    /// Coefficient of the cell itself.
    pub diag: Vec<f64>,
    /// Coefficient of the western neighbour.
    pub west: Vec<f64>,
    /// Coefficient of the eastern neighbour.
    pub east: Vec<f64>,
    /// Coefficient of the southern neighbour.
    pub south: Vec<f64>,
    /// Coefficient of the northern neighbour.
    pub north: Vec<f64>,
}

impl Stencil5 {
    /// A zero operator for an `ny x nx` block.
    pub fn zeros(ny: usize, nx: usize) -> Stencil5 {
        let z = vec![0.0; nx * ny];
        Stencil5 {
            nx,
            ny,
            diag: z.clone(),
            west: z.clone(),
            east: z.clone(),
            south: z.clone(),
            north: z,
        }
    }

    /// `y = A x` for owned values `x` (collective: exchanges the ghosts of `work`, which must
    /// have the block's shape).
    pub fn apply(
        &self,
        comm: &Comm,
        halo: &mut HaloExchange,
        x: &[f64],
        work: &mut Field,
        y: &mut [f64],
    ) {
        let (nx, ny) = (self.nx, self.ny);
        for j in 0..ny {
            let k = work.index(j as isize, 0);
            work.raw_mut()[k..k + nx].copy_from_slice(&x[j * nx..(j + 1) * nx]);
        }
        halo.exchange(comm, work, |_| ());
        let s = work.stride();
        let raw = work.raw();
        for j in 0..ny {
            let k0 = work.index(j as isize, 0);
            for i in 0..nx {
                let (c, k) = (j * nx + i, k0 + i);
                y[c] = self.diag[c] * raw[k]
                    + self.west[c] * raw[k - 1]
                    + self.east[c] * raw[k + 1]
                    + self.south[c] * raw[k - s]
                    + self.north[c] * raw[k + s];
            }
        }
    }
}

/// ILU(0) of one block's part of a [`Stencil5`] (natural row-major order; couplings to cells of
/// other ranks dropped): `L U` with `L` unit lower triangular (west, south) and `U` upper
/// (pivots `d`, east, north).
///
/// ```text
/// d_c = diag_c - west_c east_{c-1} / d_{c-1} - south_c north_{c-nx} / d_{c-nx}
/// ```
#[derive(Clone, Debug)]
pub struct BlockIlu0 {
    pivots: Vec<f64>,
    a: Stencil5,
}

impl BlockIlu0 {
    /// Factorises; fails on a zero or non-finite pivot.
    pub fn new(a: &Stencil5) -> Result<BlockIlu0, String> {
        let (nx, ny) = (a.nx, a.ny);
        let mut d = vec![0.0; nx * ny];
        for j in 0..ny {
            for i in 0..nx {
                let c = j * nx + i;
                let mut p = a.diag[c];
                if i > 0 {
                    p -= a.west[c] * a.east[c - 1] / d[c - 1];
                }
                if j > 0 {
                    p -= a.south[c] * a.north[c - nx] / d[c - nx];
                }
                if p == 0.0 || !p.is_finite() {
                    return Err(format!("ILU(0) pivot {p} at local cell ({j}, {i})"));
                }
                d[c] = p;
            }
        }
        Ok(BlockIlu0 {
            pivots: d,
            a: a.clone(),
        })
    }

    /// `z = (L U)^-1 r` on the owned cells (no communication).
    pub fn solve(&self, r: &[f64], z: &mut [f64]) {
        let (nx, ny, a, d) = (self.a.nx, self.a.ny, &self.a, &self.pivots);
        for j in 0..ny {
            for i in 0..nx {
                let c = j * nx + i;
                let mut v = r[c];
                if i > 0 {
                    v -= a.west[c] / d[c - 1] * z[c - 1];
                }
                if j > 0 {
                    v -= a.south[c] / d[c - nx] * z[c - nx];
                }
                z[c] = v;
            }
        }
        for j in (0..ny).rev() {
            for i in (0..nx).rev() {
                let c = j * nx + i;
                let mut v = z[c];
                if i + 1 < nx {
                    v -= a.east[c] * z[c + 1];
                }
                if j + 1 < ny {
                    v -= a.north[c] * z[c + nx];
                }
                z[c] = v / d[c];
            }
        }
    }
}

/// When a solve stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KrylovControl {
    /// Relative residual target `||b - A x|| <= tol ||b||`.
    pub tol: f64,
    /// Iteration limit.
    pub max_iterations: usize,
}

/// What a solve did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KrylovStats {
    /// Iterations (each costs two operator applications and two preconditioner solves).
    pub iterations: usize,
    /// Final `||b - A x||_2 / ||b||_2`.
    pub relative_residual: f64,
}

/// Global dot products `sum_k a_k b_k`, each the exact sum of the rounded products rounded
/// once: the same bits on every rank count (collective, one reduction).
pub fn dot_many(comm: &Comm, pairs: &[(&[f64], &[f64])]) -> Vec<f64> {
    let local: Vec<ExactSum> = pairs.iter().map(|(a, b)| ExactSum::dot(a, b)).collect();
    comm.sum_exact_many(&local)
}

/// Solves `A x = b` by right-preconditioned BiCGStab to `||b - A x|| <= tol ||b||`, starting from
/// `x` (collective; every rank returns the same verdict).
pub fn bicgstab(
    comm: &Comm,
    a: &Stencil5,
    halo: &mut HaloExchange,
    m: &mut dyn Preconditioner,
    b: &[f64],
    x: &mut [f64],
    control: KrylovControl,
) -> Result<KrylovStats, String> {
    let KrylovControl {
        tol,
        max_iterations,
    } = control;
    let n = b.len();
    let mut work = Field::zeros(a.ny, a.nx);
    let mut r = vec![0.0; n];
    a.apply(comm, halo, x, &mut work, &mut r);
    for (ri, bi) in r.iter_mut().zip(b) {
        *ri = bi - *ri;
    }
    let r_hat = r.clone();
    let norms = dot_many(comm, &[(b, b), (&r, &r)]);
    let b_norm = norms[0].sqrt();
    if b_norm == 0.0 {
        x.fill(0.0);
        return Ok(KrylovStats {
            iterations: 0,
            relative_residual: 0.0,
        });
    }
    let mut rel = norms[1].sqrt() / b_norm;
    let (mut rho, mut alpha, mut omega) = (1.0, 1.0, 1.0);
    let (mut v, mut p) = (vec![0.0; n], vec![0.0; n]);
    let (mut p_hat, mut s_hat, mut s, mut t) =
        (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for iteration in 0..max_iterations {
        if rel <= tol {
            return Ok(KrylovStats {
                iterations: iteration,
                relative_residual: rel,
            });
        }
        let rho_new = dot_many(comm, &[(&r_hat, &r)])[0];
        if rho_new == 0.0 || !rho_new.is_finite() {
            return Err(format!(
                "BiCGStab breakdown (rho = {rho_new}) at iteration {iteration}"
            ));
        }
        let beta = (rho_new / rho) * (alpha / omega);
        rho = rho_new;
        for k in 0..n {
            p[k] = r[k] + beta * (p[k] - omega * v[k]);
        }
        m.apply(comm, &p, &mut p_hat);
        a.apply(comm, halo, &p_hat, &mut work, &mut v);
        alpha = rho / dot_many(comm, &[(&r_hat, &v)])[0];
        for k in 0..n {
            s[k] = r[k] - alpha * v[k];
        }
        m.apply(comm, &s, &mut s_hat);
        a.apply(comm, halo, &s_hat, &mut work, &mut t);
        let ts = dot_many(comm, &[(&t, &s), (&t, &t)]);
        omega = if ts[1] > 0.0 { ts[0] / ts[1] } else { 0.0 };
        for k in 0..n {
            x[k] += alpha * p_hat[k] + omega * s_hat[k];
            r[k] = s[k] - omega * t[k];
        }
        rel = dot_many(comm, &[(&r, &r)])[0].sqrt() / b_norm;
        if !rel.is_finite() {
            return Err(format!("BiCGStab diverged at iteration {iteration}"));
        }
        if omega == 0.0 && rel > tol {
            return Err(format!(
                "BiCGStab stagnated (omega = 0) at iteration {iteration}"
            ));
        }
    }
    if rel <= tol {
        return Ok(KrylovStats {
            iterations: max_iterations,
            relative_residual: rel,
        });
    }
    Err(format!(
        "BiCGStab did not reach {tol:e} in {max_iterations} iterations (residual {rel:e})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ILU(0) of a 1-row or 1-column stencil (tridiagonal) is exact: solve == direct solve.
    #[test]
    fn ilu0_is_exact_for_a_tridiagonal_block() {
        let nx = 7;
        let mut a = Stencil5::zeros(1, nx);
        for i in 0..nx {
            a.diag[i] = 4.0 + i as f64 * 0.1;
            if i > 0 {
                a.west[i] = -1.0 - 0.05 * i as f64;
            }
            if i + 1 < nx {
                a.east[i] = -0.7;
            }
        }
        let m = BlockIlu0::new(&a).unwrap();
        let x: Vec<f64> = (0..nx).map(|i| (i as f64).sin() + 2.0).collect();
        let mut b = vec![0.0; nx];
        for i in 0..nx {
            b[i] = a.diag[i] * x[i]
                + if i > 0 { a.west[i] * x[i - 1] } else { 0.0 }
                + if i + 1 < nx {
                    a.east[i] * x[i + 1]
                } else {
                    0.0
                };
        }
        let mut z = vec![0.0; nx];
        m.solve(&b, &mut z);
        for i in 0..nx {
            assert!((z[i] - x[i]).abs() < 1e-14, "{i}: {} vs {}", z[i], x[i]);
        }
    }
}
