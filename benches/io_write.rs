//! Parallel HDF5 write throughput of [`write_global`] in both [`IoMode`]s, and (with `--check`)
//! a correctness check of the collective and independent paths and of [`read_block`].
//!
//! Run under MPI (`benches/checkpoint_io.sh` does all of this):
//!
//! ```text
//! mpirun -n 2 target/release/deps/io_write-HASH            # throughput, rank 0 prints MB/s
//! mpirun -n 4 target/release/deps/io_write-HASH --check    # exits non-zero on any mismatch
//! ```
//!
//! Throughput: one 2D field of `NLFP_IO_N` x `NLFP_IO_N` cells (default 4095, 134 MB of `f64`)
//! on the balanced process grid, written `NLFP_IO_REPS` times (default 3) per mode into
//! `NLFP_IO_DIR` (default `target/io-bench`; keep it on the disk under test). The time of one
//! write runs from a barrier before the first byte to the return of `write_global` on every
//! rank, i.e. after close, fsync, rename and the directory fsync. Interleaved with the HDF5
//! writes, rank 0 also writes the same number of bytes sequentially (`plain`: `write_all` of
//! 8 MiB chunks, fsync, rename, directory fsync), a reference that sees the same machine load.
//! MB/s are 10^6 bytes per second of the dataset's size. A machine-readable line
//! `RESULT mode=... ranks=... bytes=... best_mbs=... median_mbs=...` per writer follows the
//! table.
//!
//! Check (`--check`, any rank count; run it at 1 to 4 ranks): for 1D and 2D grids, including
//! blocks of unequal size and ranks with an empty block, every process grid of the rank count
//! writes two block datasets, a small dataset and attributes in both modes; then
//! * rank 0 reads both files serially: the values are bit-identical to the expected global
//!   array (and so to each other), the small dataset and attributes round-trip;
//! * [`read_block`] on every other process grid returns exactly the written values in the
//!   owned cells and leaves the ghosts alone;
//! * the collective writes were carried out collectively (no fallback reported by HDF5);
//! * `write_field` + `read_field` round-trip;
//! * bad calls (missing directory, file or dataset, wrong grid, a wrong field shape on one rank
//!   only) fail on every rank without hanging and leave no temporary file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use nlfp::comm::Comm;
use nlfp::decomp::{Block, ProcessGrid};
use nlfp::field::Field;
use nlfp::io::hdf5::{
    collective_fallbacks, read_attr_f64, read_attr_str, read_attr_u64, read_block, read_field,
    read_small, write_field, write_global, AttrValue, BlockData, FieldMeta, IoMode, SmallData,
};
use nlfp::layout::Layout;
use nlfp::mesh::Mesh;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A value per global cell and dataset that is distinct and uses all mantissa bits.
fn value(salt: u64, iy: usize, ix: usize) -> f64 {
    let k = (iy as u64) << 32 | ix as u64;
    let h = (k ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (iy as f64 + 1.0) * 1e3 + ix as f64 + (h >> 12) as f64 * 2f64.powi(-52)
}

/// The block of `field` filled with [`value`], ghosts with a sentinel.
fn filled(block: &Block, salt: u64, ghost: f64) -> Field {
    let mut f = Field::zeros(block.ny, block.nx);
    f.raw_mut().fill(ghost);
    for j in 0..block.ny {
        for i in 0..block.nx {
            let k = f.index(j as isize, i as isize);
            f.raw_mut()[k] = value(salt, block.y0 + j, block.x0 + i);
        }
    }
    f
}

fn out_dir(comm: &Comm) -> PathBuf {
    let dir = PathBuf::from(
        std::env::var("NLFP_IO_DIR").unwrap_or_else(|_| "target/io-bench".to_string()),
    );
    if comm.is_root() {
        std::fs::create_dir_all(&dir).expect("create output directory");
    }
    comm.barrier();
    dir
}

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let (mpi, comm) = nlfp::comm::init().expect("MPI init");
    let code = if check {
        run_check(&comm)
    } else {
        run_bench(&comm)
    };
    drop(comm);
    drop(mpi);
    std::process::exit(code);
}

// ---------------------------------------------------------------------------------------------
// Throughput
// ---------------------------------------------------------------------------------------------

/// What one timed write does.
#[derive(Clone, Copy, PartialEq)]
enum Writer {
    /// `write_global` in this mode.
    Hdf5(IoMode),
    /// The reference: rank 0 alone writes the same number of bytes sequentially in 8 MiB
    /// chunks with `write_all`, then fsync, rename and directory fsync (what `dd conv=fsync`
    /// does, plus the rename), interleaved with the HDF5 writes so that both see the same load.
    Plain,
}

impl Writer {
    const ALL: [Writer; 3] = [
        Writer::Hdf5(IoMode::Collective),
        Writer::Hdf5(IoMode::Independent),
        Writer::Plain,
    ];

    fn name(self) -> &'static str {
        match self {
            Writer::Hdf5(mode) => mode.name(),
            Writer::Plain => "plain",
        }
    }
}

/// The [`Writer::Plain`] reference write (rank 0 only).
fn plain_write(path: &Path, bytes: usize) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let chunk = vec![0u8; 8 << 20];
    let mut file = std::fs::File::create(&tmp)?;
    let mut left = bytes;
    while left > 0 {
        let k = left.min(chunk.len());
        file.write_all(&chunk[..k])?;
        left -= k;
    }
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()
}

fn run_bench(comm: &Comm) -> i32 {
    let n = env_usize("NLFP_IO_N", 4095);
    let reps = env_usize("NLFP_IO_REPS", 3).max(1);
    let dir = out_dir(comm);
    let mesh = Mesh::new(2, n, 1.0);
    let grid = ProcessGrid::choose(&mesh, comm.size()).expect("process grid");
    let layout = Layout::new(mesh, grid, comm.rank());
    let block = layout.block.clone();
    let f = filled(&block, 1, 0.0);
    let bytes = (mesh.cells() * 8) as f64;
    let path = dir.join(format!("io_write_{}.h5", comm.size()));
    let attrs = [("step", AttrValue::U64(0)), ("t", AttrValue::F64(0.0))];
    if comm.is_root() {
        println!(
            "io_write: {n} x {n} f64 ({:.1} MB), {} rank(s) on a {}x{} grid, {reps} rep(s), {}",
            bytes / 1e6,
            comm.size(),
            grid.px,
            grid.py,
            dir.display()
        );
    }
    let mut times: Vec<(Writer, f64)> = Vec::new();
    for rep in 0..reps {
        // Rotate the order so no writer always runs first (on a colder page cache).
        let mut order = Writer::ALL;
        order.rotate_left(rep % Writer::ALL.len());
        for writer in order {
            if comm.is_root() {
                let _ = std::fs::remove_file(&path);
            }
            comm.barrier();
            let t0 = Instant::now();
            let written = match writer {
                Writer::Hdf5(mode) => write_global(
                    comm,
                    &path,
                    &layout,
                    &[BlockData {
                        name: "f",
                        field: &f,
                    }],
                    &[],
                    &attrs,
                    mode,
                ),
                Writer::Plain if comm.is_root() => plain_write(&path, bytes as usize)
                    .map_err(|e| format!("{}: {e}", path.display())),
                Writer::Plain => Ok(()),
            };
            let dt = t0.elapsed().as_secs_f64();
            if comm.any(written.is_err()) {
                if let Err(e) = written {
                    eprintln!("[rank {}] {e}", comm.rank());
                }
                return 1;
            }
            let dt = comm.max(dt);
            if comm.is_root() {
                println!(
                    "  rep {rep} {:<11} {:8.3} s {:9.1} MB/s",
                    writer.name(),
                    dt,
                    bytes / dt / 1e6
                );
            }
            times.push((writer, dt));
        }
    }
    if comm.is_root() {
        let _ = std::fs::remove_file(&path);
        println!("{:<12} {:>12} {:>14}", "writer", "best MB/s", "median MB/s");
        let mut lines = Vec::new();
        for writer in Writer::ALL {
            let mut t: Vec<f64> = times
                .iter()
                .filter(|(w, _)| *w == writer)
                .map(|(_, t)| *t)
                .collect();
            t.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let best = bytes / t[0] / 1e6;
            let median = bytes / t[t.len() / 2] / 1e6;
            println!("{:<12} {best:12.1} {median:14.1}", writer.name());
            lines.push(format!(
                "RESULT mode={} ranks={} bytes={} best_mbs={best:.1} median_mbs={median:.1}",
                writer.name(),
                comm.size(),
                bytes as u64
            ));
        }
        for l in lines {
            println!("{l}");
        }
        let fallbacks = collective_fallbacks();
        if fallbacks > 0 {
            println!("warning: {fallbacks} collective transfer(s) fell back to independent I/O");
        }
    }
    0
}

// ---------------------------------------------------------------------------------------------
// Check
// ---------------------------------------------------------------------------------------------

/// Every `px x py` grid with `px * py = size` (`py = 1` in 1D).
fn grids(dim: usize, size: usize) -> Vec<ProcessGrid> {
    if dim == 1 {
        return vec![ProcessGrid::planar(size, 1)];
    }
    (1..=size)
        .filter(|py| size.is_multiple_of(*py))
        .map(|py| ProcessGrid::planar(size / py, py))
        .collect()
}

/// Failures seen by this rank.
struct Failures {
    rank: usize,
    list: Vec<String>,
}

impl Failures {
    fn fail(&mut self, msg: String) {
        eprintln!("[rank {}] FAIL {msg}", self.rank);
        self.list.push(msg);
    }

    fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.fail(msg());
        }
    }
}

fn run_check(comm: &Comm) -> i32 {
    let dir = out_dir(comm).join(format!("check-{}", comm.size()));
    if comm.is_root() {
        std::fs::create_dir_all(&dir).expect("create check directory");
    }
    comm.barrier();
    let mut fails = Failures {
        rank: comm.rank(),
        list: Vec::new(),
    };
    let size = comm.size();
    // (dim, n): uneven splits; n = 1 leaves every rank but one with an empty block; in 2D
    // n = 3 on 4 ranks in a line leaves one rank empty.
    let cases = [(1, 41), (1, 1), (2, 37), (2, 3), (2, 1)];
    let mut files = 0;
    for (dim, n) in cases {
        let mesh = Mesh::new(dim, n, 2.0);
        let all = grids(dim, size);
        for (gi, &grid) in all.iter().enumerate() {
            let layout = Layout::new(mesh, grid, comm.rank());
            let block = layout.block.clone();
            let a = filled(&block, 11, f64::NAN);
            let b = filled(&block, 22, -7.0);
            let small: Vec<f64> = (0..5).map(|k| 0.1 * k as f64 + n as f64).collect();
            let mut paths = Vec::new();
            for mode in IoMode::ALL {
                let path = dir.join(format!(
                    "d{dim}_n{n}_{}x{}_{}.h5",
                    grid.px,
                    grid.py,
                    mode.name()
                ));
                let attrs = [
                    ("n", AttrValue::U64(n as u64)),
                    ("h", AttrValue::F64(mesh.h)),
                    ("grid", AttrValue::Str(format!("{}x{} ü", grid.px, grid.py))),
                ];
                let written = write_global(
                    comm,
                    &path,
                    &layout,
                    &[
                        BlockData {
                            name: "a",
                            field: &a,
                        },
                        BlockData {
                            name: "b",
                            field: &b,
                        },
                    ],
                    &[
                        SmallData {
                            name: "s",
                            values: &small,
                        },
                        SmallData {
                            name: "empty",
                            values: &[],
                        },
                    ],
                    &attrs,
                    mode,
                );
                files += 1;
                match written {
                    Ok(()) => paths.push((mode, path)),
                    Err(e) => fails.fail(format!("write {}: {e}", path.display())),
                }
            }
            if comm.is_root() {
                for (mode, path) in &paths {
                    check_serial(&mut fails, path, *mode, &mesh, grid, &small);
                }
            }
            // Read back on every other grid (and the same one when there is only one).
            for (gj, &other) in all.iter().enumerate() {
                if gj == gi && all.len() > 1 {
                    continue;
                }
                let rblock = Block::new(&mesh, other, comm.rank());
                for (mode, path) in &paths {
                    for (name, salt) in [("a", 11), ("b", 22)] {
                        check_read_block(
                            comm, &mut fails, path, name, salt, &mesh, &rblock, *mode, grid, other,
                        );
                    }
                }
            }
            if comm.is_root() {
                for (_, path) in &paths {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
    check_write_field(comm, &mut fails, &dir);
    check_errors(comm, &mut fails, &dir);
    fails.check(collective_fallbacks() == 0, || {
        format!(
            "{} collective transfer(s) fell back to independent I/O",
            collective_fallbacks()
        )
    });
    let failed = comm.any(!fails.list.is_empty());
    if comm.is_root() {
        if failed {
            println!("io_write --check: FAILED at {size} rank(s)");
        } else {
            println!(
                "io_write --check: OK at {size} rank(s) ({files} files, both modes, read back on every process grid)"
            );
            let _ = std::fs::remove_dir(&dir);
        }
    }
    i32::from(failed)
}

/// Serial read of a whole file on rank 0: values bit-identical to the expected array.
fn check_serial(
    fails: &mut Failures,
    path: &Path,
    mode: IoMode,
    mesh: &Mesh,
    grid: ProcessGrid,
    small: &[f64],
) {
    let what = format!(
        "{} ({}D n={} grid {}x{}, {})",
        path.display(),
        mesh.dim,
        mesh.n,
        grid.px,
        grid.py,
        mode.name()
    );
    let file = match hdf5::File::open(path) {
        Ok(f) => f,
        Err(e) => return fails.fail(format!("{what}: open: {e}")),
    };
    for (name, salt) in [("a", 11), ("b", 22)] {
        let ds = match file.dataset(name) {
            Ok(d) => d,
            Err(e) => return fails.fail(format!("{what}: dataset {name}: {e}")),
        };
        let want_shape = if mesh.dim == 2 {
            vec![mesh.n, mesh.n]
        } else {
            vec![mesh.n]
        };
        fails.check(ds.shape() == want_shape, || {
            format!("{what}: {name} shape {:?}", ds.shape())
        });
        let values = match ds.read_raw::<f64>() {
            Ok(v) => v,
            Err(e) => return fails.fail(format!("{what}: read {name}: {e}")),
        };
        let (ny, nx) = (mesh.ny(), mesh.nx());
        let bad = (0..ny * nx)
            .filter(|&k| values[k].to_bits() != value(salt, k / nx, k % nx).to_bits())
            .count();
        fails.check(values.len() == ny * nx && bad == 0, || {
            format!("{what}: {name}: {bad} of {} values differ", values.len())
        });
    }
    match read_small(path, "s") {
        Ok(s) => fails.check(s == small, || format!("{what}: small dataset {s:?}")),
        Err(e) => fails.fail(e),
    }
    match read_small(path, "empty") {
        Ok(s) => fails.check(s.is_empty(), || format!("{what}: empty dataset {s:?}")),
        Err(e) => fails.fail(e),
    }
    let n = read_attr_u64(path, "n");
    fails.check(n == Ok(mesh.n as u64), || {
        format!("{what}: attribute n {n:?}")
    });
    let h = read_attr_f64(path, "h").map(f64::to_bits);
    fails.check(h == Ok(mesh.h.to_bits()), || {
        format!("{what}: attribute h {h:?}")
    });
    let g = read_attr_str(path, "grid");
    let want = format!("{}x{} ü", grid.px, grid.py);
    fails.check(g.as_deref() == Ok(want.as_str()), || {
        format!("{what}: attribute grid {g:?}")
    });
}

/// Parallel read of one dataset on another grid: owned cells exact, ghosts untouched.
#[allow(clippy::too_many_arguments)]
fn check_read_block(
    comm: &Comm,
    fails: &mut Failures,
    path: &Path,
    name: &str,
    salt: u64,
    mesh: &Mesh,
    block: &Block,
    mode: IoMode,
    written_on: ProcessGrid,
    read_on: ProcessGrid,
) {
    const GHOST: f64 = -12345.5;
    let mut into = Field::zeros(block.ny, block.nx);
    into.raw_mut().fill(GHOST);
    let what = format!(
        "{} dataset {name} ({} write on {}x{}, read on {}x{})",
        path.display(),
        mode.name(),
        written_on.px,
        written_on.py,
        read_on.px,
        read_on.py
    );
    if let Err(e) = read_block(comm, path, name, mesh, block, &mut into) {
        return fails.fail(format!("{what}: {e}"));
    }
    let mut bad = 0;
    for j in -1..=block.ny as isize {
        for i in -1..=block.nx as isize {
            let got = into.get(j, i);
            let owned = j >= 0 && i >= 0 && j < block.ny as isize && i < block.nx as isize;
            let want = if owned {
                value(salt, block.y0 + j as usize, block.x0 + i as usize)
            } else {
                GHOST
            };
            if got.to_bits() != want.to_bits() {
                bad += 1;
            }
        }
    }
    fails.check(bad == 0, || {
        format!("{what}: {bad} cells differ (ghosts included)")
    });
}

/// `write_field` (the wrapper used by `nlfp forward`) and `read_field` round-trip.
fn check_write_field(comm: &Comm, fails: &mut Failures, dir: &Path) {
    let mesh = Mesh::new(2, 29, 3.0);
    let grid = ProcessGrid::choose(&mesh, comm.size()).expect("grid");
    let layout = Layout::new(mesh, grid, comm.rank());
    let block = layout.block.clone();
    let f = filled(&block, 33, 0.0);
    let meta = FieldMeta {
        t: 0.75,
        step: 42,
        dt: 1e-3,
        config: "[grid]\nn = 29\n".into(),
    };
    for mode in IoMode::ALL {
        let path = dir.join(format!("final_{}.h5", mode.name()));
        if let Err(e) = write_field(comm, &path, &layout, &f, &meta, mode) {
            fails.fail(format!("write_field {}: {e}", mode.name()));
            continue;
        }
        if comm.is_root() {
            match read_field(&path) {
                Ok(s) => {
                    let bad = (0..s.values.len())
                        .filter(|&k| s.values[k].to_bits() != value(33, k / 29, k % 29).to_bits())
                        .count();
                    fails.check(
                        s.shape == vec![29, 29] && bad == 0 && s.t == 0.75 && s.step == 42,
                        || format!("read_field after write_field ({}): {bad} bad", mode.name()),
                    );
                    let pg = read_attr_str(&path, "process_grid");
                    let want = format!("{}x{}", grid.px, grid.py);
                    fails.check(pg.as_deref() == Ok(want.as_str()), || {
                        format!("process_grid attribute {pg:?}")
                    });
                }
                Err(e) => fails.fail(e),
            }
            let tmp = dir.join(format!("final_{}.h5.tmp", mode.name()));
            fails.check(!tmp.exists(), || format!("{} left behind", tmp.display()));
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Failures must reach every rank (no hang) and leave nothing behind.
fn check_errors(comm: &Comm, fails: &mut Failures, dir: &Path) {
    let mesh = Mesh::new(2, 9, 1.0);
    let grid = ProcessGrid::choose(&mesh, comm.size()).expect("grid");
    let layout = Layout::new(mesh, grid, comm.rank());
    let block = layout.block.clone();
    let f = filled(&block, 44, 0.0);
    let write = |path: &Path, field: &Field| {
        write_global(
            comm,
            path,
            &layout,
            &[BlockData { name: "f", field }],
            &[],
            &[("n", AttrValue::U64(9))],
            IoMode::Collective,
        )
    };
    expect_err(
        comm,
        fails,
        "write into a missing directory",
        write(&dir.join("no/such/dir/x.h5"), &f),
    );
    // A field of the wrong shape on rank 0 only.
    let wrong = if comm.is_root() {
        Field::zeros(block.ny + 1, block.nx)
    } else {
        f.clone()
    };
    let path = dir.join("wrong_shape.h5");
    expect_err(
        comm,
        fails,
        "field shape mismatch on rank 0",
        write(&path, &wrong),
    );
    if comm.is_root() {
        fails.check(
            !path.exists() && !dir.join("wrong_shape.h5.tmp").exists(),
            || "wrong_shape.h5 or its .tmp exists after a failed write".to_string(),
        );
    }
    let mut into = Field::zeros(block.ny, block.nx);
    let missing = dir.join("missing.h5");
    expect_err(
        comm,
        fails,
        "read_block of a missing file",
        read_block(comm, &missing, "f", &mesh, &block, &mut into),
    );
    let path = dir.join("errors.h5");
    match write(&path, &f) {
        Ok(()) => {
            expect_err(
                comm,
                fails,
                "read_block of a missing dataset",
                read_block(comm, &path, "g", &mesh, &block, &mut into),
            );
            let mesh1 = Mesh::new(1, 9, 1.0);
            let block1 = Block::new(&mesh1, ProcessGrid::planar(comm.size(), 1), comm.rank());
            let mut into1 = Field::zeros(block1.ny, block1.nx);
            expect_err(
                comm,
                fails,
                "read_block of a 2D dataset on a 1D grid",
                read_block(comm, &path, "f", &mesh1, &block1, &mut into1),
            );
            expect_err(
                comm,
                fails,
                "read_small of a 2D dataset",
                read_small(&path, "f").map(|_| ()),
            );
            expect_err(
                comm,
                fails,
                "read_attr_f64 of a missing attribute",
                read_attr_f64(&path, "nope").map(|_| ()),
            );
        }
        Err(e) => fails.fail(format!("write {}: {e}", path.display())),
    }
    comm.barrier();
    if comm.is_root() {
        let _ = std::fs::remove_file(&path);
    }
}

/// Checks that `r` is an error on every rank.
fn expect_err(comm: &Comm, fails: &mut Failures, what: &str, r: Result<(), String>) {
    let all = !comm.any(r.is_ok());
    fails.check(all, || {
        format!("{what}: did not fail on every rank ({r:?})")
    });
}
