//! The start state of the reverse sweep ([`Start`] of a [`StartKind`], `reverse.start`): the
//! terminal forward state `f^N`; the data-independent asymptotic state of the same mass ([`asymptotic_state`]);
//! the terminal state with seeded multiplicative noise ([`perturb`]). Every one is the same
//! bits on any rank count.

use crate::decomp::Block;
use crate::field::Field;
use crate::mesh::Mesh;
use crate::names::named_enum;
use crate::physics::ModelParams;

named_enum! {
    /// Where the reverse starts, selected by `reverse.start` (the data of `perturbed` is in
    /// [`Start`]).
    pub enum StartKind {
        /// The data-independent state of the same mass (generation).
        Asymptotic = "asymptotic",
        /// `u^N = f^N`: the reverse returns the forward states to round-off.
        Terminal = "terminal",
        /// `f^N (1 + amplitude xi)`, `xi` uniform in `[-1, 1]`, seeded per global cell.
        Perturbed = "perturbed",
    }
}

/// A start state: its kind, and the noise of the `perturbed` kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Start {
    /// The kind.
    pub kind: StartKind,
    /// Noise amplitude of `perturbed`, `0 <= amplitude < 1` (unused by the other kinds).
    pub amplitude: f64,
    /// Seed of the `perturbed` noise (unused by the other kinds).
    pub seed: u64,
}

impl From<StartKind> for Start {
    /// A start of `kind` without noise.
    fn from(kind: StartKind) -> Start {
        Start {
            kind,
            amplitude: 0.0,
            seed: 0,
        }
    }
}

impl Start {
    /// The start state `u^N` for the terminal forward state `f_end` (this rank's block) of a
    /// run of mass `mass`.
    pub fn state(
        self,
        params: &ModelParams,
        mesh: &Mesh,
        block: &Block,
        mass: f64,
        f_end: &Field,
    ) -> Field {
        match self.kind {
            StartKind::Terminal => f_end.clone(),
            StartKind::Asymptotic => asymptotic_state(params, mesh, block, mass),
            StartKind::Perturbed => {
                let mut u = f_end.clone();
                perturb(mesh, block, &mut u, self.amplitude, self.seed);
                u
            }
        }
    }
}

/// The data-independent asymptotic state of mass `mass` on `mesh`, this rank's block
/// (MODEL.md section 6, generation):
///
/// * if a critical mass exists and `mass > sum_{j != centre} f_c(x_j) h^d` (the discrete
///   critical mass): `f_c(x_j)` off the centre and the remaining mass in the centre cell, i.e.
///   `f_c + (m - m_c) delta_0` on the grid;
/// * otherwise the nodal values `f_beta(x_j)` with `beta` such that `sum_j f_beta(x_j) h^d = m`
///   (bisection; closed form for `kappa = 0`, where `f_beta` is the Gaussian `N(0, D)` shape).
///
/// Every rank sums over the whole grid in the same order, so the state is bit-identical for any
/// rank count (no reduction involved).
pub fn asymptotic_state(params: &ModelParams, mesh: &Mesh, block: &Block, mass: f64) -> Field {
    let vol = mesh.cell_volume();
    let centre = mesh.centre_index();
    // r^2 of every cell, as a multiset: a sum over the grid in a fixed order.
    // In 1D and 2D `z = 0` (and `y = 0` in 1D): adding `0^2` keeps the bits.
    let r2_of = |iz: usize, iy: usize, ix: usize| {
        let [x, y, z] = mesh.cell_centre3(iz, iy, ix);
        x * x + y * y + z * z
    };
    let at_centre = |iz: usize, iy: usize, ix: usize| {
        ix == centre && (mesh.dim == 1 || iy == centre) && (mesh.dim < 3 || iz == centre)
    };
    let grid_sum = |value: &dyn Fn(f64) -> f64, skip_centre: bool| {
        let mut total = 0.0;
        for iz in 0..mesh.nz() {
            for iy in 0..mesh.ny() {
                for ix in 0..mesh.nx() {
                    if !(skip_centre && at_centre(iz, iy, ix)) {
                        total += value(r2_of(iz, iy, ix));
                    }
                }
            }
        }
        total * vol
    };
    let condensed = params.critical_mass(mesh.dim).and_then(|_| {
        let off_centre = grid_sum(&|r2| params.steady_state(r2, 0.0), true);
        (mass > off_centre).then_some((mass - off_centre) / vol)
    });
    let beta = if condensed.is_some() {
        0.0
    } else if params.kappa == 0.0 {
        // f_beta = exp(-(r^2/(2D) + beta)): the sum factors.
        let shape = grid_sum(&|r2| params.steady_state(r2, 0.0), false);
        (shape / mass).ln()
    } else {
        beta_for_discrete_mass(mass, &|beta| {
            grid_sum(&|r2| params.steady_state(r2, beta), false)
        })
    };
    let mut f = Field::of_block(mesh, block);
    for k in 0..block.nz {
        for j in 0..block.ny {
            for i in 0..block.nx {
                let (iz, iy, ix) = (block.z0 + k, block.y0 + j, block.x0 + i);
                let v = match condensed {
                    Some(centre_value) if at_centre(iz, iy, ix) => centre_value,
                    _ => params.steady_state(r2_of(iz, iy, ix), beta),
                };
                let at = f.index3(k as isize, j as isize, i as isize);
                f.raw_mut()[at] = v;
            }
        }
    }
    f
}

/// `beta > 0` with `discrete_mass(beta) = mass` (decreasing in `beta`, `+inf` at 0 on a grid
/// containing the origin), by bisection in `ln beta`.
fn beta_for_discrete_mass(mass: f64, discrete_mass: &dyn Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = (1e-300f64, 1.0f64);
    while discrete_mass(hi) > mass && hi < 1e6 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = if hi / lo > 4.0 {
            (lo * hi).sqrt()
        } else {
            0.5 * (lo + hi)
        };
        if mid <= lo || mid >= hi {
            break;
        }
        if discrete_mass(mid) > mass {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// `f (1 + amplitude xi)` with `xi` uniform in `[-1, 1)`, a hash of `(seed, global cell index)`:
/// the same numbers for any rank count.
pub fn perturb(mesh: &Mesh, block: &Block, f: &mut Field, amplitude: f64, seed: u64) {
    for k in 0..block.nz {
        for j in 0..block.ny {
            for i in 0..block.nx {
                let (iz, iy, ix) = (block.z0 + k, block.y0 + j, block.x0 + i);
                let index = crate::samplers::global_cell(mesh, iz, iy, ix);
                let xi = 2.0 * crate::random::uniform(seed, index, 0) - 1.0;
                let at = f.index3(k as isize, j as isize, i as isize);
                f.raw_mut()[at] *= 1.0 + amplitude * xi;
            }
        }
    }
}
