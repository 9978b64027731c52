//! Coarse operators by rediscretising face rates, and the direct solve of the coarsest level.
//!
//! Every operator of the hierarchy is held in *face form*: a mass `m_c` per cell and, per face
//! between a cell `L` and its east (north; in 3D also up) neighbour `R`, the rates `p` (L -> R) and `q`
//! (R -> L) of the forward generator, so that the forward system is
//!
//! ```text
//! (J x)_c = m_c x_c + sum_faces of c [ rate out of c * x_c - rate into c * x_nb ]
//! ```
//!
//! (for the Newton Jacobian `J = I - dt dL/df`: `m = 1`, `p = (dt/h) dF/df_L`,
//! `q = -(dt/h) dF/df_R`); a transposed system (the exact implicit reverse) is `J^T` of the same
//! face form. Coarse faces rediscretise the fine ones. Along the normal, a coarse link spans two
//! fine links `a -> m -> b` in series; eliminating the middle cell with zero storage (steady
//! flux balance at `m`) gives the exact two-point flux
//!
//! ```text
//! P = p1 p2 / (q1 + p2),   Q = q1 q2 / (q1 + p2),
//! ```
//!
//! which is also what the Scharfetter–Gummel rates of the doubled cell give (`p = q = k`
//! diffusion: `k/2`; pure drift `q = 0`: `p`). Across the face the coarse rate sums the rows it
//! spans (in 3D the rows and planes: products of the transfer weights of the two tangential
//! axes) with the transfer weights (1/2, 1, 1/2); the coarse mass is `R m`. With rates clamped
//! at zero every coarse operator is an M-matrix with column sums `m >= 0` (rows for the
//! transpose), whatever the fine Jacobian does near the condensate (its SG derivative terms can
//! make single couplings positive): coarse levels stay robust, and the true fine operator is
//! used where it matters, in the finest smoother and residual. Galerkin products with the
//! linear interpolation of [`super::axis`] would give 9-point (3D: 27-point) coarse stencils that
//! lose the M-matrix sign pattern. The same code serves 1D, 2D and 3D: a kept axis has weight 1,
//! so the 1D and 2D arithmetic is the 2D code's bit for bit.

use super::axis::AxisTransfer;
use crate::field::Field;
use crate::time::krylov::{self, Stencil};

/// Global start or extent `[z, y, x]` of a box of cells.
pub type Dims = [usize; 3];

/// The face form of a level's operator on one block (ghosts filled by the caller); the up-face
/// rates exist in 3D only (empty placeholders otherwise).
#[derive(Clone, Debug)]
pub struct FaceForm {
    /// Mass per cell.
    pub m: Field,
    /// Rate cell -> east neighbour.
    pub pe: Field,
    /// Rate east neighbour -> cell.
    pub qe: Field,
    /// Rate cell -> north neighbour.
    pub pn: Field,
    /// Rate north neighbour -> cell.
    pub qn: Field,
    /// Rate cell -> upper neighbour (3D).
    pub pu: Field,
    /// Rate upper neighbour -> cell (3D).
    pub qu: Field,
    /// Whether the form is 3D (up faces exist).
    pub dim3: bool,
}

impl FaceForm {
    /// Zero fields for an `nz x ny x nx` block (`nz = 1` and no up faces unless `dim3`).
    pub fn zeros(dim3: bool, [nz, ny, nx]: Dims) -> FaceForm {
        let z = Field::for_dim(if dim3 { 3 } else { 2 }, nz, ny, nx);
        let up = if dim3 { z.clone() } else { Field::zeros(0, 0) };
        FaceForm {
            m: z.clone(),
            pe: z.clone(),
            qe: z.clone(),
            pn: z.clone(),
            qn: z,
            pu: up.clone(),
            qu: up,
            dim3,
        }
    }

    /// The fields (five, seven in 3D), for exchanging and gathering.
    pub fn fields_mut(&mut self) -> Vec<&mut Field> {
        let mut v = vec![
            &mut self.m,
            &mut self.pe,
            &mut self.qe,
            &mut self.pn,
            &mut self.qn,
        ];
        if self.dim3 {
            v.extend([&mut self.pu, &mut self.qu]);
        }
        v
    }

    /// The face form of a fine stencil `a` (the system matrix: `J`, or `J^T` if `transposed`),
    /// whose coefficients `coef` (in the order of [`Stencil::coefficients`]: diag, west, east,
    /// south, north, then down, up in 3D) are given as fields with current ghosts (zero across
    /// the physical boundary).
    pub fn from_stencil(coef: &[Field], transposed: bool) -> FaceForm {
        let dim3 = coef.len() == 7;
        let (d, w, e, s, n) = (&coef[0], &coef[1], &coef[2], &coef[3], &coef[4]);
        let mut out = FaceForm::zeros(dim3, [d.nz(), d.ny(), d.nx()]);
        let (st, ps) = (d.stride(), d.plane_stride());
        let mut rows = Vec::new();
        krylov::for_rows(d, |_, k0| rows.push(k0));
        let v = |f: &Field, k: usize| f.raw()[k];
        for k0 in rows {
            for k in k0..k0 + d.nx() {
                let (m, pe, qe, pn, qn) = if transposed {
                    // A = J^T: A[c][c+1] = -(rate c -> c+1), A[c+1][c] = -(rate c+1 -> c);
                    // the row sum of A is the column sum of J, the mass.
                    let m = v(d, k) + v(w, k) + v(e, k) + v(s, k) + v(n, k);
                    (m, -v(e, k), -v(w, k + 1), -v(n, k), -v(s, k + st))
                } else {
                    // A = J: A[c+1][c] = -(rate c -> c+1); the column sum of J is the mass.
                    let m = v(d, k) + v(w, k + 1) + v(e, k - 1) + v(s, k + st) + v(n, k - st);
                    (m, -v(w, k + 1), -v(e, k), -v(s, k + st), -v(n, k))
                };
                let m = if dim3 {
                    let (dn, up) = (&coef[5], &coef[6]);
                    let (pu, qu, mz) = if transposed {
                        (-v(up, k), -v(dn, k + ps), v(dn, k) + v(up, k))
                    } else {
                        (-v(dn, k + ps), -v(up, k), v(dn, k + ps) + v(up, k - ps))
                    };
                    out.pu.raw_mut()[k] = pu;
                    out.qu.raw_mut()[k] = qu;
                    m + mz
                } else {
                    m
                };
                out.m.raw_mut()[k] = m;
                out.pe.raw_mut()[k] = pe;
                out.qe.raw_mut()[k] = qe;
                out.pn.raw_mut()[k] = pn;
                out.qn.raw_mut()[k] = qn;
            }
        }
        out
    }

    /// The stencil of this face form on the owned cells (`J`, or `J^T` if `transposed`);
    /// reads the west, south and lower neighbours' east, north and up rates from the ghosts.
    pub fn stencil(&self, transposed: bool) -> Stencil {
        let (nz, ny, nx) = (self.m.nz(), self.m.ny(), self.m.nx());
        let mut a = Stencil::for_dim(if self.dim3 { 3 } else { 2 }, nz, ny, nx);
        let (st, ps) = (self.m.stride(), self.m.plane_stride());
        let (m, pe, qe, pn, qn) = (
            self.m.raw(),
            self.pe.raw(),
            self.qe.raw(),
            self.pn.raw(),
            self.qn.raw(),
        );
        let (pu, qu) = (self.pu.raw(), self.qu.raw());
        let mut rows = Vec::new();
        krylov::for_rows(&self.m, |c0, k0| rows.push((c0, k0)));
        for (c0, k0) in rows {
            for i in 0..nx {
                let (c, k) = (c0 + i, k0 + i);
                // Rates out of c: east pe[c], west qe[c-1], north pn[c], south qn[c-s], in 3D
                // up pu[c], down qu[c-ps].
                let plane = (pe[k] + qe[k - 1]) + (pn[k] + qn[k - st]);
                let out = if self.dim3 {
                    plane + (pu[k] + qu[k - ps])
                } else {
                    plane
                };
                a.diag[c] = m[k] + out;
                if transposed {
                    a.west[c] = -qe[k - 1];
                    a.east[c] = -pe[k];
                    a.south[c] = -qn[k - st];
                    a.north[c] = -pn[k];
                } else {
                    a.west[c] = -pe[k - 1];
                    a.east[c] = -qe[k];
                    a.south[c] = -pn[k - st];
                    a.north[c] = -qn[k];
                }
                if self.dim3 {
                    if transposed {
                        a.down[c] = -qu[k - ps];
                        a.up[c] = -pu[k];
                    } else {
                        a.down[c] = -pu[k - ps];
                        a.up[c] = -qu[k];
                    }
                }
            }
        }
        a
    }
}

/// Two links `a -> m -> b` in series, `(p1, q1)` then `(p2, q2)`, with negative rates clamped
/// to zero: `(p1 p2, q1 q2) / (q1 + p2)` (zero if nothing leaves `m`).
#[inline]
pub fn series(p1: f64, q1: f64, p2: f64, q2: f64) -> (f64, f64) {
    let (p1, q1, p2, q2) = (p1.max(0.0), q1.max(0.0), p2.max(0.0), q2.max(0.0));
    let den = q1 + p2;
    if den > 0.0 {
        (p1 * p2 / den, q1 * q2 / den)
    } else {
        (0.0, 0.0)
    }
}

/// The coarse face form on the coarse cells starting at global `[cz0, cy0, cx0]` of extent
/// `[cnz, cny, cnx]` from the fine face form `fine` of the block starting at fine
/// `[z0, y0, x0]` (ghosts current, edges and corners included), with the transfers
/// `[tz, ty, tx]`, as vectors `[m, pe, qe, pn, qn]` (then `pu, qu` in 3D) in cell order. Fixed
/// summation order: the same bits whichever rank computes a cell; a kept axis (weight 1)
/// leaves the 2D arithmetic unchanged.
pub fn coarsen_faces(
    fine: &FaceForm,
    [z0, y0, x0]: Dims,
    [tz, ty, tx]: [&AxisTransfer; 3],
    [cz0, cy0, cx0]: Dims,
    [cnz, cny, cnx]: Dims,
) -> Vec<Vec<f64>> {
    let at = |f: &Field, gk: usize, gj: usize, gi: usize| {
        f.raw()[f.index3(
            gk as isize - z0 as isize,
            gj as isize - y0 as isize,
            gi as isize - x0 as isize,
        )]
    };
    // The face pair `(p, q)` of coarse face `coarse + 1/2` along one axis: the fine links
    // `a = 2 coarse + 1` and `b = a + 1` in series ([`series`]), summed with the restriction
    // weights `w_outer w_inner` over the two other axes (`pos(along, outer, inner)` is the fine
    // cell `[k, j, i]`), outer index slowest: a fixed order, the same bits on every rank.
    let face_pair = |p_field: &Field,
                     q_field: &Field,
                     coarse: usize,
                     outer: &[(usize, f64)],
                     inner: &[(usize, f64)],
                     pos: &dyn Fn(usize, usize, usize) -> [usize; 3]| {
        let (a, b) = (2 * coarse + 1, 2 * coarse + 2);
        let (mut p, mut q) = (0.0, 0.0);
        for &(o, wo) in outer {
            for &(n, wn) in inner {
                let ([ka, ja, ia], [kb, jb, ib]) = (pos(a, o, n), pos(b, o, n));
                let (sp, sq) = series(
                    at(p_field, ka, ja, ia),
                    at(q_field, ka, ja, ia),
                    at(p_field, kb, jb, ib),
                    at(q_field, kb, jb, ib),
                );
                p += (wo * wn) * sp;
                q += (wo * wn) * sq;
            }
        }
        (p, q)
    };
    let count = if fine.dim3 { 7 } else { 5 };
    let mut out: Vec<Vec<f64>> = (0..count).map(|_| vec![0.0; cnz * cny * cnx]).collect();
    for ck in 0..cnz {
        let gk = cz0 + ck;
        for cj in 0..cny {
            let gj = cy0 + cj;
            for ci in 0..cnx {
                let gi = cx0 + ci;
                let c = (ck * cny + cj) * cnx + ci;
                let mut mass = 0.0;
                for &(fk, wk) in &tz.restrict[gk] {
                    for &(fj, wj) in &ty.restrict[gj] {
                        for &(fi, wi) in &tx.restrict[gi] {
                            mass += (wk * wj * wi) * at(&fine.m, fk, fj, fi);
                        }
                    }
                }
                out[0][c] = mass;
                // A halved axis: the fine links 2C+1 -> 2C+2 -> 2C+3 across coarse face C+1/2
                // in series, restricted over the two other axes.
                if tx.halved {
                    let pos = |x: usize, fk: usize, fj: usize| [fk, fj, x];
                    let (p, q) = face_pair(
                        &fine.pe,
                        &fine.qe,
                        gi,
                        &tz.restrict[gk],
                        &ty.restrict[gj],
                        &pos,
                    );
                    out[1][c] = p;
                    out[2][c] = q;
                }
                if ty.halved {
                    let pos = |y: usize, fk: usize, fi: usize| [fk, y, fi];
                    let (p, q) = face_pair(
                        &fine.pn,
                        &fine.qn,
                        gj,
                        &tz.restrict[gk],
                        &tx.restrict[gi],
                        &pos,
                    );
                    out[3][c] = p;
                    out[4][c] = q;
                }
                if fine.dim3 && tz.halved {
                    let pos = |z: usize, fj: usize, fi: usize| [z, fj, fi];
                    let (p, q) = face_pair(
                        &fine.pu,
                        &fine.qu,
                        gk,
                        &ty.restrict[gj],
                        &tx.restrict[gi],
                        &pos,
                    );
                    out[5][c] = p;
                    out[6][c] = q;
                }
            }
        }
    }
    out
}

/// A banded LU factorisation without pivoting of a global stencil in natural order
/// (bandwidth `nx ny` in 3D, `nx` in 2D, 1 in 1D): stable for the diagonally dominant
/// M-matrices of the hierarchy.
#[derive(Clone, Debug)]
pub struct BandLu {
    n: usize,
    bw: usize,
    lu: Vec<f64>,
}

/// Bandwidth of a global `[nz, ny, nx]` grid in natural order.
fn bandwidth([nz, ny, nx]: Dims) -> usize {
    if nz > 1 {
        nx * ny
    } else if ny > 1 {
        nx
    } else {
        1
    }
}

impl BandLu {
    /// Whether a `[nz, ny, nx]` grid is small enough for the direct solve
    /// (`cells * bw^2 <= 2^24`).
    pub fn affordable(dims: Dims) -> bool {
        let bw = bandwidth(dims);
        dims[0] * dims[1] * dims[2] * bw * bw <= 1 << 24
    }

    /// Factorises the stencil `a` of the whole grid; fails on a zero or non-finite pivot.
    pub fn new(a: &Stencil) -> Result<BandLu, String> {
        let (nx, ny, nz) = (a.nx, a.ny, a.nz);
        let n = a.cells();
        let np = nx * ny;
        let bw = bandwidth([nz, ny, nx]);
        let width = 2 * bw + 1;
        let mut lu = vec![0.0; n * width];
        let at = |r: usize, c: usize| r * width + c + bw - r;
        for kz in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let k = kz * np + j * nx + i;
                    lu[at(k, k)] = a.diag[k];
                    if i > 0 {
                        lu[at(k, k - 1)] = a.west[k];
                    }
                    if i + 1 < nx {
                        lu[at(k, k + 1)] = a.east[k];
                    }
                    if j > 0 {
                        lu[at(k, k - nx)] = a.south[k];
                    }
                    if j + 1 < ny {
                        lu[at(k, k + nx)] = a.north[k];
                    }
                    if kz > 0 {
                        lu[at(k, k - np)] = a.down[k];
                    }
                    if kz + 1 < nz {
                        lu[at(k, k + np)] = a.up[k];
                    }
                }
            }
        }
        for k in 0..n {
            let pivot = lu[at(k, k)];
            if pivot == 0.0 || !pivot.is_finite() {
                return Err(format!("coarsest-level LU: pivot {pivot} at cell {k}"));
            }
            let last = (k + bw).min(n - 1);
            for r in k + 1..=last {
                let l = lu[at(r, k)] / pivot;
                lu[at(r, k)] = l;
                if l != 0.0 {
                    for c in k + 1..=last {
                        lu[at(r, c)] -= l * lu[at(k, c)];
                    }
                }
            }
        }
        Ok(BandLu { n, bw, lu })
    }

    /// Solves in place (band triangular sweeps index `x` at the row and along the band).
    #[allow(clippy::needless_range_loop)]
    pub fn solve(&self, x: &mut [f64]) {
        let (n, bw) = (self.n, self.bw);
        let width = 2 * bw + 1;
        let at = |r: usize, c: usize| r * width + c + bw - r;
        for r in 0..n {
            let mut v = x[r];
            for c in r.saturating_sub(bw)..r {
                v -= self.lu[at(r, c)] * x[c];
            }
            x[r] = v;
        }
        for r in (0..n).rev() {
            let mut v = x[r];
            for c in r + 1..=(r + bw).min(n - 1) {
                v -= self.lu[at(r, c)] * x[c];
            }
            x[r] = v / self.lu[at(r, r)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_links() {
        assert_eq!(series(2.0, 2.0, 2.0, 2.0), (1.0, 1.0)); // diffusion: conductance halves
        assert_eq!(series(3.0, 0.0, 3.0, 0.0), (3.0, 0.0)); // drift: the rate is kept
        assert_eq!(series(1.0, 0.0, 0.0, 0.0), (0.0, 0.0)); // a closed link closes the chain
                                                            // Steady flux through a -> m -> b equals P x_a - Q x_b.
        let (p1, q1, p2, q2) = (1.5, 0.25, 0.75, 2.0);
        let (xa, xb) = (0.3, 1.7);
        let xm = (p1 * xa + q2 * xb) / (q1 + p2);
        let (pp, qq) = series(p1, q1, p2, q2);
        assert!(((p2 * xm - q2 * xb) - (pp * xa - qq * xb)).abs() < 1e-15);
    }

    /// The banded LU of a 3D 7-point stencil (bandwidth `nx ny`) solves it.
    #[test]
    fn band_lu_solves_a_3d_stencil() {
        let (nz, ny, nx) = (3, 4, 5);
        let mut a = Stencil::zeros3(nz, ny, nx);
        let np = nx * ny;
        for c in 0..nz * np {
            let (k, j, i) = (c / np, (c % np) / nx, c % nx);
            a.diag[c] = 7.0 + 0.1 * c as f64;
            a.west[c] = if i > 0 { -1.0 } else { 0.0 };
            a.east[c] = if i + 1 < nx { -0.5 } else { 0.0 };
            a.south[c] = if j > 0 { -1.2 } else { 0.0 };
            a.north[c] = if j + 1 < ny { -0.3 } else { 0.0 };
            a.down[c] = if k > 0 { -0.9 } else { 0.0 };
            a.up[c] = if k + 1 < nz { -1.1 } else { 0.0 };
        }
        let x: Vec<f64> = (0..nz * np).map(|c| (c as f64 * 0.37).sin()).collect();
        let at = |c: usize, d: isize| x[(c as isize + d) as usize];
        let mut b: Vec<f64> = (0..nz * np)
            .map(|c| {
                let (k, j, i) = (c / np, (c % np) / nx, c % nx);
                let (nxi, npi) = (nx as isize, np as isize);
                a.diag[c] * x[c]
                    + if i > 0 { a.west[c] * at(c, -1) } else { 0.0 }
                    + if i + 1 < nx {
                        a.east[c] * at(c, 1)
                    } else {
                        0.0
                    }
                    + if j > 0 { a.south[c] * at(c, -nxi) } else { 0.0 }
                    + if j + 1 < ny {
                        a.north[c] * at(c, nxi)
                    } else {
                        0.0
                    }
                    + if k > 0 { a.down[c] * at(c, -npi) } else { 0.0 }
                    + if k + 1 < nz {
                        a.up[c] * at(c, npi)
                    } else {
                        0.0
                    }
            })
            .collect();
        assert!(BandLu::affordable([nz, ny, nx]));
        assert!(!BandLu::affordable([20, 20, 20]));
        BandLu::new(&a).unwrap().solve(&mut b);
        for (u, v) in b.iter().zip(&x) {
            assert!((u - v).abs() < 1e-14);
        }
    }

    #[test]
    fn band_lu_solves_a_stencil() {
        let (ny, nx) = (4, 5);
        let mut a = Stencil::zeros(ny, nx);
        for j in 0..ny {
            for i in 0..nx {
                let c = j * nx + i;
                a.diag[c] = 5.0 + 0.1 * c as f64;
                a.west[c] = if i > 0 { -1.0 } else { 0.0 };
                a.east[c] = if i + 1 < nx { -0.5 } else { 0.0 };
                a.south[c] = if j > 0 { -1.2 } else { 0.0 };
                a.north[c] = if j + 1 < ny { -0.3 } else { 0.0 };
            }
        }
        let x: Vec<f64> = (0..nx * ny).map(|k| (k as f64 * 0.37).sin()).collect();
        let mut b = vec![0.0; nx * ny];
        for j in 0..ny {
            for i in 0..nx {
                let c = j * nx + i;
                let g = |d: isize| x[(c as isize + d) as usize];
                b[c] = a.diag[c] * x[c]
                    + if i > 0 { a.west[c] * g(-1) } else { 0.0 }
                    + if i + 1 < nx { a.east[c] * g(1) } else { 0.0 }
                    + if j > 0 {
                        a.south[c] * g(-(nx as isize))
                    } else {
                        0.0
                    }
                    + if j + 1 < ny {
                        a.north[c] * g(nx as isize)
                    } else {
                        0.0
                    };
            }
        }
        let lu = BandLu::new(&a).unwrap();
        lu.solve(&mut b);
        for (u, v) in b.iter().zip(&x) {
            assert!((u - v).abs() < 1e-14);
        }
    }
}
