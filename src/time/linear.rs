//! The linear solve of the implicit stepper and of the exact implicit reverse (1D, 2D and 3D):
//! BiCGStab
//! ([`super::krylov`]) with the preconditioner chosen by `time.preconditioner`, geometric
//! multigrid ([`super::multigrid`], default: iteration counts nearly independent of the grid,
//! results bit-identical on any rank count) or block-Jacobi ILU(0) (depends on the blocks).

use super::krylov::{bicgstab, BlockIlu0, KrylovControl, KrylovStats, Stencil};
use super::multigrid::Multigrid;
use super::PreconditionerKind;
use crate::comm::{Comm, HaloExchange};
use crate::decomp::Block;
use crate::mesh::Mesh;

/// A preconditioned Krylov solver for one block's 5-point (3D: 7-point) systems.
pub struct LinearSolver {
    kind: PreconditionerKind,
    mesh: Mesh,
    block: Block,
    /// Built on the first multigrid solve (collective).
    mg: Option<Multigrid>,
}

impl LinearSolver {
    /// A solver for `block` of `mesh`.
    pub fn new(kind: PreconditionerKind, mesh: &Mesh, block: &Block) -> LinearSolver {
        LinearSolver {
            kind,
            mesh: *mesh,
            block: block.clone(),
            mg: None,
        }
    }

    /// Solves `a x = b` from the initial guess in `x` (`a` is `J`, or `J^T` if `transposed`,
    /// with `J` of the face form of [`super::multigrid::coarse`]). Collective; every rank gets
    /// the same verdict.
    // A Krylov solve: operator, transpose flag, right side, solution and control are distinct
    // inputs beside the communicator and its halo (no layout among them).
    #[allow(clippy::too_many_arguments)]
    pub fn solve(
        &mut self,
        comm: &Comm,
        halo: &mut HaloExchange,
        a: &Stencil,
        transposed: bool,
        b: &[f64],
        x: &mut [f64],
        control: KrylovControl,
    ) -> Result<KrylovStats, String> {
        match self.kind {
            PreconditionerKind::Ilu => {
                let ilu = BlockIlu0::new(a);
                if comm.any(ilu.is_err()) {
                    return Err(ilu
                        .err()
                        .unwrap_or_else(|| "ILU(0) failed on another rank".into()));
                }
                let mut ilu = ilu?;
                bicgstab(comm, a, halo, &mut ilu, b, x, control)
            }
            PreconditionerKind::Mg => {
                let mg = self
                    .mg
                    .get_or_insert_with(|| Multigrid::new(comm, &self.mesh, &self.block));
                mg.setup(comm, a, transposed)?;
                bicgstab(comm, a, halo, mg, b, x, control)
            }
        }
    }
}
