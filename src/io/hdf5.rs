//! Global-shaped fields in HDF5, written in parallel.
//!
//! Each rank writes the hyperslab of its owned block into one dataset `f` of shape `[n]` (1D)
//! or `[n, n]` (2D, index order y then x), through the MPI-IO driver. The file is written under
//! a temporary name and renamed once every rank has closed it, so a crash never leaves a
//! half-written file under the final name.

use std::path::{Path, PathBuf};

use hdf5::types::VarLenUnicode;
use ndarray::s;

use crate::comm::Comm;
use crate::decomp::{Block, ProcessGrid};
use crate::field::Field;
use crate::mesh::Mesh;

/// Attributes stored with a field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldMeta {
    /// Simulated time.
    pub t: f64,
    /// Step count.
    pub step: u64,
    /// Last step size.
    pub dt: f64,
    /// The resolved config as TOML text.
    pub config: String,
}

/// A field read back from a file (serially), with its attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredField {
    /// Dataset shape (`[n]` or `[n, n]`).
    pub shape: Vec<usize>,
    /// Values in global index order.
    pub values: Vec<f64>,
    /// Attribute `t`.
    pub t: f64,
    /// Attribute `step`.
    pub step: u64,
}

fn h5err(path: &Path, what: &str, e: hdf5::Error) -> String {
    format!("{}: {what}: {e}", path.display())
}

fn tmp_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Writes `field` (the owned blocks of every rank) to `path` collectively: every rank must call.
/// Errors are agreed on by all ranks (an error on any rank is an error on all).
pub fn write_field(
    comm: &Comm,
    path: &Path,
    mesh: &Mesh,
    grid: ProcessGrid,
    block: &Block,
    field: &Field,
    meta: &FieldMeta,
) -> Result<(), String> {
    let tmp = tmp_name(path);
    let local = write_field_inner(comm, &tmp, mesh, grid, block, field, meta);
    let failed = comm.any(local.is_err());
    if failed {
        if comm.is_root() {
            let _ = std::fs::remove_file(&tmp);
        }
        return Err(local
            .err()
            .unwrap_or_else(|| format!("{}: another rank failed to write", path.display())));
    }
    let renamed = if comm.is_root() {
        std::fs::rename(&tmp, path)
            .map_err(|e| format!("{}: cannot rename into place: {e}", path.display()))
    } else {
        Ok(())
    };
    let failed = comm.any(renamed.is_err());
    if failed {
        return Err(renamed
            .err()
            .unwrap_or_else(|| format!("{}: rank 0 failed to rename", path.display())));
    }
    Ok(())
}

fn write_field_inner(
    comm: &Comm,
    path: &Path,
    mesh: &Mesh,
    grid: ProcessGrid,
    block: &Block,
    field: &Field,
    meta: &FieldMeta,
) -> Result<(), String> {
    let file = hdf5::FileBuilder::new()
        .with_fapl(|p| p.mpio(comm.raw(), None))
        .create(path)
        .map_err(|e| h5err(path, "cannot create", e))?;
    let shape: Vec<usize> = if mesh.dim == 2 {
        vec![mesh.n, mesh.n]
    } else {
        vec![mesh.n]
    };
    let ds = file
        .new_dataset::<f64>()
        .shape(shape.clone())
        .create("f")
        .map_err(|e| h5err(path, "cannot create dataset f", e))?;
    // The owned block without ghosts, in standard layout for the hyperslab write.
    let owned = field.interior().to_owned();
    let written = if mesh.dim == 2 {
        ds.write_slice(
            &owned,
            s![block.y0..block.y0 + block.ny, block.x0..block.x0 + block.nx],
        )
    } else {
        ds.write_slice(&owned.row(0), s![block.x0..block.x0 + block.nx])
    };
    written.map_err(|e| h5err(path, "cannot write dataset f", e))?;

    let put_f64 = |name: &str, v: f64| -> Result<(), String> {
        file.new_attr::<f64>()
            .create(name)
            .and_then(|a| a.write_scalar(&v))
            .map_err(|e| h5err(path, &format!("attribute {name}"), e))
    };
    let put_u64 = |name: &str, v: u64| -> Result<(), String> {
        file.new_attr::<u64>()
            .create(name)
            .and_then(|a| a.write_scalar(&v))
            .map_err(|e| h5err(path, &format!("attribute {name}"), e))
    };
    let put_str = |name: &str, v: &str| -> Result<(), String> {
        let text: VarLenUnicode = v
            .parse()
            .map_err(|e| format!("{}: attribute {name}: {e}", path.display()))?;
        file.new_attr::<VarLenUnicode>()
            .create(name)
            .and_then(|a| a.write_scalar(&text))
            .map_err(|e| h5err(path, &format!("attribute {name}"), e))
    };
    put_f64("t", meta.t)?;
    put_u64("step", meta.step)?;
    put_f64("dt", meta.dt)?;
    put_str("config", &meta.config)?;
    put_str("code_version", super::CODE_VERSION)?;
    put_u64("dim", mesh.dim as u64)?;
    put_u64("n", mesh.n as u64)?;
    put_f64("half_width", mesh.half_width)?;
    put_f64("h", mesh.h)?;
    put_str("process_grid", &format!("{}x{}", grid.px, grid.py))?;
    drop(ds);
    file.close().map_err(|e| h5err(path, "cannot close", e))?;
    Ok(())
}

/// Reads a field file serially (analysis, tests; no MPI needed).
pub fn read_field(path: &Path) -> Result<StoredField, String> {
    let file = hdf5::File::open(path).map_err(|e| h5err(path, "cannot open", e))?;
    let ds = file
        .dataset("f")
        .map_err(|e| h5err(path, "no dataset f", e))?;
    let shape = ds.shape();
    let values = ds
        .read_raw::<f64>()
        .map_err(|e| h5err(path, "cannot read dataset f", e))?;
    let t = file
        .attr("t")
        .and_then(|a| a.read_scalar::<f64>())
        .map_err(|e| h5err(path, "attribute t", e))?;
    let step = file
        .attr("step")
        .and_then(|a| a.read_scalar::<u64>())
        .map_err(|e| h5err(path, "attribute step", e))?;
    Ok(StoredField {
        shape,
        values,
        t,
        step,
    })
}
