//! The multigrid preconditioner of the implicit stepper (issue 13), on 1 to 4 ranks:
//!
//! * a V-cycle reduces the residual of a backward-Euler Scharfetter–Gummel Jacobian (2D, OU
//!   drift with a condensate-like spike at the origin, `dt D / h^2` up to 45) by a fixed factor
//!   per cycle on n = 63, 127, 255, and the factor does not degrade with n;
//! * the MG-preconditioned BiCGStab solution has the same bits on every process grid as on one
//!   rank (the forward `J` and the transposed `J^T` of the reverse);
//! * on a tiny grid it agrees with a dense direct solve and with the ILU(0) path to 1e-12.
//!
//! Run by `cargo test` as a plain program that relaunches itself under `mpirun`.

// The dense elimination indexes rows and columns of the same matrix.
#![allow(clippy::needless_range_loop)]

mod common;

use nlfp::comm::{self, Comm, HaloExchange};
use nlfp::decomp::{Block, ProcessGrid};
use nlfp::mesh::Mesh;
use nlfp::time::krylov::{bicgstab, BlockIlu0, KrylovControl, Preconditioner, Stencil5};
use nlfp::time::multigrid::Multigrid;

fn bernoulli(z: f64) -> f64 {
    if z.abs() < 1e-8 {
        1.0 - z / 2.0
    } else {
        z / z.exp_m1()
    }
}

/// `(p, q)` of the east (`axis = 0`) or north (`axis = 1`) face of global cell `(iy, ix)`:
/// `(dt/h) (D/h) (B(z), B(-z))` with `z = x_f h g / D`, drift `-x g` towards the origin, `g`
/// spiking to `1 + spike` within about 2h of the origin; zero across the boundary.
fn face(mesh: &Mesh, dt: f64, spike: f64, iy: usize, ix: usize, axis: usize) -> (f64, f64) {
    let n = mesh.n;
    let (i, other) = if axis == 0 { (ix, iy) } else { (iy, ix) };
    if i + 1 >= n || (axis == 1 && mesh.dim == 1) {
        return (0.0, 0.0);
    }
    let h = mesh.h;
    let x_f = mesh.centre(i) + 0.5 * h;
    let y = mesh.centre(other);
    let r2 = x_f * x_f + if mesh.dim == 2 { y * y } else { 0.0 };
    let g = 1.0 + spike * (-r2 / (4.0 * h * h)).exp();
    let z = x_f * h * g;
    let c = dt / (h * h);
    (c * bernoulli(z), c * bernoulli(-z))
}

/// The backward-Euler Jacobian `J = I - dt L` (or its transpose) on `block`.
fn operator(mesh: &Mesh, block: &Block, dt: f64, spike: f64, transposed: bool) -> Stencil5 {
    let mut a = Stencil5::zeros(block.ny, block.nx);
    for j in 0..block.ny {
        for i in 0..block.nx {
            let (iy, ix) = (block.y0 + j, block.x0 + i);
            let c = j * block.nx + i;
            let e = face(mesh, dt, spike, iy, ix, 0);
            let w = if ix > 0 {
                face(mesh, dt, spike, iy, ix - 1, 0)
            } else {
                (0.0, 0.0)
            };
            let nn = face(mesh, dt, spike, iy, ix, 1);
            let s = if iy > 0 {
                face(mesh, dt, spike, iy - 1, ix, 1)
            } else {
                (0.0, 0.0)
            };
            a.diag[c] = 1.0 + (e.0 + w.1) + (nn.0 + s.1);
            if transposed {
                (a.west[c], a.east[c], a.south[c], a.north[c]) = (-w.1, -e.0, -s.1, -nn.0);
            } else {
                (a.west[c], a.east[c], a.south[c], a.north[c]) = (-w.0, -e.1, -s.0, -nn.1);
            }
        }
    }
    a
}

fn noise(k: usize) -> f64 {
    let mut z = (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

fn rhs(mesh: &Mesh, block: &Block) -> Vec<f64> {
    let mut b = Vec::with_capacity(block.cells());
    for j in 0..block.ny {
        for i in 0..block.nx {
            b.push(noise((block.y0 + j) * mesh.nx() + block.x0 + i));
        }
    }
    b
}

fn global(comm: &Comm, mesh: &Mesh, block: &Block, local: &[f64]) -> Vec<f64> {
    let mut head = vec![
        block.y0 as f64,
        block.x0 as f64,
        block.ny as f64,
        block.nx as f64,
    ];
    head.extend_from_slice(local);
    let mut g = vec![0.0; mesh.cells()];
    for p in comm.all_gather_f64(&head) {
        let (y0, x0, ny, nx) = (p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize);
        for j in 0..ny {
            for i in 0..nx {
                g[(y0 + j) * mesh.nx() + x0 + i] = p[4 + j * nx + i];
            }
        }
    }
    g
}

fn norm(comm: &Comm, v: &[f64]) -> f64 {
    nlfp::time::krylov::dot_many(comm, &[(v, v)])[0].sqrt()
}

/// Stationary V-cycle iteration `x += M^-1 (b - A x)`: the mean residual reduction per cycle
/// over cycles 3..8.
fn cycle_factor(comm: &Comm, n: usize, spike: f64) -> f64 {
    let mesh = Mesh::new(2, n, 6.0);
    let grid = ProcessGrid::choose(&mesh, comm.size()).unwrap();
    let block = Block::new(&mesh, grid, comm.rank());
    let a = operator(&mesh, &block, 0.1, spike, false);
    let mut mg = Multigrid::new(comm, (n, n), &block);
    mg.setup(comm, &a, false).expect("setup");
    let b = rhs(&mesh, &block);
    let mut halo = HaloExchange::new(&block);
    let mut work = nlfp::field::Field::zeros(block.ny, block.nx);
    let m = b.len();
    let (mut x, mut r, mut z, mut ax) = (vec![0.0; m], b.clone(), vec![0.0; m], vec![0.0; m]);
    let mut norms = vec![norm(comm, &r)];
    for _ in 0..8 {
        mg.apply(comm, &r, &mut z);
        for k in 0..m {
            x[k] += z[k];
        }
        a.apply(comm, &mut halo, &x, &mut work, &mut ax);
        for k in 0..m {
            r[k] = b[k] - ax[k];
        }
        norms.push(norm(comm, &r));
    }
    (norms[8] / norms[3]).powf(1.0 / 5.0)
}

fn solve_mg(
    comm: &Comm,
    mesh: &Mesh,
    grid: ProcessGrid,
    transposed: bool,
    tol: f64,
) -> (Vec<f64>, usize) {
    let block = Block::new(mesh, grid, comm.rank());
    let a = operator(mesh, &block, 0.1, 100.0, transposed);
    let mut mg = Multigrid::new(comm, (mesh.ny(), mesh.nx()), &block);
    mg.setup(comm, &a, transposed).expect("setup");
    let b = rhs(mesh, &block);
    let mut x = vec![0.0; b.len()];
    let mut halo = HaloExchange::new(&block);
    let control = KrylovControl {
        tol,
        max_iterations: 200,
    };
    let stats = bicgstab(comm, &a, &mut halo, &mut mg, &b, &mut x, control).expect("solve");
    (global(comm, mesh, &block, &x), stats.iterations)
}

fn dense_solve(mesh: &Mesh, transposed: bool) -> Vec<f64> {
    let whole = Block::new(mesh, ProcessGrid::planar(1, 1), 0);
    let a = operator(mesh, &whole, 0.1, 100.0, transposed);
    let (nx, ny) = (mesh.nx(), mesh.ny());
    let total = nx * ny;
    let mut d = vec![vec![0.0; total]; total];
    for k in 0..total {
        let (j, i) = (k / nx, k % nx);
        d[k][k] = a.diag[k];
        if i > 0 {
            d[k][k - 1] = a.west[k];
        }
        if i + 1 < nx {
            d[k][k + 1] = a.east[k];
        }
        if j > 0 {
            d[k][k - nx] = a.south[k];
        }
        if j + 1 < ny {
            d[k][k + nx] = a.north[k];
        }
    }
    let mut b = rhs(mesh, &whole);
    for col in 0..total {
        let p = (col..total)
            .max_by(|&x, &y| d[x][col].abs().total_cmp(&d[y][col].abs()))
            .unwrap();
        d.swap(col, p);
        b.swap(col, p);
        for row in col + 1..total {
            let f = d[row][col] / d[col][col];
            if f != 0.0 {
                for c in col..total {
                    d[row][c] -= f * d[col][c];
                }
                b[row] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; total];
    for row in (0..total).rev() {
        let s: f64 = (row + 1..total).map(|c| d[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / d[row][row];
    }
    x
}

fn child() -> i32 {
    let (_mpi, comm) = comm::init().expect("MPI");
    let np = comm.size();
    let mut failures = Vec::new();
    // 1. V-cycle factor on n = 63, 127, 255 (distributed runs give the same bits as one rank,
    //    part 2, so one rank suffices). Measured factors: 0.141, 0.055, 0.066 with the spike
    //    100 used here, 0.040, 0.055, 0.066 without; with a spike of 1e3 the plain V-cycle
    //    iteration diverges at n = 127 (noted in issue 13's report).
    if np == 1 {
        let factors: Vec<f64> = [63, 127, 255]
            .iter()
            .map(|&n| cycle_factor(&comm, n, 100.0))
            .collect();
        if comm.is_root() {
            println!("multigrid on {np} ranks: V-cycle residual factor per cycle at n = 63, 127, 255: {factors:.3?}");
        }
        if factors.iter().any(|&f| f.is_nan() || f >= 0.2) {
            failures.push(format!("V-cycle factors {factors:?} not all below 0.2"));
        }
        if factors[2] > 1.25 * factors[0] + 0.01 {
            failures.push(format!("V-cycle factor degrades with n: {factors:?}"));
        }
    }
    // 2. Bit-identical solution on every process grid of np ranks and on one rank alone, in
    //    2D (n = 31, 27 = 2^2 7 - 1 coarsens to 13 then 6) and 1D.
    for (dim, n, transposes) in [
        (2usize, 31usize, &[false, true][..]),
        (2, 27, &[false][..]),
        (1, 61, &[true][..]),
    ] {
        let mesh = Mesh::new(dim, n, 6.0);
        for &transposed in transposes {
            let (reference, _) = if comm.is_root() {
                solve_mg(
                    &comm.solo(),
                    &mesh,
                    ProcessGrid::planar(1, 1),
                    transposed,
                    1e-12,
                )
            } else {
                (Vec::new(), 0)
            };
            let mut grids = vec![ProcessGrid::planar(np, 1)];
            if dim == 2 && np > 1 {
                grids.push(ProcessGrid::planar(1, np));
                if np == 4 {
                    grids.push(ProcessGrid::planar(2, 2));
                }
            }
            for grid in grids {
                let (x, its) = solve_mg(&comm, &mesh, grid, transposed, 1e-12);
                if comm.is_root() {
                    let differing = x
                        .iter()
                        .zip(&reference)
                        .filter(|(a, b)| a.to_bits() != b.to_bits())
                        .count();
                    if differing > 0 {
                        failures.push(format!(
                            "{dim}D n={n} transposed={transposed} grid {}x{}: {differing} values differ from one rank",
                            grid.px, grid.py
                        ));
                    }
                    println!(
                        "multigrid {dim}D n={n} transposed={transposed} grid {}x{}: {its} iterations, bit-identical: {}",
                        grid.px,
                        grid.py,
                        differing == 0
                    );
                }
            }
        }
    }
    // 3. Tiny grid: MG path, ILU path and dense direct solve agree to 1e-12.
    let mesh = Mesh::new(2, 11, 6.0);
    for transposed in [false, true] {
        let exact = dense_solve(&mesh, transposed);
        let grid = ProcessGrid::choose(&mesh, np).unwrap();
        let (mg, _) = solve_mg(&comm, &mesh, grid, transposed, 1e-15);
        let block = Block::new(&mesh, grid, comm.rank());
        let a = operator(&mesh, &block, 0.1, 100.0, transposed);
        let mut ilu = BlockIlu0::new(&a).unwrap();
        let b = rhs(&mesh, &block);
        let mut x = vec![0.0; b.len()];
        let mut halo = HaloExchange::new(&block);
        let control = KrylovControl {
            tol: 1e-15,
            max_iterations: 500,
        };
        bicgstab(&comm, &a, &mut halo, &mut ilu, &b, &mut x, control).expect("ILU solve");
        let ilu_x = global(&comm, &mesh, &block, &x);
        let scale = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err_mg = common::max_diff(&mg, &exact) / scale;
        let err_ilu = common::max_diff(&mg, &ilu_x) / scale;
        if comm.is_root() {
            println!(
                "multigrid tiny transposed={transposed}: vs direct {err_mg:e}, vs ILU {err_ilu:e}"
            );
        }
        if !(err_mg <= 1e-12 && err_ilu <= 1e-12) {
            failures.push(format!(
                "tiny grid transposed={transposed}: MG vs direct {err_mg:e}, MG vs ILU {err_ilu:e}"
            ));
        }
    }
    let failed = comm.any(!failures.is_empty());
    for f in &failures {
        eprintln!("rank {}: {f}", comm.rank());
    }
    i32::from(failed)
}

fn main() {
    if let Some(code) = common::relaunch_under_mpirun(&[1, 2, 3, 4], "multigrid") {
        std::process::exit(code);
    }
    std::process::exit(child());
}
