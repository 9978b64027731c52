//! The interacting particle system whose mean-field limit is the forward PDE (MODEL.md section 2),
//! distributed over the ranks of the PDE's domain decomposition.
//!
//! `N_p` particles of mass `m / N_p` move by
//!
//! ```text
//! X <- X / (1 + dt (1 + kappa rho(X)^gamma)) + sqrt(2 D dt) xi        (reflected at the walls)
//! ```
//!
//! with `rho` the cloud-in-cell deposit of all particles on the solver's grid, summed across rank
//! boundaries, smoothed by a tent of a few cells and interpolated back to the particles.
//!
//! # Pieces, and who reuses them
//!
//! * [`rng`]: Philox4x32-10 keyed by `(seed, id, step, stream)`; normals by Box–Muller.
//! * [`sample`]: particle `id`'s initial position, by inverse CDF over the global cell masses.
//! * [`cic`]: exact integer deposit and `f64` interpolation (pure kernels).
//! * [`smooth`]: the separable tent smoothing (pure passes).
//! * [`push`]: the semi-implicit drift step and the wall reflection (pure kernels).
//! * [`grid`]: [`grid::ParticleGrid`], the per-rank pipeline deposit → reverse halo sum →
//!   density → smoothing (with ghost fills) that any particle method on this grid uses.
//! * [`forward`]: the forward step, the push loop over a rank's particles.
//! * [`Ownership`] + [`crate::comm::Migrator`]: particles live on the rank owning the cell that
//!   contains them and move there after every push.
//! * [`march`]: the particle time loop of `nlfp particles` (smooth, push, migrate, deposit),
//!   its stage timers, the exact invariant checks and the outputs.
//! * The reverse-time SDE sampler of `nlfp generate` ([`crate::samplers::sde`]) reuses the
//!   pieces above: its own [`rng::Stream`]s (`Reverse`, `ReverseInitial`) so its noise is
//!   independent of the forward run's, the CIC geometry, [`push::reflect`], [`sample`] to draw
//!   from the start state, and the migration.
//!
//! # Bit-identical results on any rank count
//!
//! A particle's update reads only its id, its position, the step number and the smoothed field
//! at its position; the field is bit-identical for every rank count because
//!
//! 1. the deposit is integer (every particle deposits exactly `2^32` units, [`cic`]), so the sum
//!    over particles and over ranks' ghost contributions is exact and order-free, and the total
//!    mass is exactly `N_p 2^32` units at every step;
//! 2. units become densities cell by cell, and the smoothing sums a fixed stencil in a fixed
//!    order of values that are exact copies across ranks ([`smooth`]);
//! 3. random numbers are a pure function of `(seed, id, step, stream)` ([`rng`]);
//! 4. the initial draw uses the same global CDF on every rank ([`sample`]).
//!
//! The order of particles within a rank changes with migration and is never used.

pub mod cic;
pub mod forward;
pub mod grid;
pub mod march;
pub mod push;
pub mod rng;
pub mod sample;
pub mod smooth;

/// The config reader's path to the SDE sampler's default (the sampler moved to
/// `crate::samplers::sde`; this goes when the config is split by section).
pub mod reverse {
    /// Default sub-step safety `c` (`reverse.sde_safety`) of the reverse SDE sampler.
    pub const DEFAULT_SAFETY: f64 = 0.25;
}

use crate::comm::Packable;
use crate::decomp::{part_of, ProcessGrid};
use crate::io::particles::Positioned;
use crate::mesh::Mesh;

/// One particle: its global id (`0..N_p`) and position (`pos[1] = 0` in 1D).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Particle {
    /// Global id: the key of its random numbers and its row in the positions file.
    pub id: u64,
    /// Position `[x, y]`.
    pub pos: [f64; 2],
}

impl Packable for Particle {
    const WORDS: usize = 3;

    #[inline]
    fn pack(&self, out: &mut Vec<u64>) {
        out.extend_from_slice(&[self.id, self.pos[0].to_bits(), self.pos[1].to_bits()]);
    }

    #[inline]
    fn unpack(words: &[u64]) -> Particle {
        Particle {
            id: words[0],
            pos: [f64::from_bits(words[1]), f64::from_bits(words[2])],
        }
    }
}

impl Positioned for Particle {
    #[inline]
    fn id(&self) -> u64 {
        self.id
    }

    #[inline]
    fn position(&self) -> [f64; 2] {
        self.pos
    }
}

/// Which rank owns a position: the process coordinates of the block holding the cell that
/// contains it ([`cic::Cic::cell`]).
#[derive(Clone, Debug)]
pub struct Ownership {
    cic: cic::Cic,
    part_x: Vec<u32>,
    part_y: Vec<u32>,
    dim: usize,
    ranks: usize,
}

impl Ownership {
    /// The map for `grid` over `mesh`.
    pub fn new(mesh: &Mesh, grid: ProcessGrid) -> Ownership {
        let whole = crate::decomp::Block::new(mesh, ProcessGrid::planar(1, 1), 0);
        Ownership {
            cic: cic::Cic::new(mesh, &whole),
            part_x: (0..mesh.nx())
                .map(|i| part_of(mesh.nx(), grid.px, i) as u32)
                .collect(),
            part_y: (0..mesh.ny())
                .map(|i| part_of(mesh.ny(), grid.py, i) as u32)
                .collect(),
            dim: mesh.dim,
            ranks: grid.size(),
        }
    }

    /// Process coordinates `(cx, cy)` of the owner of `pos`.
    #[inline(always)]
    pub fn coords(&self, pos: [f64; 2]) -> (usize, usize) {
        let cx = self.part_x[self.cic.cell(pos[0])] as usize;
        let cy = if self.dim == 2 {
            self.part_y[self.cic.cell(pos[1])] as usize
        } else {
            0
        };
        (cx, cy)
    }

    /// The number of ranks of the process grid.
    pub fn ranks(&self) -> usize {
        self.ranks
    }

    /// Global cell `(iy, ix)` containing `pos`.
    #[inline(always)]
    pub fn cell(&self, pos: [f64; 2]) -> (usize, usize) {
        let iy = if self.dim == 2 {
            self.cic.cell(pos[1])
        } else {
            0
        };
        (iy, self.cic.cell(pos[0]))
    }
}

/// Every rank's particles in id order, the same on every rank, as `id, x, y` triples (ids are
/// exact in `f64` below `2^53`): the checkpoint dataset of a particle set, independent of the
/// rank count that wrote it. Collective.
pub fn all_in_id_order(comm: &crate::comm::Comm, particles: &[Particle]) -> Vec<f64> {
    let flat: Vec<f64> = particles
        .iter()
        .flat_map(|p| [p.id as f64, p.pos[0], p.pos[1]])
        .collect();
    let mut all: Vec<[f64; 3]> = comm
        .gather_to_root(&flat)
        .iter()
        .flat_map(|part| part.chunks_exact(3).map(|c| [c[0], c[1], c[2]]))
        .collect();
    all.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let all: Vec<f64> = all.into_iter().flatten().collect();
    crate::io::checkpoint::rank0_values(comm, &all)
}

/// The particles of `id, x, y` triples ([`all_in_id_order`]) that `ownership` gives to the
/// process coordinates `coords`; an error unless there are exactly `count` triples.
pub fn owned_of(
    flat: &[f64],
    count: u64,
    ownership: &Ownership,
    coords: (usize, usize),
) -> Result<Vec<Particle>, String> {
    if flat.len() as u64 != 3 * count {
        return Err(format!(
            "{} values for {count} particles (expected {})",
            flat.len(),
            3 * count
        ));
    }
    Ok(flat
        .chunks_exact(3)
        .map(|c| Particle {
            id: c[0] as u64,
            pos: [c[1], c[2]],
        })
        .filter(|p| ownership.coords(p.pos) == coords)
        .collect())
}

/// Order-independent fingerprint of a set of particle ids: the wrapping sum of `splitmix64(id)`.
/// Summed over ranks with an exact integer reduction it equals [`id_fingerprint_of_range`] when
/// every id is present exactly once (a lost or duplicated particle changes it).
pub fn id_fingerprint(particles: &[Particle]) -> u64 {
    particles
        .iter()
        .fold(0u64, |acc, p| acc.wrapping_add(splitmix64(p.id)))
}

/// [`id_fingerprint`] of the ids `0..count`.
pub fn id_fingerprint_of_range(count: u64) -> u64 {
    (0..count).fold(0u64, |acc, id| acc.wrapping_add(splitmix64(id)))
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_bit_exact() {
        let p = Particle {
            id: u64::MAX - 3,
            pos: [-0.0, f64::MIN_POSITIVE],
        };
        let mut w = Vec::new();
        p.pack(&mut w);
        assert_eq!(w.len(), Particle::WORDS);
        let q = Particle::unpack(&w);
        assert_eq!(q.id, p.id);
        assert_eq!(q.pos[0].to_bits(), p.pos[0].to_bits());
        assert_eq!(q.pos[1].to_bits(), p.pos[1].to_bits());
    }

    #[test]
    fn ownership_matches_blocks() {
        let mesh = Mesh::new(2, 13, 3.0);
        let grid = ProcessGrid::planar(3, 2);
        let own = Ownership::new(&mesh, grid);
        for r in 0..6 {
            let b = crate::decomp::Block::new(&mesh, grid, r);
            for iy in b.y0..b.y0 + b.ny {
                for ix in b.x0..b.x0 + b.nx {
                    let pos = [mesh.centre(ix), mesh.centre(iy)];
                    assert_eq!(own.coords(pos), b.coords);
                    assert_eq!(own.cell(pos), (iy, ix));
                }
            }
        }
    }

    #[test]
    fn fingerprint_detects_loss_and_duplication() {
        let ps: Vec<Particle> = (0..100).map(|id| Particle { id, pos: [0.0; 2] }).collect();
        assert_eq!(id_fingerprint(&ps), id_fingerprint_of_range(100));
        let mut dup = ps.clone();
        dup[5].id = 6;
        assert_ne!(id_fingerprint(&dup), id_fingerprint_of_range(100));
        assert_ne!(id_fingerprint(&ps[1..]), id_fingerprint_of_range(100));
    }
}
