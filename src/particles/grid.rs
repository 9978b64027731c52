//! The per-rank grid side of a particle method: deposit the rank's particles, hand the ghost
//! contributions to their owners (reverse halo sum, exact in integers), turn units into a
//! density, smooth it, and fill the ghosts the interpolation reads.
//!
//! ```text
//! deposit:  units = 0; CIC deposit (ghost width 1); sum ghosts (y, then x); rho = units * m/(N_p 2^32 h^d)
//! smooth:   fill x ghosts (w) + mirror at walls; pass x; fill y ghosts (w) + mirror; pass y;
//!           fill ghosts of width 1, corners included (x, then y)
//! ```

use super::cic::{Cic, UNITS_PER_PARTICLE};
use super::smooth::{mirror_x, mirror_y, pass_x, pass_y, tent};
use super::Particle;
use crate::comm::{Comm, HaloExchange};
use crate::decomp::{split, Block, ProcessGrid, Side};
use crate::field::Field;
use crate::mesh::Mesh;

/// Deposit, density and smoothed density of one rank's block.
pub struct ParticleGrid {
    cic: Cic,
    halo: HaloExchange,
    walls: [bool; 6],
    dim: usize,
    width: usize,
    kernel: Vec<f64>,
    units: Field<i64>,
    raw: Field<f64>,
    tmp: Field<f64>,
    smooth: Field<f64>,
    density_per_unit: f64,
}

impl ParticleGrid {
    /// Checks that every block of `grid` is at least `width` cells wide along each axis, as the
    /// smoothing's ghost strips and wall mirrors need.
    pub fn check_width(mesh: &Mesh, grid: ProcessGrid, width: usize) -> Result<(), String> {
        let narrowest_x = split(mesh.nx(), grid.px, grid.px - 1).1;
        let narrowest_y = split(mesh.ny(), grid.py, grid.py - 1).1;
        let narrowest = if mesh.dim == 2 {
            narrowest_x.min(narrowest_y)
        } else {
            narrowest_x
        };
        if width > narrowest {
            return Err(format!(
                "smoothing over {width} cells needs blocks at least {width} cells wide, but the \
                 {}x{} process grid has blocks of {narrowest}; use fewer ranks, a finer grid or \
                 less smoothing",
                grid.px, grid.py
            ));
        }
        Ok(())
    }

    /// The grid of `block` on `mesh`, smoothing over `width` cells (`0`: none), for particles of
    /// mass `particle_mass`.
    pub fn new(mesh: &Mesh, block: &Block, width: usize, particle_mass: f64) -> ParticleGrid {
        let two_d = mesh.dim == 2;
        let g = width.max(1);
        let gy = if two_d { g } else { 0 };
        let (ny, nx) = (block.ny, block.nx);
        ParticleGrid {
            cic: Cic::new(mesh, block),
            halo: HaloExchange::new(block),
            walls: Side::ALL.map(|s| block.neighbours[s.index()].is_none()),
            dim: mesh.dim,
            width,
            kernel: tent(width),
            units: Field::new(ny, nx, usize::from(two_d), 1),
            raw: Field::new(ny, nx, gy, g),
            tmp: Field::new(ny, nx, gy, g),
            smooth: Field::new(ny, nx, gy, g),
            density_per_unit: particle_mass / UNITS_PER_PARTICLE as f64 / mesh.cell_volume(),
        }
    }

    /// The CIC geometry of the block.
    pub fn cic(&self) -> &Cic {
        &self.cic
    }

    /// Deposits `particles` (all in owned cells) and forms the density on the owned cells
    /// (collective: the ghost contributions go to their owners).
    pub fn deposit(&mut self, comm: &Comm, particles: &[Particle]) {
        self.units.fill(0);
        self.cic.deposit(particles, &mut self.units);
        self.halo.sum(comm, &mut self.units, 1);
        let scale = self.density_per_unit;
        for j in 0..self.raw.ny() as isize {
            for i in 0..self.raw.nx() as isize {
                self.raw.set(j, i, self.units.get(j, i) as f64 * scale);
            }
        }
    }

    /// Units on the owned cells after [`ParticleGrid::deposit`] (exact; `N_p 2^32` summed over
    /// the ranks).
    pub fn owned_units(&self) -> i64 {
        let mut total = 0i64;
        for j in 0..self.units.ny() as isize {
            for i in 0..self.units.nx() as isize {
                total += self.units.get(j, i);
            }
        }
        total
    }

    /// The deposited (unsmoothed) density; owned cells are valid.
    pub fn deposited(&self) -> &Field<f64> {
        &self.raw
    }

    /// Copies the deposited density into the owned cells of `f` (the output field).
    pub fn copy_deposit_into(&self, f: &mut Field) {
        for j in 0..self.raw.ny() as isize {
            for i in 0..self.raw.nx() as isize {
                let k = f.index(j, i);
                f.raw_mut()[k] = self.raw.get(j, i);
            }
        }
    }

    /// Smooths the deposited density and fills one ghost layer of the result, corners
    /// included (collective).
    pub fn smooth(&mut self, comm: &Comm) {
        let w = self.width;
        let [west, east, south, north, ..] = self.walls;
        if w == 0 {
            for j in 0..self.raw.ny() as isize {
                for i in 0..self.raw.nx() as isize {
                    self.smooth.set(j, i, self.raw.get(j, i));
                }
            }
        } else {
            self.halo.fill_x(comm, &mut self.raw, w);
            mirror_x(&mut self.raw, w, west, east);
            if self.dim == 2 {
                pass_x(&self.raw, &mut self.tmp, &self.kernel);
                self.halo.fill_y(comm, &mut self.tmp, w);
                mirror_y(&mut self.tmp, w, south, north);
                pass_y(&self.tmp, &mut self.smooth, &self.kernel);
            } else {
                pass_x(&self.raw, &mut self.smooth, &self.kernel);
            }
        }
        self.halo.fill(comm, &mut self.smooth, 1);
    }

    /// The smoothed density with one ghost layer filled (after [`ParticleGrid::smooth`]).
    pub fn smoothed(&self) -> &Field<f64> {
        &self.smooth
    }
}
