//! A filtering study (`nlfp filter`): every variant starts from the same noisy density and runs
//! its cycles ([`super::cycle`]); the noisy data smoothed directly once per cycle is the
//! reference ([`super::report::REFERENCE`]). Each density is gathered on rank 0 and measured
//! against the clean one; rank 0 writes `filter.csv`, `filter.md` and the pictures.

use super::cycle::{run_cycle, CycleReport, CycleSettings, Variant};
use super::metrics::{total_variation, Metrics};
use super::noise::{noisy_density, NoiseKind, NoiseSpec};
use super::report::{
    write_csv, write_markdown, write_plots, CycleRow, Study, VariantRun, REFERENCE,
};
use super::smooth::Smoother;
use super::spectrum::band_energies;
use crate::comm::gather::{block_of_global, global_on_root};
use crate::decomp::ProcessGrid;
use crate::error::CommandError;
use crate::field::Field;
use crate::io::run_dir::{RunDir, Stamp};
use crate::sweep::forward::format_duration;
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

/// A filtering study, ready to run.
pub struct FilterRun<'a> {
    /// The forward–reverse pipeline of every cycle (its march writes no diagnostics).
    pub pipeline: Pipeline<'a>,
    /// The process grid (to gather the densities).
    pub grid: ProcessGrid,
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
    /// study on rank 0 (`None` elsewhere). Collective.
    pub fn execute(&self, run: &RunDir) -> Result<Option<Study>, CommandError> {
        let p = &self.pipeline;
        let (comm, mesh) = (p.comm, *p.mesh);
        let write = |name: &str, f: &Field| {
            run.write_field(comm, name, f, Stamp::default())
                .map_err(CommandError::Runtime)
        };
        let clean = &self.clean;
        let noisy = noisy_density(clean, &self.noise);
        write("clean.h5", &block_of_global(&mesh, p.block, clean))?;
        let noisy_block = block_of_global(&mesh, p.block, &noisy);
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
        let mut runs = Vec::new();
        for &v in &self.variants {
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
                let report =
                    run_cycle(p, self.settings, v, &mut g).map_err(CommandError::Runtime)?;
                if let Some(global) = global_on_root(comm, &mesh, self.grid, &g) {
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
        let mut smoother = Smoother::new(dim, p.block, self.settings.smoothing);
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
            if let Some(global) = global_on_root(comm, &mesh, self.grid, &g) {
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
        let (mesh, params, mass) = (p.mesh, p.params, p.mass);
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
