//! A run's output directory: the one place that decides whether a directory may be (re)used,
//! creates it, clears what a fresh run replaces, and writes the resolved `config.toml`; and
//! the writer of the run's global-shaped field files in it ([`RunDir`]).
//!
//! # Reuse rules ([`prepare`])
//!
//! * a path that exists and is not a directory is refused;
//! * a directory holding any of the command's result files ([`DirRules::results`]) is refused
//!   unless `replace` (`--overwrite`, or `--restart` for `forward`); the message names the files
//!   found and how to go on;
//! * otherwise the directory is created (with its parents); with `replace`, the `.h5` files (and
//!   the files named in [`DirRules::extra`]) of the subdirectories [`DirRules::clear`] inside
//!   the directory (never outside it) and the snapshot index are removed, so a fresh run never
//!   lists an older run's files. Checkpoint directories are cleared by
//!   [`super::checkpoint::clear`] (only this run's checkpoints, wherever they are).

use std::path::{Path, PathBuf};

use super::csv::CsvWriter;
use super::hdf5::{write_field, FieldMeta, IoMode};
use super::lock;
use super::snapshots::INDEX;
use crate::comm::Comm;
use crate::decomp::{Block, ProcessGrid};
use crate::error::CommandError;
use crate::field::Field;
use crate::layout::Layout;
use crate::mesh::Mesh;

/// What a command's output directory holds, for the reuse rules of [`prepare`].
#[derive(Clone, Debug, Default)]
pub struct DirRules<'a> {
    /// Files whose presence marks an earlier run's results: the directory is not reused
    /// without `replace`.
    pub results: &'a [&'a str],
    /// Completes the refusal: "choose another with --out DIR{hint} or pass --overwrite".
    pub hint: &'a str,
    /// Subdirectories (relative to the directory, or absolute) cleared on `replace`.
    pub clear: Vec<PathBuf>,
    /// Files removed from the `clear` subdirectories besides the `.h5` files.
    pub extra: &'a [&'a str],
}

/// Refuses a path that exists and is not a directory.
pub fn check_is_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "output directory {} exists and is not a directory",
            dir.display()
        ));
    }
    Ok(())
}

/// The names among `files` that exist in `dir`, in the order given.
pub fn existing(dir: &Path, files: &[&str]) -> Vec<String> {
    files
        .iter()
        .filter(|name| dir.join(name).exists())
        .map(|name| name.to_string())
        .collect()
}

/// The refusal to reuse `dir`, which holds `listed`.
pub fn refusal(dir: &Path, listed: &str, hint: &str) -> String {
    format!(
        "output directory {} already holds {listed}; choose another with --out DIR{hint} \
         or pass --overwrite",
        dir.display()
    )
}

/// Applies the reuse rules (module doc) to `dir` and creates it (rank 0's work).
pub fn prepare(dir: &Path, rules: &DirRules, replace: bool) -> Result<(), String> {
    check_is_dir(dir)?;
    let found = existing(dir, rules.results);
    if !found.is_empty() && !replace {
        return Err(refusal(dir, &found.join(", "), rules.hint));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create output directory {}: {e}", dir.display()))?;
    if replace && !rules.clear.is_empty() {
        for sub in &rules.clear {
            // Never anything outside the output directory (a checkpoint directory there is
            // cleared by `checkpoint::clear`, which deletes only this run's files).
            if !super::checkpoint::inside(&dir.join(sub), dir) {
                continue;
            }
            for entry in std::fs::read_dir(dir.join(sub))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".h5") || rules.extra.contains(&name.as_str()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let _ = std::fs::remove_file(dir.join(INDEX));
    }
    Ok(())
}

/// Creates `dir` (with its parents), takes its lock ([`lock::lock_dir`]) and applies the reuse
/// rules ([`prepare`]): rank 0's work, before anything in `dir` is replaced.
pub fn create_locked(dir: &Path, rules: &DirRules, replace: bool) -> Result<(), String> {
    check_is_dir(dir)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create output directory {}: {e}", dir.display()))?;
    lock::lock_dir(dir)?;
    prepare(dir, rules, replace)
}

/// Time, step and last step size of a field written to a file.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stamp {
    /// Simulated time.
    pub t: f64,
    /// Steps since `t = 0`.
    pub step: u64,
    /// The last step size (0 before the first step).
    pub dt: f64,
}

/// A run's output directory and the layout of the fields it holds: every field file carries
/// the resolved config and is written with the run's HDF5 transfer mode.
pub struct RunDir {
    path: PathBuf,
    config: String,
    io_mode: IoMode,
    layout: Layout,
}

impl RunDir {
    /// The directory `path` of a run on `layout` (mesh, process grid, this rank's block),
    /// whose files carry the resolved `config` (TOML text). Touches nothing on disk.
    pub fn new(path: &Path, config: String, io_mode: IoMode, layout: &Layout) -> RunDir {
        RunDir {
            path: path.to_path_buf(),
            config,
            io_mode,
            layout: layout.clone(),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `name` inside the directory (an absolute `name` replaces it).
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// The resolved config (TOML text).
    pub fn config(&self) -> &str {
        &self.config
    }

    /// Rank 0 creates the directory, takes its lock for the life of the process
    /// ([`lock::lock_dir`]: a second writer is refused) and applies the reuse rules
    /// ([`prepare`]); every rank returns its verdict (an error is bad input: nothing was
    /// written). Then rank 0 writes `config.toml` (an error there is rank 0's alone). Collective.
    pub fn create(&self, comm: &Comm, rules: &DirRules, replace: bool) -> Result<(), CommandError> {
        comm.on_root(|| create_locked(&self.path, rules, replace))
            .map_err(CommandError::Input)?;
        self.write_config(comm).map_err(CommandError::Fatal)
    }

    /// Writes `config.toml` (rank 0 only; an error is rank 0's alone).
    fn write_config(&self, comm: &Comm) -> Result<(), String> {
        if !comm.is_root() {
            return Ok(());
        }
        let path = self.join("config.toml");
        std::fs::write(&path, &self.config).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Creates the CSV `name` with `header` on rank 0 (`None` elsewhere; an error is rank 0's
    /// alone).
    pub fn csv(
        &self,
        comm: &Comm,
        name: &str,
        header: &[&str],
    ) -> Result<Option<CsvWriter>, String> {
        if !comm.is_root() {
            return Ok(None);
        }
        CsvWriter::create(&self.join(name), header).map(Some)
    }

    /// Writes `f` (this rank's block) as the global-shaped dataset `f` of the file `name`
    /// (relative to the directory), with `stamp` and the config as attributes. Collective;
    /// errors are agreed on by every rank.
    pub fn write_field(
        &self,
        comm: &Comm,
        name: &str,
        f: &Field,
        stamp: Stamp,
    ) -> Result<(), String> {
        write_field(
            comm,
            &self.join(name),
            &self.layout,
            f,
            &FieldMeta {
                t: stamp.t,
                step: stamp.step,
                dt: stamp.dt,
                config: self.config.clone(),
            },
            self.io_mode,
        )
    }

    /// Mesh, process grid and this rank's block of the fields.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The grid of the fields.
    pub fn mesh(&self) -> &Mesh {
        &self.layout.mesh
    }

    /// The process grid that writes them.
    pub fn grid(&self) -> ProcessGrid {
        self.layout.grid
    }

    /// This rank's block.
    pub fn block(&self) -> &Block {
        &self.layout.block
    }

    /// The HDF5 transfer mode.
    pub fn io_mode(&self) -> IoMode {
        self.io_mode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nlfp_run_dir_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    const RESULTS: [&str; 3] = ["config.toml", "final.h5", "diagnostics.csv"];

    #[test]
    fn a_fresh_directory_is_created_with_its_parents() {
        let root = scratch("fresh");
        let dir = root.join("a/b");
        let rules = DirRules {
            results: &RESULTS,
            ..DirRules::default()
        };
        prepare(&dir, &rules, false).unwrap();
        assert!(dir.is_dir());
        // An empty existing directory is reused without --overwrite.
        prepare(&dir, &rules, false).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn results_are_not_replaced_without_replace() {
        let dir = scratch("refuse");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("final.h5"), b"x").unwrap();
        std::fs::write(dir.join("config.toml"), b"x").unwrap();
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        let rules = DirRules {
            results: &RESULTS,
            hint: ", continue with --restart auto,",
            ..DirRules::default()
        };
        let e = prepare(&dir, &rules, false).unwrap_err();
        assert_eq!(
            e,
            format!(
                "output directory {} already holds config.toml, final.h5; choose another with \
                 --out DIR, continue with --restart auto, or pass --overwrite",
                dir.display()
            )
        );
        // Nothing was touched.
        assert!(dir.join("final.h5").exists());
        prepare(&dir, &rules, true).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_in_the_way_is_refused() {
        let dir = scratch("file");
        std::fs::write(&dir, b"x").unwrap();
        let e = prepare(&dir, &DirRules::default(), true).unwrap_err();
        assert!(e.ends_with("exists and is not a directory"), "{e}");
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn replace_clears_the_listed_subdirectories_and_the_index() {
        let dir = scratch("clear");
        let (snaps, ckpts, other) = (dir.join("snapshots"), dir.join("ckpt"), dir.join("other"));
        for d in [&snaps, &ckpts, &other] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("x_000000000001.h5"), b"x").unwrap();
            std::fs::write(d.join("keep.txt"), b"x").unwrap();
        }
        std::fs::write(ckpts.join("latest"), b"x").unwrap();
        std::fs::write(dir.join(INDEX), b"x").unwrap();
        std::fs::write(dir.join("final.h5"), b"x").unwrap();
        let rules = DirRules {
            results: &RESULTS,
            clear: vec!["snapshots".into(), ckpts.clone()],
            extra: &["latest"],
            ..DirRules::default()
        };
        prepare(&dir, &rules, true).unwrap();
        assert!(!snaps.join("x_000000000001.h5").exists());
        assert!(!ckpts.join("x_000000000001.h5").exists());
        assert!(!ckpts.join("latest").exists());
        assert!(!dir.join(INDEX).exists());
        // Other files, other subdirectories and the results themselves stay (they are
        // overwritten by the run).
        assert!(snaps.join("keep.txt").exists() && ckpts.join("keep.txt").exists());
        assert!(other.join("x_000000000001.h5").exists());
        assert!(dir.join("final.h5").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_clear_nothing_is_removed() {
        let dir = scratch("noclear");
        std::fs::create_dir_all(dir.join("snapshots")).unwrap();
        std::fs::write(dir.join("snapshots/snap_000000000001.h5"), b"x").unwrap();
        std::fs::write(dir.join(INDEX), b"x").unwrap();
        prepare(&dir, &DirRules::default(), true).unwrap();
        assert!(dir.join("snapshots/snap_000000000001.h5").exists());
        assert!(dir.join(INDEX).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
