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
//!    samples of `f0`, both samplers against the same reference sets
//!    ([`crate::samplers::quality`]); the pictures ([`pictures`]); the summary ([`summary`]).
//!
//! Writes into the run directory: `config.toml`, `data.h5` (`f0`), `terminal.h5` (`f(T)`),
//! `start.h5` (`u(T)`), `reconstruction.h5` (`u(0)`), `forward.csv` (forward diagnostics, the
//! columns of `nlfp forward`), `reverse.csv` (per reverse step: mass, min, max,
//! `||u - f(t)||_1`, `sup |w - 1|`), `samples.h5` (dataset `samples`, `[N, dim]`) and
//! `samples.csv` (`x` or `x,y` per line), `samples_sde.h5` / `samples_sde.csv` (the SDE
//! sampler's, in particle-id order), `generate.png`, `samples.png` and `summary.toml`. Results
//! are bit-identical for any rank count (explicit steppers; the samples also for `implicit`,
//! given the same reverse inputs).

pub mod compare;
pub mod pictures;
pub mod summary;

use crate::comm::gather::global_on_root;
use crate::decomp::ProcessGrid;
use crate::diagnostics::Diagnostics;
use crate::error::CommandError;
use crate::field::Field;
use crate::io::run_dir::{DirRules, RunDir, Stamp};
use crate::io::samples::{self, SamplesMeta};
use crate::samplers::quality::References;
use crate::samplers::{Generated, SamplerSettings, Samplers};
use crate::sweep::pipeline::Pipeline;
use crate::sweep::reverse::{ReverseKind, REVERSE_HEADER};
use crate::sweep::start::Start;
use crate::sweep::trajectory::StoreKind;
use pictures::{PictureFields, PICTURE_CELLS};
use summary::Summary;

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

/// A generate run, ready to go.
pub struct GenerateRun<'a> {
    /// The pipeline (its forward march writes `forward.csv` at the run's cadences).
    pub pipeline: Pipeline<'a>,
    /// The process grid.
    pub grid: ProcessGrid,
    /// What to do.
    pub settings: GenerateSettings,
    /// The first log line.
    pub title: String,
}

impl GenerateRun<'_> {
    /// Prepares `run` (refusing to replace results without `replace`), writes `config.toml`,
    /// runs the whole pipeline from the data `f0` (this rank's block) and writes every file;
    /// returns what it measured. Collective.
    pub fn execute(&self, run: &RunDir, replace: bool, f0: Field) -> Result<Summary, CommandError> {
        let p = &self.pipeline;
        let comm = p.comm;
        let rules = DirRules {
            results: &OUTPUT_FILES,
            ..DirRules::default()
        };
        run.create(comm, &rules, replace)?;
        if comm.is_root() {
            log::info!("{}", self.title);
        }
        let write = |name: &str, f: &Field, stamp: Stamp| {
            run.write_field(comm, name, f, stamp)
                .map_err(CommandError::Runtime)
        };
        let csv =
            |name: &str, header: &[&str]| run.csv(comm, name, header).map_err(CommandError::Fatal);
        let s = &self.settings;

        // 1. Forward, recording the trajectory.
        write("data.h5", &f0, Stamp::default())?;
        let draw_pictures = p.mesh.cells() <= PICTURE_CELLS;
        // The data again after the forward, for the sample report and the pictures (if any).
        let data = (s.samplers.samples > 0 || draw_pictures).then(|| f0.clone());
        let replay = || p.forward_stepper();
        let store = s
            .store
            .build(
                comm,
                p.mesh,
                p.block,
                &run.join(SCRATCH),
                s.recompute_every,
                &replay,
            )
            .map_err(CommandError::Runtime)?;
        let mut forward = p.forward(f0, store);
        let march = forward.run(p, csv("forward.csv", &Diagnostics::HEADER)?)?;
        let mut recorded = forward.finish();
        let end = Stamp::from(&recorded.state);
        write("terminal.h5", &recorded.f_end, end)?;

        // 2. The start state.
        let u = recorded.start_state(p, s.start);
        write("start.h5", &u, end)?;
        let u_start = draw_pictures.then(|| u.clone());

        // 3. The reverse, carrying the samples.
        let mut samplers = Samplers::new(p, self.grid, s.samplers);
        let method = p.method(s.method, s.lambda, p.control.safety, None);
        let reverse_csv = csv("reverse.csv", &REVERSE_HEADER)?;
        let mut reverse = recorded
            .reverse(p, method, u, reverse_csv, &mut samplers.observers())
            .map_err(CommandError::Runtime)?;
        reverse
            .run(&mut recorded, &mut samplers.observers())
            .map_err(CommandError::Runtime)?;
        let (u, result) = reverse.finish();
        write("reconstruction.h5", &u, Stamp::default())?;

        // 4. Samples, their quality, pictures.
        let n = s.samplers.samples;
        let references = match &data {
            Some(f0) if n > 0 => {
                References::draw(comm, p.mesh, self.grid, p.block, f0, n, s.samplers.seed)
                    .map_err(CommandError::Runtime)?
            }
            _ => None,
        };
        let generated = samplers.finish(comm, p.mesh, p.block)?;
        if comm.is_root() {
            self.write_samples(run, &generated)
                .map_err(CommandError::Fatal)?;
        }
        let mut pictures = Vec::new();
        if let (Some(u_start), Some(f0)) = (&u_start, &data) {
            let fields = [f0, &recorded.f_end, u_start, &u]
                .map(|x| global_on_root(comm, p.mesh, self.grid, x));
            if let [Some(data), Some(terminal), Some(start), Some(reconstruction)] = fields {
                let fields = PictureFields::new(p.mesh, data, terminal, start, reconstruction);
                match pictures::draw(run.path(), p.mesh, &fields, &generated, recorded.state.t) {
                    Ok(names) => pictures = names,
                    Err(e) => log::warn!("pictures not drawn: {e}"),
                }
            }
        } else if comm.is_root() {
            log::info!(
                "pictures skipped: {} cells > {PICTURE_CELLS} (gathering them on rank 0 is for demo sizes)",
                p.mesh.cells()
            );
        }
        let summary = Summary::new(
            s,
            &recorded,
            &march,
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
    points: &[[f64; 2]],
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
