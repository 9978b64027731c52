//! The particle time loop of `nlfp particles`: each step smooths the deposited density, pushes
//! every particle, migrates particles to the ranks owning their new cells and deposits again,
//! with a wall-clock timer per stage ([`ParticleTimers`]). Writes, with the PDE's layout so
//! `nlfp info` and ParaView read it unchanged:
//!
//! * `final.h5` (and `snapshots/snap_<step>.h5` + `snapshots.xdmf` at the snapshot cadence,
//!   [`crate::io::snapshots`]): the deposited (unsmoothed CIC) density as dataset `f`;
//! * `diagnostics.csv`: the PDE's columns computed on the deposited density, then
//!   [`PARTICLE_COLUMNS`]: `particles` (total count), `mass_units_defect` (total deposit minus
//!   `N_p 2^32` units: 0 when mass is exactly conserved), `particle_condensate` (mass of the
//!   particles within `r0` minus `int_{|x|<r0} f_c`), `imbalance` (max over mean particles per
//!   rank), `migrated` (particles that changed rank since the previous row) and
//!   `migration_rounds` (exchange rounds since the previous row);
//! * `positions.h5` (final) and `positions/pos_<step>.h5` (every `positions_every` steps):
//!   positions in id order ([`crate::io::particles`]).
//!
//! # Checkpoints
//!
//! With a [`Checkpointer`] (job `particles`, phase `march`) the run checkpoints before a step at
//! `checkpoint.every_steps`, `every_seconds` and on SIGUSR1/SIGTERM (SIGTERM: then exit 75):
//! the deposited density as `f`, the step, the step sizes (`t` is their sum in order) and every
//! particle's `id, x, y` in id order (dataset `particles`, [`super::all_in_id_order`]). Since a
//! particle's update reads only its id, its position, the step and the deposit of all
//! particles, a run resumed from it on any rank count writes `final.h5` and `positions.h5`
//! bit-identical to an uninterrupted run's; `diagnostics.csv` keeps its rows up to the
//! checkpoint's step and continues (its `wall_seconds`, `imbalance`, `migrated` and
//! `migration_rounds` depend on the ranks and the clock).
//!
//! Every diagnostics row also checks, with exact integer reductions, that the particle count and
//! the fingerprint of the id set are unchanged and that the deposit holds exactly `N_p 2^32`
//! units; a violation stops the run with an error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cic::UNITS_PER_PARTICLE;
use super::forward::ForwardPush;
use super::grid::ParticleGrid;
use super::{id_fingerprint, id_fingerprint_of_range, Ownership, Particle};
use crate::comm::{Comm, Migrator};
use crate::diagnostics::{Diagnostics, DiagnosticsSetup};
use crate::error::CommandError;
use crate::field::Field;
use crate::io::checkpoint::Saved;
use crate::io::csv::{CsvValue, CsvWriter};
use crate::io::particles::{write_positions, PositionsMeta};
use crate::io::run_dir::{RunDir, Stamp};
use crate::io::snapshots::SnapshotWriter;
use crate::physics::ModelParams;
use crate::progress::Progress;
use crate::sweep::checkpointer::Checkpointer;
use crate::sweep::forward::{format_duration, MarchControl, MarchState, OutputCadence};

/// Files a particle run writes; an output directory holding any of them is not reused unless
/// `--overwrite` is given.
pub const OUTPUT_FILES: [&str; 5] = [
    "config.toml",
    "diagnostics.csv",
    "final.h5",
    "snapshots.xdmf",
    "positions.h5",
];

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

impl ParticleTimers {
    /// The sum of the stages.
    pub fn total(&self) -> Duration {
        self.push + self.deposit + self.smooth + self.migrate + self.output
    }
}

/// The time grid of a particle run: `planned` equal steps of `dt` to `t_end` (the last one
/// lands on `t_end` exactly), of which the run takes `steps` (the step limit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Steps {
    /// `T`.
    pub t_end: f64,
    /// Steps to `T`: `ceil(T / dt_requested)`, at least 1.
    pub planned: u64,
    /// `T / planned`.
    pub dt: f64,
    /// Steps taken: `min(planned, max_steps)`.
    pub steps: u64,
}

impl Steps {
    /// The time grid for the requested step `dt` (an error names the problem).
    pub fn new(t_end: f64, dt: f64, max_steps: u64) -> Result<Steps, String> {
        let planned = (t_end / dt).ceil().max(1.0);
        if planned >= (1u64 << 56) as f64 {
            return Err(format!("t_end / dt = {planned:e} steps is too many"));
        }
        let planned = planned as u64;
        Ok(Steps {
            t_end,
            planned,
            dt: t_end / planned as f64,
            steps: planned.min(max_steps),
        })
    }

    /// The march state after `step` steps, as a checkpoint stores it: `step` step sizes `dt`
    /// and their sum in order as `t` (the time the march uses is [`Steps::time`]).
    pub fn march_state(&self, step: u64) -> MarchState {
        let dt_history = vec![self.dt; step as usize];
        MarchState {
            t: dt_history.iter().fold(0.0, |t, dt| t + dt),
            step,
            dt_history,
        }
    }

    /// The time after `step` steps.
    pub fn time(&self, step: u64) -> f64 {
        if step == self.planned {
            self.t_end
        } else {
            step as f64 * self.dt
        }
    }
}

/// The phase of a particle checkpoint.
pub const PHASE: &str = "march";

/// The dataset of a particle checkpoint holding every particle (`id, x, y` in id order).
pub const PARTICLES_DATASET: &str = "particles";

/// Where a particle run starts.
pub struct ParticleStart {
    /// This rank's particles.
    pub particles: Vec<Particle>,
    /// The step they stand at: 0 for the particles drawn at `t = 0`, else a checkpoint's.
    pub step: u64,
}

/// A particle run, ready to march.
pub struct ParticleMarch<'a> {
    /// The run directory (layout, config text, transfer mode).
    pub run: &'a RunDir,
    /// Model parameters.
    pub params: ModelParams,
    /// Number of particles `N_p`.
    pub count: u64,
    /// Mass of one particle, `m / N_p`.
    pub particle_mass: f64,
    /// Seed of every random number.
    pub seed: u64,
    /// Smoothing width in cells.
    pub width: usize,
    /// The time grid.
    pub steps: Steps,
    /// Diagnostics (its condensate ball is the particles' `r0`).
    pub diagnostics: DiagnosticsSetup,
    /// Diagnostics and progress cadences (`t_end` and `max_steps` are in `steps`).
    pub control: MarchControl,
    /// Snapshot cadences.
    pub cadence: OutputCadence,
    /// Positions every this many steps (0 = only the final ones).
    pub positions_every: u64,
}

impl ParticleMarch<'_> {
    /// Marches this rank's particles from `start` over the time grid, writing every output
    /// and, with `checkpoints`, the checkpoints (module doc); a stop request ends the run with
    /// [`CommandError::Requeue`] after its checkpoint. Collective.
    pub fn run(
        &self,
        comm: &Comm,
        start: ParticleStart,
        mut checkpoints: Option<Checkpointer>,
    ) -> Result<(), CommandError> {
        let run = self.run;
        let (mesh, block) = (run.mesh(), run.block());
        let (mut particles, first) = (start.particles, start.step);
        let csv = if comm.is_root() {
            let mut header: Vec<&str> = Diagnostics::HEADER.to_vec();
            header.extend_from_slice(&PARTICLE_COLUMNS);
            let path = run.join("diagnostics.csv");
            let csv = match first {
                0 => CsvWriter::create(&path, &header),
                _ => CsvWriter::resume_keeping(&path, &header, &|s| s <= first),
            };
            Some(csv.map_err(CommandError::Fatal)?)
        } else {
            None
        };
        let snapshot_writer = match first {
            0 => SnapshotWriter::new(),
            _ => SnapshotWriter::resume(comm, run.path(), first),
        };
        let mut out = Outputs {
            march: self,
            csv,
            expected_fingerprint: id_fingerprint_of_range(self.count),
            snapshots: snapshot_writer,
            migrated: 0,
            rounds: 0,
            start: Instant::now(),
        };
        let (steps, dt) = (self.steps.steps, self.steps.dt);
        let ownership = Ownership::new(mesh, run.grid());
        let mut pgrid = ParticleGrid::new(mesh, block, self.width, self.particle_mass);
        let push = ForwardPush::new(&self.params, dt, self.seed, mesh);
        let mut migrator = Migrator::new(block);
        let mut field = Field::zeros(block.ny, block.nx);
        let mut timers = ParticleTimers::default();
        let snapshots = self.cadence.snapshot_every > 0 || self.cadence.snapshot_dt > 0.0;

        // Step 0: no step taken yet, so the last step size is 0 (as in the PDE's output).
        pgrid.deposit(comm, &particles);
        let at = |step: u64, t: f64, dt: f64| Stamp { t, step, dt };
        if first == 0 {
            out.record(comm, &particles, &pgrid, &mut field, at(0, 0.0, 0.0))?;
        }
        if snapshots && first == 0 {
            out.snapshot(comm, &field, at(0, 0.0, 0.0))?;
        }
        if self.positions_every > 0 && first == 0 {
            out.positions(
                comm,
                &particles,
                &positions_path(run.path(), 0),
                at(0, 0.0, 0.0),
            )?;
        }
        let mut progress = Progress::new(
            comm.is_root(),
            "particles",
            "steps",
            steps as f64,
            self.control.progress_every,
        )
        .starting_at(first as f64);
        let mut t = self.steps.time(first);
        for step in first + 1..=steps {
            if let Some(ck) = checkpoints.as_mut() {
                let taken = step - 1;
                let requests = ck.poll_agreed(taken, taken - first, taken);
                if requests.checkpoint {
                    pgrid.copy_deposit_into(&mut field);
                    let saved = Saved {
                        fields: Vec::new(),
                        small: vec![(
                            PARTICLES_DATASET.into(),
                            super::all_in_id_order(comm, &particles),
                        )],
                    };
                    let state = self.steps.march_state(taken);
                    ck.write_at(taken, PHASE, &field, &state, &[], &saved)
                        .map_err(CommandError::Runtime)?;
                    if requests.stop {
                        return Err(CommandError::Requeue(ck.stopped_message()));
                    }
                }
            }
            let clock = Instant::now();
            pgrid.smooth(comm);
            let smoothed = Instant::now();
            push.push(&pgrid, &mut particles, step);
            let pushed = Instant::now();
            let report =
                migrator.migrate(comm, &mut particles, |p: &Particle| ownership.coords(p.pos));
            let migrated = Instant::now();
            pgrid.deposit(comm, &particles);
            let deposited = Instant::now();
            timers.smooth += smoothed - clock;
            timers.push += pushed - smoothed;
            timers.migrate += migrated - pushed;
            timers.deposit += deposited - migrated;
            out.migrated += report.sent;
            out.rounds += u64::from(report.rounds);

            let before = t;
            t = self.steps.time(step);
            let done = step == steps;
            if step.is_multiple_of(self.control.diagnostics_every) || done {
                out.record(comm, &particles, &pgrid, &mut field, at(step, t, dt))?;
            }
            if self.cadence.snapshot_due(before, t, step) {
                pgrid.copy_deposit_into(&mut field);
                out.snapshot(comm, &field, at(step, t, dt))?;
            }
            if self.positions_every > 0 && step.is_multiple_of(self.positions_every) {
                let path = positions_path(run.path(), step);
                out.positions(comm, &particles, &path, at(step, t, dt))?;
            }
            timers.output += deposited.elapsed();
            let line = || format!("t = {t:.6e}");
            if done {
                progress.report(step as f64, line);
            } else {
                progress.tick(step as f64, line);
            }
        }

        pgrid.copy_deposit_into(&mut field);
        let end = at(steps, t, dt);
        run.write_field(comm, "final.h5", &field, end)
            .map_err(CommandError::Runtime)?;
        out.positions(comm, &particles, &run.join("positions.h5"), end)?;
        let max_local = comm.max(particles.len() as f64);
        if comm.is_root() {
            self.log_done(
                &timers,
                out.start.elapsed(),
                particles.len(),
                max_local,
                comm.size(),
                t,
            );
        }
        Ok(())
    }

    /// The closing log lines (rank 0).
    fn log_done(
        &self,
        timers: &ParticleTimers,
        wall: Duration,
        local: usize,
        max_local: f64,
        ranks: usize,
        t: f64,
    ) {
        let (count, steps) = (self.count as f64, self.steps.steps);
        let wall = wall.as_secs_f64().max(1e-12);
        let core = (timers.push + timers.deposit).as_secs_f64().max(1e-12);
        let total = timers.total().as_secs_f64().max(1e-12);
        let share = |d: Duration| 100.0 * d.as_secs_f64() / total;
        log::info!(
            "done: {steps} steps to t = {t:.6e} in {}: {:.3e} particle-steps/s overall, \
             {:.3e} per rank in push + deposit (rank 0); final imbalance {:.3}",
            format_duration(wall),
            count * steps as f64 / wall,
            local as f64 * steps as f64 / core,
            max_local * ranks as f64 / count,
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
            self.run.path().display()
        );
    }
}

/// `positions/pos_<step>.h5` in the run directory `dir`.
fn positions_path(dir: &Path, step: u64) -> PathBuf {
    dir.join(POSITIONS_DIR)
        .join(crate::io::step_file("pos_", step))
}

/// The outputs of a particle run and the counters between diagnostics rows.
struct Outputs<'a> {
    march: &'a ParticleMarch<'a>,
    csv: Option<CsvWriter>,
    expected_fingerprint: u64,
    snapshots: SnapshotWriter,
    /// Particles sent to another rank since the last row (this rank).
    migrated: u64,
    /// Exchange rounds since the last row.
    rounds: u64,
    start: Instant,
}

impl Outputs<'_> {
    /// One diagnostics row (collective); checks count, id set and exact mass.
    fn record(
        &mut self,
        comm: &Comm,
        particles: &[Particle],
        pgrid: &ParticleGrid,
        field: &mut Field,
        at: Stamp,
    ) -> Result<(), CommandError> {
        let m = self.march;
        let (mesh, block) = (m.run.mesh(), m.run.block());
        pgrid.copy_deposit_into(field);
        let d = Diagnostics::compute(comm, &m.diagnostics, mesh, block, field);
        let r0 = m.diagnostics.condensate_ball.map_or(0.0, |(r0, _)| r0);
        let in_ball = particles
            .iter()
            .filter(|p| p.pos[0] * p.pos[0] + p.pos[1] * p.pos[1] < r0 * r0)
            .count() as u64;
        // Exact integer sums (wrapping u64 arithmetic is associative).
        let sums = comm.sum_u64_wrapping(&[
            particles.len() as u64,
            id_fingerprint(particles),
            pgrid.owned_units() as u64,
            in_ball,
            self.migrated,
        ]);
        let max_local = comm.max(particles.len() as f64);
        let rounds = self.rounds;
        self.migrated = 0;
        self.rounds = 0;
        let total = sums[0];
        let units_defect =
            (sums[2] as i64).wrapping_sub((m.count as i64).wrapping_mul(UNITS_PER_PARTICLE));
        let condensate = m
            .diagnostics
            .condensate_ball
            .map(|(_, inner)| sums[3] as f64 * m.particle_mass - inner);
        let imbalance = max_local * comm.size() as f64 / m.count as f64;
        if let Some(csv) = &mut self.csv {
            let wall = self.start.elapsed().as_secs_f64();
            let mut row = d.csv_row(at.step, at.t, at.dt, wall, None, None);
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
                comm.abort(1);
            }
        }
        let step = at.step;
        if total != m.count || sums[1] != self.expected_fingerprint {
            return Err(CommandError::Runtime(format!(
                "particles lost or duplicated at step {step}: {total} present of {} \
                 (id fingerprint {:#x}, expected {:#x})",
                m.count, sums[1], self.expected_fingerprint
            )));
        }
        if units_defect != 0 {
            return Err(CommandError::Runtime(format!(
                "deposit holds {units_defect} units more than N_p 2^32 at step {step}"
            )));
        }
        if !d.finite {
            return Err(CommandError::Runtime(format!(
                "non-finite density at step {step} (t = {:e})",
                at.t
            )));
        }
        Ok(())
    }

    /// The deposited density as a snapshot (collective).
    fn snapshot(&mut self, comm: &Comm, field: &Field, at: Stamp) -> Result<(), CommandError> {
        self.snapshots
            .write(comm, self.march.run, field, at)
            .map_err(CommandError::Runtime)
    }

    /// Positions of every particle in id order (collective).
    fn positions(
        &self,
        comm: &Comm,
        particles: &[Particle],
        path: &Path,
        at: Stamp,
    ) -> Result<(), CommandError> {
        let m = self.march;
        if let Some(parent) = path.parent() {
            comm.on_root(|| {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))
            })
            .map_err(CommandError::Runtime)?;
        }
        let meta = PositionsMeta {
            t: at.t,
            step: at.step,
            dt: at.dt,
            count: m.count,
            dim: m.run.mesh().dim,
            seed: m.seed,
            particle_mass: m.particle_mass,
            config: m.run.config().to_string(),
        };
        write_positions(comm, path, particles, &meta).map_err(CommandError::Runtime)
    }
}
