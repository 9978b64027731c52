//! Condensation studies (`nlfp study`): the figures of a run ([`analysis`]), the fits behind
//! them ([`fit`]), the spread of runs over the ranks ([`schedule`]), the tables ([`table`]) and
//! the pictures ([`pictures`], through [`crate::plot`]). No MPI and no config types: the driver
//! in `commands::study` does the runs and reads the files.

pub mod analysis;
pub mod fit;
pub mod pictures;
pub mod schedule;
pub mod table;
