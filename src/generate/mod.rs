//! The generative model end to end (`nlfp generate`, and every probe of `nlfp compare`): the
//! pipeline of [`crate::sweep::pipeline`] with the samplers of [`crate::samplers`], and the
//! files of a generate run; the horizon search of `nlfp compare` ([`compare`]).
//!
//! 1. Forward from the data `f0` to `T`, recording every state in the trajectory store (and the
//!    exact step sizes).
//! 2. The start state (by default the data-independent asymptotic state of the same mass).
//! 3. The reverse sweep back to `t = 0` (`exact`: the exact discrete time reversal of every
//!    forward step), carrying the samples along with the reverse grid random walk (exact in law
//!    for `euler` and `ssprk2`, first order for `implicit`) and/or the reverse SDE particle
//!    sampler (continuous space, weak error `O(ds + h)`).
//! 4. The samples (the walk's jittered inside their cells); their quality against fresh
//!    samples of `f0`, both samplers against the same reference sets, and, when the data are
//!    points with some held out, against the held-out and the training points
//!    ([`crate::samplers::quality`]); the pictures ([`pictures`]); the summary ([`summary`]).
//!
//! In 3D (`grid.dim = 3`) the same pipeline runs with the exact reversal of `euler` / `ssprk2`
//! or the score method, and the grid walk (the config refuses the SDE sampler there); the
//! pictures show the x-y marginals.
//!
//! Writes into the run directory: `config.toml`, `data.h5` (`f0`), `terminal.h5` (`f(T)`),
//! `start.h5` (`u(T)`), `reconstruction.h5` (`u(0)`), `forward.csv` (forward diagnostics, the
//! columns of `nlfp forward`), `reverse.csv` (per reverse step: mass, min, max,
//! `||u - f(t)||_1`, `sup |w - 1|`), `samples.h5` (dataset `samples`, `[N, dim]`) and
//! `samples.csv` (`x`, `x,y` or `x,y,z` per line), `samples_sde.h5` / `samples_sde.csv` (the SDE
//! sampler's, in particle-id order), `generate.png`, `samples.png` and `summary.toml`. Results
//! are bit-identical for any rank count (explicit steppers; the samples also for `implicit`,
//! given the same reverse inputs).
//!
//! # Checkpoints ([`GenerateCheckpoints`])
//!
//! `nlfp generate` checkpoints (job `generate`) in both phases, at `checkpoint.every_steps`,
//! every `checkpoint.every_seconds` and on SIGUSR1/SIGTERM (SIGTERM: exit 75):
//!
//! * phase `forward`: the forward state, march state and stepper state, and what the
//!   trajectory store needs to go on: `memory` spills every recorded state into the checkpoint
//!   (large: `nlfp check` prints the size), `recompute` its kept states and the last one,
//!   `disk` nothing (its scratch file `trajectory.h5` is kept, and checked on restart);
//! * phase `reverse`: `u` (the checkpoint's `f`), `w`, `f^n`, the reverse step `n`, the rows
//!   and counters so far, `f(T)`, the states the store still needs, and the samplers' state
//!   (the walk's occupation numbers; the SDE sampler's particles in id order and counters).
//!
//! Every random number is keyed by global indices and the step, so `--restart auto` on any
//! rank count continues bit for bit (explicit steppers): `reconstruction.h5`, `samples.*` and
//! the columns of `reverse.csv` but `wall_seconds` equal an uninterrupted run's.

pub mod compare;
pub mod pictures;
pub mod summary;

use crate::comm::gather::global_on_root;
use crate::diagnostics::Diagnostics;
use crate::error::CommandError;
use crate::field::Field;
use crate::io::checkpoint::{JobKind, Loaded};
use crate::io::csv::CsvWriter;
use crate::io::run_dir::{DirRules, RunDir, Stamp};
use crate::io::samples::{self, SamplesMeta};
use crate::progress::ReverseProgress;
use crate::samplers::quality::{HeldOut, References};
use crate::samplers::{Generated, SamplerSettings, Samplers};
use crate::signals::SignalFlags;
use crate::sweep::checkpointer::{CheckpointPolicy, Checkpointer};
use crate::sweep::forward::MarchEnd;
use crate::sweep::pipeline::{Pipeline, Recorded, ReversePhase, PHASE_REVERSE};
use crate::sweep::reverse::{ReverseKind, ReverseMarch, ReverseState, REVERSE_HEADER};
use crate::sweep::start::Start;
use crate::sweep::trajectory::StoreKind;
use crate::time::Requests;
use pictures::{PictureFields, PICTURE_CELLS};
use summary::Summary;

/// Files a generate run writes; a directory holding any of them is not reused without
/// `--overwrite` or `--restart`.
pub const OUTPUT_FILES: [&str; 15] = [
    "config.toml",
    "data.h5",
    "terminal.h5",
    "start.h5",
    "reconstruction.h5",
    "forward.csv",
    "reverse.csv",
    "summary.toml",
    "trajectory.h5",
    "samples.h5",
    "samples.csv",
    "samples_sde.h5",
    "samples_sde.csv",
    "generate.png",
    "samples.png",
];

/// The scratch file of the `disk` trajectory store, in the run directory.
pub const SCRATCH: &str = "trajectory.h5";

/// What a generate run is asked to do besides the pipeline's run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GenerateSettings {
    /// The start state of the reverse.
    pub start: Start,
    /// How the reverse steps are taken.
    pub method: ReverseKind,
    /// Stabilisation `lambda` of the score method.
    pub lambda: f64,
    /// Where the forward states wait for the reverse.
    pub store: StoreKind,
    /// `K` of the recompute store (0 = automatic).
    pub recompute_every: u64,
    /// The samplers.
    pub samplers: SamplerSettings,
}

impl GenerateSettings {
    /// Bytes of data in a checkpoint of a generate run of `steps` forward steps on `cells`
    /// cells, at its largest in the forward phase (the last forward checkpoint) and in the
    /// reverse phase (its first checkpoint): the fields, the step sizes, the store's states
    /// ([`StoreKind::checkpoint_estimate`]), the reverse rows and the samplers' state.
    pub fn checkpoint_bytes(&self, cells: usize, steps: f64) -> [usize; 2] {
        let state = 8 * cells;
        let store = self
            .store
            .checkpoint_estimate(steps, state, self.recompute_every);
        let history = (8.0 * steps) as usize;
        let samplers = self.samplers.samples as usize;
        let walk = if self.samplers.kind.walk() { state } else { 0 };
        let sde = if self.samplers.kind.sde() {
            24 * samplers
        } else {
            0
        };
        let forward = state + history + store;
        let reverse = 4 * state + history + (56.0 * steps) as usize + store + walk + sde;
        [forward, reverse]
    }
}

/// The checkpoints of a generate run (`nlfp generate`; none for the probes of `compare`).
pub struct GenerateCheckpoints<'a> {
    /// Where and when.
    pub policy: CheckpointPolicy,
    /// The physics fingerprint.
    pub physics: String,
    /// Signal flags (installed once per process).
    pub signals: &'a SignalFlags,
    /// `--restart auto|PATH`, if given.
    pub restart: Option<String>,
}

/// The step `n` a reverse checkpoint stands at.
fn reverse_step(loaded: &Loaded) -> Result<u64, String> {
    match loaded.small("reverse")? {
        [n, ..] => Ok(*n as u64),
        _ => Err(format!(
            "{}: dataset reverse is empty",
            loaded.path.display()
        )),
    }
}

/// The end of a run stopped on request (exit code 75).
fn stopped(checkpointer: &Option<Checkpointer>) -> CommandError {
    CommandError::Requeue(
        checkpointer
            .as_ref()
            .map_or_else(|| "stopped on request".into(), |c| c.stopped_message()),
    )
}

/// A generate run, ready to go.
pub struct GenerateRun<'a> {
    /// The pipeline (its forward march writes `forward.csv` at the run's cadences).
    pub pipeline: Pipeline<'a>,
    /// What to do.
    pub settings: GenerateSettings,
    /// The first log line.
    pub title: String,
    /// Checkpoints and restart (`None`: neither).
    pub checkpoints: Option<GenerateCheckpoints<'a>>,
    /// The data's training and held-out points, when some are held out (the sample report
    /// compares the samples with them).
    pub heldout: Option<HeldOut>,
}

impl GenerateRun<'_> {
    /// Prepares `run` (refusing to replace results without `replace`), writes `config.toml`,
    /// runs the whole pipeline from the data `f0` (this rank's block), or from the checkpoint
    /// `--restart` selects, and writes every file; returns what it measured. With checkpoints,
    /// a stop request ends it with [`CommandError::Requeue`] after a checkpoint. Collective.
    pub fn execute(&self, run: &RunDir, replace: bool, f0: Field) -> Result<Summary, CommandError> {
        let p = &self.pipeline;
        let comm = p.comm;
        let s = &self.settings;
        let mut checkpointer = self.checkpoints.as_ref().map(|c| {
            let job = JobKind::Generate;
            Checkpointer::new(
                comm,
                run,
                &c.policy,
                job,
                c.physics.clone(),
                p.march.t_end,
                c.signals,
            )
        });
        let request = self.checkpoints.as_ref().and_then(|c| c.restart.clone());
        let mut loaded = match &checkpointer {
            Some(ck) => ck.resume(request.as_deref()).map_err(CommandError::Input)?,
            None => None,
        };
        let replace = replace || request.is_some();
        match &checkpointer {
            Some(ck) => ck.create_run(&OUTPUT_FILES, &[], loaded.is_some(), replace)?,
            None => {
                let rules = DirRules {
                    results: &OUTPUT_FILES,
                    ..DirRules::default()
                };
                run.create(comm, &rules, replace)?
            }
        }
        if comm.is_root() {
            log::info!("{}", self.title);
        }
        let write = |name: &str, f: &Field, stamp: Stamp| {
            run.write_field(comm, name, f, stamp)
                .map_err(CommandError::Runtime)
        };
        let input = |e: String| CommandError::Input(format!("restart: {e}"));

        // 1. Forward, recording the trajectory (or the recorded run of a reverse checkpoint).
        write("data.h5", &f0, Stamp::default())?;
        let draw_pictures = p.mesh().cells() <= PICTURE_CELLS;
        // The data again after the forward, for the sample report and the pictures (if any).
        let data = (s.samplers.samples > 0 || draw_pictures).then(|| f0.clone());
        let replay = || p.forward_stepper();
        let store = s
            .store
            .build(
                comm,
                p.layout,
                &run.join(SCRATCH),
                s.recompute_every,
                &replay,
                loaded.is_some(),
            )
            .map_err(CommandError::Runtime)?;
        let reverse_at = match &loaded {
            Some(l) if l.state.phase == PHASE_REVERSE => Some(reverse_step(l).map_err(input)?),
            _ => None,
        };
        let (mut recorded, forward_seconds) = match (reverse_at, loaded.as_mut()) {
            (Some(n), Some(l)) => (Recorded::resume(comm, l, store, n).map_err(input)?, 0.0),
            (_, l) => {
                let mut forward = match l {
                    Some(l) => p.resume_forward(l, store).map_err(input)?,
                    None => p.forward(f0, store),
                };
                let header = &Diagnostics::HEADER;
                let csv = match comm.is_root() {
                    true if forward.state.step > 0 => {
                        let path = run.join("forward.csv");
                        Some(CsvWriter::resume(&path, header, forward.state.step))
                            .transpose()
                            .map_err(CommandError::Fatal)?
                    }
                    _ => run
                        .csv(comm, "forward.csv", header)
                        .map_err(CommandError::Fatal)?,
                };
                let march = forward.run_checkpointed(p, csv, checkpointer.as_mut())?;
                if march.end == MarchEnd::Stopped {
                    return Err(stopped(&checkpointer));
                }
                (forward.finish(), march.wall.as_secs_f64())
            }
        };
        let end = Stamp::from(&recorded.state);
        write("terminal.h5", &recorded.f_end, end)?;

        // 2. The start state.
        let u = recorded.start_state(p, s.start);
        write("start.h5", &u, end)?;
        let u_start = draw_pictures.then(|| u.clone());

        // 3. The reverse, carrying the samples.
        let mut samplers = Samplers::new(p, s.samplers);
        let method = p.method(s.method, s.lambda, p.control.safety, None);
        let mut reverse = match (reverse_at, loaded.as_mut()) {
            (Some(_), Some(l)) => {
                let state = ReverseState::resume(l).map_err(input)?;
                samplers.restore(comm, l, &state.f).map_err(input)?;
                let n = state.step;
                let csv = match comm.is_root() {
                    true => Some(CsvWriter::resume_keeping(
                        &run.join("reverse.csv"),
                        &REVERSE_HEADER,
                        &|step| step >= n,
                    ))
                    .transpose()
                    .map_err(CommandError::Fatal)?,
                    false => None,
                };
                let (mesh, block) = (p.mesh(), p.block());
                let march = ReverseMarch {
                    comm,
                    mesh,
                    block,
                    csv,
                    method,
                    progress: ReverseProgress::new(
                        comm.is_root(),
                        "reverse",
                        p.march.progress_every,
                    ),
                };
                ReversePhase { march, state }
            }
            _ => {
                let reverse_csv = run
                    .csv(comm, "reverse.csv", &REVERSE_HEADER)
                    .map_err(CommandError::Fatal)?;
                recorded
                    .reverse(p, method, u, reverse_csv, &mut samplers.observers())
                    .map_err(CommandError::Runtime)?
            }
        };
        drop(loaded);
        let total = recorded.state.step;
        let mut last_checkpoint = reverse_at;
        let mut requests = Requests::default();
        loop {
            let done = match checkpointer.as_mut() {
                Some(ck) => reverse.run_until(&mut recorded, &mut samplers.observers(), &mut |n| {
                    if last_checkpoint == Some(n) {
                        return false;
                    }
                    requests = ck.poll_agreed(n, total - n, 2 * total - n);
                    requests.checkpoint
                }),
                None => reverse
                    .run(&mut recorded, &mut samplers.observers())
                    .map(|_| true),
            }
            .map_err(CommandError::Runtime)?;
            let Some(ck) = checkpointer.as_mut().filter(|_| !done) else {
                break;
            };
            let mut saved = reverse.save(p, &recorded);
            saved.extend(samplers.save(comm));
            let seq = 2 * total - reverse.state.step;
            ck.write_at(
                seq,
                PHASE_REVERSE,
                &reverse.state.u,
                &recorded.state,
                &[],
                &saved,
            )
            .map_err(CommandError::Runtime)?;
            last_checkpoint = Some(reverse.state.step);
            if requests.stop {
                return Err(stopped(&checkpointer));
            }
        }
        let (u, result) = reverse.finish();
        write("reconstruction.h5", &u, Stamp::default())?;

        // 4. Samples, their quality, pictures.
        let n = s.samplers.samples;
        let references = match &data {
            Some(f0) if n > 0 => References::draw(comm, p.layout, f0, n, s.samplers.seed)
                .map_err(CommandError::Runtime)?
                .map(|r| r.with_heldout(self.heldout.clone())),
            _ => None,
        };
        let generated = samplers.finish(comm, p.mesh(), p.block())?;
        if comm.is_root() {
            self.write_samples(run, &generated)
                .map_err(CommandError::Fatal)?;
        }
        let mut pictures = Vec::new();
        if let (Some(u_start), Some(f0)) = (&u_start, &data) {
            let fields =
                [f0, &recorded.f_end, u_start, &u].map(|x| global_on_root(comm, p.layout, x));
            if let [Some(data), Some(terminal), Some(start), Some(reconstruction)] = fields {
                let fields = PictureFields::new(p.mesh(), data, terminal, start, reconstruction);
                match pictures::draw(run.path(), p.mesh(), &fields, &generated, recorded.state.t) {
                    Ok(names) => pictures = names,
                    Err(e) => log::warn!("pictures not drawn: {e}"),
                }
            }
        } else if comm.is_root() {
            log::info!(
                "pictures skipped: {} cells > {PICTURE_CELLS} (gathering them on rank 0 is for demo sizes)",
                p.mesh().cells()
            );
        }
        let summary = Summary::new(
            s,
            &recorded,
            forward_seconds,
            &result,
            generated,
            references.as_ref(),
        );
        recorded.finish(comm).map_err(CommandError::Runtime)?;
        if comm.is_root() {
            crate::io::replace_file(&run.join("summary.toml"), summary.to_toml().as_bytes())
                .map_err(CommandError::Fatal)?;
            summary.log(run.path(), &pictures);
        }
        Ok(summary)
    }

    /// `samples.h5` / `samples.csv` (walk) and `samples_sde.h5` / `samples_sde.csv` (rank 0).
    fn write_samples(&self, run: &RunDir, generated: &Generated) -> Result<(), String> {
        let sets = [
            ("samples", &generated.walk.as_ref().map(|w| &w.0)),
            ("samples_sde", &generated.sde.as_ref().map(|s| &s.0)),
        ];
        for (stem, points) in sets {
            if let Some(points) = points {
                write_sample_files(run, stem, points, self.settings.samplers.seed)?;
            }
        }
        Ok(())
    }
}

/// Writes `<stem>.h5` and `<stem>.csv` (rank 0's gathered samples).
fn write_sample_files(
    run: &RunDir,
    stem: &str,
    points: &[crate::stats::Point],
    seed: u64,
) -> Result<(), String> {
    let mesh = run.mesh();
    let meta = SamplesMeta {
        seed,
        h: mesh.h,
        config: run.config().to_string(),
    };
    samples::write_h5(&run.join(format!("{stem}.h5")), points, mesh.dim, &meta)?;
    samples::write_csv(&run.join(format!("{stem}.csv")), points, mesh.dim)
}
