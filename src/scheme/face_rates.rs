//! The face rates `(k_plus, k_minus)` of a block kept between the rate pass and the update
//! ([`FaceRates`]), the update from them ([`apply_stored`]) and the transposed update of the
//! exact reverse step ([`apply_transpose`]). The passes that fill them are in
//! [`super::stage`].

use std::ops::Range;

use super::stage::{BlockGeometry, Region};
use crate::field::Field;

/// The face rates `(k_plus, k_minus)` of every face of a block, kept between the rate pass and
/// the update (and, later, for the reverse sweep). x-face `i` of row `j` is at `j (nx + 1) + i`,
/// y-face `jf` of column `i` at `jf nx + i`.
#[derive(Clone, Debug)]
pub struct FaceRates {
    nx: usize,
    kp_x: Vec<f64>,
    km_x: Vec<f64>,
    kp_y: Vec<f64>,
    km_y: Vec<f64>,
}

impl FaceRates {
    /// Storage for an `ny x nx` block.
    pub fn new(ny: usize, nx: usize) -> FaceRates {
        FaceRates {
            nx,
            kp_x: vec![0.0; ny * (nx + 1)],
            km_x: vec![0.0; ny * (nx + 1)],
            kp_y: vec![0.0; (ny + 1) * nx],
            km_y: vec![0.0; (ny + 1) * nx],
        }
    }

    pub(super) fn put_x(&mut self, j: usize, cols: &Range<usize>, kp: &[f64], km: &[f64]) {
        let base = j * (self.nx + 1);
        let faces = cols.start..cols.end + 1;
        self.kp_x[base + faces.start..base + faces.end].copy_from_slice(&kp[faces.clone()]);
        self.km_x[base + faces.start..base + faces.end].copy_from_slice(&km[faces]);
    }

    pub(super) fn put_y(&mut self, jf: usize, cols: &Range<usize>, kp: &[f64], km: &[f64]) {
        let base = jf * self.nx;
        self.kp_y[base + cols.start..base + cols.end].copy_from_slice(&kp[cols.clone()]);
        self.km_y[base + cols.start..base + cols.end].copy_from_slice(&km[cols.clone()]);
    }
}

/// [`apply`] with the face rates of a preceding [`max_rate`] pass over the same field and region
/// (valid when [`Family::DT_RATES_ARE_FLUX_RATES`]): `F = k_plus f_L - k_minus f_R` with the
/// stored rates, bit-identical to recomputing them.
pub fn apply_stored(
    geom: &BlockGeometry,
    f: &Field,
    rates: &FaceRates,
    out: &mut Field,
    region: &Region,
    dt_over_h: f64,
) {
    if region.is_empty() {
        return;
    }
    debug_assert!(!geom.dim3, "stored face rates are 2D");
    let (c0, c1) = (region.cols.start, region.cols.end);
    let n = c1 - c0;
    let nx = geom.nx;
    let raw = f.raw();
    for j in region.rows.clone() {
        let k = f.index(j as isize, c0 as isize);
        let fin = &raw[k..k + n];
        // x faces c0..=c1 of row j: cells (j, i-1) and (j, i).
        let left = &raw[k - 1..k + n];
        let right = &raw[k..k + n + 1];
        let xb = j * (nx + 1) + c0;
        let (kpx, kmx) = (&rates.kp_x[xb..xb + n + 1], &rates.km_x[xb..xb + n + 1]);
        // y faces j (south) and j + 1 (north) of columns c0..c1.
        let below = &raw[k - f.stride()..k - f.stride() + n];
        let above = &raw[k + f.stride()..k + f.stride() + n];
        let (sb, nb) = (j * nx + c0, (j + 1) * nx + c0);
        let (kps, kms) = (&rates.kp_y[sb..sb + n], &rates.km_y[sb..sb + n]);
        let (kpn, kmn) = (&rates.kp_y[nb..nb + n], &rates.km_y[nb..nb + n]);
        let dst = &mut out.raw_mut()[k..k + n];
        for c in 0..n {
            let fxw = kpx[c] * left[c] - kmx[c] * right[c];
            let fxe = kpx[c + 1] * left[c + 1] - kmx[c + 1] * right[c + 1];
            let fys = kps[c] * below[c] - kms[c] * fin[c];
            let fyn = kpn[c] * fin[c] - kmn[c] * above[c];
            dst[c] = fin[c] + dt_over_h * ((fxw - fxe) + (fys - fyn));
        }
    }
}

/// The transposed update `out = w + dt L_h^T w` on `region`, with the flux rates of `L_h`
/// stored by [`flux_rates`] (the reverse step of MODEL.md section 6, `w^n = (P^n)^T w^{n+1}`).
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
/// Zero-flux boundary faces carry zero rates. Reads the ghosts of `w` at faces with a
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
    if region.is_empty() {
        return;
    }
    debug_assert!(!geom.dim3, "stored face rates are 2D");
    let (c0, c1) = (region.cols.start, region.cols.end);
    let n = c1 - c0;
    let nx = geom.nx;
    let raw = w.raw();
    for j in region.rows.clone() {
        let k = w.index(j as isize, c0 as isize);
        let wc = &raw[k..k + n];
        let west = &raw[k - 1..k - 1 + n];
        let east = &raw[k + 1..k + 1 + n];
        let south = &raw[k - w.stride()..k - w.stride() + n];
        let north = &raw[k + w.stride()..k + w.stride() + n];
        let xb = j * (nx + 1) + c0;
        let (kpx, kmx) = (&rates.kp_x[xb..xb + n + 1], &rates.km_x[xb..xb + n + 1]);
        let (sb, nb) = (j * nx + c0, (j + 1) * nx + c0);
        let kms = &rates.km_y[sb..sb + n];
        let kpn = &rates.kp_y[nb..nb + n];
        let dst = &mut out.raw_mut()[k..k + n];
        for c in 0..n {
            let x_part = kmx[c] * (west[c] - wc[c]) + kpx[c + 1] * (east[c] - wc[c]);
            let y_part = kms[c] * (south[c] - wc[c]) + kpn[c] * (north[c] - wc[c]);
            dst[c] = wc[c] + dt_over_h * (x_part + y_part);
        }
    }
}

impl FaceRates {
    /// The rates at which cell `(j, i)` (local) jumps to its west, east, south and north
    /// neighbours, times `h` (zero across the physical boundary).
    #[inline]
    pub fn outgoing(&self, j: usize, i: usize) -> [f64; 4] {
        let nx = self.nx;
        [
            self.km_x[j * (nx + 1) + i],
            self.kp_x[j * (nx + 1) + i + 1],
            self.km_y[j * nx + i],
            self.kp_y[(j + 1) * nx + i],
        ]
    }

    /// The rates at which the west, east, south and north neighbours of cell `(j, i)` (local)
    /// jump into it, times `h` (zero across the physical boundary): the forward Euler step is
    /// `f'_c = f_c (1 - (dt/h) sum(outgoing)) + (dt/h) sum_k incoming_k f_k`.
    #[inline]
    pub fn incoming(&self, j: usize, i: usize) -> [f64; 4] {
        let nx = self.nx;
        [
            self.kp_x[j * (nx + 1) + i],
            self.km_x[j * (nx + 1) + i + 1],
            self.kp_y[j * nx + i],
            self.km_y[(j + 1) * nx + i],
        ]
    }
}
