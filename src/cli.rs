//! Command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// nlfp: MPI finite-volume solver for the nonlinear Fokker–Planck equation
/// `d_t f = D Lap f + div(x f (1 + kappa f^gamma))`.
///
/// Run under `mpirun -n P nlfp ...` or as a single process without mpirun.
#[derive(Debug, Parser)]
#[command(name = "nlfp", version = crate::io::CODE_VERSION, about, long_about = None)]
pub struct Cli {
    /// More log output (`-v` debug, `-vv` trace); `RUST_LOG` also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config; print the resolved values, the process grid, the memory estimate and
    /// the first dt. No time stepping.
    Check(RunArgs),
    /// Run the forward sweep.
    Forward {
        /// Config and overrides.
        #[command(flatten)]
        run: RunArgs,
        /// Output directory (overrides `output.dir`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Allow replacing results already in the output directory.
        #[arg(long)]
        overwrite: bool,
        /// Continue from a checkpoint: `auto` = the newest valid one in the checkpoint directory
        /// (or from t = 0 when there is none yet), or the path of a checkpoint file.
        #[arg(long, value_name = "auto|PATH")]
        restart: Option<String>,
    },
    /// Run the interacting particle system (the microscopic model whose mean-field limit is the
    /// forward PDE): particles drawn from the initial density, pushed to `time.t_end`; writes the
    /// deposited density (same layout as `forward`), diagnostics and particle positions.
    Particles {
        /// Config and overrides (the `[particles]` section).
        #[command(flatten)]
        run: RunArgs,
        /// Output directory (overrides `output.dir`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Allow replacing results already in the output directory.
        #[arg(long)]
        overwrite: bool,
    },
    /// Print what an nlfp HDF5 file holds (kind, step, t, grid, config) and whether its
    /// checksums are valid.
    Info {
        /// The file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// A config file plus command-line overrides.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// TOML config file (every key is documented in configs/defaults.toml).
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
    /// Override a config value: `--set section.key=value` (repeatable), e.g.
    /// `--set grid.n=201 --set time.scheme=upwind`.
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub set: Vec<String>,
}
