//! Snapshots of a run: `snapshots/snap_<step>.h5` (the global-shaped field, written through
//! the run's [`RunDir`]) listed in the XDMF index `snapshots.xdmf` next to them, which ParaView
//! and VisIt open as a time series ([`super::xdmf`]). One writer for every command that writes
//! snapshots (`forward`, `study`, `particles`, `generate`'s forward phase when asked).
//!
//! A resumed run keeps the snapshots up to its restart step and removes later ones (they
//! belonged to the interrupted run's future): [`SnapshotWriter::resume`].

use std::path::{Path, PathBuf};

use super::hdf5::read_attr_f64;
use super::run_dir::{RunDir, Stamp};
use super::xdmf::{self, SnapshotEntry};
use crate::comm::Comm;
use crate::field::Field;

/// Subdirectory of the run directory holding the snapshots.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// The snapshot index, in the run directory.
pub const INDEX: &str = "snapshots.xdmf";

/// File-name prefix of a snapshot: `snap_<step:012>.h5`.
pub const PREFIX: &str = "snap_";

/// The snapshot files of the run directory `dir` as `(step, path)`, in step order.
pub fn list(dir: &Path) -> Vec<(u64, PathBuf)> {
    super::list_step_files(&dir.join(SNAPSHOT_DIR), PREFIX)
}

/// Writes snapshots and keeps their index current.
#[derive(Debug, Default)]
pub struct SnapshotWriter {
    /// The index (rank 0's; empty elsewhere).
    entries: Vec<SnapshotEntry>,
}

impl SnapshotWriter {
    /// A writer for a fresh run (an empty index).
    pub fn new() -> SnapshotWriter {
        SnapshotWriter::default()
    }

    /// A writer for a run resumed at `step` in `dir` (rank 0 lists the snapshots up to `step`
    /// and removes later ones; other ranks keep no index).
    pub fn resume(comm: &Comm, dir: &Path, step: u64) -> SnapshotWriter {
        if !comm.is_root() {
            return SnapshotWriter::new();
        }
        let mut entries = Vec::new();
        for (s, path) in list(dir) {
            if s > step {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if let Ok(t) = read_attr_f64(&path, "t") {
                entries.push(SnapshotEntry {
                    step: s,
                    t,
                    file: entry_file(s),
                });
            }
        }
        SnapshotWriter { entries }
    }

    /// The steps listed in the index (rank 0).
    pub fn steps(&self) -> Vec<u64> {
        self.entries.iter().map(|e| e.step).collect()
    }

    /// Writes the snapshot of `f` at `stamp` into `run` and rewrites the index. Collective;
    /// every error is agreed on by every rank. A field holding a non-finite value on any rank is
    /// not written (an error): a snapshot is never NaN.
    pub fn write(
        &mut self,
        comm: &Comm,
        run: &RunDir,
        f: &Field,
        stamp: Stamp,
    ) -> Result<(), String> {
        let bad = !f.interior3().iter().all(|v| v.is_finite());
        if comm.any(bad) {
            return Err(format!(
                "snapshot at step {} (t = {:e}): the density holds a non-finite value; not written",
                stamp.step, stamp.t
            ));
        }
        let dir = run.join(SNAPSHOT_DIR);
        comm.on_root(|| {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))
        })?;
        let file = entry_file(stamp.step);
        run.write_field(comm, &file, f, stamp)?;
        comm.on_root(|| {
            self.entries.retain(|e| e.step != stamp.step);
            self.entries.push(SnapshotEntry {
                step: stamp.step,
                t: stamp.t,
                file,
            });
            xdmf::write(&run.join(INDEX), run.mesh(), &self.entries)
                .map_err(|e| format!("snapshot index: {e}"))
        })
    }
}

/// `snapshots/snap_<step>.h5`: the file of a snapshot, relative to the run directory.
fn entry_file(step: u64) -> String {
    format!("{SNAPSHOT_DIR}/{}", super::step_file(PREFIX, step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_files_are_listed_in_step_order() {
        let dir = std::env::temp_dir().join(format!("nlfp_snapshots_{}", std::process::id()));
        let snaps = dir.join(SNAPSHOT_DIR);
        std::fs::create_dir_all(&snaps).unwrap();
        for step in [40u64, 0, 20] {
            std::fs::write(dir.join(entry_file(step)), b"").unwrap();
        }
        std::fs::write(snaps.join("snap_000000000060.h5.tmp"), b"").unwrap();
        std::fs::write(snaps.join("pos_000000000010.h5"), b"").unwrap();
        let listed: Vec<u64> = list(&dir).into_iter().map(|e| e.0).collect();
        assert_eq!(listed, [0, 20, 40]);
        assert_eq!(entry_file(20), "snapshots/snap_000000000020.h5");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
