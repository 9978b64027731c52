//! A rank-local array with one layer of ghost cells on every side.
//!
//! Storage is row-major `(ny + 2) x (nx + 2)`: local row `j` (`0..ny`) and column `i` (`0..nx`)
//! of the owned block live at `(j + 1, i + 1)`; row 0 / row `ny + 1` and column 0 / column
//! `nx + 1` are ghosts. Corner ghosts are never read (fluxes only need edge neighbours).
//! The field knows nothing of ranks: who fills the ghosts is the business of `comm`.

use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};

/// Ghost width (one layer: two-point face fluxes need one neighbour).
pub const GHOST: usize = 1;

/// A block of cell values plus ghosts.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    data: Array2<f64>,
    nx: usize,
    ny: usize,
}

impl Field {
    /// A zero field for an `ny x nx` owned block.
    pub fn zeros(ny: usize, nx: usize) -> Field {
        Field {
            data: Array2::zeros((ny + 2 * GHOST, nx + 2 * GHOST)),
            nx,
            ny,
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

    /// Row stride of the storage, `nx + 2`.
    pub fn stride(&self) -> usize {
        self.nx + 2 * GHOST
    }

    /// Flat index of local cell `(j, i)`; `j`, `i` may be -1 or `ny`/`nx` for ghosts.
    #[inline(always)]
    pub fn index(&self, j: isize, i: isize) -> usize {
        ((j + GHOST as isize) as usize) * self.stride() + (i + GHOST as isize) as usize
    }

    /// All storage (ghosts included), row-major.
    pub fn raw(&self) -> &[f64] {
        self.data.as_slice().expect("field storage is contiguous")
    }

    /// All storage (ghosts included), row-major, mutable.
    pub fn raw_mut(&mut self) -> &mut [f64] {
        self.data
            .as_slice_mut()
            .expect("field storage is contiguous")
    }

    /// The owned block, without ghosts, `ny x nx`.
    pub fn interior(&self) -> ArrayView2<'_, f64> {
        self.data
            .slice(s![GHOST..GHOST + self.ny, GHOST..GHOST + self.nx])
    }

    /// The owned block, mutable.
    pub fn interior_mut(&mut self) -> ArrayViewMut2<'_, f64> {
        let (ny, nx) = (self.ny, self.nx);
        self.data
            .slice_mut(s![GHOST..GHOST + ny, GHOST..GHOST + nx])
    }

    /// Value of local cell `(j, i)` (ghosts addressed with -1 / `ny` / `nx`).
    #[inline]
    pub fn get(&self, j: isize, i: isize) -> f64 {
        self.raw()[self.index(j, i)]
    }

    /// Copies the owned values of `other` (same shape) into this field; ghosts untouched.
    pub fn copy_interior_from(&mut self, other: &Field) {
        self.interior_mut().assign(&other.interior());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_view_maps_to_local_indices() {
        let mut f = Field::zeros(3, 4);
        for j in 0..3 {
            for i in 0..4 {
                let k = f.index(j, i);
                f.raw_mut()[k] = (10 * j + i) as f64;
            }
        }
        let v = f.interior();
        assert_eq!(v.dim(), (3, 4));
        assert_eq!(v[[2, 3]], 23.0);
        assert_eq!(f.get(-1, 0), 0.0);
        assert_eq!(f.index(-1, -1), 0);
        assert_eq!(f.stride(), 6);
    }
}
