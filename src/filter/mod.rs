//! Density filtering by successive forward–reverse cycles (issue 7).
//!
//! A noisy density (clean data plus seeded noise, [`noise`]) is run through `K` cycles: forward
//! to `T` recording the trajectory, then a reverse variant back to `t = 0` ([`cycle`]). The
//! score-based reverse takes the score of the forward states after a binomial smoothing
//! ([`smooth`]); the error against the clean density is measured per wavenumber band
//! ([`spectrum`]). [`run`] runs the variants and writes the report ([`report`]); the driver is
//! `nlfp filter` (`commands::filter`).

pub mod cycle;
pub mod metrics;
pub mod noise;
pub mod report;
pub mod run;
pub mod smooth;
pub mod spectrum;
