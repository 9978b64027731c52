//! Restart selection: `--restart PATH` or `auto` (newest valid checkpoint first, invalid ones
//! skipped with their reasons, a refusal never fallen back past).

use std::path::Path;

use super::super::checksum::{checksum_values, hex};
use super::super::hdf5 as h5;
use super::{latest_pointer, list, read_dataset, read_field, read_header, JobKind, Loaded, Saved};
use crate::comm::Comm;
use crate::field::Field;
use crate::layout::Layout;

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

/// Verifies the checkpoint `path` against the job kind `job` and the current `physics`
/// fingerprint and loads it: `f` and every further dataset (this rank's blocks), every checksum
/// verified. Collective; the verdict is the same on every rank.
pub fn try_resume(
    comm: &Comm,
    path: &Path,
    job: JobKind,
    physics: &str,
    layout: &Layout,
) -> Result<Loaded, Rejection> {
    let (mesh, block) = (&layout.mesh, &layout.block);
    let local = read_header(path);
    if comm.any(local.is_err()) {
        return Err(Rejection::Invalid(local.err().unwrap_or_else(|| {
            format!("{}: another rank could not read it", path.display())
        })));
    }
    let (state, datasets) = local.map_err(Rejection::Invalid)?;
    if state.job != job {
        return Err(Rejection::Refused(format!(
            "{}: restart refused: a checkpoint of a `{}` job cannot continue a `{}` job",
            path.display(),
            state.job.name(),
            job.name()
        )));
    }
    let differences = physics_differences(&state.physics, physics);
    if !differences.is_empty() {
        return Err(Rejection::Refused(format!(
            "{}: restart refused: the physics differs from the checkpoint's in {} \
             (only t_end, output cadence, checkpoint settings and the rank count may change)",
            path.display(),
            differences.join(", ")
        )));
    }
    let mut f = Field::for_dim(mesh.dim, block.nz, block.ny, block.nx);
    read_field(comm, path, mesh, block, &mut f).map_err(Rejection::Invalid)?;
    let mut saved = Saved::default();
    for d in datasets {
        if d.name == "f" || d.name == "dt_history" || d.name == "stepper_state" {
            continue;
        }
        if d.field {
            let mut into = Field::for_dim(mesh.dim, block.nz, block.ny, block.nx);
            read_dataset(comm, path, &d.name, mesh, block, &mut into)
                .map_err(Rejection::Invalid)?;
            saved.fields.push((d.name, into));
        } else {
            let local = h5::read_small(path, &d.name).and_then(|v| {
                let want = h5::read_attr_str(path, &format!("checksum_{}", d.name))?;
                let got = hex(checksum_values(&v));
                if want == got {
                    Ok(v)
                } else {
                    Err(format!(
                        "{}: dataset {} fails its checksum (stored {want}, computed {got})",
                        path.display(),
                        d.name
                    ))
                }
            });
            if comm.any(local.is_err()) {
                return Err(Rejection::Invalid(local.err().unwrap_or_else(|| {
                    format!("{}: another rank could not read {}", path.display(), d.name)
                })));
            }
            saved
                .small
                .push((d.name, local.map_err(Rejection::Invalid)?));
        }
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        state,
        f,
        saved,
    })
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

/// `--restart auto|PATH` (`request`) for a job of kind `job` whose checkpoints go to `dir`:
/// the loaded checkpoint ([`Loaded`]: state, `f` and further datasets, this rank's blocks), or
/// `None` (start from `t = 0`) when `auto` finds no checkpoint (module doc). Collective: rank 0
/// lists the directory, every rank tries the same files in the same order. Errors are bad
/// input, the same on every rank.
pub fn resume(
    comm: &Comm,
    request: &str,
    dir: &Path,
    job: JobKind,
    physics: &str,
    layout: &Layout,
) -> Result<Option<Loaded>, String> {
    let attempt = |path: &str| try_resume(comm, Path::new(path), job, physics, layout);
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
    let (selection, skipped) = select(&candidates, attempt);
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
        Selection::Found(path, loaded) => {
            if comm.is_root() {
                log::info!(
                    "restart auto: resuming from {path} ({} phase, step {}, t = {:e})",
                    loaded.state.phase,
                    loaded.state.step,
                    loaded.state.t
                );
            }
            Ok(Some(loaded))
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
