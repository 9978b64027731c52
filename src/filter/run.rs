//! A filtering study (`nlfp filter`): every variant starts from the same noisy density and runs
//! its cycles ([`super::cycle`]); the noisy data smoothed directly once per cycle is the
//! reference ([`super::report::REFERENCE`]). Each density is gathered on rank 0 and measured
//! against the clean one; rank 0 writes `filter.csv`, `filter.md` and the pictures.
//!
//! # Checkpoints (at cycle boundaries)
//!
//! With a [`Checkpointer`] (job `filter`, phase `cycle`) a run checkpoints after a cycle when
//! asked (SIGUSR1/SIGTERM, `checkpoint.every_seconds`, or every `checkpoint.every_steps`
//! cycles): the current density as `f`, every finished cycle's density (this rank's block, as
//! fields `cycle_<variant>_<k>`), the progress `[variant index, cycles done]` and the cycle
//! reports. SIGTERM then ends the run with exit 75; `--restart auto` rebuilds the finished
//! cycles' rows from the saved densities and goes on with the next cycle, on any rank count.
//! The tables and `filtered_*.h5` equal an uninterrupted run's but for the wall-time columns
//! (explicit steppers). The progress counter ([`crate::signals::TEST_SIGNAL_ENV`]) is the
//! number of cycles done over all variants.

use super::cycle::{run_cycle, CycleReport, CycleSettings, Variant};
use super::metrics::{total_variation, Metrics};
use super::noise::{noisy_density, NoiseKind, NoiseSpec};
use super::report::{
    write_csv, write_markdown, write_plots, CycleRow, Study, VariantRun, REFERENCE,
};
use super::smooth::Smoother;
use super::spectrum::band_energies;
use crate::comm::gather::{block_of_global, global_on_root};
use crate::comm::Comm;
use crate::error::CommandError;
use crate::field::Field;
use crate::io::checkpoint::{Loaded, Saved};
use crate::io::run_dir::{RunDir, Stamp};
use crate::progress::Progress as ProgressLines;
use crate::sweep::checkpointer::Checkpointer;
use crate::sweep::forward::{format_duration, MarchState};
use crate::sweep::pipeline::Pipeline;

/// Files of a filter run (besides `filtered_<variant>.h5` and the pictures); a directory holding
/// any of them is not reused without `--overwrite`.
pub const OUTPUT_FILES: [&str; 5] = [
    "config.toml",
    "clean.h5",
    "noisy.h5",
    "filter.csv",
    "filter.md",
];

/// The phase of a filter checkpoint.
pub const PHASE: &str = "cycle";

/// Where a resumed filter run stands: the densities of its finished cycles (this rank's
/// blocks; `blocks[v][k - 1]` after cycle `k` of variant `v`) and their reports.
struct Progress {
    blocks: Vec<Vec<Field>>,
    reports: Vec<Vec<CycleReport>>,
}

impl Progress {
    /// Cycles done over all variants.
    fn done(&self) -> u64 {
        self.blocks.iter().map(|b| b.len() as u64).sum()
    }

    /// The checkpoint datasets (besides `f`, the last block); the reports are rank 0's (its
    /// wall times). Collective.
    fn save(&self, comm: &Comm) -> Saved {
        let mut saved = Saved::default();
        let mut reports = Vec::new();
        for (v, (blocks, rs)) in self.blocks.iter().zip(&self.reports).enumerate() {
            for (k, (b, r)) in blocks.iter().zip(rs).enumerate() {
                saved
                    .fields
                    .push((format!("cycle_{v}_{}", k + 1), b.clone()));
                reports.extend([
                    v as f64,
                    (k + 1) as f64,
                    r.forward_steps as f64,
                    r.reverse_substeps as f64,
                    r.start_error,
                    r.forward_seconds,
                    r.reverse_seconds,
                ]);
            }
        }
        let reports = crate::io::checkpoint::rank0_values(comm, &reports);
        saved.small.push(("cycle_reports".into(), reports));
        saved
    }

    /// The progress of a checkpoint of [`Progress::save`] for `variants` variants.
    fn load(loaded: &mut Loaded, variants: usize) -> Result<Progress, String> {
        let rows = loaded.small("cycle_reports")?.to_vec();
        let mut p = Progress {
            blocks: vec![Vec::new(); variants],
            reports: vec![Vec::new(); variants],
        };
        for r in rows.chunks(7) {
            let [v, k, steps, substeps, start_error, fs, rs] = r[..] else {
                return Err("cycle_reports: rows of 7 values expected".into());
            };
            let (v, k) = (v as usize, k as usize);
            if v >= variants || k != p.blocks[v].len() + 1 {
                return Err(format!(
                    "cycle_reports: unexpected cycle {k} of variant {v}"
                ));
            }
            p.blocks[v].push(loaded.take_field(&format!("cycle_{v}_{k}"))?);
            p.reports[v].push(CycleReport {
                forward_steps: steps as u64,
                reverse_substeps: substeps as u64,
                start_error,
                forward_seconds: fs,
                reverse_seconds: rs,
            });
        }
        Ok(p)
    }
}

/// A filtering study, ready to run.
pub struct FilterRun<'a> {
    /// The forward–reverse pipeline of every cycle (its march writes no diagnostics).
    pub pipeline: Pipeline<'a>,
    /// The score variants' settings.
    pub settings: CycleSettings,
    /// Cycles per variant.
    pub cycles: u64,
    /// The variants, in order.
    pub variants: Vec<Variant>,
    /// The clean density (global, row-major; every rank holds it).
    pub clean: Vec<f64>,
    /// The noise added to it.
    pub noise: NoiseSpec,
    /// The config file and the name of its `initial.kind` (for the description).
    pub source: (String, &'static str),
}

impl FilterRun<'_> {
    /// Runs every variant and the reference, writing `clean.h5`, `noisy.h5`,
    /// `filtered_<variant>.h5` into `run` and, on rank 0, the tables and pictures; returns the
    /// study on rank 0 (`None` elsewhere). With `checkpoints`, checkpoints at cycle boundaries
    /// (module doc) and continues from `resumed`; a stop request ends it with
    /// [`CommandError::Requeue`]. Collective.
    pub fn execute(
        &self,
        run: &RunDir,
        mut checkpoints: Option<Checkpointer>,
        resumed: Option<Loaded>,
    ) -> Result<Option<Study>, CommandError> {
        let p = &self.pipeline;
        let (comm, mesh) = (p.comm, *p.mesh());
        let write = |name: &str, f: &Field| {
            run.write_field(comm, name, f, Stamp::default())
                .map_err(CommandError::Runtime)
        };
        let clean = &self.clean;
        let noisy = noisy_density(clean, &self.noise);
        write("clean.h5", &block_of_global(&mesh, p.block(), clean))?;
        let noisy_block = block_of_global(&mesh, p.block(), &noisy);
        write("noisy.h5", &noisy_block)?;
        let (ny, nx, h, dim) = (mesh.ny(), mesh.nx(), mesh.h, mesh.dim);
        let clean_bands = band_energies(clean, ny, nx, mesh.cell_volume());
        let measure = |u: &[f64]| Metrics::of(u, clean, &clean_bands, ny, nx, h, dim);
        let description = self.description();
        if comm.is_root() {
            for line in &description {
                log::info!("filter: {}", line.replace('`', ""));
            }
        }
        let noisy_row = || CycleRow {
            cycle: 0,
            metrics: measure(&noisy),
            report: CycleReport::default(),
        };
        let input = |e: String| CommandError::Input(format!("restart: {e}"));
        let mut progress = match resumed {
            Some(mut l) => Progress::load(&mut l, self.variants.len()).map_err(input)?,
            None => Progress {
                blocks: vec![Vec::new(); self.variants.len()],
                reports: vec![Vec::new(); self.variants.len()],
            },
        };
        let mut runs = Vec::new();
        let total = self.variants.len() as u64 * self.cycles;
        // One line per cycle (cycles are long; the pipelines inside are silent).
        let mut cycle_progress =
            ProgressLines::new(comm.is_root(), "filter", "cycles", total as f64, 0.0);
        for (vi, &v) in self.variants.iter().enumerate() {
            let mut g = noisy_block.clone();
            let mut variant = VariantRun {
                name: v.name().into(),
                reference: false,
                rows: Vec::new(),
                densities: Vec::new(),
            };
            if comm.is_root() {
                variant.rows.push(noisy_row());
                variant.densities.push(noisy.clone());
            }
            for k in 1..=self.cycles {
                let kept = (k as usize) <= progress.blocks[vi].len();
                let report = if kept {
                    g = progress.blocks[vi][k as usize - 1].clone();
                    progress.reports[vi][k as usize - 1]
                } else {
                    let report =
                        run_cycle(p, self.settings, v, &mut g).map_err(CommandError::Runtime)?;
                    progress.blocks[vi].push(g.clone());
                    progress.reports[vi].push(report);
                    report
                };
                let done_cycles = vi as u64 * self.cycles + k;
                cycle_progress.report(done_cycles as f64, || format!("{} cycle {k}", v.name()));
                let last = vi + 1 == self.variants.len() && k == self.cycles;
                if let (Some(ck), false, false) = (checkpoints.as_mut(), kept, last) {
                    let done = progress.done();
                    let requests = ck.poll_agreed(done, done, done);
                    if requests.checkpoint {
                        ck.write_at(
                            done,
                            PHASE,
                            &g,
                            &MarchState::start(),
                            &[],
                            &progress.save(comm),
                        )
                        .map_err(CommandError::Runtime)?;
                        if requests.stop {
                            return Err(CommandError::Requeue(ck.stopped_message()));
                        }
                    }
                }
                if let Some(global) = global_on_root(comm, self.pipeline.layout, &g) {
                    let metrics = measure(&global);
                    log::info!(
                        "filter: {} cycle {k}/{}: L1 to clean {:.4e} (noisy {:.4e}), mass {:.12e}, \
                         min {:.3e}; {} forward steps, {} score sub-steps, {}",
                        v.name(),
                        self.cycles,
                        metrics.l1,
                        variant.rows[0].metrics.l1,
                        metrics.mass,
                        metrics.min,
                        report.forward_steps,
                        report.reverse_substeps,
                        format_duration(report.forward_seconds + report.reverse_seconds),
                    );
                    variant.rows.push(CycleRow {
                        cycle: k,
                        metrics,
                        report,
                    });
                    variant.densities.push(global);
                }
            }
            write(&format!("filtered_{}.h5", v.name()), &g)?;
            runs.push(variant);
        }
        // The reference: the noisy data smoothed directly, once per cycle.
        let mut smoother = Smoother::new(dim, p.block(), self.settings.smoothing);
        let mut g = noisy_block;
        let mut reference = VariantRun {
            name: REFERENCE.into(),
            reference: true,
            rows: Vec::new(),
            densities: Vec::new(),
        };
        for k in 0..=self.cycles {
            if k > 0 {
                smoother.apply(comm, &mut g);
            }
            if let Some(global) = global_on_root(comm, self.pipeline.layout, &g) {
                reference.rows.push(CycleRow {
                    cycle: k,
                    metrics: measure(&global),
                    report: CycleReport::default(),
                });
            }
        }
        runs.push(reference);
        if !comm.is_root() {
            return Ok(None);
        }
        let study = Study {
            mesh,
            clean_tv: total_variation(clean, ny, nx, h, dim),
            mass: clean.iter().sum::<f64>() * mesh.cell_volume(),
            clean: clean.clone(),
            clean_bands,
            description,
            runs,
        };
        let fatal = CommandError::Fatal;
        write_csv(&run.join("filter.csv"), &study).map_err(fatal)?;
        write_markdown(&run.join("filter.md"), &study).map_err(fatal)?;
        let pictures = write_plots(run.path(), &study).map_err(|e| fatal(e.to_string()))?;
        log::info!(
            "filter: lowest L1 after {} cycles: {}; results in {}: filter.csv, filter.md, {}",
            self.cycles,
            study.runs[study.lowest_final_l1()].name,
            run.path().display(),
            pictures.join(", ")
        );
        Ok(Some(study))
    }

    /// Lines describing the setup (Markdown, for the head of `filter.md` and the log).
    fn description(&self) -> Vec<String> {
        let p = &self.pipeline;
        let (mesh, params, mass) = (p.mesh(), p.params, p.mass);
        let spec = &self.noise;
        let passes = Smoother::passes_for(self.settings.smoothing);
        vec![
            format!(
                "Config `{}`: {}D, n = {}, L = {}, h = {:.4e}; D = {}, kappa = {}, gamma = {}, m = {:.6e}{}.",
                self.source.0,
                mesh.dim,
                mesh.n,
                mesh.half_width,
                mesh.h,
                params.diffusion,
                params.kappa,
                params.gamma,
                mass,
                params
                    .critical_mass(mesh.dim)
                    .map(|mc| format!(" ({:.4} m_c)", mass / mc))
                    .unwrap_or_default()
            ),
            format!(
                "Clean density: `initial.kind = {}`. Noise: {} (amplitude {}, seed {}{}).",
                self.source.1,
                spec.kind.name(),
                spec.amplitude,
                spec.seed,
                if spec.kind == NoiseKind::Samples {
                    format!(", {} samples", spec.samples)
                } else {
                    String::new()
                }
            ),
            format!(
                "Cycles: {}, forward to T = {} ({} / {}), score variants: lambda = {}, smoothing {} cells \
                 ({} binomial passes per axis, effective width {:.3} cells = {:.4e} in x).",
                self.cycles,
                p.march.t_end,
                p.scheme.name(),
                p.stepper.name(),
                self.settings.lambda,
                self.settings.smoothing,
                passes,
                Smoother::effective_width(passes),
                Smoother::effective_width(passes) * mesh.h,
            ),
        ]
    }
}
