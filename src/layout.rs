//! The run's geometry as one value: the global [`Mesh`], the [`ProcessGrid`] that splits it
//! and the [`Block`] this rank owns. Built once per run (from the config by the commands, or by
//! hand in tests) and passed by reference wherever the three travel together; functions that
//! also talk to other ranks take a [`crate::comm::Comm`] beside it. Pure data, no MPI.
//!
//! The spatial dimension lives in the mesh (`mesh.dim`), so a function that takes a layout
//! learns the dimension, the process grid and its block from one argument.

use crate::decomp::{Block, GridError, ProcessGrid};
use crate::mesh::Mesh;

/// Mesh, process grid and this rank's block.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Global grid.
    pub mesh: Mesh,
    /// Process grid.
    pub grid: ProcessGrid,
    /// This rank's block.
    pub block: Block,
}

impl Layout {
    /// The layout of `rank` on `grid` over `mesh` (the grid is assumed checked against the
    /// mesh, [`ProcessGrid::check`]).
    pub fn new(mesh: Mesh, grid: ProcessGrid, rank: usize) -> Layout {
        let block = Block::new(&mesh, grid, rank);
        Layout { mesh, grid, block }
    }

    /// The layout of `rank` among `nranks` with the balanced automatic process grid
    /// ([`ProcessGrid::choose`]).
    pub fn choose(mesh: Mesh, nranks: usize, rank: usize) -> Result<Layout, GridError> {
        let grid = ProcessGrid::choose(&mesh, nranks)?;
        Ok(Layout::new(mesh, grid, rank))
    }

    /// The whole mesh on one rank (serial references, tests).
    pub fn whole(mesh: Mesh) -> Layout {
        Layout::new(mesh, ProcessGrid::single(), 0)
    }

    /// Spatial dimension.
    pub fn dim(&self) -> usize {
        self.mesh.dim
    }

    /// The block of any rank `r` of the same process grid.
    pub fn block_of(&self, r: usize) -> Block {
        Block::new(&self.mesh, self.grid, r)
    }

    /// Every rank's block, in rank order.
    pub fn blocks(&self) -> impl Iterator<Item = Block> + '_ {
        (0..self.grid.size()).map(|r| self.block_of(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_blocks_tile_the_mesh() {
        let mesh = Mesh::new(2, 13, 6.0);
        let l = Layout::choose(mesh, 6, 4).unwrap();
        assert_eq!(l.block, l.block_of(4));
        assert_eq!(l.blocks().map(|b| b.cells()).sum::<usize>(), mesh.cells());
        let w = Layout::whole(mesh);
        assert_eq!(w.block.cells(), mesh.cells());
        assert_eq!(w.dim(), 2);
    }
}
