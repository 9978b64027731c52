//! The geometry a stage works on: one block's face coordinates and boundary flags
//! ([`BlockGeometry`], built once per block) and boxes of its owned cells ([`Region`]: the
//! interior and rim of the overlapped halo exchange).

use std::ops::Range;

use crate::decomp::{Block, Side};
use crate::mesh::Mesh;

/// Face coordinates and boundary flags of one block (built once).
#[derive(Clone, Debug)]
pub struct BlockGeometry {
    /// Owned cells along x / y.
    pub nx: usize,
    /// Owned cells along y.
    pub ny: usize,
    /// Owned cells along z (1 in 1D and 2D).
    pub nz: usize,
    /// `x` of local x-faces `0..=nx` (face `i` is left of local column `i`).
    pub x_faces: Vec<f64>,
    /// `y` of local y-faces `0..=ny`.
    pub y_faces: Vec<f64>,
    /// `z` of local z-faces `0..=nz` (3D).
    pub z_faces: Vec<f64>,
    /// Whether the block's west/east/south/north/down/up side is the physical boundary (zero
    /// flux); [`Side::index`] order.
    pub boundary: [bool; 6],
    /// Whether the mesh is 3D (z-faces exist).
    pub dim3: bool,
    /// Cell width `h`.
    pub h: f64,
}

impl BlockGeometry {
    /// Geometry of `block` on `mesh`.
    pub fn new(mesh: &Mesh, block: &Block) -> Self {
        let x_faces = (0..=block.nx).map(|i| mesh.face(block.x0 + i)).collect();
        let y_faces = if mesh.dim >= 2 {
            (0..=block.ny).map(|j| mesh.face(block.y0 + j)).collect()
        } else {
            vec![0.0; block.ny + 1]
        };
        let z_faces = if mesh.dim == 3 {
            (0..=block.nz).map(|k| mesh.face(block.z0 + k)).collect()
        } else {
            vec![0.0; block.nz + 1]
        };
        BlockGeometry {
            nx: block.nx,
            ny: block.ny,
            nz: block.nz,
            x_faces,
            y_faces,
            z_faces,
            boundary: Side::ALL.map(|s| block.neighbours[s.index()].is_none()),
            dim3: mesh.dim == 3,
            h: mesh.h,
        }
    }

    /// Whether local z-face `kf` is a zero-flux boundary face.
    #[inline]
    pub fn z_face_is_boundary(&self, kf: usize) -> bool {
        (kf == 0 && self.boundary[Side::Down.index()])
            || (kf == self.nz && self.boundary[Side::Up.index()])
    }

    /// Whether local x-face `i` is a zero-flux boundary face.
    #[inline]
    pub fn x_face_is_boundary(&self, i: usize) -> bool {
        (i == 0 && self.boundary[Side::West.index()])
            || (i == self.nx && self.boundary[Side::East.index()])
    }

    /// Whether local y-face `j` is a zero-flux boundary face.
    #[inline]
    pub fn y_face_is_boundary(&self, j: usize) -> bool {
        (j == 0 && self.boundary[Side::South.index()])
            || (j == self.ny && self.boundary[Side::North.index()])
    }

    /// The region whose faces need no ghost values (all of it on a single rank), and the rim
    /// regions that do, together covering the block exactly once.
    pub fn split_interior_rim(&self) -> (Region, Vec<Region>) {
        let r0 = usize::from(!self.boundary[Side::South.index()]);
        let r1 = self.ny - usize::from(!self.boundary[Side::North.index()]);
        let c0 = usize::from(!self.boundary[Side::West.index()]);
        let c1 = self.nx - usize::from(!self.boundary[Side::East.index()]);
        let (p0, p1) = if self.dim3 {
            let p0 = usize::from(!self.boundary[Side::Down.index()]);
            (p0, self.nz - usize::from(!self.boundary[Side::Up.index()]))
        } else {
            (0, self.nz)
        };
        if r0 >= r1 || c0 >= c1 || p0 >= p1 {
            return (Region::empty(), vec![self.whole()]);
        }
        let mut rim = Vec::new();
        let mut push = |planes: Range<usize>, rows: Range<usize>, cols: Range<usize>| {
            let region = Region { planes, rows, cols };
            if !region.is_empty() {
                rim.push(region);
            }
        };
        push(0..p0, 0..self.ny, 0..self.nx);
        push(p1..self.nz, 0..self.ny, 0..self.nx);
        push(p0..p1, 0..r0, 0..self.nx);
        push(p0..p1, r1..self.ny, 0..self.nx);
        push(p0..p1, r0..r1, 0..c0);
        push(p0..p1, r0..r1, c1..self.nx);
        (
            Region {
                planes: p0..p1,
                rows: r0..r1,
                cols: c0..c1,
            },
            rim,
        )
    }

    /// The whole block.
    pub fn whole(&self) -> Region {
        Region {
            planes: 0..self.nz,
            rows: 0..self.ny,
            cols: 0..self.nx,
        }
    }
}

/// A box of owned cells, in local indices (one plane, `0..1`, in 1D and 2D).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Local planes.
    pub planes: Range<usize>,
    /// Local rows.
    pub rows: Range<usize>,
    /// Local columns.
    pub cols: Range<usize>,
}

impl Region {
    /// No cells.
    pub fn empty() -> Region {
        Region {
            planes: 0..0,
            rows: 0..0,
            cols: 0..0,
        }
    }

    /// Whether it has no cells.
    pub fn is_empty(&self) -> bool {
        self.planes.is_empty() || self.rows.is_empty() || self.cols.is_empty()
    }
}
