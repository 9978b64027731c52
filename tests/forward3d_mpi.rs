//! The 3D explicit forward march (issue 15), at the library level: for both flux families and
//! both explicit steppers on `n <= 21` grids,
//!
//! * the global field after a few steps is bit-identical on 1, 2 and 4 ranks and on several 3D
//!   process grids (`px x py x pz`), the dt sequence too;
//! * mass is conserved to round-off and `f` stays non-negative;
//! * point-symmetric data (`f(-x) = f(x)`) stays point-symmetric exactly.
//!
//! Run by `cargo test` as a plain program that relaunches itself under `mpirun`.

mod common;

use nlfp::comm::{self, gather::global_on_root, Comm};
use nlfp::decomp::ProcessGrid;
use nlfp::field::Field;
use nlfp::layout::Layout;
use nlfp::mesh::Mesh;
use nlfp::scheme::{FaceCoefficients, SchemeKind};
use nlfp::time::{build_stepper, PreconditionerKind, Requests, StepControl, StepperKind};

/// Three off-centre Gaussian blobs (`symmetric`: one blob at the origin and a pair at `+-a`).
fn density(x: [f64; 3], symmetric: bool) -> f64 {
    let blob = |c: [f64; 3], s: f64, w: f64| {
        let r2: f64 = (0..3).map(|d| (x[d] - c[d]).powi(2)).sum();
        w * (-0.5 * r2 / (s * s)).exp()
    };
    if symmetric {
        // The pair summed first: a + b = b + a exactly, so f(-x) = f(x) bit for bit.
        blob([0.0; 3], 0.8, 1.0)
            + (blob([1.2, -0.6, 0.9], 0.5, 0.7) + blob([-1.2, 0.6, -0.9], 0.5, 0.7))
    } else {
        blob([1.0, 0.4, -0.8], 0.6, 1.0)
            + blob([-1.1, 0.9, 0.5], 0.5, 0.8)
            + blob([0.2, -1.3, 1.1], 0.7, 0.6)
    }
}

/// This rank's block of the initial density.
fn initial(layout: &Layout, symmetric: bool) -> Field {
    let (mesh, b) = (&layout.mesh, &layout.block);
    let mut f = Field::zeros3(b.nz, b.ny, b.nx);
    for k in 0..b.nz {
        for j in 0..b.ny {
            for i in 0..b.nx {
                let x = mesh.cell_centre3(b.z0 + k, b.y0 + j, b.x0 + i);
                let at = f.index3(k as isize, j as isize, i as isize);
                f.raw_mut()[at] = density(x, symmetric);
            }
        }
    }
    f
}

/// `steps` explicit steps; the global field on rank 0 and the dt sequence.
fn march(
    comm: &Comm,
    layout: &Layout,
    scheme: SchemeKind,
    stepper: StepperKind,
    symmetric: bool,
    steps: usize,
) -> (Option<Vec<f64>>, Vec<f64>) {
    let mut f = initial(layout, symmetric);
    let coefficients = FaceCoefficients {
        diffusion: 1.0,
        kappa: 1.0,
        gamma: 1.0,
        h: layout.mesh.h,
    };
    let control = StepControl {
        safety: 0.8,
        dt_max: 1.0,
        preconditioner: PreconditionerKind::Mg,
    };
    let mut st = build_stepper(
        &layout.mesh,
        &layout.block,
        coefficients,
        scheme,
        stepper,
        control,
    );
    let (mut t, mut dts) = (0.0, Vec::new());
    for _ in 0..steps {
        let r = st.step(comm, &mut f, t, 10.0, Requests::default());
        t += r.dt;
        dts.push(r.dt);
    }
    (global_on_root(comm, layout, &f), dts)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn child() -> i32 {
    let (_mpi, comm) = comm::init().expect("MPI");
    let p = comm.size();
    let mut errors = Vec::new();
    let mesh = Mesh::new(3, 15, 3.0);
    let mut grids = vec![
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
    ];
    if p == 4 {
        grids.push(ProcessGrid {
            px: 1,
            py: 2,
            pz: 2,
        });
        grids.push(ProcessGrid {
            px: 2,
            py: 1,
            pz: 2,
        });
    }
    // The initial mass, summed in global order on rank 0.
    let whole = Layout::whole(mesh);
    let m0: f64 = initial(&whole, false).interior3().sum() * mesh.cell_volume();
    for scheme in SchemeKind::ALL {
        for stepper in [StepperKind::Euler, StepperKind::Ssprk2] {
            let label = format!("{} / {}", scheme.name(), stepper.name());
            // The serial reference on rank 0.
            let reference = comm.is_root().then(|| {
                march(
                    &comm.solo(),
                    &Layout::whole(mesh),
                    scheme,
                    stepper,
                    false,
                    6,
                )
            });
            for grid in &grids {
                let layout = Layout::new(mesh, *grid, comm.rank());
                let (global, dts) = march(&comm, &layout, scheme, stepper, false, 6);
                if let (Some(g), Some((Some(r), rdts))) = (&global, &reference) {
                    if bits(g) != bits(r) || bits(&dts) != bits(rdts) {
                        let diff = g
                            .iter()
                            .zip(r)
                            .map(|(a, b)| (a - b).abs())
                            .fold(0.0, f64::max);
                        errors.push(format!(
                            "{label} on {}: not bit-identical to 1 rank (max diff {diff:e})",
                            grid.label()
                        ));
                    }
                    let m1: f64 = g.iter().sum::<f64>() * mesh.cell_volume();
                    if ((m1 - m0) / m0).abs() > 1e-13 {
                        errors.push(format!("{label}: mass {m0} -> {m1}"));
                    }
                    let negative = g.iter().filter(|v| v.is_nan() || **v < 0.0).count();
                    if negative > 0 {
                        errors.push(format!("{label}: {negative} cells negative or NaN"));
                    }
                }
            }
            // Point symmetry, exactly.
            let layout = Layout::new(mesh, grids[0], comm.rank());
            let (global, _) = march(&comm, &layout, scheme, stepper, true, 6);
            if let Some(g) = global {
                let n = mesh.n;
                let bad = (0..g.len())
                    .filter(|&c| g[c].to_bits() != g[n * n * n - 1 - c].to_bits())
                    .count();
                if bad > 0 {
                    let max = g.iter().copied().fold(0.0, f64::max);
                    let defect = (0..g.len())
                        .map(|c| (g[c] - g[n * n * n - 1 - c]).abs())
                        .fold(0.0, f64::max);
                    errors.push(format!(
                        "{label}: {bad} cells break the point symmetry (max defect {:e} of max f)",
                        defect / max
                    ));
                }
            }
        }
    }
    let failed = comm.any(!errors.is_empty());
    for e in &errors {
        eprintln!("{e}");
    }
    if comm.is_root() {
        println!(
            "3D forward at {p} ranks ({} grids): {}",
            grids.len(),
            if failed { "FAILED" } else { "ok" }
        );
    }
    i32::from(failed)
}

fn main() {
    if let Some(code) = common::relaunch_under_mpirun(&[1, 2, 4], "3D forward") {
        std::process::exit(code);
    }
    std::process::exit(child());
}
