//! Distributed Krylov solver for the linear systems of the implicit stepper: BiCGStab, right
//! preconditioned by any [`Preconditioner`]: block Jacobi (an ILU(0) of each rank's block,
//! couplings to other ranks dropped) here, or the geometric multigrid V-cycle of
//! [`super::multigrid`].
//!
//! The operator is a 5-point stencil on the block (7-point in 3D),
//!
//! ```text
//! (A x)_c = diag_c x_c + west_c x_{c-e_x} + east_c x_{c+e_x} + south_c x_{c-e_y} + north_c x_{c+e_y}
//!           [+ down_c x_{c-e_z} + up_c x_{c+e_z}   in 3D],
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

/// A 5-point (1D, 2D) or 7-point (3D) stencil operator on one block; coefficient vectors are
/// indexed by owned cell, plane- then row-major (`(k ny + j) nx + i`). The z couplings `down`
/// and `up` are empty in 1D and 2D.
#[derive(Clone, Debug, PartialEq)]
pub struct Stencil {
    /// Owned cells along x.
    pub nx: usize,
    /// Owned cells along y.
    pub ny: usize,
    /// Owned cells along z (1 in 1D and 2D).
    pub nz: usize,
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
    /// Coefficient of the neighbour below (`k - 1`; 3D only, else empty).
    pub down: Vec<f64>,
    /// Coefficient of the neighbour above (`k + 1`; 3D only, else empty).
    pub up: Vec<f64>,
}

impl Stencil {
    /// A zero operator for an `ny x nx` block (1D, 2D).
    pub fn zeros(ny: usize, nx: usize) -> Stencil {
        let z = vec![0.0; nx * ny];
        Stencil {
            nx,
            ny,
            nz: 1,
            diag: z.clone(),
            west: z.clone(),
            east: z.clone(),
            south: z.clone(),
            north: z,
            down: Vec::new(),
            up: Vec::new(),
        }
    }

    /// A zero 7-point operator for an `nz x ny x nx` block (3D).
    pub fn zeros3(nz: usize, ny: usize, nx: usize) -> Stencil {
        let z = vec![0.0; nx * ny * nz];
        Stencil {
            nx,
            ny,
            nz,
            diag: z.clone(),
            west: z.clone(),
            east: z.clone(),
            south: z.clone(),
            north: z.clone(),
            down: z.clone(),
            up: z,
        }
    }

    /// The zero operator of a block in a `dim`-dimensional mesh.
    pub fn for_dim(dim: usize, nz: usize, ny: usize, nx: usize) -> Stencil {
        if dim == 3 {
            Stencil::zeros3(nz, ny, nx)
        } else {
            Stencil::zeros(ny, nx)
        }
    }

    /// Whether the operator has z couplings (3D).
    #[inline]
    pub fn dim3(&self) -> bool {
        !self.down.is_empty()
    }

    /// Owned cells.
    pub fn cells(&self) -> usize {
        self.diag.len()
    }

    /// A zero field of the operator's block shape (one ghost layer; 3D if the operator is).
    pub fn field(&self) -> Field {
        Field::for_dim(if self.dim3() { 3 } else { 2 }, self.nz, self.ny, self.nx)
    }

    /// The coefficient vectors `[diag, west, east, south, north]`, then `[down, up]` in 3D.
    pub fn coefficients(&self) -> Vec<&[f64]> {
        let mut v: Vec<&[f64]> = vec![&self.diag, &self.west, &self.east, &self.south, &self.north];
        if self.dim3() {
            v.extend([&self.down[..], &self.up[..]]);
        }
        v
    }

    /// The coefficient vectors, mutable, in the order of [`Stencil::coefficients`].
    pub fn coefficients_mut(&mut self) -> Vec<&mut Vec<f64>> {
        let dim3 = self.dim3();
        let mut v = vec![
            &mut self.diag,
            &mut self.west,
            &mut self.east,
            &mut self.south,
            &mut self.north,
        ];
        if dim3 {
            v.extend([&mut self.down, &mut self.up]);
        }
        v
    }

    /// `sum_nb a_nb x_nb` of owned cell `c` at flat index `k` of `x` (ghosts current): the
    /// off-diagonal part of row `c`, in a fixed order (the four in-plane neighbours, then in 3D
    /// the two z neighbours).
    #[inline(always)]
    pub fn off_diagonal(&self, c: usize, k: usize, x: &[f64], s: usize, ps: usize) -> f64 {
        let plane = self.west[c] * x[k - 1]
            + self.east[c] * x[k + 1]
            + self.south[c] * x[k - s]
            + self.north[c] * x[k + s];
        if self.down.is_empty() {
            plane
        } else {
            plane + self.down[c] * x[k - ps] + self.up[c] * x[k + ps]
        }
    }

    /// `(A x)_c` of owned cell `c` at flat index `k` of `x` (ghosts current).
    #[inline(always)]
    pub fn row(&self, c: usize, k: usize, x: &[f64], s: usize, ps: usize) -> f64 {
        let plane = self.diag[c] * x[k]
            + self.west[c] * x[k - 1]
            + self.east[c] * x[k + 1]
            + self.south[c] * x[k - s]
            + self.north[c] * x[k + s];
        if self.down.is_empty() {
            plane
        } else {
            plane + self.down[c] * x[k - ps] + self.up[c] * x[k + ps]
        }
    }

    /// `y = A x` for owned values `x` (collective: exchanges the ghosts of `work`, which must
    /// have the block's shape, [`Stencil::field`]).
    pub fn apply(
        &self,
        comm: &Comm,
        halo: &mut HaloExchange,
        x: &[f64],
        work: &mut Field,
        y: &mut [f64],
    ) {
        load(work, x);
        halo.exchange(comm, work, |_| ());
        let (s, ps) = (work.stride(), work.plane_stride());
        let raw = work.raw();
        for_rows(work, |c0, k0| {
            for i in 0..self.nx {
                y[c0 + i] = self.row(c0 + i, k0 + i, raw, s, ps);
            }
        });
    }
}

/// Calls `row(c0, k0)` for every owned row of `f` in storage order, with `c0` the owned-cell
/// index (`(k ny + j) nx`) and `k0` the flat storage index of the row's first owned cell.
#[inline]
pub fn for_rows(f: &Field, mut row: impl FnMut(usize, usize)) {
    let (nx, ny) = (f.nx(), f.ny());
    for k in 0..f.nz() {
        for j in 0..ny {
            row((k * ny + j) * nx, f.index3(k as isize, j as isize, 0));
        }
    }
}

/// Writes owned values `x` (cell order of [`Stencil`]) into the owned cells of `f`.
pub fn load(f: &mut Field, x: &[f64]) {
    let nx = f.nx();
    let mut rows = Vec::with_capacity(f.ny() * f.nz());
    for_rows(f, |c0, k0| rows.push((c0, k0)));
    let raw = f.raw_mut();
    for (c0, k0) in rows {
        raw[k0..k0 + nx].copy_from_slice(&x[c0..c0 + nx]);
    }
}

/// Reads the owned cells of `f` into `x` (cell order of [`Stencil`]).
pub fn store(f: &Field, x: &mut [f64]) {
    let nx = f.nx();
    let raw = f.raw();
    for_rows(f, |c0, k0| {
        x[c0..c0 + nx].copy_from_slice(&raw[k0..k0 + nx])
    });
}

/// ILU(0) of one block's part of a [`Stencil`] (natural order; couplings to cells of other
/// ranks dropped): `L U` with `L` unit lower triangular (west, south, down) and `U` upper
/// (pivots `d`, east, north, up).
///
/// ```text
/// d_c = diag_c - west_c east_{c-1} / d_{c-1} - south_c north_{c-nx} / d_{c-nx}
///              - down_c up_{c-nx ny} / d_{c-nx ny}        (3D)
/// ```
#[derive(Clone, Debug)]
pub struct BlockIlu0 {
    pivots: Vec<f64>,
    a: Stencil,
}

impl BlockIlu0 {
    /// Factorises; fails on a zero or non-finite pivot.
    pub fn new(a: &Stencil) -> Result<BlockIlu0, String> {
        let (nx, ny, nz) = (a.nx, a.ny, a.nz);
        let np = nx * ny;
        let mut d = vec![0.0; a.cells()];
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let c = k * np + j * nx + i;
                    let mut p = a.diag[c];
                    if i > 0 {
                        p -= a.west[c] * a.east[c - 1] / d[c - 1];
                    }
                    if j > 0 {
                        p -= a.south[c] * a.north[c - nx] / d[c - nx];
                    }
                    if k > 0 {
                        p -= a.down[c] * a.up[c - np] / d[c - np];
                    }
                    if p == 0.0 || !p.is_finite() {
                        return Err(format!("ILU(0) pivot {p} at local cell ({k}, {j}, {i})"));
                    }
                    d[c] = p;
                }
            }
        }
        Ok(BlockIlu0 {
            pivots: d,
            a: a.clone(),
        })
    }

    /// `z = (L U)^-1 r` on the owned cells (no communication).
    pub fn solve(&self, r: &[f64], z: &mut [f64]) {
        let (nx, ny, nz, a, d) = (self.a.nx, self.a.ny, self.a.nz, &self.a, &self.pivots);
        let np = nx * ny;
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let c = k * np + j * nx + i;
                    let mut v = r[c];
                    if i > 0 {
                        v -= a.west[c] / d[c - 1] * z[c - 1];
                    }
                    if j > 0 {
                        v -= a.south[c] / d[c - nx] * z[c - nx];
                    }
                    if k > 0 {
                        v -= a.down[c] / d[c - np] * z[c - np];
                    }
                    z[c] = v;
                }
            }
        }
        for k in (0..nz).rev() {
            for j in (0..ny).rev() {
                for i in (0..nx).rev() {
                    let c = k * np + j * nx + i;
                    let mut v = z[c];
                    if i + 1 < nx {
                        v -= a.east[c] * z[c + 1];
                    }
                    if j + 1 < ny {
                        v -= a.north[c] * z[c + nx];
                    }
                    if k + 1 < nz {
                        v -= a.up[c] * z[c + np];
                    }
                    z[c] = v / d[c];
                }
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
    a: &Stencil,
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
    let mut work = a.field();
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

    /// ILU(0) of a 1 x 1 x nz column of a 7-point stencil (tridiagonal along z) is exact, and a
    /// 3D block's pivots use the down/up couplings.
    #[test]
    fn ilu0_is_exact_for_a_z_column() {
        let nz = 6;
        let mut a = Stencil::zeros3(nz, 1, 1);
        assert!(a.dim3() && a.cells() == nz && a.coefficients().len() == 7);
        for k in 0..nz {
            a.diag[k] = 3.0 + 0.2 * k as f64;
            if k > 0 {
                a.down[k] = -1.0 - 0.1 * k as f64;
            }
            if k + 1 < nz {
                a.up[k] = -0.6;
            }
        }
        let x: Vec<f64> = (0..nz).map(|k| (k as f64 * 0.9).cos() + 1.5).collect();
        let b: Vec<f64> = (0..nz)
            .map(|k| {
                a.diag[k] * x[k]
                    + if k > 0 { a.down[k] * x[k - 1] } else { 0.0 }
                    + if k + 1 < nz { a.up[k] * x[k + 1] } else { 0.0 }
            })
            .collect();
        let mut z = vec![0.0; nz];
        BlockIlu0::new(&a).unwrap().solve(&b, &mut z);
        for k in 0..nz {
            assert!((z[k] - x[k]).abs() < 1e-14, "{k}: {} vs {}", z[k], x[k]);
        }
        // 2D operators have no z couplings.
        let flat = Stencil::zeros(3, 4);
        assert!(!flat.dim3() && flat.down.is_empty() && flat.coefficients().len() == 5);
    }

    /// ILU(0) of a 1-row or 1-column stencil (tridiagonal) is exact: solve == direct solve.
    #[test]
    fn ilu0_is_exact_for_a_tridiagonal_block() {
        let nx = 7;
        let mut a = Stencil::zeros(1, nx);
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
