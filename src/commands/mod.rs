//! One file per subcommand; `setup` turns a config into the runtime structs the modules define.
//! Only this module and the config module see config types.

pub mod check;
pub mod compare;
pub mod filter;
pub mod forward;
pub mod generate;
pub mod info;
pub mod initial;
pub mod particles;
pub mod plot;
pub mod runtime;
pub mod setup;
pub mod study;

use std::io::Write;

use crate::cli::Command;
use crate::comm::Comm;
pub use crate::error::CommandError;

/// Runs a subcommand.
pub fn run(comm: &Comm, command: Command) -> Result<(), CommandError> {
    match command {
        Command::Check(args) => check::run(comm, &args),
        Command::Forward { run, restart } => forward::run(comm, &run, restart),
        Command::Study { run, restart } => study::run(comm, &run, restart),
        Command::Particles { run, restart } => particles::run(comm, &run, restart),
        Command::Info { file } => info::run(comm, &file),
        Command::Generate { run, restart } => generate::run(comm, &run, restart),
        Command::Plot(args) => plot::run(comm, &args),
        Command::Filter { run, restart } => filter::run(comm, &run, restart),
        Command::Compare {
            run,
            target,
            t_max,
            out,
            overwrite,
            restart,
        } => compare::run(comm, &run, target, t_max, out, overwrite, restart),
    }
}

/// Rank 0 logs at `info` (or as `-v` / `RUST_LOG` say); other ranks only warn.
pub fn init_logging(comm: &Comm, verbose: u8) {
    let level = match verbose {
        0 => log::LevelFilter::Info,
        1 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level).parse_default_env();
    if !comm.is_root() {
        builder.filter_level(log::LevelFilter::Warn);
    }
    let rank = comm.rank();
    builder.format(move |buf, record| {
        if rank == 0 {
            writeln!(buf, "[{}] {}", record.level(), record.args())
        } else {
            writeln!(buf, "[{} rank {rank}] {}", record.level(), record.args())
        }
    });
    let _ = builder.try_init();
}
