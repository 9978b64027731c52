//! Ghost strips of any width for [`Padded`] arrays: the forward halo (*fill*: owned edge strips
//! copied into the neighbours' ghosts) and the reverse halo (*sum*: ghost contributions added to
//! the cells' owners), for `f64`, `i64` and `u64` cells.
//!
//! Both go axis by axis, so diagonal neighbours are served without corner messages:
//!
//! * fill: x first (owned rows only), then y with full padded rows (x ghosts included), so
//!   corner ghosts receive the diagonal neighbour's cells by way of the y-neighbour;
//! * sum: y first with full padded rows (x ghosts included: a corner contribution is handed to
//!   the y-neighbour's x ghost), then x on owned rows, which carries it on to the diagonal
//!   owner.
//!
//! A strip of width `w` is read from (fill) or added into (sum) the `w` edge cells of the
//! neighbour's block, so every block must be at least `w` cells wide along an axis that has
//! neighbours (the caller checks this when it builds the run). Sides at the physical boundary
//! are skipped: there is nothing across them. With integer cells a sum is exact, so a deposit
//! summed this way is independent of the rank count bit for bit.

use std::ops::{AddAssign, Range};

use mpi::datatype::Equivalence;
use mpi::traits::*;

use super::Comm;
use crate::decomp::{Block, Side};
use crate::padded::Padded;

/// A cell type that can travel in a ghost strip.
pub trait StripCell: Equivalence + Copy + Default + AddAssign {}
impl StripCell for f64 {}
impl StripCell for i64 {}
impl StripCell for u64 {}

/// Tag base of fill messages (plus the side the strip travels towards).
const TAG_FILL: i32 = 100;
/// Tag base of sum messages.
const TAG_SUM: i32 = 110;

/// Neighbour map of one block for strip exchanges (decided once, when the block is built).
#[derive(Clone, Debug)]
pub struct GhostStrips {
    neighbours: [Option<usize>; 4],
}

/// What travels across one side.
struct Transfer<T> {
    side: Side,
    send: Vec<T>,
    recv: Vec<T>,
}

impl GhostStrips {
    /// Strips for `block`.
    pub fn new(block: &Block) -> GhostStrips {
        GhostStrips {
            neighbours: block.neighbours,
        }
    }

    /// Whether this block has any neighbour.
    pub fn has_neighbours(&self) -> bool {
        self.neighbours.iter().any(Option::is_some)
    }

    /// The neighbour across `side`, if any.
    pub fn neighbour(&self, side: Side) -> Option<usize> {
        self.neighbours[side.index()]
    }

    /// Fills ghosts of width `w` (`w <= gx`, `w <= gy` where used) from the neighbours,
    /// corners included: x, then y.
    pub fn fill<T: StripCell>(&self, comm: &Comm, a: &mut Padded<T>, w: usize) {
        self.fill_x(comm, a, w);
        self.fill_y(comm, a, w);
    }

    /// Adds the ghost contributions of width `w` to their owners, corners included: y, then x.
    /// The ghosts keep their values (callers clear them before the next deposit).
    pub fn sum<T: StripCell>(&self, comm: &Comm, a: &mut Padded<T>, w: usize) {
        self.sum_y(comm, a, w);
        self.sum_x(comm, a, w);
    }

    /// Fills the `w` ghost columns on each side of the owned rows.
    pub fn fill_x<T: StripCell>(&self, comm: &Comm, a: &mut Padded<T>, w: usize) {
        let (nx, ny, wi) = (a.nx() as isize, a.ny() as isize, w as isize);
        self.run(
            comm,
            a,
            [Side::West, Side::East],
            TAG_FILL,
            |a, side, dir| {
                // dir = Out: owned edge columns to send; In: ghost columns to receive into.
                let cols = match (side, dir) {
                    (Side::West, Dir::Out) => 0..wi,
                    (Side::West, Dir::In) => -wi..0,
                    (_, Dir::Out) => nx - wi..nx,
                    (_, Dir::In) => nx..nx + wi,
                };
                (0..ny, cols, a.gx() >= w)
            },
        );
    }

    /// Fills the `w` ghost rows on each side, across the full padded width.
    pub fn fill_y<T: StripCell>(&self, comm: &Comm, a: &mut Padded<T>, w: usize) {
        let (ny, wi, gx) = (a.ny() as isize, w as isize, a.gx() as isize);
        let nx = a.nx() as isize;
        self.run(
            comm,
            a,
            [Side::South, Side::North],
            TAG_FILL,
            |a, side, dir| {
                let rows = match (side, dir) {
                    (Side::South, Dir::Out) => 0..wi,
                    (Side::South, Dir::In) => -wi..0,
                    (_, Dir::Out) => ny - wi..ny,
                    (_, Dir::In) => ny..ny + wi,
                };
                (rows, -gx..nx + gx, a.gy() >= w)
            },
        );
    }

    /// Adds the `w` ghost rows on each side (full padded width) into the y-neighbours' edge rows.
    pub fn sum_y<T: StripCell>(&self, comm: &Comm, a: &mut Padded<T>, w: usize) {
        let (ny, wi, gx) = (a.ny() as isize, w as isize, a.gx() as isize);
        let nx = a.nx() as isize;
        self.run(
            comm,
            a,
            [Side::South, Side::North],
            TAG_SUM,
            |a, side, dir| {
                // dir = Out: my ghost rows go out; In: the neighbour's ghosts land on my edge rows.
                let rows = match (side, dir) {
                    (Side::South, Dir::Out) => -wi..0,
                    (Side::South, Dir::In) => 0..wi,
                    (_, Dir::Out) => ny..ny + wi,
                    (_, Dir::In) => ny - wi..ny,
                };
                (rows, -gx..nx + gx, a.gy() >= w)
            },
        );
    }

    /// Adds the `w` ghost columns on each side (owned rows) into the x-neighbours' edge columns.
    pub fn sum_x<T: StripCell>(&self, comm: &Comm, a: &mut Padded<T>, w: usize) {
        let (nx, ny, wi) = (a.nx() as isize, a.ny() as isize, w as isize);
        self.run(
            comm,
            a,
            [Side::West, Side::East],
            TAG_SUM,
            |a, side, dir| {
                let cols = match (side, dir) {
                    (Side::West, Dir::Out) => -wi..0,
                    (Side::West, Dir::In) => 0..wi,
                    (_, Dir::Out) => nx..nx + wi,
                    (_, Dir::In) => nx - wi..nx,
                };
                (0..ny, cols, a.gx() >= w)
            },
        );
    }

    /// One exchange across the two `sides` of an axis: pack the `Out` rectangles, post the
    /// messages, then apply the received strips to the `In` rectangles (copy for fills, add
    /// for sums, chosen by the tag base).
    fn run<T: StripCell>(
        &self,
        comm: &Comm,
        a: &mut Padded<T>,
        sides: [Side; 2],
        tag_base: i32,
        rect: impl Fn(&Padded<T>, Side, Dir) -> (Range<isize>, Range<isize>, bool),
    ) {
        let mut transfers: Vec<Transfer<T>> = Vec::with_capacity(2);
        for side in sides {
            if self.neighbours[side.index()].is_none() {
                continue;
            }
            let (rows, cols, fits) = rect(a, side, Dir::Out);
            assert!(fits, "ghost strip wider than the ghost layer");
            let len = rows.len() * cols.len();
            let mut send = Vec::with_capacity(len);
            a.copy_rect_into(rows, cols, &mut send);
            transfers.push(Transfer {
                side,
                send,
                recv: vec![T::default(); len],
            });
        }
        if transfers.is_empty() {
            return;
        }
        let world = comm.world();
        let neighbours = self.neighbours;
        mpi::request::scope(|scope| {
            let mut requests = Vec::with_capacity(4);
            for t in transfers.iter_mut() {
                let nb = neighbours[t.side.index()].expect("checked above") as i32;
                // A strip arriving across my `side` travelled towards `side.opposite()`.
                let recv_tag = tag_base + t.side.opposite().index() as i32;
                let send_tag = tag_base + t.side.index() as i32;
                let process = world.process_at_rank(nb);
                requests.push(process.immediate_receive_into_with_tag(
                    scope,
                    &mut t.recv[..],
                    recv_tag,
                ));
                requests.push(process.immediate_send_with_tag(scope, &t.send[..], send_tag));
            }
            for r in requests {
                r.wait();
            }
        });
        for t in &transfers {
            let (rows, cols, _) = rect(a, t.side, Dir::In);
            if tag_base == TAG_SUM {
                a.apply_rect(rows, cols, &t.recv, |c, v| *c += v);
            } else {
                a.apply_rect(rows, cols, &t.recv, |c, v| *c = v);
            }
        }
    }
}

/// Which rectangle of a side: the one whose values go out, or the one that takes the values in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Out,
    In,
}
