//! Uniform cell-centred grid on `[-L, L]^dim` with an odd number `n` of cells per axis.
//!
//! Cell `i` (global index, `0 <= i < n`) has centre `x_i = -L + (i + 1/2) h = (i - c) h` with
//! `h = 2L/n` and `c = (n - 1)/2`; face `i` (`0 <= i <= n`) sits at `x_{i-1/2} = (i - c - 1/2) h`,
//! between cells `i - 1` and `i`. Coordinates are computed as (exact half-integer) times `h`, so
//! `x(n-1-i) == -x(i)` holds bit for bit and symmetric data stays symmetric to round-off.
//! Faces `0` and `n` are the physical boundary (zero flux). With `n` odd the origin is the
//! centre of cell `(n - 1)/2`, where a condensate lives.
//!
//! In 1D the grid is stored as a single row (`ny = 1`) whose two y-faces are boundary faces,
//! so one set of loops serves both dimensions and the y-coordinate of every cell is 0. Likewise
//! 1D and 2D grids are a single z-plane (`nz = 1`); a 3D grid has `n` planes.

/// Geometry of the global grid. Knows nothing of storage or ranks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mesh {
    /// Spatial dimension, 1, 2 or 3.
    pub dim: usize,
    /// Cells per axis (odd).
    pub n: usize,
    /// Half width `L` of the domain `[-L, L]^dim`.
    pub half_width: f64,
    /// Cell width `h = 2L / n`.
    pub h: f64,
}

impl Mesh {
    /// A mesh of `n` cells per axis on `[-L, L]^dim`.
    pub fn new(dim: usize, n: usize, half_width: f64) -> Self {
        Mesh {
            dim,
            n,
            half_width,
            h: 2.0 * half_width / n as f64,
        }
    }

    /// Cells along x.
    pub fn nx(&self) -> usize {
        self.n
    }

    /// Cells along y (1 in 1D).
    pub fn ny(&self) -> usize {
        if self.dim >= 2 {
            self.n
        } else {
            1
        }
    }

    /// Cells along z (1 in 1D and 2D).
    pub fn nz(&self) -> usize {
        if self.dim == 3 {
            self.n
        } else {
            1
        }
    }

    /// Total number of cells, `n^dim`.
    pub fn cells(&self) -> usize {
        self.nx() * self.ny() * self.nz()
    }

    /// Cell volume `h^dim`.
    pub fn cell_volume(&self) -> f64 {
        self.h.powi(self.dim as i32)
    }

    /// Centre of global cell `i` along an axis: `(i - c) h`, `c = (n - 1)/2`.
    pub fn centre(&self, i: usize) -> f64 {
        (i as f64 - self.centre_index() as f64) * self.h
    }

    /// Position of global face `i` along an axis: `(i - c - 1/2) h` (= `-L + i h`).
    pub fn face(&self, i: usize) -> f64 {
        (i as f64 - self.centre_index() as f64 - 0.5) * self.h
    }

    /// Centre of global cell `(iy, ix)` as `[x, y]` (`y = 0` in 1D).
    pub fn cell_centre(&self, iy: usize, ix: usize) -> [f64; 2] {
        let y = if self.dim >= 2 { self.centre(iy) } else { 0.0 };
        [self.centre(ix), y]
    }

    /// Centre of global cell `(iz, iy, ix)` as `[x, y, z]` (`z = 0` below 3D, `y = 0` in 1D).
    pub fn cell_centre3(&self, iz: usize, iy: usize, ix: usize) -> [f64; 3] {
        let [x, y] = self.cell_centre(iy, ix);
        let z = if self.dim == 3 { self.centre(iz) } else { 0.0 };
        [x, y, z]
    }

    /// Global index of the centre cell along an axis, `(n - 1) / 2` (the origin).
    pub fn centre_index(&self) -> usize {
        (self.n - 1) / 2
    }

    /// Global `(iy, ix)` of the cell at the origin.
    pub fn origin_cell(&self) -> (usize, usize) {
        let c = self.centre_index();
        (if self.dim >= 2 { c } else { 0 }, c)
    }

    /// Global `(iz, iy, ix)` of the cell at the origin (`iz = 0` below 3D).
    pub fn origin_cell3(&self) -> (usize, usize, usize) {
        let (iy, ix) = self.origin_cell();
        (
            if self.dim == 3 {
                self.centre_index()
            } else {
                0
            },
            iy,
            ix,
        )
    }

    /// Global index of the cell containing coordinate `x` along an axis, or `None` outside `[-L, L]`.
    /// A point exactly on `x = L` belongs to the last cell.
    pub fn locate(&self, x: f64) -> Option<usize> {
        if !(x >= -self.half_width && x <= self.half_width) {
            return None;
        }
        let i = ((x + self.half_width) / self.h).floor() as usize;
        Some(i.min(self.n - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_the_centre_of_the_middle_cell() {
        let m = Mesh::new(2, 11, 6.0);
        assert_eq!(m.centre(m.centre_index()), 0.0);
        assert_eq!(m.origin_cell(), (5, 5));
        assert!((m.face(0) + 6.0).abs() < 1e-14);
        assert!((m.face(11) - 6.0).abs() < 1e-14);
        assert_eq!(m.face(0), -m.face(11));
        assert_eq!(Mesh::new(1, 11, 6.0).origin_cell(), (0, 5));
    }

    #[test]
    fn centres_are_symmetric() {
        let m = Mesh::new(1, 101, 6.0);
        for i in 0..101 {
            assert_eq!(m.centre(i), -m.centre(100 - i), "cell {i}");
        }
    }

    #[test]
    fn locate_inverts_centre() {
        let m = Mesh::new(1, 21, 3.0);
        for i in 0..21 {
            assert_eq!(m.locate(m.centre(i)), Some(i));
        }
        assert_eq!(m.locate(3.0), Some(20));
        assert_eq!(m.locate(-3.0), Some(0));
        assert_eq!(m.locate(3.01), None);
        assert_eq!(m.locate(f64::NAN), None);
    }
}
