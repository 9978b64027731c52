//! The checkpoint directory of a run: listing, the `latest` pointer, ownership and clearing.

use std::path::{Path, PathBuf};

use super::super::hdf5 as h5;
use super::{LATEST, PREFIX};

/// The canonical form of `dir`: absolute, `.` and `..` resolved (lexically), symbolic links
/// resolved when it exists.
pub fn canonical(dir: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = match dir.is_absolute() {
        true => dir.to_path_buf(),
        false => std::env::current_dir().unwrap_or_default().join(dir),
    };
    let mut out = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    std::fs::canonicalize(&out).unwrap_or(out)
}

/// Checkpoints in `dir`, newest (largest step) first.
pub fn list(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found = super::super::list_step_files(dir, PREFIX);
    found.reverse();
    found
}

/// The file named by `dir/latest`, if any.
pub fn latest_pointer(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(LATEST))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Whether `dir` lies inside `out` (both canonical when they exist).
pub fn inside(dir: &Path, out: &Path) -> bool {
    canonical(dir).starts_with(canonical(out))
}

/// Refuses a checkpoint directory `dir` outside the output directory `out` that holds
/// checkpoints of a run other than the one writing to `out` (rank 0's work; cheap: attributes
/// only). Inside `out` every checkpoint is the run's (a copied or moved run directory goes on).
pub fn check_owner(dir: &Path, out: &Path) -> Result<(), String> {
    if inside(dir, out) {
        return Ok(());
    }
    // Through `out/..` while `out` does not exist yet: list the resolved directory.
    let dir = &canonical(dir);
    let ours = canonical(out).to_string_lossy().into_owned();
    for (_, path) in list(dir) {
        if let Ok(owner) = h5::read_attr_str(&path, "output_dir") {
            if owner != ours {
                return Err(format!(
                    "checkpoint directory {} holds {} of the run in {owner}, not of this run \
                     ({ours}): give each run its own checkpoint.dir",
                    dir.display(),
                    path.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
        }
    }
    Ok(())
}

/// Deletes the checkpoints of `dir` a fresh run replaces (rank 0's work): inside the output
/// directory `out`, every `ckpt_<step>.h5` and `latest`; outside it, only the checkpoints whose
/// `output_dir` attribute is `out` (and `latest`, when it names one of them).
pub fn clear(dir: &Path, out: &Path) {
    let within = inside(dir, out);
    let dir = &canonical(dir);
    let ours = canonical(out).to_string_lossy().into_owned();
    let latest = latest_pointer(dir);
    for (_, path) in list(dir) {
        let owned =
            within || h5::read_attr_str(&path, "output_dir").is_ok_and(|owner| owner == ours);
        if owned {
            let _ = std::fs::remove_file(&path);
            if latest.as_deref() == path.file_name().and_then(|n| n.to_str()) {
                let _ = std::fs::remove_file(dir.join(LATEST));
            }
        }
    }
    if within {
        let _ = std::fs::remove_file(dir.join(LATEST));
    }
}
#[cfg(test)]
mod tests {
    use super::super::file_name;
    use super::*;

    #[test]
    fn a_parent_of_a_directory_not_made_yet_is_outside_it() {
        let root = std::env::temp_dir().join(format!("nlfp_ckpt_inside_{}", std::process::id()));
        let out = root.join("run");
        assert!(!inside(&out.join("../shared"), &out));
        assert!(!inside(&out.join(".."), &out));
        assert!(inside(&out.join("checkpoints"), &out));
        assert!(inside(&out.join("./a/../b"), &out));
        assert_eq!(canonical(&out.join("x/..")), canonical(&out));
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
}
