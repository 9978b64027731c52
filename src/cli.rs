//! Command line.

use std::path::{Path, PathBuf};

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
        /// Config, overrides and output directory.
        #[command(flatten)]
        run: RunOutArgs,
        /// Continue from a checkpoint: `auto` = the newest valid one in the checkpoint directory
        /// (or from t = 0 when there is none yet), or the path of a checkpoint file.
        #[arg(long, value_name = "auto|PATH")]
        restart: Option<String>,
    },
    /// Run a condensation study: the Cartesian product of the lists in the config's [study]
    /// section, each run a forward sweep into OUT/runs/<name>/ (plus a refined companion for
    /// supercritical runs), summarised in OUT/study.csv and OUT/study.md.
    Study {
        /// Config, overrides and output directory.
        #[command(flatten)]
        run: RunOutArgs,
        /// `auto`: continue an interrupted study: finished runs are kept, interrupted ones go on
        /// from their newest checkpoint, the others start (the only value accepted).
        #[arg(long, value_name = "auto|PATH")]
        restart: Option<String>,
    },
    /// Run the interacting particle system (the microscopic model whose mean-field limit is the
    /// forward PDE): particles drawn from the initial density, pushed to `time.t_end`; writes the
    /// deposited density (same layout as `forward`), diagnostics and particle positions.
    Particles {
        /// Config, overrides and output directory.
        #[command(flatten)]
        run: RunOutArgs,
        /// Continue from a checkpoint: `auto` = the newest valid one in the checkpoint directory
        /// (or from t = 0 when there is none yet), or the path of a checkpoint file.
        #[arg(long, value_name = "auto|PATH")]
        restart: Option<String>,
    },
    /// Generate: forward from the data to T recording the trajectory, then the reverse sweep
    /// from the start state of `reverse.start` (default: the data-independent asymptotic state)
    /// back to t = 0. Checkpoints in both phases (SIGTERM: checkpoint and exit 75).
    Generate {
        /// Config, overrides and output directory.
        #[command(flatten)]
        run: RunOutArgs,
        /// Continue from a checkpoint: `auto` = the newest valid one in the checkpoint directory
        /// (or from t = 0 when there is none yet), or the path of a checkpoint file.
        #[arg(long, value_name = "auto|PATH")]
        restart: Option<String>,
    },
    /// Density filtering: a noisy version of the `[initial]` density (seeded noise of
    /// `[filter]`) through `filter.cycles` forward–reverse cycles, for every reverse variant of
    /// `filter.variant`; reports the L1 distance to the clean density, total variation, mass, min
    /// and the error spectrum per cycle (filter.csv, filter.md, PNG pictures).
    Filter {
        /// Config, overrides and output directory.
        #[command(flatten)]
        run: RunOutArgs,
        /// Continue from a checkpoint: `auto` = the newest valid one in the checkpoint directory
        /// (or from the start when there is none yet); filter checkpoints at cycle boundaries, or the path of a checkpoint file.
        #[arg(long, value_name = "auto|PATH")]
        restart: Option<String>,
    },
    /// Nonlinear model vs the OU baseline (kappa = 0) on the same data and grid: the horizon T
    /// and the wall time each needs to reconstruct the data to a relative L1 error target.
    Compare {
        /// Config and overrides (the nonlinear run; the OU run sets kappa = 0 and keeps m).
        #[command(flatten)]
        run: RunArgs,
        /// Relative L1 reconstruction error target: ||u(0) - f0||_1 <= target * m.
        #[arg(long, default_value_t = 1e-3)]
        target: f64,
        /// Largest horizon T tried.
        #[arg(long = "t-max", default_value_t = 64.0)]
        t_max: f64,
        /// Output directory (default: `output.dir`/compare).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Allow replacing results already in the output directories.
        #[arg(long)]
        overwrite: bool,
        /// `auto`: continue an interrupted comparison (finished probes are kept, the
        /// interrupted one resumes from its newest checkpoint).
        #[arg(long, value_name = "auto")]
        restart: Option<String>,
    },
    /// Print what an nlfp HDF5 file holds (kind, step, t, grid, config) and whether its
    /// checksums are valid.
    Info {
        /// The file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Draw PNG pictures: of a snapshot, final or checkpoint file the heat map (2D) or line (1D)
    /// of f and its radial log-log profile with the |x|^(-2/gamma) line; of a diagnostics CSV
    /// the time series (max f, ||f||_2, centre mass, entropy against t); of a run directory
    /// both (its diagnostics.csv and final.h5).
    Plot(PlotArgs),
}

/// What `nlfp plot` draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlotWhat {
    /// The density: heat map (2D) or line (1D).
    Field,
    /// The radial profile (|x|, f) on log-log axes with C |x|^(-2/gamma).
    Radial,
    /// Diagnostics columns against t, one panel each.
    Series,
}

/// Arguments of `nlfp plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// An HDF5 snapshot, final or checkpoint file, a diagnostics CSV, or a run directory.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where the pictures go: a directory (created if missing; default: the directory of
    /// FILE), or a `.png` path (with several pictures, `<stem>_<what>.png` next to it).
    #[arg(long, value_name = "DIR|PNG")]
    pub out: Option<PathBuf>,
    /// Log10 colour scale for the heat map (log vertical axis for a 1D field).
    #[arg(long)]
    pub log: bool,
    /// Pictures to draw (comma-separated); default: all that FILE allows.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "WHAT")]
    pub what: Vec<PlotWhat>,
    /// Diagnostics columns to plot against t (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "COLUMNS",
        default_value = "max,l2,centre_mass,entropy"
    )]
    pub columns: Vec<String>,
}

/// Where a run writes.
#[derive(Debug, clap::Args)]
pub struct OutArgs {
    /// Output directory (overrides `output.dir`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Allow replacing results already in the output directory.
    #[arg(long)]
    pub overwrite: bool,
}

impl OutArgs {
    /// `--out`, or `default` (the config's `output.dir`).
    pub fn dir_or(&self, default: &Path) -> PathBuf {
        self.out.clone().unwrap_or_else(|| default.to_path_buf())
    }
}

/// A config file with its overrides, and where the run writes.
#[derive(Debug, clap::Args)]
pub struct RunOutArgs {
    /// Config and overrides.
    #[command(flatten)]
    pub run: RunArgs,
    /// Output directory and overwrite permission.
    #[command(flatten)]
    pub output: OutArgs,
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
