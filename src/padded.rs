//! A rank-local array with ghost layers of any width, for any plain element type.
//!
//! [`crate::field::Field`] is the PDE's storage (one ghost layer of `f64`); the particle grids
//! need wider halos (smoothing over several cells) and integer cells (exact deposits), and 1D
//! arrays without any y ghosts. Storage is row-major `(ny + 2 gy) x (nx + 2 gx)`: local row `j`
//! (`-gy..ny + gy`) and column `i` (`-gx..nx + gx`) live at `(j + gy, i + gx)`. The array knows
//! nothing of ranks: who fills the ghosts is the business of `comm`.

use crate::field::Field;

/// A block of cells plus `gx` ghost columns and `gy` ghost rows on each side.
#[derive(Clone, Debug, PartialEq)]
pub struct Padded<T> {
    data: Vec<T>,
    nx: usize,
    ny: usize,
    gx: usize,
    gy: usize,
}

impl<T: Copy + Default> Padded<T> {
    /// A zero (default) array for an `ny x nx` owned block with ghost widths `gy`, `gx`.
    pub fn new(ny: usize, nx: usize, gy: usize, gx: usize) -> Padded<T> {
        Padded {
            data: vec![T::default(); (ny + 2 * gy) * (nx + 2 * gx)],
            nx,
            ny,
            gx,
            gy,
        }
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

    /// Flat index of local cell `(j, i)` (ghosts have `j < 0`, `j >= ny`, `i < 0` or `i >= nx`).
    #[inline(always)]
    pub fn index(&self, j: isize, i: isize) -> usize {
        debug_assert!(j >= -(self.gy as isize) && j < (self.ny + self.gy) as isize);
        debug_assert!(i >= -(self.gx as isize) && i < (self.nx + self.gx) as isize);
        ((j + self.gy as isize) as usize) * self.stride() + (i + self.gx as isize) as usize
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

    /// Copies the rectangle of rows `rows` and columns `cols` (local indices) into `out`,
    /// row by row (appending).
    pub fn copy_rect_into(
        &self,
        rows: std::ops::Range<isize>,
        cols: std::ops::Range<isize>,
        out: &mut Vec<T>,
    ) {
        for j in rows {
            let k = self.index(j, cols.start);
            out.extend_from_slice(&self.data[k..k + (cols.end - cols.start) as usize]);
        }
    }

    /// Applies `op(cell, value)` over the rectangle of rows `rows` and columns `cols`, taking
    /// values from `values` row by row (the layout [`Padded::copy_rect_into`] writes).
    pub fn apply_rect(
        &mut self,
        rows: std::ops::Range<isize>,
        cols: std::ops::Range<isize>,
        values: &[T],
        mut op: impl FnMut(&mut T, T),
    ) {
        let width = (cols.end - cols.start) as usize;
        let mut at = 0;
        for j in rows {
            let k = self.index(j, cols.start);
            for (cell, &v) in self.data[k..k + width]
                .iter_mut()
                .zip(&values[at..at + width])
            {
                op(cell, v);
            }
            at += width;
        }
        debug_assert_eq!(at, values.len());
    }
}

impl Padded<f64> {
    /// Copies the owned cells of a PDE [`Field`] of the same owned shape (ghosts untouched), so
    /// that particle kernels can interpolate PDE fields (a reverse-time sampler's coefficients).
    pub fn copy_owned_from_field(&mut self, f: &Field) {
        assert_eq!(
            (f.ny(), f.nx()),
            (self.ny, self.nx),
            "field and array shapes differ"
        );
        for j in 0..self.ny as isize {
            for i in 0..self.nx as isize {
                self.set(j, i, f.get(j, i));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_and_rectangles() {
        let mut a: Padded<i64> = Padded::new(3, 4, 2, 1);
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
        let mut one_d: Padded<f64> = Padded::new(1, 5, 0, 3);
        assert_eq!(one_d.raw().len(), 11);
        assert_eq!(one_d.index(0, -3), 0);
        let mut f = Field::zeros(1, 5);
        let k = f.index(0, 4);
        f.raw_mut()[k] = 2.5;
        one_d.copy_owned_from_field(&f);
        assert_eq!(one_d.get(0, 4), 2.5);
    }
}
