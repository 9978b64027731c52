//! A field between its distributed and its global form: the global row-major array gathered
//! on rank 0 ([`global_on_root`]) and a block cut out of a global array ([`block_of_global`]).
//! For small grids only (pictures, the filter's measures): rank 0 holds the whole grid.

use super::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::layout::Layout;
use crate::mesh::Mesh;

/// The global row-major array (`ny x nx`, row = y; in 3D `nz x ny x nx`) of the field whose
/// blocks `f` the ranks of `layout`'s process grid hold, on rank 0 (`None` elsewhere).
/// Collective.
pub fn global_on_root(comm: &Comm, layout: &Layout, f: &Field) -> Option<Vec<f64>> {
    let mesh = &layout.mesh;
    let local: Vec<f64> = f.interior3().iter().copied().collect();
    let parts = comm.gather_to_root(&local);
    if !comm.is_root() {
        return None;
    }
    let mut global = vec![0.0; mesh.cells()];
    for (rank, part) in parts.iter().enumerate() {
        let b = layout.block_of(rank);
        for k in 0..b.nz {
            for j in 0..b.ny {
                let row = ((b.z0 + k) * mesh.ny() + b.y0 + j) * mesh.nx() + b.x0;
                let from = (k * b.ny + j) * b.nx;
                global[row..row + b.nx].copy_from_slice(&part[from..from + b.nx]);
            }
        }
    }
    Some(global)
}

/// The part of `block` of a global row-major array, as a field (ghosts zero).
pub fn block_of_global(mesh: &Mesh, block: &Block, global: &[f64]) -> Field {
    let mut f = Field::zeros(block.ny, block.nx);
    for j in 0..block.ny {
        for i in 0..block.nx {
            let k = f.index(j as isize, i as isize);
            f.raw_mut()[k] = global[(block.y0 + j) * mesh.nx() + block.x0 + i];
        }
    }
    f
}

impl Comm {
    /// Every rank's variable-length block of `f64`, on every rank, in rank order (collective):
    /// the counts first, then one variable-count all-gather. `local` must not be empty
    /// (OpenMPI rejects the dangling pointer of an empty send buffer): frame it if it can be.
    pub fn all_gather_f64(&self, local: &[f64]) -> Vec<Vec<f64>> {
        use mpi::traits::*;
        let n = local.len() as u64;
        let mut counts = vec![0u64; self.size()];
        self.world().all_gather_into(&n, &mut counts[..]);
        let (counts_i, displs) = super::counts_and_displacements(&counts);
        let total = counts.iter().sum::<u64>() as usize;
        let mut all = vec![0.0f64; total];
        {
            let mut partition =
                mpi::datatype::PartitionMut::new(&mut all[..], &counts_i[..], &displs[..]);
            self.world().all_gather_varcount_into(local, &mut partition);
        }
        super::split_by_counts(&all, &counts)
    }
}
