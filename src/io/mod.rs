//! Files: parallel HDF5 fields, the diagnostics CSV, sample-coordinate CSVs, particle positions.
//! Data on disk is global-shaped, in global index order, without ghosts.

use std::path::{Path, PathBuf};

pub mod checkpoint;
pub mod checksum;
pub mod csv;
pub mod hdf5;
pub mod particles;
pub mod points;
pub mod samples;
pub mod xdmf;

/// The code version recorded in every output file (`git describe` at build time).
pub const CODE_VERSION: &str = env!("NLFP_VERSION");

/// The temporary name a file is written under before [`persist`] moves it into place.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// fsync of the finished temporary file, rename into place, fsync of the directory.
pub fn persist(tmp: &Path, path: &Path) -> Result<(), String> {
    let synced = std::fs::File::open(tmp).and_then(|f| f.sync_all());
    if let Err(e) = synced {
        let _ = std::fs::remove_file(tmp);
        return Err(format!("{}: cannot fsync: {e}", tmp.display()));
    }
    if let Err(e) = std::fs::rename(tmp, path) {
        let _ = std::fs::remove_file(tmp);
        return Err(format!("{}: cannot rename into place: {e}", path.display()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("{}: cannot fsync the directory: {e}", dir.display()))
}

/// Replaces `path` with `bytes` crash-safely: written to [`tmp_path`], then [`persist`]ed
/// (fsync, rename, fsync of the directory), so readers see the old or the new file, never a
/// partial one.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    persist(&tmp, path)
}
