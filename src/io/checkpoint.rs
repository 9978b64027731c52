//! Crash-safe checkpoints: everything needed to continue a run bit for bit, verifiable on load,
//! readable on any rank count and process grid.
//!
//! A checkpoint `ckpt_<step>.h5` holds the global-shaped state `f`, the exact sequence of step
//! sizes `dt_history`, the time stepper's own state `stepper_state` (the implicit step controller), and attributes `t`, `step`, `dt`, the resolved config, the physics
//! fingerprint, the code version, the process grid that wrote it, and a checksum of every
//! dataset. It is written under a temporary name, closed, fsync'ed and renamed (see
//! [`super::hdf5::write_global`]); then the `latest` pointer is replaced atomically the same way,
//! and checkpoints beyond the newest `keep` are deleted.
//!
//! Checksums are those of [`super::checksum`]: order-independent, so a checkpoint written on 4
//! ranks verifies on 3 or on 1.
//!
//! # Restart selection ([`resume`])
//!
//! `--restart PATH` loads that file; any defect is bad input. `--restart auto` tries the
//! checkpoints of the directory newest first ([`select`]): an unreadable, truncated or
//! checksum-failing file is skipped with its reason logged, and the next older one tried; a
//! valid checkpoint of other physics ends the search with a refusal that names the keys (an
//! older checkpoint is never silently used instead); no checkpoint at all starts from `t = 0`;
//! checkpoints that are all invalid are an error.

use std::path::{Path, PathBuf};

use super::checksum::{checksum_values, field_checksum, hex};
use super::hdf5::{self as h5, AttrValue, BlockData, IoMode, SmallData};
use crate::comm::Comm;
use crate::decomp::{Block, ProcessGrid};
use crate::field::Field;
use crate::mesh::Mesh;

/// Format version written to every checkpoint (attribute `format`).
pub const FORMAT_VERSION: u64 = 1;

/// Name of the pointer file holding the newest checkpoint's file name.
pub const LATEST: &str = "latest";

/// What a checkpoint restores besides the field.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointState {
    /// Simulated time.
    pub t: f64,
    /// Steps since `t = 0`.
    pub step: u64,
    /// Every step size since `t = 0`.
    pub dt_history: Vec<f64>,
    /// The resolved config that wrote it (TOML text).
    pub config: String,
    /// Its physics fingerprint (`key = value` lines).
    pub physics: String,
    /// The time stepper's own state (empty for explicit steppers).
    pub stepper_state: Vec<f64>,
}

/// File name of the checkpoint of `step`.
pub fn file_name(step: u64) -> String {
    super::step_file(PREFIX, step)
}

/// File-name prefix of a checkpoint: `ckpt_<step:012>.h5`.
pub const PREFIX: &str = "ckpt_";

/// Everything a checkpoint write needs.
pub struct CheckpointWrite<'a> {
    /// Directory of the checkpoints (created if missing).
    pub dir: &'a Path,
    /// Global grid.
    pub mesh: &'a Mesh,
    /// Process grid that writes.
    pub grid: ProcessGrid,
    /// This rank's block.
    pub block: &'a Block,
    /// The state.
    pub f: &'a Field,
    /// Time, step, dt history, config, physics.
    pub state: &'a CheckpointState,
    /// How many checkpoints to keep.
    pub keep: usize,
    /// MPI-IO mode.
    pub mode: IoMode,
}

/// Writes a checkpoint (collective), updates `latest`, prunes old ones. Returns its path.
pub fn write(comm: &Comm, w: &CheckpointWrite) -> Result<PathBuf, String> {
    comm.on_root(|| {
        std::fs::create_dir_all(w.dir).map_err(|e| {
            format!(
                "cannot create checkpoint directory {}: {e}",
                w.dir.display()
            )
        })
    })?;
    let name = file_name(w.state.step);
    let path = w.dir.join(&name);
    let f_sum = field_checksum(comm, w.mesh, w.block, w.f);
    let dt_sum = checksum_values(&w.state.dt_history);
    let attrs = [
        ("kind", AttrValue::Str("checkpoint".into())),
        ("format", AttrValue::U64(FORMAT_VERSION)),
        ("t", AttrValue::F64(w.state.t)),
        ("step", AttrValue::U64(w.state.step)),
        (
            "dt",
            AttrValue::F64(w.state.dt_history.last().copied().unwrap_or(0.0)),
        ),
        ("config", AttrValue::Str(w.state.config.clone())),
        ("physics", AttrValue::Str(w.state.physics.clone())),
        ("code_version", AttrValue::Str(super::CODE_VERSION.into())),
        (
            "process_grid",
            AttrValue::Str(format!("{}x{}", w.grid.px, w.grid.py)),
        ),
        ("dim", AttrValue::U64(w.mesh.dim as u64)),
        ("n", AttrValue::U64(w.mesh.n as u64)),
        ("half_width", AttrValue::F64(w.mesh.half_width)),
        ("checksum_f", AttrValue::Str(hex(f_sum))),
        ("checksum_dt_history", AttrValue::Str(hex(dt_sum))),
    ];
    h5::write_global(
        comm,
        &path,
        w.mesh,
        w.block,
        &[BlockData {
            name: "f",
            field: w.f,
        }],
        &[
            SmallData {
                name: "dt_history",
                values: &w.state.dt_history,
            },
            SmallData {
                name: "stepper_state",
                values: &w.state.stepper_state,
            },
        ],
        &attrs,
        w.mode,
    )?;
    comm.on_root(|| update_latest(w.dir, &name).and_then(|_| prune(w.dir, w.keep)))?;
    Ok(path)
}

/// Replaces `dir/latest` atomically (see [`super::replace_file`]).
fn update_latest(dir: &Path, name: &str) -> Result<(), String> {
    super::replace_file(&dir.join(LATEST), format!("{name}\n").as_bytes())
}

/// Deletes all but the newest `keep` checkpoints.
fn prune(dir: &Path, keep: usize) -> Result<(), String> {
    for (_, path) in list(dir).into_iter().skip(keep) {
        std::fs::remove_file(&path)
            .map_err(|e| format!("cannot delete old checkpoint {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Checkpoints in `dir`, newest (largest step) first.
pub fn list(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found = super::list_step_files(dir, PREFIX);
    found.reverse();
    found
}

/// The file named by `dir/latest`, if any.
pub fn latest_pointer(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(LATEST))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Reads the attributes of a checkpoint (any rank, serial; cheap).
pub fn read_state(path: &Path) -> Result<CheckpointState, String> {
    let kind = h5::read_attr_str(path, "kind")?;
    if kind != "checkpoint" {
        return Err(format!(
            "{}: not a checkpoint (kind = {kind})",
            path.display()
        ));
    }
    let format = h5::read_attr_u64(path, "format")?;
    if format != FORMAT_VERSION {
        return Err(format!(
            "{}: checkpoint format {format}, this build reads {FORMAT_VERSION}",
            path.display()
        ));
    }
    let dt_history = h5::read_small(path, "dt_history")?;
    let want = h5::read_attr_str(path, "checksum_dt_history")?;
    let got = hex(checksum_values(&dt_history));
    if want != got {
        return Err(format!(
            "{}: dataset dt_history fails its checksum (stored {want}, computed {got})",
            path.display()
        ));
    }
    let step = h5::read_attr_u64(path, "step")?;
    if dt_history.len() as u64 != step {
        return Err(format!(
            "{}: dt_history has {} entries for step {step}",
            path.display(),
            dt_history.len()
        ));
    }
    Ok(CheckpointState {
        t: h5::read_attr_f64(path, "t")?,
        step,
        dt_history,
        config: h5::read_attr_str(path, "config")?,
        physics: h5::read_attr_str(path, "physics")?,
        stepper_state: h5::read_small(path, "stepper_state")?,
    })
}

/// Reads this rank's block of the checkpoint's `f` into `into` and verifies the checksum of the
/// whole dataset (collective). The error is the same on every rank.
pub fn read_field(
    comm: &Comm,
    path: &Path,
    mesh: &Mesh,
    block: &Block,
    into: &mut Field,
) -> Result<(), String> {
    let local = h5::read_block(comm, path, "f", mesh, block, into);
    if comm.any(local.is_err()) {
        return Err(local
            .err()
            .unwrap_or_else(|| format!("{}: another rank failed to read f", path.display())));
    }
    let got = hex(field_checksum(comm, mesh, block, into));
    let want = h5::read_attr_str(path, "checksum_f")?;
    if want != got {
        return Err(format!(
            "{}: dataset f fails its checksum (stored {want}, computed {got})",
            path.display()
        ));
    }
    Ok(())
}

/// Physics keys whose values differ between two fingerprints (`key = value` lines), with both
/// values, for a refusal message.
pub fn physics_differences(stored: &str, current: &str) -> Vec<String> {
    let parse = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (k, v) = l.split_once(" = ")?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect()
    };
    let (a, b) = (parse(stored), parse(current));
    let mut keys: Vec<&String> = a.iter().chain(b.iter()).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let get = |list: &[(String, String)], k: &str| {
        list.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    keys.into_iter()
        .filter_map(|k| {
            let (old, new) = (get(&a, k), get(&b, k));
            (old != new).then(|| {
                format!(
                    "{k} (checkpoint: {}, now: {})",
                    old.unwrap_or_else(|| "unset".into()),
                    new.unwrap_or_else(|| "unset".into())
                )
            })
        })
        .collect()
}

/// Why a checkpoint cannot be resumed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The checkpoint is fine but belongs to other physics: never fall back past it.
    Refused(String),
    /// Unreadable, truncated, or failing a checksum.
    Invalid(String),
}

/// Verifies the checkpoint `path` against the current `physics` fingerprint and reads its field
/// into `f` (this rank's block). Collective; the verdict is the same on every rank.
pub fn try_resume(
    comm: &Comm,
    path: &Path,
    physics: &str,
    mesh: &Mesh,
    block: &Block,
    f: &mut Field,
) -> Result<CheckpointState, Rejection> {
    let local = read_state(path);
    if comm.any(local.is_err()) {
        return Err(Rejection::Invalid(local.err().unwrap_or_else(|| {
            format!("{}: another rank could not read it", path.display())
        })));
    }
    let state = local.map_err(Rejection::Invalid)?;
    let differences = physics_differences(&state.physics, physics);
    if !differences.is_empty() {
        return Err(Rejection::Refused(format!(
            "{}: restart refused: the physics differs from the checkpoint's in {} \
             (only t_end, output cadence, checkpoint settings and the rank count may change)",
            path.display(),
            differences.join(", ")
        )));
    }
    read_field(comm, path, mesh, block, f).map_err(Rejection::Invalid)?;
    Ok(state)
}

/// What `--restart auto` found among the candidates.
#[derive(Debug, PartialEq)]
pub enum Selection<T> {
    /// No candidate at all: start from `t = 0`.
    Empty,
    /// The newest valid candidate and what loading it gave.
    Found(String, T),
    /// A valid candidate of other physics (the refusal): stop.
    Refused(String),
    /// Every candidate is invalid.
    NoneValid,
}

/// Tries `candidates` (newest first) with `attempt` until one loads ([`Selection::Found`]) or
/// one is refused; invalid ones are skipped. Returns the choice and the skipped candidates with
/// their reasons, in the order tried.
pub fn select<T>(
    candidates: &[String],
    mut attempt: impl FnMut(&str) -> Result<T, Rejection>,
) -> (Selection<T>, Vec<(String, String)>) {
    let mut skipped = Vec::new();
    if candidates.is_empty() {
        return (Selection::Empty, skipped);
    }
    for candidate in candidates {
        match attempt(candidate) {
            Ok(value) => return (Selection::Found(candidate.clone(), value), skipped),
            Err(Rejection::Refused(msg)) => return (Selection::Refused(msg), skipped),
            Err(Rejection::Invalid(msg)) => skipped.push((candidate.clone(), msg)),
        }
    }
    (Selection::NoneValid, skipped)
}

/// `--restart auto|PATH` (`request`) for a run whose checkpoints go to `dir`: the checkpoint
/// state, with `f` (this rank's block) read from it, or `None` (start from `t = 0`) when `auto`
/// finds no checkpoint (module doc). Collective: rank 0 lists the directory, every rank tries
/// the same files in the same order. Errors are bad input, the same on every rank.
pub fn resume(
    comm: &Comm,
    request: &str,
    dir: &Path,
    physics: &str,
    mesh: &Mesh,
    block: &Block,
    f: &mut Field,
) -> Result<Option<CheckpointState>, String> {
    let mut attempt = |path: &str| try_resume(comm, Path::new(path), physics, mesh, block, f);
    if request != "auto" {
        return attempt(request).map(Some).map_err(|e| match e {
            Rejection::Refused(msg) | Rejection::Invalid(msg) => msg,
        });
    }
    let listing = if comm.is_root() {
        list(dir)
            .into_iter()
            .map(|(_, p)| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        String::new()
    };
    let listing = String::from_utf8(comm.broadcast_bytes(listing.into_bytes())).unwrap_or_default();
    let candidates: Vec<String> = listing
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if let (true, false, Some(latest)) =
        (comm.is_root(), candidates.is_empty(), latest_pointer(dir))
    {
        log::debug!("restart auto: latest pointer names {latest}");
    }
    let (selection, skipped) = select(&candidates, &mut attempt);
    if comm.is_root() {
        for (candidate, msg) in &skipped {
            log::warn!("restart auto: skipping {candidate}: {msg}");
        }
    }
    match selection {
        Selection::Empty => {
            if comm.is_root() {
                log::info!(
                    "restart auto: no checkpoint in {}; starting from t = 0",
                    dir.display()
                );
            }
            Ok(None)
        }
        Selection::Found(path, state) => {
            if comm.is_root() {
                log::info!(
                    "restart auto: resuming from {path} (step {}, t = {:e})",
                    state.step,
                    state.t
                );
            }
            Ok(Some(state))
        }
        Selection::Refused(msg) => Err(msg),
        Selection::NoneValid => Err(format!(
            "restart auto: none of the {} checkpoints in {} is valid (see the warnings above); \
             start afresh with --overwrite instead",
            candidates.len(),
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(file_name(42), "ckpt_000000000042.h5");
        let step_of = |name: &str| super::super::step_of_file(PREFIX, name);
        assert_eq!(step_of(&file_name(42)), Some(42));
        assert_eq!(step_of("ckpt_x.h5"), None);
        assert_eq!(step_of("latest"), None);
    }

    #[test]
    fn checkpoints_are_listed_newest_first() {
        let dir = std::env::temp_dir().join(format!("nlfp_ckpt_list_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for step in [60u64, 90, 30] {
            std::fs::write(dir.join(file_name(step)), b"").unwrap();
        }
        std::fs::write(dir.join(LATEST), b"ckpt_000000000090.h5\n").unwrap();
        std::fs::write(dir.join("snap_000000000100.h5"), b"").unwrap();
        let steps: Vec<u64> = list(&dir).into_iter().map(|e| e.0).collect();
        assert_eq!(steps, [90, 60, 30]);
        assert_eq!(
            latest_pointer(&dir).as_deref(),
            Some("ckpt_000000000090.h5")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn selection_takes_the_newest_valid_and_reports_the_skipped() {
        let candidates = names(&["c90", "c60", "c30"]);
        let mut tried = Vec::new();
        let (choice, skipped) = select(&candidates, |c| {
            tried.push(c.to_string());
            match c {
                "c90" => Err(Rejection::Invalid("truncated".into())),
                _ => Ok(c.len()),
            }
        });
        assert_eq!(choice, Selection::Found("c60".into(), 3));
        assert_eq!(skipped, vec![("c90".to_string(), "truncated".to_string())]);
        // Older candidates than the one found are never read.
        assert_eq!(tried, ["c90", "c60"]);
    }

    #[test]
    fn selection_stops_at_a_refusal_and_never_falls_back_past_it() {
        let candidates = names(&["c90", "c60", "c30"]);
        let (choice, skipped) = select(&candidates, |c| match c {
            "c90" => Err(Rejection::Invalid("checksum".into())),
            "c60" => Err(Rejection::Refused("model.gamma differs".into())),
            _ => Ok(()),
        });
        assert_eq!(choice, Selection::Refused("model.gamma differs".into()));
        assert_eq!(skipped.len(), 1);
    }

    #[test]
    fn selection_of_nothing_and_of_only_invalid_ones() {
        let (choice, skipped) = select(&[], |_| Ok(()));
        assert_eq!(choice, Selection::Empty);
        assert!(skipped.is_empty());
        let candidates = names(&["c2", "c1"]);
        let (choice, skipped) = select(&candidates, |c| {
            Err::<(), _>(Rejection::Invalid(format!("{c} bad")))
        });
        assert_eq!(choice, Selection::NoneValid);
        assert_eq!(
            skipped,
            vec![
                ("c2".to_string(), "c2 bad".to_string()),
                ("c1".to_string(), "c1 bad".to_string())
            ]
        );
    }

    #[test]
    fn physics_differences_name_the_keys() {
        let a = "# nlfp physics v1\nmodel.gamma = 2.0\ngrid.n = 31\n";
        let b = "# nlfp physics v1\nmodel.gamma = 2.5\ngrid.n = 31\n";
        assert_eq!(
            physics_differences(a, b),
            vec!["model.gamma (checkpoint: 2.0, now: 2.5)".to_string()]
        );
        assert!(physics_differences(a, a).is_empty());
    }
}
