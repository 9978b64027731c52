//! `nlfp` binary: parse the command line, start MPI, run the command, map errors to exit codes
//! (2: bad input, reported identically by every rank before any step; 1: run-time failure;
//! 75: stopped on request with a valid checkpoint, requeue me).

use std::process::ExitCode;

use clap::Parser;
use nlfp::cli::Cli;
use nlfp::commands::{self, CommandError};

fn main() -> ExitCode {
    let (mpi, comm) = match nlfp::comm::init() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("nlfp: cannot start MPI: {e}");
            return ExitCode::from(1);
        }
    };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            if comm.is_root() {
                let _ = e.print();
            }
            drop(comm);
            drop(mpi);
            return ExitCode::from(code);
        }
    };
    commands::init_logging(&comm, cli.verbose);
    let result = commands::run(&comm, cli.command);
    let code = match result {
        Ok(()) => 0,
        Err(CommandError::Input(msg)) => {
            // Every rank reached the same verdict from the same broadcast input.
            if comm.is_root() {
                eprintln!("error: {msg}");
            }
            2
        }
        Err(CommandError::Runtime(msg)) => {
            if comm.is_root() {
                eprintln!("error: {msg}");
            }
            1
        }
        Err(CommandError::Requeue(msg)) => {
            if comm.is_root() {
                eprintln!("stopped: {msg}");
            }
            75
        }
        Err(CommandError::Fatal(msg)) => {
            // Seen by this rank only: print and take the whole job down, no rank left hanging.
            eprintln!("error (rank {}): {msg}", comm.rank());
            comm.abort(1);
        }
    };
    drop(comm);
    drop(mpi);
    ExitCode::from(code)
}
