//! A full disk must not hang or crash a collective HDF5 write (issue 17, items 2–4).
//!
//! Parallel HDF5 cannot recover from a failed write: after an `ENOSPC` inside `H5Dwrite` or a
//! metadata flush, the ranks may enter different collectives inside `H5Fclose` (a deadlock), and
//! a file left open makes `MPI_Finalize` crash (HDF5 closes it from a finalize hook). So:
//!
//! * **before** a collective write, rank 0 checks the free space of the file system
//!   ([`ensure_space`]: `statvfs` of the target's directory against the bytes the write needs
//!   plus [`MARGIN`] for HDF5 metadata) and every rank gets its verdict — the common case of a
//!   full disk becomes an ordinary agreed error with both numbers, and no HDF5 handle is open;
//! * **after** a failed write into an open file (the disk filled between the check and the
//!   write), the job is ended with the message ([`Comm::fatal`]: `MPI_Abort`, no finalize, so no
//!   crash and no rank left waiting);
//! * a collective close that does not return while the file system is full is ended by a
//!   watchdog ([`Watchdog`]) with the message, instead of hanging until the wall-clock limit.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::comm::Comm;

/// Bytes reserved for HDF5 metadata (superblock, object headers, attributes, B-trees) on top
/// of the data of a write: 64 KiB.
pub const MARGIN: u64 = 64 * 1024;

/// Free bytes for an unprivileged writer on the file system holding `path` (the nearest existing
/// ancestor is asked), or `None` when `statvfs` fails.
pub fn available_bytes(path: &Path) -> Option<u64> {
    let mut dir: PathBuf = path.to_path_buf();
    while !dir.exists() {
        if !dir.pop() {
            dir = PathBuf::from(".");
            break;
        }
    }
    if dir.as_os_str().is_empty() {
        dir = PathBuf::from(".");
    }
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a NUL-terminated path, `st` a writable statvfs buffer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so the buffer is filled.
    let st = unsafe { st.assume_init() };
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// `Err` naming `path`, the need and what is free when fewer than `need + MARGIN` bytes are
/// free where `path` is written (a file system that cannot be asked is given the benefit of the
/// doubt).
pub fn check_space(path: &Path, need: u64) -> Result<(), String> {
    let Some(free) = available_bytes(path) else {
        return Ok(());
    };
    let want = need.saturating_add(MARGIN);
    if free < want {
        return Err(format!(
            "{}: no space left on the file system: writing it needs about {} ({} of data and {} \
             for metadata) but {} are free; free some space or choose another --out DIR",
            path.display(),
            bytes(want),
            bytes(need),
            bytes(MARGIN),
            bytes(free)
        ));
    }
    Ok(())
}

/// [`check_space`] on rank 0, its verdict on every rank (collective).
pub fn ensure_space(comm: &Comm, path: &Path, need: u64) -> Result<(), String> {
    comm.on_root(|| check_space(path, need))
}

/// `1.50 MiB`, `64.0 KiB`, `512 B`.
pub fn bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

/// Ends the job from a collective HDF5 call on `path` that has not returned after
/// `grace` while the file system is full: prints the message and exits the process at once
/// (`_exit`, no exit handlers: HDF5's would try to close the file again). The MPI runtime then
/// ends the other ranks. Dropping the watchdog stops it.
pub struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Watches `what` (e.g. `closing`) on `path` from rank `rank`.
    pub fn start(path: &Path, what: &str, rank: usize, grace: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        let path = path.to_path_buf();
        let what = what.to_string();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            loop {
                match rx.recv_timeout(Duration::from_millis(250)) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                if start.elapsed() < grace {
                    continue;
                }
                if let Some(free) = available_bytes(&path).filter(|&f| f < MARGIN) {
                    eprintln!(
                        "error (rank {rank}): {}: {what} has not finished after {:.0} s and the \
                         file system is full ({} free): ending the job",
                        path.display(),
                        start.elapsed().as_secs_f64(),
                        bytes(free)
                    );
                    // SAFETY: ends the process immediately; nothing is touched afterwards.
                    unsafe { libc::_exit(1) };
                }
            }
        });
        Watchdog {
            stop: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long a collective HDF5 call may take on a full file system before the watchdog ends the
/// job: 10 s.
pub const GRACE: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_read_from_the_nearest_existing_directory() {
        let here = available_bytes(Path::new(".")).expect("statvfs of .");
        assert!(here > 0);
        let deep = std::env::temp_dir().join("nlfp_no_such_dir/a/b/c.h5");
        assert!(available_bytes(&deep).is_some());
        assert!(check_space(&deep, 0).is_ok() || here < MARGIN);
        let e = check_space(&deep, u64::MAX / 2).unwrap_err();
        assert!(e.contains("no space left") && e.contains("free"), "{e}");
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(64 * 1024), "64.0 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.50 MiB");
    }
}
