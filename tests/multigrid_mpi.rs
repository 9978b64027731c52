//! The multigrid preconditioner of the implicit stepper (issue 13), on 1 to 4 ranks:
//!
//! * a V-cycle reduces the residual of a backward-Euler Scharfetter–Gummel Jacobian (2D, OU
//!   drift with a condensate-like spike at the origin, `dt D / h^2` up to 45) by a fixed factor
//!   per cycle on n = 63, 127, 255, and the factor does not degrade with n;
//! * the MG-preconditioned BiCGStab solution has the same bits on every process grid as on one
//!   rank (the forward `J` and the transposed `J^T` of the reverse);
//! * on a tiny grid it agrees with a dense direct solve and with the ILU(0) path to 1e-12;
//! * the same in 3D (7-point Jacobian, issue 15): bit-identity on 3D process grids (n = 35),
//!   the tiny-grid agreement (7^3), and V-cycle factor and BiCGStab iterations that do not grow
//!   from n = 31 to 63.
//!
//! Run by `cargo test` as a plain program that relaunches itself under `mpirun`.

// The dense elimination indexes rows and columns of the same matrix.
#![allow(clippy::needless_range_loop)]

mod common;

use nlfp::comm::{self, Comm, HaloExchange};
use nlfp::decomp::{Block, ProcessGrid};
use nlfp::mesh::Mesh;
use nlfp::time::krylov::{bicgstab, BlockIlu0, KrylovControl, Preconditioner, Stencil};
use nlfp::time::multigrid::Multigrid;

fn bernoulli(z: f64) -> f64 {
    if z.abs() < 1e-8 {
        1.0 - z / 2.0
    } else {
        z / z.exp_m1()
    }
}

/// `(p, q)` of the east (`axis = 0`), north (`axis = 1`) or up (`axis = 2`) face of global cell
/// `g = [iz, iy, ix]`: `(dt/h) (D/h) (B(z), B(-z))` with `z = x_f h g / D`, drift `-x g`
/// towards the origin, `g` spiking to `1 + spike` within about 2h of the origin; zero across the
/// boundary.
fn face(mesh: &Mesh, dt: f64, spike: f64, g: [usize; 3], axis: usize) -> (f64, f64) {
    let n = mesh.n;
    let i = g[2 - axis];
    if i + 1 >= n || axis >= mesh.dim {
        return (0.0, 0.0);
    }
    let h = mesh.h;
    let x_f = mesh.centre(i) + 0.5 * h;
    let mut r2 = x_f * x_f;
    for other in (0..mesh.dim).filter(|&a| a != axis) {
        let y = mesh.centre(g[2 - other]);
        r2 += y * y;
    }
    let g = 1.0 + spike * (-r2 / (4.0 * h * h)).exp();
    let z = x_f * h * g;
    let c = dt / (h * h);
    (c * bernoulli(z), c * bernoulli(-z))
}

/// The global index `[iz, iy, ix]` of owned cell `(k, j, i)` of `block`.
fn global_index(block: &Block, k: usize, j: usize, i: usize) -> [usize; 3] {
    [block.z0 + k, block.y0 + j, block.x0 + i]
}

/// The backward-Euler Jacobian `J = I - dt L` (or its transpose) on `block` (5-point, 7-point
/// in 3D).
fn operator(mesh: &Mesh, block: &Block, dt: f64, spike: f64, transposed: bool) -> Stencil {
    let mut a = Stencil::for_dim(mesh.dim, block.nz, block.ny, block.nx);
    let zero = (0.0, 0.0);
    let mut c = 0;
    for k in 0..block.nz {
        for j in 0..block.ny {
            for i in 0..block.nx {
                let g = global_index(block, k, j, i);
                let f = |axis: usize| face(mesh, dt, spike, g, axis);
                let below = |axis: usize| {
                    let mut h = g;
                    if h[2 - axis] == 0 {
                        return zero;
                    }
                    h[2 - axis] -= 1;
                    face(mesh, dt, spike, h, axis)
                };
                let (e, w, nn, s) = (f(0), below(0), f(1), below(1));
                let plane = (e.0 + w.1) + (nn.0 + s.1);
                if transposed {
                    (a.west[c], a.east[c], a.south[c], a.north[c]) = (-w.1, -e.0, -s.1, -nn.0);
                } else {
                    (a.west[c], a.east[c], a.south[c], a.north[c]) = (-w.0, -e.1, -s.0, -nn.1);
                }
                a.diag[c] = 1.0
                    + if mesh.dim == 3 {
                        let (u, d) = (f(2), below(2));
                        (a.down[c], a.up[c]) = if transposed {
                            (-d.1, -u.0)
                        } else {
                            (-d.0, -u.1)
                        };
                        plane + (u.0 + d.1)
                    } else {
                        plane
                    };
                c += 1;
            }
        }
    }
    a
}

/// The time step of the test operators: 0.1 in 1D and 2D (`dt D / h^2` = 45 at n = 255), 2 in
/// 3D (`dt D / h^2` = 13 at n = 31, 3.1 at n = 15).
fn step(mesh: &Mesh) -> f64 {
    if mesh.dim == 3 {
        2.0
    } else {
        0.1
    }
}

fn noise(k: usize) -> f64 {
    let mut z = (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

/// The flat global index of `[iz, iy, ix]`.
fn flat(mesh: &Mesh, [iz, iy, ix]: [usize; 3]) -> usize {
    (iz * mesh.ny() + iy) * mesh.nx() + ix
}

fn rhs(mesh: &Mesh, block: &Block) -> Vec<f64> {
    let mut b = Vec::with_capacity(block.cells());
    for k in 0..block.nz {
        for j in 0..block.ny {
            for i in 0..block.nx {
                b.push(noise(flat(mesh, global_index(block, k, j, i))));
            }
        }
    }
    b
}

fn global(comm: &Comm, mesh: &Mesh, block: &Block, local: &[f64]) -> Vec<f64> {
    let mut head: Vec<f64> = [block.z0, block.y0, block.x0, block.nz, block.ny, block.nx]
        .iter()
        .map(|&v| v as f64)
        .collect();
    head.extend_from_slice(local);
    let mut g = vec![0.0; mesh.cells()];
    for p in comm.all_gather_f64(&head) {
        let h: Vec<usize> = p[..6].iter().map(|&v| v as usize).collect();
        let mut c = 6;
        for k in 0..h[3] {
            for j in 0..h[4] {
                for i in 0..h[5] {
                    g[flat(mesh, [h[0] + k, h[1] + j, h[2] + i])] = p[c];
                    c += 1;
                }
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
fn cycle_factor(comm: &Comm, dim: usize, n: usize, spike: f64) -> f64 {
    let mesh = Mesh::new(dim, n, 6.0);
    let grid = ProcessGrid::choose(&mesh, comm.size()).unwrap();
    let block = Block::new(&mesh, grid, comm.rank());
    let a = operator(&mesh, &block, step(&mesh), spike, false);
    let mut mg = Multigrid::new(comm, &mesh, &block);
    mg.setup(comm, &a, false).expect("setup");
    let b = rhs(&mesh, &block);
    let mut halo = HaloExchange::new(&block);
    let mut work = a.field();
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
    let a = operator(mesh, &block, step(mesh), 100.0, transposed);
    let mut mg = Multigrid::new(comm, mesh, &block);
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
    let whole = Block::new(mesh, ProcessGrid::single(), 0);
    let a = operator(mesh, &whole, step(mesh), 100.0, transposed);
    let (nx, ny, nz) = (mesh.nx(), mesh.ny(), mesh.nz());
    let (np, total) = (nx * ny, mesh.cells());
    let mut d = vec![vec![0.0; total]; total];
    for k in 0..total {
        let (p, j, i) = (k / np, (k % np) / nx, k % nx);
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
        if p > 0 {
            d[k][k - np] = a.down[k];
        }
        if p + 1 < nz {
            d[k][k + np] = a.up[k];
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
            .map(|&n| cycle_factor(&comm, 2, n, 100.0))
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
        (3, 35, &[false, true][..]),
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
            if dim == 3 && np > 1 {
                // 35 = 2 17 + 1 coarsens to 17^3 (distributed) then 8^3 (gathered).
                grids = vec![ProcessGrid::from_procs(&[1, 1, np])];
                if np == 4 {
                    grids.push(ProcessGrid::from_procs(&[2, 1, 2]));
                    grids.push(ProcessGrid::from_procs(&[1, 2, 2]));
                } else {
                    grids.push(ProcessGrid::from_procs(&[np, 1, 1]));
                }
            }
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
                            "{dim}D n={n} transposed={transposed} grid {}: {differing} values differ from one rank",
                            grid.label_in(dim)
                        ));
                    }
                    println!(
                        "multigrid {dim}D n={n} transposed={transposed} grid {}: {its} iterations, bit-identical: {}",
                        grid.label_in(dim),
                        differing == 0
                    );
                }
            }
        }
    }
    // 3. Tiny grids (2D, and 3D 7^3): MG path, ILU path and dense direct solve agree to 1e-12.
    for (mesh, transposed) in [
        (Mesh::new(2, 11, 6.0), false),
        (Mesh::new(2, 11, 6.0), true),
        (Mesh::new(3, 7, 6.0), false),
        (Mesh::new(3, 7, 6.0), true),
    ] {
        let exact = dense_solve(&mesh, transposed);
        let grid = ProcessGrid::choose(&mesh, np).unwrap();
        let (mg, _) = solve_mg(&comm, &mesh, grid, transposed, 1e-15);
        let block = Block::new(&mesh, grid, comm.rank());
        let a = operator(&mesh, &block, step(&mesh), 100.0, transposed);
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
                "multigrid tiny {}D transposed={transposed}: vs direct {err_mg:e}, vs ILU {err_ilu:e}",
                mesh.dim
            );
        }
        if !(err_mg <= 1e-12 && err_ilu <= 1e-12) {
            failures.push(format!(
                "tiny {}D grid transposed={transposed}: MG vs direct {err_mg:e}, MG vs ILU {err_ilu:e}",
                mesh.dim
            ));
        }
    }
    // 4. 3D (7-point Jacobian, dt D / h^2 = 13 at n = 31, 54 at n = 63): the V-cycle factor of
    //    the smooth OU problem (no spike) and the iterations of the preconditioned BiCGStab with
    //    the spike (100) do not grow from n = 31 to 63. Measured: factors 0.201, 0.206;
    //    iterations 7, 7 (5 at n = 15). With the spike the stationary V-cycle alone does not
    //    contract at n = 31 (factor 1.32; 0.79 at 63): the convection-dominated rows near the
    //    origin (cell Peclet number ~8) defeat red-black Gauss-Seidel, BiCGStab does not mind.
    if np == 1 {
        let mut its = Vec::new();
        let mut factors = Vec::new();
        for n in [31, 63] {
            let mesh = Mesh::new(3, n, 6.0);
            factors.push(cycle_factor(&comm, 3, n, 0.0));
            let (_, k) = solve_mg(&comm, &mesh, ProcessGrid::single(), false, 1e-10);
            its.push(k);
        }
        if comm.is_root() {
            println!(
                "multigrid 3D n = 31, 63: V-cycle factors {factors:.3?} (no spike), \
                 BiCGStab iterations to 1e-10 {its:?} (spike 100)"
            );
        }
        if factors.iter().any(|&f| f.is_nan() || f >= 0.25) || factors[1] > 1.1 * factors[0] + 0.01
        {
            failures.push(format!("3D V-cycle factors {factors:?}"));
        }
        if its[1] > its[0] + 1 || its[1] > 10 {
            failures.push(format!("3D BiCGStab iterations grow with n: {its:?}"));
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
