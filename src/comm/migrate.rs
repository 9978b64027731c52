//! Moving items (particles) to the rank that owns them, by neighbour exchange only.
//!
//! Items leave along x first, then along y, so an item bound for a diagonal neighbour goes by way
//! of the x-neighbour in the same call. Each stage exchanges variable-size buffers with the two
//! neighbours of the axis (the receiver probes for the size) and repeats while any rank still holds
//! an item whose owner lies further away (an item that jumped over a whole block: one extra
//! round per block crossed, decided by one exact MAX reduction per stage). An axis without
//! neighbours anywhere (one rank across it) costs nothing.
//!
//! Items travel as `u64` words through [`Packable`], so floating-point payloads arrive bit for
//! bit. The order of items on a rank changes; callers must not depend on it.

use mpi::traits::*;

use super::Comm;
use crate::decomp::{Block, Side};

/// An item that travels as a fixed number of `u64` words.
pub trait Packable: Copy {
    /// Words per item.
    const WORDS: usize;
    /// Appends the item's words to `out`.
    fn pack(&self, out: &mut Vec<u64>);
    /// The item from its words (`words.len() == WORDS`).
    fn unpack(words: &[u64]) -> Self;
}

/// Tag base of migration messages (plus the side the buffer travels towards).
const TAG_MIGRATE: i32 = 120;

/// What one migration did on this rank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Items this rank sent away (each hop counted once).
    pub sent: u64,
    /// Items this rank received.
    pub received: u64,
    /// Exchange rounds (over both axes; the same on every rank).
    pub rounds: u32,
}

/// Neighbour map and buffers for migrating items of one block.
pub struct Migrator {
    neighbours: [Option<usize>; 6],
    coords: (usize, usize),
    send: [Vec<u64>; 2],
}

impl Migrator {
    /// Migration for `block`.
    pub fn new(block: &Block) -> Migrator {
        Migrator {
            neighbours: block.neighbours,
            coords: block.coords,
            send: [Vec::new(), Vec::new()],
        }
    }

    /// Moves every item of `items` to the rank at process coordinates `owner(item)` (collective:
    /// every rank calls). Items already home stay where they are (their order may change).
    ///
    /// Panics if an item is bound past the physical boundary (an owner outside the process grid),
    /// which would be a bug in the caller's ownership map.
    pub fn migrate<T: Packable>(
        &mut self,
        comm: &Comm,
        items: &mut Vec<T>,
        owner: impl Fn(&T) -> (usize, usize),
    ) -> MigrationReport {
        let mut report = MigrationReport::default();
        for axis in [Axis::X, Axis::Y] {
            let (lo, hi) = axis.sides();
            // With two or more ranks along the axis every rank has a neighbour across it, with one
            // none has: every rank takes the same branch without asking the others.
            if self.neighbours[lo.index()].is_none() && self.neighbours[hi.index()].is_none() {
                continue;
            }
            let mine = axis.pick(self.coords);
            let mut scan_from = 0usize;
            loop {
                self.send[0].clear();
                self.send[1].clear();
                let mut i = scan_from;
                while i < items.len() {
                    let target = axis.pick(owner(&items[i]));
                    if target == mine {
                        i += 1;
                        continue;
                    }
                    let k = usize::from(target > mine);
                    items[i].pack(&mut self.send[k]);
                    items.swap_remove(i);
                }
                for (k, side) in [lo, hi].into_iter().enumerate() {
                    assert!(
                        self.send[k].is_empty() || self.neighbours[side.index()].is_some(),
                        "an item is bound across the physical boundary ({side:?} of rank {})",
                        comm.rank()
                    );
                }
                let sent = ((self.send[0].len() + self.send[1].len()) / T::WORDS) as u64;
                let received = self.exchange(comm, [lo, hi]);
                report.sent += sent;
                report.rounds += 1;
                scan_from = items.len();
                let mut further = false;
                for words in received.iter() {
                    for chunk in words.chunks_exact(T::WORDS) {
                        let item = T::unpack(chunk);
                        further |= axis.pick(owner(&item)) != mine;
                        items.push(item);
                    }
                    report.received += (words.len() / T::WORDS) as u64;
                }
                // Exact reduction: every rank takes the same decision.
                if !comm.any(further) {
                    break;
                }
            }
        }
        report
    }

    /// Sends `self.send[k]` across `sides[k]` and returns what arrived across each side.
    fn exchange(&self, comm: &Comm, sides: [Side; 2]) -> Vec<Vec<u64>> {
        let world = comm.world();
        let neighbours = self.neighbours;
        let send = &self.send;
        mpi::request::scope(|scope| {
            let mut requests = Vec::with_capacity(2);
            for (k, side) in sides.iter().enumerate() {
                if let Some(nb) = neighbours[side.index()] {
                    requests.push(world.process_at_rank(nb as i32).immediate_send_with_tag(
                        scope,
                        &send[k][..],
                        TAG_MIGRATE + side.index() as i32,
                    ));
                }
            }
            let mut received = Vec::with_capacity(2);
            for side in sides {
                if let Some(nb) = neighbours[side.index()] {
                    // The buffer arriving across my `side` travelled towards `side.opposite()`;
                    // its size is learnt by probing.
                    let (words, _status) = world
                        .process_at_rank(nb as i32)
                        .receive_vec_with_tag::<u64>(TAG_MIGRATE + side.opposite().index() as i32);
                    received.push(words);
                }
            }
            for r in requests {
                r.wait();
            }
            received
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axis {
    X,
    Y,
}

impl Axis {
    fn sides(self) -> (Side, Side) {
        match self {
            Axis::X => (Side::West, Side::East),
            Axis::Y => (Side::South, Side::North),
        }
    }

    fn pick(self, coords: (usize, usize)) -> usize {
        match self {
            Axis::X => coords.0,
            Axis::Y => coords.1,
        }
    }
}
