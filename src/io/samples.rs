//! Generated samples on disk (written serially by one process, e.g. rank 0):
//!
//! * `samples.h5`: dataset `samples` of shape `[N, dim]` (row `k` = sample `k`), attributes
//!   `seed`, `dim`, `h` (the cell width: each sample is uniform inside its cell), `config`
//!   and `code_version`;
//! * `samples.csv`: a header `x` or `x,y`, then one sample per line (17 significant digits,
//!   so the text round-trips to the same `f64`); readable as `initial.kind = "points"`.
//!
//! Both are written to a temporary name and moved into place ([`super::persist`]).

use std::io::Write;
use std::path::Path;

use super::hdf5::{read_table, write_table, AttrValue};

/// Metadata stored with the samples.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplesMeta {
    /// `reverse.seed`.
    pub seed: u64,
    /// Cell width.
    pub h: f64,
    /// The resolved config.
    pub config: String,
}

fn rows(points: &[[f64; 2]], dim: usize) -> Vec<f64> {
    points.iter().flat_map(|p| p[..dim].to_vec()).collect()
}

/// Writes `samples.h5`-style data to `path`.
pub fn write_h5(
    path: &Path,
    points: &[[f64; 2]],
    dim: usize,
    meta: &SamplesMeta,
) -> Result<(), String> {
    let attrs = [
        ("seed", AttrValue::U64(meta.seed)),
        ("dim", AttrValue::U64(dim as u64)),
        ("h", AttrValue::F64(meta.h)),
        ("config", AttrValue::Str(meta.config.clone())),
        ("code_version", AttrValue::Str(super::CODE_VERSION.into())),
    ];
    let shape = [points.len(), dim];
    write_table(path, "samples", shape, &rows(points, dim), &attrs)
}

/// Writes the samples as CSV to `path`.
pub fn write_csv(path: &Path, points: &[[f64; 2]], dim: usize) -> Result<(), String> {
    let tmp = super::tmp_path(path);
    let written = (|| -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        writeln!(w, "{}", if dim == 2 { "x,y" } else { "x" })?;
        for p in points {
            if dim == 2 {
                writeln!(w, "{:.17e},{:.17e}", p[0], p[1])?;
            } else {
                writeln!(w, "{:.17e}", p[0])?;
            }
        }
        w.flush()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{}: {e}", path.display()));
    }
    super::persist(&tmp, path)
}

/// Reads `samples.h5` (serially): one `[x, y]` per sample (`y = 0` in 1D).
pub fn read_h5(path: &Path) -> Result<Vec<[f64; 2]>, String> {
    let ([_, dim], values) = read_table(path, "samples")?;
    if !(dim == 1 || dim == 2) {
        return Err(format!(
            "{}: dataset samples has {dim} columns, expected [N, 1] or [N, 2]",
            path.display()
        ));
    }
    Ok(values
        .chunks_exact(dim)
        .map(|c| [c[0], if dim == 2 { c[1] } else { 0.0 }])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips_through_the_points_reader() {
        let dir = tempfile::tempdir().unwrap();
        let pts = vec![[0.1, -2.0 / 3.0], [1e-300, 5.5], [-3.25, 0.0]];
        let p = dir.path().join("s.csv");
        write_csv(&p, &pts, 2).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let back = crate::io::points::parse_points_csv(&text, 2, "s.csv").unwrap();
        assert_eq!(back, pts);
        write_csv(&p, &pts, 1).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let back = crate::io::points::parse_points_csv(&text, 1, "s.csv").unwrap();
        assert_eq!(
            back.iter().map(|p| p[0]).collect::<Vec<_>>(),
            [0.1, 1e-300, -3.25]
        );
    }
}
