//! Generated samples on disk (written serially by one process, e.g. rank 0):
//!
//! * `samples.h5`: dataset `samples` of shape `[N, dim]` (row `k` = sample `k`), attributes
//!   `seed`, `dim`, `h` (the cell width: each sample is uniform inside its cell), `config`
//!   and `code_version`;
//! * `samples.csv`: a header `x`, `x,y` or `x,y,z`, then one sample per line (17 significant digits,
//!   so the text round-trips to the same `f64`); readable as `initial.kind = "points"`.
//!
//! Both are written to a temporary name and moved into place ([`super::persist`]).

use std::io::Write;
use std::path::Path;

use super::hdf5::{read_table, write_table, AttrValue};
use crate::stats::Point;

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

fn rows(points: &[Point], dim: usize) -> Vec<f64> {
    points.iter().flat_map(|p| p[..dim].to_vec()).collect()
}

/// Writes `samples.h5`-style data to `path`.
pub fn write_h5(
    path: &Path,
    points: &[Point],
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

/// Writes the samples as CSV to `path` (the first `dim` coordinates of each point).
pub fn write_csv(path: &Path, points: &[Point], dim: usize) -> Result<(), String> {
    let tmp = super::tmp_path(path);
    let written = (|| -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        writeln!(w, "{}", ["x", "y", "z"][..dim].join(","))?;
        for p in points {
            let line: Vec<String> = p[..dim].iter().map(|v| format!("{v:.17e}")).collect();
            writeln!(w, "{}", line.join(","))?;
        }
        w.flush()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{}: {e}", path.display()));
    }
    super::persist(&tmp, path)
}

/// Reads `samples.h5` (serially): one `[x, y, z]` per sample (missing coordinates 0).
pub fn read_h5(path: &Path) -> Result<Vec<Point>, String> {
    let ([_, dim], values) = read_table(path, "samples")?;
    if !(1..=3).contains(&dim) {
        return Err(format!(
            "{}: dataset samples has {dim} columns, expected [N, 1], [N, 2] or [N, 3]",
            path.display()
        ));
    }
    Ok(values
        .chunks_exact(dim)
        .map(|c| {
            let mut p = [0.0; 3];
            p[..dim].copy_from_slice(c);
            p
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips_through_the_points_reader() {
        let dir = tempfile::tempdir().unwrap();
        let pts = vec![
            [0.1, -2.0 / 3.0, 7.0],
            [1e-300, 5.5, 0.0],
            [-3.25, 0.0, -1e-5],
        ];
        let p = dir.path().join("s.csv");
        write_csv(&p, &pts, 2).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let back = crate::io::points::parse_points_csv(&text, 2, "s.csv").unwrap();
        assert_eq!(back, pts.iter().map(|p| [p[0], p[1]]).collect::<Vec<_>>());
        write_csv(&p, &pts, 3).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("x,y,z\n"), "{text}");
        let back: Vec<Vec<f64>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect();
        assert_eq!(back, pts.iter().map(|p| p.to_vec()).collect::<Vec<_>>());
        write_csv(&p, &pts, 1).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let back = crate::io::points::parse_points_csv(&text, 1, "s.csv").unwrap();
        assert_eq!(
            back.iter().map(|p| p[0]).collect::<Vec<_>>(),
            [0.1, 1e-300, -3.25]
        );
    }
}
