//! Particle updates per second per core: push, deposit (with its reverse halo sum), migration
//! and smoothing of the forward particle system, at 10^6 and 10^7 particles on 1 and 2 ranks,
//! in 2D (and 1D), plus the kernels alone (generator, normals) on one core.
//!
//! `cargo bench --bench particles` relaunches itself under `mpirun -n P` for every rank count.
//! Environment: `NLFP_BENCH_COUNTS` (default `1000000,10000000`), `NLFP_BENCH_RANKS` (`1,2`),
//! `NLFP_BENCH_STEPS` (10), `NLFP_BENCH_DIMS` (`2,1`), `NLFP_BENCH_N` (grid cells per axis, 201).
//! Figures are per rank (one rank per core), the slowest rank's. The machines are shared and
//! noisy: next to wall-clock rates the push and the deposit kernel are also timed in CPU time of
//! the thread (`CLOCK_THREAD_CPUTIME_ID`), which does not count the time another process held
//! the core, and the best single step is shown too. MPI waits spin, so whole-step figures (with
//! the reverse halo sum, the migration and the smoothing) are wall-clock only.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use nlfp::comm::{self, Comm, Migrator};
use nlfp::decomp::{Block, ProcessGrid};
use nlfp::field::Field;
use nlfp::mesh::Mesh;
use nlfp::particles::forward::ForwardPush;
use nlfp::particles::grid::ParticleGrid;
use nlfp::particles::rng::{CounterRng, Stream};
use nlfp::particles::sample::{draw_position, CellSampler};
use nlfp::particles::{Ownership, Particle};
use nlfp::physics::ModelParams;

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn main() {
    if std::env::var_os("OMPI_COMM_WORLD_SIZE").is_none() {
        kernels();
        let exe = std::env::current_exe().expect("own path");
        for np in env_list("NLFP_BENCH_RANKS", "1,2") {
            let out = Command::new("mpirun")
                .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
                .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
                .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
                .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
                .arg("-n")
                .arg(np.to_string())
                .arg(&exe)
                .arg("--bench")
                .output()
                .expect("cannot launch mpirun");
            print!("{}", String::from_utf8_lossy(&out.stdout));
            if !out.status.success() {
                eprint!("{}", String::from_utf8_lossy(&out.stderr));
                std::process::exit(1);
            }
        }
        return;
    }
    let (_mpi, comm) = comm::init().expect("MPI");
    let steps = env_list("NLFP_BENCH_STEPS", "10")[0];
    let n = env_list("NLFP_BENCH_N", "201")[0];
    for dim in env_list("NLFP_BENCH_DIMS", "2,1") {
        for count in env_list("NLFP_BENCH_COUNTS", "1000000,10000000") {
            system(&comm, dim, n, count as u64, steps);
        }
    }
}

/// The kernels alone, one core.
fn kernels() {
    let rng = CounterRng::new(1);
    let n = 20_000_000u64;
    let t0 = Instant::now();
    let mut acc = 0u32;
    for id in 0..n {
        acc ^= rng.block(id, 1, Stream::Forward)[0];
    }
    black_box(acc);
    let philox = n as f64 / t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let mut s = 0.0;
    for id in 0..n {
        s += rng.normals(id, 1, Stream::Forward)[0];
    }
    black_box(s);
    let normals = n as f64 / t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let mut s = 0.0;
    for id in 0..n {
        s += rng.normals_box_muller(id, 1, Stream::Forward)[0];
    }
    black_box(s);
    let box_muller = n as f64 / t0.elapsed().as_secs_f64();
    println!(
        "kernels (1 core): Philox4x32-10 {:.1} M blocks/s; normal pairs by inversion (used) \
         {:.1} M/s, by Box-Muller {:.1} M/s",
        philox / 1e6,
        normals / 1e6,
        box_muller / 1e6
    );
}

#[derive(Default)]
struct Times {
    push: Duration,
    deposit: Duration,
    migrate: Duration,
    smooth: Duration,
    push_cpu: Duration,
    kernel_cpu: Duration,
    kernel: Duration,
}

/// CPU time of this thread: `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` (Linux, glibc).
fn cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn system(comm: &Comm, dim: usize, n: usize, count: u64, steps: usize) {
    let mesh = Mesh::new(dim, n, 6.0);
    let grid = ProcessGrid::choose(&mesh, comm.size()).expect("grid");
    let block = Block::new(&mesh, grid, comm.rank());
    let params = ModelParams::new(1.0, 1.0, 2.0);
    let mass = 0.5 * params.critical_mass(2).unwrap_or(1.0);
    // A centred Gaussian of standard deviation 1, as cell weights.
    let weights: Vec<f64> = (0..mesh.ny())
        .flat_map(|iy| (0..mesh.nx()).map(move |ix| (iy, ix)))
        .map(|(iy, ix)| {
            let [x, y] = mesh.cell_centre(iy, ix);
            (-(x * x + y * y) / 2.0).exp()
        })
        .collect();
    let sampler = CellSampler::new(&weights).expect("weights");
    let own = Ownership::new(&mesh, grid);
    let rng = CounterRng::new(7);
    let mut particles: Vec<Particle> = (0..count)
        .filter_map(|id| {
            let pos = draw_position(&rng, Stream::Initial, &sampler, &mesh, id);
            (own.coords(pos) == block.coords).then_some(Particle { id, pos })
        })
        .collect();
    let mut pgrid = ParticleGrid::new(&mesh, &block, 2, mass / count as f64);
    let mut scratch: Field<i64> = Field::new(block.ny, block.nx, usize::from(dim == 2), 1);
    let push = ForwardPush::new(&params, 1e-2, 7, &mesh);
    let mut migrator = Migrator::new(&block);
    pgrid.deposit(comm, &particles);
    let mut total = Times::default();
    let mut best = f64::INFINITY; // push + deposit seconds per local particle
    let mut migrated = 0u64;
    for step in 1..=steps as u64 {
        comm.barrier();
        let t0 = Instant::now();
        pgrid.smooth(comm);
        let t1 = Instant::now();
        let c1 = cpu_time();
        push.push(&pgrid, &mut particles, step);
        let c2 = cpu_time();
        let t2 = Instant::now();
        let report = migrator.migrate(comm, &mut particles, |p: &Particle| own.coords(p.pos));
        let t3 = Instant::now();
        pgrid.deposit(comm, &particles);
        let t4 = Instant::now();
        // The deposit kernel alone (no communication), for the per-core figure.
        scratch.fill(0);
        let c4 = cpu_time();
        let k0 = Instant::now();
        pgrid.cic().deposit(&particles, &mut scratch);
        total.kernel += k0.elapsed();
        total.kernel_cpu += cpu_time() - c4;
        total.push_cpu += c2 - c1;
        migrated += report.sent;
        total.smooth += t1 - t0;
        total.push += t2 - t1;
        total.migrate += t3 - t2;
        total.deposit += t4 - t3;
        let core = ((t2 - t1) + (t4 - t3)).as_secs_f64() / particles.len().max(1) as f64;
        best = best.min(core);
    }
    let local = particles.len() as f64;
    let rate = |d: Duration| local * steps as f64 / d.as_secs_f64() / 1e6;
    // Per-rank rates, reported as the slowest rank's (MIN over ranks via MAX of the negation).
    let worst = |x: f64| -comm.max(-x);
    let push_deposit = worst(rate(total.push + total.deposit));
    let best_rate = worst(1e-6 / best);
    let all = worst(rate(
        total.push + total.deposit + total.migrate + total.smooth,
    ));
    let push_only = worst(rate(total.push));
    let deposit_only = worst(rate(total.deposit));
    let cpu_core = worst(rate(total.push_cpu + total.kernel_cpu));
    let cpu_push = worst(rate(total.push_cpu));
    let cpu_kernel = worst(rate(total.kernel_cpu));
    let wall_kernel = worst(rate(total.push + total.kernel));
    let migrate_share = comm.max(
        total.migrate.as_secs_f64()
            / (total.push + total.deposit + total.migrate + total.smooth).as_secs_f64(),
    );
    let imbalance = comm.max(local) * comm.size() as f64 / count as f64;
    let migrated = comm.sum_many(&[migrated as f64])[0];
    if comm.is_root() {
        println!(
            "{dim}D n={n} N_p={count:>9} ranks={} ({}x{}) [M particle-steps/s per core]\n  \
             push + deposit kernel: CPU time {cpu_core:6.1} (push {cpu_push:6.1}, deposit \
             {cpu_kernel:6.1}), wall {wall_kernel:6.1}\n  \
             push + deposit with halo sum, wall: {push_deposit:6.1} (best step {best_rate:6.1}; \
             push {push_only:6.1}, deposit+sum {deposit_only:6.1})\n  \
             whole step (+ migration + smoothing), wall: {all:6.1}; migration {:.1}% of the \
             step, {:.2e} moved/step; imbalance {imbalance:.3}",
            comm.size(),
            grid.px,
            grid.py,
            100.0 * migrate_share,
            migrated / steps as f64,
        );
    }
}
