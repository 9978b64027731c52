//! Coarse operators by rediscretising face rates, and the direct solve of the coarsest level.
//!
//! Every operator of the hierarchy is held in *face form*: a mass `m_c` per cell and, per face
//! between a cell `L` and its east (north) neighbour `R`, the rates `p` (L -> R) and `q`
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
//! spans with the transfer weights (1/2, 1, 1/2); the coarse mass is `R m`. With rates clamped
//! at zero every coarse operator is an M-matrix with column sums `m >= 0` (rows for the
//! transpose), whatever the fine Jacobian does near the condensate (its SG derivative terms can
//! make single couplings positive): coarse levels stay robust, and the true fine operator is
//! used where it matters, in the finest smoother and residual. Galerkin products with the
//! linear interpolation of [`super::axis`] would give 9-point coarse stencils that lose the
//! M-matrix sign pattern.

use super::axis::AxisTransfer;
use crate::field::Field;
use crate::time::krylov::Stencil5;

/// The face form of a level's operator on one block (ghosts filled by the caller).
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
}

impl FaceForm {
    /// Zero fields for an `ny x nx` block.
    pub fn zeros(ny: usize, nx: usize) -> FaceForm {
        let z = Field::zeros(ny, nx);
        FaceForm {
            m: z.clone(),
            pe: z.clone(),
            qe: z.clone(),
            pn: z.clone(),
            qn: z,
        }
    }

    /// The five fields, for exchanging and gathering.
    pub fn fields_mut(&mut self) -> [&mut Field; 5] {
        [
            &mut self.m,
            &mut self.pe,
            &mut self.qe,
            &mut self.pn,
            &mut self.qn,
        ]
    }

    /// The face form of a fine stencil `a` (the system matrix: `J`, or `J^T` if `transposed`),
    /// whose coefficients `coef = [diag, west, east, south, north]` are given as fields with
    /// current ghosts (zero across the physical boundary).
    pub fn from_stencil(coef: &[Field; 5], transposed: bool) -> FaceForm {
        let [d, w, e, s, n] = coef;
        let (ny, nx) = (d.ny(), d.nx());
        let mut out = FaceForm::zeros(ny, nx);
        let st = d.stride();
        for j in 0..ny {
            for i in 0..nx {
                let k = d.index(j as isize, i as isize);
                let (m, pe, qe, pn, qn) = if transposed {
                    // A = J^T: A[c][c+1] = -(rate c -> c+1), A[c+1][c] = -(rate c+1 -> c);
                    // the row sum of A is the column sum of J, the mass.
                    let m = d.raw()[k] + w.raw()[k] + e.raw()[k] + s.raw()[k] + n.raw()[k];
                    (
                        m,
                        -e.raw()[k],
                        -w.raw()[k + 1],
                        -n.raw()[k],
                        -s.raw()[k + st],
                    )
                } else {
                    // A = J: A[c+1][c] = -(rate c -> c+1); the column sum of J is the mass.
                    let m = d.raw()[k]
                        + w.raw()[k + 1]
                        + e.raw()[k - 1]
                        + s.raw()[k + st]
                        + n.raw()[k - st];
                    (
                        m,
                        -w.raw()[k + 1],
                        -e.raw()[k],
                        -s.raw()[k + st],
                        -n.raw()[k],
                    )
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
    /// reads the west and south neighbours' east and north rates from the ghosts.
    pub fn stencil(&self, transposed: bool) -> Stencil5 {
        let (ny, nx) = (self.m.ny(), self.m.nx());
        let mut a = Stencil5::zeros(ny, nx);
        let st = self.m.stride();
        let (m, pe, qe, pn, qn) = (
            self.m.raw(),
            self.pe.raw(),
            self.qe.raw(),
            self.pn.raw(),
            self.qn.raw(),
        );
        for j in 0..ny {
            for i in 0..nx {
                let c = j * nx + i;
                let k = self.m.index(j as isize, i as isize);
                // Rates out of c: east pe[c], west qe[c-1], north pn[c], south qn[c-s].
                a.diag[c] = m[k] + ((pe[k] + qe[k - 1]) + (pn[k] + qn[k - st]));
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

/// The coarse face form on the coarse cells `(cy0.., cx0..)` of extent `cny x cnx` (global
/// indices) from the fine face form `fine` of the block starting at fine `(y0, x0)` (ghosts
/// current), as row-major vectors `[m, pe, qe, pn, qn]`. Fixed summation order: the same bits
/// whichever rank computes a cell.
pub fn coarsen_faces(
    fine: &FaceForm,
    (y0, x0): (usize, usize),
    tx: &AxisTransfer,
    ty: &AxisTransfer,
    (cy0, cx0): (usize, usize),
    (cny, cnx): (usize, usize),
) -> [Vec<f64>; 5] {
    let at = |f: &Field, gj: usize, gi: usize| {
        f.raw()[f.index(gj as isize - y0 as isize, gi as isize - x0 as isize)]
    };
    let mut out: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; cny * cnx]);
    for cj in 0..cny {
        let gj = cy0 + cj;
        for ci in 0..cnx {
            let gi = cx0 + ci;
            let c = cj * cnx + ci;
            let mut mass = 0.0;
            for &(fj, wj) in &ty.restrict[gj] {
                for &(fi, wi) in &tx.restrict[gi] {
                    mass += (wj * wi) * at(&fine.m, fj, fi);
                }
            }
            out[0][c] = mass;
            if tx.halved {
                // East face: fine links 2I+1 -> 2I+2 -> 2I+3 in each row the coarse row spans.
                let (mut p, mut q) = (0.0, 0.0);
                for &(fj, wj) in &ty.restrict[gj] {
                    let (a, b) = (2 * gi + 1, 2 * gi + 2);
                    let (sp, sq) = series(
                        at(&fine.pe, fj, a),
                        at(&fine.qe, fj, a),
                        at(&fine.pe, fj, b),
                        at(&fine.qe, fj, b),
                    );
                    p += wj * sp;
                    q += wj * sq;
                }
                out[1][c] = p;
                out[2][c] = q;
            }
            if ty.halved {
                let (mut p, mut q) = (0.0, 0.0);
                for &(fi, wi) in &tx.restrict[gi] {
                    let (a, b) = (2 * gj + 1, 2 * gj + 2);
                    let (sp, sq) = series(
                        at(&fine.pn, a, fi),
                        at(&fine.qn, a, fi),
                        at(&fine.pn, b, fi),
                        at(&fine.qn, b, fi),
                    );
                    p += wi * sp;
                    q += wi * sq;
                }
                out[3][c] = p;
                out[4][c] = q;
            }
        }
    }
    out
}

/// A banded LU factorisation without pivoting of a global 5-point stencil in natural order
/// (bandwidth `nx`, or 1 in 1D): stable for the diagonally dominant M-matrices of the hierarchy.
#[derive(Clone, Debug)]
pub struct BandLu {
    n: usize,
    bw: usize,
    lu: Vec<f64>,
}

impl BandLu {
    /// Whether a `ny x nx` grid is small enough for the direct solve (`cells * bw^2 <= 2^24`).
    pub fn affordable(ny: usize, nx: usize) -> bool {
        let bw = if ny > 1 { nx } else { 1 };
        nx * ny * bw * bw <= 1 << 24
    }

    /// Factorises the stencil `a` of the whole grid; fails on a zero or non-finite pivot.
    pub fn new(a: &Stencil5) -> Result<BandLu, String> {
        let (nx, ny) = (a.nx, a.ny);
        let n = nx * ny;
        let bw = if ny > 1 { nx } else { 1 };
        let width = 2 * bw + 1;
        let mut lu = vec![0.0; n * width];
        let at = |r: usize, c: usize| r * width + c + bw - r;
        for j in 0..ny {
            for i in 0..nx {
                let k = j * nx + i;
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

    #[test]
    fn band_lu_solves_a_stencil() {
        let (ny, nx) = (4, 5);
        let mut a = Stencil5::zeros(ny, nx);
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
