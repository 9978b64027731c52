//! An HDF5 file kept open for a series of global-shaped fields.

use std::path::Path;

use hdf5::dataset::FillTime;

use super::raw::{block_selection, collective_transfer, Buffer};
use super::read::read_block_from;
use super::{agree, global_shape, h5err};
use crate::comm::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::io::space;
use crate::mesh::Mesh;

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
        Self::with_builder(comm, path, "cannot create", |b| b.create(path))
    }

    /// Opens the existing file read-write (collective): the scratch file of an interrupted
    /// run; datasets written again are overwritten in place.
    pub fn open(comm: &Comm, path: &Path) -> Result<SeriesFile, String> {
        Self::with_builder(comm, path, "cannot open", |b| b.open_rw(path))
    }

    /// The file `make` creates or opens with the MPI-IO driver, agreed on by every rank.
    fn with_builder(
        comm: &Comm,
        path: &Path,
        what: &str,
        make: impl FnOnce(&mut hdf5::FileBuilder) -> hdf5::Result<hdf5::File>,
    ) -> Result<SeriesFile, String> {
        let mut builder = hdf5::FileBuilder::new();
        builder.with_fapl(|p| p.mpio(comm.raw(), None));
        let made = make(&mut builder).map_err(|e| h5err(path, what, e));
        let file = agree(comm, path, made)?;
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
    /// (collective; every rank passes the same name). A full disk is an agreed error found
    /// before the write ([`space::ensure_space`]); a write that fails in the open file ends the
    /// job ([`Comm::fatal`]: parallel HDF5 cannot close it safely).
    pub fn write(
        &mut self,
        comm: &Comm,
        name: &str,
        mesh: &Mesh,
        block: &Block,
        field: &Field,
    ) -> Result<(), String> {
        let path = self.path.clone();
        space::ensure_space(comm, &path, 8 * mesh.cells() as u64)?;
        let written = self.write_dataset(comm, name, mesh, block, field);
        if let Err(e) = written {
            comm.fatal(&format!(
                "{e} (the file cannot be closed safely: ending the job)"
            ));
        }
        Ok(())
    }

    fn write_dataset(
        &mut self,
        comm: &Comm,
        name: &str,
        mesh: &Mesh,
        block: &Block,
        field: &Field,
    ) -> Result<(), String> {
        let path = self.path.clone();
        let created = if self.file().link_exists(name) {
            // Written before an interruption: the same shape, overwritten in place.
            self.file()
                .dataset(name)
                .map_err(|e| h5err(&path, &format!("cannot open dataset {name}"), e))
        } else {
            self.file()
                .new_dataset::<f64>()
                .shape(global_shape(mesh))
                .fill_time(FillTime::Never)
                .create(name)
                .map_err(|e| h5err(&path, &format!("cannot create dataset {name}"), e))
        };
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
            Some(file) => {
                let _watch = space::Watchdog::start(&path, "closing", comm.rank(), space::GRACE);
                file.close().map_err(|e| h5err(&path, "cannot close", e))
            }
            None => Ok(()),
        };
        if let Err(e) = agree(comm, &path, closed) {
            comm.fatal(&format!("{e} (ending the job)"));
        }
        let removed = if comm.is_root() {
            std::fs::remove_file(&path)
                .map_err(|e| format!("{}: cannot remove: {e}", path.display()))
        } else {
            Ok(())
        };
        agree(comm, &path, removed)
    }
}
