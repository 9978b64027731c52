//! `nlfp`: a domain-decomposed finite-volume solver for the nonlinear Fokker–Planck equation
//!
//! ```text
//! d_t f = D Lap f + div( x f (1 + kappa f^gamma) ),   x in [-L, L]^d,   zero flux on the boundary
//! ```
//!
//! Layering (see `shared/spec/ARCHITECTURE.md`): geometry (`mesh`, `decomp`, `layout`) knows nothing of
//! storage; storage (`field`) nothing of ranks; `comm` is the only module that names MPI; physics
//! kernels (`physics`, `scheme`) are pure functions of local values; only `commands` see the config.

pub mod cli;
pub mod comm;
pub mod commands;
pub mod config;
pub mod decomp;
pub mod diagnostics;
pub mod error;
pub mod field;
pub mod filter;
pub mod generate;
pub mod initial;
pub mod io;
pub mod layout;
pub mod memory;
pub mod mesh;
pub mod names;
pub mod numeric;
pub mod particles;
pub mod physics;
pub mod plot;
pub mod progress;
pub mod random;
pub mod samplers;
pub mod scheme;
pub mod signals;
pub mod simd;
pub mod stats;
pub mod study;
pub mod sweep;
pub mod time;
