//! Cartesian domain decomposition: a `px x py x pz` process grid and the block of cells each
//! rank owns. Pure arithmetic, no MPI calls.
//!
//! Rank `r` sits at process coordinates `(cx, cy, cz)` with `r = cx + px (cy + py cz)` (in 1D
//! and 2D `pz = 1`, so `(cx, cy) = (r mod px, r div px)` as always). Along an axis of `n`
//! cells split over `p` ranks, part `k` holds `n div p` cells plus one more for `k < n mod p`,
//! so blocks differ by at most one cell and `n` need not divide evenly.

use crate::mesh::Mesh;

/// A side of a block. The order is the order halo strips are exchanged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Towards smaller x.
    West,
    /// Towards larger x.
    East,
    /// Towards smaller y.
    South,
    /// Towards larger y.
    North,
    /// Towards smaller z (3D only).
    Down,
    /// Towards larger z (3D only).
    Up,
}

impl Side {
    /// All six sides (in 1D and 2D the z sides never have a neighbour).
    pub const ALL: [Side; 6] = [
        Side::West,
        Side::East,
        Side::South,
        Side::North,
        Side::Down,
        Side::Up,
    ];

    /// The side facing this one on the neighbour.
    pub fn opposite(self) -> Side {
        match self {
            Side::West => Side::East,
            Side::East => Side::West,
            Side::South => Side::North,
            Side::North => Side::South,
            Side::Down => Side::Up,
            Side::Up => Side::Down,
        }
    }

    /// Index in [`Side::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The process grid: `px` ranks along x times `py` along y times `pz` along z.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessGrid {
    /// Ranks along x.
    pub px: usize,
    /// Ranks along y (1 in 1D).
    pub py: usize,
    /// Ranks along z (1 in 1D and 2D).
    pub pz: usize,
}

impl ProcessGrid {
    /// One rank holding the whole mesh.
    pub fn single() -> ProcessGrid {
        ProcessGrid {
            px: 1,
            py: 1,
            pz: 1,
        }
    }

    /// A `px x py` grid (`pz = 1`: 1D and 2D).
    pub fn planar(px: usize, py: usize) -> ProcessGrid {
        ProcessGrid { px, py, pz: 1 }
    }

    /// The grid of `decomposition.procs` (`[px]`, `[px, py]` or `[px, py, pz]`; missing axes 1).
    pub fn from_procs(procs: &[usize]) -> ProcessGrid {
        let at = |k: usize| procs.get(k).copied().unwrap_or(1);
        ProcessGrid {
            px: at(0),
            py: at(1),
            pz: at(2),
        }
    }

    /// `[nz, ny, nx]` of the largest block of `mesh` on this grid (the first part along each
    /// axis is never smaller than the others).
    pub fn largest_block(&self, mesh: &Mesh) -> [usize; 3] {
        [
            split(mesh.nz(), self.pz, 0).1,
            split(mesh.ny(), self.py, 0).1,
            split(mesh.nx(), self.px, 0).1,
        ]
    }

    /// Total number of ranks.
    pub fn size(&self) -> usize {
        self.px * self.py * self.pz
    }

    /// `pxxpy`, or `pxxpyxpz` when `pz > 1` (messages that do not know the dimension).
    pub fn label(&self) -> String {
        self.label_in(if self.pz > 1 { 3 } else { 2 })
    }

    /// `pxxpy` in 1D and 2D, `pxxpyxpz` in 3D: as logged and written to the `process_grid`
    /// attribute of a `dim`-dimensional run.
    pub fn label_in(&self, dim: usize) -> String {
        if dim == 3 {
            format!("{}x{}x{}", self.px, self.py, self.pz)
        } else {
            format!("{}x{}", self.px, self.py)
        }
    }

    /// Checks an explicit grid against the mesh and the number of ranks: no empty axis,
    /// `px * py * pz = nranks`, and no axis with more ranks than cells.
    pub fn check(&self, mesh: &Mesh, nranks: usize) -> Result<(), GridError> {
        if self.px == 0 || self.py == 0 || self.pz == 0 {
            return Err(GridError::EmptyAxis(*self));
        }
        if self.size() != nranks {
            return Err(GridError::WrongSize {
                grid: *self,
                nranks,
            });
        }
        let axes = [
            (self.px, mesh.nx()),
            (self.py, mesh.ny()),
            (self.pz, mesh.nz()),
        ];
        for (axis, (ranks, cells)) in axes.into_iter().enumerate() {
            if ranks > cells {
                return Err(GridError::MoreRanksThanCells {
                    grid: *self,
                    axis,
                    nx: mesh.nx(),
                    ny: mesh.ny(),
                    nz: mesh.nz(),
                });
            }
        }
        Ok(())
    }

    /// The balanced automatic choice: in 1D a line of ranks; in 2D, among the factorisations
    /// `px * py = nranks` that fit the grid, the one with the smallest halo (largest block
    /// perimeter `ceil(n/px) + ceil(n/py)`), ties broken towards `px >= py`; in 3D, among the
    /// factorisations `px * py * pz = nranks` that fit, the one with the smallest block surface
    /// `bx by + by bz + bz bx` (`b = ceil(n/p)` per axis), ties broken towards `px >= py >= pz`.
    pub fn choose(mesh: &Mesh, nranks: usize) -> Result<ProcessGrid, GridError> {
        if nranks == 0 {
            return Err(GridError::NoRanks);
        }
        if mesh.dim == 1 {
            let grid = ProcessGrid::planar(nranks, 1);
            grid.check(mesh, nranks)?;
            return Ok(grid);
        }
        if mesh.dim == 3 {
            return Self::choose_3d(mesh.n, nranks);
        }
        let n = mesh.n;
        let mut best: Option<(usize, ProcessGrid)> = None;
        for py in 1..=nranks {
            if !nranks.is_multiple_of(py) {
                continue;
            }
            let px = nranks / py;
            if px > n || py > n {
                continue;
            }
            let halo = n.div_ceil(px) + n.div_ceil(py);
            let better = match best {
                None => true,
                Some((b, g)) => halo < b || (halo == b && px >= py && g.px < g.py),
            };
            if better {
                best = Some((halo, ProcessGrid::planar(px, py)));
            }
        }
        best.map(|(_, g)| g)
            .ok_or(GridError::NoArrangement { nranks, n })
    }

    /// [`ProcessGrid::choose`] in 3D.
    fn choose_3d(n: usize, nranks: usize) -> Result<ProcessGrid, GridError> {
        let mut best: Option<((usize, usize, usize, usize), ProcessGrid)> = None;
        for pz in (1..=nranks).filter(|p| nranks.is_multiple_of(*p)) {
            for py in (1..=nranks / pz).filter(|p| (nranks / pz).is_multiple_of(*p)) {
                let px = nranks / pz / py;
                if px > n || py > n || pz > n {
                    continue;
                }
                let (bx, by, bz) = (n.div_ceil(px), n.div_ceil(py), n.div_ceil(pz));
                let surface = bx * by + by * bz + bz * bx;
                // Smallest surface, then the most ranks along x, then along y.
                let key = (surface, usize::MAX - px, usize::MAX - py, 0);
                if best.is_none_or(|(b, _)| key < b) {
                    best = Some((key, ProcessGrid { px, py, pz }));
                }
            }
        }
        best.map(|(_, g)| g)
            .ok_or(GridError::NoArrangement { nranks, n })
    }
}

/// Why a process grid does not fit a mesh and a rank count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GridError {
    /// The job has no ranks.
    NoRanks,
    /// An axis of the grid has no ranks.
    EmptyAxis(ProcessGrid),
    /// The grid's size `px * py` is not the job's rank count.
    WrongSize {
        /// The grid.
        grid: ProcessGrid,
        /// Ranks of the job.
        nranks: usize,
    },
    /// More ranks than cells along `axis` (`0` = x, `1` = y, `2` = z): a block would be empty.
    MoreRanksThanCells {
        /// The grid.
        grid: ProcessGrid,
        /// The first axis with too many ranks.
        axis: usize,
        /// Cells along x.
        nx: usize,
        /// Cells along y.
        ny: usize,
        /// Cells along z.
        nz: usize,
    },
    /// No factorisation `px * py (* pz) = nranks` leaves every block of the `n x n` grid a cell.
    NoArrangement {
        /// Ranks of the job.
        nranks: usize,
        /// Cells per axis.
        n: usize,
    },
}

impl std::fmt::Display for GridError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            GridError::NoRanks => write!(f, "no ranks"),
            GridError::EmptyAxis(g) => {
                write!(f, "process grid {} has an empty axis", g.label())
            }
            GridError::WrongSize { grid: g, nranks } => write!(
                f,
                "process grid {} has {} ranks but the job has {nranks}",
                g.label(),
                g.size()
            ),
            GridError::MoreRanksThanCells {
                grid: g,
                nx,
                ny,
                nz,
                ..
            } => {
                let cells = if nz > 1 {
                    format!("{nx}x{ny}x{nz}")
                } else {
                    format!("{nx}x{ny}")
                };
                write!(
                    f,
                    "process grid {} has more ranks than cells along an axis (grid is {cells})",
                    g.label()
                )
            }
            GridError::NoArrangement { nranks, n } => write!(
                f,
                "{nranks} ranks cannot be arranged on a {n}x{n} grid without an empty block \
                 (more ranks than cells along an axis)"
            ),
        }
    }
}

impl std::error::Error for GridError {}

impl From<GridError> for String {
    fn from(e: GridError) -> String {
        e.to_string()
    }
}

/// `(offset, length)` of part `k` when `n` cells are split into `parts` near-equal parts.
pub fn split(n: usize, parts: usize, k: usize) -> (usize, usize) {
    let base = n / parts;
    let rem = n % parts;
    let len = base + usize::from(k < rem);
    let offset = k * base + k.min(rem);
    (offset, len)
}

/// The part (`0..parts`) holding cell `i` when `n` cells are split by [`split`]; its inverse.
pub fn part_of(n: usize, parts: usize, i: usize) -> usize {
    let base = n / parts;
    let rem = n % parts;
    let big = rem * (base + 1);
    if i < big {
        i / (base + 1)
    } else {
        rem + (i - big) / base
    }
}

/// The cells one rank owns, and who owns the cells across each side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// This rank.
    pub rank: usize,
    /// Process coordinates `(cx, cy)` in the plane.
    pub coords: (usize, usize),
    /// Process coordinate along z (0 in 1D and 2D).
    pub cz: usize,
    /// First owned global cell along x.
    pub x0: usize,
    /// Owned cells along x.
    pub nx: usize,
    /// First owned global cell along y (0 in 1D).
    pub y0: usize,
    /// Owned cells along y (1 in 1D).
    pub ny: usize,
    /// First owned global cell along z (0 in 1D and 2D).
    pub z0: usize,
    /// Owned cells along z (1 in 1D and 2D).
    pub nz: usize,
    /// Neighbour rank across each side (indexed by [`Side::index`]); `None` at the physical
    /// boundary. Decided once here, so no kernel ever asks "neighbour or edge".
    pub neighbours: [Option<usize>; 6],
}

impl Block {
    /// The block of `rank` on `grid` over `mesh`.
    pub fn new(mesh: &Mesh, grid: ProcessGrid, rank: usize) -> Block {
        let cx = rank % grid.px;
        let cy = (rank / grid.px) % grid.py;
        let cz = rank / (grid.px * grid.py);
        let (x0, nx) = split(mesh.nx(), grid.px, cx);
        let (y0, ny) = split(mesh.ny(), grid.py, cy);
        let (z0, nz) = split(mesh.nz(), grid.pz, cz);
        let at = |x: usize, y: usize, z: usize| (z * grid.py + y) * grid.px + x;
        let neighbours = [
            (cx > 0).then(|| at(cx - 1, cy, cz)),
            (cx + 1 < grid.px).then(|| at(cx + 1, cy, cz)),
            (cy > 0).then(|| at(cx, cy - 1, cz)),
            (cy + 1 < grid.py).then(|| at(cx, cy + 1, cz)),
            (cz > 0).then(|| at(cx, cy, cz - 1)),
            (cz + 1 < grid.pz).then(|| at(cx, cy, cz + 1)),
        ];
        Block {
            rank,
            coords: (cx, cy),
            cz,
            x0,
            nx,
            y0,
            ny,
            z0,
            nz,
            neighbours,
        }
    }

    /// Owned cells.
    pub fn cells(&self) -> usize {
        self.nx * self.ny * self.nz
    }

    /// Whether global cell `(iy, ix)` is owned by this block.
    pub fn owns(&self, iy: usize, ix: usize) -> bool {
        iy >= self.y0 && iy < self.y0 + self.ny && ix >= self.x0 && ix < self.x0 + self.nx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_without_overlap() {
        for n in 1..40 {
            for parts in 1..=n {
                let mut next = 0;
                for k in 0..parts {
                    let (o, l) = split(n, parts, k);
                    assert_eq!(o, next);
                    assert!(l == n / parts || l == n / parts + 1);
                    next = o + l;
                }
                assert_eq!(next, n);
            }
        }
    }

    #[test]
    fn part_of_inverts_split() {
        for n in 1..40 {
            for parts in 1..=n {
                for k in 0..parts {
                    let (o, l) = split(n, parts, k);
                    for i in o..o + l {
                        assert_eq!(part_of(n, parts, i), k, "n {n} parts {parts} cell {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn blocks_tile_the_grid_and_neighbours_agree() {
        let mesh = Mesh::new(2, 13, 6.0);
        for nranks in 1..=12 {
            let grid = ProcessGrid::choose(&mesh, nranks).unwrap();
            let blocks: Vec<Block> = (0..nranks).map(|r| Block::new(&mesh, grid, r)).collect();
            let mut owners = vec![0usize; mesh.cells()];
            for b in &blocks {
                for iy in b.y0..b.y0 + b.ny {
                    for ix in b.x0..b.x0 + b.nx {
                        owners[iy * mesh.n + ix] += 1;
                    }
                }
                for side in Side::ALL {
                    if let Some(nb) = b.neighbours[side.index()] {
                        assert_eq!(blocks[nb].neighbours[side.opposite().index()], Some(b.rank));
                    }
                }
            }
            assert!(owners.iter().all(|&c| c == 1), "{nranks} ranks");
        }
    }

    #[test]
    fn automatic_grid_is_balanced() {
        let mesh = Mesh::new(2, 101, 6.0);
        assert_eq!(
            ProcessGrid::choose(&mesh, 4).unwrap(),
            ProcessGrid::planar(2, 2)
        );
        assert_eq!(
            ProcessGrid::choose(&mesh, 2).unwrap(),
            ProcessGrid::planar(2, 1)
        );
        assert_eq!(
            ProcessGrid::choose(&mesh, 6).unwrap(),
            ProcessGrid::planar(3, 2)
        );
        let line = Mesh::new(1, 7, 6.0);
        assert_eq!(
            ProcessGrid::choose(&line, 3).unwrap(),
            ProcessGrid::planar(3, 1)
        );
        assert!(ProcessGrid::choose(&line, 8).is_err());
        assert!(ProcessGrid::choose(&Mesh::new(2, 5, 1.0), 7).is_err());
    }
}
