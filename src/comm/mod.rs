//! Everything that names MPI lives here: start-up, reductions, broadcasts, halo exchange (PDE
//! ghosts, ghost strips of any width and reverse-halo sums, all in [`halo`]), particle
//! migration ([`migrate`]) and abort. The rest of the crate sees a [`Comm`] with plain-Rust methods.
//!
//! Reductions that decide the control flow (time step, stop flags) use MIN/MAX, which are exact;
//! sums that steer a solver (Krylov dot products) use the exact integer-limb reduction of
//! [`exact`]. With either, every rank takes the same decision and results do not depend on the
//! rank count. Plain floating-point sums ([`Comm::sum_many`]) are for diagnostics only.

pub mod exact;
pub mod gather;
pub mod halo;
pub mod migrate;

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

pub use halo::{HaloCell, HaloExchange};
pub use migrate::{MigrationReport, Migrator, Packable};

/// The raw communicator handle, for libraries that take one (parallel HDF5).
pub type RawComm = mpi::ffi::MPI_Comm;

/// The MPI environment. Keep it alive for the whole run: dropping it finalizes MPI.
pub struct Mpi {
    _universe: Universe,
}

/// A communicator: the world, or a group split from it with [`Comm::split`].
pub struct Comm {
    world: SimpleCommunicator,
}

/// Initializes MPI (works under `mpirun` and as a singleton without it).
pub fn init() -> Result<(Mpi, Comm), String> {
    let universe = mpi::initialize().ok_or("MPI was already initialized")?;
    let world = universe.world();
    Ok((
        Mpi {
            _universe: universe,
        },
        Comm { world },
    ))
}

impl Comm {
    /// This rank.
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// Number of ranks.
    pub fn size(&self) -> usize {
        self.world.size() as usize
    }

    /// Whether this is rank 0, the one that speaks.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Global maximum (exact).
    pub fn max(&self, local: f64) -> f64 {
        let mut out = 0.0;
        self.world
            .all_reduce_into(&local, &mut out, SystemOperation::max());
        out
    }

    /// Global minimum (exact).
    pub fn min(&self, local: f64) -> f64 {
        let mut out = 0.0;
        self.world
            .all_reduce_into(&local, &mut out, SystemOperation::min());
        out
    }

    /// Element-wise global maximum of several values in one reduction (exact).
    pub fn max_many(&self, local: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; local.len()];
        self.world
            .all_reduce_into(local, &mut out[..], SystemOperation::max());
        out
    }

    /// Element-wise global sum of several values in one reduction. The rounding depends on
    /// the rank count: use for diagnostics only.
    pub fn sum_many(&self, local: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; local.len()];
        self.world
            .all_reduce_into(local, &mut out[..], SystemOperation::sum());
        out
    }

    /// Element-wise global sum of unsigned integers, wrapping modulo 2^64 (exact and
    /// independent of the rank count: used for order-independent checksums).
    pub fn sum_u64_wrapping(&self, local: &[u64]) -> Vec<u64> {
        let mut out = vec![0u64; local.len()];
        self.world
            .all_reduce_into(local, &mut out[..], SystemOperation::sum());
        out
    }

    /// Whether any rank passed `true`.
    pub fn any(&self, local: bool) -> bool {
        self.max(if local { 1.0 } else { 0.0 }) > 0.0
    }

    /// Rank 0's bytes on every rank (`data` is ignored elsewhere).
    pub fn broadcast_bytes(&self, data: Vec<u8>) -> Vec<u8> {
        let root = self.world.process_at_rank(0);
        let mut len = data.len() as u64;
        root.broadcast_into(&mut len);
        let mut buf = if self.is_root() {
            data
        } else {
            vec![0u8; len as usize]
        };
        if len > 0 {
            root.broadcast_into(&mut buf[..]);
        }
        buf
    }

    /// Rank 0's result (success text or error text) on every rank, so that a failure seen only
    /// by rank 0 (an unreadable file) stops every rank with the same message.
    pub fn broadcast_result(&self, result: Result<Vec<u8>, String>) -> Result<Vec<u8>, String> {
        let (tag, payload) = match result {
            Ok(bytes) => (1u8, bytes),
            Err(msg) => (0u8, msg.into_bytes()),
        };
        let mut framed = Vec::with_capacity(payload.len() + 1);
        framed.push(tag);
        framed.extend_from_slice(&payload);
        let framed = self.broadcast_bytes(framed);
        match framed.split_first() {
            Some((1, rest)) => Ok(rest.to_vec()),
            Some((_, rest)) => Err(String::from_utf8_lossy(rest).into_owned()),
            None => Err("empty broadcast".into()),
        }
    }

    /// Runs `work` on rank 0 only (file-system work: create a directory, write an index) and
    /// returns its verdict on every rank, so a failure there stops every rank alike.
    pub fn on_root(&self, work: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        let local = if self.is_root() {
            work().map(|_| Vec::new())
        } else {
            Ok(Vec::new())
        };
        self.broadcast_result(local).map(|_| ())
    }

    /// Gathers variable-length blocks of `f64` on rank 0, in rank order (empty elsewhere).
    pub fn gather_to_root(&self, local: &[f64]) -> Vec<Vec<f64>> {
        self.gather_varcount(local)
    }

    /// Gathers variable-length byte strings on rank 0, in rank order (empty elsewhere). Empty
    /// strings are fine: every rank sends its bytes behind a one-byte frame, since OpenMPI
    /// rejects the dangling pointer of an empty send buffer.
    pub fn gather_bytes_to_root(&self, local: &[u8]) -> Vec<Vec<u8>> {
        let framed: Vec<u8> = std::iter::once(0u8).chain(local.iter().copied()).collect();
        self.gather_varcount(&framed)
            .into_iter()
            .map(|part| part[1..].to_vec())
            .collect()
    }

    /// Gathers variable-length blocks on rank 0, in rank order (empty elsewhere): the counts
    /// first, then one variable-count gather.
    fn gather_varcount<T: Equivalence + Copy + Default>(&self, local: &[T]) -> Vec<Vec<T>> {
        let root = self.world.process_at_rank(0);
        let n = local.len() as u64;
        if !self.is_root() {
            root.gather_into(&n);
            root.gather_varcount_into(local);
            return Vec::new();
        }
        let mut counts = vec![0u64; self.size()];
        root.gather_into_root(&n, &mut counts[..]);
        let (counts_i, displs) = counts_and_displacements(&counts);
        let mut all = vec![T::default(); counts.iter().sum::<u64>() as usize];
        {
            let mut partition =
                mpi::datatype::PartitionMut::new(&mut all[..], &counts_i[..], &displs[..]);
            root.gather_varcount_into_root(local, &mut partition);
        }
        let mut at = 0usize;
        counts
            .iter()
            .map(|&c| {
                let part = all[at..at + c as usize].to_vec();
                at += c as usize;
                part
            })
            .collect()
    }

    /// Splits the ranks into sub-communicators by `color` (collective): ranks passing the same
    /// color form one communicator, ordered by their rank here. Every rank gets its group.
    pub fn split(&self, color: usize) -> Comm {
        let color = i32::try_from(color).expect("color fits in an MPI int");
        let sub = self
            .world
            .split_by_color(mpi::topology::Color::with_value(color))
            .expect("a non-undefined color always yields a communicator");
        Comm { world: sub }
    }

    /// A communicator holding this rank alone (`MPI_COMM_SELF`): serial reference computations
    /// with the same code as the distributed ones.
    pub fn solo(&self) -> Comm {
        Comm {
            world: SimpleCommunicator::self_comm(),
        }
    }

    /// Waits for every rank.
    pub fn barrier(&self) {
        self.world.barrier();
    }

    /// Ends the whole job from this rank (other ranks are killed by the MPI runtime).
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    /// Ends the whole job with `msg` after a failure every rank agreed on but that cannot be
    /// unwound (a parallel HDF5 file that a failed write left unclosable): rank 0 prints
    /// `error: msg` and aborts; the other ranks give it a moment to print, then abort too.
    /// `MPI_Finalize` is never reached, so HDF5's finalize hook cannot crash on the open file.
    pub fn fatal(&self, msg: &str) -> ! {
        if self.is_root() {
            eprintln!("error: {msg}");
            self.abort(1)
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
        self.abort(1)
    }

    /// The raw handle, for parallel HDF5.
    pub fn raw(&self) -> RawComm {
        self.world.as_raw()
    }

    pub(crate) fn world(&self) -> &SimpleCommunicator {
        &self.world
    }
}

/// MPI counts and displacements (exclusive prefix sums) of variable-count blocks of `counts`.
pub(crate) fn counts_and_displacements(counts: &[u64]) -> (Vec<i32>, Vec<i32>) {
    let counts_i: Vec<i32> = counts.iter().map(|&c| c as i32).collect();
    let displs: Vec<i32> = counts_i
        .iter()
        .scan(0i32, |acc, &c| {
            let d = *acc;
            *acc += c;
            Some(d)
        })
        .collect();
    (counts_i, displs)
}
