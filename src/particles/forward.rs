//! The forward particle step on one rank: for every particle, interpolate the smoothed density,
//! take the semi-implicit drift step with its own Brownian increment, reflect at the walls.
//! Migration to the new owners is the caller's next stage.

use super::grid::ParticleGrid;
use super::push::{reflect, SemiImplicit};
use super::rng::{CounterRng, Stream};
use super::Particle;
use crate::mesh::Mesh;
use crate::physics::ModelParams;
use crate::scheme::power::Power;

/// The forward push of a run: step size, model, generator, box.
#[derive(Clone, Copy, Debug)]
pub struct ForwardPush {
    kernel: SemiImplicit,
    rng: CounterRng,
    half_width: f64,
    dim: usize,
}

impl ForwardPush {
    /// The push of step size `dt` for `params` on `mesh`, with the generator of `seed`.
    pub fn new(params: &ModelParams, dt: f64, seed: u64, mesh: &Mesh) -> ForwardPush {
        ForwardPush {
            kernel: SemiImplicit::new(params, dt),
            rng: CounterRng::new(seed),
            half_width: mesh.half_width,
            dim: mesh.dim,
        }
    }

    /// Moves every particle by step number `step` (1 for the first step), reading the smoothed
    /// density of `grid` (after [`ParticleGrid::smooth`]).
    pub fn push(&self, grid: &ParticleGrid, particles: &mut [Particle], step: u64) {
        // The exponent's branch is taken once, outside the loop; each arm is the same
        // arithmetic as `Power::eval`, so the result does not depend on the arm.
        match self.kernel.power() {
            Power::Int(1) => self.push_with(grid, particles, step, |r| r),
            Power::Int(2) => self.push_with(grid, particles, step, |r| r * r),
            Power::Int(3) => self.push_with(grid, particles, step, |r| r * r * r),
            power => self.push_with(grid, particles, step, move |r| power.eval(r)),
        }
    }

    #[inline(always)]
    fn push_with(
        &self,
        grid: &ParticleGrid,
        particles: &mut [Particle],
        step: u64,
        pow: impl Fn(f64) -> f64,
    ) {
        let rho = grid.smoothed();
        let cic = grid.cic();
        let l = self.half_width;
        let k = &self.kernel;
        if self.dim == 1 {
            for p in particles.iter_mut() {
                let factor = k.factor_of_power(pow(cic.gather(rho, p.pos)));
                let [xi, _] = self.rng.normals(p.id, step, Stream::Forward);
                p.pos[0] = reflect(k.advance(p.pos[0], factor, xi), l);
            }
        } else {
            for p in particles.iter_mut() {
                let factor = k.factor_of_power(pow(cic.gather(rho, p.pos)));
                let [xi, eta] = self.rng.normals(p.id, step, Stream::Forward);
                p.pos[0] = reflect(k.advance(p.pos[0], factor, xi), l);
                p.pos[1] = reflect(k.advance(p.pos[1], factor, eta), l);
            }
        }
    }
}
