//! `nlfp check CONFIG`: validate, print the resolved run, the process grid, the memory
//! estimate and the first dt. No time stepping, no files written.

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::sweep::trajectory::{recompute_interval, StoreKind};
use crate::time::block_memory_bytes;

/// Runs the command.
pub fn run(comm: &Comm, args: &RunArgs) -> Result<(), CommandError> {
    let setup = RunSetup::load(comm, args)?;
    let mut f = setup.initial_field()?;
    let mut stepper = setup.stepper();
    let first = stepper.next_dt(
        comm,
        &mut f,
        0.0,
        setup.config.time.t_end,
        Default::default(),
    );
    if !comm.is_root() {
        return Ok(());
    }
    let mesh = &setup.layout.mesh;
    let grid = setup.layout.grid;
    let largest = grid.largest_block(mesh);
    let [big_z, big_y, big_x] = largest;
    let per_rank = block_memory_bytes(setup.scheme, mesh.dim, largest);
    let total: usize = setup
        .layout
        .blocks()
        .map(|b| block_memory_bytes(setup.scheme, mesh.dim, [b.nz, b.ny, b.nx]))
        .sum();
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!("# resolved config ({})", setup.config.source);
    println!("{}", setup.config.to_toml());
    println!("# run");
    println!(
        "grid          {}D, {} cells per axis, h = {:.6e}, {} cells",
        mesh.dim,
        mesh.n,
        mesh.h,
        mesh.cells()
    );
    match setup.critical_mass {
        Some(mc) => println!(
            "mass          m = {:.10e} = {:.6} m_c  (m_c = {:.10e})",
            setup.mass,
            setup.mass / mc,
            mc
        ),
        None => println!(
            "mass          m = {:.10e}  (no critical mass: gamma * dim <= 2 or kappa = 0)",
            setup.mass
        ),
    }
    println!(
        "scheme        {} (order {}), stepper {} (order {})",
        setup.scheme.name(),
        setup.scheme.order(),
        setup.stepper.name(),
        setup.stepper.order()
    );
    let block = if mesh.dim == 3 {
        format!("{big_x} x {big_y} x {big_z}")
    } else {
        format!("{big_x} x {big_y}")
    };
    println!(
        "process grid  {} = {} ranks, largest block {block} cells",
        grid.label_in(mesh.dim).replace('x', " x "),
        grid.size(),
    );
    println!(
        "memory        {:.2} MiB on the largest rank, {:.2} MiB in total",
        mib(per_rank),
        mib(total)
    );
    println!(
        "first dt      {:.6e}  (max outgoing rate {:.6e}, safety {}, dt_max {})",
        first.dt, first.max_rate, setup.control.safety, setup.control.dt_max
    );
    let steps = (setup.config.time.t_end / first.dt).ceil();
    println!(
        "estimate      about {steps:.0} steps to t_end = {} at the first dt",
        setup.config.time.t_end
    );
    // The trajectory stores of the reverse sweep (`nlfp generate`), per step count.
    let state = 8 * big_x * big_y;
    let every = setup.config.reverse.recompute_every;
    let k = recompute_interval(steps, every);
    let memory = StoreKind::Memory.memory_estimate(steps, state, every);
    println!(
        "reverse store {} (selected); on the largest rank for {steps:.0} steps: \
         memory {:.2} MiB, disk {:.2} MiB of file (0 in memory), recompute {:.2} MiB (K = {k:.0}, \
         about one extra forward step per step){}",
        setup.config.reverse.store.name(),
        mib(memory),
        mib(memory * grid.size()),
        mib(StoreKind::Recompute.memory_estimate(steps, state, every)),
        if setup.stepper == crate::time::StepperKind::Implicit {
            " (implicit: the step count grows with dt; scale by the steps the run takes)"
        } else {
            " (explicit dt shrinks when a condensate forms: more steps than estimated)"
        }
    );
    let [fwd, rev] = setup
        .generate_settings()
        .checkpoint_bytes(mesh.cells(), steps);
    println!(
        "checkpoints   forward: {:.2} MiB each; generate ({} store): up to {:.2} MiB in the \
         forward phase, {:.2} MiB in the reverse phase (in {})",
        mib(8 * mesh.cells() + (8.0 * steps) as usize),
        setup.config.reverse.store.name(),
        mib(fwd),
        mib(rev),
        setup.config.checkpoint.dir.display(),
    );
    let pc = &setup.config.particles;
    let particle_steps = (setup.config.time.t_end / pc.dt).ceil();
    println!(
        "particles     (nlfp particles) N_p = {}, {particle_steps:.0} steps of {:e}, smoothing {} cells, \
         ~{:.1} MiB of particles per rank{}",
        pc.count,
        setup.config.time.t_end / particle_steps,
        pc.smoothing,
        mib(std::mem::size_of::<crate::particles::Particle>() * pc.count as usize)
            / grid.size() as f64,
        match crate::particles::grid::ParticleGrid::check_width(mesh, grid, pc.smoothing as usize) {
            Ok(()) => String::new(),
            Err(e) => format!("; particles.smoothing: {e}"),
        }
    );
    let fc = &setup.config.filter;
    let filter_states = 1 + fc.variants.len() * fc.cycles as usize;
    println!(
        "checkpoints   particles: {:.2} MiB each (the deposit, every particle, the step sizes); \
         filter: up to {:.2} MiB (at its last cycle boundary: {filter_states} densities); \
         study: each run's like forward's",
        mib(8 * mesh.cells() + 24 * pc.count as usize + (8.0 * particle_steps) as usize),
        mib(8 * mesh.cells() * filter_states),
    );
    Ok(())
}
