//! The distributed BiCGStab + block-Jacobi ILU(0) solver against a direct dense solve of the
//! same global system, at 1 and 3 ranks (and 2, 4), in 1D and 2D. Run by `cargo test` as a plain
//! program that relaunches itself under `mpirun`.

mod common;

use nlfp::comm::{self, HaloExchange};
use nlfp::decomp::{Block, ProcessGrid};
use nlfp::mesh::Mesh;
use nlfp::time::krylov::{bicgstab, BlockIlu0, KrylovControl, Stencil};

/// A deterministic pseudo-random number in [0, 1) from a global index and a salt.
fn noise(index: usize, salt: u64) -> f64 {
    let mut z = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// The global stencil coefficient of cell `(iy, ix)` towards neighbour `dir` (0 = self, 1..4 =
/// W, E, S, N): a nonsymmetric, diagonally dominant M-matrix-like operator with zero couplings
/// across the physical boundary, like a backward-Euler Jacobian.
fn coefficient(mesh: &Mesh, iy: usize, ix: usize, dir: usize) -> f64 {
    let n = mesh.n;
    let k = iy * n + ix;
    let exists = match dir {
        1 => ix > 0,
        2 => ix + 1 < n,
        3 => mesh.dim == 2 && iy > 0,
        4 => mesh.dim == 2 && iy + 1 < mesh.ny(),
        _ => true,
    };
    if !exists {
        return 0.0;
    }
    if dir == 0 {
        5.0 + noise(k, 7)
    } else {
        -(0.2 + noise(k, dir as u64))
    }
}

fn direct_solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().partial_cmp(&a[j][col].abs()).unwrap())
            .unwrap();
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let factor = a[row][col] / a[col][col];
            if factor != 0.0 {
                let (upper, lower) = a.split_at_mut(row);
                for (target, &source) in lower[0][col..].iter_mut().zip(&upper[col][col..]) {
                    *target -= factor * source;
                }
                b[row] -= factor * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x
}

fn child() -> i32 {
    let (_mpi, comm) = comm::init().expect("MPI");
    let mut failures = Vec::new();
    for (dim, n) in [(1usize, 31usize), (2, 13)] {
        let mesh = Mesh::new(dim, n, 1.0);
        let (nx, ny) = (mesh.nx(), mesh.ny());
        let total = nx * ny;
        // The global system, on every rank, solved directly for reference.
        let mut dense = vec![vec![0.0; total]; total];
        let b_global: Vec<f64> = (0..total).map(|k| noise(k, 99) - 0.3).collect();
        for iy in 0..ny {
            for ix in 0..nx {
                let k = iy * nx + ix;
                dense[k][k] = coefficient(&mesh, iy, ix, 0);
                if ix > 0 {
                    dense[k][k - 1] = coefficient(&mesh, iy, ix, 1);
                }
                if ix + 1 < nx {
                    dense[k][k + 1] = coefficient(&mesh, iy, ix, 2);
                }
                if iy > 0 {
                    dense[k][k - nx] = coefficient(&mesh, iy, ix, 3);
                }
                if iy + 1 < ny {
                    dense[k][k + nx] = coefficient(&mesh, iy, ix, 4);
                }
            }
        }
        let exact = direct_solve(dense, b_global.clone());
        let grid = ProcessGrid::choose(&mesh, comm.size()).unwrap();
        let block = Block::new(&mesh, grid, comm.rank());
        let mut a = Stencil::zeros(block.ny, block.nx);
        let mut b = vec![0.0; block.cells()];
        for j in 0..block.ny {
            for i in 0..block.nx {
                let (iy, ix) = (block.y0 + j, block.x0 + i);
                let c = j * block.nx + i;
                a.diag[c] = coefficient(&mesh, iy, ix, 0);
                a.west[c] = coefficient(&mesh, iy, ix, 1);
                a.east[c] = coefficient(&mesh, iy, ix, 2);
                a.south[c] = coefficient(&mesh, iy, ix, 3);
                a.north[c] = coefficient(&mesh, iy, ix, 4);
                b[c] = b_global[iy * nx + ix];
            }
        }
        let mut m = BlockIlu0::new(&a).expect("ILU(0)");
        let mut halo = HaloExchange::new(&block);
        let mut x = vec![0.0; block.cells()];
        let control = KrylovControl {
            tol: 1e-12,
            max_iterations: 200,
        };
        match bicgstab(&comm, &a, &mut halo, &mut m, &b, &mut x, control) {
            Ok(stats) => {
                let mut err = 0.0f64;
                for j in 0..block.ny {
                    for i in 0..block.nx {
                        let k = (block.y0 + j) * nx + block.x0 + i;
                        err = err.max((x[j * block.nx + i] - exact[k]).abs());
                    }
                }
                let err = comm.max(err);
                let scale = exact.iter().fold(0.0f64, |s, v| s.max(v.abs()));
                if err > 1e-10 * scale {
                    failures.push(format!("{dim}D: max error {err:e} vs direct solve"));
                }
                if comm.is_root() {
                    println!(
                        "krylov {dim}D n={n} on {} ranks: {} iterations, residual {:e}, error {err:e}",
                        comm.size(),
                        stats.iterations,
                        stats.relative_residual
                    );
                }
                if comm.size() == 1 && dim == 1 && stats.iterations > 1 {
                    failures.push(format!(
                        "1D on one rank: ILU(0) is exact, expected 1 iteration, got {}",
                        stats.iterations
                    ));
                }
            }
            Err(e) => failures.push(format!("{dim}D: {e}")),
        }
    }
    let failed = comm.any(!failures.is_empty());
    for f in &failures {
        eprintln!("rank {}: {f}", comm.rank());
    }
    i32::from(failed)
}

fn main() {
    if let Some(code) = common::relaunch_under_mpirun(&[1, 2, 3, 4], "krylov") {
        std::process::exit(code);
    }
    std::process::exit(child());
}
