//! The one rank-local array type: an owned block of cells plus ghost layers of any width, for any
//! plain element type.
//!
//! Storage is row-major `(nz + 2 gz) x (ny + 2 gy) x (nx + 2 gx)`: local plane `k`
//! (`-gz..nz + gz`), row `j` (`-gy..ny + gy`) and column `i` (`-gx..nx + gx`) live at
//! `(k + gz, j + gy, i + gx)`. 1D and 2D arrays are one plane without z ghosts (`nz = 1`,
//! `gz = 0`), so their storage and the 2D accessors (`index(j, i)`, plane 0) are those of a
//! plain `(ny + 2 gy) x (nx + 2 gx)` array; a 3D density has one ghost plane on each side. The PDE's density is a `Field` (= `Field<f64>`)
//! with one ghost layer on every side ([`GHOST`]: two-point face fluxes need one neighbour; corner
//! ghosts are never read by the flux kernels). The particle grids use wider halos (smoothing over
//! several cells), integer cells (exact deposits) and 1D arrays without y ghosts (`gy = 0`).
//! The array knows nothing of ranks: who fills the ghosts is the business of
//! [`crate::comm::HaloExchange`].

use ndarray::{s, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3};

/// Ghost width of the PDE density (one layer: two-point face fluxes need one neighbour).
pub const GHOST: usize = 1;

/// A block of `nz x ny x nx` owned cells plus `gx` ghost columns, `gy` ghost rows and `gz`
/// ghost planes on each side.
#[derive(Clone, Debug, PartialEq)]
pub struct Field<T = f64> {
    data: Vec<T>,
    nx: usize,
    ny: usize,
    nz: usize,
    gx: usize,
    gy: usize,
    gz: usize,
}

impl Field<f64> {
    /// A zero density field for an `ny x nx` owned block (1D, 2D), one ghost layer on every
    /// side.
    pub fn zeros(ny: usize, nx: usize) -> Field {
        Field::new(ny, nx, GHOST, GHOST)
    }

    /// A zero 3D density field for an `nz x ny x nx` owned block, one ghost layer on every side.
    pub fn zeros3(nz: usize, ny: usize, nx: usize) -> Field {
        Field::new3(nz, ny, nx, GHOST)
    }

    /// The zero density field of a block in a `dim`-dimensional mesh: [`Field::zeros3`] in 3D,
    /// [`Field::zeros`] otherwise.
    pub fn for_dim(dim: usize, nz: usize, ny: usize, nx: usize) -> Field {
        if dim == 3 {
            Field::zeros3(nz, ny, nx)
        } else {
            Field::zeros(ny, nx)
        }
    }
}

impl Field<f64> {
    /// The zero density field of `block` of `mesh` ([`Field::for_dim`] with the block's shape).
    pub fn of_block(mesh: &crate::mesh::Mesh, block: &crate::decomp::Block) -> Field {
        Field::for_dim(mesh.dim, block.nz, block.ny, block.nx)
    }
}

impl<T: Copy + Default> Field<T> {
    /// A zero (default) array for an `ny x nx` owned block with ghost widths `gy`, `gx` (one
    /// plane, no z ghosts).
    pub fn new(ny: usize, nx: usize, gy: usize, gx: usize) -> Field<T> {
        Field {
            data: vec![T::default(); (ny + 2 * gy) * (nx + 2 * gx)],
            nx,
            ny,
            nz: 1,
            gx,
            gy,
            gz: 0,
        }
    }

    /// A zero (default) array for an `nz x ny x nx` owned block with ghost width `g` on every
    /// side.
    pub fn new3(nz: usize, ny: usize, nx: usize, g: usize) -> Field<T> {
        Field {
            data: vec![T::default(); (nz + 2 * g) * (ny + 2 * g) * (nx + 2 * g)],
            nx,
            ny,
            nz,
            gx: g,
            gy: g,
            gz: g,
        }
    }

    /// Owned planes along z (1 in 1D and 2D).
    pub fn nz(&self) -> usize {
        self.nz
    }

    /// Ghost planes on each side (0 in 1D and 2D).
    pub fn gz(&self) -> usize {
        self.gz
    }

    /// Plane stride of the storage, `(ny + 2 gy) (nx + 2 gx)`.
    #[inline(always)]
    pub fn plane_stride(&self) -> usize {
        (self.ny + 2 * self.gy) * self.stride()
    }

    /// Flat index of local cell `(k, j, i)` (plane, row, column; ghosts outside the owned
    /// ranges).
    #[inline(always)]
    pub fn index3(&self, k: isize, j: isize, i: isize) -> usize {
        debug_assert!(k >= -(self.gz as isize) && k < (self.nz + self.gz) as isize);
        debug_assert!(j >= -(self.gy as isize) && j < (self.ny + self.gy) as isize);
        debug_assert!(i >= -(self.gx as isize) && i < (self.nx + self.gx) as isize);
        ((k + self.gz as isize) as usize) * self.plane_stride()
            + ((j + self.gy as isize) as usize) * self.stride()
            + (i + self.gx as isize) as usize
    }

    /// Owned cells along x.
    pub fn nx(&self) -> usize {
        self.nx
    }

    /// Owned cells along y.
    pub fn ny(&self) -> usize {
        self.ny
    }

    /// Ghost columns on each side.
    pub fn gx(&self) -> usize {
        self.gx
    }

    /// Ghost rows on each side.
    pub fn gy(&self) -> usize {
        self.gy
    }

    /// Row stride of the storage, `nx + 2 gx`.
    #[inline(always)]
    pub fn stride(&self) -> usize {
        self.nx + 2 * self.gx
    }

    /// Flat index of local cell `(j, i)` of plane 0 (ghosts have `j < 0`, `j >= ny`, `i < 0` or
    /// `i >= nx`); in 1D and 2D the only plane.
    #[inline(always)]
    pub fn index(&self, j: isize, i: isize) -> usize {
        debug_assert!(j >= -(self.gy as isize) && j < (self.ny + self.gy) as isize);
        debug_assert!(i >= -(self.gx as isize) && i < (self.nx + self.gx) as isize);
        self.gz * self.plane_stride()
            + ((j + self.gy as isize) as usize) * self.stride()
            + (i + self.gx as isize) as usize
    }

    /// Value of local cell `(j, i)`.
    #[inline(always)]
    pub fn get(&self, j: isize, i: isize) -> T {
        self.data[self.index(j, i)]
    }

    /// Sets local cell `(j, i)`.
    #[inline(always)]
    pub fn set(&mut self, j: isize, i: isize, v: T) {
        let k = self.index(j, i);
        self.data[k] = v;
    }

    /// All storage (ghosts included), row-major.
    #[inline(always)]
    pub fn raw(&self) -> &[T] {
        &self.data
    }

    /// All storage, mutable.
    #[inline(always)]
    pub fn raw_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Sets every cell, ghosts included, to `v`.
    pub fn fill(&mut self, v: T) {
        self.data.fill(v);
    }

    /// The owned block, without ghosts, `ny x nx` (1D and 2D arrays; a 3D array's owned cells
    /// are [`Field::interior3`]).
    pub fn interior(&self) -> ArrayView2<'_, T> {
        assert_eq!(self.gz, 0, "interior() of a 3D array: use interior3()");
        let (gy, gx, ny, nx) = (self.gy, self.gx, self.ny, self.nx);
        let shape = (self.ny + 2 * self.gy, self.stride());
        ArrayView2::from_shape(shape, &self.data)
            .expect("storage matches its shape")
            .slice_move(s![gy..gy + ny, gx..gx + nx])
    }

    /// The owned block, mutable (1D and 2D arrays).
    pub fn interior_mut(&mut self) -> ArrayViewMut2<'_, T> {
        assert_eq!(
            self.gz, 0,
            "interior_mut() of a 3D array: use interior3_mut()"
        );
        let (gy, gx, ny, nx) = (self.gy, self.gx, self.ny, self.nx);
        let shape = (ny + 2 * gy, self.stride());
        ArrayViewMut2::from_shape(shape, &mut self.data)
            .expect("storage matches its shape")
            .slice_move(s![gy..gy + ny, gx..gx + nx])
    }

    /// The owned block of any dimension, `nz x ny x nx` (`nz = 1` in 1D and 2D).
    pub fn interior3(&self) -> ArrayView3<'_, T> {
        let (gz, gy, gx, nz, ny, nx) = (self.gz, self.gy, self.gx, self.nz, self.ny, self.nx);
        let shape = (nz + 2 * gz, ny + 2 * gy, self.stride());
        ArrayView3::from_shape(shape, &self.data)
            .expect("storage matches its shape")
            .slice_move(s![gz..gz + nz, gy..gy + ny, gx..gx + nx])
    }

    /// The owned block of any dimension, mutable.
    pub fn interior3_mut(&mut self) -> ArrayViewMut3<'_, T> {
        let (gz, gy, gx, nz, ny, nx) = (self.gz, self.gy, self.gx, self.nz, self.ny, self.nx);
        let shape = (nz + 2 * gz, ny + 2 * gy, self.stride());
        ArrayViewMut3::from_shape(shape, &mut self.data)
            .expect("storage matches its shape")
            .slice_move(s![gz..gz + nz, gy..gy + ny, gx..gx + nx])
    }

    /// Copies the owned cells of `other` (same owned shape, any ghost widths) into this array;
    /// ghosts untouched.
    pub fn copy_interior_from(&mut self, other: &Field<T>) {
        assert_eq!(
            (other.nz, other.ny, other.nx),
            (self.nz, self.ny, self.nx),
            "owned shapes differ"
        );
        for k in 0..self.nz as isize {
            for j in 0..self.ny as isize {
                let from = other.index3(k, j, 0);
                let to = self.index3(k, j, 0);
                self.data[to..to + self.nx].copy_from_slice(&other.data[from..from + self.nx]);
            }
        }
    }

    /// Copies the rectangle of rows `rows` and columns `cols` of plane 0 (local indices) into
    /// `out`, row by row (appending).
    pub fn copy_rect_into(
        &self,
        rows: std::ops::Range<isize>,
        cols: std::ops::Range<isize>,
        out: &mut Vec<T>,
    ) {
        self.copy_box_into(0..1, rows, cols, out);
    }

    /// Copies the box of planes `planes`, rows `rows` and columns `cols` (local indices) into
    /// `out`, plane by plane and row by row (appending).
    pub fn copy_box_into(
        &self,
        planes: std::ops::Range<isize>,
        rows: std::ops::Range<isize>,
        cols: std::ops::Range<isize>,
        out: &mut Vec<T>,
    ) {
        for k in planes {
            for j in rows.clone() {
                let at = self.index3(k, j, cols.start);
                out.extend_from_slice(&self.data[at..at + (cols.end - cols.start) as usize]);
            }
        }
    }

    /// Applies `op(cell, value)` over the rectangle of rows `rows` and columns `cols` of plane
    /// 0, taking values from `values` row by row (the layout [`Field::copy_rect_into`] writes).
    pub fn apply_rect(
        &mut self,
        rows: std::ops::Range<isize>,
        cols: std::ops::Range<isize>,
        values: &[T],
        op: impl FnMut(&mut T, T),
    ) {
        self.apply_box(0..1, rows, cols, values, op);
    }

    /// Applies `op(cell, value)` over the box of planes `planes`, rows `rows` and columns
    /// `cols`, taking values from `values` in the layout [`Field::copy_box_into`] writes.
    pub fn apply_box(
        &mut self,
        planes: std::ops::Range<isize>,
        rows: std::ops::Range<isize>,
        cols: std::ops::Range<isize>,
        values: &[T],
        mut op: impl FnMut(&mut T, T),
    ) {
        let width = (cols.end - cols.start) as usize;
        let mut at = 0;
        for k in planes {
            for j in rows.clone() {
                let c = self.index3(k, j, cols.start);
                for (cell, &v) in self.data[c..c + width]
                    .iter_mut()
                    .zip(&values[at..at + width])
                {
                    op(cell, v);
                }
                at += width;
            }
        }
        debug_assert_eq!(at, values.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn density_field_has_one_ghost_layer() {
        let mut f = Field::zeros(3, 4);
        for j in 0..3 {
            for i in 0..4 {
                f.set(j, i, (10 * j + i) as f64);
            }
        }
        let v = f.interior();
        assert_eq!(v.dim(), (3, 4));
        assert_eq!(v[[2, 3]], 23.0);
        assert_eq!(f.get(-1, 0), 0.0);
        assert_eq!(f.index(-1, -1), 0);
        assert_eq!(f.stride(), 6);
        assert_eq!(f.raw().len(), 5 * 6);
        f.interior_mut()[[1, 2]] = -1.0;
        assert_eq!(f.get(1, 2), -1.0);
    }

    #[test]
    fn indices_and_rectangles() {
        let mut a: Field<i64> = Field::new(3, 4, 2, 1);
        assert_eq!(a.stride(), 6);
        assert_eq!(a.raw().len(), 7 * 6);
        assert_eq!(a.index(-2, -1), 0);
        assert_eq!(a.index(0, 0), 2 * 6 + 1);
        for j in -2..5isize {
            for i in -1..5isize {
                a.set(j, i, 100 * j as i64 + i as i64);
            }
        }
        let mut strip = Vec::new();
        a.copy_rect_into(0..3, 2..4, &mut strip);
        assert_eq!(strip, vec![2, 3, 102, 103, 202, 203]);
        a.apply_rect(-2..-1, -1..1, &[5, 7], |c, v| *c += v);
        assert_eq!(a.get(-2, -1), -201 + 5);
        assert_eq!(a.get(-2, 0), -200 + 7);
        assert_eq!(a.interior()[[2, 3]], 203);
    }

    #[test]
    fn owned_cells_copy_between_ghost_widths() {
        let mut one_d: Field<f64> = Field::new(1, 5, 0, 3);
        assert_eq!(one_d.raw().len(), 11);
        assert_eq!(one_d.index(0, -3), 0);
        let mut f = Field::zeros(1, 5);
        f.set(0, 4, 2.5);
        f.set(-1, 4, 9.0);
        one_d.copy_interior_from(&f);
        assert_eq!(one_d.get(0, 4), 2.5);
        assert_eq!(one_d.raw().iter().sum::<f64>(), 2.5);
    }
}
