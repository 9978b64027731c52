//! Test 4: after a halo exchange every ghost cell equals its owner's value, at 1 to 4 ranks,
//! in 1D, 2D and 3D (six faces), on automatic and explicit process grids; physical-boundary
//! ghosts, edges and corners are left alone. Run by `cargo test` as a plain program that relaunches itself under `mpirun`.

mod common;

use nlfp::comm::{self, HaloExchange};
use nlfp::decomp::{Block, ProcessGrid, Side};
use nlfp::field::Field;
use nlfp::mesh::Mesh;

/// A value no two cells share: `1 + iy * 1000 + ix`.
fn tag(iy: isize, ix: isize) -> f64 {
    1.0 + (iy * 1000 + ix) as f64
}

fn check_rank(comm: &comm::Comm, mesh: &Mesh, grid: ProcessGrid) -> Vec<String> {
    let block = Block::new(mesh, grid, comm.rank());
    let mut f = Field::zeros(block.ny, block.nx);
    for j in 0..block.ny {
        for i in 0..block.nx {
            let k = f.index(j as isize, i as isize);
            f.raw_mut()[k] = tag((block.y0 + j) as isize, (block.x0 + i) as isize);
        }
    }
    let mut halo = HaloExchange::new(&block);
    let owned_sum = halo.exchange(comm, &mut f, |f| f.interior().sum());
    let mut errors = Vec::new();
    if owned_sum <= 0.0 {
        errors.push("overlap work did not see the owned cells".into());
    }
    let (ny, nx) = (block.ny as isize, block.nx as isize);
    let (y0, x0) = (block.y0 as isize, block.x0 as isize);
    let mut expect = |side: Side, j: isize, i: isize| {
        let has = block.neighbours[side.index()].is_some();
        let want = if has { tag(y0 + j, x0 + i) } else { 0.0 };
        let got = f.get(j, i);
        if got != want {
            errors.push(format!(
                "rank {} {mesh:?} grid {grid:?}: ghost {side:?} ({j}, {i}) = {got}, expected {want}",
                comm.rank()
            ));
        }
    };
    for j in 0..ny {
        expect(Side::West, j, -1);
        expect(Side::East, j, nx);
    }
    for i in 0..nx {
        expect(Side::South, -1, i);
        expect(Side::North, ny, i);
    }
    for (j, i) in [(-1, -1), (-1, nx), (ny, -1), (ny, nx)] {
        if f.get(j, i) != 0.0 {
            errors.push(format!(
                "rank {}: corner ({j}, {i}) was written",
                comm.rank()
            ));
        }
    }
    errors
}

/// A value no two 3D cells share.
fn tag3(iz: isize, iy: isize, ix: isize) -> f64 {
    1.0 + (iz * 1_000_000 + iy * 1000 + ix) as f64
}

/// The 3D exchange: every face ghost is its owner's value (zero at the physical boundary), no
/// edge ghost is written.
fn check_rank3(comm: &comm::Comm, mesh: &Mesh, grid: ProcessGrid) -> Vec<String> {
    let b = Block::new(mesh, grid, comm.rank());
    let mut f = Field::zeros3(b.nz, b.ny, b.nx);
    let (o, n) = (
        [b.z0 as isize, b.y0 as isize, b.x0 as isize],
        [b.nz as isize, b.ny as isize, b.nx as isize],
    );
    for k in 0..n[0] {
        for j in 0..n[1] {
            for i in 0..n[2] {
                let at = f.index3(k, j, i);
                f.raw_mut()[at] = tag3(o[0] + k, o[1] + j, o[2] + i);
            }
        }
    }
    let mut halo = HaloExchange::new(&b);
    let owned = halo.exchange(comm, &mut f, |f| f.interior3().sum());
    let mut errors = Vec::new();
    if owned <= 0.0 {
        errors.push("overlap work did not see the owned cells".into());
    }
    let neighbour = |side: Side| b.neighbours[side.index()].is_some();
    for k in -1..=n[0] {
        for j in -1..=n[1] {
            for i in -1..=n[2] {
                let outside = [k, j, i]
                    .iter()
                    .zip(n)
                    .filter(|(&c, n)| c < 0 || c >= *n)
                    .count();
                let side = match (k, j, i) {
                    _ if outside != 1 => None,
                    (-1, _, _) => Some(Side::Down),
                    (k, _, _) if k == n[0] => Some(Side::Up),
                    (_, -1, _) => Some(Side::South),
                    (_, j, _) if j == n[1] => Some(Side::North),
                    (_, _, -1) => Some(Side::West),
                    _ => Some(Side::East),
                };
                let want = match side {
                    Some(s) if neighbour(s) => tag3(o[0] + k, o[1] + j, o[2] + i),
                    _ if outside == 0 => tag3(o[0] + k, o[1] + j, o[2] + i),
                    _ => 0.0,
                };
                let got = f.raw()[f.index3(k, j, i)];
                if got != want {
                    errors.push(format!(
                        "rank {} grid {grid:?}: ghost ({k}, {j}, {i}) = {got}, expected {want}",
                        comm.rank()
                    ));
                }
            }
        }
    }
    errors
}

fn child() -> i32 {
    let (_mpi, comm) = comm::init().expect("MPI");
    let p = comm.size();
    let mut errors = Vec::new();
    let mut cases = 0;
    for (dim, n) in [(1usize, 7usize), (1, 13), (2, 7), (2, 13)] {
        let mesh = Mesh::new(dim, n, 1.0);
        let mut grids = vec![ProcessGrid::choose(&mesh, p).unwrap()];
        if dim == 2 {
            grids.push(ProcessGrid::planar(1, p));
            grids.push(ProcessGrid::planar(p, 1));
        }
        for grid in grids {
            cases += 1;
            errors.extend(check_rank(&comm, &mesh, grid));
        }
    }
    for n in [5usize, 8] {
        let mesh = Mesh::new(3, n, 1.0);
        let grids = [
            ProcessGrid::choose(&mesh, p).unwrap(),
            ProcessGrid {
                px: 1,
                py: 1,
                pz: p,
            },
            ProcessGrid {
                px: p,
                py: 1,
                pz: 1,
            },
            ProcessGrid {
                px: 1,
                py: p,
                pz: 1,
            },
        ];
        for grid in grids {
            cases += 1;
            errors.extend(check_rank3(&comm, &mesh, grid));
        }
    }
    let failed = comm.any(!errors.is_empty());
    for e in &errors {
        eprintln!("{e}");
    }
    if comm.is_root() {
        println!(
            "halo at {p} ranks: {cases} cases, {}",
            if failed { "FAILED" } else { "ok" }
        );
    }
    i32::from(failed)
}

fn main() {
    if let Some(code) = common::relaunch_under_mpirun(&[1, 2, 3, 4], "halo exchange") {
        std::process::exit(code);
    }
    std::process::exit(child());
}
