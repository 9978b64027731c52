//! The loops around the pure face kernels: per-cell auxiliary values, the positivity rate bound
//! and the explicit update `f_out = f + dt L_h(f)` over a rectangular region of the block.
//!
//! ```text
//! f_out[j,i] = f[j,i] + (dt/h) * ( (Fx[j,i] - Fx[j,i+1]) + (Fy[j,i] - Fy[j+1,i]) )
//! ```
//!
//! with `Fx[j,i]` the flux through the x-face between cells `(j,i-1)` and `(j,i)`, and `Fy[j,i]`
//! through the y-face between `(j-1,i)` and `(j,i)`, both in the +axis direction. In 3D every
//! plane `k` adds the z-faces below and above,
//!
//! ```text
//! f_out[k,j,i] = f[k,j,i] + (dt/h) * ( ((Fx[k,j,i] - Fx[k,j,i+1]) + (Fy[k,j,i] - Fy[k,j+1,i]))
//!                                      + (Fz[k,j,i] - Fz[k+1,j,i]) ),
//! ```
//!
//! `Fz[k,j,i]` through the z-face between `(k-1,j,i)` and `(k,j,i)` (the same kernels along the
//! third axis, face coordinate `z`); the 1D/2D formula is untouched (no z term). Physical
//! boundary faces carry zero flux (a face-flux override, no ghost values). The operation order
//! per cell is fixed, and a face shared by two regions or two ranks is computed from the same
//! inputs by the same formula, so results are bit-identical for any split into regions or ranks.
//!
//! The per-cell values a face reads come from [`Scratch::aux`] (filled by [`fill_aux_owned`] and
//! [`fill_aux_ghosts`]), or, for a family with [`Family::AUX_IN_FACE_PASS`] (`sg`), are computed
//! by the pass itself one row at a time (columns `cols.start - 1..=cols.end` of rows
//! `rows.start - 1..=rows.end`) into two row buffers, while the row is in cache: the same
//! function, so the same bits, without a block-sized array written and read back. A region then
//! reads exactly the field values it read before (ghosts only on block edges with a neighbour,
//! or, harmlessly, the ghost layer beside a zero-flux boundary).
//!
//! Every face pass is one loop (`rate_pass`) over the rows of a region: the face values of a
//! row (x-faces of the row, y-faces above it; in 3D the z-faces of the next plane first) are
//! written either into rolling row buffers of the [`Scratch`] or, when the rates are kept, in
//! place into a [`FaceRates`] (no copy), and as soon as a row's faces are done a sink consumes
//! them while they are in cache:
//!
//! * [`max_rate`] / [`flux_rates`]: only the rate bound (and the kept rates);
//! * [`max_rate_and_divergence`]: the flux divergence `div` of each cell, kept in the storage
//!   of the stage field, so that the first stage after the MAX-reduced `dt` is the streaming
//!   pass `f* = f + (dt/h) div` ([`step_from_divergence`]);
//! * [`max_rate_and_update`] / [`max_rate_and_combine`]: the update `f + (dt/h) div`, or the
//!   SSP-RK2 combination `1/2 g + 1/2 (f + (dt/h) div)`;
//! * [`flux_rates_and_update`], [`flux_rates_and_transpose`], [`reverse_ssprk2_stages`]: the
//!   reverse step's `f*`, transposed update and (one row behind) second transposed stage with
//!   the combination;
//! * [`apply`]: the update from face fluxes.
//!
//! All of them evaluate `div` (and the transposed update) with the one operation order of the
//! formulas above (the row kernels of [`super::face_rates`], compiled per CPU level by
//! `crate::simd::dispatched!`), so the fused passes give the bits of the unfused ones.

use std::ops::Range;

pub use super::face_rates::{
    apply_stored, apply_transpose, apply_transpose_combined, apply_transpose_combined_in_place,
    step_from_divergence, FaceRates,
};
use super::face_rates::{
    divergence_row, flux_update_row, max_out_row, transpose_combine_row, transpose_row, update_row,
    Around, Cells, RateView,
};
pub use super::geometry::{BlockGeometry, Region};
use super::Family;
use crate::field::Field;

/// Row buffers reused by every stage (no allocation inside the time loop).
#[derive(Clone, Debug)]
pub struct Scratch<A> {
    /// Per-cell auxiliary values, same layout as the field storage (filled by
    /// [`fill_aux_owned`] / [`fill_aux_ghosts`]; the face passes of a family with
    /// [`Family::AUX_IN_FACE_PASS`] do not read it).
    pub aux: Vec<A>,
    /// Per-cell values of two rows (columns `-1..=nx`), computed inside the face passes of a
    /// family with [`Family::AUX_IN_FACE_PASS`].
    aux_lo: Vec<A>,
    aux_hi: Vec<A>,
    /// The rolling face buffers of a pass that does not keep its rates: one row of x-faces
    /// (`nx + 1`), two rows of y-faces (`2 nx`) and, in 3D, two planes of z-faces (`2 ny nx`),
    /// `k_plus` and `k_minus` (or the flux and a spare).
    fx: Vec<f64>,
    fx2: Vec<f64>,
    fy: Vec<f64>,
    fy2: Vec<f64>,
    /// The coordinate of a row of y-faces, repeated (for [`Family::rates_row`]).
    coord: Vec<f64>,
    fz: Vec<f64>,
    fz2: Vec<f64>,
    /// Three rows of a transposed stage (see [`reverse_ssprk2_stages`]), allocated on first use.
    ring: Vec<f64>,
}

impl<A: Copy + Default> Scratch<A> {
    /// Buffers for a field of this shape.
    pub fn new(field: &Field) -> Self {
        let nx = field.nx();
        let plane = if field.gz() > 0 { field.ny() * nx } else { 0 };
        Scratch {
            aux: vec![A::default(); field.raw().len()],
            aux_lo: vec![A::default(); nx + 2],
            aux_hi: vec![A::default(); nx + 2],
            fx: vec![0.0; nx + 1],
            fx2: vec![0.0; nx + 1],
            fy: vec![0.0; 2 * nx],
            fy2: vec![0.0; 2 * nx],
            coord: vec![0.0; nx],
            fz: vec![0.0; 2 * plane],
            fz2: vec![0.0; 2 * plane],
            ring: Vec::new(),
        }
    }
}

/// Whether the face passes of `F` on `geom` read the stored per-cell values (then
/// [`fill_aux_owned`] and [`fill_aux_ghosts`] must have filled them): every family in 3D, and in
/// 1D and 2D the families without [`Family::AUX_IN_FACE_PASS`].
pub fn reads_stored_aux<F: Family>(geom: &BlockGeometry) -> bool {
    !F::AUX_IN_FACE_PASS || geom.dim3
}

/// Per-cell auxiliary values on the owned cells.
pub fn fill_aux_owned<F: Family>(fam: &F, f: &Field, aux: &mut [F::Aux]) {
    let nx = f.nx();
    for k in 0..f.nz() as isize {
        for j in 0..f.ny() as isize {
            let c = f.index3(k, j, 0);
            fill_aux_span(fam, &f.raw()[c..c + nx], &mut aux[c..c + nx]);
        }
    }
}

/// Per-cell auxiliary values on the ghost layer (faces only; edges and corners are never read).
pub fn fill_aux_ghosts<F: Family>(fam: &F, f: &Field, aux: &mut [F::Aux]) {
    let (nx, ny, nz) = (f.nx() as isize, f.ny() as isize, f.nz() as isize);
    let mut row = |k: isize, j: isize| {
        let c = f.index3(k, j, 0);
        fill_aux_span(
            fam,
            &f.raw()[c..c + nx as usize],
            &mut aux[c..c + nx as usize],
        );
    };
    for k in 0..nz {
        for j in [-1, ny] {
            row(k, j);
        }
    }
    if f.gz() > 0 {
        for k in [-1, nz] {
            for j in 0..ny {
                row(k, j);
            }
        }
    }
    for k in 0..nz {
        for j in 0..ny {
            for i in [-1, nx] {
                let c = f.index3(k, j, i);
                fill_aux_span(fam, &f.raw()[c..c + 1], &mut aux[c..c + 1]);
            }
        }
    }
}

#[inline(always)]
fn fill_aux_span<F: Family>(fam: &F, f: &[f64], aux: &mut [F::Aux]) {
    fam.aux_row(f, aux);
}

/// The faces of a row: coordinates, values and per-cell values below and above.
struct FaceRow<'a, A> {
    x_f: &'a [f64],
    f_l: &'a [f64],
    f_r: &'a [f64],
    l: &'a [A],
    r: &'a [A],
}

/// What a face loop computes from a face's rates and values.
trait FaceOp {
    /// Two numbers per face.
    fn eval<F: Family>(fam: &F, x_f: f64, f_l: f64, f_r: f64, l: F::Aux, r: F::Aux) -> (f64, f64);

    /// `(out, out2)[k] = eval(face k)` for a row of faces: with the row kernels of the family
    /// when it has them ([`Family::ROW_RATES`]), otherwise face by face. The same bits.
    #[inline(always)]
    fn row<F: Family>(fam: &F, faces: FaceRow<'_, F::Aux>, out: &mut [f64], out2: &mut [f64]) {
        each_face::<Self, F>(fam, faces, out, out2);
    }
}

/// [`FaceOp::row`] face by face.
#[inline(always)]
fn each_face<O: FaceOp + ?Sized, F: Family>(
    fam: &F,
    faces: FaceRow<'_, F::Aux>,
    out: &mut [f64],
    out2: &mut [f64],
) {
    let FaceRow {
        x_f,
        f_l,
        f_r,
        l,
        r,
    } = faces;
    for k in 0..x_f.len() {
        (out[k], out2[k]) = O::eval(fam, x_f[k], f_l[k], f_r[k], l[k], r[k]);
    }
}

/// [`Family::rates_row`] on a [`FaceRow`].
#[inline(always)]
fn rates_row<F: Family>(fam: &F, faces: &FaceRow<'_, F::Aux>, kp: &mut [f64], km: &mut [f64]) {
    let n = faces.x_f.len();
    fam.rates_row(
        faces.x_f,
        &faces.f_l[..n],
        &faces.f_r[..n],
        &faces.l[..n],
        &faces.r[..n],
        &mut kp[..n],
        &mut km[..n],
    );
}

/// The flux `F = k_plus f_L - k_minus f_R` (second value unused).
struct FluxOp;

impl FaceOp for FluxOp {
    #[inline(always)]
    fn eval<F: Family>(fam: &F, x_f: f64, f_l: f64, f_r: f64, l: F::Aux, r: F::Aux) -> (f64, f64) {
        let (kp, km) = fam.rates(x_f, f_l, f_r, l, r);
        (kp * f_l - km * f_r, 0.0)
    }

    #[inline(always)]
    fn row<F: Family>(fam: &F, faces: FaceRow<'_, F::Aux>, out: &mut [f64], out2: &mut [f64]) {
        if !F::ROW_RATES {
            return each_face::<Self, F>(fam, faces, out, out2);
        }
        let n = faces.x_f.len();
        fam.flux_row(
            faces.x_f,
            &faces.f_l[..n],
            &faces.f_r[..n],
            &faces.l[..n],
            &faces.r[..n],
            &mut out[..n],
            &mut out2[..n],
        );
    }
}

/// The time-step rates `(k_plus, k_minus)` of [`Family::dt_rates`].
struct DtRateOp;

impl FaceOp for DtRateOp {
    #[inline(always)]
    fn eval<F: Family>(fam: &F, x_f: f64, f_l: f64, f_r: f64, l: F::Aux, r: F::Aux) -> (f64, f64) {
        fam.dt_rates(x_f, f_l, f_r, l, r)
    }

    #[inline(always)]
    fn row<F: Family>(fam: &F, faces: FaceRow<'_, F::Aux>, out: &mut [f64], out2: &mut [f64]) {
        if F::ROW_RATES && F::DT_RATES_ARE_FLUX_RATES {
            rates_row(fam, &faces, out, out2);
        } else {
            each_face::<Self, F>(fam, faces, out, out2);
        }
    }
}

/// The flux rates `(k_plus, k_minus)` of [`Family::rates`].
struct FluxRateOp;

impl FaceOp for FluxRateOp {
    #[inline(always)]
    fn eval<F: Family>(fam: &F, x_f: f64, f_l: f64, f_r: f64, l: F::Aux, r: F::Aux) -> (f64, f64) {
        fam.rates(x_f, f_l, f_r, l, r)
    }

    #[inline(always)]
    fn row<F: Family>(fam: &F, faces: FaceRow<'_, F::Aux>, out: &mut [f64], out2: &mut [f64]) {
        if F::ROW_RATES {
            rates_row(fam, &faces, out, out2);
        } else {
            each_face::<Self, F>(fam, faces, out, out2);
        }
    }
}

/// What every face loop reads: family, geometry, field values and per-cell values.
struct FaceInputs<'a, F: Family> {
    fam: &'a F,
    geom: &'a BlockGeometry,
    f: &'a Field,
    aux: &'a [F::Aux],
}

/// The per-cell values of the rows a face pass over `cols` reads, row by row: from the stored
/// array, or (a family with [`Family::AUX_IN_FACE_PASS`]) computed into two row buffers as the
/// pass moves up, each row once, while the row is in cache. Row `j` spans columns
/// `cols.start - 1..=cols.end` (ghosts included).
struct AuxRows<'a, A> {
    lo: &'a mut Vec<A>,
    hi: &'a mut Vec<A>,
}

impl<F: Family> FaceInputs<'_, F> {
    /// Whether this pass computes the per-cell values row by row into [`AuxRows`] buffers
    /// ([`Family::AUX_IN_FACE_PASS`], 1D and 2D) instead of reading the stored array (3D faces
    /// also read the planes below and above, so a 3D pass reads the stored array).
    #[inline(always)]
    fn fused(&self) -> bool {
        !reads_stored_aux::<F>(self.geom)
    }

    /// The storage range of row `j` of plane `k`, columns `cols.start - 1..=cols.end`.
    #[inline(always)]
    fn span(&self, (k, j): (isize, isize), cols: &Range<usize>) -> Range<usize> {
        let at = self.f.index3(k, j, cols.start as isize - 1);
        at..at + cols.len() + 2
    }

    /// Computes the per-cell values of row `j` of plane `k` into `buf` (fused passes).
    #[inline(always)]
    fn fill_row(&self, at: (isize, isize), cols: &Range<usize>, buf: &mut [F::Aux]) {
        let span = self.span(at, cols);
        let n = span.len();
        self.fam.aux_row(&self.f.raw()[span], &mut buf[..n]);
    }

    /// The per-cell values of row `j` of plane `k` (see [`AuxRows`]): `buf` in a fused pass
    /// (already filled), the stored array otherwise.
    #[inline(always)]
    fn row_aux<'b>(
        &'b self,
        at: (isize, isize),
        cols: &Range<usize>,
        buf: &'b [F::Aux],
    ) -> &'b [F::Aux] {
        if self.fused() {
            &buf[..cols.len() + 2]
        } else {
            &self.aux[self.span(at, cols)]
        }
    }

    /// `(out, out2)[i] = O(face i)` for the local x-faces `cols.start..=cols.end` of local row
    /// `j` of plane `k` (face `i` lies between columns `i - 1` and `i`); zero at boundary faces.
    /// `row` holds the per-cell values of that row ([`FaceInputs::row_aux`]).
    #[inline(always)]
    fn x_row<O: FaceOp>(
        &self,
        (k, j): (usize, usize),
        cols: &Range<usize>,
        row: &[F::Aux],
        out: &mut [f64],
        out2: &mut [f64],
    ) {
        let (c0, c1) = (cols.start, cols.end);
        let base = self.f.index3(k as isize, j as isize, -1); // the cell left of face 0
        let fv = &self.f.raw()[base + c0..base + c1 + 2];
        let av = &row[..c1 - c0 + 2];
        let xf = &self.geom.x_faces[c0..=c1];
        let out = &mut out[c0..=c1];
        let out2 = &mut out2[c0..=c1];
        let faces = FaceRow {
            x_f: xf,
            f_l: fv,
            f_r: &fv[1..],
            l: av,
            r: &av[1..],
        };
        O::row(self.fam, faces, out, out2);
        if c0 == 0 && self.geom.x_face_is_boundary(0) {
            (out[0], out2[0]) = (0.0, 0.0);
        }
        if c1 == self.geom.nx && self.geom.x_face_is_boundary(self.geom.nx) {
            let last = out.len() - 1;
            (out[last], out2[last]) = (0.0, 0.0);
        }
    }

    /// `(out, out2)[i] = O(face)` for local y-face `jf` (between rows `jf - 1` and `jf`) of
    /// plane `k` over `cols`; zero if it is a boundary face. `below` / `above` hold the
    /// per-cell values of rows `jf - 1` / `jf` ([`FaceInputs::row_aux`]); `coord` is a row
    /// buffer for the face coordinate.
    // A row kernel: face index, columns, the two rows' per-cell values and four row buffers are
    // all distinct inputs (no layout among them).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn y_row<O: FaceOp>(
        &self,
        (k, jf): (usize, usize),
        cols: &Range<usize>,
        below: &[F::Aux],
        above: &[F::Aux],
        coord: &mut [f64],
        out: &mut [f64],
        out2: &mut [f64],
    ) {
        let (k, jf_i, c0) = (k as isize, jf as isize, cols.start as isize);
        let cross = Cross {
            boundary: self.geom.y_face_is_boundary(jf),
            lo: self.f.index3(k, jf_i - 1, c0),
            hi: self.f.index3(k, jf_i, c0),
            coordinate: self.geom.y_faces[jf],
        };
        self.cross_row::<O>(cross, cols, below, above, coord, out, out2);
    }

    /// `(out, out2)[i] = O(face)` for local z-face `kf` (between planes `kf - 1` and `kf`) of
    /// row `j` over `cols` (3D); zero if it is a boundary face.
    #[inline(always)]
    fn z_row<O: FaceOp>(
        &self,
        (kf, j): (usize, usize),
        cols: &Range<usize>,
        coord: &mut [f64],
        out: &mut [f64],
        out2: &mut [f64],
    ) {
        let (kf_i, j, c0) = (kf as isize, j as isize, cols.start as isize);
        let cross = Cross {
            boundary: self.geom.z_face_is_boundary(kf),
            lo: self.f.index3(kf_i - 1, j, c0),
            hi: self.f.index3(kf_i, j, c0),
            coordinate: self.geom.z_faces[kf],
        };
        // A 3D pass is never fused: the planes' per-cell values come from the stored array.
        let below = &self.aux[self.span((kf_i - 1, j), cols)];
        let above = &self.aux[self.span((kf_i, j), cols)];
        self.cross_row::<O>(cross, cols, below, above, coord, out, out2);
    }

    /// [`FaceInputs::z_row`] for every row of `region`, into plane buffers (`ny x nx`).
    #[inline(always)]
    fn z_plane<O: FaceOp>(
        &self,
        kf: usize,
        region: &Region,
        coord: &mut [f64],
        out: &mut [f64],
        out2: &mut [f64],
    ) {
        let nx = self.geom.nx;
        for j in region.rows.clone() {
            let row = j * nx..(j + 1) * nx;
            let (o, o2) = (&mut out[row.clone()], &mut out2[row]);
            self.z_row::<O>((kf, j), &region.cols, coord, o, o2);
        }
    }

    /// A row of faces across rows or planes: the cells below start at flat index `lo`, those
    /// above at `hi`, all faces at `coordinate` (zero if they are boundary faces); `below` /
    /// `above` are the per-cell values of the two rows, from column `cols.start - 1`.
    // A row kernel, like `y_row`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn cross_row<O: FaceOp>(
        &self,
        cross: Cross,
        cols: &Range<usize>,
        below: &[F::Aux],
        above: &[F::Aux],
        coord: &mut [f64],
        out: &mut [f64],
        out2: &mut [f64],
    ) {
        let out = &mut out[cols.clone()];
        let out2 = &mut out2[cols.clone()];
        if cross.boundary {
            out.fill(0.0);
            out2.fill(0.0);
            return;
        }
        let (lo, hi) = (cross.lo, cross.hi);
        let n = cols.len();
        let (fl, fr) = (&self.f.raw()[lo..lo + n], &self.f.raw()[hi..hi + n]);
        let (al, ar) = (&below[1..n + 1], &above[1..n + 1]);
        let y_f = cross.coordinate;
        if F::ROW_RATES {
            let coord = &mut coord[..n];
            coord.fill(y_f);
            let faces = FaceRow {
                x_f: coord,
                f_l: fl,
                f_r: fr,
                l: al,
                r: ar,
            };
            O::row(self.fam, faces, out, out2);
        } else {
            for k in 0..n {
                (out[k], out2[k]) = O::eval(self.fam, y_f, fl[k], fr[k], al[k], ar[k]);
            }
        }
    }

    /// Starts plane `k` of a pass over `region`: the per-cell rows below and at its first row
    /// (fused passes), then the y-faces below that first row into `(out, out2)`.
    #[inline(always)]
    fn first_y_faces<O: FaceOp>(
        &self,
        k: usize,
        region: &Region,
        bufs: &mut AuxRows<'_, F::Aux>,
        coord: &mut [f64],
        (out, out2): (&mut [f64], &mut [f64]),
    ) {
        let (cols, r0) = (&region.cols, region.rows.start);
        self.start(k, &region.rows, cols, bufs);
        let below = self.row_aux((k as isize, r0 as isize - 1), cols, bufs.lo);
        let above = self.row_aux((k as isize, r0 as isize), cols, bufs.hi);
        self.y_row::<O>((k, r0), cols, below, above, coord, out, out2);
    }

    /// Row `j` of plane `k`: moves the per-cell rows to it ([`FaceInputs::advance`]), then
    /// writes its x-faces into `x` and the y-faces above it into `y`.
    #[inline(always)]
    fn row_faces<O: FaceOp>(
        &self,
        (k, j): (usize, usize),
        cols: &Range<usize>,
        bufs: &mut AuxRows<'_, F::Aux>,
        coord: &mut [f64],
        x: (&mut [f64], &mut [f64]),
        y: (&mut [f64], &mut [f64]),
    ) {
        self.advance((k, j), cols, bufs);
        let here = self.row_aux((k as isize, j as isize), cols, bufs.lo);
        let above = self.row_aux((k as isize, j as isize + 1), cols, bufs.hi);
        self.x_row::<O>((k, j), cols, here, x.0, x.1);
        self.y_row::<O>((k, j + 1), cols, here, above, coord, y.0, y.1);
    }

    /// Starts a pass over `rows` x `cols` of plane `k`: in a fused pass, computes rows
    /// `rows.start - 1` and `rows.start` into `lo` and `hi`.
    #[inline(always)]
    fn start(
        &self,
        k: usize,
        rows: &Range<usize>,
        cols: &Range<usize>,
        bufs: &mut AuxRows<'_, F::Aux>,
    ) {
        if self.fused() {
            let (k, r0) = (k as isize, rows.start as isize);
            self.fill_row((k, r0 - 1), cols, bufs.lo);
            self.fill_row((k, r0), cols, bufs.hi);
        }
    }

    /// Moves a pass to row `j` of plane `k`: `lo` becomes row `j`, `hi` row `j + 1` (computed
    /// now, in a fused pass).
    #[inline(always)]
    fn advance(&self, (k, j): (usize, usize), cols: &Range<usize>, bufs: &mut AuxRows<'_, F::Aux>) {
        if self.fused() {
            std::mem::swap(bufs.lo, bufs.hi);
            self.fill_row((k as isize, j as isize + 1), cols, bufs.hi);
        }
    }
}

/// A row of faces across rows (y) or planes (z), for [`FaceInputs::cross_row`].
#[derive(Clone, Copy)]
struct Cross {
    boundary: bool,
    lo: usize,
    hi: usize,
    coordinate: f64,
}

/// `out = f + dt_over_h * (div of face fluxes)` on `region` (see the module doc). Reads the
/// ghosts of `f` only for faces on the block edge that have a neighbour.
pub fn apply<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    out: &mut Field,
    region: &Region,
    dt_over_h: f64,
) {
    apply_with(fam, geom, f, scratch, out, region, dt_over_h, None);
}

/// [`apply`], or with `half = Some(g)` the SSP-RK2 combination `out = 1/2 g + 1/2 (f + dt L_h(f))`
/// in the same pass (the bits of the two passes).
// A pure kernel, like `update`.
#[allow(clippy::too_many_arguments)]
fn apply_with<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    out: &mut Field,
    region: &Region,
    dt_over_h: f64,
    half: Option<&Field>,
) {
    let mut sink = Fluxes {
        out,
        dt_over_h,
        half,
    };
    rate_pass::<F, FluxOp, _>(fam, geom, f, scratch, region, None, &mut sink);
}

/// Largest positivity rate `(sum of outgoing k over the cell's faces) / h` on `region`: the
/// explicit step keeps `f >= 0` when `dt * rate <= 1`.
///
/// With `store`, the face rates are also kept (written in place into its storage), so that a
/// family whose time-step rates are its flux rates ([`Family::DT_RATES_ARE_FLUX_RATES`]) can
/// update with [`apply_stored`] without evaluating them again.
pub fn max_rate<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    store: Option<&mut FaceRates>,
) -> f64 {
    rate_pass::<F, DtRateOp, _>(fam, geom, f, scratch, region, store, &mut Keep)
}

/// [`max_rate`] that also keeps, per cell of `region`, the flux divergence of the update
/// (`div = (F_w - F_e) + (F_s - F_n)` (+ `(F_d - F_u)` in 3D), from the rates of the row while
/// they are in the row buffers) in the storage of `div`, so that once `dt` is known the update
/// `f* = f + (dt/h) div` is one streaming pass ([`step_from_divergence`]) with the bits of
/// [`apply`]. Only for a family whose time-step rates are its flux rates
/// ([`Family::DT_RATES_ARE_FLUX_RATES`]; panics otherwise).
pub fn max_rate_and_divergence<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    div: &mut Field,
) -> f64 {
    assert!(
        F::DT_RATES_ARE_FLUX_RATES,
        "the divergence of the update needs the flux rates"
    );
    let mut sink = Divergence { out: div };
    rate_pass::<F, DtRateOp, _>(fam, geom, f, scratch, region, None, &mut sink)
}

/// [`max_rate`] and the update `out = f + dt L_h(f)` on `region` in one pass: for a family
/// whose time-step rates are its flux rates ([`Family::DT_RATES_ARE_FLUX_RATES`]) the update
/// takes each row's rates while they are in the row buffers (the arithmetic of
/// [`apply_stored`], so the same bits as [`max_rate`] followed by [`update`]), with no
/// block-sized face rates written and read back. Other families make the two passes.
// A pure kernel, like `update`.
#[allow(clippy::too_many_arguments)]
pub fn max_rate_and_update<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    out: &mut Field,
    dt_over_h: f64,
) -> f64 {
    rate_and_update(fam, geom, f, scratch, region, out, dt_over_h, None)
}

/// [`max_rate_and_update`] writing the SSP-RK2 combination instead of the stage:
/// `out = 1/2 g + 1/2 (f + dt L_h(f))` on `region`, in the same pass (the bits of the update
/// followed by the combination `0.5 g + 0.5 f**`).
// A pure kernel, like `update`.
#[allow(clippy::too_many_arguments)]
pub fn max_rate_and_combine<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    g: &Field,
    out: &mut Field,
    dt_over_h: f64,
) -> f64 {
    rate_and_update(fam, geom, f, scratch, region, out, dt_over_h, Some(g))
}

#[allow(clippy::too_many_arguments)]
fn rate_and_update<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    out: &mut Field,
    dt_over_h: f64,
    half: Option<&Field>,
) -> f64 {
    if !F::DT_RATES_ARE_FLUX_RATES {
        let rate = max_rate(fam, geom, f, scratch, region, None);
        apply_with(fam, geom, f, scratch, out, region, dt_over_h, half);
        return rate;
    }
    let mut sink = Update {
        out,
        dt_over_h,
        half,
        max: true,
    };
    rate_pass::<F, DtRateOp, _>(fam, geom, f, scratch, region, None, &mut sink)
}

/// The flux rates `(k_plus, k_minus)` of [`Family::rates`] of every face of `region` (the
/// faces of its cells), stored in place in `rates`: the generator `L_h(f)` as a linear
/// operator, for the transposed (reverse) step [`apply_transpose`]. Returns the largest
/// outgoing flux rate.
pub fn flux_rates<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    rates: &mut FaceRates,
) -> f64 {
    rate_pass::<F, FluxRateOp, _>(fam, geom, f, scratch, region, Some(rates), &mut Keep)
}

/// [`flux_rates`] (kept in `rates`) and, in the same pass, the update
/// `out = f + dt L_h(f)` on `region` from them (the bits of [`apply_stored`]): the first stage
/// `f*` of the reverse SSP-RK2 step.
#[allow(clippy::too_many_arguments)]
pub fn flux_rates_and_update<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    rates: &mut FaceRates,
    out: &mut Field,
    dt_over_h: f64,
) {
    let mut sink = Update {
        out,
        dt_over_h,
        half: None,
        max: false,
    };
    rate_pass::<F, FluxRateOp, _>(fam, geom, f, scratch, region, Some(rates), &mut sink);
}

/// [`flux_rates`] of `f` (kept in `rates`) and, in the same pass, the transposed update
/// `out = w + dt L_h(f)^T w` on `region` from them (the bits of [`apply_transpose`]); `w`'s
/// ghosts must be current.
#[allow(clippy::too_many_arguments)]
pub fn flux_rates_and_transpose<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    rates: &mut FaceRates,
    w: &Field,
    out: &mut Field,
    dt_over_h: f64,
) {
    let mut sink = Transposed { w, out, dt_over_h };
    rate_pass::<F, FluxRateOp, _>(fam, geom, f, scratch, region, Some(rates), &mut sink);
}

/// The transposed SSP-RK2 stages from the rates of `f*` and of `f^n` in one pass over the
/// whole block (1D and 3D: see below): the rates of `f*` (kept in `rates_star`) with
/// `v = w + dt L(f*)^T w` row by row into a ring of three rows, and one row behind,
/// `w <- 1/2 w + 1/2 (v + dt L(f^n)^T v)` (rates of `f^n` in `rates`) in place on the cells
/// whose stencil reads no ghost of `v` (rows and columns `1..n - 1`). `v` receives what the
/// rest needs: its two outermost rows and columns at each side. Returns the regions left for
/// [`apply_transpose_combined_in_place`] once the ghosts of `v` are exchanged (the block's
/// outermost rows and columns). In 1D, 3D or on a block narrower than 3 cells the pass writes
/// all of `v` and leaves `w` alone (the whole block is returned). The bits of the separate
/// passes (rates, `A2^T w`, `A1^T`, the combination).
#[allow(clippy::too_many_arguments)]
pub fn reverse_ssprk2_stages<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    star: &Field,
    scratch: &mut Scratch<F::Aux>,
    rates_star: &mut FaceRates,
    rates: &FaceRates,
    w: &mut Field,
    v: &mut Field,
    dt_over_h: f64,
) -> Vec<Region> {
    let whole = geom.whole();
    let (ny, nx) = (geom.ny, geom.nx);
    if geom.dim3 || ny < 3 || nx < 3 {
        flux_rates_and_transpose(
            fam, geom, star, scratch, &whole, rates_star, w, v, dt_over_h,
        );
        return vec![whole];
    }
    let mut ring = std::mem::take(&mut scratch.ring);
    ring.resize(3 * (nx + 2), 0.0);
    let mut sink = Stages {
        w,
        v,
        ring: &mut ring,
        rates,
        dt_over_h,
        ny,
    };
    rate_pass::<F, FluxRateOp, _>(
        fam,
        geom,
        star,
        scratch,
        &whole,
        Some(rates_star),
        &mut sink,
    );
    scratch.ring = ring;
    let region = |rows: Range<usize>, cols: Range<usize>| Region {
        planes: 0..1,
        rows,
        cols,
    };
    vec![
        region(0..1, 0..nx),
        region(ny - 1..ny, 0..nx),
        region(1..ny - 1, 0..1),
        region(1..ny - 1, nx - 1..nx),
    ]
}

/// What a rate pass does with each row's face values once they are computed: `row(f, at,
/// around)` for the row of `f` starting at flat index `at` with the face values `around` it.
trait RowSink {
    /// Whether the pass computes the largest outgoing rate sum (the face values are rates).
    fn max(&self) -> bool;
    /// Row `j` of plane `k`, which starts at flat index `at`.
    fn row(&mut self, f: &Field, kj: (usize, usize), at: usize, around: Around<'_>, dim3: bool);
}

/// Keeps nothing beyond the rates (and the rate bound).
struct Keep;

impl RowSink for Keep {
    fn max(&self) -> bool {
        true
    }
    #[inline(always)]
    fn row(&mut self, _: &Field, _: (usize, usize), _: usize, _: Around<'_>, _: bool) {}
}

/// `out = f + dt/h div` (or `1/2 half + 1/2 (...)`) from the rates ([`update_row`]).
struct Update<'a> {
    out: &'a mut Field,
    dt_over_h: f64,
    half: Option<&'a Field>,
    max: bool,
}

impl RowSink for Update<'_> {
    fn max(&self) -> bool {
        self.max
    }
    #[inline(always)]
    fn row(&mut self, f: &Field, _: (usize, usize), at: usize, around: Around<'_>, dim3: bool) {
        let n = around.kps.len();
        let g = self.half.map_or(&[][..], |g| &g.raw()[at..at + n]);
        let cells = Cells::of(f, at, n, dim3);
        let dst = &mut self.out.raw_mut()[at..at + n];
        update_row(around, cells, self.dt_over_h, g, dst);
    }
}

/// `out = div` from the rates ([`divergence_row`]).
struct Divergence<'a> {
    out: &'a mut Field,
}

impl RowSink for Divergence<'_> {
    fn max(&self) -> bool {
        true
    }
    #[inline(always)]
    fn row(&mut self, f: &Field, _: (usize, usize), at: usize, around: Around<'_>, dim3: bool) {
        let n = around.kps.len();
        let cells = Cells::of(f, at, n, dim3);
        divergence_row(around, cells, &mut self.out.raw_mut()[at..at + n]);
    }
}

/// `out = w + dt/h L^T w` from the rates ([`transpose_row`]).
struct Transposed<'a> {
    w: &'a Field,
    out: &'a mut Field,
    dt_over_h: f64,
}

impl RowSink for Transposed<'_> {
    fn max(&self) -> bool {
        false
    }
    #[inline(always)]
    fn row(&mut self, _: &Field, _: (usize, usize), at: usize, around: Around<'_>, dim3: bool) {
        let n = around.kps.len();
        let cells = Cells::of(self.w, at, n, dim3);
        let dst = &mut self.out.raw_mut()[at..at + n];
        transpose_row(around, cells, self.dt_over_h, &[], dst);
    }
}

/// The two transposed stages of the reverse SSP-RK2 step over a whole 2D block (at least
/// 3 x 3), see [`reverse_ssprk2_stages`]: row `j` of `v = w + dt/h L_2^T w` into the ring
/// of three rows (and its two outermost columns, or the whole row for the two outermost rows
/// at either end, into `v`), then row `j - 1` of `w <- 1/2 w + 1/2 (v + dt/h L_1^T v)` on
/// columns `1..nx - 1` (rows `1..ny - 1`), in place: the first stage no longer reads row
/// `j - 1` of `w`.
struct Stages<'a> {
    w: &'a mut Field,
    v: &'a mut Field,
    ring: &'a mut [f64],
    rates: &'a FaceRates,
    dt_over_h: f64,
    ny: usize,
}

impl Stages<'_> {
    /// Row `j` of `v` in the ring (`nx + 2` values, column `i` at `i + 1`).
    #[inline(always)]
    fn ring_row(ring: &[f64], j: usize, nx: usize) -> &[f64] {
        &ring[(j % 3) * (nx + 2)..(j % 3 + 1) * (nx + 2)]
    }
}

impl RowSink for Stages<'_> {
    fn max(&self) -> bool {
        false
    }
    #[inline(always)]
    fn row(&mut self, _: &Field, (k, j): (usize, usize), at: usize, around: Around<'_>, _: bool) {
        let nx = around.kps.len();
        let ny = self.ny;
        {
            let cells = Cells::of(&*self.w, at, nx, false);
            let slot = (j % 3) * (nx + 2);
            let dst = &mut self.ring[slot + 1..slot + 1 + nx];
            transpose_row(around, cells, self.dt_over_h, &[], dst);
            // What the exchange and the rim pass read of v.
            let v = &mut self.v.raw_mut()[at..at + nx];
            if j < 2 || j + 2 >= ny {
                v.copy_from_slice(dst);
            } else {
                v[..2].copy_from_slice(&dst[..2]);
                v[nx - 2..].copy_from_slice(&dst[nx - 2..]);
            }
        }
        if j >= 2 && j < ny {
            // Rows j - 2..=j of v are in the ring: row j - 1 of the second stage.
            let r = j - 1;
            let m = nx - 2;
            let (lo, here, hi) = (
                Self::ring_row(self.ring, r - 1, nx),
                Self::ring_row(self.ring, r, nx),
                Self::ring_row(self.ring, r + 1, nx),
            );
            let cells = Cells {
                row: &here[1..nx + 1],
                south: &lo[2..nx],
                north: &hi[2..nx],
                down: &[],
                up: &[],
            };
            let around = self.rates.around_row(k, r, 1, m);
            let at = self.w.index3(k as isize, r as isize, 1);
            let dst = &mut self.w.raw_mut()[at..at + m];
            transpose_combine_row(around, cells, self.dt_over_h, dst);
        }
    }
}

/// `out = f + dt/h div` from face fluxes ([`FluxOp`]: the `k_plus` slots hold `F`).
struct Fluxes<'a> {
    out: &'a mut Field,
    dt_over_h: f64,
    half: Option<&'a Field>,
}

impl RowSink for Fluxes<'_> {
    fn max(&self) -> bool {
        false
    }
    #[inline(always)]
    fn row(&mut self, f: &Field, _: (usize, usize), at: usize, around: Around<'_>, _: bool) {
        let n = around.kps.len();
        let g = self.half.map_or(&[][..], |g| &g.raw()[at..at + n]);
        let fin = &f.raw()[at..at + n];
        let dst = &mut self.out.raw_mut()[at..at + n];
        flux_update_row(around, fin, self.dt_over_h, g, dst);
    }
}

/// One pass over the faces of `region` evaluating face values with `O` (rate pairs, or fluxes
/// for [`FluxOp`]) into `store` (kept, in place) or the rolling row buffers of `scratch`,
/// handing each row's values to `sink` as soon as the row's faces are done; returns
/// `max_i (sum of the outgoing rates of cell i) / h` (0 for a sink without [`RowSink::max`]).
fn rate_pass<F: Family, O: FaceOp, S: RowSink>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    store: Option<&mut FaceRates>,
    sink: &mut S,
) -> f64 {
    if region.is_empty() {
        return 0.0;
    }
    let cols = &region.cols;
    let Scratch {
        aux,
        aux_lo,
        aux_hi,
        fx,
        fx2,
        fy,
        fy2,
        coord,
        fz,
        fz2,
        ..
    } = scratch;
    let (nx, ny) = (geom.nx, geom.ny);
    let mut v = match store {
        Some(rates) => {
            debug_assert_eq!(
                rates.shape(),
                (geom.nz, ny, nx),
                "face rates of another block"
            );
            debug_assert_eq!(geom.dim3, rates.is_3d(), "face rates of another dimension");
            rates.view()
        }
        None => RateView::rolling((nx, ny), (fx, fx2), (fy, fy2), (fz, fz2)),
    };
    // kp at a face: loss rate of the cell below; km: loss rate of the cell above.
    let faces = FaceInputs { fam, geom, f, aux };
    let mut bufs = AuxRows {
        lo: aux_lo,
        hi: aux_hi,
    };
    let (c0, n) = (cols.start, cols.len());
    let plane = ny * nx;
    let mut max_rate = 0.0f64;
    if geom.dim3 {
        let kf = region.planes.start;
        let z = v.z(kf)..v.z(kf) + plane;
        let out = (&mut v.kp_z[z.clone()], &mut v.km_z[z]);
        faces.z_plane::<O>(kf, region, coord, out.0, out.1);
    }
    for k in region.planes.clone() {
        if geom.dim3 {
            let z = v.z(k + 1)..v.z(k + 1) + plane;
            let out = (&mut v.kp_z[z.clone()], &mut v.km_z[z]);
            faces.z_plane::<O>(k + 1, region, coord, out.0, out.1);
        }
        let y0 = v.y(k, region.rows.start)..v.y(k, region.rows.start) + nx;
        let out = (&mut v.kp_y[y0.clone()], &mut v.km_y[y0]);
        faces.first_y_faces::<O>(k, region, &mut bufs, coord, out);
        for j in region.rows.clone() {
            let (xs, ns) = (v.x(k, j), v.y(k, j + 1));
            let x = xs..xs + nx + 1;
            let y = ns..ns + nx;
            {
                let RateView {
                    kp_x,
                    km_x,
                    kp_y,
                    km_y,
                    ..
                } = &mut v;
                let x = (&mut kp_x[x.clone()], &mut km_x[x]);
                let y = (&mut kp_y[y.clone()], &mut km_y[y]);
                faces.row_faces::<O>((k, j), cols, &mut bufs, coord, x, y);
            }
            let ss = v.y(k, j) + c0;
            let (xs, ns) = (xs + c0, ns + c0);
            let down_up = geom
                .dim3
                .then(|| (v.z(k) + j * nx + c0, v.z(k + 1) + j * nx + c0));
            let storage = [&*v.kp_x, &*v.km_x, &*v.kp_y, &*v.km_y, &*v.kp_z, &*v.km_z];
            let around = Around::of(storage, xs, (ss, ns), down_up, n);
            if sink.max() {
                max_out_row(around, &mut max_rate);
            }
            let at = f.index3(k as isize, j as isize, c0 as isize);
            sink.row(f, (k, j), at, around, geom.dim3);
        }
    }
    max_rate / geom.h
}

/// The update `out = f + dt L_h(f)` on `region`: from the kept face rates of a preceding
/// [`max_rate`] pass over the same field when they are given ([`apply_stored`]), otherwise
/// evaluating them ([`apply`]). Both give the same bits.
// A pure kernel: the family, the block geometry, in/out fields, scratch rows, optional
// stored rates, the region and dt/h are all distinct inputs (no layout among them).
#[allow(clippy::too_many_arguments)]
pub fn update<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    rates: Option<&FaceRates>,
    out: &mut Field,
    region: &Region,
    dt_over_h: f64,
) {
    match rates {
        Some(rates) => apply_stored(geom, f, rates, out, region, dt_over_h),
        None => apply(fam, geom, f, scratch, out, region, dt_over_h),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FaceCoefficients, Sg, Upwind};
    use super::*;
    use crate::decomp::{Block, ProcessGrid};
    use crate::mesh::Mesh;

    /// A global field of `mesh`, one value per cell in `z, y, x` order (zeros, tiny and
    /// condensate values, a smooth bump, and a shift so that two fields differ).
    fn global(mesh: &Mesh, shift: usize) -> Vec<f64> {
        let n = mesh.n;
        let (nz, ny) = match mesh.dim {
            1 => (1, 1),
            2 => (1, n),
            _ => (n, n),
        };
        let mut g = Vec::with_capacity(nz * ny * n);
        for gz in 0..nz {
            for gy in 0..ny {
                for gx in 0..n {
                    let [x, y, z] = [gx, gy, gz].map(|c| (c as f64 + 0.5) / n as f64 - 0.4);
                    g.push(match (gx + 3 * gy + 5 * gz + shift) % 11 {
                        0 => 0.0,
                        1 => 1e-200,
                        2 => 4.0,
                        _ => 3.0 * (-(x * x + 0.5 * y * y + z * z) * 8.0).exp() + 1e-3,
                    });
                }
            }
        }
        g
    }

    /// The block of `rank` of a global field, ghosts filled where the global cell exists (as a
    /// halo exchange would); the other ghosts keep `junk` (what a zero-flux side holds).
    fn block_field(mesh: &Mesh, block: &Block, g: &[f64], junk: f64) -> Field {
        let mut f = Field::for_dim(mesh.dim, block.nz, block.ny, block.nx);
        f.raw_mut().fill(junk);
        let n = mesh.n as isize;
        let (ny_g, nz_g) = match mesh.dim {
            1 => (1, 1),
            2 => (n, 1),
            _ => (n, n),
        };
        let (gz, gy) = (isize::from(f.gz() > 0), isize::from(f.gy() > 0));
        let (nz, ny, nx) = (block.nz as isize, block.ny as isize, block.nx as isize);
        for k in -gz..nz + gz {
            for j in -gy..ny + gy {
                for i in -1..=nx {
                    let (cz, cy, cx) = (
                        block.z0 as isize + k,
                        block.y0 as isize + j,
                        block.x0 as isize + i,
                    );
                    if (0..nz_g).contains(&cz) && (0..ny_g).contains(&cy) && (0..n).contains(&cx) {
                        let at = f.index3(k, j, i);
                        f.raw_mut()[at] = g[((cz * ny_g + cy) * n + cx) as usize];
                    }
                }
            }
        }
        f
    }

    /// Writes the owned cells of a block field back into the global field.
    fn to_global(mesh: &Mesh, block: &Block, f: &Field, g: &mut [f64]) {
        let n = mesh.n;
        let ny_g = if mesh.dim == 1 { 1 } else { n };
        for k in 0..block.nz {
            for j in 0..block.ny {
                for i in 0..block.nx {
                    let at = f.index3(k as isize, j as isize, i as isize);
                    g[((block.z0 + k) * ny_g + block.y0 + j) * n + block.x0 + i] = f.raw()[at];
                }
            }
        }
    }

    fn owned_bits(f: &Field) -> Vec<u64> {
        f.interior3().iter().map(|v| v.to_bits()).collect()
    }

    /// The kept rates of every face of the block, as bits.
    fn rate_bits(r: &FaceRates) -> Vec<u64> {
        let (nz, ny, nx) = r.shape();
        let mut out = Vec::new();
        for k in 0..nz {
            for j in 0..=ny {
                for i in 0..=nx {
                    let mut push = |(a, b): (f64, f64)| out.extend([a.to_bits(), b.to_bits()]);
                    if j < ny {
                        push(r.x(k, j, i));
                    }
                    if i < nx {
                        push(r.y(k, j, i));
                    }
                }
            }
        }
        if r.is_3d() {
            for kf in 0..=nz {
                for j in 0..ny {
                    for i in 0..nx {
                        let (a, b) = r.z(kf, j, i);
                        out.extend([a.to_bits(), b.to_bits()]);
                    }
                }
            }
        }
        out
    }

    /// The per-cell values of `f` where the passes of `F` read them stored.
    fn prepare<F: Family>(fam: &F, geom: &BlockGeometry, f: &Field, s: &mut Scratch<F::Aux>) {
        if reads_stored_aux::<F>(geom) {
            fill_aux_owned(fam, f, &mut s.aux);
            fill_aux_ghosts(fam, f, &mut s.aux);
        }
    }

    /// The grids: 1D on 2 ranks, 2D on 2 x 2 (and 3 x 1), 3D on 2 x 2 x 2; every block has
    /// physical boundaries and neighbours, and is split into interior and rim regions.
    fn cases() -> Vec<(Mesh, ProcessGrid)> {
        vec![
            (Mesh::new(1, 13, 3.0), ProcessGrid::from_procs(&[2])),
            (Mesh::new(2, 11, 3.0), ProcessGrid::from_procs(&[2, 2])),
            (Mesh::new(2, 10, 3.0), ProcessGrid::from_procs(&[3, 1])),
            (Mesh::new(3, 7, 3.0), ProcessGrid::from_procs(&[2, 2, 2])),
        ]
    }

    /// Forward SSP-RK2 on every block of every grid: the fused passes of the stepper (the rate
    /// pass keeping the divergence, the streaming first stage, the second stage writing the
    /// combination) against the unfused sequence (the rate pass keeping the face rates, the
    /// update from them, the second stage's rate pass and update, the combination), and
    /// against the update evaluating the fluxes: the same bits and the same rate bounds.
    fn forward_ssprk2_bits<F: Family>(family: impl Fn(f64) -> F) {
        for (mesh, grid) in cases() {
            let fam = family(mesh.h);
            let g0 = global(&mesh, 0);
            let c = 0.013;
            let (mut star_old, mut star_new) = (g0.clone(), g0.clone());
            let mut rates1 = Vec::new();
            // Stage 1 on every block.
            for rank in 0..grid.size() {
                let block = Block::new(&mesh, grid, rank);
                let geom = BlockGeometry::new(&mesh, &block);
                let (interior, rim) = geom.split_interior_rim();
                let f = block_field(&mesh, &block, &g0, 0.5);
                let mut s = Scratch::new(&f);
                prepare(&fam, &geom, &f, &mut s);
                let whole = geom.whole();
                let regions: Vec<&Region> = std::iter::once(&interior).chain(&rim).collect();
                let (mut old, mut new, mut evaluated) = (f.clone(), f.clone(), f.clone());
                apply(&fam, &geom, &f, &mut s, &mut evaluated, &whole, c);
                let mut kept = FaceRates::for_geometry(&geom);
                let mut bound = [0.0f64; 2];
                for r in &regions {
                    let store = Some(&mut kept);
                    bound[0] = bound[0].max(max_rate(&fam, &geom, &f, &mut s, r, store));
                }
                if F::DT_RATES_ARE_FLUX_RATES {
                    apply_stored(&geom, &f, &kept, &mut old, &whole, c);
                    for r in &regions {
                        let rate = max_rate_and_divergence(&fam, &geom, &f, &mut s, r, &mut new);
                        bound[1] = bound[1].max(rate);
                    }
                    step_from_divergence(&f, &mut new, &whole, c);
                    assert_eq!(owned_bits(&old), owned_bits(&evaluated), "{rank}");
                    assert_eq!(owned_bits(&new), owned_bits(&old), "{rank}");
                    assert_eq!(bound[0].to_bits(), bound[1].to_bits());
                } else {
                    new = evaluated.clone();
                    old = evaluated;
                }
                rates1.push(bound[0]);
                to_global(&mesh, &block, &old, &mut star_old);
                to_global(&mesh, &block, &new, &mut star_new);
            }
            assert!(rates1.iter().all(|r| r.is_finite() && *r > 0.0));
            // Stage 2 and the combination, from f* with its ghosts.
            for rank in 0..grid.size() {
                let block = Block::new(&mesh, grid, rank);
                let geom = BlockGeometry::new(&mesh, &block);
                let (interior, rim) = geom.split_interior_rim();
                let f = block_field(&mesh, &block, &g0, 0.5);
                let star = block_field(&mesh, &block, &star_old, 0.25);
                let mut s = Scratch::new(&f);
                prepare(&fam, &geom, &star, &mut s);
                let whole = geom.whole();
                let (mut f2, mut combined) = (f.clone(), f.clone());
                let mut kept = FaceRates::for_geometry(&geom);
                let mut bound = [0.0f64; 2];
                for r in std::iter::once(&interior).chain(&rim) {
                    let store = F::DT_RATES_ARE_FLUX_RATES.then_some(&mut kept);
                    bound[0] = bound[0].max(max_rate(&fam, &geom, &star, &mut s, r, store));
                    let rate =
                        max_rate_and_combine(&fam, &geom, &star, &mut s, r, &f, &mut combined, c);
                    bound[1] = bound[1].max(rate);
                }
                if F::DT_RATES_ARE_FLUX_RATES {
                    apply_stored(&geom, &star, &kept, &mut f2, &whole, c);
                } else {
                    apply(&fam, &geom, &star, &mut s, &mut f2, &whole, c);
                }
                let mut old = f.clone();
                old.interior3_mut()
                    .zip_mut_with(&f2.interior3(), |a, &b| *a = 0.5 * *a + 0.5 * b);
                assert_eq!(owned_bits(&combined), owned_bits(&old), "{rank}");
                assert_eq!(bound[0].to_bits(), bound[1].to_bits());
                assert!(combined.interior3().iter().all(|v| v.is_finite()));
            }
        }
    }

    /// Reverse SSP-RK2 and Euler on every block of every grid: the fused passes of the reverse
    /// stepper (rates of `f^n` with `f*`; rates of `f*` with `A2^T w` and, a row behind,
    /// `1/2 w + 1/2 A1^T A2^T w`; the rim rows after the exchange) against the unfused
    /// sequence (rates, `f*` from them, rates of `f*`, two transposed updates, the
    /// combination): the same bits, and the same kept rates.
    fn reverse_bits<F: Family>(family: impl Fn(f64) -> F) {
        for (mesh, grid) in cases() {
            let fam = family(mesh.h);
            let (g0, gw) = (global(&mesh, 0), global(&mesh, 4));
            let c = 0.011;
            let mut star_g = g0.clone();
            let mut kept1 = Vec::new();
            // f* and the rates of f^n (and the Euler reverse step).
            for rank in 0..grid.size() {
                let block = Block::new(&mesh, grid, rank);
                let geom = BlockGeometry::new(&mesh, &block);
                let whole = geom.whole();
                let f = block_field(&mesh, &block, &g0, 0.5);
                let w = block_field(&mesh, &block, &gw, 0.75);
                let mut s = Scratch::new(&f);
                prepare(&fam, &geom, &f, &mut s);
                let mut old_rates = FaceRates::for_geometry(&geom);
                flux_rates(&fam, &geom, &f, &mut s, &whole, &mut old_rates);
                let mut old_star = f.clone();
                apply_stored(&geom, &f, &old_rates, &mut old_star, &whole, c);
                let mut rates = FaceRates::for_geometry(&geom);
                let mut star = f.clone();
                flux_rates_and_update(&fam, &geom, &f, &mut s, &whole, &mut rates, &mut star, c);
                assert_eq!(rate_bits(&rates), rate_bits(&old_rates));
                assert_eq!(owned_bits(&star), owned_bits(&old_star));
                // Euler: A1^T w in the rate pass.
                let mut old_euler = w.clone();
                apply_transpose(&geom, &w, &old_rates, &mut old_euler, &whole, c);
                let mut euler_rates = FaceRates::for_geometry(&geom);
                let mut euler = w.clone();
                flux_rates_and_transpose(
                    &fam,
                    &geom,
                    &f,
                    &mut s,
                    &whole,
                    &mut euler_rates,
                    &w,
                    &mut euler,
                    c,
                );
                assert_eq!(rate_bits(&euler_rates), rate_bits(&old_rates));
                assert_eq!(owned_bits(&euler), owned_bits(&old_euler));
                to_global(&mesh, &block, &star, &mut star_g);
                kept1.push(rates);
            }
            // The rates of f*, A2^T w, A1^T (A2^T w) combined with w.
            let mut a2w_old_g = gw.clone();
            let mut a2w_new_g = gw.clone();
            let mut stars = Vec::new();
            for (rank, rates1) in kept1.iter().enumerate() {
                let block = Block::new(&mesh, grid, rank);
                let geom = BlockGeometry::new(&mesh, &block);
                let whole = geom.whole();
                let star = block_field(&mesh, &block, &star_g, 0.5);
                let w = block_field(&mesh, &block, &gw, 0.75);
                let mut s = Scratch::new(&star);
                prepare(&fam, &geom, &star, &mut s);
                let mut old_star_rates = FaceRates::for_geometry(&geom);
                flux_rates(&fam, &geom, &star, &mut s, &whole, &mut old_star_rates);
                let mut a2w_old = w.clone();
                apply_transpose(&geom, &w, &old_star_rates, &mut a2w_old, &whole, c);
                let mut star_rates = FaceRates::for_geometry(&geom);
                // The parts of A2^T w the pass does not store keep this value.
                let mut a2w = Field::for_dim(mesh.dim, block.nz, block.ny, block.nx);
                a2w.raw_mut().fill(-7.0);
                let mut out = w.clone();
                let rest = reverse_ssprk2_stages(
                    &fam,
                    &geom,
                    &star,
                    &mut s,
                    &mut star_rates,
                    rates1,
                    &mut out,
                    &mut a2w,
                    c,
                );
                assert_eq!(rate_bits(&star_rates), rate_bits(&old_star_rates));
                // A2^T w where the rest reads it: the outermost two rows and columns.
                let (ny, nx) = (block.ny as isize, block.nx as isize);
                for k in 0..block.nz as isize {
                    for j in 0..ny {
                        for i in 0..nx {
                            let at = a2w.index3(k, j, i);
                            let edge = j < 2 || j >= ny - 2 || i < 2 || i >= nx - 2;
                            if edge || rest.len() == 1 {
                                assert_eq!(a2w.raw()[at].to_bits(), a2w_old.raw()[at].to_bits());
                            }
                        }
                    }
                }
                to_global(&mesh, &block, &a2w_old, &mut a2w_old_g);
                to_global(&mesh, &block, &a2w, &mut a2w_new_g);
                stars.push((out, rest));
            }
            for (rank, (mut out, rest)) in stars.into_iter().enumerate() {
                let block = Block::new(&mesh, grid, rank);
                let geom = BlockGeometry::new(&mesh, &block);
                let whole = geom.whole();
                let w = block_field(&mesh, &block, &gw, 0.75);
                // The exchange of A2^T w, then the rim of the last stage.
                let a2w_old = block_field(&mesh, &block, &a2w_old_g, 0.125);
                let a2w = block_field(&mesh, &block, &a2w_new_g, 0.125);
                for region in &rest {
                    let rates = &kept1[rank];
                    apply_transpose_combined_in_place(&geom, &a2w, rates, &mut out, region, c);
                }
                let mut a1 = w.clone();
                apply_transpose(&geom, &a2w_old, &kept1[rank], &mut a1, &whole, c);
                let mut old = w.clone();
                old.interior3_mut()
                    .zip_mut_with(&a1.interior3(), |a, &b| *a = 0.5 * *a + 0.5 * b);
                assert_eq!(owned_bits(&out), owned_bits(&old), "rank {rank}");
                assert!(out.interior3().iter().all(|v| v.is_finite()));
            }
        }
    }

    fn coefficients(h: f64) -> FaceCoefficients {
        FaceCoefficients {
            diffusion: 0.8,
            kappa: 1.3,
            gamma: 2.0,
            h,
        }
    }

    #[test]
    fn fused_updates_give_the_bits_of_the_unfused_passes() {
        forward_ssprk2_bits(|h| Sg::new(coefficients(h)));
        forward_ssprk2_bits(|h| Upwind::new(coefficients(h)));
        reverse_bits(|h| Sg::new(coefficients(h)));
        reverse_bits(|h| Upwind::new(coefficients(h)));
    }

    /// The fused passes give the same bits at every instruction-set level of the row kernels.
    #[test]
    fn fused_updates_are_the_same_at_every_level() {
        use crate::simd::{with_level, Level};
        let mesh = Mesh::new(2, 37, 3.0);
        let block = Block::new(&mesh, ProcessGrid::single(), 0);
        let geom = BlockGeometry::new(&mesh, &block);
        let fam = Sg::new(coefficients(mesh.h));
        let (f, w) = (
            block_field(&mesh, &block, &global(&mesh, 0), 0.5),
            block_field(&mesh, &block, &global(&mesh, 3), 0.5),
        );
        let v = Field::zeros(geom.ny, geom.nx);
        let whole = geom.whole();
        let run = |level| {
            with_level(level, || {
                let mut s = Scratch::new(&f);
                let (mut d, mut g) = (f.clone(), f.clone());
                let r = max_rate_and_divergence(&fam, &geom, &f, &mut s, &whole, &mut d);
                step_from_divergence(&f, &mut d, &whole, 0.01);
                max_rate_and_combine(&fam, &geom, &d, &mut s, &whole, &f, &mut g, 0.01);
                let mut rates = FaceRates::for_geometry(&geom);
                let mut t = w.clone();
                flux_rates_and_transpose(
                    &fam, &geom, &f, &mut s, &whole, &mut rates, &w, &mut t, 0.01,
                );
                let (mut rates2, mut u, mut v) =
                    (FaceRates::for_geometry(&geom), w.clone(), v.clone());
                reverse_ssprk2_stages(
                    &fam,
                    &geom,
                    &d,
                    &mut s,
                    &mut rates2,
                    &rates,
                    &mut u,
                    &mut v,
                    0.01,
                );
                [
                    owned_bits(&d),
                    owned_bits(&g),
                    owned_bits(&t),
                    owned_bits(&u),
                    vec![r.to_bits()],
                ]
            })
        };
        let base = run(Level::Baseline);
        for level in Level::ALL {
            assert!(run(level) == base, "{}", level.name());
        }
    }
}
