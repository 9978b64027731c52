//! `nlfp filter CONFIG [--out DIR] [--overwrite]`: density filtering by successive
//! forward–reverse cycles (issue 7; [`crate::filter`]).
//!
//! The clean density is the `[initial]` one; the noisy one adds the seeded noise of `[filter]`
//! ([`crate::filter::noise`]). Every variant of `filter.variant` starts from the same noisy
//! density and runs `filter.cycles` cycles (forward to `time.t_end` recording, reverse to 0).
//! Each density is gathered on rank 0 and measured against the clean one.
//!
//! Writes into the output directory: `config.toml`, `clean.h5`, `noisy.h5`,
//! `filtered_<variant>.h5` (the last cycle of each variant), `filter.csv`, `filter.md` and the
//! pictures `density.png` (1D) or `density_*.png` (2D heat maps) of the recommended variant
//! (`score` when run, see [`crate::filter::report::Study::recommended`]), `error.png` and
//! `spectrum.png`.

use std::path::{Path, PathBuf};

use super::setup::RunSetup;
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::config::{FilterVariantName, NoiseKindName};
use crate::decomp::{Block, ProcessGrid};
use crate::field::Field;
use crate::filter::cycle::{run_cycle, CycleReport, CycleSetup, Variant};
use crate::filter::metrics::{total_variation, Metrics};
use crate::filter::noise::{noisy_density, NoiseKind, NoiseSpec};
use crate::filter::report::{
    write_csv, write_markdown, write_plots, CycleRow, Study, VariantRun, REFERENCE,
};
use crate::filter::smooth::Smoother;
use crate::filter::spectrum::band_energies;
use crate::io::hdf5::{write_field, FieldMeta};
use crate::mesh::Mesh;
use crate::sweep::forward::format_duration;

/// Files of a filter run (besides `filtered_<variant>.h5` and the pictures); a directory holding
/// any of them is not reused without `--overwrite`.
pub const OUTPUT_FILES: [&str; 5] = [
    "config.toml",
    "clean.h5",
    "noisy.h5",
    "filter.csv",
    "filter.md",
];

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

fn variant(v: FilterVariantName) -> Variant {
    match v {
        FilterVariantName::ExactTerminal => Variant::ExactTerminal,
        FilterVariantName::ExactAsymptotic => Variant::ExactAsymptotic,
        FilterVariantName::Score => Variant::Score,
        FilterVariantName::ScoreAsymptotic => Variant::ScoreAsymptotic,
    }
}

/// The noise of the config.
pub fn noise_spec(setup: &RunSetup) -> NoiseSpec {
    let f = &setup.config.filter;
    NoiseSpec {
        kind: match f.noise_kind {
            NoiseKindName::Multiplicative => NoiseKind::Multiplicative,
            NoiseKindName::Additive => NoiseKind::Additive,
            NoiseKindName::Samples => NoiseKind::Samples,
        },
        amplitude: f.noise,
        seed: f.seed,
        samples: f.samples,
    }
}

/// The clean density on the whole grid (every rank computes all of it, in global order).
fn clean_global(setup: &RunSetup) -> Result<Vec<f64>, CommandError> {
    let whole = Block::new(&setup.mesh, ProcessGrid { px: 1, py: 1 }, 0);
    let mut f = Field::zeros(whole.ny, whole.nx);
    setup
        .initial
        .fill(&setup.mesh, &whole, setup.mass, &mut f)
        .map_err(|e| CommandError::Input(format!("{}: initial: {e}", setup.config.source)))?;
    Ok(f.interior().iter().copied().collect())
}

/// This block's part of a global row-major array.
fn block_field(mesh: &Mesh, block: &Block, global: &[f64]) -> Field {
    let mut f = Field::zeros(block.ny, block.nx);
    for j in 0..block.ny {
        for i in 0..block.nx {
            let k = f.index(j as isize, i as isize);
            f.raw_mut()[k] = global[(block.y0 + j) * mesh.nx() + block.x0 + i];
        }
    }
    f
}

/// The global row-major array on rank 0 (`None` elsewhere). Collective.
fn gather(comm: &Comm, mesh: &Mesh, grid: ProcessGrid, f: &Field) -> Option<Vec<f64>> {
    let local: Vec<f64> = f.interior().iter().copied().collect();
    let parts = comm.gather_to_root(&local);
    if !comm.is_root() {
        return None;
    }
    let mut global = vec![0.0; mesh.cells()];
    for (rank, part) in parts.iter().enumerate() {
        let b = Block::new(mesh, grid, rank);
        for j in 0..b.ny {
            let row = (b.y0 + j) * mesh.nx() + b.x0;
            global[row..row + b.nx].copy_from_slice(&part[j * b.nx..(j + 1) * b.nx]);
        }
    }
    Some(global)
}

/// The whole study for a built setup, writing into `dir`; returns it on rank 0 (`None`
/// elsewhere).
pub fn execute(
    comm: &Comm,
    setup: &RunSetup,
    dir: &Path,
    overwrite: bool,
) -> Result<Option<Study>, CommandError> {
    let prepared = if comm.is_root() {
        prepare_dir(dir, overwrite).map(|_| Vec::new())
    } else {
        Ok(Vec::new())
    };
    comm.broadcast_result(prepared)
        .map_err(CommandError::Input)?;
    let fc = &setup.config.filter;
    let mesh = setup.mesh;
    let config_text = setup.config.to_toml();
    let io_mode = setup.io_mode();
    let write = |name: &str, f: &Field| {
        write_field(
            comm,
            &dir.join(name),
            &mesh,
            setup.grid,
            &setup.block,
            f,
            &FieldMeta {
                t: 0.0,
                step: 0,
                dt: 0.0,
                config: config_text.clone(),
            },
            io_mode,
        )
        .map_err(CommandError::Runtime)
    };
    if comm.is_root() {
        std::fs::write(dir.join("config.toml"), &config_text).map_err(|e| {
            CommandError::Fatal(format!("{}: {e}", dir.join("config.toml").display()))
        })?;
    }
    let spec = noise_spec(setup);
    let clean = clean_global(setup)?;
    let noisy = noisy_density(&clean, &spec);
    write("clean.h5", &block_field(&mesh, &setup.block, &clean))?;
    let noisy_block = block_field(&mesh, &setup.block, &noisy);
    write("noisy.h5", &noisy_block)?;

    let (ny, nx, h, dim) = (mesh.ny(), mesh.nx(), mesh.h, mesh.dim);
    let clean_bands = band_energies(&clean, ny, nx, mesh.cell_volume());
    let measure = |u: &[f64]| Metrics::of(u, &clean, &clean_bands, ny, nx, h, dim);
    let passes = Smoother::passes_for(fc.smoothing);
    let description = vec![
        format!(
            "Config `{}`: {}D, n = {}, L = {}, h = {:.4e}; D = {}, kappa = {}, gamma = {}, m = {:.6e}{}.",
            setup.config.source,
            dim,
            mesh.n,
            mesh.half_width,
            h,
            setup.params.diffusion,
            setup.params.kappa,
            setup.params.gamma,
            setup.mass,
            setup
                .critical_mass
                .map(|mc| format!(" ({:.4} m_c)", setup.mass / mc))
                .unwrap_or_default()
        ),
        format!(
            "Clean density: `initial.kind = {}`. Noise: {} (amplitude {}, seed {}{}).",
            setup.config.initial.kind.name(),
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
            fc.cycles,
            setup.config.time.t_end,
            setup.scheme.name(),
            setup.stepper.name(),
            fc.lambda,
            fc.smoothing,
            passes,
            Smoother::effective_width(passes),
            Smoother::effective_width(passes) * h,
        ),
    ];
    if comm.is_root() {
        for line in &description {
            log::info!("filter: {}", line.replace('`', ""));
        }
    }
    let cycle_setup = CycleSetup {
        comm,
        mesh: &mesh,
        block: &setup.block,
        params: setup.params,
        mass: setup.mass,
        scheme: setup.scheme,
        stepper: setup.stepper,
        control: setup.control,
        t_end: setup.config.time.t_end,
        max_steps: setup.config.time.max_steps,
        lambda: fc.lambda,
        smoothing: fc.smoothing,
        safety: setup.config.time.safety,
    };
    let mut runs = Vec::new();
    for &name in &fc.variants {
        let v = variant(name);
        let mut g = noisy_block.clone();
        let mut rows = Vec::new();
        let mut densities = Vec::new();
        if comm.is_root() {
            rows.push(CycleRow {
                cycle: 0,
                metrics: measure(&noisy),
                report: CycleReport::default(),
            });
            densities.push(noisy.clone());
        }
        for k in 1..=fc.cycles {
            let report = run_cycle(&cycle_setup, v, &mut g).map_err(CommandError::Runtime)?;
            if let Some(global) = gather(comm, &mesh, setup.grid, &g) {
                let metrics = measure(&global);
                log::info!(
                    "filter: {} cycle {k}/{}: L1 to clean {:.4e} (noisy {:.4e}), mass {:.12e}, \
                     min {:.3e}; {} forward steps, {} score sub-steps, {}",
                    v.name(),
                    fc.cycles,
                    metrics.l1,
                    rows[0].metrics.l1,
                    metrics.mass,
                    metrics.min,
                    report.forward_steps,
                    report.reverse_substeps,
                    format_duration(report.forward_seconds + report.reverse_seconds),
                );
                rows.push(CycleRow {
                    cycle: k,
                    metrics,
                    report,
                });
                densities.push(global);
            }
        }
        write(&format!("filtered_{}.h5", v.name()), &g)?;
        runs.push(VariantRun {
            name: v.name().into(),
            reference: false,
            rows,
            densities,
        });
    }
    // The reference: the noisy data smoothed directly, once per cycle.
    let mut smoother = Smoother::new(dim, &setup.block, fc.smoothing);
    let mut g = noisy_block.clone();
    let mut reference = VariantRun {
        name: REFERENCE.into(),
        reference: true,
        rows: Vec::new(),
        densities: Vec::new(),
    };
    for k in 0..=fc.cycles {
        if k > 0 {
            smoother.apply(comm, &mut g);
        }
        if let Some(global) = gather(comm, &mesh, setup.grid, &g) {
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
        clean_tv: total_variation(&clean, ny, nx, h, dim),
        mass: clean.iter().sum::<f64>() * mesh.cell_volume(),
        clean,
        clean_bands,
        description,
        runs,
    };
    write_csv(&dir.join("filter.csv"), &study).map_err(CommandError::Fatal)?;
    write_markdown(&dir.join("filter.md"), &study).map_err(CommandError::Fatal)?;
    let pictures = write_plots(dir, &study).map_err(|e| CommandError::Fatal(e.to_string()))?;
    log::info!(
        "filter: lowest L1 after {} cycles: {}; results in {}: filter.csv, filter.md, {}",
        fc.cycles,
        study.runs[study.lowest_final_l1()].name,
        dir.display(),
        pictures.join(", ")
    );
    Ok(Some(study))
}

/// Creates the output directory; refuses to reuse one holding results unless `overwrite`.
fn prepare_dir(dir: &Path, overwrite: bool) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "output directory {} exists and is not a directory",
            dir.display()
        ));
    }
    let existing: Vec<&str> = OUTPUT_FILES
        .iter()
        .copied()
        .filter(|name| dir.join(name).exists())
        .collect();
    if !existing.is_empty() && !overwrite {
        return Err(format!(
            "output directory {} already holds {}; choose another with --out DIR or pass --overwrite",
            dir.display(),
            existing.join(", ")
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create output directory {}: {e}", dir.display()))
}
