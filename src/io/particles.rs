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

use hdf5::types::VarLenUnicode;

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
    let tmp = super::tmp_path(path);
    let err = |what: &str, e: hdf5::Error| format!("{}: {what}: {e}", path.display());
    let body = || -> Result<(), String> {
        let file = hdf5::File::create(&tmp).map_err(|e| err("cannot create", e))?;
        let ds = file
            .new_dataset::<f64>()
            .shape([meta.count as usize, meta.dim])
            .create("x")
            .map_err(|e| err("cannot create dataset x", e))?;
        ds.write_raw(x)
            .map_err(|e| err("cannot write dataset x", e))?;
        let f64_attr = |name: &str, v: f64| {
            file.new_attr::<f64>()
                .create(name)
                .and_then(|a| a.write_scalar(&v))
                .map_err(|e| err(&format!("attribute {name}"), e))
        };
        f64_attr("t", meta.t)?;
        f64_attr("dt", meta.dt)?;
        f64_attr("particle_mass", meta.particle_mass)?;
        let u64_attr = |name: &str, v: u64| {
            file.new_attr::<u64>()
                .create(name)
                .and_then(|a| a.write_scalar(&v))
                .map_err(|e| err(&format!("attribute {name}"), e))
        };
        u64_attr("step", meta.step)?;
        u64_attr("count", meta.count)?;
        u64_attr("dim", meta.dim as u64)?;
        u64_attr("seed", meta.seed)?;
        let str_attr = |name: &str, v: &str| {
            let text: VarLenUnicode = v
                .parse()
                .map_err(|e| format!("{}: attribute {name}: {e}", path.display()))?;
            file.new_attr::<VarLenUnicode>()
                .create(name)
                .and_then(|a| a.write_scalar(&text))
                .map_err(|e| err(&format!("attribute {name}"), e))
        };
        str_attr("kind", "positions")?;
        str_attr("config", &meta.config)?;
        str_attr("code_version", super::CODE_VERSION)?;
        file.close().map_err(|e| err("cannot close", e))
    };
    if let Err(e) = body() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    super::persist(&tmp, path)
}

/// Reads a positions file serially (analysis, tests; no MPI needed).
pub fn read_positions(path: &Path) -> Result<StoredPositions, String> {
    let err = |what: &str, e: hdf5::Error| format!("{}: {what}: {e}", path.display());
    let file = hdf5::File::open(path).map_err(|e| err("cannot open", e))?;
    let ds = file.dataset("x").map_err(|e| err("no dataset x", e))?;
    let shape = ds.shape();
    if shape.len() != 2 {
        return Err(format!(
            "{}: dataset x has shape {shape:?}, expected [count, dim]",
            path.display()
        ));
    }
    let x = ds
        .read_raw::<f64>()
        .map_err(|e| err("cannot read dataset x", e))?;
    let t = file
        .attr("t")
        .and_then(|a| a.read_scalar::<f64>())
        .map_err(|e| err("attribute t", e))?;
    let step = file
        .attr("step")
        .and_then(|a| a.read_scalar::<u64>())
        .map_err(|e| err("attribute step", e))?;
    Ok(StoredPositions {
        dim: shape[1],
        count: shape[0] as u64,
        x,
        t,
        step,
    })
}
