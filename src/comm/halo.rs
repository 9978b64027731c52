//! Ghost-cell exchange between neighbouring blocks.
//!
//! Moves strips by side and width, nothing else: the west/east strips are the first/last owned
//! columns, the south/north strips the first/last owned rows. Receives and sends are posted
//! non-blocking, caller-supplied interior work runs while the messages travel, then the
//! received strips are written into the ghost layer. Sides at the physical boundary are skipped
//! (their faces carry zero flux, so their ghosts are never read).

use mpi::traits::*;

use super::Comm;
use crate::decomp::{Block, Side};
use crate::field::Field;

/// Buffers and neighbour map for one block's halo exchange; allocated once, reused every stage.
pub struct HaloExchange {
    neighbours: [Option<usize>; 4],
    send: [Vec<f64>; 4],
    recv: [Vec<f64>; 4],
}

impl HaloExchange {
    /// Buffers for `block`.
    pub fn new(block: &Block) -> HaloExchange {
        let len = |side: Side| match side {
            Side::West | Side::East => block.ny,
            Side::South | Side::North => block.nx,
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

    /// Fills the ghosts of `field` from the neighbours, running `overlap(&field)` (work that
    /// reads only owned cells) while the messages are in flight. Returns what `overlap` returns.
    pub fn exchange<R>(
        &mut self,
        comm: &Comm,
        field: &mut Field,
        overlap: impl FnOnce(&Field) -> R,
    ) -> R {
        let (ny, nx) = (field.ny() as isize, field.nx() as isize);
        for side in Side::ALL {
            let buf = &mut self.send[side.index()];
            buf.clear();
            if self.neighbours[side.index()].is_none() {
                continue;
            }
            match side {
                Side::West => buf.extend((0..ny).map(|j| field.get(j, 0))),
                Side::East => buf.extend((0..ny).map(|j| field.get(j, nx - 1))),
                Side::South => {
                    let k = field.index(0, 0);
                    buf.extend_from_slice(&field.raw()[k..k + nx as usize]);
                }
                Side::North => {
                    let k = field.index(ny - 1, 0);
                    buf.extend_from_slice(&field.raw()[k..k + nx as usize]);
                }
            }
        }

        let world = comm.world();
        let neighbours = self.neighbours;
        let send = &self.send;
        let recv = &mut self.recv;
        let field_ref: &Field = field;
        let result = mpi::request::scope(|scope| {
            let mut recv_requests = Vec::with_capacity(4);
            for (side, buf) in Side::ALL.iter().zip(recv.iter_mut()) {
                if let Some(nb) = neighbours[side.index()] {
                    // A strip arriving across my `side` travelled towards `side.opposite()`.
                    let tag = side.opposite().index() as i32;
                    recv_requests.push(
                        world
                            .process_at_rank(nb as i32)
                            .immediate_receive_into_with_tag(scope, &mut buf[..], tag),
                    );
                }
            }
            let mut send_requests = Vec::with_capacity(4);
            for side in Side::ALL {
                if let Some(nb) = neighbours[side.index()] {
                    let tag = side.index() as i32;
                    send_requests.push(world.process_at_rank(nb as i32).immediate_send_with_tag(
                        scope,
                        &send[side.index()][..],
                        tag,
                    ));
                }
            }
            let result = overlap(field_ref);
            for r in recv_requests {
                r.wait();
            }
            for r in send_requests {
                r.wait();
            }
            result
        });

        for side in Side::ALL {
            if self.neighbours[side.index()].is_none() {
                continue;
            }
            let buf = &self.recv[side.index()];
            match side {
                Side::West | Side::East => {
                    let i = if side == Side::West { -1 } else { nx };
                    for (j, &v) in buf.iter().enumerate() {
                        let k = field.index(j as isize, i);
                        field.raw_mut()[k] = v;
                    }
                }
                Side::South | Side::North => {
                    let j = if side == Side::South { -1 } else { ny };
                    let k = field.index(j, 0);
                    field.raw_mut()[k..k + nx as usize].copy_from_slice(buf);
                }
            }
        }
        result
    }
}
