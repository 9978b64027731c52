//! `nlfp particles CONFIG [--out DIR] [--overwrite] [--restart auto|PATH]`: the interacting particle system whose
//! mean-field limit is the forward PDE (MODEL.md section 2; see [`crate::particles`]).
//!
//! Particle `id` is drawn from the initial density by every rank alike and kept by the rank
//! owning its position; then the time loop of [`crate::particles::march`] (smooth, push,
//! migrate, deposit) writes, into the output directory, `config.toml`, `diagnostics.csv`,
//! `final.h5`, snapshots, `positions.h5` and `positions/pos_<step>.h5`, checking the particle
//! count, the id set and the exact mass at every diagnostics row.
//!
//! Checkpoints (`[checkpoint]`, SIGUSR1/SIGTERM, exit 75; job `particles`) hold every particle
//! in id order; `--restart auto|PATH` continues from one on any rank count, bit for bit
//! ([`crate::particles::march`]). The particle keys (`particles.count`, `dt`, `seed`,
//! `smoothing`) join the physics fingerprint of these checkpoints: changing one on restart is
//! refused naming it.

use std::time::Instant;

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunOutArgs;
use crate::comm::Comm;
use crate::diagnostics::DiagnosticsSetup;
use crate::io::checkpoint::JobKind;
use crate::io::snapshots::SNAPSHOT_DIR;
use crate::particles::grid::ParticleGrid;
use crate::particles::march::{
    ParticleMarch, ParticleStart, Steps, OUTPUT_FILES, PARTICLES_DATASET, POSITIONS_DIR,
};
use crate::particles::rng::{CounterRng, Stream};
use crate::particles::sample::draw_owned;
use crate::particles::{owned_of, Ownership};
use crate::signals::SignalFlags;
use crate::sweep::checkpointer::Checkpointer;

/// Runs the command.
pub fn run(comm: &Comm, args: &RunOutArgs, restart: Option<String>) -> Result<(), CommandError> {
    let setup = RunSetup::load(comm, &args.run)?;
    setup.refuse_3d("particles")?;
    let input = |msg: String| CommandError::Input(format!("{}: {msg}", setup.config.source));
    let pc = setup.config.particles.clone();
    let width = pc.smoothing as usize;
    ParticleGrid::check_width(&setup.layout.mesh, setup.layout.grid, width)
        .map_err(|e| input(format!("particles.smoothing: {e}")))?;
    let steps = Steps::new(setup.config.time.t_end, pc.dt, setup.config.time.max_steps)
        .map_err(|e| input(format!("particles.dt: {e}")))?;

    let signals = SignalFlags::install().map_err(CommandError::Fatal)?;
    let run = setup.run_dir_for(&args.output);
    let physics = format!(
        "{}particles.count = {}\nparticles.dt = {:?}\nparticles.seed = {}\nparticles.smoothing = {}\n",
        setup.config.physics_fingerprint(),
        pc.count,
        pc.dt,
        pc.seed,
        pc.smoothing
    );
    let policy = setup.checkpoint_policy();
    let (job, t_end) = (JobKind::Particles, setup.config.time.t_end);
    let checkpointer = Checkpointer::new(comm, &run, &policy, job, physics, t_end, &signals);
    let loaded = checkpointer
        .resume(restart.as_deref())
        .map_err(CommandError::Input)?;
    if let Some(l) = loaded.as_ref().filter(|l| l.state.step > steps.steps) {
        return Err(CommandError::Input(format!(
            "{}: restart refused: the checkpoint stands at step {}, past the {} steps of this \
             run (time.t_end / particles.dt, time.max_steps)",
            l.path.display(),
            l.state.step,
            steps.steps
        )));
    }
    let replace = args.output.overwrite || restart.is_some();
    let fresh_clear = [SNAPSHOT_DIR, POSITIONS_DIR];
    checkpointer.create_run(&OUTPUT_FILES, &fresh_clear, loaded.is_some(), replace)?;

    // Particles: every rank draws every id from the same global CDF and keeps its own (or
    // takes its own of a checkpoint's).
    let t0 = Instant::now();
    let ownership = Ownership::new(&setup.layout.mesh, setup.layout.grid);
    let start = match &loaded {
        Some(l) => {
            let flat = l.small(PARTICLES_DATASET).map_err(CommandError::Input)?;
            let particles = owned_of(flat, pc.count, &ownership, setup.layout.block.coords)
                .map_err(|e| CommandError::Input(format!("{}: {e}", l.path.display())))?;
            ParticleStart {
                particles,
                step: l.state.step,
            }
        }
        None => {
            let weights = setup.initial_global()?;
            let particles = draw_owned(
                &CounterRng::new(pc.seed),
                Stream::Initial,
                &weights,
                &setup.layout.mesh,
                &ownership,
                setup.layout.block.coords,
                pc.count,
            )
            .map_err(|e| input(format!("initial: {e}")))?;
            ParticleStart { particles, step: 0 }
        }
    };
    drop(loaded);
    let draw_time = t0.elapsed();

    let mut diagnostics = DiagnosticsSetup::new(setup.params, &setup.layout.mesh, setup.mass);
    if let (Some(r0), Some(_)) = (pc.r0, diagnostics.condensate_ball) {
        diagnostics.condensate_ball = Some((
            r0,
            setup
                .params
                .steady_mass_in_ball(setup.layout.mesh.dim, 0.0, r0),
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
    march.run(comm, start, Some(checkpointer))
}
