//! The implicit stepper in 3D (issue 15, 7-point Jacobian, multigrid preconditioner), at the
//! library level on 1, 2 and 4 ranks:
//!
//! * backward Euler + Newton–Krylov (sg, gamma = 2, blobs of peak density 3, dt_max = 0.1): the
//!   global field, the dt sequence and the Newton/Krylov counts after a few steps are
//!   bit-identical on every rank count and on several 3D process grids (`px x py x pz`);
//! * mass is conserved (1e-12 relative; measured 1e-15) and `f` stays positive;
//! * the exact implicit reverse (the transposed solve `(I - dt L(f^{n+1}))^T w^n = w^{n+1}`)
//!   started from the terminal state recovers `f^0` to `1e-11 m` (the 2D implicit-reverse test's
//!   tolerance), keeps the duality `<f^0, w^0> = <f^N, w^N>` for a non-constant `w^N` to 1e-11
//!   (the Newton tolerance; measured 3e-14), and is bit-identical on every process grid.
//!
//! Run by `cargo test` as a plain program that relaunches itself under `mpirun`.

mod common;

use nlfp::comm::{self, gather::global_on_root, Comm};
use nlfp::decomp::ProcessGrid;
use nlfp::field::Field;
use nlfp::layout::Layout;
use nlfp::mesh::Mesh;
use nlfp::scheme::{FaceCoefficients, SchemeKind};
use nlfp::time::reverse::build_reverse;
use nlfp::time::{build_stepper, PreconditionerKind, Requests, StepControl, StepperKind};

/// Three off-centre Gaussian blobs of peak density up to 3.
fn density(x: [f64; 3]) -> f64 {
    let blob = |c: [f64; 3], s: f64, w: f64| {
        let r2: f64 = (0..3).map(|d| (x[d] - c[d]).powi(2)).sum();
        w * (-0.5 * r2 / (s * s)).exp()
    };
    blob([1.0, 0.4, -0.8], 0.6, 3.0)
        + blob([-1.1, 0.9, 0.5], 0.5, 2.0)
        + blob([0.2, -1.3, 1.1], 0.7, 1.5)
}

/// This rank's block of `g(x)`.
fn sample(layout: &Layout, g: impl Fn([f64; 3]) -> f64) -> Field {
    let (mesh, b) = (&layout.mesh, &layout.block);
    let mut f = Field::zeros3(b.nz, b.ny, b.nx);
    for k in 0..b.nz {
        for j in 0..b.ny {
            for i in 0..b.nx {
                let x = mesh.cell_centre3(b.z0 + k, b.y0 + j, b.x0 + i);
                let at = f.index3(k as isize, j as isize, i as isize);
                f.raw_mut()[at] = g(x);
            }
        }
    }
    f
}

const COEFFICIENTS: FaceCoefficients = FaceCoefficients {
    diffusion: 1.0,
    kappa: 1.0,
    gamma: 2.0,
    h: 0.0,
};

/// What one run on a process grid gives (global arrays on rank 0).
struct Run {
    /// Final field.
    f: Option<Vec<f64>>,
    dts: Vec<f64>,
    /// Newton and Krylov iterations.
    counts: (u64, u64),
    /// `u^0 = f^0 w^0` of the reverse from `w^N = 1`.
    back: Option<Vec<f64>>,
    /// `w^0` of the reverse from the non-constant `w^N`.
    w0: Option<Vec<f64>>,
    /// `<f^N, w^N>` and `<f^0, w^0>` (local sums reduced in rank order: diagnostics only).
    duality: (f64, f64),
}

fn local_dot(a: &Field, b: &Field) -> f64 {
    a.interior3()
        .iter()
        .zip(b.interior3().iter())
        .map(|(x, y)| x * y)
        .sum()
}

/// `steps` implicit steps, then the exact reverse twice (from `w = 1` and from a non-constant
/// `w`).
fn run(comm: &Comm, layout: &Layout, steps: usize) -> Run {
    let mesh = &layout.mesh;
    let coefficients = FaceCoefficients {
        h: mesh.h,
        ..COEFFICIENTS
    };
    let control = StepControl {
        safety: 0.8,
        dt_max: 0.1,
        preconditioner: PreconditionerKind::Mg,
    };
    let (scheme, stepper) = (SchemeKind::Sg, StepperKind::Implicit);
    let mut st = build_stepper(mesh, &layout.block, coefficients, scheme, stepper, control);
    let mut f = sample(layout, density);
    let (mut t, mut dts, mut states) = (0.0, Vec::new(), vec![f.clone()]);
    for _ in 0..steps {
        let r = st.step(comm, &mut f, t, 10.0, Requests::default());
        t += r.dt;
        dts.push(r.dt);
        states.push(f.clone());
    }
    let counts = st.iteration_counts().expect("implicit counts");
    let mut rev = build_reverse(
        mesh,
        &layout.block,
        coefficients,
        scheme,
        stepper,
        PreconditionerKind::Mg,
    );
    let mut reverse = |w: &mut Field, states: &mut [Field]| {
        for n in (0..steps).rev() {
            let (before, after) = states.split_at_mut(n + 1);
            rev.step(comm, &mut before[n], &mut after[0], dts[n], w)
                .expect("reverse step");
        }
    };
    let mut ones = sample(layout, |_| 1.0);
    reverse(&mut ones, &mut states);
    let mut u0 = states[0].clone();
    u0.interior3_mut()
        .zip_mut_with(&ones.interior3(), |u, &w| *u *= w);
    let weight = |x: [f64; 3]| 1.0 + 0.5 * (x[0] - 0.3 * x[1]).sin() * (0.7 * x[2]).cos();
    let mut w = sample(layout, weight);
    let before = comm.sum_many(&[local_dot(&states[steps], &w)])[0];
    reverse(&mut w, &mut states);
    let after = comm.sum_many(&[local_dot(&states[0], &w)])[0];
    Run {
        f: global_on_root(comm, layout, &f),
        dts,
        counts,
        back: global_on_root(comm, layout, &u0),
        w0: global_on_root(comm, layout, &w),
        duality: (before, after),
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn child() -> i32 {
    let (_mpi, comm) = comm::init().expect("MPI");
    let p = comm.size();
    let mut errors = Vec::new();
    let mesh = Mesh::new(3, 15, 3.0);
    let steps = 5;
    let mut grids = vec![
        ProcessGrid::choose(&mesh, p).unwrap(),
        ProcessGrid::from_procs(&[1, 1, p]),
    ];
    if p == 4 {
        grids.push(ProcessGrid::from_procs(&[1, 2, 2]));
        grids.push(ProcessGrid::from_procs(&[2, 1, 2]));
    }
    let whole = Layout::whole(mesh);
    let f0 = sample(&whole, density);
    let m0: f64 = f0.interior3().sum() * mesh.cell_volume();
    let reference = comm
        .is_root()
        .then(|| run(&comm.solo(), &Layout::whole(mesh), steps));
    if let Some(r) = &reference {
        let g = r.f.as_ref().expect("root");
        let m1: f64 = g.iter().sum::<f64>() * mesh.cell_volume();
        let drift = ((m1 - m0) / m0).abs();
        if drift > 1e-12 {
            errors.push(format!("mass {m0} -> {m1} (relative {drift:e})"));
        }
        if g.iter().any(|v| v.is_nan() || *v <= 0.0) {
            errors.push("f not positive".into());
        }
        let back = r.back.as_ref().expect("root");
        let err: f64 = back
            .iter()
            .zip(f0.interior3().iter())
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>()
            * mesh.cell_volume();
        if err > 1e-11 * m0 {
            errors.push(format!(
                "reverse from f^N: ||u^0 - f^0||_1 = {err:e} (mass {m0})"
            ));
        }
        let (before, after) = r.duality;
        let defect = ((before - after) / before).abs();
        if defect > 1e-11 {
            errors.push(format!("<f^N, w^N> = {before} but <f^0, w^0> = {after}"));
        }
        let w0 = r.w0.as_ref().expect("root");
        let spread = w0.iter().fold(0.0f64, |m, &v| m.max((v - 1.0).abs()));
        println!(
            "3D implicit n = 15, {steps} steps, dt {:?}: Newton {}, Krylov {}; mass drift {drift:e}; \
             reverse ||u^0 - f^0||_1 / m = {:e}; duality defect {defect:e}; sup |w^0 - 1| = {spread:.3}",
            r.dts,
            r.counts.0,
            r.counts.1,
            err / m0
        );
        if r.counts.0 == 0 || r.dts.iter().sum::<f64>() < 0.2 {
            errors.push(format!(
                "no real implicit march: {:?} {:?}",
                r.counts, r.dts
            ));
        }
    }
    for grid in &grids {
        let layout = Layout::new(mesh, *grid, comm.rank());
        let other = run(&comm, &layout, steps);
        if let Some(r) = &reference {
            let same = |a: &Option<Vec<f64>>, b: &Option<Vec<f64>>| {
                bits(a.as_ref().unwrap()) == bits(b.as_ref().unwrap())
            };
            let label = grid.label_in(3);
            if !same(&other.f, &r.f) || bits(&other.dts) != bits(&r.dts) {
                errors.push(format!("forward on {label}: not bit-identical to 1 rank"));
            }
            if other.counts != r.counts {
                errors.push(format!(
                    "forward on {label}: counts {:?} vs {:?}",
                    other.counts, r.counts
                ));
            }
            if !same(&other.back, &r.back) || !same(&other.w0, &r.w0) {
                errors.push(format!("reverse on {label}: not bit-identical to 1 rank"));
            }
        }
    }
    let failed = comm.any(!errors.is_empty());
    for e in &errors {
        eprintln!("{e}");
    }
    if comm.is_root() {
        println!(
            "3D implicit at {p} ranks ({} grids): {}",
            grids.len(),
            if failed { "FAILED" } else { "ok" }
        );
    }
    i32::from(failed)
}

fn main() {
    if let Some(code) = common::relaunch_under_mpirun(&[1, 2, 4], "3D implicit") {
        std::process::exit(code);
    }
    std::process::exit(child());
}
