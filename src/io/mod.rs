//! Files: run directories ([`run_dir`]), parallel HDF5 fields, snapshots with their XDMF index
//! ([`snapshots`]), checkpoints and restart selection ([`checkpoint`]), the diagnostics CSV,
//! sample-coordinate CSVs, particle positions. Data on disk is global-shaped, in global index
//! order, without ghosts. Files numbered by step are named `<prefix><step:012>.h5`
//! ([`step_file`], [`step_of_file`]).

use std::path::{Path, PathBuf};

use crate::comm::Comm;

pub mod checkpoint;
pub mod checksum;
pub mod csv;
pub mod hdf5;
pub mod lock;
pub mod particles;
pub mod points;
pub mod run_dir;
pub mod samples;
pub mod snapshots;
pub mod space;
pub mod xdmf;

/// The code version recorded in every output file (`git describe` at build time).
pub const CODE_VERSION: &str = env!("NLFP_VERSION");

/// `<prefix><step>.h5` with the step in twelve digits (`snap_000000000020.h5`), so the names
/// sort by step.
pub fn step_file(prefix: &str, step: u64) -> String {
    format!("{prefix}{step:012}.h5")
}

/// The step of a file named by [`step_file`] with `prefix`, `None` for any other name.
pub fn step_of_file(prefix: &str, name: &str) -> Option<u64> {
    name.strip_prefix(prefix)?.strip_suffix(".h5")?.parse().ok()
}

/// The files `<prefix><step>.h5` in `dir` as `(step, path)`, in increasing step order (an
/// unreadable or missing directory lists nothing).
pub fn list_step_files(dir: &Path, prefix: &str) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            step_of_file(prefix, &name).map(|s| (s, e.path()))
        })
        .collect();
    found.sort();
    found
}

/// The bytes of the file `path` read by rank 0 and broadcast, so every rank parses the same
/// bytes and reaches the same verdict; `what` names the file in the error. Collective.
pub fn read_on_root(comm: &Comm, path: &Path, what: &str) -> Result<Vec<u8>, String> {
    let local = if comm.is_root() {
        std::fs::read(path).map_err(|e| format!("{}: cannot read {what}: {e}", path.display()))
    } else {
        Ok(Vec::new())
    };
    comm.broadcast_result(local)
}

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
/// partial one. On error the temporary file is removed.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = tmp_path(path);
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{}: {e}", tmp.display()));
    }
    persist(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_file_names_round_trip_and_sort() {
        assert_eq!(step_file("snap_", 20), "snap_000000000020.h5");
        assert_eq!(step_of_file("snap_", "snap_000000000020.h5"), Some(20));
        assert_eq!(step_of_file("snap_", "snap_7.h5"), Some(7));
        for other in [
            "ckpt_000000000020.h5",
            "snap_.h5",
            "snap_12.h5.tmp",
            "snap_x.h5",
        ] {
            assert_eq!(step_of_file("snap_", other), None, "{other}");
        }
        let dir = std::env::temp_dir().join(format!("nlfp_step_files_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "snap_000000000100.h5",
            "snap_000000000003.h5",
            "notes.txt",
            "snap_1.h5",
        ] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let steps: Vec<u64> = list_step_files(&dir, "snap_").iter().map(|e| e.0).collect();
        assert_eq!(steps, [1, 3, 100]);
        assert!(list_step_files(&dir.join("missing"), "snap_").is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
