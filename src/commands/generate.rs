//! `nlfp generate CONFIG [--out DIR] [--overwrite]`: the generative model end to end.
//!
//! 1. Forward from the data `f0` to `T = time.t_end`, recording every state in the trajectory
//!    store of `reverse.store` (and the exact step sizes).
//! 2. The start state of `reverse.start` (by default the data-independent asymptotic state of
//!    the same mass).
//! 3. The reverse sweep back to `t = 0` (`reverse.method = "exact"`: the exact discrete time
//!    reversal of every forward step), carrying `reverse.samples` particles drawn from the start
//!    state along with the reverse grid random walk ([`crate::sampling::walk`]; exact in law
//!    for `euler` and `ssprk2`, first order for `implicit`) and/or the reverse SDE particle
//!    sampler ([`crate::particles::reverse`]; continuous space, weak error `O(ds + h)`), as
//!    `reverse.sampler` says (`walk`, `sde`, `both`).
//! 4. The samples (the walk's jittered inside their cells); their quality against fresh
//!    samples of `f0`, both samplers against the same reference sets
//!    ([`super::generate_output`]); the pictures.
//!
//! Writes into the output directory: `config.toml`, `data.h5` (`f0`), `terminal.h5` (`f(T)`),
//! `start.h5` (`u(T)`), `reconstruction.h5` (`u(0)`), `forward.csv` (forward diagnostics, the
//! columns of `nlfp forward`), `reverse.csv` (per reverse step: mass, min, max,
//! `||u - f(t)||_1`, `sup |w - 1|`), `samples.h5` (dataset `samples`, `[N, dim]`) and
//! `samples.csv` (`x` or `x,y` per line), `samples_sde.h5` / `samples_sde.csv` (the SDE
//! sampler's, in particle-id order), `generate.png` (data, condensed state and
//! reconstruction side by side), `samples.png` (scatter in 2D, histogram in 1D),
//! `summary.toml` (start and reconstruction errors, sample quality and its noise floor,
//! timings, store memory). Results are bit-identical for any rank count (explicit steppers;
//! the samples also for `implicit`, given the same reverse inputs).
//!
//! A generate run is one job: it has no checkpoints (a reverse needs the whole forward history,
//! which the `disk` store keeps only as scratch); rerun it from the start after an interruption.

use std::path::{Path, PathBuf};

use super::generate_output::{self as output, PictureFields, Quality, PICTURE_CELLS};
use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::config::{ReverseMethodName, SamplerName, StartName, StoreName};
use crate::diagnostics::{Diagnostics, DiagnosticsSetup};
use crate::field::Field;
use crate::io::csv::CsvWriter;
use crate::io::hdf5::{write_field, FieldMeta};
use crate::particles::reverse::{ReverseSde, SdeReport, SdeSettings};
use crate::sampling::walk::{build_walk, WalkReport};
use crate::sampling::{self, Purpose};
use crate::scheme::FaceCoefficients;
use crate::sweep::forward::{
    format_duration, ForwardMarch, MarchControl, MarchError, MarchState, OutputCadence,
};
use crate::sweep::reverse::{
    asymptotic_state, perturb, NoObserver, ReverseMarch, ReverseMethod, ReverseObserver, StartKind,
    REVERSE_HEADER,
};
use crate::sweep::score::ScoreReverse;
use crate::sweep::trajectory::TrajectoryRecorder;
use crate::sweep::trajectory::{DiskStore, MemoryStore, RecomputeStore, TrajectoryStore};
use crate::time::reverse::{build_reverse, StepRates};

/// Files a generate run writes; a directory holding any of them is not reused without
/// `--overwrite`.
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

/// What a generate run measured (also written to `summary.toml`).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Forward steps.
    pub steps: u64,
    /// `T`.
    pub t_end: f64,
    /// `||u(T) - f(T)||_1`.
    pub start_error: f64,
    /// `||u(0) - f0||_1`.
    pub reconstruction_error: f64,
    /// Forward wall seconds (recording included).
    pub forward_seconds: f64,
    /// Reverse wall seconds (store reads and recomputation included).
    pub reverse_seconds: f64,
    /// Reverse seconds spent reading the store.
    pub store_seconds: f64,
    /// Peak store memory on rank 0, bytes.
    pub store_peak_bytes: usize,
    /// Forward steps recomputed by the store.
    pub recomputed_steps: u64,
    /// Generated samples.
    pub samples: u64,
    /// What the reverse walk did (with samples).
    pub walk: Option<WalkReport>,
    /// The walk's sample quality against fresh samples of `f0` (with samples and the walk).
    pub quality: Option<Quality>,
    /// `reverse.sampler`.
    pub sampler: SamplerName,
    /// What the SDE sampler did (with samples and the SDE sampler).
    pub sde: Option<SdeReport>,
    /// The SDE sampler's sample quality against the same references as the walk's.
    pub sde_quality: Option<Quality>,
}

/// Runs the command.
pub fn run(
    comm: &Comm,
    args: &RunArgs,
    out: Option<PathBuf>,
    overwrite: bool,
) -> Result<(), CommandError> {
    let setup = RunSetup::load(comm, args)?;
    let dir = out.unwrap_or_else(|| setup.config.output.dir.clone());
    execute(comm, &setup, &dir, overwrite).map(|_| ())
}

/// The whole pipeline for a built setup, writing into `dir`; returns what it measured.
pub fn execute(
    comm: &Comm,
    setup: &RunSetup,
    dir: &Path,
    overwrite: bool,
) -> Result<Summary, CommandError> {
    let dir = dir.to_path_buf();
    let prepared = if comm.is_root() {
        super::prepare_output_dir(&dir, &OUTPUT_FILES, overwrite, "", &[], &[]).map(|_| Vec::new())
    } else {
        Ok(Vec::new())
    };
    comm.broadcast_result(prepared)
        .map_err(CommandError::Input)?;
    let config_text = setup.config.to_toml();
    let io_mode = setup.io_mode();
    let write = |name: &str, f: &Field, t: f64, step: u64, dt: f64| {
        write_field(
            comm,
            &dir.join(name),
            &setup.mesh,
            setup.grid,
            &setup.block,
            f,
            &FieldMeta {
                t,
                step,
                dt,
                config: config_text.clone(),
            },
            io_mode,
        )
        .map_err(CommandError::Runtime)
    };
    let csv = |name: &str, header: &[&str]| -> Result<Option<CsvWriter>, CommandError> {
        if !comm.is_root() {
            return Ok(None);
        }
        CsvWriter::create(&dir.join(name), header)
            .map(Some)
            .map_err(CommandError::Fatal)
    };
    if comm.is_root() {
        std::fs::write(dir.join("config.toml"), &config_text).map_err(|e| {
            CommandError::Fatal(format!("{}: {e}", dir.join("config.toml").display()))
        })?;
        log::info!(
            "generate: {}, {} / {}, T = {}, start {}, store {}",
            setup.run_line(),
            setup.scheme.name(),
            setup.stepper.name(),
            setup.config.time.t_end,
            setup.config.reverse.start.name(),
            setup.config.reverse.store.name(),
        );
    }

    // 1. Forward, recording the trajectory.
    let mut f = setup.initial_field()?;
    write("data.h5", &f, 0.0, 0, 0.0)?;
    // The data again after the forward, for the sample report and the pictures (if any).
    let draw_pictures = setup.mesh.cells() <= PICTURE_CELLS;
    let f0 = (setup.config.reverse.samples > 0 || draw_pictures).then(|| f.clone());
    let mut store = build_store(comm, setup, &dir)?;
    let diagnostics = DiagnosticsSetup::new(setup.params, &setup.mesh, setup.mass);
    let mut march = ForwardMarch {
        comm,
        mesh: &setup.mesh,
        block: &setup.block,
        diagnostics: &diagnostics,
        csv: csv("forward.csv", &Diagnostics::HEADER)?,
    };
    let control = MarchControl {
        t_end: setup.config.time.t_end,
        max_steps: setup.config.time.max_steps,
        diagnostics_every: setup.config.output.diagnostics_every,
        progress_every: setup.config.output.progress_every,
    };
    let mut state = MarchState::start();
    let mut stepper = setup.stepper();
    let mut sink = TrajectoryRecorder {
        comm,
        store: store.as_mut(),
    };
    let forward = march
        .run(
            stepper.as_mut(),
            &mut f,
            &mut state,
            control,
            OutputCadence {
                snapshot_every: 0,
                snapshot_dt: 0.0,
                checkpoint_every: 0,
            },
            &mut sink,
        )
        .map_err(|e| match e {
            MarchError::Global(msg) => CommandError::Runtime(msg),
            MarchError::Local(msg) => CommandError::Fatal(msg),
        })?;
    write("terminal.h5", &f, state.t, state.step, state.last_dt())?;

    // 2. The start state.
    let start_kind = match setup.config.reverse.start {
        StartName::Terminal => StartKind::Terminal,
        StartName::Asymptotic => StartKind::Asymptotic,
        StartName::Perturbed => StartKind::Perturbed {
            amplitude: setup.config.reverse.noise,
            seed: setup.config.reverse.seed,
        },
    };
    let mut u = match start_kind {
        StartKind::Terminal => f.clone(),
        StartKind::Asymptotic => {
            asymptotic_state(&setup.params, &setup.mesh, &setup.block, setup.mass)
        }
        StartKind::Perturbed { amplitude, seed } => {
            let mut u = f.clone();
            perturb(&setup.mesh, &setup.block, &mut u, amplitude, seed);
            u
        }
    };
    write("start.h5", &u, state.t, state.step, state.last_dt())?;
    let u_start = draw_pictures.then(|| u.clone());

    // 3. The reverse.
    let mut exact;
    let mut score;
    let method = match setup.config.reverse.method {
        ReverseMethodName::Exact => {
            exact = build_reverse(
                &setup.mesh,
                &setup.block,
                coefficients(setup),
                setup.scheme,
                setup.stepper,
            );
            ReverseMethod::Exact(exact.as_mut())
        }
        ReverseMethodName::Score => {
            score = ScoreReverse::new(
                &setup.mesh,
                &setup.block,
                setup.params.diffusion,
                setup.params.kappa,
                setup.params.gamma,
                setup.config.reverse.lambda,
                setup.control.safety,
            );
            ReverseMethod::Score(&mut score)
        }
    };
    let mut reverse_march = ReverseMarch {
        comm,
        mesh: &setup.mesh,
        block: &setup.block,
        csv: csv("reverse.csv", &REVERSE_HEADER)?,
    };
    let n_samples = setup.config.reverse.samples;
    let sampler = setup.config.reverse.sampler;
    let mut walk = (n_samples > 0 && sampler.walk()).then(|| {
        build_walk(
            &setup.mesh,
            setup.grid,
            &setup.block,
            coefficients(setup),
            setup.scheme,
            setup.stepper,
            n_samples,
            setup.config.reverse.seed,
        )
    });
    let mut sde = (n_samples > 0 && sampler.sde()).then(|| {
        ReverseSde::new(
            &setup.mesh,
            setup.grid,
            &setup.block,
            &setup.params,
            SdeSettings {
                lambda: setup.config.reverse.lambda,
                safety: setup.config.reverse.sde_safety,
                samples: n_samples,
                seed: setup.config.reverse.seed,
            },
        )
    });
    let mut pair;
    let observer: &mut dyn ReverseObserver = match (walk.as_mut(), sde.as_mut()) {
        (Some(w), Some(s)) => {
            pair = Pair(w.observer(), s);
            &mut pair
        }
        (Some(w), None) => w.observer(),
        (None, Some(s)) => s,
        (None, None) => &mut NoObserver,
    };
    let result = reverse_march
        .run(method, store.as_mut(), &state.dt_history, &mut u, observer)
        .map_err(CommandError::Runtime)?;
    write("reconstruction.h5", &u, 0.0, 0, 0.0)?;

    // 4. Samples, their quality, pictures.
    let mut points = Vec::new();
    let mut sde_points = Vec::new();
    let (mut walk_report, mut quality) = (None, None);
    let (mut sde_report, mut sde_quality) = (None, None);
    let references = match &f0 {
        Some(f0) if n_samples > 0 => {
            output::references(comm, setup, f0).map_err(CommandError::Runtime)?
        }
        _ => None,
    };
    if let Some(walk) = &walk {
        let jitter = sampling::stream_seed(setup.config.reverse.seed, Purpose::Jitter);
        let local = sampling::jittered_positions(&setup.mesh, &setup.block, walk.counts(), jitter);
        points = sampling::gather_samples(comm, &local);
        walk_report = Some(walk.report(comm));
        if comm.is_root() {
            if points.len() as u64 != n_samples {
                return Err(CommandError::Fatal(format!(
                    "reverse walk: {} samples at t = 0, expected {n_samples}",
                    points.len()
                )));
            }
            output::write_samples(&dir, "samples", &points, setup, &config_text)
                .map_err(CommandError::Fatal)?;
        }
        quality = references.as_ref().map(|r| r.compare(setup, &points));
    }
    if let Some(sde) = &sde {
        let report = sde.report(comm);
        if !report.ids_intact {
            return Err(CommandError::Fatal(format!(
                "reverse SDE sampler: {} particles at t = 0 (expected {n_samples}) or ids lost \
                 or duplicated",
                report.count
            )));
        }
        sde_points = sde.gather_positions(comm);
        if comm.is_root() {
            output::write_samples(&dir, "samples_sde", &sde_points, setup, &config_text)
                .map_err(CommandError::Fatal)?;
        }
        sde_quality = references.as_ref().map(|r| r.compare(setup, &sde_points));
        sde_report = Some(report);
    }
    let mut pictures = Vec::new();
    if let (Some(u_start), Some(f0)) = (&u_start, &f0) {
        let fields = [f0, &f, u_start, &u].map(|x| output::gather_global(comm, setup, x));
        if let [Some(data), Some(terminal), Some(start), Some(reconstruction)] = fields {
            let fields = PictureFields {
                data,
                terminal,
                start,
                reconstruction,
            };
            match output::pictures(&dir, setup, &fields, &points, &sde_points, state.t) {
                Ok(names) => pictures = names,
                Err(e) => log::warn!("pictures not drawn: {e}"),
            }
        }
    } else if comm.is_root() {
        log::info!(
            "pictures skipped: {} cells > {PICTURE_CELLS} (gathering them on rank 0 is for demo sizes)",
            setup.mesh.cells()
        );
    }
    let summary = Summary {
        steps: state.step,
        t_end: state.t,
        start_error: result.start_error,
        reconstruction_error: result.reconstruction_error,
        forward_seconds: forward.wall.as_secs_f64(),
        reverse_seconds: result.wall.as_secs_f64(),
        store_seconds: result.store_wall.as_secs_f64(),
        store_peak_bytes: store.peak_memory_bytes(),
        recomputed_steps: store.recomputed_steps(),
        samples: n_samples,
        walk: walk_report,
        quality,
        sampler,
        sde: sde_report,
        sde_quality,
    };
    store.finish(comm).map_err(CommandError::Runtime)?;
    if comm.is_root() {
        let text = summary_toml(&summary, start_kind);
        crate::io::replace_file(&dir.join("summary.toml"), text.as_bytes())
            .map_err(CommandError::Fatal)?;
        let ratio = if summary.start_error > 0.0 {
            format!(
                " (ratio {:.3e})",
                summary.reconstruction_error / summary.start_error
            )
        } else {
            String::new()
        };
        log::info!(
            "reverse: {} steps in {} (forward {}); start error ||u(T) - f(T)||_1 = {:.3e}, \
             reconstruction error ||u(0) - f0||_1 = {:.3e}{ratio}",
            summary.steps,
            format_duration(summary.reverse_seconds),
            format_duration(summary.forward_seconds),
            summary.start_error,
            summary.reconstruction_error,
        );
        if let Some(w) = &summary.walk {
            log::info!(
                "walk: {} samples in {} ({} sub-steps{})",
                summary.samples,
                format_duration(w.wall.as_secs_f64()),
                w.substeps,
                if w.stuck > 0 {
                    format!(", {} particle-steps stuck", w.stuck)
                } else {
                    String::new()
                },
            );
        }
        if let Some(r) = &summary.sde {
            log::info!(
                "sde: {} particles in {} ({} sub-steps, at most {} per step{}{}; push {}, \
                 migration {}; {:.3e} s per particle-step)",
                summary.samples,
                format_duration(r.wall.as_secs_f64()),
                r.substeps,
                r.max_substeps,
                if r.capped > 0 {
                    format!(", {} steps capped", r.capped)
                } else {
                    String::new()
                },
                if r.tamed > 0 {
                    format!(", {} drift steps clipped", r.tamed)
                } else {
                    String::new()
                },
                format_duration(r.push_wall.as_secs_f64()),
                format_duration(r.migrate_wall.as_secs_f64()),
                r.wall.as_secs_f64() / (r.particle_steps.max(1)) as f64,
            );
        }
        if let Some(q) = summary.quality.as_ref().or(summary.sde_quality.as_ref()) {
            let mut values = Vec::new();
            if let Some(w) = &summary.quality {
                values.push(format!("walk {:.3e}", w.value));
            }
            if let Some(s) = &summary.sde_quality {
                values.push(format!("sde {:.3e}", s.value));
            }
            log::info!(
                "sample quality, {} to fresh f0 samples: {}; noise floor {:.3e} measured / \
                 {:.3e} expected ({} points per set)",
                q.metric,
                values.join(", "),
                q.floor,
                q.expected_floor,
                q.points,
            );
        }
        let mut files = vec![
            "data.h5",
            "terminal.h5",
            "start.h5",
            "reconstruction.h5",
            "forward.csv",
            "reverse.csv",
        ];
        if summary.walk.is_some() {
            files.extend(["samples.h5", "samples.csv"]);
        }
        if summary.sde.is_some() {
            files.extend(["samples_sde.h5", "samples_sde.csv"]);
        }
        files.extend(pictures.iter().copied());
        files.push("summary.toml");
        log::info!("results in {}: {}", dir.display(), files.join(", "));
    }
    Ok(summary)
}

fn coefficients(setup: &RunSetup) -> FaceCoefficients {
    FaceCoefficients {
        diffusion: setup.params.diffusion,
        kappa: setup.params.kappa,
        gamma: setup.params.gamma,
        h: setup.mesh.h,
    }
}

/// The trajectory store of `reverse.store`.
fn build_store(
    comm: &Comm,
    setup: &RunSetup,
    dir: &Path,
) -> Result<Box<dyn TrajectoryStore>, CommandError> {
    Ok(match setup.config.reverse.store {
        StoreName::Memory => Box::new(MemoryStore::new()),
        StoreName::Disk => Box::new(
            DiskStore::create(comm, &dir.join("trajectory.h5"), &setup.mesh, &setup.block)
                .map_err(CommandError::Runtime)?,
        ),
        StoreName::Recompute => Box::new(RecomputeStore::new(
            setup.stepper(),
            setup.config.reverse.recompute_every,
            &setup.block,
        )),
    })
}

fn summary_toml(s: &Summary, start: StartKind) -> String {
    let mut text = format!(
        "# nlfp generate: what the run measured\n\
         start = \"{}\"\n\
         steps = {}\n\
         t_end = {:e}\n\
         start_error_l1 = {:e}\n\
         reconstruction_error_l1 = {:e}\n\
         forward_seconds = {:.6}\n\
         reverse_seconds = {:.6}\n\
         store_seconds = {:.6}\n\
         store_peak_bytes = {}\n\
         recomputed_steps = {}\n",
        start.name(),
        s.steps,
        s.t_end,
        s.start_error,
        s.reconstruction_error,
        s.forward_seconds,
        s.reverse_seconds,
        s.store_seconds,
        s.store_peak_bytes,
        s.recomputed_steps,
    );
    text += &format!(
        "samples = {}\nsampler = \"{}\"\n",
        s.samples,
        s.sampler.name()
    );
    if let Some(w) = &s.walk {
        text += &format!(
            "walk_seconds = {:.6}\nwalk_substeps = {}\nwalk_stuck = {}\n",
            w.wall.as_secs_f64(),
            w.substeps,
            w.stuck
        );
    }
    if let Some(r) = &s.sde {
        text += &format!(
            "# sde_count: SDE particles present at t = 0; sde_ids_intact: their ids are exactly 0..N\n\
             sde_count = {}\nsde_ids_intact = {}\n\
             sde_seconds = {:.6}\nsde_push_seconds = {:.6}\nsde_migrate_seconds = {:.6}\n\
             sde_substeps = {}\nsde_max_substeps = {}\nsde_capped_steps = {}\n\
             sde_tamed = {}\nsde_particle_steps = {}\nsde_seconds_per_particle_step = {:e}\n",
            r.count,
            r.ids_intact,
            r.wall.as_secs_f64(),
            r.push_wall.as_secs_f64(),
            r.migrate_wall.as_secs_f64(),
            r.substeps,
            r.max_substeps,
            r.capped,
            r.tamed,
            r.particle_steps,
            r.wall.as_secs_f64() / r.particle_steps.max(1) as f64,
        );
    }
    if let Some(q) = s.quality.as_ref().or(s.sde_quality.as_ref()) {
        text += &format!(
            "# {m}: the walk's samples against fresh samples of f0; sde_{m}: the SDE sampler's\n\
             # against the same set; {m}_floor: two fresh f0 sets of the same size (the sampling\n\
             # noise); {m}_expected_floor: its expectation\n\
             metric_points = {}\n{m}_floor = {:e}\n{m}_expected_floor = {:e}\n",
            q.points,
            q.floor,
            q.expected_floor,
            m = q.metric,
        );
    }
    if let Some(q) = &s.quality {
        text += &format!("{} = {:e}\n", q.metric, q.value);
    }
    if let Some(q) = &s.sde_quality {
        text += &format!("sde_{} = {:e}\n", q.metric, q.value);
    }
    text
}

/// Two observers of one reverse march (the grid walk and the SDE sampler), called in order.
struct Pair<'a>(&'a mut dyn ReverseObserver, &'a mut dyn ReverseObserver);

impl ReverseObserver for Pair<'_> {
    fn start(&mut self, comm: &Comm, f_end: &mut Field, u_start: &Field) -> Result<(), String> {
        self.0.start(comm, f_end, u_start)?;
        self.1.start(comm, f_end, u_start)
    }

    fn step(
        &mut self,
        comm: &Comm,
        n: u64,
        dt: f64,
        f_before: &mut Field,
        f_after: &mut Field,
        u: &Field,
        rates: Option<StepRates<'_>>,
    ) -> Result<(), String> {
        self.0.step(comm, n, dt, f_before, f_after, u, rates)?;
        self.1.step(comm, n, dt, f_before, f_after, u, rates)
    }
}
