//! Condensation studies (`nlfp study`): the figures of a run ([`analysis`]), the fits behind
//! them ([`fit`]), the spread of runs over the ranks ([`schedule`]) and the tables
//! ([`table`]). Pure code: the driver in `commands::study` does the runs and the files.

pub mod analysis;
pub mod fit;
pub mod schedule;
pub mod table;
