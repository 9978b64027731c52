//! One writer per output directory (issue 17, item 8): rank 0 holds an exclusive advisory lock
//! (`flock`) on `DIR/.nlfp.lock` for the life of the process. The file holds the holder's host
//! and pid, so a second writer (a `--restart auto` started on a running job, an OpenMPI rank
//! still alive after its `mpirun` was killed) is refused with a message naming them. The lock
//! goes with the process (also on a crash or `kill -9`); the file stays, harmlessly.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;

/// The lock file in an output directory.
pub const LOCK_FILE: &str = ".nlfp.lock";

/// Locks held by this process, released when it ends.
static HELD: Mutex<Vec<(std::path::PathBuf, File)>> = Mutex::new(Vec::new());

/// This machine's host name (`?` when unknown).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "?".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Takes the exclusive lock of the existing directory `dir` for the rest of this process
/// (rank 0's work). Taking it again in the same process is a no-op. Refuses, naming the holder
/// (`host`, `pid`), when another process holds it.
pub fn lock_dir(dir: &Path) -> Result<(), String> {
    let path = dir.join(LOCK_FILE);
    let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if held.iter().any(|(k, _)| *k == key) {
        return Ok(());
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("{}: cannot open the lock file: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(format!(
                "output directory {} is in use by another nlfp run ({}); wait for it to end, \
                 stop it, or choose another --out DIR",
                dir.display(),
                if holder.is_empty() {
                    "holder unknown".to_string()
                } else {
                    holder.to_string()
                }
            ));
        }
        Err(TryLockError::Error(e)) => {
            return Err(format!("{}: cannot lock: {e}", path.display()));
        }
    }
    let me = format!("host {}, pid {}", host_name(), std::process::id());
    let written = file
        .set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(format!("{me}\n").as_bytes()));
    written.map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    held.push((key, file));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_and_names_the_holder() {
        let dir = std::env::temp_dir().join(format!("nlfp_lock_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        lock_dir(&dir).unwrap();
        // Same process: no-op.
        lock_dir(&dir).unwrap();
        // Another open file description conflicts, as another process would.
        let other = File::open(dir.join(LOCK_FILE)).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        let text = std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap();
        assert_eq!(
            text,
            format!("host {}, pid {}\n", host_name(), std::process::id())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
