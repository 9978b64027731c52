//! `nlfp particles CONFIG [--out DIR] [--overwrite]`: the interacting particle system whose
//! mean-field limit is the forward PDE (MODEL.md section 2; see [`crate::particles`]).
//!
//! Particle `id` is drawn from the initial density by every rank alike and kept by the rank
//! owning its position; then the time loop of [`crate::particles::march`] (smooth, push,
//! migrate, deposit) writes, into the output directory, `config.toml`, `diagnostics.csv`,
//! `final.h5`, snapshots, `positions.h5` and `positions/pos_<step>.h5`, checking the particle
//! count, the id set and the exact mass at every diagnostics row.

use std::time::Instant;

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunOutArgs;
use crate::comm::Comm;
use crate::diagnostics::DiagnosticsSetup;
use crate::io::run_dir::DirRules;
use crate::io::snapshots::SNAPSHOT_DIR;
use crate::particles::grid::ParticleGrid;
use crate::particles::march::{ParticleMarch, Steps, OUTPUT_FILES, POSITIONS_DIR};
use crate::particles::rng::{CounterRng, Stream};
use crate::particles::sample::draw_owned;
use crate::particles::Ownership;

/// Runs the command.
pub fn run(comm: &Comm, args: &RunOutArgs) -> Result<(), CommandError> {
    let setup = RunSetup::load(comm, &args.run)?;
    let input = |msg: String| CommandError::Input(format!("{}: {msg}", setup.config.source));
    let pc = setup.config.particles.clone();
    let width = pc.smoothing as usize;
    ParticleGrid::check_width(&setup.mesh, setup.grid, width)
        .map_err(|e| input(format!("particles.smoothing: {e}")))?;
    let steps = Steps::new(setup.config.time.t_end, pc.dt, setup.config.time.max_steps)
        .map_err(|e| input(format!("particles.dt: {e}")))?;

    let run = setup.run_dir_for(&args.output);
    let rules = DirRules {
        results: &OUTPUT_FILES,
        clear: vec![SNAPSHOT_DIR.into(), POSITIONS_DIR.into()],
        ..DirRules::default()
    };
    run.create(comm, &rules, args.output.overwrite)?;

    // Particles: every rank draws every id from the same global CDF and keeps its own.
    let t0 = Instant::now();
    let weights = setup.initial_global()?;
    let particles = draw_owned(
        &CounterRng::new(pc.seed),
        Stream::Initial,
        &weights,
        &setup.mesh,
        &Ownership::new(&setup.mesh, setup.grid),
        setup.block.coords,
        pc.count,
    )
    .map_err(|e| input(format!("initial: {e}")))?;
    let draw_time = t0.elapsed();

    let mut diagnostics = DiagnosticsSetup::new(setup.params, &setup.mesh, setup.mass);
    if let (Some(r0), Some(_)) = (pc.r0, diagnostics.condensate_ball) {
        diagnostics.condensate_ball = Some((
            r0,
            setup.params.steady_mass_in_ball(setup.mesh.dim, 0.0, r0),
        ));
    }
    if comm.is_root() {
        log::info!(
            "particles: {}, N_p = {}, dt = {:e} x {} steps to t = {:e}, smoothing {width} cells, \
             seed {} (initial draw {:.2}s)",
            setup.run_line(),
            pc.count,
            steps.dt,
            steps.steps,
            steps.steps as f64 * steps.dt,
            pc.seed,
            draw_time.as_secs_f64()
        );
    }
    let march = ParticleMarch {
        run: &run,
        params: setup.params,
        count: pc.count,
        particle_mass: setup.mass / pc.count as f64,
        seed: pc.seed,
        width,
        steps,
        diagnostics,
        control: setup.march_control(),
        cadence: setup.output_cadence(),
        positions_every: pc.positions_every,
    };
    march.run(comm, particles)
}
