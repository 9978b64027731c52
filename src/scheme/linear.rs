//! Face rates of the **linear** stabilized reverse equation (MODEL.md section 6)
//!
//! ```text
//! d_s u = lambda D Lap u - div(u V),     V = x (1 + kappa fh^gamma) + (1 + lambda) D grad ln fh,
//! ```
//!
//! `fh(s) = f(T - s)` being the forward solution read backwards and `lambda >= 0` the
//! stabilization (`lambda = 1`: reverse SDE, `lambda = 0`: probability flow). The flux through a
//! face in the +axis direction is `J = u V - lambda D du/dx`, written in the project's single form
//!
//! ```text
//! F = k_plus u_L - k_minus u_R,     k_plus, k_minus >= 0,
//! ```
//!
//! `u_L` / `u_R` the values below / above the face. With the face velocity `V_f` and
//! `eps = lambda D`, Scharfetter–Gummel gives (`Pe = V_f h / eps`, `B(z) = z / expm1(z)`)
//!
//! ```text
//! k_plus = (eps/h) B(-Pe),   k_minus = (eps/h) B(Pe),
//! ```
//!
//! evaluated without cancellation as `k_plus = c + max(V_f, 0)`, `k_minus = c + max(-V_f, 0)`,
//! `c = (eps/h) B(|Pe|)` (using `B(-z) = B(z) + z`). At `lambda = 0` this is exactly the upwind
//! flux `F = max(V_f, 0) u_L - max(-V_f, 0) u_R`; for constant `V` the discrete equilibrium
//! (`F = 0`) is `u_R / u_L = exp(V h / eps)`, the exact one.
//!
//! **Face velocity** `V_f = x_f G_f + (1 + lambda) D s_f`, `x_f` the face coordinate along the
//! axis, where
//! * `s_f` is the score (component of `grad ln fh` along the axis) at the face: either from the
//!   grid, `s_f = (ln fh_R - ln fh_L) / h`, or from a closure (the exact OU score);
//! * `G_f` is the face value of `1 + kappa fh^gamma`: from the grid, the same Scharfetter–Gummel
//!   mean the forward `sg` scheme uses, `G = (ln fh_R - ln fh_L) / (Phi'(fh_R) - Phi'(fh_L))`
//!   (`1 + kappa sqrt(fh_L fh_R)^gamma` when `|ln fh_R - ln fh_L| < 1e-9`; exactly 1 when
//!   `kappa = 0`); from a closure, `1 + kappa fh(x_f)^gamma`.
//!
//! With the grid mean, every nodal forward steady state `fh = f_beta(x_j)` (zero forward `sg`
//! flux) is also an exact discrete steady state of the reverse scheme for every `lambda > 0`, and
//! gives `V_f = 0` for `lambda = 0`: the reverse scheme is well balanced like the forward one.
//!
//! **Underflow rule.** On the grid, `ln fh` is taken of `max(fh, FH_FLOOR)`, `FH_FLOOR` the
//! smallest positive normal number: where `fh` underflowed to 0 the score is large and points
//! towards the positive cells (so `u` is driven out of cells the forward state does not
//! reach), but finite. Such faces can dominate the positivity bound of the explicit sub-steps.
//!
//! **Evaluation.** The scalar methods of [`ReverseFace`] (per cell [`ReverseFace::aux`], per
//! face [`ReverseFace::grid_rates`]) and the block-wide row kernels
//! ([`ReverseFace::interpolated_aux`] into a [`GridAux`] of one array per quantity,
//! [`ReverseFace::grid_face_rates`] row by row into [`FaceRates`]) share the same
//! `#[inline(always)]` pieces on the branch-free vector math of [`crate::simd`], so the rows
//! give the scalar bits at every dispatch level (asserted by the tests).

use super::face_rates::FaceRates;
use super::geometry::BlockGeometry;
use crate::physics::{phi_prime_from, phi_prime_from_fold};
use crate::simd::{dispatched, math, rows};

/// `fh` is floored at this value before taking logarithms (the smallest positive normal `f64`).
pub const FH_FLOOR: f64 = f64::MIN_POSITIVE;

/// `ln max(fh, FH_FLOOR)` (also maps a NaN to the floor), by the branch-free one-division
/// [`math::ln_fast`] (within 1 ulp).
#[inline(always)]
pub fn floored_ln(fh: f64) -> f64 {
    math::ln_fast(fh.max(FH_FLOOR))
}

dispatched! {
    /// `ln[i] = floored_ln(fh[i])` over a row ([`floored_ln`], the same bits at every level).
    pub fn floored_ln_row(fh: &[f64], ln: &mut [f64]) {
        for (l, &v) in ln.iter_mut().zip(fh) {
            *l = floored_ln(v);
        }
    }
}

/// `B(a) = a / expm1(a)` for `a >= 0`: 1 at 0, and 0 once `expm1` overflows (`a > 709.78`,
/// where the true value is below `1e-305`), so an infinite Peclet number is handled. The
/// branch-free [`math::bernoulli`] (its Taylor polynomial below 1, no libm call), within 2 ulp.
#[inline(always)]
pub fn bernoulli_abs(a: f64) -> f64 {
    math::bernoulli(a)
}

/// Per-cell values of the forward state entering the reverse face velocity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ForwardAux {
    /// `ln fh` (floored, see [`FH_FLOOR`]).
    pub ln_fh: f64,
    /// `kappa fh^gamma`.
    pub kappa_fh_pow: f64,
    /// `Phi'(fh)` (stable form, [`phi_prime_from`]).
    pub phi_prime: f64,
}

/// The face kernels of the linear reverse equation for fixed `(D, kappa, gamma, lambda, h)`.
#[derive(Clone, Copy, Debug)]
pub struct ReverseFace {
    /// `eps / h = lambda D / h`.
    eps_over_h: f64,
    /// `h / eps` (unused when `lambda = 0`).
    h_over_eps: f64,
    /// Whether `lambda > 0` (otherwise pure upwind).
    diffusive: bool,
    /// `(1 + lambda) D`, the score coefficient.
    score_coeff: f64,
    /// `1 / h`.
    inv_h: f64,
    kappa: f64,
    gamma: f64,
    inv_gamma: f64,
    ln_kappa: f64,
}

impl ReverseFace {
    /// Kernels for diffusion `D > 0`, `kappa >= 0`, `gamma > 0`, `lambda >= 0`, cell width `h`.
    pub fn new(diffusion: f64, kappa: f64, gamma: f64, lambda: f64, h: f64) -> Self {
        let eps = lambda * diffusion;
        ReverseFace {
            eps_over_h: eps / h,
            h_over_eps: if eps > 0.0 { h / eps } else { 0.0 },
            diffusive: eps > 0.0,
            score_coeff: (1.0 + lambda) * diffusion,
            inv_h: 1.0 / h,
            kappa,
            gamma,
            inv_gamma: 1.0 / gamma,
            ln_kappa: kappa.ln(),
        }
    }

    /// Whether `kappa > 0` (otherwise `G_f = 1` and [`ForwardAux`] needs only `ln fh`).
    #[inline(always)]
    pub fn nonlinear(&self) -> bool {
        self.kappa > 0.0
    }

    /// `(k_plus, k_minus)` for face velocity `v` (see the module doc):
    /// `k_plus = c + max(v, 0)`, `k_minus = c + max(-v, 0)`, `c = (eps/h) B(|v| h / eps)`
    /// (`c = 0` when `lambda = 0`: upwind).
    #[inline(always)]
    pub fn rates(&self, v: f64) -> (f64, f64) {
        self.rates_from(v, bernoulli_abs(self.peclet_abs(v)))
    }

    /// `V_f = x_f g_f + (1 + lambda) D s_f` from a face value `g_f` of `1 + kappa fh^gamma` and the
    /// score `s_f` along the axis.
    #[inline(always)]
    pub fn velocity(&self, x_f: f64, g_f: f64, score_f: f64) -> f64 {
        x_f * g_f + self.score_coeff * score_f
    }

    /// Per-cell values from `ln fh` (already floored): `kappa fh^gamma = kappa exp(gamma ln fh)`
    /// by the branch-free [`math::exp`].
    #[inline(always)]
    pub fn aux(&self, ln_fh: f64) -> ForwardAux {
        if self.kappa > 0.0 {
            let (kappa_fh_pow, phi_prime) = self.nonlinear_aux(ln_fh);
            ForwardAux {
                ln_fh,
                kappa_fh_pow,
                phi_prime,
            }
        } else {
            ForwardAux {
                ln_fh,
                kappa_fh_pow: 0.0,
                phi_prime: ln_fh,
            }
        }
    }

    /// `(kappa fh^gamma, Phi'(fh))` from `ln fh` for `kappa > 0` (the per-cell values of
    /// [`ReverseFace::aux`]).
    #[inline(always)]
    fn nonlinear_aux(&self, ln_fh: f64) -> (f64, f64) {
        let kappa_fh_pow = self.kappa * math::exp(self.gamma * ln_fh);
        let phi_prime = phi_prime_from(ln_fh, kappa_fh_pow, self.inv_gamma, self.ln_kappa);
        (kappa_fh_pow, phi_prime)
    }

    /// `k_plus` and `k_minus` from the face velocity `v` and `B(|v| h / eps)` (the last step of
    /// [`ReverseFace::rates`], apart so that a row evaluates `B` in chunks).
    #[inline(always)]
    fn rates_from(&self, v: f64, bernoulli: f64) -> (f64, f64) {
        let c = if self.diffusive {
            self.eps_over_h * bernoulli
        } else {
            0.0
        };
        (c + v.max(0.0), c + (-v).max(0.0))
    }

    /// The Peclet number `|v| h / eps` whose Bernoulli function [`ReverseFace::rates_from`]
    /// takes (0 when `lambda = 0`, unused then).
    #[inline(always)]
    fn peclet_abs(&self, v: f64) -> f64 {
        v.abs() * self.h_over_eps
    }

    /// The grid face velocity between cells with values `(ln fh, kappa fh^gamma, Phi'(fh))`
    /// `l` and `r`, at face coordinate `x_f` ([`ReverseFace::grid_rates`] before the rates).
    #[inline(always)]
    fn grid_velocity(&self, x_f: f64, l: (f64, f64, f64), r: (f64, f64, f64)) -> f64 {
        let d_ln = r.0 - l.0;
        let g = if self.kappa == 0.0 {
            1.0
        } else {
            sg_mean(d_ln, r.2 - l.2, l.1, r.1)
        };
        self.velocity(x_f, g, d_ln * self.inv_h)
    }

    /// The grid face value `G_f` of `1 + kappa fh^gamma` (module doc): the Scharfetter–Gummel
    /// mean `(ln fh_R - ln fh_L) / (Phi'(fh_R) - Phi'(fh_L))`, its equal-value limit
    /// `1 + sqrt(kappa fh_L^gamma kappa fh_R^gamma)`, or 1 when `kappa = 0`.
    #[inline(always)]
    pub fn mean_g(&self, l: ForwardAux, r: ForwardAux) -> f64 {
        if self.kappa == 0.0 {
            return 1.0;
        }
        sg_mean(
            r.ln_fh - l.ln_fh,
            r.phi_prime - l.phi_prime,
            l.kappa_fh_pow,
            r.kappa_fh_pow,
        )
    }

    /// `(k_plus, k_minus)` at a face at `x_f` between cells with forward values `l`, `r` (grid
    /// score `s_f = (ln fh_R - ln fh_L) / h`, grid mean `G_f`).
    #[inline(always)]
    pub fn grid_rates(&self, x_f: f64, l: ForwardAux, r: ForwardAux) -> (f64, f64) {
        let parts = |a: ForwardAux| (a.ln_fh, a.kappa_fh_pow, a.phi_prime);
        self.rates(self.grid_velocity(x_f, parts(l), parts(r)))
    }

    /// `(k_plus, k_minus)` at a face at `x_f` from the closure values at the face: `fh` and the
    /// score component `s_f` along the axis (`G_f = 1 + kappa fh^gamma`).
    #[inline(always)]
    pub fn closure_rates(&self, x_f: f64, fh: f64, s_f: f64) -> (f64, f64) {
        let g = if self.kappa > 0.0 {
            1.0 + self.kappa * fh.powf(self.gamma)
        } else {
            1.0
        };
        self.rates(self.velocity(x_f, g, s_f))
    }
}

/// The Scharfetter–Gummel mean `G = d_ln / d_phi` of `1 + kappa fh^gamma` over a face, from the
/// differences `d_ln = ln fh_R - ln fh_L`, `d_phi = Phi'(fh_R) - Phi'(fh_L)`; its equal-value
/// limit `1 + sqrt(kappa fh_L^gamma kappa fh_R^gamma)` where `|d_ln| < 1e-9` or `d_phi = 0`.
/// Branch-free: both computed, one selected (the quotient may be `inf`/NaN where unused).
#[inline(always)]
fn sg_mean(d_ln: f64, d_phi: f64, kappa_fh_pow_l: f64, kappa_fh_pow_r: f64) -> f64 {
    let limit = 1.0 + (kappa_fh_pow_l * kappa_fh_pow_r).sqrt();
    let quotient = d_ln / d_phi;
    let equal = d_ln.abs() < 1e-9 || d_phi == 0.0;
    if equal {
        limit
    } else {
        quotient
    }
}

/// The per-cell values of [`ForwardAux`] for every stored cell of a block, one array per
/// quantity (field storage layout, ghosts included), so that the face rows read them as
/// contiguous slices.
#[derive(Clone, Debug, Default)]
pub struct GridAux {
    /// `ln fh` (floored).
    pub ln_fh: Vec<f64>,
    /// `kappa fh^gamma` (0 when `kappa = 0`).
    pub kappa_fh_pow: Vec<f64>,
    /// `Phi'(fh)` (`ln fh` when `kappa = 0`).
    pub phi_prime: Vec<f64>,
}

impl GridAux {
    /// Storage for `len` cells.
    pub fn new(len: usize) -> GridAux {
        GridAux {
            ln_fh: vec![0.0; len],
            kappa_fh_pow: vec![0.0; len],
            phi_prime: vec![0.0; len],
        }
    }

    /// The values of cells `at..at + len` as three slices.
    fn cells(&self, at: usize, len: usize) -> CellRow<'_> {
        let r = at..at + len;
        CellRow {
            ln_fh: &self.ln_fh[r.clone()],
            kappa_fh_pow: &self.kappa_fh_pow[r.clone()],
            phi_prime: &self.phi_prime[r],
        }
    }
}

/// A contiguous run of cells of a [`GridAux`].
#[derive(Clone, Copy)]
struct CellRow<'a> {
    ln_fh: &'a [f64],
    kappa_fh_pow: &'a [f64],
    phi_prime: &'a [f64],
}

/// Row buffers of [`ReverseFace::grid_face_rates`] (reused, no allocation per call): the face
/// coordinate of a row of y- or z-faces (repeated), the face velocities, Peclet numbers and
/// their Bernoulli values.
#[derive(Clone, Debug, Default)]
pub struct FaceRowBuffers {
    coord: Vec<f64>,
    row: RateRow,
}

/// One row of faces: velocities, Peclet numbers and Bernoulli values.
#[derive(Clone, Debug, Default)]
struct RateRow {
    velocity: Vec<f64>,
    peclet: Vec<f64>,
    bernoulli: Vec<f64>,
}

impl FaceRowBuffers {
    /// Buffers for a block of `geom` (rows of up to `nx + 1` faces).
    pub fn for_geometry(geom: &BlockGeometry) -> FaceRowBuffers {
        let row = vec![0.0; geom.nx + 1];
        FaceRowBuffers {
            coord: row.clone(),
            row: RateRow {
                velocity: row.clone(),
                peclet: row.clone(),
                bernoulli: row,
            },
        }
    }
}

dispatched! {
    /// The per-cell values at `theta` from the floored logarithms at the interval ends:
    /// `ln fh = (1 - theta) ln_start + theta ln_end`, then [`ReverseFace::aux`] in passes per
    /// chunk of [`rows::CHUNK`] cells (`kappa exp(gamma ln fh)` by [`math::exp_of_chunk`], the
    /// `ln1p_fold` of `Phi'` by [`math::ln1p_fold_chunk`]), the same bits at every level.
    fn interpolated_aux_row(
        face: &ReverseFace,
        theta: f64,
        ln_start: &[f64],
        ln_end: &[f64],
        out: &mut GridAux,
    ) {
        let a = 1.0 - theta;
        let GridAux { ln_fh, kappa_fh_pow, phi_prime } = out;
        for ((l, &l0), &l1) in ln_fh.iter_mut().zip(ln_start).zip(ln_end) {
            *l = a * l0 + theta * l1;
        }
        if !face.nonlinear() {
            kappa_fh_pow.fill(0.0);
            phi_prime.copy_from_slice(ln_fh);
            return;
        }
        let (kappa, gamma) = (face.kappa, face.gamma);
        let chunks = ln_fh
            .chunks(rows::CHUNK)
            .zip(kappa_fh_pow.chunks_mut(rows::CHUNK))
            .zip(phi_prime.chunks_mut(rows::CHUNK));
        for ((ln, kp), phi) in chunks {
            math::exp_of_chunk(ln, kp, |v| (gamma * v, 0.0), |_, e| kappa * e);
            math::ln1p_fold_chunk(kp, phi);
            for ((p, &l), &k) in phi.iter_mut().zip(ln).zip(kp.iter()) {
                *p = phi_prime_from_fold(l, k, *p, face.inv_gamma, face.ln_kappa);
            }
        }
    }
}

dispatched! {
    /// The face velocities and Peclet numbers of a row of faces between cells `lo[i]` and
    /// `hi[i]` at coordinates `coord[i]` ([`ReverseFace::grid_rates`] up to the Bernoulli
    /// function).
    fn grid_velocity_row(
        face: &ReverseFace,
        coord: &[f64],
        lo: CellRow<'_>,
        hi: CellRow<'_>,
        velocity: &mut [f64],
        peclet: &mut [f64],
    ) {
        let n = velocity.len();
        let (coord, peclet) = (&coord[..n], &mut peclet[..n]);
        for i in 0..n {
            let l = (lo.ln_fh[i], lo.kappa_fh_pow[i], lo.phi_prime[i]);
            let r = (hi.ln_fh[i], hi.kappa_fh_pow[i], hi.phi_prime[i]);
            let v = face.grid_velocity(coord[i], l, r);
            velocity[i] = v;
            peclet[i] = face.peclet_abs(v);
        }
    }
}

dispatched! {
    /// `(k_plus, k_minus)` of a row of faces from their velocities and `B(|Pe|)`
    /// ([`ReverseFace::rates`]).
    fn rates_row(
        face: &ReverseFace,
        velocity: &[f64],
        bernoulli: &[f64],
        k_plus: &mut [f64],
        k_minus: &mut [f64],
    ) {
        let n = velocity.len();
        let (bernoulli, k_plus, k_minus) = (&bernoulli[..n], &mut k_plus[..n], &mut k_minus[..n]);
        for i in 0..n {
            (k_plus[i], k_minus[i]) = face.rates_from(velocity[i], bernoulli[i]);
        }
    }
}

impl ReverseFace {
    /// Fills `out` with the per-cell values at `theta` of the log-linear interpolation
    /// `ln fh = (1 - theta) ln_start + theta ln_end` (field storage layout, ghosts included).
    pub fn interpolated_aux(
        &self,
        theta: f64,
        ln_start: &[f64],
        ln_end: &[f64],
        out: &mut GridAux,
    ) {
        interpolated_aux_row(self, theta, ln_start, ln_end, out);
    }

    /// The rates of a row of faces (`lo`, `hi`, `coord`, `k_plus`, `k_minus` of the row's
    /// length), equal bit for bit to [`ReverseFace::grid_rates`] face by face.
    fn grid_rates_row(
        &self,
        coord: &[f64],
        (lo, hi): (CellRow<'_>, CellRow<'_>),
        buf: &mut RateRow,
        (k_plus, k_minus): (&mut [f64], &mut [f64]),
    ) {
        let n = coord.len();
        let (v, pe, b) = (
            &mut buf.velocity[..n],
            &mut buf.peclet[..n],
            &mut buf.bernoulli[..n],
        );
        grid_velocity_row(self, coord, lo, hi, v, pe);
        if self.diffusive {
            rows::bernoulli(pe, b);
        }
        rates_row(self, v, b, k_plus, k_minus);
    }

    /// Every face rate of the block of `geom` from the per-cell values `aux` (field storage
    /// layout of the block), with zero rates on physical-boundary faces: the x-faces of each
    /// row, the y-faces of each plane and (3D) the z-faces, row by row through `buf`. Each
    /// face gets the bits of [`ReverseFace::grid_rates`].
    pub fn grid_face_rates(
        &self,
        geom: &BlockGeometry,
        aux: &GridAux,
        buf: &mut FaceRowBuffers,
        rates: &mut FaceRates,
    ) {
        let (nx, ny, nz) = (geom.nx, geom.ny, geom.nz);
        // Storage index of cell (k, j, 0), ghosts allowed (`-1`).
        let row_start = |k: isize, j: isize| {
            let k = if geom.dim3 { k + 1 } else { k };
            (k as usize * (ny + 2) + (j + 1) as usize) * (nx + 2) + 1
        };
        let FaceRowBuffers { coord, row } = buf;
        // A row of `nx` y- or z-faces at coordinate `c` between the cell rows starting at `lo`
        // and `hi`, into `out`.
        let mut across = |boundary: bool,
                          c: f64,
                          (lo, hi): (usize, usize),
                          row: &mut RateRow,
                          out: (&mut [f64], &mut [f64])| {
            if boundary {
                out.0.fill(0.0);
                out.1.fill(0.0);
            } else {
                coord[..nx].fill(c);
                let cells = (aux.cells(lo, nx), aux.cells(hi, nx));
                self.grid_rates_row(&coord[..nx], cells, row, out);
            }
        };
        for k in 0..nz {
            let ki = k as isize;
            for j in 0..ny {
                let at = row_start(ki, j as isize);
                let cells = (aux.cells(at - 1, nx + 1), aux.cells(at, nx + 1));
                let (kp, km) = rates.row_mut(0, (k, j));
                self.grid_rates_row(&geom.x_faces, cells, row, (&mut *kp, &mut *km));
                for i in [0, nx] {
                    if geom.x_face_is_boundary(i) {
                        (kp[i], km[i]) = (0.0, 0.0);
                    }
                }
            }
            for jf in 0..=ny {
                let cells = (row_start(ki, jf as isize - 1), row_start(ki, jf as isize));
                let boundary = geom.y_face_is_boundary(jf);
                across(
                    boundary,
                    geom.y_faces[jf],
                    cells,
                    row,
                    rates.row_mut(1, (k, jf)),
                );
            }
        }
        if geom.dim3 {
            for kf in 0..=nz {
                let boundary = geom.z_face_is_boundary(kf);
                for j in 0..ny {
                    let (ki, ji) = (kf as isize, j as isize);
                    let cells = (row_start(ki - 1, ji), row_start(ki, ji));
                    across(
                        boundary,
                        geom.z_faces[kf],
                        cells,
                        row,
                        rates.row_mut(2, (kf, j)),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::{Block, ProcessGrid};
    use crate::mesh::Mesh;
    use crate::simd::{with_level, Level};

    /// The row kernels (floored logarithms, interpolated per-cell values, the block's face
    /// rates) give, at every dispatch level, the bits of the scalar methods face by face, with
    /// zero rates exactly on physical-boundary faces: 1D, 2D and 3D, blocks with and without
    /// neighbours, `kappa = 0` and `> 0`, `lambda = 0` and `> 0`, states with zeros, subnormals
    /// and steep ratios (Peclet numbers on both sides of the Bernoulli switch).
    #[test]
    fn row_kernels_give_the_bits_of_the_scalar_methods_at_every_level() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let cases = [
            (1, 37, vec![2]),
            (2, 19, vec![1, 1]),
            (2, 19, vec![2, 2]),
            (3, 9, vec![1, 2, 2]),
        ];
        for (dim, n, procs) in cases {
            let mesh = Mesh::new(dim, n, 4.0);
            let grid = ProcessGrid::from_procs(&procs);
            for rank in 0..procs.iter().product::<usize>() {
                let block = Block::new(&mesh, grid, rank);
                let geom = BlockGeometry::new(&mesh, &block);
                let len = (geom.nx + 2) * (geom.ny + 2) * if geom.dim3 { geom.nz + 2 } else { 1 };
                let state = |next: &mut dyn FnMut() -> f64| -> Vec<f64> {
                    (0..len)
                        .map(|c| match c % 11 {
                            0 => 0.0,
                            1 => 1e-310 * next(),
                            2 => 40.0 * next(),
                            _ => (-30.0 * next()).exp(),
                        })
                        .collect()
                };
                let (fh0, fh1) = (state(&mut next), state(&mut next));
                for (kappa, lambda) in [(0.0, 1.0), (1.5, 0.0), (1.5, 1.0), (0.7, 0.3)] {
                    let face = ReverseFace::new(0.8, kappa, 2.5, lambda, mesh.h);
                    let mut results = Vec::new();
                    for level in Level::ALL {
                        with_level(level, || {
                            let (mut l0, mut l1) = (vec![0.0; len], vec![0.0; len]);
                            floored_ln_row(&fh0, &mut l0);
                            floored_ln_row(&fh1, &mut l1);
                            for (l, &f) in l0.iter().zip(&fh0) {
                                assert_eq!(l.to_bits(), floored_ln(f).to_bits(), "ln {f}");
                            }
                            let theta = 0.375;
                            let mut aux = GridAux::new(len);
                            face.interpolated_aux(theta, &l0, &l1, &mut aux);
                            let cell = |c: usize| face.aux((1.0 - theta) * l0[c] + theta * l1[c]);
                            for c in 0..len {
                                let want = cell(c);
                                let got = ForwardAux {
                                    ln_fh: aux.ln_fh[c],
                                    kappa_fh_pow: aux.kappa_fh_pow[c],
                                    phi_prime: aux.phi_prime[c],
                                };
                                assert_eq!(format!("{got:?}"), format!("{want:?}"));
                            }
                            let mut rates = FaceRates::for_geometry(&geom);
                            let mut buf = FaceRowBuffers::for_geometry(&geom);
                            face.grid_face_rates(&geom, &aux, &mut buf, &mut rates);
                            let (nx, ny, nz) = (geom.nx, geom.ny, geom.nz);
                            let at = |k: isize, j: isize, i: isize| {
                                let k = if geom.dim3 { k + 1 } else { k };
                                (k as usize * (ny + 2) + (j + 1) as usize) * (nx + 2)
                                    + (i + 1) as usize
                            };
                            let scalar = |b: bool, x_f: f64, lo: usize, hi: usize| {
                                if b {
                                    (0.0, 0.0)
                                } else {
                                    face.grid_rates(x_f, cell(lo), cell(hi))
                                }
                            };
                            let bits = |r: (f64, f64)| (r.0.to_bits(), r.1.to_bits());
                            for k in 0..nz {
                                let ki = k as isize;
                                for j in 0..ny {
                                    let ji = j as isize;
                                    for i in 0..=nx {
                                        let ii = i as isize;
                                        let b = geom.x_face_is_boundary(i);
                                        let want = scalar(
                                            b,
                                            geom.x_faces[i],
                                            at(ki, ji, ii - 1),
                                            at(ki, ji, ii),
                                        );
                                        assert_eq!(
                                            bits(rates.x(k, j, i)),
                                            bits(want),
                                            "x {k} {j} {i}"
                                        );
                                    }
                                }
                                for jf in 0..=ny {
                                    let ji = jf as isize;
                                    for i in 0..nx {
                                        let ii = i as isize;
                                        let b = geom.y_face_is_boundary(jf);
                                        let want = scalar(
                                            b,
                                            geom.y_faces[jf],
                                            at(ki, ji - 1, ii),
                                            at(ki, ji, ii),
                                        );
                                        assert_eq!(
                                            bits(rates.y(k, jf, i)),
                                            bits(want),
                                            "y {k} {jf} {i}"
                                        );
                                    }
                                }
                            }
                            if geom.dim3 {
                                for kf in 0..=nz {
                                    let ki = kf as isize;
                                    for j in 0..ny {
                                        for i in 0..nx {
                                            let (ji, ii) = (j as isize, i as isize);
                                            let b = geom.z_face_is_boundary(kf);
                                            let want = scalar(
                                                b,
                                                geom.z_faces[kf],
                                                at(ki - 1, ji, ii),
                                                at(ki, ji, ii),
                                            );
                                            assert_eq!(
                                                bits(rates.z(kf, j, i)),
                                                bits(want),
                                                "z {kf} {j} {i}"
                                            );
                                        }
                                    }
                                }
                            }
                            let mut all = Vec::new();
                            for k in 0..nz {
                                for j in 0..ny {
                                    for i in 0..nx {
                                        all.extend(rates.outgoing3(k, j, i).map(f64::to_bits));
                                    }
                                }
                            }
                            results.push(all);
                        });
                    }
                    assert!(results.windows(2).all(|w| w[0] == w[1]));
                }
            }
        }
    }

    #[test]
    fn bernoulli_values_and_limits() {
        assert_eq!(bernoulli_abs(0.0), 1.0);
        assert!((bernoulli_abs(1.0) - 1.0 / (1f64.exp() - 1.0)).abs() < 1e-15);
        assert!((bernoulli_abs(1e-10) - (1.0 - 0.5e-10)).abs() < 1e-16);
        assert_eq!(bernoulli_abs(800.0), 0.0);
        assert_eq!(bernoulli_abs(f64::INFINITY), 0.0);
        assert!(bernoulli_abs(700.0) > 0.0);
    }

    /// `k_plus = (eps/h) B(-Pe)`, `k_minus = (eps/h) B(Pe)` against the direct formula.
    #[test]
    fn rates_are_scharfetter_gummel() {
        let (d, lambda, h) = (0.7, 1.3, 0.05);
        let face = ReverseFace::new(d, 0.0, 2.0, lambda, h);
        let eps = lambda * d;
        for v in [-30.0, -2.0, -1e-3, 0.0, 1e-7, 0.4, 5.0, 60.0] {
            let pe: f64 = v * h / eps;
            let b = |z: f64| if z == 0.0 { 1.0 } else { z / z.exp_m1() };
            let (kp, km) = face.rates(v);
            assert!(kp >= 0.0 && km >= 0.0);
            let (ep, em) = (eps / h * b(-pe), eps / h * b(pe));
            assert!((kp - ep).abs() <= 1e-13 * ep, "{v}: {kp} vs {ep}");
            assert!(
                (km - em).abs() <= 1e-13 * em.max(1e-300),
                "{v}: {km} vs {em}"
            );
        }
    }

    /// Scharfetter–Gummel tends to upwind as lambda -> 0, and is upwind at lambda = 0.
    #[test]
    fn sg_tends_to_upwind_as_lambda_vanishes() {
        let (d, h) = (1.0, 0.1);
        for v in [-3.0f64, -0.2, 0.5, 4.0] {
            let up = (v.max(0.0), (-v).max(0.0));
            assert_eq!(ReverseFace::new(d, 0.0, 2.0, 0.0, h).rates(v), up);
            let mut prev = f64::INFINITY;
            for lambda in [1e-1, 1e-2, 1e-3, 1e-4, 1e-6] {
                let (kp, km) = ReverseFace::new(d, 0.0, 2.0, lambda, h).rates(v);
                let err = (kp - up.0).abs() + (km - up.1).abs();
                assert!(err <= prev, "lambda {lambda}: {err} > {prev}");
                // The diffusive excess is (eps/h) B(|Pe|) <= (eps/h) (1 + ...) -> 0.
                assert!(
                    err <= 2.0 * lambda * d / h + 1e-15,
                    "lambda {lambda}: {err}"
                );
                prev = err;
            }
            assert!(prev < 1e-12, "{v}: {prev}");
        }
        // v = 0: pure diffusion, eps/h both ways.
        let (kp, km) = ReverseFace::new(d, 0.0, 2.0, 0.5, h).rates(0.0);
        assert_eq!((kp, km), (5.0, 5.0));
    }

    /// For constant V the zero-flux ratio u_R/u_L = k_plus/k_minus is exactly exp(V h/(lambda D)).
    #[test]
    fn constant_velocity_equilibrium_is_exact() {
        let (d, lambda, h) = (0.8, 1.0, 0.1);
        let face = ReverseFace::new(d, 0.0, 2.0, lambda, h);
        for v in [-50.0, -3.0, -0.1, 0.0, 1e-9, 0.7, 12.0, 60.0] {
            let (kp, km) = face.rates(v);
            let ratio = kp / km;
            let exact = (v * h / (lambda * d)).exp();
            assert!(
                (ratio - exact).abs() <= 1e-13 * exact,
                "{v}: {ratio} vs {exact}"
            );
            // A chain of cells in this ratio carries zero flux through every face.
            let (ul, ur) = (0.3, 0.3 * exact);
            let flux = kp * ul - km * ur;
            assert!(flux.abs() <= 1e-13 * kp * ul, "{v}: {flux}");
        }
    }

    /// The grid face velocity: score from log differences, G from the SG mean; the nodal forward
    /// steady states f_beta are exact discrete steady states of the reverse scheme for every
    /// lambda (and give V_f = 0 at lambda = 0).
    #[test]
    fn forward_steady_states_are_reverse_steady_states() {
        let (kappa, gamma, d, beta, h) = (1.0, 3.0, 0.7, 0.2, 0.1);
        let f_beta = |x: f64| {
            f64::powf(kappa, -1.0 / gamma)
                * f64::powf((gamma * (x * x / (2.0 * d) + beta)).exp_m1(), -1.0 / gamma)
        };
        for lambda in [0.0, 0.3, 1.0, 2.0] {
            let face = ReverseFace::new(d, kappa, gamma, lambda, h);
            assert!(face.nonlinear());
            for k in -20..20 {
                let (xl, xr) = (k as f64 * h, (k + 1) as f64 * h);
                let (fl, fr) = (f_beta(xl), f_beta(xr));
                let (al, ar) = (face.aux(floored_ln(fl)), face.aux(floored_ln(fr)));
                let x_f = 0.5 * (xl + xr);
                let (kp, km) = face.grid_rates(x_f, al, ar);
                let flux = kp * fl - km * fr;
                // Round-off scale: the size of the terms that cancel in V_f and in F.
                let scale = (kp + km + x_f.abs() * face.mean_g(al, ar)) * (fl + fr);
                assert!(
                    flux.abs() < 1e-12 * scale,
                    "lambda {lambda} face {k}: {flux} ({kp} {km})"
                );
            }
        }
    }

    #[test]
    fn grid_score_is_log_difference_and_floor_keeps_it_finite() {
        let (d, lambda, h) = (0.5, 1.0, 0.2);
        let face = ReverseFace::new(d, 0.0, 2.0, lambda, h);
        let (fl, fr) = (0.2f64, 0.5f64);
        let v = face.velocity(-0.3, 1.0, (fr.ln() - fl.ln()) / h);
        let (kp, km) = face.grid_rates(-0.3, face.aux(fl.ln()), face.aux(fr.ln()));
        assert_eq!((kp, km), face.rates(v));
        // A zero forward value: the score is large, finite and points to the positive cell.
        let (kp, km) = face.grid_rates(0.0, face.aux(floored_ln(0.0)), face.aux(fr.ln()));
        assert!(kp.is_finite() && km.is_finite());
        assert!(kp > 1e3 && km < 1e-300, "{kp} {km}");
        // Closure rates with kappa = 0 ignore fh.
        assert_eq!(
            face.closure_rates(0.4, 123.0, 0.7),
            face.rates(face.velocity(0.4, 1.0, 0.7))
        );
    }
}
