//! Particle positions in HDF5: dataset `x` of shape `[N_p, dim]`, row `k` holding the position of
//! particle `k` (global order by id, whatever the rank count), with attributes `kind` =
//! `"positions"`, `t`, `step`, `dt`, `count`, `dim`, `seed`, `particle_mass`, `config` (resolved
//! TOML) and `code_version`.
//!
//! The ranks' particles are gathered on rank 0, which checks that every id `0..N_p` arrived exactly
//! once (a lost or duplicated particle is an error, not a file), writes the file serially under a
//! temporary name and renames it into place. Rank 0 holds `3 N_p` doubles while writing: meant
//! for the chosen steps of a run, not for every step of a huge one.

use std::path::Path;

use super::hdf5::{read_attr_f64, read_attr_u64, read_table, write_table, AttrValue};

use crate::comm::Comm;

/// A particle as the positions file sees it: a global id in `0..N_p` and a position `[x, y]`
/// (`y` unused in 1D). Implemented by [`crate::particles::Particle`].
pub trait Positioned {
    /// The global id: the row of the particle in the file.
    fn id(&self) -> u64;
    /// The position.
    fn position(&self) -> [f64; 2];
}

/// Attributes of a positions file.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionsMeta {
    /// Simulated time.
    pub t: f64,
    /// Step count.
    pub step: u64,
    /// Step size.
    pub dt: f64,
    /// Number of particles `N_p` (every id `0..N_p` must be present exactly once).
    pub count: u64,
    /// Spatial dimension.
    pub dim: usize,
    /// Seed of the run.
    pub seed: u64,
    /// Mass of one particle, `m / N_p`.
    pub particle_mass: f64,
    /// The resolved config as TOML text.
    pub config: String,
}

/// Positions read back (serially).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredPositions {
    /// Spatial dimension.
    pub dim: usize,
    /// Number of particles.
    pub count: u64,
    /// `count * dim` coordinates, particle by particle in id order.
    pub x: Vec<f64>,
    /// Attribute `t`.
    pub t: f64,
    /// Attribute `step`.
    pub step: u64,
}

/// Writes the positions of every rank's `particles` to `path` (collective; the result, success
/// or error, is the same on every rank).
pub fn write_positions<P: Positioned>(
    comm: &Comm,
    path: &Path,
    particles: &[P],
    meta: &PositionsMeta,
) -> Result<(), String> {
    let dim = meta.dim;
    let mut local = Vec::with_capacity(particles.len() * (dim + 1));
    for p in particles {
        local.push(p.id() as f64); // exact: ids are below 2^31
        local.extend_from_slice(&p.position()[..dim]);
    }
    let parts = comm.gather_to_root(&local);
    let written = if comm.is_root() {
        order_by_id(&parts, meta).and_then(|x| write_file(path, &x, meta))
    } else {
        Ok(())
    };
    comm.broadcast_result(written.map(|_| Vec::new()))
        .map(|_| ())
}

/// The gathered `[id, coords...]` records in id order; every id exactly once.
fn order_by_id(parts: &[Vec<f64>], meta: &PositionsMeta) -> Result<Vec<f64>, String> {
    let dim = meta.dim;
    let n = meta.count as usize;
    let mut x = vec![f64::NAN; n * dim];
    let mut seen = vec![false; n];
    let mut total = 0usize;
    for (rank, part) in parts.iter().enumerate() {
        for rec in part.chunks_exact(dim + 1) {
            let id = rec[0] as usize;
            if id >= n || seen[id] {
                return Err(format!(
                    "particle {id} from rank {rank} is {} (step {})",
                    if id >= n {
                        "out of range"
                    } else {
                        "duplicated"
                    },
                    meta.step
                ));
            }
            seen[id] = true;
            x[id * dim..(id + 1) * dim].copy_from_slice(&rec[1..]);
            total += 1;
        }
    }
    if total != n {
        let missing = seen.iter().position(|s| !s).unwrap_or(0);
        return Err(format!(
            "{} of {n} particles present at step {} (particle {missing} is missing)",
            total, meta.step
        ));
    }
    Ok(x)
}

fn write_file(path: &Path, x: &[f64], meta: &PositionsMeta) -> Result<(), String> {
    let attrs = [
        ("t", AttrValue::F64(meta.t)),
        ("dt", AttrValue::F64(meta.dt)),
        ("particle_mass", AttrValue::F64(meta.particle_mass)),
        ("step", AttrValue::U64(meta.step)),
        ("count", AttrValue::U64(meta.count)),
        ("dim", AttrValue::U64(meta.dim as u64)),
        ("seed", AttrValue::U64(meta.seed)),
        ("kind", AttrValue::Str("positions".into())),
        ("config", AttrValue::Str(meta.config.clone())),
        ("code_version", AttrValue::Str(super::CODE_VERSION.into())),
    ];
    write_table(path, "x", [meta.count as usize, meta.dim], x, &attrs)
}

/// Reads a positions file serially (analysis, tests; no MPI needed).
pub fn read_positions(path: &Path) -> Result<StoredPositions, String> {
    let ([count, dim], x) = read_table(path, "x")?;
    Ok(StoredPositions {
        dim,
        count: count as u64,
        x,
        t: read_attr_f64(path, "t")?,
        step: read_attr_u64(path, "step")?,
    })
}
