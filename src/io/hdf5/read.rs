//! Reading: the collective block reader ([`read_block`]) and the serial readers.

use std::path::Path;

use hdf5::types::{VarLenAscii, VarLenUnicode};

use super::raw::{block_selection, collective_transfer, Buffer};
use super::{agree, global_shape, h5err, StoredField};
use crate::comm::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::mesh::Mesh;

/// Reads the hyperslab of `block` of the global-shaped dataset `name` (shape `[n]` or `[n, n]`
/// as `mesh` says) into the owned cells of `into` (owned shape = `block`; ghosts untouched),
/// collectively through the MPI-IO driver: every rank calls. The block may come from any
/// process grid, not necessarily the one the file was written with. Errors are agreed on by
/// all ranks.
pub fn read_block(
    comm: &Comm,
    path: &Path,
    name: &str,
    mesh: &Mesh,
    block: &Block,
    into: &mut Field,
) -> Result<(), String> {
    let fits = if into.nx() != block.nx || into.ny() != block.ny {
        Err(format!(
            "{}: dataset {name}: field is {}x{} but the block is {}x{}",
            path.display(),
            into.ny(),
            into.nx(),
            block.ny,
            block.nx
        ))
    } else {
        Ok(())
    };
    agree(comm, path, fits)?;
    let opened = hdf5::FileBuilder::new()
        .with_fapl(|p| p.mpio(comm.raw(), None))
        .open(path)
        .map_err(|e| h5err(path, "cannot open", e));
    let file = agree(comm, path, opened)?;
    let read = read_block_from(comm, path, &file, name, mesh, block, into);
    let closed = file.close().map_err(|e| h5err(path, "cannot close", e));
    let closed = agree(comm, path, closed);
    read.and(closed)
}

pub(super) fn read_block_from(
    comm: &Comm,
    path: &Path,
    file: &hdf5::File,
    name: &str,
    mesh: &Mesh,
    block: &Block,
    into: &mut Field,
) -> Result<(), String> {
    let want = global_shape(mesh);
    let ds = file
        .dataset(name)
        .map_err(|e| h5err(path, &format!("no dataset {name}"), e))
        .and_then(|ds| {
            if ds.shape() == want {
                Ok(ds)
            } else {
                Err(format!(
                    "{}: dataset {name} has shape {:?}, the grid needs {want:?}",
                    path.display(),
                    ds.shape()
                ))
            }
        });
    let ds = agree(comm, path, ds)?;
    let sel = block_selection(path, ds.id(), mesh, block, into);
    let sel = agree(comm, path, sel)?;
    let ptr = into.raw_mut().as_mut_ptr();
    collective_transfer(comm, path, name, ds.id(), sel, Buffer::Read(ptr))
}

/// Reads the dataset `name` of any shape serially, row-major (`nlfp info`'s checksums).
pub fn read_raw(path: &Path, name: &str) -> Result<Vec<f64>, String> {
    let file = hdf5::File::open(path).map_err(|e| h5err(path, "cannot open", e))?;
    let ds = file
        .dataset(name)
        .map_err(|e| h5err(path, &format!("no dataset {name}"), e))?;
    ds.read_raw::<f64>()
        .map_err(|e| h5err(path, &format!("cannot read dataset {name}"), e))
}

/// Reads the 1D dataset `name` serially (e.g. a [`super::SmallData`] written by [`super::write_global`]).
pub fn read_small(path: &Path, name: &str) -> Result<Vec<f64>, String> {
    let file = hdf5::File::open(path).map_err(|e| h5err(path, "cannot open", e))?;
    let ds = file
        .dataset(name)
        .map_err(|e| h5err(path, &format!("no dataset {name}"), e))?;
    if ds.ndim() != 1 {
        return Err(format!(
            "{}: dataset {name} has shape {:?}, expected 1D",
            path.display(),
            ds.shape()
        ));
    }
    ds.read_raw::<f64>()
        .map_err(|e| h5err(path, &format!("cannot read dataset {name}"), e))
}

fn open_attr(path: &Path, name: &str) -> Result<hdf5::Attribute, String> {
    hdf5::File::open(path)
        .map_err(|e| h5err(path, "cannot open", e))?
        .attr(name)
        .map_err(|e| h5err(path, &format!("no attribute {name}"), e))
}

/// Reads the scalar `f64` file attribute `name` serially.
pub fn read_attr_f64(path: &Path, name: &str) -> Result<f64, String> {
    open_attr(path, name)?
        .read_scalar::<f64>()
        .map_err(|e| h5err(path, &format!("attribute {name}"), e))
}

/// Reads the scalar `u64` file attribute `name` serially.
pub fn read_attr_u64(path: &Path, name: &str) -> Result<u64, String> {
    open_attr(path, name)?
        .read_scalar::<u64>()
        .map_err(|e| h5err(path, &format!("attribute {name}"), e))
}

/// Reads the scalar text file attribute `name` serially (variable-length UTF-8 as written by
/// [`super::write_global`], or ASCII).
pub fn read_attr_str(path: &Path, name: &str) -> Result<String, String> {
    let attr = open_attr(path, name)?;
    match attr.read_scalar::<VarLenUnicode>() {
        Ok(v) => Ok(v.as_str().to_owned()),
        Err(e) => attr
            .read_scalar::<VarLenAscii>()
            .map(|v| v.as_str().to_owned())
            .map_err(|_| h5err(path, &format!("attribute {name}"), e)),
    }
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

/// Reads the 2D dataset `name` of `path` serially: its shape `[rows, cols]` and its values,
/// row-major (the tables of [`super::write_table`]).
pub fn read_table(path: &Path, name: &str) -> Result<([usize; 2], Vec<f64>), String> {
    let file = hdf5::File::open(path).map_err(|e| h5err(path, "cannot open", e))?;
    let ds = file
        .dataset(name)
        .map_err(|e| h5err(path, &format!("no dataset {name}"), e))?;
    let shape = ds.shape();
    let [rows, cols] = shape[..] else {
        return Err(format!(
            "{}: dataset {name} has shape {shape:?}, expected [rows, columns]",
            path.display()
        ));
    };
    let values = ds
        .read_raw::<f64>()
        .map_err(|e| h5err(path, &format!("cannot read dataset {name}"), e))?;
    Ok(([rows, cols], values))
}
