//! The per-step diagnostics CSV, written by rank 0 and flushed after every row so a killed run
//! keeps what it measured. Floats are written in Rust's shortest round-trip form, so a value
//! read back is bit-identical to the one computed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A CSV file with a fixed header.
pub struct CsvWriter {
    out: BufWriter<File>,
    path: PathBuf,
    columns: usize,
}

impl CsvWriter {
    /// Creates `path` (failing if it cannot) and writes the header.
    pub fn create(path: &Path, header: &[&str]) -> Result<CsvWriter, String> {
        let file =
            File::create(path).map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
        let mut w = CsvWriter {
            out: BufWriter::new(file),
            path: path.to_path_buf(),
            columns: header.len(),
        };
        w.write_line(&header.join(","))?;
        Ok(w)
    }

    /// Continues an existing CSV after a restart from step `step`: rows of later steps (written
    /// after that checkpoint by the interrupted run) are dropped, the rest kept, and new rows
    /// are appended. A missing file, or one with another header, is started afresh (the old
    /// one, if any, is kept as `<name>.old`).
    pub fn resume(path: &Path, header: &[&str], step: u64) -> Result<CsvWriter, String> {
        let err = |e: std::io::Error| format!("{}: {e}", path.display());
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(_) => return CsvWriter::create(path, header),
        };
        let mut lines = text.lines();
        if lines.next() != Some(header.join(",").as_str()) {
            let mut old = path.as_os_str().to_owned();
            old.push(".old");
            std::fs::rename(path, &old).map_err(err)?;
            return CsvWriter::create(path, header);
        }
        let mut kept = vec![header.join(",")];
        kept.extend(
            lines
                .take_while(|l| {
                    l.split(',')
                        .next()
                        .and_then(|s| s.parse::<u64>().ok())
                        .is_some_and(|s| s < step)
                })
                .map(str::to_string),
        );
        super::replace_file(path, (kept.join("\n") + "\n").as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(err)?;
        Ok(CsvWriter {
            out: BufWriter::new(file),
            path: path.to_path_buf(),
            columns: header.len(),
        })
    }

    /// Appends a row; `None` cells are left empty.
    pub fn row(&mut self, values: &[CsvValue]) -> Result<(), String> {
        debug_assert_eq!(values.len(), self.columns);
        let line: Vec<String> = values.iter().map(CsvValue::render).collect();
        self.write_line(&line.join(","))
    }

    fn write_line(&mut self, line: &str) -> Result<(), String> {
        writeln!(self.out, "{line}")
            .and_then(|_| self.out.flush())
            .map_err(|e| format!("{}: write failed: {e}", self.path.display()))
    }
}

/// One CSV cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CsvValue {
    /// An integer.
    Int(u64),
    /// A float, written round-trip exact.
    Float(f64),
    /// An empty cell (not applicable).
    Empty,
}

impl CsvValue {
    fn render(&self) -> String {
        match self {
            CsvValue::Int(v) => v.to_string(),
            CsvValue::Float(v) => format!("{v:e}"),
            CsvValue::Empty => String::new(),
        }
    }
}

impl From<f64> for CsvValue {
    fn from(v: f64) -> Self {
        CsvValue::Float(v)
    }
}

impl From<Option<f64>> for CsvValue {
    fn from(v: Option<f64>) -> Self {
        v.map_or(CsvValue::Empty, CsvValue::Float)
    }
}
