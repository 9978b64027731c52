//! Ghost-cell exchange between neighbouring blocks: one engine for every [`Field`] of any ghost
//! width and cell type.
//!
//! Three operations, all moving rectangular strips by side and width:
//!
//! * [`HaloExchange::exchange`]: the PDE halo. Width-1 strips of `f64` across all sides at
//!   once (the west/east strips are the first/last owned columns, the south/north strips the
//!   first/last owned rows, in 3D the down/up strips the first/last owned planes; edge and
//!   corner ghosts are not filled, the flux kernels never read them).
//!   Receives and sends are posted non-blocking, caller-supplied interior work runs while the
//!   messages travel, then the received strips are written into the ghost layer. Buffers are
//!   allocated once and reused every stage.
//! * [`HaloExchange::fill`]: ghosts of width `w`, corners included, by going axis by axis: x
//!   first (owned rows only), then y with full padded rows (x ghosts included), so corner ghosts
//!   receive the diagonal neighbour's cells by way of the y-neighbour. (2D arrays: the particle
//!   grids and the smoother.)
//! * [`HaloExchange::sum`] (the reverse halo): ghost contributions of width `w` added to the
//!   cells' owners, y first with full padded rows (a corner contribution is handed to the
//!   y-neighbour's x ghost), then x on owned rows, which carries it on to the diagonal owner.
//!   With integer cells a sum is exact, so a deposit summed this way is independent of the rank
//!   count bit for bit.
//!
//! A strip of width `w` is read from (fill) or added into (sum) the `w` edge cells of the
//! neighbour's block, so every block must be at least `w` cells wide along an axis that has
//! neighbours (the caller checks this when it builds the run). Sides at the physical boundary are
//! skipped: there is nothing across them (their faces carry zero flux).

use std::ops::{AddAssign, Range};

use mpi::datatype::Equivalence;
use mpi::traits::*;

use super::Comm;
use crate::decomp::{Block, Side};
use crate::field::Field;

/// A cell type that can travel in a ghost strip.
pub trait HaloCell: Equivalence + Copy + Default + AddAssign {}
impl HaloCell for f64 {}
impl HaloCell for i64 {}
impl HaloCell for u64 {}

/// Tag base of the PDE exchange (plus the side the strip travels towards).
const TAG_EXCHANGE: i32 = 0;
/// Tag base of fill messages.
const TAG_FILL: i32 = 100;
/// Tag base of sum messages.
const TAG_SUM: i32 = 110;

/// What one pass does with a received strip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// Owned edge cells go out, the received values overwrite ghosts.
    Fill,
    /// Ghost cells go out, the received values are added to owned edge cells.
    Sum,
}

/// Which rectangle of a side: the one whose values go out, or the one that takes values in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Out,
    In,
}

/// The geometry of one pass: strip width, and whether y strips carry the x ghosts (the
/// axis-by-axis passes that serve corners) or only owned columns (the PDE exchange). x and y
/// strips span the owned planes; z strips (3D) the owned rows and columns.
#[derive(Clone, Copy, Debug)]
struct Pass {
    op: Op,
    width: usize,
    y_strips_with_x_ghosts: bool,
    tag_base: i32,
}

impl Pass {
    /// The planes, rows and columns of `side`'s box for direction `dir` in `a`.
    fn rect<T: HaloCell>(&self, a: &Field<T>, side: Side, dir: Dir) -> Box3 {
        let (nx, ny, w) = (a.nx() as isize, a.ny() as isize, self.width as isize);
        let nz = a.nz() as isize;
        // A fill sends owned edge cells and receives into ghosts; a sum does the opposite.
        let owned = (dir == Dir::Out) == (self.op == Op::Fill);
        let across = |n: isize, low: bool| match (low, owned) {
            (true, true) => 0..w,
            (true, false) => -w..0,
            (false, true) => n - w..n,
            (false, false) => n..n + w,
        };
        match side {
            Side::West | Side::East => (0..nz, 0..ny, across(nx, side == Side::West)),
            Side::South | Side::North => {
                let g = if self.y_strips_with_x_ghosts {
                    a.gx() as isize
                } else {
                    0
                };
                (0..nz, across(ny, side == Side::South), -g..nx + g)
            }
            Side::Down | Side::Up => {
                // Corner passes: z strips carry the x and y ghosts too (filled before).
                let (gy, gx) = if self.y_strips_with_x_ghosts {
                    (a.gy() as isize, a.gx() as isize)
                } else {
                    (0, 0)
                };
                (across(nz, side == Side::Down), -gy..ny + gy, -gx..nx + gx)
            }
        }
    }

    /// Whether the ghost layer of `a` is wide enough for this pass across `side`.
    fn fits<T: HaloCell>(&self, a: &Field<T>, side: Side) -> bool {
        match side {
            Side::West | Side::East => a.gx() >= self.width,
            Side::South | Side::North => a.gy() >= self.width,
            Side::Down | Side::Up => a.gz() >= self.width,
        }
    }
}

/// Planes, rows and columns of a box of cells (local indices).
type Box3 = (Range<isize>, Range<isize>, Range<isize>);

/// Per-side buffers.
type SideBuffers<T> = [Vec<T>; 6];

/// Neighbour map and PDE buffers of one block; allocated once, reused every stage.
pub struct HaloExchange {
    neighbours: [Option<usize>; 6],
    send: SideBuffers<f64>,
    recv: SideBuffers<f64>,
}

impl HaloExchange {
    /// The exchange for `block`.
    pub fn new(block: &Block) -> HaloExchange {
        let len = |side: Side| match side {
            Side::West | Side::East => block.nz * block.ny,
            Side::South | Side::North => block.nz * block.nx,
            Side::Down | Side::Up => block.ny * block.nx,
        };
        HaloExchange {
            neighbours: block.neighbours,
            send: Side::ALL.map(|s| Vec::with_capacity(len(s))),
            recv: Side::ALL.map(|s| vec![0.0; len(s)]),
        }
    }

    /// Whether this block has any neighbour (a single rank never communicates).
    pub fn has_neighbours(&self) -> bool {
        self.neighbours.iter().any(Option::is_some)
    }

    /// The neighbour across `side`, if any.
    pub fn neighbour(&self, side: Side) -> Option<usize> {
        self.neighbours[side.index()]
    }

    /// Fills the width-1 face ghosts (not edges or corners) of `field` from the neighbours
    /// (four sides in 2D, six in 3D), running
    /// `overlap(&field)` (work that reads only owned cells) while the messages are in flight.
    /// Returns what `overlap` returns.
    pub fn exchange<R>(
        &mut self,
        comm: &Comm,
        field: &mut Field,
        overlap: impl FnOnce(&Field) -> R,
    ) -> R {
        let pass = Pass {
            op: Op::Fill,
            width: 1,
            y_strips_with_x_ghosts: false,
            tag_base: TAG_EXCHANGE,
        };
        run(
            comm,
            self.neighbours,
            field,
            &Side::ALL,
            pass,
            (&mut self.send, &mut self.recv),
            overlap,
        )
    }

    /// Fills ghosts of width `w` (`w <= gx`, `w <= gy`, in 3D `w <= gz`, where used) from the
    /// neighbours, edges and corners included: x, then y, then (3D) z with full padded planes.
    pub fn fill<T: HaloCell>(&self, comm: &Comm, a: &mut Field<T>, w: usize) {
        self.fill_x(comm, a, w);
        self.fill_y(comm, a, w);
        self.fill_z(comm, a, w);
    }

    /// Fills the `w` ghost planes on each side (3D), across the full padded rows and columns;
    /// nothing in 1D and 2D (no z neighbours).
    pub fn fill_z<T: HaloCell>(&self, comm: &Comm, a: &mut Field<T>, w: usize) {
        self.axis_pass(comm, a, [Side::Down, Side::Up], Op::Fill, w);
    }

    /// Adds the ghost contributions of width `w` to their owners, corners included: y, then x.
    /// The ghosts keep their values (callers clear them before the next deposit).
    pub fn sum<T: HaloCell>(&self, comm: &Comm, a: &mut Field<T>, w: usize) {
        self.sum_y(comm, a, w);
        self.sum_x(comm, a, w);
    }

    /// Fills the `w` ghost columns on each side of the owned rows.
    pub fn fill_x<T: HaloCell>(&self, comm: &Comm, a: &mut Field<T>, w: usize) {
        self.axis_pass(comm, a, [Side::West, Side::East], Op::Fill, w);
    }

    /// Fills the `w` ghost rows on each side, across the full padded width.
    pub fn fill_y<T: HaloCell>(&self, comm: &Comm, a: &mut Field<T>, w: usize) {
        self.axis_pass(comm, a, [Side::South, Side::North], Op::Fill, w);
    }

    /// Adds the `w` ghost rows on each side (full padded width) into the y-neighbours' edge rows.
    pub fn sum_y<T: HaloCell>(&self, comm: &Comm, a: &mut Field<T>, w: usize) {
        self.axis_pass(comm, a, [Side::South, Side::North], Op::Sum, w);
    }

    /// Adds the `w` ghost columns on each side (owned rows) into the x-neighbours' edge columns.
    pub fn sum_x<T: HaloCell>(&self, comm: &Comm, a: &mut Field<T>, w: usize) {
        self.axis_pass(comm, a, [Side::West, Side::East], Op::Sum, w);
    }

    /// One pass across the two `sides` of an axis, with buffers made for it.
    fn axis_pass<T: HaloCell>(
        &self,
        comm: &Comm,
        a: &mut Field<T>,
        sides: [Side; 2],
        op: Op,
        w: usize,
    ) {
        let pass = Pass {
            op,
            width: w,
            y_strips_with_x_ghosts: true,
            tag_base: if op == Op::Fill { TAG_FILL } else { TAG_SUM },
        };
        let mut send: SideBuffers<T> = Default::default();
        let mut recv: SideBuffers<T> = Default::default();
        run(
            comm,
            self.neighbours,
            a,
            &sides,
            pass,
            (&mut send, &mut recv),
            |_| (),
        );
    }
}

/// The engine: pack the `Out` rectangles of `sides` that have a neighbour, post the messages,
/// run `overlap` while they travel, then apply the received strips to the `In` rectangles
/// (overwrite for fills, add for sums).
fn run<T: HaloCell, R>(
    comm: &Comm,
    neighbours: [Option<usize>; 6],
    a: &mut Field<T>,
    sides: &[Side],
    pass: Pass,
    (send, recv): (&mut SideBuffers<T>, &mut SideBuffers<T>),
    overlap: impl FnOnce(&Field<T>) -> R,
) -> R {
    let active: Vec<Side> = sides
        .iter()
        .copied()
        .filter(|s| neighbours[s.index()].is_some())
        .collect();
    for &side in &active {
        assert!(pass.fits(a, side), "ghost strip wider than the ghost layer");
        let (planes, rows, cols) = pass.rect(a, side, Dir::Out);
        let len = planes.len() * rows.len() * cols.len();
        let buf = &mut send[side.index()];
        buf.clear();
        a.copy_box_into(planes, rows, cols, buf);
        recv[side.index()].resize(len, T::default());
    }
    if active.is_empty() {
        return overlap(a);
    }
    let world = comm.world();
    let field_ref: &Field<T> = a;
    let send: &SideBuffers<T> = send;
    let result = mpi::request::scope(|scope| {
        let mut requests = Vec::with_capacity(2 * active.len());
        for (side, buf) in Side::ALL.iter().zip(recv.iter_mut()) {
            if let (true, Some(nb)) = (active.contains(side), neighbours[side.index()]) {
                // A strip arriving across my `side` travelled towards `side.opposite()`.
                let tag = pass.tag_base + side.opposite().index() as i32;
                requests.push(
                    world
                        .process_at_rank(nb as i32)
                        .immediate_receive_into_with_tag(scope, &mut buf[..], tag),
                );
            }
        }
        for &side in &active {
            let nb = neighbours[side.index()].expect("active sides have neighbours") as i32;
            let tag = pass.tag_base + side.index() as i32;
            requests.push(world.process_at_rank(nb).immediate_send_with_tag(
                scope,
                &send[side.index()][..],
                tag,
            ));
        }
        let result = overlap(field_ref);
        for r in requests {
            r.wait();
        }
        result
    });
    for &side in &active {
        let (planes, rows, cols) = pass.rect(a, side, Dir::In);
        let values = &recv[side.index()];
        match pass.op {
            Op::Fill => a.apply_box(planes, rows, cols, values, |c, v| *c = v),
            Op::Sum => a.apply_box(planes, rows, cols, values, |c, v| *c += v),
        }
    }
    result
}
