//! Global-shaped fields in HDF5, written and read in parallel.
//!
//! # Layout on disk
//!
//! Every field is one dataset of shape `[n]` (1D) or `[n, n]` (2D, index order y then x) in
//! global index order, without ghosts. Each rank writes (and reads) the hyperslab of its owned
//! [`crate::decomp::Block`], so a file written on one process grid can be read back on any other.
//!
//! # Writing: [`write_global`]
//!
//! One call writes any number of global-shaped datasets of the rank's block ([`BlockData`]),
//! small replicated 1D datasets ([`SmallData`], identical on every rank, written once by rank 0)
//! and file attributes ([`AttrValue`]). The file is written under `path` + `".tmp"`, closed,
//! fsynced, renamed to `path`, and the parent directory is fsynced, so a crash never leaves a
//! half-written file under the final name and a completed rename survives a power loss.
//!
//! Two transfer modes ([`IoMode`]):
//!
//! * [`IoMode::Independent`]: each rank writes its hyperslab with `hdf5`'s `write_slice`
//!   (an MPI-IO *independent* write: every rank issues its own strided writes, which ROMIO
//!   serves with data sieving, i.e. read-modify-write under file locks when the block is not
//!   contiguous in the file).
//! * [`IoMode::Collective`]: one *collective* MPI-IO transfer per dataset through the raw
//!   `hdf5-sys` API, which the high-level crate does not offer: a dataset transfer property list
//!   from `H5Pcreate(H5P_CLS_DATASET_XFER)` with `H5Pset_dxpl_mpio(H5FD_MPIO_COLLECTIVE)`, the
//!   rank's hyperslab selected on the dataset's file space (`H5Dget_space`,
//!   `H5Sselect_hyperslab`), a memory space describing the rank's [`Field`] storage with the
//!   owned cells selected (so no copy of the block is made and ghosts are skipped), then
//!   `H5Dwrite(..., H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, ptr)`. Every rank must take part in
//!   every collective call, also a rank whose block is empty (it selects nothing). ROMIO then
//!   runs two-phase I/O: ranks exchange their pieces so that a few aggregators write large
//!   contiguous file domains. After the call the property list is asked whether the transfer
//!   really was collective (`H5Pget_mpio_actual_io_mode`); a silent fallback to independent I/O
//!   is logged with HDF5's reason and counted (see [`collective_fallbacks`]).
//!
//! Datasets are contiguous, allocated early (as parallel HDF5 requires) and never pre-filled, so
//! each byte of data is written exactly once.
//!
//! # Errors and collective agreement
//!
//! All functions taking a [`Comm`] are collective: every rank must call them with the same
//! names, shapes, small data and attributes. Failures are agreed on between the phases of a
//! write or read (an error on any rank is an error on all, naming the file and the failing rank),
//! so that no rank enters a collective HDF5 call that another rank has skipped. Every HDF5
//! handle opened through the raw API is closed, also on error paths, and every return code is
//! checked.
//!
//! Raw HDF5 calls are made while holding the `hdf5` crate's global reentrant lock
//! ([`hdf5::sync::sync`]), like the crate's own wrappers do, and errors are turned into text with
//! the crate's reading of the HDF5 error stack.
//!
//! # Files
//!
//! `write.rs`: the parallel writer; `read.rs`: the collective block reader and the serial
//! readers; `raw.rs`: the raw `hdf5-sys` calls of the collective transfers; `series.rs`: a file
//! kept open for a series of fields (the disk trajectory store, [`SeriesFile`]);
//! [`write_table`] / [`read_table`]: small serial files of one 2D table (samples, particle
//! positions).
//!
//! # Reading
//!
//! [`read_block`] reads the hyperslab a (possibly different) decomposition owns, collectively,
//! into the owned cells of a [`Field`]. [`read_field`], [`read_small`] and the `read_attr_*`
//! functions read serially (no MPI needed) and may be called from any or all ranks.

mod raw;
mod read;
mod series;
mod write;

use std::path::Path;

use crate::comm::Comm;
use crate::field::Field;
use crate::mesh::Mesh;
use crate::names::named_enum;

pub use raw::collective_fallbacks;
pub use read::{
    read_attr_f64, read_attr_str, read_attr_u64, read_block, read_field, read_raw, read_small,
    read_table,
};
pub use series::SeriesFile;
pub use write::{write_field, write_global, write_table};

named_enum! {
    /// How the ranks' blocks reach the file, selected by `output.io`.
    pub enum IoMode {
        /// One collective MPI-IO transfer per dataset (two-phase I/O in ROMIO). The default.
        Collective = "collective",
        /// Each rank writes its own hyperslab independently (`write_slice`): a fallback for
        /// MPI-IO stacks whose collective path misbehaves.
        Independent = "independent",
    }
}

/// A global-shaped dataset: every rank contributes the owned cells of its `field` (whose owned
/// shape must be the rank's block) as the block's hyperslab of dataset `name`.
#[derive(Clone, Copy, Debug)]
pub struct BlockData<'a> {
    /// Dataset name (no `/`).
    pub name: &'a str,
    /// The rank's field; ghosts are not written.
    pub field: &'a Field,
}

/// A small 1D dataset with the same values on every rank, written once (by rank 0).
#[derive(Clone, Copy, Debug)]
pub struct SmallData<'a> {
    /// Dataset name (no `/`).
    pub name: &'a str,
    /// The values (identical on every rank).
    pub values: &'a [f64],
}

/// A scalar file attribute (identical on every rank).
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A float (`f64`).
    F64(f64),
    /// An unsigned integer (`u64`).
    U64(u64),
    /// Text (variable-length UTF-8).
    Str(String),
}

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
    /// Dataset shape (`[n]`, `[n, n]` or `[n, n, n]`).
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

/// The global dataset shape of a field on `mesh`.
fn global_shape(mesh: &Mesh) -> Vec<usize> {
    vec![mesh.n; mesh.dim]
}

/// An error on any rank becomes an error on every rank. A rank that failed keeps its own
/// message; the others name the first failing rank.
fn agree<T>(comm: &Comm, path: &Path, local: Result<T, String>) -> Result<T, String> {
    if !comm.any(local.is_err()) {
        return local;
    }
    let first = comm.min(if local.is_err() {
        comm.rank() as f64
    } else {
        f64::INFINITY
    });
    match local {
        Err(e) => Err(e),
        Ok(_) => Err(format!("{}: failed on rank {first}", path.display())),
    }
}
