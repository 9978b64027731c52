//! The communication pieces of the particle system at 1 to 4 ranks, in 1D and 2D, on automatic
//! and explicit process grids (run by `cargo test` as a plain program that relaunches itself
//! under `mpirun`):
//!
//! * reverse halo sum: every rank adds 1 to each cell of its block and its ghost ring; after the
//!   sum each owned cell holds the number of blocks whose padded region covers it (corners
//!   included, nothing beyond the walls);
//! * ghost fill of width 2: ghosts (corners included) hold the owners' values;
//! * migration: items sent to random owners, many of them several blocks away (diagonal and
//!   multi-hop), all arrive at their owner, none lost or duplicated;
//! * the particle deposit: the deposited density on any process grid equals the single-rank
//!   deposit bit for bit, and its smoothed version too.

mod common;

use nlfp::comm::{self, Comm, HaloExchange, Migrator};
use nlfp::decomp::{Block, ProcessGrid};
use nlfp::field::Field;
use nlfp::mesh::Mesh;
use nlfp::particles::grid::ParticleGrid;
use nlfp::particles::rng::{uniform53, CounterRng, Stream};
use nlfp::particles::{Ownership, Particle};

fn tag(iy: isize, ix: isize) -> f64 {
    1.0 + (iy * 1000 + ix) as f64
}

fn check_sum(comm: &Comm, mesh: &Mesh, grid: ProcessGrid) -> Vec<String> {
    let block = Block::new(mesh, grid, comm.rank());
    let gy = usize::from(mesh.dim == 2);
    let mut a: Field<i64> = Field::new(block.ny, block.nx, gy, 1);
    let (ny, nx) = (block.ny as isize, block.nx as isize);
    let inside = |iy: isize, ix: isize| {
        ix >= 0 && ix < mesh.nx() as isize && iy >= 0 && iy < mesh.ny() as isize
    };
    for j in -(gy as isize)..ny + gy as isize {
        for i in -1..nx + 1 {
            if inside(block.y0 as isize + j, block.x0 as isize + i) {
                a.set(j, i, 1);
            }
        }
    }
    HaloExchange::new(&block).sum(comm, &mut a, 1);
    let blocks: Vec<Block> = (0..grid.size())
        .map(|r| Block::new(mesh, grid, r))
        .collect();
    let mut errors = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            let (iy, ix) = (block.y0 as isize + j, block.x0 as isize + i);
            let want = blocks
                .iter()
                .filter(|b| {
                    let (y0, x0) = (b.y0 as isize, b.x0 as isize);
                    ix >= x0 - 1
                        && ix <= x0 + b.nx as isize
                        && iy >= y0 - gy as isize
                        && iy <= y0 + b.ny as isize - 1 + gy as isize
                })
                .count() as i64;
            if a.get(j, i) != want {
                errors.push(format!(
                    "sum {mesh:?} {grid:?} rank {}: cell ({iy}, {ix}) = {}, want {want}",
                    comm.rank(),
                    a.get(j, i)
                ));
            }
        }
    }
    errors
}

fn check_fill(comm: &Comm, mesh: &Mesh, grid: ProcessGrid, w: usize) -> Vec<String> {
    let block = Block::new(mesh, grid, comm.rank());
    let gy = if mesh.dim == 2 { w } else { 0 };
    let mut a: Field<f64> = Field::new(block.ny, block.nx, gy, w);
    let (ny, nx) = (block.ny as isize, block.nx as isize);
    for j in 0..ny {
        for i in 0..nx {
            a.set(j, i, tag(block.y0 as isize + j, block.x0 as isize + i));
        }
    }
    HaloExchange::new(&block).fill(comm, &mut a, w);
    let mut errors = Vec::new();
    for j in -(gy as isize)..ny + gy as isize {
        for i in -(w as isize)..nx + w as isize {
            let (iy, ix) = (block.y0 as isize + j, block.x0 as isize + i);
            let in_domain =
                ix >= 0 && ix < mesh.nx() as isize && iy >= 0 && iy < mesh.ny() as isize;
            let want = if in_domain { tag(iy, ix) } else { 0.0 };
            if a.get(j, i) != want {
                errors.push(format!(
                    "fill {mesh:?} {grid:?} rank {}: ({iy}, {ix}) = {}, want {want}",
                    comm.rank(),
                    a.get(j, i)
                ));
            }
        }
    }
    errors
}

/// Items start on their owners, then jump to uniformly random positions (many blocks away).
fn check_migration(comm: &Comm, mesh: &Mesh, grid: ProcessGrid) -> Vec<String> {
    let block = Block::new(mesh, grid, comm.rank());
    let own = Ownership::new(mesh, grid);
    let rng = CounterRng::new(5);
    let l = mesh.half_width;
    let count = 4000u64;
    let random_pos = |id: u64, step: u64| {
        let b = rng.block(id, step, Stream::Reverse);
        let y = if mesh.dim == 2 {
            -l + 2.0 * l * uniform53(b[2], b[3])
        } else {
            0.0
        };
        [-l + 2.0 * l * uniform53(b[0], b[1]), y]
    };
    let mut items: Vec<Particle> = (0..count)
        .map(|id| Particle {
            id,
            pos: random_pos(id, 0),
        })
        .filter(|p| own.coords(p.pos) == block.coords)
        .collect();
    let mut migrator = Migrator::new(&block);
    let mut errors = Vec::new();
    let mut rounds = 0;
    for step in 1..=3 {
        for p in items.iter_mut() {
            p.pos = random_pos(p.id, step);
        }
        let report = migrator.migrate(comm, &mut items, |p: &Particle| own.coords(p.pos));
        rounds += report.rounds;
        if let Some(p) = items.iter().find(|p| own.coords(p.pos) != block.coords) {
            errors.push(format!(
                "migration {grid:?} rank {}: particle {} at {:?} is not home",
                comm.rank(),
                p.id,
                p.pos
            ));
        }
    }
    let ids: Vec<f64> = items.iter().map(|p| p.id as f64).collect();
    let all = comm.gather_to_root(&ids);
    if comm.is_root() {
        let mut seen = vec![0u32; count as usize];
        for id in all.iter().flatten() {
            seen[*id as usize] += 1;
        }
        if let Some(k) = seen.iter().position(|&s| s != 1) {
            errors.push(format!(
                "migration {grid:?}: particle {k} present {} times",
                seen[k]
            ));
        }
        let (px, py) = (grid.px as u32, grid.py as u32);
        // Jumps across several blocks need several rounds along that axis.
        if (px > 2 || py > 2) && rounds <= 3 * (u32::from(px > 1) + u32::from(py > 1)) {
            errors.push(format!("migration {grid:?}: no multi-hop round ({rounds})"));
        }
    }
    errors
}

/// The deposit and its smoothing on `grid` equal those on one rank, bit for bit.
fn check_deposit(comm: &Comm, mesh: &Mesh, grid: ProcessGrid) -> Vec<String> {
    let own = Ownership::new(mesh, grid);
    let block = Block::new(mesh, grid, comm.rank());
    let whole = Block::new(mesh, ProcessGrid::planar(1, 1), 0);
    let rng = CounterRng::new(11);
    let l = mesh.half_width;
    let all: Vec<Particle> = (0..20_000u64)
        .map(|id| {
            let b = rng.block(id, 0, Stream::Initial);
            // Concentrated near the origin (product of two uniforms), plus the walls.
            let x = l * (2.0 * uniform53(b[0], b[1]) - 1.0).powi(3);
            let y = if mesh.dim == 2 {
                l * (2.0 * uniform53(b[2], b[3]) - 1.0).powi(3)
            } else {
                0.0
            };
            Particle { id, pos: [x, y] }
        })
        .collect();
    let mine: Vec<Particle> = all
        .iter()
        .copied()
        .filter(|p| own.coords(p.pos) == block.coords)
        .collect();
    let mut g = ParticleGrid::new(mesh, &block, 2, 1e-3);
    g.deposit(comm, &mine);
    g.smooth(comm);
    // The single-block reference, computed on every rank without communication partners.
    let mut errors = Vec::new();
    let serial = comm.solo();
    let mut r = ParticleGrid::new(mesh, &whole, 2, 1e-3);
    r.deposit(&serial, &all);
    r.smooth(&serial);
    for j in 0..block.ny as isize {
        for i in 0..block.nx as isize {
            let (gj, gi) = (block.y0 as isize + j, block.x0 as isize + i);
            for (what, a, b) in [
                (
                    "deposit",
                    g.deposited().get(j, i),
                    r.deposited().get(gj, gi),
                ),
                ("smoothed", g.smoothed().get(j, i), r.smoothed().get(gj, gi)),
            ] {
                if a.to_bits() != b.to_bits() {
                    errors.push(format!(
                        "{what} {mesh:?} {grid:?} rank {}: cell ({gj}, {gi}) {a:e} vs {b:e} on one rank",
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
    for (dim, n) in [(1usize, 9usize), (1, 23), (2, 9), (2, 17)] {
        let mesh = Mesh::new(dim, n, 1.5);
        let mut grids = vec![ProcessGrid::choose(&mesh, p).unwrap()];
        if dim == 2 && p > 1 {
            grids.push(ProcessGrid::planar(1, p));
            grids.push(ProcessGrid::planar(p, 1));
        }
        for grid in grids {
            cases += 1;
            errors.extend(check_sum(&comm, &mesh, grid));
            errors.extend(check_fill(&comm, &mesh, grid, 2));
            errors.extend(check_migration(&comm, &mesh, grid));
            errors.extend(check_deposit(&comm, &mesh, grid));
        }
    }
    let failed = comm.any(!errors.is_empty());
    for e in errors.iter().take(20) {
        eprintln!("{e}");
    }
    if comm.is_root() {
        println!(
            "particle communication at {p} ranks: {cases} cases, {}",
            if failed { "FAILED" } else { "ok" }
        );
    }
    i32::from(failed)
}

fn main() {
    if let Some(code) = common::relaunch_under_mpirun(&[1, 2, 3, 4], "particle communication") {
        std::process::exit(code);
    }
    std::process::exit(child());
}
