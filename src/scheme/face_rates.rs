//! The face rates `(k_plus, k_minus)` of a block kept between the rate pass and the update
//! ([`FaceRates`]), the update from them ([`apply_stored`]) and the transposed update of the
//! exact reverse step ([`apply_transpose`], [`apply_transpose_combined`]), in 1D, 2D and 3D.
//! The passes that fill them are in [`super::stage`]; they write the rates in place through a
//! `RateView` (the whole [`FaceRates`], or rolling row buffers when nothing is kept).
//!
//! The row kernels every update shares (`update_row`, `divergence_row`, `step_row`,
//! `transpose_row`, `flux_update_row`, `max_out_row`) are compiled for every SIMD level and
//! dispatched at run time (`crate::simd::dispatched!`); they contain only adds, multiplies
//! and `max`, no FMA, so every level and the scalar tail give the same bits.

use std::ops::Range;

use super::stage::{BlockGeometry, Region};
use crate::field::Field;
use crate::simd::dispatched;

/// The face rates `(k_plus, k_minus)` of every face of a block, kept between the rate pass and
/// the update (and for the reverse sweep). In local indices, plane `k`, row `j`, column `i`:
///
/// ```text
/// x-face i  (between (k,j,i-1) and (k,j,i))   at (k ny + j)(nx + 1) + i
/// y-face jf (between (k,jf-1,i) and (k,jf,i)) at (k (ny + 1) + jf) nx + i
/// z-face kf (between (kf-1,j,i) and (kf,j,i)) at (kf ny + j) nx + i        (3D only)
/// ```
///
/// In 1D and 2D there is one plane (`k = 0`) and no z-faces. `k_plus` is the rate (times `h`)
/// at which the cell below a face (lower index) jumps up through it, `k_minus` that of the cell
/// above jumping down: the flux is `F = k_plus f_L - k_minus f_R`.
#[derive(Clone, Debug)]
pub struct FaceRates {
    nx: usize,
    ny: usize,
    nz: usize,
    kp_x: Vec<f64>,
    km_x: Vec<f64>,
    kp_y: Vec<f64>,
    km_y: Vec<f64>,
    kp_z: Vec<f64>,
    km_z: Vec<f64>,
}

impl FaceRates {
    /// Storage for an `ny x nx` block (1D, 2D).
    pub fn new(ny: usize, nx: usize) -> FaceRates {
        FaceRates::with_planes(1, ny, nx, false)
    }

    /// Storage for an `nz x ny x nx` block (3D: with z-faces).
    pub fn new3(nz: usize, ny: usize, nx: usize) -> FaceRates {
        FaceRates::with_planes(nz, ny, nx, true)
    }

    /// Storage for the block of `geom` (3D when the mesh is).
    pub fn for_geometry(geom: &BlockGeometry) -> FaceRates {
        FaceRates::with_planes(geom.nz, geom.ny, geom.nx, geom.dim3)
    }

    fn with_planes(nz: usize, ny: usize, nx: usize, z: bool) -> FaceRates {
        let z_len = if z { (nz + 1) * ny * nx } else { 0 };
        FaceRates {
            nx,
            ny,
            nz,
            kp_x: vec![0.0; nz * ny * (nx + 1)],
            km_x: vec![0.0; nz * ny * (nx + 1)],
            kp_y: vec![0.0; nz * (ny + 1) * nx],
            km_y: vec![0.0; nz * (ny + 1) * nx],
            kp_z: vec![0.0; z_len],
            km_z: vec![0.0; z_len],
        }
    }

    /// Whether the storage has z-faces (3D).
    pub fn is_3d(&self) -> bool {
        !self.kp_z.is_empty()
    }

    /// Owned cells `(nz, ny, nx)` of the block.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.nz, self.ny, self.nx)
    }

    #[inline(always)]
    fn x_at(&self, k: usize, j: usize) -> usize {
        (k * self.ny + j) * (self.nx + 1)
    }

    #[inline(always)]
    fn y_at(&self, k: usize, jf: usize) -> usize {
        (k * (self.ny + 1) + jf) * self.nx
    }

    #[inline(always)]
    fn z_at(&self, kf: usize, j: usize) -> usize {
        (kf * self.ny + j) * self.nx
    }

    /// Sets `(k_plus, k_minus)` of one face: `axis` 0 (x-face `at = (k, j, i)`), 1 (y-face
    /// `(k, jf, i)`) or 2 (z-face `(kf, j, i)`), indices as in the accessors below.
    #[inline]
    pub fn set(&mut self, axis: usize, (k, j, i): (usize, usize, usize), (kp, km): (f64, f64)) {
        let at = i + match axis {
            0 => self.x_at(k, j),
            1 => self.y_at(k, j),
            _ => self.z_at(k, j),
        };
        let (p, m) = match axis {
            0 => (&mut self.kp_x, &mut self.km_x),
            1 => (&mut self.kp_y, &mut self.km_y),
            _ => (&mut self.kp_z, &mut self.km_z),
        };
        (p[at], m[at]) = (kp, km);
    }

    /// The `(k_plus, k_minus)` storage of one row of faces, for a pass that writes a row at a
    /// time: `axis` 0 the `nx + 1` x-faces of row `j` of plane `k`, 1 the `nx` faces of y-face
    /// row `jf = j` of plane `k`, 2 the `nx` faces of row `j` of z-face plane `kf = k` (3D).
    pub(super) fn row_mut(
        &mut self,
        axis: usize,
        (k, j): (usize, usize),
    ) -> (&mut [f64], &mut [f64]) {
        let (at, len, p, m) = match axis {
            0 => (self.x_at(k, j), self.nx + 1, &mut self.kp_x, &mut self.km_x),
            1 => (self.y_at(k, j), self.nx, &mut self.kp_y, &mut self.km_y),
            _ => (self.z_at(k, j), self.nx, &mut self.kp_z, &mut self.km_z),
        };
        (&mut p[at..at + len], &mut m[at..at + len])
    }

    /// `(k_plus, k_minus)` of local x-face `i` (between columns `i - 1` and `i`) of row `j` of
    /// plane `k` (zero at a physical boundary face).
    #[inline]
    pub fn x(&self, k: usize, j: usize, i: usize) -> (f64, f64) {
        let at = self.x_at(k, j) + i;
        (self.kp_x[at], self.km_x[at])
    }

    /// `(k_plus, k_minus)` of local y-face `jf` (between rows `jf - 1` and `jf`) of column `i`
    /// of plane `k`.
    #[inline]
    pub fn y(&self, k: usize, jf: usize, i: usize) -> (f64, f64) {
        let at = self.y_at(k, jf) + i;
        (self.kp_y[at], self.km_y[at])
    }

    /// `(k_plus, k_minus)` of local z-face `kf` (between planes `kf - 1` and `kf`) of row `j`,
    /// column `i` (3D).
    #[inline]
    pub fn z(&self, kf: usize, j: usize, i: usize) -> (f64, f64) {
        let at = self.z_at(kf, j) + i;
        (self.kp_z[at], self.km_z[at])
    }
}

/// The storage a rate pass writes the face rates into: the whole block of a [`FaceRates`]
/// (the rates are kept, written in place by the face kernels, no copy), or rolling row
/// buffers of the pass's scratch (two rows of y-faces, two planes of z-faces, one row of
/// x-faces). Offsets of x row `(k, j)`, y row `(k, jf)` and z plane `kf` (rows of a z plane at
/// `j nx`) follow the [`FaceRates`] layout in the first case, and `jf mod 2`, `kf mod 2` in
/// the second.
pub(super) struct RateView<'a> {
    pub kp_x: &'a mut [f64],
    pub km_x: &'a mut [f64],
    pub kp_y: &'a mut [f64],
    pub km_y: &'a mut [f64],
    pub kp_z: &'a mut [f64],
    pub km_z: &'a mut [f64],
    rolling: bool,
    nx: usize,
    ny: usize,
}

impl<'a> RateView<'a> {
    /// Rolling row buffers: `x` rows of `nx + 1`, `y` of `2 nx`, `z` of `2 ny nx` (or empty).
    pub fn rolling(
        (nx, ny): (usize, usize),
        x: (&'a mut [f64], &'a mut [f64]),
        y: (&'a mut [f64], &'a mut [f64]),
        z: (&'a mut [f64], &'a mut [f64]),
    ) -> RateView<'a> {
        RateView {
            kp_x: x.0,
            km_x: x.1,
            kp_y: y.0,
            km_y: y.1,
            kp_z: z.0,
            km_z: z.1,
            rolling: true,
            nx,
            ny,
        }
    }

    /// Start of x row `j` of plane `k` (`nx + 1` faces).
    #[inline(always)]
    pub fn x(&self, k: usize, j: usize) -> usize {
        if self.rolling {
            0
        } else {
            (k * self.ny + j) * (self.nx + 1)
        }
    }

    /// Start of y row `jf` of plane `k` (`nx` faces).
    #[inline(always)]
    pub fn y(&self, k: usize, jf: usize) -> usize {
        if self.rolling {
            (jf % 2) * self.nx
        } else {
            (k * (self.ny + 1) + jf) * self.nx
        }
    }

    /// Start of z plane `kf` (`ny nx` faces, row `j` at `j nx`).
    #[inline(always)]
    pub fn z(&self, kf: usize) -> usize {
        (if self.rolling { kf % 2 } else { kf }) * self.ny * self.nx
    }
}

impl FaceRates {
    /// The whole storage as a [`RateView`] (rate passes write into it in place).
    pub(super) fn view(&mut self) -> RateView<'_> {
        RateView {
            kp_x: &mut self.kp_x,
            km_x: &mut self.km_x,
            kp_y: &mut self.kp_y,
            km_y: &mut self.km_y,
            kp_z: &mut self.kp_z,
            km_z: &mut self.km_z,
            rolling: false,
            nx: self.nx,
            ny: self.ny,
        }
    }

    /// The rates around the `n` cells of row `j` of plane `k` from column `c0`.
    #[inline(always)]
    pub(super) fn around_row(&self, k: usize, j: usize, c0: usize, n: usize) -> Around<'_> {
        let down_up = self
            .is_3d()
            .then(|| (self.z_at(k, j) + c0, self.z_at(k + 1, j) + c0));
        Around::of(
            [
                &self.kp_x, &self.km_x, &self.kp_y, &self.km_y, &self.kp_z, &self.km_z,
            ],
            self.x_at(k, j) + c0,
            (self.y_at(k, j) + c0, self.y_at(k, j + 1) + c0),
            down_up,
            n,
        )
    }
}

/// [`apply`](super::stage::apply) with the face rates of a preceding
/// [`max_rate`](super::stage::max_rate) pass over the same field and region (valid when
/// [`Family::DT_RATES_ARE_FLUX_RATES`](super::Family::DT_RATES_ARE_FLUX_RATES)):
/// `F = k_plus f_L - k_minus f_R` with the stored rates, the same operation order as `apply`
/// (in 3D the z-term is added last), so bit-identical to recomputing them.
pub fn apply_stored(
    geom: &BlockGeometry,
    f: &Field,
    rates: &FaceRates,
    out: &mut Field,
    region: &Region,
    dt_over_h: f64,
) {
    each_stored_row(geom, f, rates, region, |around, cells, row| {
        update_row(around, cells, dt_over_h, &[], &mut out.raw_mut()[row]);
    });
}

/// The face rates `(k_plus, k_minus)` around a row of `n` cells: its x-faces (`kpx`, `kmx`:
/// `n + 1`, the west face of the first cell first), the y-faces south (`kps`, `kms`) and north
/// (`kpn`, `kmn`) of it and, in 3D, the z-faces below (`kpd`, `kmd`) and above (`kpu`, `kmu`)
/// it (`n` each; empty in 1D and 2D).
#[derive(Clone, Copy)]
pub(super) struct Around<'a> {
    pub kpx: &'a [f64],
    pub kmx: &'a [f64],
    pub kps: &'a [f64],
    pub kms: &'a [f64],
    pub kpn: &'a [f64],
    pub kmn: &'a [f64],
    pub kpd: &'a [f64],
    pub kmd: &'a [f64],
    pub kpu: &'a [f64],
    pub kmu: &'a [f64],
}

impl<'a> Around<'a> {
    /// The rates around `n` cells from face storage `[kp_x, km_x, kp_y, km_y, kp_z, km_z]`:
    /// `n + 1` x-faces from `x`, `n` south / north y-faces from `south_north`, and in 3D
    /// (`down_up` given) `n` z-faces below and above (empty otherwise).
    #[inline(always)]
    pub(super) fn of(
        [kp_x, km_x, kp_y, km_y, kp_z, km_z]: [&'a [f64]; 6],
        x: usize,
        (south, north): (usize, usize),
        down_up: Option<(usize, usize)>,
        n: usize,
    ) -> Around<'a> {
        let (kpd, kmd, kpu, kmu): (&[f64], &[f64], &[f64], &[f64]) = match down_up {
            Some((d, u)) => (
                &kp_z[d..d + n],
                &km_z[d..d + n],
                &kp_z[u..u + n],
                &km_z[u..u + n],
            ),
            None => (&[], &[], &[], &[]),
        };
        Around {
            kpx: &kp_x[x..x + n + 1],
            kmx: &km_x[x..x + n + 1],
            kps: &kp_y[south..south + n],
            kms: &km_y[south..south + n],
            kpn: &kp_y[north..north + n],
            kmn: &km_y[north..north + n],
            kpd,
            kmd,
            kpu,
            kmu,
        }
    }
}

/// The values of a field around a row of `n` cells: `row` the row with its west and east
/// neighbours (`n + 2`, `row[c + 1]` is cell `c`), the rows south and north of it and, in 3D,
/// the rows below and above it (`n` each; empty in 1D and 2D).
#[derive(Clone, Copy)]
pub(super) struct Cells<'a> {
    pub row: &'a [f64],
    pub south: &'a [f64],
    pub north: &'a [f64],
    pub down: &'a [f64],
    pub up: &'a [f64],
}

impl<'a> Cells<'a> {
    /// The values of `f` around its row of `n` cells starting at flat index `at`.
    #[inline(always)]
    pub fn of(f: &'a Field, at: usize, n: usize, dim3: bool) -> Cells<'a> {
        let raw = f.raw();
        let (stride, plane) = (f.stride(), f.plane_stride());
        let (down, up): (&[f64], &[f64]) = if dim3 {
            (
                &raw[at - plane..at - plane + n],
                &raw[at + plane..at + plane + n],
            )
        } else {
            (&[], &[])
        };
        Cells {
            row: &raw[at - 1..at + n + 1],
            south: &raw[at - stride..at - stride + n],
            north: &raw[at + stride..at + stride + n],
            down,
            up,
        }
    }
}

/// Calls `emit(c, f_c, div_c)` for the `n` cells of a row, `div_c` the flux divergence times
/// `h`,
///
/// ```text
/// div = (F_west - F_east) + (F_south - F_north)              (1D, 2D)
/// div = ((F_west - F_east) + (F_south - F_north)) + (F_down - F_up)   (3D)
/// ```
///
/// with `F = k_plus f_L - k_minus f_R` at each face from the rates `a` and the values `v`:
/// the operation order of [`apply`](super::stage::apply), shared by every update from rates
/// (so they all give the same bits).
#[inline(always)]
fn each_divergence(a: Around<'_>, v: Cells<'_>, n: usize, mut emit: impl FnMut(usize, f64, f64)) {
    let row = &v.row[..n + 2];
    let (kpx, kmx) = (&a.kpx[..n + 1], &a.kmx[..n + 1]);
    let (kps, kms, kpn, kmn) = (&a.kps[..n], &a.kms[..n], &a.kpn[..n], &a.kmn[..n]);
    let (south, north) = (&v.south[..n], &v.north[..n]);
    if a.kpd.is_empty() {
        for c in 0..n {
            let fin = row[c + 1];
            let fxw = kpx[c] * row[c] - kmx[c] * fin;
            let fxe = kpx[c + 1] * fin - kmx[c + 1] * row[c + 2];
            let fys = kps[c] * south[c] - kms[c] * fin;
            let fyn = kpn[c] * fin - kmn[c] * north[c];
            emit(c, fin, (fxw - fxe) + (fys - fyn));
        }
    } else {
        let (kpd, kmd, kpu, kmu) = (&a.kpd[..n], &a.kmd[..n], &a.kpu[..n], &a.kmu[..n]);
        let (down, up) = (&v.down[..n], &v.up[..n]);
        for c in 0..n {
            let fin = row[c + 1];
            let fxw = kpx[c] * row[c] - kmx[c] * fin;
            let fxe = kpx[c + 1] * fin - kmx[c + 1] * row[c + 2];
            let fys = kps[c] * south[c] - kms[c] * fin;
            let fyn = kpn[c] * fin - kmn[c] * north[c];
            let fzd = kpd[c] * down[c] - kmd[c] * fin;
            let fzu = kpu[c] * fin - kmu[c] * up[c];
            emit(c, fin, ((fxw - fxe) + (fys - fyn)) + (fzd - fzu));
        }
    }
}

dispatched! {
    /// `dst[c] = f_c + dt_over_h * div_c` for a row ([`each_divergence`]), or with `half` (a
    /// row of another state `g`, `dst.len()` long) the SSP-RK2 combination
    /// `dst[c] = 0.5 g_c + 0.5 (f_c + dt_over_h * div_c)`.
    pub(super) fn update_row(a: Around<'_>, v: Cells<'_>, dt_over_h: f64, half: &[f64], dst: &mut [f64]) {
        let n = dst.len();
        if half.is_empty() {
            each_divergence(a, v, n, |c, fin, div| dst[c] = fin + dt_over_h * div);
        } else {
            let half = &half[..n];
            each_divergence(a, v, n, |c, fin, div| {
                dst[c] = 0.5 * half[c] + 0.5 * (fin + dt_over_h * div)
            });
        }
    }
}

dispatched! {
    /// `dst[c] = div_c` for a row ([`each_divergence`]): what the update needs once `dt` is
    /// known ([`step_row`]).
    pub(super) fn divergence_row(a: Around<'_>, v: Cells<'_>, dst: &mut [f64]) {
        let n = dst.len();
        each_divergence(a, v, n, |c, _, div| dst[c] = div);
    }
}

dispatched! {
    /// `div[c] = f[c] + dt_over_h * div[c]`: the update from a kept [`divergence_row`] (the
    /// bits of [`update_row`]).
    pub(super) fn step_row(f: &[f64], dt_over_h: f64, div: &mut [f64]) {
        let f = &f[..div.len()];
        for (d, &v) in div.iter_mut().zip(f) {
            *d = v + dt_over_h * *d;
        }
    }
}

dispatched! {
    /// `acc = max(acc, max_c out_c)` with the outgoing rate sum of each cell of a row,
    /// `out = (kp_east + km_west) + (kp_north + km_south)` (+ `(kp_up + km_down)` in 3D).
    pub(super) fn max_out_row(a: Around<'_>, acc: &mut f64) {
        let n = a.kps.len();
        let (kpx, kmx) = (&a.kpx[..n + 1], &a.kmx[..n + 1]);
        let (kms, kpn) = (&a.kms[..n], &a.kpn[..n]);
        let mut m = *acc;
        if a.kpd.is_empty() {
            for c in 0..n {
                m = m.max((kpx[c + 1] + kmx[c]) + (kpn[c] + kms[c]));
            }
        } else {
            let (kmd, kpu) = (&a.kmd[..n], &a.kpu[..n]);
            for c in 0..n {
                m = m.max(((kpx[c + 1] + kmx[c]) + (kpn[c] + kms[c])) + (kpu[c] + kmd[c]));
            }
        }
        *acc = m;
    }
}

dispatched! {
    /// The update from face fluxes (the `k_plus` slots of `a` hold `F`):
    /// `dst[c] = f_c + dt_over_h * ((F_w - F_e) + (F_s - F_n))` (3D: `+ (F_d - F_u)` last), or
    /// with `half` `0.5 g_c + 0.5 (...)` as in [`update_row`].
    pub(super) fn flux_update_row(a: Around<'_>, fin: &[f64], dt_over_h: f64, half: &[f64], dst: &mut [f64]) {
        let n = dst.len();
        let fin = &fin[..n];
        let (fx, fys, fyn) = (&a.kpx[..n + 1], &a.kps[..n], &a.kpn[..n]);
        let z = !a.kpd.is_empty();
        let (fzd, fzu) = if z { (&a.kpd[..n], &a.kpu[..n]) } else { (fys, fyn) };
        match (z, half.is_empty()) {
            (false, true) => {
                for c in 0..n {
                    dst[c] = fin[c] + dt_over_h * ((fx[c] - fx[c + 1]) + (fys[c] - fyn[c]));
                }
            }
            (false, false) => {
                let half = &half[..n];
                for c in 0..n {
                    let s = fin[c] + dt_over_h * ((fx[c] - fx[c + 1]) + (fys[c] - fyn[c]));
                    dst[c] = 0.5 * half[c] + 0.5 * s;
                }
            }
            (true, true) => {
                for c in 0..n {
                    dst[c] = fin[c]
                        + dt_over_h
                            * (((fx[c] - fx[c + 1]) + (fys[c] - fyn[c])) + (fzd[c] - fzu[c]));
                }
            }
            (true, false) => {
                let half = &half[..n];
                for c in 0..n {
                    let s = fin[c]
                        + dt_over_h
                            * (((fx[c] - fx[c + 1]) + (fys[c] - fyn[c])) + (fzd[c] - fzu[c]));
                    dst[c] = 0.5 * half[c] + 0.5 * s;
                }
            }
        }
    }
}

dispatched! {
    /// The transposed update of a row of `w` ([`apply_transpose`]):
    /// `t_c = w_c + dt_over_h * ((x part + y part) [+ z part])`, stored as `dst[c] = t_c`, or
    /// with `half` (a row of `g`) `dst[c] = 0.5 g_c + 0.5 t_c`.
    pub(super) fn transpose_row(a: Around<'_>, v: Cells<'_>, dt_over_h: f64, half: &[f64], dst: &mut [f64]) {
        let n = dst.len();
        let row = &v.row[..n + 2];
        let (kpx, kmx) = (&a.kpx[..n + 1], &a.kmx[..n + 1]);
        let (kms, kpn) = (&a.kms[..n], &a.kpn[..n]);
        let (south, north) = (&v.south[..n], &v.north[..n]);
        let z = !a.kpd.is_empty();
        let (kmd, kpu, down, up) = if z {
            (&a.kmd[..n], &a.kpu[..n], &v.down[..n], &v.up[..n])
        } else {
            (kms, kpn, south, north)
        };
        // x part + y part of cell c, its value w_c.
        macro_rules! xy {
            ($c:expr) => {{
                let c = $c;
                let wc = row[c + 1];
                let x_part = kmx[c] * (row[c] - wc) + kpx[c + 1] * (row[c + 2] - wc);
                let y_part = kms[c] * (south[c] - wc) + kpn[c] * (north[c] - wc);
                (wc, x_part + y_part)
            }};
        }
        match (z, half.is_empty()) {
            (false, true) => {
                for (c, d) in dst.iter_mut().enumerate() {
                    let (wc, xy) = xy!(c);
                    *d = wc + dt_over_h * xy;
                }
            }
            (false, false) => {
                let half = &half[..n];
                for c in 0..n {
                    let (wc, xy) = xy!(c);
                    dst[c] = 0.5 * half[c] + 0.5 * (wc + dt_over_h * xy);
                }
            }
            (true, true) => {
                for c in 0..n {
                    let (wc, xy) = xy!(c);
                    let z_part = kmd[c] * (down[c] - wc) + kpu[c] * (up[c] - wc);
                    dst[c] = wc + dt_over_h * (xy + z_part);
                }
            }
            (true, false) => {
                let half = &half[..n];
                for c in 0..n {
                    let (wc, xy) = xy!(c);
                    let z_part = kmd[c] * (down[c] - wc) + kpu[c] * (up[c] - wc);
                    dst[c] = 0.5 * half[c] + 0.5 * (wc + dt_over_h * (xy + z_part));
                }
            }
        }
    }
}

dispatched! {
    /// [`transpose_row`] combined in place: `dst[c] = 0.5 dst[c] + 0.5 t_c` (`dst` the row of
    /// the state `g` the combination takes, not the row `v` the transposed update reads).
    pub(super) fn transpose_combine_row(a: Around<'_>, v: Cells<'_>, dt_over_h: f64, dst: &mut [f64]) {
        let n = dst.len();
        let row = &v.row[..n + 2];
        let (kpx, kmx) = (&a.kpx[..n + 1], &a.kmx[..n + 1]);
        let (kms, kpn) = (&a.kms[..n], &a.kpn[..n]);
        let (south, north) = (&v.south[..n], &v.north[..n]);
        if a.kpd.is_empty() {
            for c in 0..n {
                let wc = row[c + 1];
                let x_part = kmx[c] * (row[c] - wc) + kpx[c + 1] * (row[c + 2] - wc);
                let y_part = kms[c] * (south[c] - wc) + kpn[c] * (north[c] - wc);
                dst[c] = 0.5 * dst[c] + 0.5 * (wc + dt_over_h * (x_part + y_part));
            }
        } else {
            let (kmd, kpu, down, up) = (&a.kmd[..n], &a.kpu[..n], &v.down[..n], &v.up[..n]);
            for c in 0..n {
                let wc = row[c + 1];
                let x_part = kmx[c] * (row[c] - wc) + kpx[c + 1] * (row[c + 2] - wc);
                let y_part = kms[c] * (south[c] - wc) + kpn[c] * (north[c] - wc);
                let z_part = kmd[c] * (down[c] - wc) + kpu[c] * (up[c] - wc);
                dst[c] = 0.5 * dst[c] + 0.5 * (wc + dt_over_h * ((x_part + y_part) + z_part));
            }
        }
    }
}

/// [`apply_transpose_combined`] with `g = out`: `out = 1/2 out + 1/2 (v + dt L_h^T v)` on
/// `region`, in place.
pub fn apply_transpose_combined_in_place(
    geom: &BlockGeometry,
    v: &Field,
    rates: &FaceRates,
    out: &mut Field,
    region: &Region,
    dt_over_h: f64,
) {
    each_stored_row(geom, v, rates, region, |around, cells, row| {
        transpose_combine_row(around, cells, dt_over_h, &mut out.raw_mut()[row]);
    });
}

/// The transposed update `out = w + dt L_h^T w` on `region`, with the flux rates of `L_h`
/// stored by [`flux_rates`](super::stage::flux_rates) (the reverse step of MODEL.md section 6,
/// `w^n = (P^n)^T w^{n+1}`).
///
/// `L_h^T` is the generator of the jump process behind the fluxes: through a face with
/// `F = k_plus f_L - k_minus f_R`, the lower cell jumps up at rate `k_plus / h` and the upper
/// cell down at rate `k_minus / h`, so
///
/// ```text
/// out[c] = w[c] + (dt/h) ( (km_west (w_W - w_c) + kp_east (w_E - w_c))
///                        + (km_south (w_S - w_c) + kp_north (w_N - w_c)) )
/// ```
///
/// and in 3D `out[c] = w[c] + (dt/h) ((x part + y part) + (km_down (w_D - w_c) + kp_up (w_U -
/// w_c)))`. Zero-flux boundary faces carry zero rates. Reads the ghosts of `w` at faces with a
/// neighbour; the operation order per cell is fixed, so results are bit-identical for any split
/// into regions or ranks.
pub fn apply_transpose(
    geom: &BlockGeometry,
    w: &Field,
    rates: &FaceRates,
    out: &mut Field,
    region: &Region,
    dt_over_h: f64,
) {
    apply_transpose_with(geom, w, rates, None, out, region, dt_over_h);
}

/// [`apply_transpose`] followed by the SSP-RK2 combination with `g` in the same pass:
/// `out = 1/2 g + 1/2 (w + dt L_h^T w)` (the bits of the two passes).
pub fn apply_transpose_combined(
    geom: &BlockGeometry,
    w: &Field,
    rates: &FaceRates,
    g: &Field,
    out: &mut Field,
    region: &Region,
    dt_over_h: f64,
) {
    apply_transpose_with(geom, w, rates, Some(g), out, region, dt_over_h);
}

fn apply_transpose_with(
    geom: &BlockGeometry,
    w: &Field,
    rates: &FaceRates,
    half: Option<&Field>,
    out: &mut Field,
    region: &Region,
    dt_over_h: f64,
) {
    each_stored_row(geom, w, rates, region, |around, cells, row| {
        let g = half.map_or(&[][..], |g| &g.raw()[row.clone()]);
        transpose_row(around, cells, dt_over_h, g, &mut out.raw_mut()[row]);
    });
}

/// Runs `row_op(around, cells, row)` for every row of cells of `region`: the stored rates
/// around the row, the values of `v` around it and the storage range of its cells.
#[inline(always)]
fn each_stored_row(
    geom: &BlockGeometry,
    v: &Field,
    rates: &FaceRates,
    region: &Region,
    mut row_op: impl FnMut(Around<'_>, Cells<'_>, Range<usize>),
) {
    if region.is_empty() {
        return;
    }
    debug_assert_eq!(geom.dim3, rates.is_3d(), "face rates of another dimension");
    let (c0, n) = (region.cols.start, region.cols.len());
    for k in region.planes.clone() {
        for j in region.rows.clone() {
            let at = v.index3(k as isize, j as isize, c0 as isize);
            let around = rates.around_row(k, j, c0, n);
            row_op(around, Cells::of(v, at, n, geom.dim3), at..at + n);
        }
    }
}

/// `div = f + dt_over_h * div` on `region`: the update `f* = f + dt L_h(f)` from the flux
/// divergence kept by [`max_rate_and_divergence`](super::stage::max_rate_and_divergence) in
/// the storage of `div` (the bits of [`apply`](super::stage::apply)).
pub fn step_from_divergence(f: &Field, div: &mut Field, region: &Region, dt_over_h: f64) {
    if region.is_empty() {
        return;
    }
    let (c0, n) = (region.cols.start, region.cols.len());
    for k in region.planes.clone() {
        for j in region.rows.clone() {
            let at = f.index3(k as isize, j as isize, c0 as isize);
            step_row(
                &f.raw()[at..at + n],
                dt_over_h,
                &mut div.raw_mut()[at..at + n],
            );
        }
    }
}

impl FaceRates {
    /// The rates at which cell `(j, i)` (local, plane 0) jumps to its west, east, south and
    /// north neighbours, times `h` (zero across the physical boundary); 1D and 2D.
    #[inline]
    pub fn outgoing(&self, j: usize, i: usize) -> [f64; 4] {
        let [w, e, s, n, ..] = self.outgoing3(0, j, i);
        [w, e, s, n]
    }

    /// The rates at which the west, east, south and north neighbours of cell `(j, i)` (local,
    /// plane 0) jump into it, times `h` (zero across the physical boundary): the forward Euler
    /// step is `f'_c = f_c (1 - (dt/h) sum(outgoing)) + (dt/h) sum_k incoming_k f_k`; 1D and 2D.
    #[inline]
    pub fn incoming(&self, j: usize, i: usize) -> [f64; 4] {
        let [w, e, s, n, ..] = self.incoming3(0, j, i);
        [w, e, s, n]
    }

    /// [`FaceRates::outgoing`] of cell `(k, j, i)`: west, east, south, north, down, up (the
    /// last two zero without z-faces). Across its lower face a cell leaves with `k_minus`,
    /// across its upper face with `k_plus`.
    #[inline]
    pub fn outgoing3(&self, k: usize, j: usize, i: usize) -> [f64; 6] {
        self.around(
            k,
            j,
            i,
            [&self.km_x, &self.km_y, &self.km_z],
            [&self.kp_x, &self.kp_y, &self.kp_z],
        )
    }

    /// [`FaceRates::incoming`] of cell `(k, j, i)`: from the west, east, south, north, down and
    /// up neighbours (the last two zero without z-faces): the lower neighbour jumps in with
    /// `k_plus`, the upper one with `k_minus`.
    #[inline]
    pub fn incoming3(&self, k: usize, j: usize, i: usize) -> [f64; 6] {
        self.around(
            k,
            j,
            i,
            [&self.kp_x, &self.kp_y, &self.kp_z],
            [&self.km_x, &self.km_y, &self.km_z],
        )
    }

    /// The rates of `lower` (x, y, z arrays) at the west, south and down faces of cell
    /// `(k, j, i)` and of `upper` at its east, north and up faces, in the order west, east,
    /// south, north, down, up (down and up zero without z-faces).
    #[inline(always)]
    fn around(
        &self,
        k: usize,
        j: usize,
        i: usize,
        lower: [&[f64]; 3],
        upper: [&[f64]; 3],
    ) -> [f64; 6] {
        let (x, y) = (self.x_at(k, j) + i, self.y_at(k, j) + i);
        let (down, up) = if self.is_3d() {
            (
                lower[2][self.z_at(k, j) + i],
                upper[2][self.z_at(k + 1, j) + i],
            )
        } else {
            (0.0, 0.0)
        };
        [
            lower[0][x],
            upper[0][x + 1],
            lower[1][y],
            upper[1][y + self.nx],
            down,
            up,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::stage::{self, Scratch};
    use super::super::{FaceCoefficients, Family, Sg, Upwind};
    use super::*;
    use crate::decomp::{Block, ProcessGrid};
    use crate::mesh::Mesh;

    /// A 3D field on `block` of `mesh` with its ghost faces filled from the same global
    /// function (zeros, tiny and condensate values, a smooth bump), as a halo exchange would.
    fn field3(mesh: &Mesh, block: &Block) -> Field {
        let mut f = Field::zeros3(block.nz, block.ny, block.nx);
        let n = mesh.n as isize;
        let value = |gz: isize, gy: isize, gx: isize| {
            let [x, y, z] = mesh.cell_centre3(gz as usize, gy as usize, gx as usize);
            match (gx + 3 * gy + 5 * gz) % 7 {
                0 => 0.0,
                1 => 1e-200,
                2 => 4.0,
                _ => 3.0 * (-(x * x + 0.5 * y * y + z * z) / 2.0).exp() + 1e-3,
            }
        };
        let (nz, ny, nx) = (block.nz as isize, block.ny as isize, block.nx as isize);
        for k in -1..=nz {
            for j in -1..=ny {
                for i in -1..=nx {
                    let (gz, gy, gx) = (
                        block.z0 as isize + k,
                        block.y0 as isize + j,
                        block.x0 as isize + i,
                    );
                    if [gz, gy, gx].iter().all(|&g| (0..n).contains(&g)) {
                        let at = f.index3(k, j, i);
                        f.raw_mut()[at] = value(gz, gy, gx);
                    }
                }
            }
        }
        f
    }

    fn at3(f: &Field, k: isize, j: isize, i: isize) -> f64 {
        f.raw()[f.index3(k, j, i)]
    }

    fn coefficients(h: f64) -> FaceCoefficients {
        FaceCoefficients {
            diffusion: 0.8,
            kappa: 1.3,
            gamma: 1.0,
            h,
        }
    }

    /// In 3D, on every block of a 2 x 2 x 2 grid (interior and rim regions apart): the update
    /// from the rates kept by the rate pass ([`stage::max_rate`] for a family whose time-step
    /// rates are its flux rates, [`stage::flux_rates`] otherwise) has the bits of the update
    /// that evaluates them ([`stage::apply`]); the kept rates give the bound of the pass.
    fn stored_equals_recomputed<F: Family>(family: impl Fn(f64) -> F) {
        let mesh = Mesh::new(3, 9, 3.0);
        let fam = family(mesh.h);
        for rank in 0..8 {
            let block = Block::new(&mesh, ProcessGrid::from_procs(&[2, 2, 2]), rank);
            let geom = BlockGeometry::new(&mesh, &block);
            let f = field3(&mesh, &block);
            let mut scratch = Scratch::new(&f);
            stage::fill_aux_owned(&fam, &f, &mut scratch.aux);
            stage::fill_aux_ghosts(&fam, &f, &mut scratch.aux);
            let (interior, rim) = geom.split_interior_rim();
            let mut rates = FaceRates::for_geometry(&geom);
            let (mut direct, mut kept) = (f.clone(), f.clone());
            for region in std::iter::once(&interior).chain(&rim) {
                stage::apply(&fam, &geom, &f, &mut scratch, &mut direct, region, 0.01);
                let store = Some(&mut rates);
                let bound = if F::DT_RATES_ARE_FLUX_RATES {
                    stage::max_rate(&fam, &geom, &f, &mut scratch, region, store)
                } else {
                    stage::flux_rates(&fam, &geom, &f, &mut scratch, region, &mut rates)
                };
                assert!(bound > 0.0 && bound.is_finite());
                apply_stored(&geom, &f, &rates, &mut kept, region, 0.01);
            }
            let bits = |g: &Field| g.raw().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert!(bits(&direct) == bits(&kept), "rank {rank}");
            assert!(direct.interior3().iter().all(|v| v.is_finite()));
            // Every face of the block was stored: the Euler update from outgoing / incoming
            // rates (a different operation order) agrees to round-off.
            let c = 0.01;
            for k in 0..block.nz {
                for j in 0..block.ny {
                    for i in 0..block.nx {
                        let (k_, j_, i_) = (k as isize, j as isize, i as isize);
                        let nb = [
                            at3(&f, k_, j_, i_ - 1),
                            at3(&f, k_, j_, i_ + 1),
                            at3(&f, k_, j_ - 1, i_),
                            at3(&f, k_, j_ + 1, i_),
                            at3(&f, k_ - 1, j_, i_),
                            at3(&f, k_ + 1, j_, i_),
                        ];
                        let fc = at3(&f, k_, j_, i_);
                        let out: f64 = rates.outgoing3(k, j, i).iter().sum();
                        let inc = rates.incoming3(k, j, i);
                        let gain: f64 = (0..6).map(|d| inc[d] * nb[d]).sum();
                        let euler = fc * (1.0 - c * out) + c * gain;
                        let v = at3(&kept, k_, j_, i_);
                        assert!((euler - v).abs() <= 1e-12 * (1.0 + v.abs()), "{k} {j} {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn stored_3d_rates_update_with_the_bits_of_recomputed_ones() {
        stored_equals_recomputed(|h| Sg::new(coefficients(h)));
        stored_equals_recomputed(|h| Upwind::new(coefficients(h)));
    }

    /// On a single 3D block the transposed update is the adjoint of the forward one:
    /// `<v, (I + c L) u> = <(I + c L^T) v, u>` to round-off, and it keeps constants
    /// (`L^T 1 = 0`, mass conservation of `L`).
    #[test]
    fn transpose_3d_is_the_adjoint_and_keeps_constants() {
        let mesh = Mesh::new(3, 7, 3.0);
        let block = Block::new(&mesh, ProcessGrid::single(), 0);
        let geom = BlockGeometry::new(&mesh, &block);
        let fam = Sg::new(coefficients(mesh.h));
        let f = field3(&mesh, &block);
        let mut scratch = Scratch::new(&f);
        stage::fill_aux_owned(&fam, &f, &mut scratch.aux);
        stage::fill_aux_ghosts(&fam, &f, &mut scratch.aux);
        let whole = geom.whole();
        let mut rates = FaceRates::for_geometry(&geom);
        stage::flux_rates(&fam, &geom, &f, &mut scratch, &whole, &mut rates);
        let c = 0.02;
        let mut u = f.clone();
        let mut v = Field::zeros3(7, 7, 7);
        v.interior3_mut()
            .indexed_iter_mut()
            .for_each(|((k, j, i), x)| *x = ((k * 7 + j * 3 + i) % 5) as f64 - 1.5);
        u.interior3_mut()
            .indexed_iter_mut()
            .for_each(|((k, j, i), x)| *x = 1.0 + ((k + 2 * j + 3 * i) % 4) as f64);
        let (mut pu, mut ptv) = (u.clone(), v.clone());
        apply_stored(&geom, &u, &rates, &mut pu, &whole, c);
        apply_transpose(&geom, &v, &rates, &mut ptv, &whole, c);
        let dot = |a: &Field, b: &Field| -> f64 {
            a.interior3()
                .iter()
                .zip(b.interior3().iter())
                .map(|(x, y)| x * y)
                .sum()
        };
        let (lhs, rhs) = (dot(&v, &pu), dot(&ptv, &u));
        assert!(
            (lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0),
            "{lhs} {rhs}"
        );
        let mut ones = Field::zeros3(7, 7, 7);
        ones.interior3_mut().fill(1.0);
        let mut out = ones.clone();
        apply_transpose(&geom, &ones, &rates, &mut out, &whole, c);
        assert!(out.interior3().iter().all(|&x| x == 1.0));
        // Mass: sum (I + c L) u = sum u.
        let (m0, m1) = (u.interior3().sum(), pu.interior3().sum());
        assert!((m0 - m1).abs() <= 1e-13 * m0);
    }
}
