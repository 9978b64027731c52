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

use std::ops::Range;

pub use super::face_rates::{apply_stored, apply_transpose, FaceRates};
use super::face_rates::{update_row, RowRates};
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
    fx: Vec<f64>,
    fx2: Vec<f64>,
    fy_south: Vec<f64>,
    fy_north: Vec<f64>,
    fy_south2: Vec<f64>,
    fy_north2: Vec<f64>,
    /// The coordinate of a row of y-faces, repeated (for [`Family::rates_row`]).
    coord: Vec<f64>,
    /// 3D: the z-faces below and above the current plane (`ny x nx`, row-major), both values.
    fz_lo: Vec<f64>,
    fz_hi: Vec<f64>,
    fz_lo2: Vec<f64>,
    fz_hi2: Vec<f64>,
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
            fy_south: vec![0.0; nx],
            fy_north: vec![0.0; nx],
            fy_south2: vec![0.0; nx],
            fy_north2: vec![0.0; nx],
            coord: vec![0.0; nx],
            fz_lo: vec![0.0; plane],
            fz_hi: vec![0.0; plane],
            fz_lo2: vec![0.0; plane],
            fz_hi2: vec![0.0; plane],
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
        rates_row(fam, &faces, out, out2);
        for k in 0..faces.x_f.len() {
            out[k] = out[k] * faces.f_l[k] - out2[k] * faces.f_r[k];
            out2[k] = 0.0;
        }
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
    if region.is_empty() {
        return;
    }
    let cols = &region.cols;
    let Scratch {
        aux,
        aux_lo,
        aux_hi,
        fx,
        fx2,
        fy_south,
        fy_north,
        fy_south2,
        coord,
        fz_lo,
        fz_hi,
        fz_lo2,
        ..
    } = scratch;
    let faces = FaceInputs { fam, geom, f, aux };
    let mut bufs = AuxRows {
        lo: aux_lo,
        hi: aux_hi,
    };
    let nx = geom.nx;
    if geom.dim3 {
        faces.z_plane::<FluxOp>(region.planes.start, region, coord, fz_lo, fz_lo2);
    }
    for k in region.planes.clone() {
        if geom.dim3 {
            faces.z_plane::<FluxOp>(k + 1, region, coord, fz_hi, fz_lo2);
        }
        faces.first_y_faces::<FluxOp>(k, region, &mut bufs, coord, (fy_south, fy_south2));
        for j in region.rows.clone() {
            let (x, y) = (
                (&mut fx[..], &mut fx2[..]),
                (&mut fy_north[..], &mut fy_south2[..]),
            );
            faces.row_faces::<FluxOp>((k, j), cols, &mut bufs, coord, x, y);
            let at = f.index3(k as isize, j as isize, cols.start as isize);
            let n = cols.len();
            let fin = &f.raw()[at..at + n];
            let dst = &mut out.raw_mut()[at..at + n];
            let fxw = &fx[cols.start..cols.end];
            let fxe = &fx[cols.start + 1..cols.end + 1];
            let fys = &fy_south[cols.clone()];
            let fyn = &fy_north[cols.clone()];
            if geom.dim3 {
                let row = j * nx + cols.start..j * nx + cols.end;
                let (fzb, fza) = (&fz_lo[row.clone()], &fz_hi[row]);
                for c in 0..n {
                    dst[c] = fin[c]
                        + dt_over_h * (((fxw[c] - fxe[c]) + (fys[c] - fyn[c])) + (fzb[c] - fza[c]));
                }
            } else {
                for c in 0..n {
                    dst[c] = fin[c] + dt_over_h * ((fxw[c] - fxe[c]) + (fys[c] - fyn[c]));
                }
            }
            std::mem::swap(fy_south, fy_north);
        }
        std::mem::swap(fz_lo, fz_hi);
    }
}

/// Largest positivity rate `(sum of outgoing k over the cell's faces) / h` on `region`: the
/// explicit step keeps `f >= 0` when `dt * rate <= 1`.
///
/// With `store`, the face rates are also kept, so that a family whose time-step rates are its
/// flux rates ([`Family::DT_RATES_ARE_FLUX_RATES`]) can update with [`apply_stored`] without
/// evaluating them again.
pub fn max_rate<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    store: Option<&mut FaceRates>,
) -> f64 {
    rate_pass::<F, DtRateOp>(fam, geom, f, scratch, region, store, None)
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
    if !F::DT_RATES_ARE_FLUX_RATES {
        let rate = max_rate(fam, geom, f, scratch, region, None);
        apply(fam, geom, f, scratch, out, region, dt_over_h);
        return rate;
    }
    rate_pass::<F, DtRateOp>(fam, geom, f, scratch, region, None, Some((out, dt_over_h)))
}

/// The flux rates `(k_plus, k_minus)` of [`Family::rates`] of every face of `region` (the
/// faces of its cells), stored in `rates`: the generator `L_h(f)` as a linear operator, for the
/// transposed (reverse) step [`apply_transpose`]. Returns the largest outgoing flux rate.
pub fn flux_rates<F: Family>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    rates: &mut FaceRates,
) -> f64 {
    rate_pass::<F, FluxRateOp>(fam, geom, f, scratch, region, Some(rates), None)
}

/// One pass over the faces of `region` evaluating rate pairs with `O`, optionally storing them
/// and optionally (`update = (out, dt/h)`, `O`'s pairs being flux rates) writing the update
/// `out = f + dt L_h(f)` row by row from them; returns `max_i (sum of the outgoing rates of
/// cell i) / h`.
fn rate_pass<F: Family, O: FaceOp>(
    fam: &F,
    geom: &BlockGeometry,
    f: &Field,
    scratch: &mut Scratch<F::Aux>,
    region: &Region,
    mut store: Option<&mut FaceRates>,
    mut update: Option<(&mut Field, f64)>,
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
        fy_south,
        fy_north,
        fy_south2,
        fy_north2,
        coord,
        fz_lo,
        fz_hi,
        fz_lo2,
        fz_hi2,
    } = scratch;
    // kp at a face: loss rate of the cell below; km: loss rate of the cell above.
    let faces = FaceInputs { fam, geom, f, aux };
    let mut bufs = AuxRows {
        lo: aux_lo,
        hi: aux_hi,
    };
    let nx = geom.nx;
    let mut max_rate = 0.0f64;
    if geom.dim3 {
        let kf = region.planes.start;
        faces.z_plane::<O>(kf, region, coord, fz_lo, fz_lo2);
        if let Some(store) = store.as_deref_mut() {
            store.put_z(kf, region, fz_lo, fz_lo2);
        }
    }
    for k in region.planes.clone() {
        if geom.dim3 {
            faces.z_plane::<O>(k + 1, region, coord, fz_hi, fz_hi2);
            if let Some(store) = store.as_deref_mut() {
                store.put_z(k + 1, region, fz_hi, fz_hi2);
            }
        }
        faces.first_y_faces::<O>(k, region, &mut bufs, coord, (fy_south, fy_south2));
        if let Some(store) = store.as_deref_mut() {
            store.put_y((k, region.rows.start), cols, fy_south, fy_south2);
        }
        for j in region.rows.clone() {
            let (x, y) = (
                (&mut fx[..], &mut fx2[..]),
                (&mut fy_north[..], &mut fy_north2[..]),
            );
            faces.row_faces::<O>((k, j), cols, &mut bufs, coord, x, y);
            if let Some(store) = store.as_deref_mut() {
                store.put_x((k, j), cols, fx, fx2);
                store.put_y((k, j + 1), cols, fy_north, fy_north2);
            }
            let n = cols.len();
            if let Some((out, dt_over_h)) = update.as_mut() {
                let row = j * nx + cols.start..j * nx + cols.end;
                let z = geom.dim3.then(|| {
                    [
                        (&fz_lo[row.clone()], &fz_lo2[row.clone()]),
                        (&fz_hi[row.clone()], &fz_hi2[row.clone()]),
                    ]
                });
                let around = RowRates {
                    x: (&fx[cols.start..=cols.end], &fx2[cols.start..=cols.end]),
                    south: (&fy_south[cols.clone()], &fy_south2[cols.clone()]),
                    north: (&fy_north[cols.clone()], &fy_north2[cols.clone()]),
                    z,
                };
                let at = f.index3(k as isize, j as isize, cols.start as isize);
                update_row(f, at, around, &mut out.raw_mut()[at..at + n], *dt_over_h);
            }
            let kp_east = &fx[cols.start + 1..cols.end + 1];
            let km_west = &fx2[cols.start..cols.end];
            let kp_north = &fy_north[cols.clone()];
            let km_south = &fy_south2[cols.clone()];
            if geom.dim3 {
                let row = j * nx + cols.start..j * nx + cols.end;
                let (kp_up, km_down) = (&fz_hi[row.clone()], &fz_lo2[row]);
                for c in 0..n {
                    let out = ((kp_east[c] + km_west[c]) + (kp_north[c] + km_south[c]))
                        + (kp_up[c] + km_down[c]);
                    max_rate = max_rate.max(out);
                }
            } else {
                for c in 0..n {
                    let out = (kp_east[c] + km_west[c]) + (kp_north[c] + km_south[c]);
                    max_rate = max_rate.max(out);
                }
            }
            std::mem::swap(fy_south, fy_north);
            std::mem::swap(fy_south2, fy_north2);
        }
        std::mem::swap(fz_lo, fz_hi);
        std::mem::swap(fz_lo2, fz_hi2);
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
