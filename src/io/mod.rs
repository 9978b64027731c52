//! Files: parallel HDF5 fields, the diagnostics CSV, sample-coordinate CSVs.
//! Data on disk is global-shaped, in global index order, without ghosts.

pub mod checkpoint;
pub mod checksum;
pub mod csv;
pub mod hdf5;
pub mod points;
pub mod xdmf;

/// The code version recorded in every output file (`git describe` at build time).
pub const CODE_VERSION: &str = env!("NLFP_VERSION");
