//! Global-shaped fields in HDF5, written and read in parallel.
//!
//! # Layout on disk
//!
//! Every field is one dataset of shape `[n]` (1D) or `[n, n]` (2D, index order y then x) in
//! global index order, without ghosts. Each rank writes (and reads) the hyperslab of its owned
//! [`Block`], so a file written on one process grid can be read back on any other.
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
//! # Reading
//!
//! [`read_block`] reads the hyperslab a (possibly different) decomposition owns, collectively,
//! into the owned cells of a [`Field`]. [`read_field`], [`read_small`] and the `read_attr_*`
//! functions read serially (no MPI needed) and may be called from any or all ranks.

use std::collections::HashSet;
use std::ffi::c_void;
use std::os::raw::c_int;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use hdf5::dataset::FillTime;
use hdf5::types::{VarLenAscii, VarLenUnicode};
use hdf5_sys::h5::{herr_t, hsize_t};
use hdf5_sys::h5d::{H5Dget_space, H5Dread, H5Dwrite};
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::{
    H5FD_mpio_xfer_t, H5Pclose, H5Pcreate, H5Pset_dxpl_mpio, H5P_CLS_DATASET_XFER,
};
use hdf5_sys::h5s::{
    H5S_seloper_t, H5Sclose, H5Screate_simple, H5Sselect_all, H5Sselect_hyperslab, H5Sselect_none,
};
use hdf5_sys::h5t::H5T_NATIVE_DOUBLE;
use ndarray::s;

use crate::comm::Comm;
use crate::decomp::{Block, ProcessGrid};
use crate::field::{Field, GHOST};
use crate::mesh::Mesh;

// Query functions of parallel HDF5 (present since 1.8.10) that `hdf5-sys` does not bind.
extern "C" {
    fn H5Pget_mpio_actual_io_mode(plist_id: hid_t, actual_io_mode: *mut c_int) -> herr_t;
    fn H5Pget_mpio_no_collective_cause(
        plist_id: hid_t,
        local_cause: *mut u32,
        global_cause: *mut u32,
    ) -> herr_t;
}

/// `H5D_MPIO_NO_COLLECTIVE` of `H5D_mpio_actual_io_mode_t`.
const H5D_MPIO_NO_COLLECTIVE: c_int = 0;

/// Collective transfers that HDF5 carried out independently instead (process-wide count).
static COLLECTIVE_FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// How many collective transfers requested by this process HDF5 silently carried out as
/// independent I/O (each one is also logged at `warn` level with HDF5's reason). Zero when the
/// collective path works as intended.
pub fn collective_fallbacks() -> u64 {
    COLLECTIVE_FALLBACKS.load(Ordering::Relaxed)
}

/// How the ranks' blocks reach the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoMode {
    /// One collective MPI-IO transfer per dataset (two-phase I/O in ROMIO). The default.
    Collective,
    /// Each rank writes its own hyperslab independently (`write_slice`).
    Independent,
}

impl IoMode {
    /// Both modes.
    pub const ALL: [IoMode; 2] = [IoMode::Collective, IoMode::Independent];

    /// Lower-case name (`collective`, `independent`).
    pub fn name(self) -> &'static str {
        match self {
            IoMode::Collective => "collective",
            IoMode::Independent => "independent",
        }
    }
}

impl std::str::FromStr for IoMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IoMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown I/O mode {s:?} (collective or independent)"))
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

/// The global dataset shape of a field on `mesh`.
fn global_shape(mesh: &Mesh) -> Vec<usize> {
    if mesh.dim == 2 {
        vec![mesh.n, mesh.n]
    } else {
        vec![mesh.n]
    }
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

// ---------------------------------------------------------------------------------------------
// Raw HDF5 calls
// ---------------------------------------------------------------------------------------------

/// Runs a raw HDF5 call returning an identifier under the global lock; a negative identifier is
/// an error, described from the HDF5 error stack.
fn h5_id(path: &Path, what: &str, call: impl FnOnce() -> hid_t) -> Result<hid_t, String> {
    hdf5::sync::sync(|| hdf5::h5check(call())).map_err(|e| h5err(path, what, e))
}

/// Runs a raw HDF5 call returning a status under the global lock; negative is an error.
fn h5_status(path: &Path, what: &str, call: impl FnOnce() -> herr_t) -> Result<(), String> {
    hdf5::sync::sync(|| hdf5::h5check(call()))
        .map(|_| ())
        .map_err(|e| h5err(path, what, e))
}

/// An HDF5 identifier (dataspace or property list) that this module opened: closed by
/// [`Handle::close`] (checked) or, on error paths, on drop (best effort).
struct Handle {
    id: hid_t,
    closer: unsafe extern "C" fn(hid_t) -> herr_t,
}

impl Handle {
    fn dataspace(id: hid_t) -> Handle {
        Handle {
            id,
            closer: H5Sclose,
        }
    }

    fn plist(id: hid_t) -> Handle {
        Handle {
            id,
            closer: H5Pclose,
        }
    }

    fn close(mut self, path: &Path) -> Result<(), String> {
        let (id, closer) = (self.id, self.closer);
        self.id = -1;
        h5_status(path, "cannot close an HDF5 handle", || unsafe {
            closer(id)
        })
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.id >= 0 {
            let (id, closer) = (self.id, self.closer);
            hdf5::sync::sync(|| unsafe {
                closer(id);
            });
        }
    }
}

/// Closes every handle, returning the first error (all are closed regardless).
fn close_all(path: &Path, handles: Vec<Handle>) -> Result<(), String> {
    let mut first = Ok(());
    for h in handles {
        let r = h.close(path);
        if first.is_ok() {
            first = r;
        }
    }
    first
}

/// Selects the hyperslab `start`/`count` of a dataspace, or nothing when it is empty.
fn select(path: &Path, space: &Handle, start: &[hsize_t], count: &[hsize_t]) -> Result<(), String> {
    let id = space.id;
    if count.contains(&0) {
        h5_status(path, "cannot select none", || unsafe { H5Sselect_none(id) })
    } else {
        h5_status(path, "cannot select a hyperslab", || unsafe {
            H5Sselect_hyperslab(
                id,
                H5S_seloper_t::H5S_SELECT_SET,
                start.as_ptr(),
                std::ptr::null(),
                count.as_ptr(),
                std::ptr::null(),
            )
        })
    }
}

/// File and memory dataspaces with one rank's share of a transfer selected.
struct Selection {
    file: Handle,
    mem: Handle,
}

impl Selection {
    fn close(self, path: &Path) -> Result<(), String> {
        close_all(path, vec![self.file, self.mem])
    }
}

/// The selections for the block of `field`: the block's hyperslab of dataset `ds` (shape
/// `[n]` or `[n, n]`) and the owned cells of the field's storage `(ny + 2G) x (nx + 2G)`.
fn block_selection(
    path: &Path,
    ds: hid_t,
    mesh: &Mesh,
    block: &Block,
    field: &Field,
) -> Result<Selection, String> {
    let file = Handle::dataspace(h5_id(path, "cannot get the file dataspace", || unsafe {
        H5Dget_space(ds)
    })?);
    let (fstart, fcount): (Vec<hsize_t>, Vec<hsize_t>) = if mesh.dim == 2 {
        (
            vec![block.y0 as hsize_t, block.x0 as hsize_t],
            vec![block.ny as hsize_t, block.nx as hsize_t],
        )
    } else {
        (vec![block.x0 as hsize_t], vec![block.cells() as hsize_t])
    };
    select(path, &file, &fstart, &fcount)?;

    let dims = [
        (field.ny() + 2 * GHOST) as hsize_t,
        field.stride() as hsize_t,
    ];
    // The raw transfer reads or writes through a pointer to this storage: its size must match.
    if dims[0] as usize * dims[1] as usize != field.raw().len() {
        return Err(format!(
            "{}: field storage of {} values is not {}x{}",
            path.display(),
            field.raw().len(),
            dims[0],
            dims[1]
        ));
    }
    let mem = Handle::dataspace(h5_id(
        path,
        "cannot create the memory dataspace",
        || unsafe { H5Screate_simple(2, dims.as_ptr(), std::ptr::null()) },
    )?);
    select(
        path,
        &mem,
        &[GHOST as hsize_t, GHOST as hsize_t],
        &[field.ny() as hsize_t, field.nx() as hsize_t],
    )?;
    Ok(Selection { file, mem })
}

/// The selections for a small replicated dataset of `len` values: everything on rank 0,
/// nothing elsewhere.
fn small_selection(path: &Path, ds: hid_t, len: usize, root: bool) -> Result<Selection, String> {
    let file = Handle::dataspace(h5_id(path, "cannot get the file dataspace", || unsafe {
        H5Dget_space(ds)
    })?);
    let dims = [len as hsize_t];
    let mem = Handle::dataspace(h5_id(
        path,
        "cannot create the memory dataspace",
        || unsafe { H5Screate_simple(1, dims.as_ptr(), std::ptr::null()) },
    )?);
    for space in [&file, &mem] {
        let id = space.id;
        if root {
            h5_status(path, "cannot select all", || unsafe { H5Sselect_all(id) })?;
        } else {
            h5_status(path, "cannot select none", || unsafe { H5Sselect_none(id) })?;
        }
    }
    Ok(Selection { file, mem })
}

/// Direction and buffer of a raw transfer.
enum Buffer {
    Write(*const f64),
    Read(*mut f64),
}

/// One collective transfer of `f64` values between memory and dataset `ds`. Every rank must
/// call it (with an empty selection if it has nothing to move). The selections are prepared and
/// agreed on by the caller, so every rank reaches the collective `H5Dwrite`/`H5Dread`; the
/// outcome is agreed on again afterwards.
fn collective_transfer(
    comm: &Comm,
    path: &Path,
    name: &str,
    ds: hid_t,
    sel: Selection,
    buf: Buffer,
) -> Result<(), String> {
    let prepared = (|| {
        let dxpl = Handle::plist(h5_id(path, "cannot create a transfer list", || unsafe {
            H5Pcreate(*H5P_CLS_DATASET_XFER)
        })?);
        let id = dxpl.id;
        h5_status(path, "cannot request collective MPI-IO", || unsafe {
            H5Pset_dxpl_mpio(id, H5FD_mpio_xfer_t::H5FD_MPIO_COLLECTIVE)
        })?;
        Ok(dxpl)
    })();
    let dxpl = match agree(comm, path, prepared) {
        Ok(dxpl) => dxpl,
        Err(e) => {
            let _ = sel.close(path);
            return Err(e);
        }
    };
    let (mem, file, plist) = (sel.mem.id, sel.file.id, dxpl.id);
    let moved = match buf {
        Buffer::Write(ptr) => h5_status(path, &format!("cannot write dataset {name}"), || unsafe {
            H5Dwrite(
                ds,
                *H5T_NATIVE_DOUBLE,
                mem,
                file,
                plist,
                ptr as *const c_void,
            )
        }),
        Buffer::Read(ptr) => h5_status(path, &format!("cannot read dataset {name}"), || unsafe {
            H5Dread(ds, *H5T_NATIVE_DOUBLE, mem, file, plist, ptr as *mut c_void)
        }),
    };
    if moved.is_ok() {
        check_collective(path, name, plist);
    }
    let closed = close_all(path, vec![dxpl, sel.file, sel.mem]);
    agree(comm, path, moved.and(closed))
}

/// Asks HDF5 whether the last transfer on `dxpl` really was collective; logs and counts a
/// fallback to independent I/O.
fn check_collective(path: &Path, name: &str, dxpl: hid_t) {
    let mut mode: c_int = -1;
    let queried = h5_status(path, "cannot query the MPI-IO mode", || unsafe {
        H5Pget_mpio_actual_io_mode(dxpl, &mut mode)
    });
    if queried.is_err() || mode != H5D_MPIO_NO_COLLECTIVE {
        return;
    }
    COLLECTIVE_FALLBACKS.fetch_add(1, Ordering::Relaxed);
    let (mut local, mut global) = (0u32, 0u32);
    let _ = h5_status(path, "cannot query the no-collective cause", || unsafe {
        H5Pget_mpio_no_collective_cause(dxpl, &mut local, &mut global)
    });
    log::warn!(
        "{}: dataset {name}: HDF5 did the collective transfer independently \
         (H5D_mpio_no_collective_cause local {local:#x}, global {global:#x})",
        path.display()
    );
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Checks the arguments of [`write_global`] on this rank.
fn validate(
    path: &Path,
    mesh: &Mesh,
    block: &Block,
    blocks: &[BlockData],
    small: &[SmallData],
    attrs: &[(&str, AttrValue)],
) -> Result<(), String> {
    let mut names = HashSet::new();
    for name in blocks
        .iter()
        .map(|b| b.name)
        .chain(small.iter().map(|s| s.name))
    {
        if name.is_empty() || name.contains('/') || name == "." {
            return Err(format!("{}: bad dataset name {name:?}", path.display()));
        }
        if !names.insert(name) {
            return Err(format!("{}: dataset {name} given twice", path.display()));
        }
    }
    let mut attr_names = HashSet::new();
    for (name, _) in attrs {
        if name.is_empty() || !attr_names.insert(*name) {
            return Err(format!(
                "{}: attribute name {name:?} empty or given twice",
                path.display()
            ));
        }
    }
    let (ny, nx) = (mesh.ny(), mesh.nx());
    if block.x0 + block.nx > nx || block.y0 + block.ny > ny {
        return Err(format!(
            "{}: block {}+{} x {}+{} outside the {}D grid of {} cells per axis",
            path.display(),
            block.x0,
            block.nx,
            block.y0,
            block.ny,
            mesh.dim,
            mesh.n
        ));
    }
    for b in blocks {
        if b.field.nx() != block.nx || b.field.ny() != block.ny {
            return Err(format!(
                "{}: dataset {}: field is {}x{} but the block is {}x{}",
                path.display(),
                b.name,
                b.field.ny(),
                b.field.nx(),
                block.ny,
                block.nx
            ));
        }
    }
    Ok(())
}

/// Writes global-shaped datasets of every rank's block, small replicated 1D datasets and file
/// attributes to `path`, collectively (every rank calls, with the same names, small data and
/// attributes).
///
/// * `blocks`: each becomes a dataset of shape `[n]` (1D mesh) or `[n, n]` (2D, y then x); the
///   rank's `field` (owned shape = `block`) fills the block's hyperslab. Ranks with an empty
///   block take part with an empty selection.
/// * `small`: each becomes a 1D dataset of `values.len()` values, written by rank 0 only.
/// * `attrs`: scalar attributes of the root group.
/// * `mode`: [`IoMode::Collective`] (one collective MPI-IO transfer per dataset) or
///   [`IoMode::Independent`] (each rank writes its own hyperslab).
///
/// The file is written as `path` + `".tmp"`, closed, fsynced by rank 0, renamed to `path`, and
/// the directory is fsynced. On error (agreed on by all ranks) the temporary file is removed
/// and `path` is left as it was.
#[allow(clippy::too_many_arguments)]
pub fn write_global(
    comm: &Comm,
    path: &Path,
    mesh: &Mesh,
    block: &Block,
    blocks: &[BlockData],
    small: &[SmallData],
    attrs: &[(&str, AttrValue)],
    mode: IoMode,
) -> Result<(), String> {
    agree(
        comm,
        path,
        validate(path, mesh, block, blocks, small, attrs),
    )?;
    let tmp = super::tmp_path(path);
    if let Err(e) = write_tmp(comm, &tmp, mesh, block, blocks, small, attrs, mode) {
        if comm.is_root() {
            let _ = std::fs::remove_file(&tmp);
        }
        return Err(e);
    }
    let persisted = if comm.is_root() {
        super::persist(&tmp, path)
    } else {
        Ok(())
    };
    agree(comm, path, persisted)
}

/// Creates, fills and closes the (temporary) file; the result is the same on every rank.
#[allow(clippy::too_many_arguments)]
fn write_tmp(
    comm: &Comm,
    path: &Path,
    mesh: &Mesh,
    block: &Block,
    blocks: &[BlockData],
    small: &[SmallData],
    attrs: &[(&str, AttrValue)],
    mode: IoMode,
) -> Result<(), String> {
    let created = hdf5::FileBuilder::new()
        .with_fapl(|p| p.mpio(comm.raw(), None))
        .create(path)
        .map_err(|e| h5err(path, "cannot create", e));
    let file = agree(comm, path, created)?;
    let body = write_contents(comm, path, &file, mesh, block, blocks, small, attrs, mode);
    // Closing is collective: every rank closes, whatever happened in between.
    let closed = file.close().map_err(|e| h5err(path, "cannot close", e));
    let closed = agree(comm, path, closed);
    body.and(closed)
}

#[allow(clippy::too_many_arguments)]
fn write_contents(
    comm: &Comm,
    path: &Path,
    file: &hdf5::File,
    mesh: &Mesh,
    block: &Block,
    blocks: &[BlockData],
    small: &[SmallData],
    attrs: &[(&str, AttrValue)],
    mode: IoMode,
) -> Result<(), String> {
    // Dataset creation is a metadata operation: collective, same arguments on every rank.
    let create = |name: &str, shape: Vec<usize>| {
        file.new_dataset::<f64>()
            .shape(shape)
            .fill_time(FillTime::Never)
            .create(name)
            .map_err(|e| h5err(path, &format!("cannot create dataset {name}"), e))
    };
    let created: Result<Vec<hdf5::Dataset>, String> = blocks
        .iter()
        .map(|b| create(b.name, global_shape(mesh)))
        .collect();
    let block_ds = agree(comm, path, created)?;
    let created: Result<Vec<hdf5::Dataset>, String> = small
        .iter()
        .map(|d| create(d.name, vec![d.values.len()]))
        .collect();
    let small_ds = agree(comm, path, created)?;

    for (b, ds) in blocks.iter().zip(&block_ds) {
        match mode {
            IoMode::Collective => {
                let sel = block_selection(path, ds.id(), mesh, block, b.field);
                let sel = agree(comm, path, sel)?;
                let ptr = b.field.raw().as_ptr();
                collective_transfer(comm, path, b.name, ds.id(), sel, Buffer::Write(ptr))?;
            }
            IoMode::Independent => {
                let written = write_independent(path, ds, mesh, block, b);
                agree(comm, path, written)?;
            }
        }
    }

    for (d, ds) in small.iter().zip(&small_ds) {
        if d.values.is_empty() {
            continue;
        }
        match mode {
            IoMode::Collective => {
                let sel = small_selection(path, ds.id(), d.values.len(), comm.is_root());
                let sel = agree(comm, path, sel)?;
                let ptr = d.values.as_ptr();
                collective_transfer(comm, path, d.name, ds.id(), sel, Buffer::Write(ptr))?;
            }
            IoMode::Independent => {
                let written = if comm.is_root() {
                    ds.write_raw(d.values)
                        .map_err(|e| h5err(path, &format!("cannot write dataset {}", d.name), e))
                } else {
                    Ok(())
                };
                agree(comm, path, written)?;
            }
        }
    }

    // Attributes are metadata: every rank creates and writes them, with the same values.
    let written: Result<(), String> = attrs
        .iter()
        .try_for_each(|(name, value)| write_attr(path, file, name, value));
    agree(comm, path, written)
}

/// The independent path: this rank writes its hyperslab with `write_slice` (a copy of the
/// owned block in standard layout).
fn write_independent(
    path: &Path,
    ds: &hdf5::Dataset,
    mesh: &Mesh,
    block: &Block,
    b: &BlockData,
) -> Result<(), String> {
    if block.cells() == 0 {
        return Ok(());
    }
    let owned = b.field.interior().to_owned();
    let written = if mesh.dim == 2 {
        ds.write_slice(
            &owned,
            s![block.y0..block.y0 + block.ny, block.x0..block.x0 + block.nx],
        )
    } else {
        ds.write_slice(&owned.row(0), s![block.x0..block.x0 + block.nx])
    };
    written.map_err(|e| h5err(path, &format!("cannot write dataset {}", b.name), e))
}

fn write_attr(path: &Path, file: &hdf5::File, name: &str, value: &AttrValue) -> Result<(), String> {
    let err = |e| h5err(path, &format!("attribute {name}"), e);
    match value {
        AttrValue::F64(v) => file
            .new_attr::<f64>()
            .create(name)
            .and_then(|a| a.write_scalar(v))
            .map_err(err),
        AttrValue::U64(v) => file
            .new_attr::<u64>()
            .create(name)
            .and_then(|a| a.write_scalar(v))
            .map_err(err),
        AttrValue::Str(v) => {
            let text: VarLenUnicode = v
                .parse()
                .map_err(|e| format!("{}: attribute {name}: {e}", path.display()))?;
            file.new_attr::<VarLenUnicode>()
                .create(name)
                .and_then(|a| a.write_scalar(&text))
                .map_err(err)
        }
    }
}

/// Writes `field` (the owned blocks of every rank) to `path` as dataset `f` with the run's
/// attributes (`t`, `step`, `dt`, `config`, `code_version`, `dim`, `n`, `half_width`, `h`,
/// `process_grid`, `checksum_f` — see [`super::checksum`]), collectively: every rank must
/// call. A thin wrapper of [`write_global`]; errors are agreed on by all ranks (an error on any
/// rank is an error on all).
#[allow(clippy::too_many_arguments)]
pub fn write_field(
    comm: &Comm,
    path: &Path,
    mesh: &Mesh,
    grid: ProcessGrid,
    block: &Block,
    field: &Field,
    meta: &FieldMeta,
    mode: IoMode,
) -> Result<(), String> {
    let attrs = [
        ("t", AttrValue::F64(meta.t)),
        ("step", AttrValue::U64(meta.step)),
        ("dt", AttrValue::F64(meta.dt)),
        ("config", AttrValue::Str(meta.config.clone())),
        ("code_version", AttrValue::Str(super::CODE_VERSION.into())),
        ("dim", AttrValue::U64(mesh.dim as u64)),
        ("n", AttrValue::U64(mesh.n as u64)),
        ("half_width", AttrValue::F64(mesh.half_width)),
        ("h", AttrValue::F64(mesh.h)),
        (
            "process_grid",
            AttrValue::Str(format!("{}x{}", grid.px, grid.py)),
        ),
        (
            "checksum_f",
            AttrValue::Str(super::checksum::hex(super::checksum::field_checksum(
                comm, mesh, block, field,
            ))),
        ),
    ];
    write_global(
        comm,
        path,
        mesh,
        block,
        &[BlockData { name: "f", field }],
        &[],
        &attrs,
        mode,
    )
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

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

fn read_block_from(
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

/// Reads the 1D dataset `name` serially (e.g. a [`SmallData`] written by [`write_global`]).
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
/// [`write_global`], or ASCII).
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

// ---------------------------------------------------------------------------------------------
// A series of fields in one open file (the disk trajectory store)
// ---------------------------------------------------------------------------------------------

/// An HDF5 file kept open for a series of global-shaped fields (one dataset per field), written
/// and read back collectively in any order. Used as scratch storage (the `disk` trajectory
/// store); it is not renamed into place and not checksummed.
pub struct SeriesFile {
    path: std::path::PathBuf,
    file: Option<hdf5::File>,
}

impl SeriesFile {
    /// Creates (truncates) the file (collective).
    pub fn create(comm: &Comm, path: &Path) -> Result<SeriesFile, String> {
        let created = hdf5::FileBuilder::new()
            .with_fapl(|p| p.mpio(comm.raw(), None))
            .create(path)
            .map_err(|e| h5err(path, "cannot create", e));
        let file = agree(comm, path, created)?;
        Ok(SeriesFile {
            path: path.to_path_buf(),
            file: Some(file),
        })
    }

    fn file(&self) -> &hdf5::File {
        self.file
            .as_ref()
            .expect("series file is open until closed")
    }

    /// Writes the owned cells of `field` as the block's hyperslab of a new dataset `name`
    /// (collective; every rank passes the same name).
    pub fn write(
        &mut self,
        comm: &Comm,
        name: &str,
        mesh: &Mesh,
        block: &Block,
        field: &Field,
    ) -> Result<(), String> {
        let path = self.path.clone();
        let created = self
            .file()
            .new_dataset::<f64>()
            .shape(global_shape(mesh))
            .fill_time(FillTime::Never)
            .create(name)
            .map_err(|e| h5err(&path, &format!("cannot create dataset {name}"), e));
        let ds = agree(comm, &path, created)?;
        let sel = block_selection(&path, ds.id(), mesh, block, field);
        let sel = agree(comm, &path, sel)?;
        let ptr = field.raw().as_ptr();
        collective_transfer(comm, &path, name, ds.id(), sel, Buffer::Write(ptr))
    }

    /// Reads dataset `name` into the owned cells of `into` (collective).
    pub fn read(
        &self,
        comm: &Comm,
        name: &str,
        mesh: &Mesh,
        block: &Block,
        into: &mut Field,
    ) -> Result<(), String> {
        read_block_from(comm, &self.path, self.file(), name, mesh, block, into)
    }

    /// Closes and deletes the file (collective).
    pub fn remove(mut self, comm: &Comm) -> Result<(), String> {
        let path = self.path.clone();
        let closed = match self.file.take() {
            Some(file) => file.close().map_err(|e| h5err(&path, "cannot close", e)),
            None => Ok(()),
        };
        agree(comm, &path, closed)?;
        let removed = if comm.is_root() {
            std::fs::remove_file(&path)
                .map_err(|e| format!("{}: cannot remove: {e}", path.display()))
        } else {
            Ok(())
        };
        agree(comm, &path, removed)
    }
}
