//! Single-core rates of the explicit kernels on a 1023 x 1023 block (one rank, no halo
//! partner), printed as a table:
//!
//! * one explicit stage (per-cell values + face fluxes + update) of `upwind` at gamma = 2, 2.5
//!   and 2.3 (the general-exponent path) and of `sg` at gamma = 2, in M cell-updates/s;
//! * the plain C upwind stage with strict IEEE math (`benches/upwind_strict.c`, `kappa
//!   pow(f, gamma)` per cell), built here with the system `cc -O3 -march=native` when there is
//!   one (skipped with a note otherwise), from the same run, so ratios are comparable;
//! * the second SSP-RK2 stage's work apart: the rate pass keeping the face rates plus the
//!   update from them, against the fused rate-and-update pass, timed alternately;
//! * a whole SSP-RK2 `sg` step through the production stepper (the rate pass keeping the flux
//!   divergence, the streaming first stage, the second stage fused with its rate bound and the
//!   convex combination), in M cell-steps/s;
//! * the exact reverse step of SSP-RK2 `sg` (the rates of `L(f^n)` with `f*`, the rates of
//!   `L(f*)` with both transposed stages and the combination, the rim after the exchange);
//! * one SSP-RK2 step of the reverse grid random walk evaluating its own rates (10^6
//!   particles);
//! * one interval of the score-based reverse (grid mode, lambda 1) taking one SSP-RK2 sub-step:
//!   the per-cell values and face rates at both ends and the two stages, in M cell-substeps/s.
//!
//! `cargo bench --bench stage` (`NLFP_BENCH_N` for another size, `NLFP_BENCH_REPS` for the
//! stage repetitions, `NLFP_BENCH_STEP_REPS` for the step ones; `NLFP_SIMD=baseline|avx2|avx512`
//! caps the vector math's dispatch level, `NLFP_BENCH_STAGES_ONLY` stops after the stage rows,
//! `NLFP_BENCH_ONLY=<substring>` runs only the rows whose name contains it, e.g. `reverse` or
//! `SSP-RK2 step`, or `vector math` for the math table). The whole-step rows are printed with
//! issue 14's targets (2.5x the rates when it was filed: step >= 48, reverse >= 43.5).
//! Times are thread CPU times (a process sharing the core does not count), the best of the
//! repetitions next to the median; caches and memory bandwidth are still shared, so compare
//! ratios measured in one run.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;

use nlfp::comm::{self, Comm};
use nlfp::decomp::{Block, ProcessGrid};
use nlfp::field::Field;
use nlfp::mesh::Mesh;
use nlfp::samplers::walk::ReverseWalk;
use nlfp::samplers::SampleWalk;
use nlfp::scheme::stage::{self, BlockGeometry, FaceRates, Scratch};
use nlfp::scheme::{FaceCoefficients, Family, SchemeKind, Sg, Upwind};
use nlfp::simd::{rows, with_level, Level};
use nlfp::sweep::observers::ReverseStep;
use nlfp::sweep::score::ScoreReverse;
use nlfp::time::reverse::build_reverse;
use nlfp::time::{build_stepper, PreconditionerKind, Requests, StepControl, StepperKind};

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

/// CPU time of this thread in seconds (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`): the machines
/// are shared, and thread CPU time does not count the slices another process held the core.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    ts.tv_sec as f64 + 1e-9 * ts.tv_nsec as f64
}

/// `(best, median)` of `cells / time` in millions (thread CPU time), over `reps` timed runs
/// after one warm-up.
fn rates(cells: usize, reps: usize, mut run: impl FnMut()) -> (f64, f64) {
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps + 1 {
        let t0 = cpu_seconds();
        run();
        times.push(cpu_seconds() - t0);
    }
    times.remove(0);
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = |t: f64| cells as f64 / t / 1e6;
    (m(times[0]), m(times[times.len() / 2]))
}

fn row(name: &str, (best, median): (f64, f64), unit: &str) -> f64 {
    println!("{name:<34} {best:9.1} {median:9.1}   {unit}");
    best
}

fn stage_rate<F: Family>(family: F, mesh: &Mesh, reps: usize) -> (f64, f64) {
    let block = Block::new(mesh, ProcessGrid::planar(1, 1), 0);
    let geom = BlockGeometry::new(mesh, &block);
    let f = field(mesh, &block);
    let mut out = f.clone();
    let mut scratch = Scratch::new(&f);
    let whole = geom.whole();
    rates(mesh.cells(), reps, || {
        if !F::AUX_IN_FACE_PASS {
            stage::fill_aux_owned(&family, black_box(&f), &mut scratch.aux);
        }
        stage::apply(&family, &geom, &f, &mut scratch, &mut out, &whole, 1e-4);
        black_box(&out);
    })
}

/// The per-cell values of a whole block (the pass the implicit stepper still makes; `sg`'s
/// explicit passes compute them row by row, [`Family::AUX_IN_FACE_PASS`]) and the face pass
/// with the update, timed apart.
fn stage_parts<F: Family>(family: F, mesh: &Mesh, reps: usize) -> ((f64, f64), (f64, f64)) {
    let block = Block::new(mesh, ProcessGrid::planar(1, 1), 0);
    let geom = BlockGeometry::new(mesh, &block);
    let f = field(mesh, &block);
    let mut out = f.clone();
    let mut scratch = Scratch::new(&f);
    let whole = geom.whole();
    let aux = rates(mesh.cells(), reps, || {
        stage::fill_aux_owned(&family, black_box(&f), &mut scratch.aux);
        black_box(&scratch.aux);
    });
    let faces = rates(mesh.cells(), reps, || {
        stage::apply(
            &family,
            &geom,
            black_box(&f),
            &mut scratch,
            &mut out,
            &whole,
            1e-4,
        );
        black_box(&out);
    });
    (aux, faces)
}

/// The second SSP-RK2 stage's work on a whole block: the positivity rate pass keeping the face
/// rates followed by the update from them (two passes), and the fused
/// [`stage::max_rate_and_update`] (one pass, the same bits), timed alternately so that both see
/// the same machine load.
fn rate_update_parts<F: Family>(family: F, mesh: &Mesh, reps: usize) -> ((f64, f64), (f64, f64)) {
    let block = Block::new(mesh, ProcessGrid::planar(1, 1), 0);
    let geom = BlockGeometry::new(mesh, &block);
    let f = field(mesh, &block);
    let mut out = f.clone();
    let mut scratch = Scratch::new(&f);
    let mut kept = FaceRates::for_geometry(&geom);
    let whole = geom.whole();
    let (mut two, mut one) = (Vec::new(), Vec::new());
    for _ in 0..reps + 1 {
        let t0 = cpu_seconds();
        black_box(stage::max_rate(
            &family,
            &geom,
            black_box(&f),
            &mut scratch,
            &whole,
            Some(&mut kept),
        ));
        stage::apply_stored(&geom, &f, &kept, &mut out, &whole, 1e-4);
        black_box(&out);
        let t1 = cpu_seconds();
        black_box(stage::max_rate_and_update(
            &family,
            &geom,
            black_box(&f),
            &mut scratch,
            &whole,
            &mut out,
            1e-4,
        ));
        black_box(&out);
        two.push(t1 - t0);
        one.push(cpu_seconds() - t1);
    }
    let summary = |mut t: Vec<f64>| {
        t.remove(0);
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let m = |t: f64| mesh.cells() as f64 / t / 1e6;
        (m(t[0]), m(t[t.len() / 2]))
    };
    (summary(two), summary(one))
}

fn ssprk2_step_rate(comm: &Comm, mesh: &Mesh, c: FaceCoefficients, reps: usize) -> (f64, f64) {
    let block = Block::new(mesh, ProcessGrid::planar(1, 1), 0);
    let control = StepControl {
        safety: 0.9,
        dt_max: 1e-3,
        preconditioner: PreconditionerKind::Mg,
    };
    let mut stepper = build_stepper(
        mesh,
        &block,
        c,
        SchemeKind::Sg,
        StepperKind::Ssprk2,
        control,
    );
    let mut f = field(mesh, &block);
    let mut t = 0.0;
    rates(mesh.cells(), reps, || {
        let r = stepper.step(comm, &mut f, t, 1e9, Requests::default());
        t += r.dt;
        black_box(&f);
    })
}

/// The forward pair `(f^n, f^{n+1})` of one SSP-RK2 `sg` step and its `dt`.
fn forward_pair(
    comm: &Comm,
    mesh: &Mesh,
    block: &Block,
    c: FaceCoefficients,
) -> (Field, Field, f64) {
    let control = StepControl {
        safety: 0.9,
        dt_max: 1e-3,
        preconditioner: PreconditionerKind::Mg,
    };
    let mut stepper = build_stepper(mesh, block, c, SchemeKind::Sg, StepperKind::Ssprk2, control);
    let before = field(mesh, block);
    let mut after = before.clone();
    let dt = stepper
        .step(comm, &mut after, 0.0, 1e9, Requests::default())
        .dt;
    (before, after, dt)
}

fn reverse_step_rate(comm: &Comm, mesh: &Mesh, c: FaceCoefficients, reps: usize) -> (f64, f64) {
    let block = Block::new(mesh, ProcessGrid::planar(1, 1), 0);
    let (mut before, mut after, dt) = forward_pair(comm, mesh, &block, c);
    let mut reverse = build_reverse(
        mesh,
        &block,
        c,
        SchemeKind::Sg,
        StepperKind::Ssprk2,
        PreconditionerKind::Mg,
    );
    let mut w = Field::zeros(block.ny, block.nx);
    w.interior_mut().fill(1.0);
    rates(mesh.cells(), reps, || {
        reverse
            .step(comm, &mut before, &mut after, dt, &mut w)
            .expect("reverse step");
        black_box(&w);
    })
}

fn walk_step_rate(comm: &Comm, mesh: &Mesh, c: FaceCoefficients, reps: usize) -> (f64, f64) {
    let grid = ProcessGrid::planar(1, 1);
    let block = Block::new(mesh, grid, 0);
    let (mut before, mut after, dt) = forward_pair(comm, mesh, &block, c);
    let mut walk = ReverseWalk::new(
        Sg::new(c),
        mesh,
        grid,
        &block,
        StepperKind::Ssprk2,
        1_000_000,
        7,
    );
    let u = after.clone();
    walk.observer()
        .start(comm, &mut after, &u)
        .expect("walk start");
    let mut n = 0;
    rates(mesh.cells(), reps, || {
        let step = ReverseStep {
            n,
            dt,
            f_before: &mut before,
            f_after: &mut after,
            u: &u,
            rates: None,
        };
        walk.observer().step(comm, step).expect("walk step");
        n += 1;
        black_box(walk.counts());
    })
}

/// The C strict-IEEE upwind stage at `gamma`: `(best, median)`, or why it did not run.
fn c_reference(n: usize, reps: usize, gamma: f64) -> Result<(f64, f64), String> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/upwind_strict.c");
    let exe = std::env::temp_dir().join(format!("nlfp_upwind_strict_{}", std::process::id()));
    let built = Command::new("cc")
        .args(["-O3", "-march=native", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg("-lm")
        .output()
        .map_err(|e| format!("no system C compiler `cc` ({e})"))?;
    if !built.status.success() {
        return Err(format!(
            "cc failed: {}",
            String::from_utf8_lossy(&built.stderr).trim()
        ));
    }
    let run = Command::new(&exe)
        .arg(n.to_string())
        .arg(reps.to_string())
        .arg(gamma.to_string())
        .output();
    let _ = std::fs::remove_file(&exe);
    let run = run.map_err(|e| format!("cannot run the C reference: {e}"))?;
    let text = String::from_utf8_lossy(&run.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    match v.as_slice() {
        [best, median] => Ok((*best, *median)),
        _ => Err(format!("unexpected C reference output {text:?}")),
    }
}

/// M evaluations/s of each vector kernel at every dispatch level, and of the `std` (libm)
/// function, over rows of 1024 arguments.
fn math_table(reps: usize) {
    type Row = fn(&[f64], &mut [f64]);
    type Scalar = fn(f64) -> f64;
    let kernels: [(&str, Row, Scalar, f64, f64); 8] = [
        ("exp", rows::exp, f64::exp, -700.0, 700.0),
        ("expm1", rows::expm1, f64::exp_m1, -5.0, 5.0),
        ("ln", rows::ln, f64::ln, 1e-3, 1e3),
        ("log1p", rows::log1p, f64::ln_1p, 0.0, 1.0),
        (
            "pow(., 2.3)",
            |x, o| rows::pow(x, 2.3, o),
            |x| x.powf(2.3),
            1e-3,
            1e3,
        ),
        (
            "pow_fast(., 2.3)",
            |x, o| rows::pow_fast(x, 2.3, o),
            |x| x.powf(2.3),
            1e-3,
            1e3,
        ),
        ("bernoulli", rows::bernoulli, |a| a / a.exp_m1(), 0.0, 30.0),
        (
            "bernoulli < 1",
            rows::bernoulli,
            |a| a / a.exp_m1(),
            0.0,
            1.0,
        ),
    ];
    let n = 1024;
    let calls = 256;
    print!("{:<14} {:>9}", "vector math", "libm");
    for level in Level::ALL.iter().filter(|&&l| l <= Level::detected()) {
        print!(" {:>9}", level.name());
    }
    println!("   M evaluations/s, best of {reps}");
    for (name, row, scalar, lo, hi) in kernels {
        let x: Vec<f64> = (0..n)
            .map(|i| lo + (hi - lo) * (i as f64 + 0.5) / n as f64)
            .collect();
        let mut out = vec![0.0; n];
        let (libm, _) = rates(n * calls, reps, || {
            for _ in 0..calls {
                for (o, &v) in out.iter_mut().zip(black_box(&x)) {
                    *o = scalar(v);
                }
                black_box(&out);
            }
        });
        print!("{name:<14} {libm:9.1}");
        for level in Level::ALL.iter().filter(|&&l| l <= Level::detected()) {
            let (best, _) = with_level(*level, || {
                rates(n * calls, reps, || {
                    for _ in 0..calls {
                        row(black_box(&x), &mut out);
                        black_box(&out);
                    }
                })
            });
            print!(" {best:9.1}");
        }
        println!();
    }
}

/// One interval of the score-based reverse (`reverse.method = "score"`, grid mode, lambda 1):
/// the per-cell values and face rates at both interval ends, and one SSP-RK2 sub-step (the
/// rates at its end again), in M cell-substeps/s. `dt` is small enough for one sub-step.
fn score_substep_rate(comm: &Comm, mesh: &Mesh, c: FaceCoefficients, reps: usize) -> (f64, f64) {
    let block = Block::new(mesh, ProcessGrid::planar(1, 1), 0);
    let (mut fh_start, mut fh_end) = (field(mesh, &block), field(mesh, &block));
    // The later forward state is a little wider, as a forward interval leaves it.
    for (e, s) in fh_end.raw_mut().iter_mut().zip(fh_start.raw()) {
        *e = 0.97 * s + 0.03e-3;
    }
    let mut u = fh_end.clone();
    let mut score = ScoreReverse::new(mesh, &block, c.diffusion, c.kappa, c.gamma, 1.0, 0.9);
    let mut substeps = 0;
    let rate = rates(mesh.cells(), reps, || {
        substeps = score.interval(comm, &mut u, &mut fh_start, &mut fh_end, 1e-5);
        black_box(&u);
    });
    assert_eq!(
        substeps, 1,
        "the benchmark interval should take one sub-step"
    );
    rate
}

/// Whether the row `name` runs: every row, or with `NLFP_BENCH_ONLY=<substring>` only the rows
/// whose name contains it (for A/B runs of one row).
fn wanted(name: &str) -> bool {
    std::env::var("NLFP_BENCH_ONLY").map_or(true, |only| name.contains(only.as_str()))
}

/// Runs and prints row `name` when [`wanted`]; its best rate.
fn timed(name: &str, unit: &str, run: impl FnOnce() -> (f64, f64)) -> Option<f64> {
    wanted(name).then(|| row(name, run(), unit))
}

/// Issue 14's targets for the whole steps: 2.5x the rates measured when it was filed
/// (SSP-RK2 step 19.2, reverse step 17.4 M cell-steps/s at 1023^2).
const STEP_TARGET: f64 = 48.0;
const REVERSE_TARGET: f64 = 43.5;

/// The dispatch level `NLFP_SIMD` caps the row kernels at (the detected one when unset).
fn simd_cap() -> Level {
    match std::env::var("NLFP_SIMD") {
        Err(_) => Level::detected(),
        Ok(name) => Level::ALL
            .into_iter()
            .find(|l| l.name() == name)
            .unwrap_or_else(|| {
                eprintln!("NLFP_SIMD={name}: expected one of baseline, avx2, avx512");
                std::process::exit(2)
            }),
    }
}

fn main() {
    let cap = simd_cap();
    with_level(cap, || run(cap));
}

/// The benchmark, with the row kernels capped at `cap`.
fn run(cap: Level) {
    let n = env_usize("NLFP_BENCH_N", 1023);
    let reps = env_usize("NLFP_BENCH_REPS", 30);
    let step_reps = env_usize("NLFP_BENCH_STEP_REPS", 10);
    let (_mpi, comm) = comm::init().expect("MPI init");
    let mesh = Mesh::new(2, n, 6.0);
    let c = |gamma: f64| FaceCoefficients {
        diffusion: 1.0,
        kappa: 1.0,
        gamma,
        h: mesh.h,
    };
    println!(
        "{n} x {n} block, one core, {} kernels; best and median of {reps} (stages) / {step_reps} (steps)",
        cap.min(Level::detected()).name()
    );
    println!("{:<34} {:>9} {:>9}", "kernel", "best", "median");
    let cu = "M cell-updates/s";
    let up2 = timed("upwind gamma=2 stage", cu, || {
        stage_rate(Upwind::new(c(2.0)), &mesh, reps)
    });
    timed("upwind gamma=2.5 stage", cu, || {
        stage_rate(Upwind::new(c(2.5)), &mesh, reps)
    });
    let up23 = timed("upwind gamma=2.3 stage (general)", cu, || {
        stage_rate(Upwind::new(c(2.3)), &mesh, reps)
    });
    let sg = timed("sg gamma=2 stage", cu, || {
        stage_rate(Sg::new(c(2.0)), &mesh, reps)
    });
    if wanted("  sg gamma=2 per-cell values alone") || wanted("  sg gamma=2 face pass + update") {
        let (aux, faces) = stage_parts(Sg::new(c(2.0)), &mesh, reps);
        row("  sg gamma=2 per-cell values alone", aux, "M cells/s");
        row("  sg gamma=2 face pass + update", faces, "M cells/s");
    }
    if wanted("  sg rate pass, kept rates + update") || wanted("  sg rate and update fused") {
        let (two, one) = rate_update_parts(Sg::new(c(2.0)), &mesh, reps);
        row("  sg rate pass, kept rates + update", two, "M cells/s");
        row("  sg rate and update fused", one, "M cells/s");
    }
    if std::env::var_os("NLFP_BENCH_STAGES_ONLY").is_some() {
        return;
    }
    let strict_name = "C upwind gamma=2 strict IEEE";
    let strict = if wanted(strict_name) {
        match c_reference(n, reps, 2.0) {
            Ok(r) => Some(row(strict_name, r, cu)),
            Err(why) => {
                println!("{strict_name:<34} skipped: {why}");
                None
            }
        }
    } else {
        None
    };
    let cs = "M cell-steps/s";
    let step = timed("sg SSP-RK2 step", cs, || {
        ssprk2_step_rate(&comm, &mesh, c(2.0), step_reps)
    });
    let rev = timed("sg SSP-RK2 exact reverse step", cs, || {
        reverse_step_rate(&comm, &mesh, c(2.0), step_reps)
    });
    timed("walk SSP-RK2 step (own rates, 1e6)", cs, || {
        walk_step_rate(&comm, &mesh, c(2.0), step_reps)
    });
    timed(
        "score reverse sub-step (grid, l=1)",
        "M cell-substeps/s",
        || score_substep_rate(&comm, &mesh, c(2.0), step_reps),
    );
    if wanted("vector math") {
        math_table(reps.min(10));
    }
    let mark = |ok: bool| if ok { "met" } else { "NOT met" };
    if let (Some(sg), Some(up2), Some(up23)) = (sg, up2, up23) {
        println!(
            "targets: sg stage >= 150 ({}), sg >= upwind gamma=2 / 2 ({}), upwind gamma=2.3 >= 150 ({})",
            mark(sg >= 150.0),
            mark(2.0 * sg >= up2),
            mark(up23 >= 150.0)
        );
    }
    if let (Some(strict), Some(sg), Some(up2)) = (strict, sg, up2) {
        println!(
            "ratios: sg / C strict = {:.2} (target >= 2), sg / upwind gamma=2 = {:.2}",
            sg / strict,
            sg / up2
        );
    }
    if let Some(step) = step {
        println!(
            "target: SSP-RK2 step {step:.1} >= {STEP_TARGET} M cell-steps/s ({})",
            mark(step >= STEP_TARGET)
        );
    }
    if let Some(rev) = rev {
        println!(
            "target: reverse step {rev:.1} >= {REVERSE_TARGET} M cell-steps/s ({})",
            mark(rev >= REVERSE_TARGET)
        );
    }
}
