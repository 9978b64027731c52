//! Condensation studies (`nlfp study`): the points and runs ([`plan`]), their spread over rank
//! groups and the collection of the outcomes ([`schedule`], [`run`]), the figures of a run
//! ([`analysis`]) and the fits behind them ([`fit`]), the tables ([`table`]) and the pictures
//! ([`pictures`], through [`crate::plot`]). No config types: the driver in `commands::study`
//! turns each planned run into its config and runs it as a forward run
//! ([`crate::sweep::forward_run`]).

pub mod analysis;
pub mod fit;
pub mod pictures;
pub mod plan;
pub mod run;
pub mod schedule;
pub mod table;
