//! One explicit stage (per-cell values + face fluxes + update) on a 1023 x 1023 block, single
//! core, no MPI: prints cell-updates per second for `upwind` (gamma = 2 and 2.5) and `sg`.
//!
//! `cargo bench --bench stage` (set `NLFP_BENCH_N` for another size, `NLFP_BENCH_REPS` for more
//! repetitions). The best of the repetitions is reported, with the median, since the machines are
//! shared and noisy; compare ratios measured in one run.

use std::hint::black_box;
use std::time::Instant;

use nlfp::decomp::{Block, ProcessGrid};
use nlfp::field::Field;
use nlfp::mesh::Mesh;
use nlfp::scheme::stage::{self, BlockGeometry, FaceRates, Scratch};
use nlfp::scheme::{FaceCoefficients, Family, Sg, Upwind};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A smooth supercritical-looking field: a bump of height ~3 at the origin.
fn field(mesh: &Mesh, block: &Block) -> Field {
    let mut f = Field::zeros(block.ny, block.nx);
    for j in 0..block.ny {
        for i in 0..block.nx {
            let [x, y] = mesh.cell_centre(j, i);
            let k = f.index(j as isize, i as isize);
            f.raw_mut()[k] = 3.0 * (-(x * x + y * y) / 2.0).exp() + 1e-3;
        }
    }
    f
}

fn bench<F: Family>(name: &str, family: F, mesh: &Mesh, reps: usize) -> f64 {
    let block = Block::new(mesh, ProcessGrid { px: 1, py: 1 }, 0);
    let geom = BlockGeometry::new(mesh, &block);
    let f = field(mesh, &block);
    let mut out = f.clone();
    let mut scratch = Scratch::new(&f);
    let whole = geom.whole();
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps + 1 {
        let t0 = Instant::now();
        stage::fill_aux_owned(&family, black_box(&f), &mut scratch.aux);
        stage::apply(&family, &geom, &f, &mut scratch, &mut out, &whole, 1e-4);
        black_box(&out);
        times.push(t0.elapsed().as_secs_f64());
    }
    times.remove(0); // warm-up
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let cells = mesh.cells() as f64;
    let best = cells / times[0] / 1e6;
    let median = cells / times[times.len() / 2] / 1e6;
    println!(
        "{name:<22} {best:8.1} M cell-updates/s (best of {reps}), median {median:8.1} M/s, {:.2} ms/stage",
        1e3 * times[0]
    );
    best
}

/// A whole explicit Euler step of a family whose time-step rates are its flux rates: per-cell
/// values, the rate pass keeping the face rates, and the update from the kept rates.
fn bench_step<F: Family>(name: &str, family: F, mesh: &Mesh, reps: usize) -> f64 {
    let block = Block::new(mesh, ProcessGrid { px: 1, py: 1 }, 0);
    let geom = BlockGeometry::new(mesh, &block);
    let f = field(mesh, &block);
    let mut out = f.clone();
    let mut scratch = Scratch::new(&f);
    let mut rates = FaceRates::new(block.ny, block.nx);
    let whole = geom.whole();
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps + 1 {
        let t0 = Instant::now();
        stage::fill_aux_owned(&family, black_box(&f), &mut scratch.aux);
        let rate = stage::max_rate(&family, &geom, &f, &mut scratch, &whole, Some(&mut rates));
        stage::apply_stored(&geom, &f, &rates, &mut out, &whole, 0.5 / rate);
        black_box(&out);
        times.push(t0.elapsed().as_secs_f64());
    }
    times.remove(0);
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let best = mesh.cells() as f64 / times[0] / 1e6;
    println!(
        "{name:<22} {best:8.1} M cell-steps/s (best of {reps}), {:.2} ms/step (rates + kept-rate update)",
        1e3 * times[0]
    );
    best
}

fn main() {
    let n = env_usize("NLFP_BENCH_N", 1023);
    let reps = env_usize("NLFP_BENCH_REPS", 30);
    let mesh = Mesh::new(2, n, 6.0);
    println!("one explicit stage on a {n} x {n} block, single core");
    let coeffs = |gamma: f64| FaceCoefficients {
        diffusion: 1.0,
        kappa: 1.0,
        gamma,
        h: mesh.h,
    };
    let up2 = bench("upwind gamma=2", Upwind::new(coeffs(2.0)), &mesh, reps);
    let up25 = bench("upwind gamma=2.5", Upwind::new(coeffs(2.5)), &mesh, reps);
    let up23 = bench(
        "upwind gamma=2.3 (powf)",
        Upwind::new(coeffs(2.3)),
        &mesh,
        reps,
    );
    let sg = bench("sg gamma=2", Sg::new(coeffs(2.0)), &mesh, reps);
    bench_step("sg gamma=2 Euler step", Sg::new(coeffs(2.0)), &mesh, reps);
    println!(
        "targets (2-core dev machine): upwind gamma=2 >= 150 ({}), gamma=2.5 >= 80 ({}), sg >= 40 ({}); powf {:.1}",
        if up2 >= 150.0 { "met" } else { "NOT met" },
        if up25 >= 80.0 { "met" } else { "NOT met" },
        if sg >= 40.0 { "met" } else { "NOT met" },
        up23
    );
}
