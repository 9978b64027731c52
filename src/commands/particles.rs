//! `nlfp particles CONFIG [--out DIR] [--overwrite]`: the interacting particle system whose
//! mean-field limit is the forward PDE (MODEL.md section 2; see [`crate::particles`]).
//!
//! Each step: smooth the deposited density, push every particle, migrate particles to the ranks
//! owning their new cells, deposit again. Writes into the output directory, with the PDE's
//! layout so `nlfp info` and ParaView read it unchanged:
//!
//! * `final.h5` (and `snapshots/snap_<step>.h5` + `snapshots.xdmf` at the `[output]` snapshot
//!   cadence): the deposited (unsmoothed CIC) density as dataset `f`;
//! * `diagnostics.csv`: the PDE's columns computed on the deposited density, then
//!   `particles` (total count), `mass_units_defect` (total deposit minus `N_p 2^32` units: 0 when
//!   mass is exactly conserved), `particle_condensate` (mass of the particles within `r0` minus
//!   `int_{|x|<r0} f_c`), `imbalance` (max over mean particles per rank), `migrated` (particles
//!   that changed rank since the previous row) and `migration_rounds` (exchange rounds since the
//!   previous row);
//! * `positions.h5` (final) and `positions/pos_<step>.h5` (every `particles.positions_every`
//!   steps): positions in id order ([`crate::io::particles`]);
//! * `config.toml`: the resolved config.
//!
//! Every diagnostics row also checks, with exact integer reductions, that the particle count and
//! the fingerprint of the id set are unchanged and that the deposit holds exactly `N_p 2^32`
//! units; a violation stops the run with an error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::{Comm, Migrator};
use crate::decomp::{Block, ProcessGrid};
use crate::diagnostics::{Diagnostics, DiagnosticsSetup};
use crate::field::Field;
use crate::io::csv::{CsvValue, CsvWriter};
use crate::io::hdf5::{write_field, FieldMeta, IoMode};
use crate::io::particles::{write_positions, PositionsMeta};
use crate::io::xdmf::{self, SnapshotEntry};
use crate::particles::cic::UNITS_PER_PARTICLE;
use crate::particles::forward::ForwardPush;
use crate::particles::grid::ParticleGrid;
use crate::particles::rng::{CounterRng, Stream};
use crate::particles::sample::{draw_position, CellSampler};
use crate::particles::{id_fingerprint, id_fingerprint_of_range, Ownership, Particle};
use crate::sweep::forward::format_duration;

/// Files a particle run writes; an output directory holding any of them is not reused unless
/// `--overwrite` is given.
pub const OUTPUT_FILES: [&str; 5] = [
    "config.toml",
    "diagnostics.csv",
    "final.h5",
    "snapshots.xdmf",
    "positions.h5",
];

/// Subdirectory of the snapshots.
pub const SNAPSHOT_DIR: &str = "snapshots";
/// Subdirectory of the position files written at the `positions_every` cadence.
pub const POSITIONS_DIR: &str = "positions";

/// Columns after the PDE's [`Diagnostics::HEADER`].
pub const PARTICLE_COLUMNS: [&str; 6] = [
    "particles",
    "mass_units_defect",
    "particle_condensate",
    "imbalance",
    "migrated",
    "migration_rounds",
];

/// Wall time per stage of the particle step (this rank).
#[derive(Clone, Copy, Debug, Default)]
pub struct ParticleTimers {
    /// Interpolation, drift, noise, reflection.
    pub push: Duration,
    /// CIC deposit, reverse halo sum, units to density.
    pub deposit: Duration,
    /// Smoothing and its ghost fills.
    pub smooth: Duration,
    /// Migration.
    pub migrate: Duration,
    /// Diagnostics and output.
    pub output: Duration,
}

/// Runs the command.
pub fn run(
    comm: &Comm,
    args: &RunArgs,
    out: Option<PathBuf>,
    overwrite: bool,
) -> Result<(), CommandError> {
    let setup = RunSetup::load(comm, args)?;
    let input = |msg: String| CommandError::Input(format!("{}: {msg}", setup.config.source));
    let pc = setup.config.particles.clone();
    let mesh = setup.mesh;
    let block = setup.block.clone();
    let width = pc.smoothing as usize;
    ParticleGrid::check_width(&mesh, setup.grid, width)
        .map_err(|e| input(format!("particles.smoothing: {e}")))?;
    let t_end = setup.config.time.t_end;
    let planned = (t_end / pc.dt).ceil().max(1.0);
    if planned >= (1u64 << 56) as f64 {
        return Err(input(format!(
            "particles.dt: t_end / dt = {planned:e} steps is too many"
        )));
    }
    let planned = planned as u64;
    let dt = t_end / planned as f64;
    let steps = planned.min(setup.config.time.max_steps);
    let count = pc.count;
    let particle_mass = setup.mass / count as f64;

    let dir = out.unwrap_or_else(|| setup.config.output.dir.clone());
    let prepared = if comm.is_root() {
        super::prepare_output_dir(
            &dir,
            &OUTPUT_FILES,
            overwrite,
            "",
            &[dir.join(SNAPSHOT_DIR), dir.join(POSITIONS_DIR)],
            &[],
        )
        .map(|_| Vec::new())
    } else {
        Ok(Vec::new())
    };
    comm.broadcast_result(prepared)
        .map_err(CommandError::Input)?;
    let config_text = setup.config.to_toml();

    // Particles: every rank draws every id from the same global CDF and keeps its own.
    let t0 = Instant::now();
    let ownership = Ownership::new(&mesh, setup.grid);
    let rng = CounterRng::new(pc.seed);
    let mut particles = initial_particles(&setup, &ownership, &rng, count)?;
    let expected_fingerprint = id_fingerprint_of_range(count);
    let draw_time = t0.elapsed();

    let mut diag_setup = DiagnosticsSetup::new(setup.params, &mesh, setup.mass);
    if let (Some(r0), Some(_)) = (pc.r0, diag_setup.condensate_ball) {
        diag_setup.condensate_ball =
            Some((r0, setup.params.steady_mass_in_ball(mesh.dim, 0.0, r0)));
    }
    let mut csv = None;
    if comm.is_root() {
        let mut header: Vec<&str> = Diagnostics::HEADER.to_vec();
        header.extend_from_slice(&PARTICLE_COLUMNS);
        let written = std::fs::write(dir.join("config.toml"), &config_text)
            .map_err(|e| format!("{}: {e}", dir.join("config.toml").display()))
            .and_then(|_| CsvWriter::create(&dir.join("diagnostics.csv"), &header));
        match written {
            Ok(w) => csv = Some(w),
            Err(e) => return Err(CommandError::Fatal(e)),
        }
        log::info!(
            "particles: {}, N_p = {count}, dt = {dt:e} x {steps} steps to t = {:e}, \
             smoothing {width} cells, seed {} (initial draw {:.2}s)",
            setup.run_line(),
            steps as f64 * dt,
            pc.seed,
            draw_time.as_secs_f64()
        );
    }

    let io_mode = setup.io_mode();
    let mut run = ParticleRun {
        comm,
        mesh: &mesh,
        grid: setup.grid,
        block: &block,
        diag_setup,
        csv,
        dir: dir.clone(),
        config_text,
        io_mode,
        count,
        particle_mass,
        seed: pc.seed,
        expected_fingerprint,
        snapshots: Vec::new(),
        migrated: 0,
        rounds: 0,
        start: Instant::now(),
    };
    let mut pgrid = ParticleGrid::new(&mesh, &block, width, particle_mass);
    let push = ForwardPush::new(&setup.params, dt, pc.seed, &mesh);
    let mut migrator = Migrator::new(&block);
    let mut field = Field::zeros(block.ny, block.nx);
    let mut timers = ParticleTimers::default();
    let out_cfg = &setup.config.output;

    // Step 0: no step taken yet, so the last step size is 0 (as in the PDE's output).
    pgrid.deposit(comm, &particles);
    run.record(&particles, &pgrid, &mut field, 0, 0.0, 0.0)?;
    if out_cfg.snapshot_every > 0 || out_cfg.snapshot_dt > 0.0 {
        run.snapshot(&field, 0, 0.0, 0.0)?;
    }
    if pc.positions_every > 0 {
        run.positions(&particles, &positions_path(&dir, 0), 0, 0.0, 0.0)?;
    }
    let mut last_progress = Instant::now();
    let mut t = 0.0;
    for step in 1..=steps {
        let clock = Instant::now();
        pgrid.smooth(comm);
        let smoothed = Instant::now();
        push.push(&pgrid, &mut particles, step);
        let pushed = Instant::now();
        let report = migrator.migrate(comm, &mut particles, |p: &Particle| ownership.coords(p.pos));
        let migrated = Instant::now();
        pgrid.deposit(comm, &particles);
        let deposited = Instant::now();
        timers.smooth += smoothed - clock;
        timers.push += pushed - smoothed;
        timers.migrate += migrated - pushed;
        timers.deposit += deposited - migrated;
        run.migrated += report.sent;
        run.rounds += u64::from(report.rounds);

        let before = t;
        t = if step == planned {
            t_end
        } else {
            step as f64 * dt
        };
        let done = step == steps;
        if step.is_multiple_of(out_cfg.diagnostics_every) || done {
            run.record(&particles, &pgrid, &mut field, step, t, dt)?;
        }
        let by_step = out_cfg.snapshot_every > 0 && step.is_multiple_of(out_cfg.snapshot_every);
        let by_time = out_cfg.snapshot_dt > 0.0
            && (t / out_cfg.snapshot_dt).floor() > (before / out_cfg.snapshot_dt).floor();
        if by_step || by_time {
            pgrid.copy_deposit_into(&mut field);
            run.snapshot(&field, step, t, dt)?;
        }
        if pc.positions_every > 0 && step.is_multiple_of(pc.positions_every) {
            run.positions(&particles, &positions_path(&dir, step), step, t, dt)?;
        }
        timers.output += deposited.elapsed();
        if comm.is_root()
            && (last_progress.elapsed().as_secs_f64() >= out_cfg.progress_every || done)
        {
            last_progress = Instant::now();
            let elapsed = run.start.elapsed().as_secs_f64();
            let eta = elapsed * (steps - step) as f64 / step as f64;
            log::info!(
                "step {step:>9} / {steps}  t = {t:.6e}  elapsed {}  ETA {}",
                format_duration(elapsed),
                format_duration(eta)
            );
        }
    }

    pgrid.copy_deposit_into(&mut field);
    let meta = FieldMeta {
        t,
        step: steps,
        dt,
        config: run.config_text.clone(),
    };
    write_field(
        comm,
        &dir.join("final.h5"),
        &mesh,
        setup.grid,
        &block,
        &field,
        &meta,
        io_mode,
    )
    .map_err(CommandError::Runtime)?;
    run.positions(&particles, &dir.join("positions.h5"), steps, t, dt)?;

    let wall = run.start.elapsed().as_secs_f64().max(1e-12);
    let core = (timers.push + timers.deposit).as_secs_f64().max(1e-12);
    let local = particles.len() as f64;
    let max_local = comm.max(local);
    if comm.is_root() {
        let total = (timers.push + timers.deposit + timers.smooth + timers.migrate + timers.output)
            .as_secs_f64()
            .max(1e-12);
        let share = |d: Duration| 100.0 * d.as_secs_f64() / total;
        log::info!(
            "done: {steps} steps to t = {t:.6e} in {}: {:.3e} particle-steps/s overall, \
             {:.3e} per rank in push + deposit (rank 0); final imbalance {:.3}",
            format_duration(wall),
            count as f64 * steps as f64 / wall,
            local * steps as f64 / core,
            max_local * comm.size() as f64 / count as f64,
        );
        log::info!(
            "rank 0 time shares: push {:.1}%, deposit {:.1}%, smooth {:.1}%, migrate {:.1}%, \
             output {:.1}%",
            share(timers.push),
            share(timers.deposit),
            share(timers.smooth),
            share(timers.migrate),
            share(timers.output),
        );
        log::info!(
            "results in {}: final.h5, positions.h5, diagnostics.csv, config.toml",
            dir.display()
        );
    }
    Ok(())
}

/// This rank's particles at `t = 0`: particle `id` drawn by inverse CDF over the global cell
/// masses of the initial density, kept by the rank owning its position.
fn initial_particles(
    setup: &RunSetup,
    ownership: &Ownership,
    rng: &CounterRng,
    count: u64,
) -> Result<Vec<Particle>, CommandError> {
    let mesh = &setup.mesh;
    let whole = Block::new(mesh, ProcessGrid { px: 1, py: 1 }, 0);
    let mut global = Field::zeros(whole.ny, whole.nx);
    setup
        .initial
        .fill(mesh, &whole, setup.mass, &mut global)
        .map_err(|e| CommandError::Input(format!("{}: initial: {e}", setup.config.source)))?;
    let weights: Vec<f64> = global.interior().iter().copied().collect();
    let sampler = CellSampler::new(&weights)
        .map_err(|e| CommandError::Input(format!("{}: initial: {e}", setup.config.source)))?;
    let mine = setup.block.coords;
    let share = count as usize / setup.grid.size() + 1;
    let mut particles = Vec::with_capacity(share + share / 4);
    for id in 0..count {
        let pos = draw_position(rng, Stream::Initial, &sampler, mesh, id);
        if ownership.coords(pos) == mine {
            particles.push(Particle { id, pos });
        }
    }
    Ok(particles)
}

fn positions_path(dir: &Path, step: u64) -> PathBuf {
    dir.join(POSITIONS_DIR).join(format!("pos_{step:012}.h5"))
}

/// Output state of a particle run.
struct ParticleRun<'a> {
    comm: &'a Comm,
    mesh: &'a crate::mesh::Mesh,
    grid: ProcessGrid,
    block: &'a Block,
    diag_setup: DiagnosticsSetup,
    csv: Option<CsvWriter>,
    dir: PathBuf,
    config_text: String,
    io_mode: IoMode,
    count: u64,
    particle_mass: f64,
    seed: u64,
    expected_fingerprint: u64,
    snapshots: Vec<SnapshotEntry>,
    /// Particles sent to another rank since the last row (this rank).
    migrated: u64,
    /// Exchange rounds since the last row.
    rounds: u64,
    start: Instant,
}

impl ParticleRun<'_> {
    /// One diagnostics row (collective); checks count, id set and exact mass.
    fn record(
        &mut self,
        particles: &[Particle],
        pgrid: &ParticleGrid,
        field: &mut Field,
        step: u64,
        t: f64,
        dt: f64,
    ) -> Result<(), CommandError> {
        pgrid.copy_deposit_into(field);
        let d = Diagnostics::compute(self.comm, &self.diag_setup, self.mesh, self.block, field);
        let r0 = self.diag_setup.condensate_ball.map_or(0.0, |(r0, _)| r0);
        let in_ball = particles
            .iter()
            .filter(|p| p.pos[0] * p.pos[0] + p.pos[1] * p.pos[1] < r0 * r0)
            .count() as u64;
        // Exact integer sums (wrapping u64 arithmetic is associative).
        let sums = self.comm.sum_u64_wrapping(&[
            particles.len() as u64,
            id_fingerprint(particles),
            pgrid.owned_units() as u64,
            in_ball,
            self.migrated,
        ]);
        let max_local = self.comm.max(particles.len() as f64);
        let rounds = self.rounds;
        self.migrated = 0;
        self.rounds = 0;
        let total = sums[0];
        let units_defect =
            (sums[2] as i64).wrapping_sub((self.count as i64).wrapping_mul(UNITS_PER_PARTICLE));
        let condensate = self
            .diag_setup
            .condensate_ball
            .map(|(_, inner)| sums[3] as f64 * self.particle_mass - inner);
        let imbalance = max_local * self.comm.size() as f64 / self.count as f64;
        if let Some(csv) = &mut self.csv {
            let mut row = d.csv_row(step, t, dt, self.start.elapsed().as_secs_f64(), None, None);
            row.extend([
                CsvValue::Int(total),
                CsvValue::Float(units_defect as f64),
                condensate.into(),
                imbalance.into(),
                CsvValue::Int(sums[4]),
                CsvValue::Int(rounds),
            ]);
            if let Err(e) = csv.row(&row) {
                log::error!("{e}");
                self.comm.abort(1);
            }
        }
        if total != self.count || sums[1] != self.expected_fingerprint {
            return Err(CommandError::Runtime(format!(
                "particles lost or duplicated at step {step}: {total} present of {} \
                 (id fingerprint {:#x}, expected {:#x})",
                self.count, sums[1], self.expected_fingerprint
            )));
        }
        if units_defect != 0 {
            return Err(CommandError::Runtime(format!(
                "deposit holds {units_defect} units more than N_p 2^32 at step {step}"
            )));
        }
        if !d.finite {
            return Err(CommandError::Runtime(format!(
                "non-finite density at step {step} (t = {t:e})"
            )));
        }
        Ok(())
    }

    /// The deposited density as a snapshot, listed in `snapshots.xdmf` (collective).
    fn snapshot(&mut self, field: &Field, step: u64, t: f64, dt: f64) -> Result<(), CommandError> {
        let name = format!("snap_{step:012}.h5");
        let snap_dir = self.dir.join(SNAPSHOT_DIR);
        let made = if self.comm.is_root() {
            std::fs::create_dir_all(&snap_dir).map_err(|e| format!("{}: {e}", snap_dir.display()))
        } else {
            Ok(())
        };
        self.comm
            .broadcast_result(made.map(|_| Vec::new()))
            .map_err(CommandError::Runtime)?;
        write_field(
            self.comm,
            &snap_dir.join(&name),
            self.mesh,
            self.grid,
            self.block,
            field,
            &FieldMeta {
                t,
                step,
                dt,
                config: self.config_text.clone(),
            },
            self.io_mode,
        )
        .map_err(CommandError::Runtime)?;
        if self.comm.is_root() {
            self.snapshots.push(SnapshotEntry {
                step,
                t,
                file: format!("{SNAPSHOT_DIR}/{name}"),
            });
            xdmf::write(&self.dir.join("snapshots.xdmf"), self.mesh, &self.snapshots)
                .map_err(|e| CommandError::Fatal(format!("snapshot index: {e}")))?;
        }
        Ok(())
    }

    /// Positions of every particle in id order (collective).
    fn positions(
        &self,
        particles: &[Particle],
        path: &Path,
        step: u64,
        t: f64,
        dt: f64,
    ) -> Result<(), CommandError> {
        if let Some(parent) = path.parent() {
            let made = if self.comm.is_root() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))
            } else {
                Ok(())
            };
            self.comm
                .broadcast_result(made.map(|_| Vec::new()))
                .map_err(CommandError::Runtime)?;
        }
        let meta = PositionsMeta {
            t,
            step,
            dt,
            count: self.count,
            dim: self.mesh.dim,
            seed: self.seed,
            particle_mass: self.particle_mass,
            config: self.config_text.clone(),
        };
        write_positions(self.comm, path, particles, &meta).map_err(CommandError::Runtime)
    }
}
