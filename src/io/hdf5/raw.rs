//! Raw `hdf5-sys` calls: handles closed on every path, hyperslab selections of a block (or of
//! a small replicated dataset) and the collective transfer with its fallback check.

use std::ffi::c_void;
use std::os::raw::c_int;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

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

use super::{agree, h5err};
use crate::comm::Comm;
use crate::decomp::Block;
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
pub(super) struct Selection {
    file: Handle,
    mem: Handle,
}

impl Selection {
    fn close(self, path: &Path) -> Result<(), String> {
        close_all(path, vec![self.file, self.mem])
    }
}

/// The selections for the block of `field`: the block's hyperslab of dataset `ds` (shape
/// `[n]`, `[n, n]` or `[n, n, n]`, index order z, y, x) and the owned cells of the field's
/// storage `(ny + 2G) x (nx + 2G)` (in 3D `(nz + 2G) x (ny + 2G) x (nx + 2G)`).
pub(super) fn block_selection(
    path: &Path,
    ds: hid_t,
    mesh: &Mesh,
    block: &Block,
    field: &Field,
) -> Result<Selection, String> {
    let file = Handle::dataspace(h5_id(path, "cannot get the file dataspace", || unsafe {
        H5Dget_space(ds)
    })?);
    let (fstart, fcount): (Vec<hsize_t>, Vec<hsize_t>) = match mesh.dim {
        3 => (
            vec![
                block.z0 as hsize_t,
                block.y0 as hsize_t,
                block.x0 as hsize_t,
            ],
            vec![
                block.nz as hsize_t,
                block.ny as hsize_t,
                block.nx as hsize_t,
            ],
        ),
        2 => (
            vec![block.y0 as hsize_t, block.x0 as hsize_t],
            vec![block.ny as hsize_t, block.nx as hsize_t],
        ),
        _ => (vec![block.x0 as hsize_t], vec![block.cells() as hsize_t]),
    };
    select(path, &file, &fstart, &fcount)?;
    if mesh.dim == 3 {
        return volume_selection(path, file, field);
    }

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

/// [`block_selection`] of a 3D field: the owned box of its `(nz + 2G) x (ny + 2G) x (nx + 2G)`
/// storage.
fn volume_selection(path: &Path, file: Handle, field: &Field) -> Result<Selection, String> {
    let dims = [
        (field.nz() + 2 * field.gz()) as hsize_t,
        (field.ny() + 2 * GHOST) as hsize_t,
        field.stride() as hsize_t,
    ];
    if dims.iter().product::<hsize_t>() as usize != field.raw().len() || field.gz() != GHOST {
        return Err(format!(
            "{}: field storage of {} values is not {}x{}x{}",
            path.display(),
            field.raw().len(),
            dims[0],
            dims[1],
            dims[2]
        ));
    }
    let mem = Handle::dataspace(h5_id(
        path,
        "cannot create the memory dataspace",
        || unsafe { H5Screate_simple(3, dims.as_ptr(), std::ptr::null()) },
    )?);
    select(
        path,
        &mem,
        &[GHOST as hsize_t; 3],
        &[
            field.nz() as hsize_t,
            field.ny() as hsize_t,
            field.nx() as hsize_t,
        ],
    )?;
    Ok(Selection { file, mem })
}

/// The selections for a small replicated dataset of `len` values: everything on rank 0,
/// nothing elsewhere.
pub(super) fn small_selection(
    path: &Path,
    ds: hid_t,
    len: usize,
    root: bool,
) -> Result<Selection, String> {
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
pub(super) enum Buffer {
    Write(*const f64),
    Read(*mut f64),
}

/// One collective transfer of `f64` values between memory and dataset `ds`. Every rank must
/// call it (with an empty selection if it has nothing to move). The selections are prepared and
/// agreed on by the caller, so every rank reaches the collective `H5Dwrite`/`H5Dread`; the
/// outcome is agreed on again afterwards.
pub(super) fn collective_transfer(
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
