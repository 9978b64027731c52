//! One file per subcommand; `setup` turns a config into the runtime structs the modules define.
//! Only this module and the config module see config types.

pub mod check;
pub mod compare;
pub mod filter;
pub mod forward;
pub mod generate;
pub mod generate_output;
pub mod info;
pub mod particles;
pub mod plot;
pub mod setup;
pub mod study;

use std::io::Write;

use crate::cli::Command;
use crate::comm::Comm;

/// How a command failed; decides the exit code.
#[derive(Debug)]
pub enum CommandError {
    /// Bad input (config, files, command line), agreed on by every rank: exit code 2.
    Input(String),
    /// A failure every rank knows about (collective I/O error, non-finite density): exit code 1.
    Runtime(String),
    /// A failure only this rank knows about: the job is aborted.
    Fatal(String),
    /// Stopped on request after writing a valid checkpoint: exit code 75 (EX_TEMPFAIL,
    /// "requeue me").
    Requeue(String),
}

/// Creates the output directory `dir`, refusing to reuse one that holds any of `files` unless
/// `replace`; `alternatives` completes the message ("choose another with --out DIR{alternatives}
/// or pass --overwrite"). Also removes every `.h5` file (and any file named in `extra`) from
/// the subdirectories `clear`, and the snapshot index, when `replace` is set and `clear` is not
/// empty.
pub fn prepare_output_dir(
    dir: &std::path::Path,
    files: &[&str],
    replace: bool,
    alternatives: &str,
    clear: &[std::path::PathBuf],
    extra: &[&str],
) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "output directory {} exists and is not a directory",
            dir.display()
        ));
    }
    let existing: Vec<&str> = files
        .iter()
        .copied()
        .filter(|name| dir.join(name).exists())
        .collect();
    if !existing.is_empty() && !replace {
        return Err(format!(
            "output directory {} already holds {}; choose another with --out DIR{alternatives} \
             or pass --overwrite",
            dir.display(),
            existing.join(", ")
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create output directory {}: {e}", dir.display()))?;
    if replace && !clear.is_empty() {
        for sub in clear {
            for entry in std::fs::read_dir(sub).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".h5") || extra.contains(&name.as_str()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let _ = std::fs::remove_file(dir.join("snapshots.xdmf"));
    }
    Ok(())
}

/// Runs a subcommand.
pub fn run(comm: &Comm, command: Command) -> Result<(), CommandError> {
    match command {
        Command::Check(args) => check::run(comm, &args),
        Command::Forward {
            run,
            out,
            overwrite,
            restart,
        } => forward::run(comm, &run, out, overwrite, restart),
        Command::Study {
            run,
            out,
            overwrite,
        } => study::run(comm, &run, out, overwrite),
        Command::Particles {
            run,
            out,
            overwrite,
        } => particles::run(comm, &run, out, overwrite),
        Command::Info { file } => info::run(comm, &file),
        Command::Generate {
            run,
            out,
            overwrite,
        } => generate::run(comm, &run, out, overwrite),
        Command::Plot(args) => plot::run(comm, &args),
        Command::Filter {
            run,
            out,
            overwrite,
        } => filter::run(comm, &run, out, overwrite),
        Command::Compare {
            run,
            target,
            t_max,
            out,
            overwrite,
        } => compare::run(comm, &run, target, t_max, out, overwrite),
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
