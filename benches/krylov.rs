//! Cost of the exact (order-independent) sums per Krylov iteration (issue 13), one rank: on
//! `n x n` grids (default 255 and 511, `NLFP_BENCH_NS="255 511"`), the backward-Euler Jacobian
//! `J = I - dt L` of the Scharfetter–Gummel drift–diffusion generator of `d_t f = Lap f +
//! div(x f)` (dt = 0.1) is solved by BiCGStab with the multigrid V-cycle to 1e-8, and compared
//! with the reductions of one BiCGStab iteration (five dot products in four reductions) done
//! (a) as exact sums ([`nlfp::time::krylov::dot_many`], what the solver does) and (b) as plain
//! `f64` loops with a SUM reduction (what it did before). Printed: time per Krylov iteration,
//! the exact and the plain reductions per iteration, and the exact sums' share.
//!
//! `cargo bench --bench krylov`. Best of `NLFP_BENCH_REPS` (default 5) repetitions; machines
//! are shared and noisy, so compare the ratios of one run.

use std::hint::black_box;
use std::time::Instant;

use nlfp::comm::{self, Comm, HaloExchange};
use nlfp::decomp::{Block, ProcessGrid};
use nlfp::mesh::Mesh;
use nlfp::time::krylov::{bicgstab, dot_many, KrylovControl, Stencil};
use nlfp::time::multigrid::Multigrid;

/// `z / (e^z - 1)`.
fn bernoulli(z: f64) -> f64 {
    if z.abs() < 1e-8 {
        1.0 - 0.5 * z
    } else {
        z / z.exp_m1()
    }
}

/// `J = I - dt L` of the SG generator with drift `x` and unit diffusion on the whole grid.
fn jacobian(mesh: &Mesh, dt: f64) -> Stencil {
    let n = mesh.nx();
    let h = mesh.h;
    let c = dt / (h * h);
    // Rates (left -> right, right -> left) of the face right of cell i along an axis.
    let rates = |i: usize| {
        let z = (mesh.centre(i) + 0.5 * h) * h;
        (c * bernoulli(z), c * bernoulli(-z))
    };
    let mut a = Stencil::zeros(n, n);
    for j in 0..n {
        for i in 0..n {
            let k = j * n + i;
            let (zero, open_w, open_s) = ((0.0, 0.0), i > 0, j > 0);
            let (e, nn) = if i + 1 < n {
                (rates(i), zero)
            } else {
                (zero, zero)
            };
            let nn = if j + 1 < n { rates(j) } else { nn };
            let w = if open_w { rates(i - 1) } else { zero };
            let s = if open_s { rates(j - 1) } else { zero };
            a.diag[k] = 1.0 + (e.0 + w.1) + (nn.0 + s.1);
            (a.west[k], a.east[k], a.south[k], a.north[k]) = (-w.0, -e.1, -s.0, -nn.1);
        }
    }
    a
}

fn best(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..reps).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn measure(comm: &Comm, n: usize, reps: usize) {
    let mesh = Mesh::new(2, n, 6.0);
    let block = Block::new(&mesh, ProcessGrid::planar(1, 1), 0);
    let a = jacobian(&mesh, 0.1);
    let mut halo = HaloExchange::new(&block);
    let mut mg = Multigrid::new(comm, &mesh, &block);
    mg.setup(comm, &a, false).expect("multigrid setup");
    let cells = n * n;
    let b: Vec<f64> = (0..cells).map(|k| ((k as f64) * 0.618).sin()).collect();
    let control = KrylovControl {
        tol: 1e-8,
        max_iterations: 400,
    };
    let mut iterations = 0;
    let solve = best(reps, || {
        let mut x = vec![0.0; cells];
        let t0 = Instant::now();
        let stats = bicgstab(comm, &a, &mut halo, &mut mg, &b, &mut x, control).expect("solve");
        iterations = stats.iterations;
        t0.elapsed().as_secs_f64() / stats.iterations.max(1) as f64
    });
    let (u, v) = (
        b.clone(),
        b.iter().map(|x| x * 0.5 + 0.1).collect::<Vec<_>>(),
    );
    let exact = best(reps, || {
        let t0 = Instant::now();
        black_box(dot_many(comm, &[(&u, &v)]));
        black_box(dot_many(comm, &[(&u, &u)]));
        black_box(dot_many(comm, &[(&v, &u), (&v, &v)]));
        black_box(dot_many(comm, &[(&v, &v)]));
        t0.elapsed().as_secs_f64()
    });
    let plain = best(reps, || {
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
        let t0 = Instant::now();
        black_box(comm.sum_many(&[dot(&u, &v)]));
        black_box(comm.sum_many(&[dot(&u, &u)]));
        black_box(comm.sum_many(&[dot(&v, &u), dot(&v, &v)]));
        black_box(comm.sum_many(&[dot(&v, &v)]));
        t0.elapsed().as_secs_f64()
    });
    println!(
        "{n:>5} {iterations:>6} {:>14.3} {:>14.3} {:>14.3} {:>9.1}%",
        1e3 * solve,
        1e3 * exact,
        1e3 * plain,
        100.0 * (exact - plain) / solve
    );
}

fn main() {
    let ns: Vec<usize> = std::env::var("NLFP_BENCH_NS")
        .unwrap_or_else(|_| "255 511".into())
        .split_whitespace()
        .map(|s| s.parse().expect("NLFP_BENCH_NS: cell counts"))
        .collect();
    let reps = std::env::var("NLFP_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let (_mpi, comm) = comm::init().expect("MPI init");
    println!(
        "BiCGStab + multigrid V-cycle on J = I - dt L (SG, dt = 0.1), one rank, best of {reps}"
    );
    println!(
        "{:>5} {:>6} {:>14} {:>14} {:>14} {:>10}",
        "n", "iters", "ms/iteration", "exact sums ms", "plain sums ms", "extra"
    );
    for n in ns {
        measure(&comm, n, reps);
    }
    println!("(exact/plain sums: the five dot products and four reductions of one iteration;");
    println!(" extra: (exact - plain) / time per iteration)");
}
