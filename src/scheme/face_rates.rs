//! The face rates `(k_plus, k_minus)` of a block kept between the rate pass and the update
//! ([`FaceRates`]), the update from them ([`apply_stored`]) and the transposed update of the
//! exact reverse step ([`apply_transpose`]), in 1D, 2D and 3D. The passes that fill them are in
//! [`super::stage`].

use std::ops::Range;

use super::stage::{BlockGeometry, Region};
use crate::field::Field;

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

    /// Stores the x-faces `cols.start..=cols.end` of row `j` of plane `k` from row buffers
    /// indexed by face.
    pub(super) fn put_x(
        &mut self,
        (k, j): (usize, usize),
        cols: &Range<usize>,
        kp: &[f64],
        km: &[f64],
    ) {
        let base = self.x_at(k, j);
        let faces = cols.start..cols.end + 1;
        self.kp_x[base + faces.start..base + faces.end].copy_from_slice(&kp[faces.clone()]);
        self.km_x[base + faces.start..base + faces.end].copy_from_slice(&km[faces]);
    }

    /// Stores y-face `jf` of plane `k` over `cols` from row buffers indexed by column.
    pub(super) fn put_y(
        &mut self,
        (k, jf): (usize, usize),
        cols: &Range<usize>,
        kp: &[f64],
        km: &[f64],
    ) {
        let base = self.y_at(k, jf);
        self.kp_y[base + cols.start..base + cols.end].copy_from_slice(&kp[cols.clone()]);
        self.km_y[base + cols.start..base + cols.end].copy_from_slice(&km[cols.clone()]);
    }

    /// Stores z-face `kf` over the rows and columns of `region` from plane buffers
    /// (`ny x nx`, row-major) (3D).
    pub(super) fn put_z(&mut self, kf: usize, region: &Region, kp: &[f64], km: &[f64]) {
        let cols = &region.cols;
        for j in region.rows.clone() {
            let (base, row) = (self.z_at(kf, j), j * self.nx);
            let (dst, src) = (
                base + cols.start..base + cols.end,
                row + cols.start..row + cols.end,
            );
            self.kp_z[dst.clone()].copy_from_slice(&kp[src.clone()]);
            self.km_z[dst].copy_from_slice(&km[src]);
        }
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
    if region.is_empty() {
        return;
    }
    debug_assert_eq!(geom.dim3, rates.is_3d(), "face rates of another dimension");
    let (c0, c1) = (region.cols.start, region.cols.end);
    let n = c1 - c0;
    for k in region.planes.clone() {
        for j in region.rows.clone() {
            let at = f.index3(k as isize, j as isize, c0 as isize);
            let xb = rates.x_at(k, j) + c0;
            let (sb, nb) = (rates.y_at(k, j) + c0, rates.y_at(k, j + 1) + c0);
            let z = geom.dim3.then(|| {
                let (db, ub) = (rates.z_at(k, j) + c0, rates.z_at(k + 1, j) + c0);
                [
                    (&rates.kp_z[db..db + n], &rates.km_z[db..db + n]),
                    (&rates.kp_z[ub..ub + n], &rates.km_z[ub..ub + n]),
                ]
            });
            let around = RowRates {
                x: (&rates.kp_x[xb..xb + n + 1], &rates.km_x[xb..xb + n + 1]),
                south: (&rates.kp_y[sb..sb + n], &rates.km_y[sb..sb + n]),
                north: (&rates.kp_y[nb..nb + n], &rates.km_y[nb..nb + n]),
                z,
            };
            update_row(f, at, around, &mut out.raw_mut()[at..at + n], dt_over_h);
        }
    }
}

/// The face rates `(k_plus, k_minus)` around a row of `n` cells: its x-faces (`n + 1`, west
/// face of the first cell first), the y-faces south and north of it (`n` each) and, in 3D, the
/// z-faces below and above it (`[down, up]`, `n` each).
pub(super) struct RowRates<'a> {
    pub x: (&'a [f64], &'a [f64]),
    pub south: (&'a [f64], &'a [f64]),
    pub north: (&'a [f64], &'a [f64]),
    pub z: Option<[(&'a [f64], &'a [f64]); 2]>,
}

/// `dst[c] = f[at + c] + dt_over_h * div F` for the row of `dst.len()` cells of `f` starting at
/// flat index `at`, with `F = k_plus f_L - k_minus f_R` from the rates `around` it (the
/// operation order of [`apply`](super::stage::apply): x and y differences summed, the z
/// difference added last). Shared by [`apply_stored`] and the fused rate-and-update pass
/// ([`max_rate_and_update`](super::stage::max_rate_and_update)), so both give the same bits.
#[inline(always)]
pub(super) fn update_row(
    f: &Field,
    at: usize,
    around: RowRates<'_>,
    dst: &mut [f64],
    dt_over_h: f64,
) {
    let n = dst.len();
    let raw = f.raw();
    let (stride, plane) = (f.stride(), f.plane_stride());
    let fin = &raw[at..at + n];
    // x faces of the row: cells (j, i-1) and (j, i).
    let left = &raw[at - 1..at + n];
    let right = &raw[at..at + n + 1];
    let (kpx, kmx) = (&around.x.0[..n + 1], &around.x.1[..n + 1]);
    // y faces south and north of the row.
    let below = &raw[at - stride..at - stride + n];
    let above = &raw[at + stride..at + stride + n];
    let (kps, kms) = (&around.south.0[..n], &around.south.1[..n]);
    let (kpn, kmn) = (&around.north.0[..n], &around.north.1[..n]);
    if let Some([(kpd, kmd), (kpu, kmu)]) = around.z {
        // z faces down (plane k) and up (plane k + 1).
        let down = &raw[at - plane..at - plane + n];
        let up = &raw[at + plane..at + plane + n];
        let (kpd, kmd, kpu, kmu) = (&kpd[..n], &kmd[..n], &kpu[..n], &kmu[..n]);
        for c in 0..n {
            let fxw = kpx[c] * left[c] - kmx[c] * right[c];
            let fxe = kpx[c + 1] * left[c + 1] - kmx[c + 1] * right[c + 1];
            let fys = kps[c] * below[c] - kms[c] * fin[c];
            let fyn = kpn[c] * fin[c] - kmn[c] * above[c];
            let fzd = kpd[c] * down[c] - kmd[c] * fin[c];
            let fzu = kpu[c] * fin[c] - kmu[c] * up[c];
            dst[c] = fin[c] + dt_over_h * (((fxw - fxe) + (fys - fyn)) + (fzd - fzu));
        }
    } else {
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
    if region.is_empty() {
        return;
    }
    debug_assert_eq!(geom.dim3, rates.is_3d(), "face rates of another dimension");
    let (c0, c1) = (region.cols.start, region.cols.end);
    let n = c1 - c0;
    let raw = w.raw();
    let (stride, plane) = (w.stride(), w.plane_stride());
    for k in region.planes.clone() {
        for j in region.rows.clone() {
            let at = w.index3(k as isize, j as isize, c0 as isize);
            let wc = &raw[at..at + n];
            let west = &raw[at - 1..at - 1 + n];
            let east = &raw[at + 1..at + 1 + n];
            let south = &raw[at - stride..at - stride + n];
            let north = &raw[at + stride..at + stride + n];
            let xb = rates.x_at(k, j) + c0;
            let (kpx, kmx) = (&rates.kp_x[xb..xb + n + 1], &rates.km_x[xb..xb + n + 1]);
            let (sb, nb) = (rates.y_at(k, j) + c0, rates.y_at(k, j + 1) + c0);
            let kms = &rates.km_y[sb..sb + n];
            let kpn = &rates.kp_y[nb..nb + n];
            let dst = &mut out.raw_mut()[at..at + n];
            if geom.dim3 {
                let down = &raw[at - plane..at - plane + n];
                let up = &raw[at + plane..at + plane + n];
                let (db, ub) = (rates.z_at(k, j) + c0, rates.z_at(k + 1, j) + c0);
                let kmd = &rates.km_z[db..db + n];
                let kpu = &rates.kp_z[ub..ub + n];
                for c in 0..n {
                    let x_part = kmx[c] * (west[c] - wc[c]) + kpx[c + 1] * (east[c] - wc[c]);
                    let y_part = kms[c] * (south[c] - wc[c]) + kpn[c] * (north[c] - wc[c]);
                    let z_part = kmd[c] * (down[c] - wc[c]) + kpu[c] * (up[c] - wc[c]);
                    dst[c] = wc[c] + dt_over_h * ((x_part + y_part) + z_part);
                }
            } else {
                for c in 0..n {
                    let x_part = kmx[c] * (west[c] - wc[c]) + kpx[c + 1] * (east[c] - wc[c]);
                    let y_part = kms[c] * (south[c] - wc[c]) + kpn[c] * (north[c] - wc[c]);
                    dst[c] = wc[c] + dt_over_h * (x_part + y_part);
                }
            }
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
