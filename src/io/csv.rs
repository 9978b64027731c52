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
        CsvWriter::resume_keeping(path, header, &|s| s < step)
    }

    /// [`CsvWriter::resume`] keeping the leading rows whose first column `keep` accepts (the
    /// reverse diagnostics, whose steps go down, keep `s >= n`).
    pub fn resume_keeping(
        path: &Path,
        header: &[&str],
        keep: &dyn Fn(u64) -> bool,
    ) -> Result<CsvWriter, String> {
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
                        .is_some_and(keep)
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

/// A numeric CSV table read back (e.g. the diagnostics): the header and one column per header
/// entry; empty or non-numeric cells are NaN.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvTable {
    /// Column names.
    pub header: Vec<String>,
    /// Column values, in header order.
    pub columns: Vec<Vec<f64>>,
}

impl CsvTable {
    /// Reads `path`. A last line with too few cells (a row torn by a killed run) is dropped;
    /// any other row whose length differs from the header's is an error naming the line.
    pub fn read(path: &Path) -> Result<CsvTable, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut lines = text.lines().enumerate();
        let header: Vec<String> = match lines.next() {
            Some((_, h)) if !h.trim().is_empty() => {
                h.split(',').map(|c| c.trim().to_string()).collect()
            }
            _ => return Err(format!("{}: empty file, no CSV header", path.display())),
        };
        let mut columns = vec![Vec::new(); header.len()];
        let rows: Vec<(usize, &str)> = lines.filter(|(_, l)| !l.trim().is_empty()).collect();
        for (k, &(line_no, line)) in rows.iter().enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != header.len() {
                if k + 1 == rows.len() && cells.len() < header.len() {
                    break;
                }
                return Err(format!(
                    "{}: line {} has {} cells, the header has {}",
                    path.display(),
                    line_no + 1,
                    cells.len(),
                    header.len()
                ));
            }
            for (col, cell) in columns.iter_mut().zip(cells) {
                col.push(cell.trim().parse::<f64>().unwrap_or(f64::NAN));
            }
        }
        Ok(CsvTable { header, columns })
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        let k = self.header.iter().position(|h| h == name)?;
        Some(&self.columns[k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_tables_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        let mut w = CsvWriter::create(&path, &["step", "t", "x"]).unwrap();
        w.row(&[CsvValue::Int(0), 0.0.into(), CsvValue::Empty])
            .unwrap();
        w.row(&[CsvValue::Int(1), 0.1.into(), 2.5.into()]).unwrap();
        drop(w);
        // A row torn by a killed run is dropped.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("2,0.2");
        std::fs::write(&path, &text).unwrap();
        let table = CsvTable::read(&path).unwrap();
        assert_eq!(table.header, ["step", "t", "x"]);
        assert_eq!(table.column("t").unwrap(), [0.0, 0.1]);
        let x = table.column("x").unwrap();
        assert!(x[0].is_nan() && x[1] == 2.5);
        assert_eq!(table.column("y"), None);
    }

    #[test]
    fn malformed_tables_are_errors_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, "a,b\n1,2\n1,2,3\n4,5\n").unwrap();
        let err = CsvTable::read(&path).unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        std::fs::write(&path, "").unwrap();
        assert!(CsvTable::read(&path).unwrap_err().contains("header"));
        let missing = dir.path().join("missing.csv");
        assert!(CsvTable::read(&missing)
            .unwrap_err()
            .contains("missing.csv"));
    }
}
