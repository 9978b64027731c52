//! How a run fails, and so which exit code the binary returns (`main.rs`): the one error type
//! of the commands and of the library runs they call (generate, forward, study, particles).

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

impl CommandError {
    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            CommandError::Input(m)
            | CommandError::Runtime(m)
            | CommandError::Fatal(m)
            | CommandError::Requeue(m) => m,
        }
    }
}
