//! The quantities every run reports (MODEL.md section 8).
//!
//! Local sums over owned cells are combined with one SUM and one MAX reduction; sums depend on
//! the rank count in the last bits and are diagnostics only, never used to steer the run.

use crate::comm::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::io::csv::CsvValue;
use crate::mesh::Mesh;
use crate::physics::ModelParams;

/// Setup for the diagnostics of one run.
#[derive(Clone, Debug)]
pub struct DiagnosticsSetup {
    /// Model parameters (entropy, condensate estimate).
    pub params: ModelParams,
    /// Target mass `m`.
    pub mass: f64,
    /// Radius `r0` of the condensate estimate and `int_{|x|<r0} f_c`, when a critical mass exists.
    pub condensate_ball: Option<(f64, f64)>,
    /// Whether to gather the field for the symmetry defect (small grids only).
    pub symmetry: bool,
}

impl DiagnosticsSetup {
    /// Grids up to this many cells get the symmetry defect (it gathers the field on rank 0).
    pub const SYMMETRY_MAX_CELLS: usize = 1 << 22;

    /// Diagnostics for a run of mass `mass` on `mesh`, with the condensate estimate over the
    /// ball of the default radius `r0 = 0.5 sqrt(D)`.
    pub fn new(params: ModelParams, mesh: &Mesh, mass: f64) -> Self {
        Self::with_condensate_radius(params, mesh, mass, 0.5 * params.diffusion.sqrt())
    }

    /// Diagnostics whose condensate estimate uses the ball `|x| < r0`.
    pub fn with_condensate_radius(params: ModelParams, mesh: &Mesh, mass: f64, r0: f64) -> Self {
        let condensate_ball = params
            .critical_mass(mesh.dim)
            .map(|_| (r0, params.steady_mass_in_ball(mesh.dim, 0.0, r0)));
        DiagnosticsSetup {
            params,
            mass,
            condensate_ball,
            symmetry: mesh.cells() <= Self::SYMMETRY_MAX_CELLS,
        }
    }
}

/// One row of diagnostics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Diagnostics {
    /// `sum f h^d`.
    pub mass: f64,
    /// `(mass - m) / m`.
    pub mass_drift: f64,
    /// `min f`.
    pub min: f64,
    /// `max f`.
    pub max: f64,
    /// `||f||_2 = sqrt(sum f^2 h^d)`.
    pub l2: f64,
    /// `H = sum h^d (|x|^2/2 f + D Phi(f))`.
    pub entropy: f64,
    /// Mass of the cell at the origin, `f(0) h^d`.
    pub centre_mass: f64,
    /// `m - mass(cells with |x| > r0) - int_{|x|<r0} f_c` (when a critical mass exists).
    pub condensate: Option<f64>,
    /// `max |f(x) - f(-x)| / max f` (small grids).
    pub symmetry_defect: Option<f64>,
    /// Whether every owned value is finite.
    pub finite: bool,
}

impl Diagnostics {
    /// CSV header; the first nine columns are a contract.
    pub const HEADER: [&'static str; 18] = [
        "step",
        "t",
        "dt",
        "mass",
        "min",
        "max",
        "l2",
        "entropy",
        "centre_mass",
        "mass_drift",
        "condensate",
        "symmetry_defect",
        "wall_seconds",
        "max_rate",
        "newton_iterations",
        "krylov_iterations",
        "newton_failures",
        "dt_halvings",
    ];

    /// The row of [`Diagnostics::HEADER`] for this state: `step, t, dt`, the diagnostics,
    /// `wall_seconds`, `max_rate` and the cumulative implicit-solver counts `[Newton, Krylov,
    /// Newton failures, dt halvings]` (empty when absent).
    pub fn csv_row(
        &self,
        step: u64,
        t: f64,
        dt: f64,
        wall_seconds: f64,
        max_rate: Option<f64>,
        iterations: Option<[u64; 4]>,
    ) -> Vec<CsvValue> {
        let mut row = vec![
            CsvValue::Int(step),
            t.into(),
            dt.into(),
            self.mass.into(),
            self.min.into(),
            self.max.into(),
            self.l2.into(),
            self.entropy.into(),
            self.centre_mass.into(),
            self.mass_drift.into(),
            self.condensate.into(),
            self.symmetry_defect.into(),
            wall_seconds.into(),
            max_rate.into(),
        ];
        row.extend((0..4).map(|k| iterations.map_or(CsvValue::Empty, |c| CsvValue::Int(c[k]))));
        row
    }

    /// Computes the diagnostics of `f` (collective: every rank must call).
    pub fn compute(
        comm: &Comm,
        setup: &DiagnosticsSetup,
        mesh: &Mesh,
        block: &Block,
        f: &Field,
    ) -> Diagnostics {
        let vol = mesh.cell_volume();
        let origin = mesh.origin_cell3();
        let dim3 = mesh.dim == 3;
        let r0 = setup.condensate_ball.map_or(0.0, |(r0, _)| r0);
        let mut sums = [0.0f64; 5]; // mass, f^2, entropy, centre, mass outside r0
        let mut neg_min = f64::NEG_INFINITY;
        let mut max = f64::NEG_INFINITY;
        let mut finite = true;
        let owned = f.interior3();
        for k in 0..block.nz {
            for j in 0..block.ny {
                for i in 0..block.nx {
                    let v = owned[[k, j, i]];
                    let cell = (block.z0 + k, block.y0 + j, block.x0 + i);
                    let [x, y, z] = mesh.cell_centre3(cell.0, cell.1, cell.2);
                    let r2 = if dim3 {
                        x * x + y * y + z * z
                    } else {
                        x * x + y * y
                    };
                    finite &= v.is_finite();
                    sums[0] += v;
                    sums[1] += v * v;
                    sums[2] += setup.params.entropy_density(r2, v);
                    if cell == origin {
                        sums[3] += v;
                    }
                    if r2 > r0 * r0 {
                        sums[4] += v;
                    }
                    neg_min = neg_min.max(-v);
                    max = max.max(v);
                }
            }
        }
        let sums = comm.sum_many(&sums);
        let extrema = comm.max_many(&[neg_min, max, if finite { 0.0 } else { 1.0 }]);
        let mass = sums[0] * vol;
        let max = extrema[1];
        // Rank 0 computes the defect from the gathered field; a MAX shares it with every rank.
        let symmetry_defect =
            setup.symmetry.then(|| {
                let on_root = symmetry_defect(comm, mesh, block, f)
                    .map_or(f64::NEG_INFINITY, |d| if max > 0.0 { d / max } else { d });
                comm.max(on_root)
            });
        Diagnostics {
            mass,
            mass_drift: (mass - setup.mass) / setup.mass,
            min: -extrema[0],
            max,
            l2: (sums[1] * vol).sqrt(),
            entropy: sums[2] * vol,
            centre_mass: sums[3] * vol,
            condensate: setup
                .condensate_ball
                .map(|(_, inner)| setup.mass - sums[4] * vol - inner),
            symmetry_defect,
            finite: extrema[2] == 0.0,
        }
    }
}

/// `max |f(x) - f(-x)|` over the global grid, on rank 0 (`None` elsewhere). Gathers the field.
fn symmetry_defect(comm: &Comm, mesh: &Mesh, block: &Block, f: &Field) -> Option<f64> {
    let owned: Vec<f64> = f.interior3().iter().copied().collect();
    let header = [
        block.z0 as f64,
        block.nz as f64,
        block.y0 as f64,
        block.ny as f64,
        block.x0 as f64,
        block.nx as f64,
    ];
    let mut message = header.to_vec();
    message.extend_from_slice(&owned);
    let parts = comm.gather_to_root(&message);
    if !comm.is_root() {
        return None;
    }
    let (nx, ny) = (mesh.nx(), mesh.ny());
    let mut global = vec![0.0; mesh.cells()];
    for p in parts {
        let [z0, bz, y0, by, x0, bx] = std::array::from_fn(|k| p[k] as usize);
        for k in 0..bz {
            for j in 0..by {
                let row = ((z0 + k) * ny + y0 + j) * nx + x0;
                let from = 6 + (k * by + j) * bx;
                global[row..row + bx].copy_from_slice(&p[from..from + bx]);
            }
        }
    }
    // The point mirror of global cell c is cells - 1 - c (every axis reversed).
    let last = global.len() - 1;
    let defect = (0..global.len())
        .map(|c| (global[c] - global[last - c]).abs())
        .fold(0.0f64, f64::max);
    Some(defect)
}
