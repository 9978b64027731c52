//! From a config file to the runtime structs: mesh, process grid, block, model parameters,
//! initial shape, stepper. Files are read by rank 0 and broadcast, so every rank parses the
//! same bytes and reaches the same verdict (errors are reported identically, exit code 2).

use std::path::Path;

use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::config::{Config, InitialKind, StepperName};
use crate::decomp::{Block, ProcessGrid};
use crate::field::{Field, GHOST};
use crate::initial::InitialShape;
use crate::io::points::parse_points_csv;
use crate::mesh::Mesh;
use crate::physics::ou::{GaussianComponent, GaussianMixture};
use crate::physics::ModelParams;
use crate::scheme::{FaceCoefficients, SchemeKind};
use crate::time::{self, StepControl, StepperKind, TimeStepper};

/// Everything a run needs, built from the config.
pub struct RunSetup {
    /// The validated config.
    pub config: Config,
    /// Global grid.
    pub mesh: Mesh,
    /// Process grid.
    pub grid: ProcessGrid,
    /// This rank's block.
    pub block: Block,
    /// Model parameters.
    pub params: ModelParams,
    /// The mass `m` (resolved from `mass` or `mass_ratio * m_c`).
    pub mass: f64,
    /// The critical mass, when one exists.
    pub critical_mass: Option<f64>,
    /// The initial shape.
    pub initial: InitialShape,
    /// Flux family.
    pub scheme: SchemeKind,
    /// Stepper.
    pub stepper: StepperKind,
    /// Step control.
    pub control: StepControl,
}

fn read_on_root(comm: &Comm, path: &Path, what: &str) -> Result<Vec<u8>, CommandError> {
    let local = if comm.is_root() {
        std::fs::read(path).map_err(|e| format!("{}: cannot read {what}: {e}", path.display()))
    } else {
        Ok(Vec::new())
    };
    comm.broadcast_result(local).map_err(CommandError::Input)
}

/// Reads (on rank 0, broadcast) and validates the config named in `args`, with its `--set`
/// overrides. The rank count is not checked here.
pub fn load_config(comm: &Comm, args: &RunArgs) -> Result<Config, CommandError> {
    let bytes = read_on_root(comm, &args.config, "config")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CommandError::Input(format!("{}: not UTF-8 text", args.config.display())))?;
    let source = args.config.display().to_string();
    let base_dir = args
        .config
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Config::from_toml_str(&text, &source, &base_dir, &args.set)
        .map_err(|e| CommandError::Input(e.to_string()))
}

impl RunSetup {
    /// Reads and validates the config named in `args` and builds the run.
    pub fn load(comm: &Comm, args: &RunArgs) -> Result<RunSetup, CommandError> {
        let config = load_config(comm, args)?;
        config
            .validate_for_ranks(comm.size())
            .map_err(|e| CommandError::Input(e.to_string()))?;
        if comm.is_root() {
            for warning in config.warnings() {
                log::warn!("{warning}");
            }
        }
        Self::from_config(comm, config)
    }

    /// Builds the run from an already validated config (the process grid is chosen for
    /// `comm`'s size unless `decomposition.procs` is set).
    pub fn from_config(comm: &Comm, config: Config) -> Result<RunSetup, CommandError> {
        let input = |msg: String| CommandError::Input(format!("{}: {msg}", config.source));
        let g = &config.grid;
        let mesh = Mesh::new(g.dim, g.n, g.half_width);
        let grid = match &config.decomposition.procs {
            Some(p) => {
                let grid = ProcessGrid {
                    px: p[0],
                    py: p.get(1).copied().unwrap_or(1),
                };
                grid.check(&mesh, comm.size())
                    .map_err(|e| input(format!("decomposition.procs: {e}")))?;
                grid
            }
            None => ProcessGrid::choose(&mesh, comm.size())
                .map_err(|e| input(format!("grid.n: {e}")))?,
        };
        let block = Block::new(&mesh, grid, comm.rank());
        let m = &config.model;
        let params = ModelParams {
            diffusion: m.diffusion,
            kappa: m.kappa,
            gamma: m.gamma,
        };
        let critical_mass = params.critical_mass(mesh.dim);
        let mass = match (m.mass, m.mass_ratio) {
            (Some(mass), _) => mass,
            (None, Some(ratio)) => {
                let mc = critical_mass.ok_or_else(|| {
                    input(format!(
                        "model.mass_ratio: no critical mass exists for gamma * dim = {} <= 2 or kappa = 0",
                        m.gamma * mesh.dim as f64
                    ))
                })?;
                ratio * mc
            }
            (None, None) => return Err(input("model.mass or model.mass_ratio is required".into())),
        };
        let initial = build_initial(comm, &config, &mesh)?;
        let scheme = super::runtime::scheme_kind(config.time.scheme);
        let stepper = match config.time.stepper {
            StepperName::Euler => StepperKind::Euler,
            StepperName::Ssprk2 => StepperKind::Ssprk2,
            StepperName::Implicit => StepperKind::Implicit,
        };
        let control = StepControl {
            safety: config.time.safety,
            dt_max: config.time.dt_max,
        };
        Ok(RunSetup {
            config,
            mesh,
            grid,
            block,
            params,
            mass,
            critical_mass,
            initial,
            scheme,
            stepper,
            control,
        })
    }

    /// The HDF5 transfer mode of `output.io`.
    pub fn io_mode(&self) -> crate::io::hdf5::IoMode {
        match self.config.output.io {
            crate::config::IoName::Collective => crate::io::hdf5::IoMode::Collective,
            crate::config::IoName::Independent => crate::io::hdf5::IoMode::Independent,
        }
    }

    /// `2D n = 101 on 2 x 1 ranks, m = 1.48e1 (1.5000 m_c)`: the grid, process grid and mass,
    /// for the first log line of a run.
    pub fn run_line(&self) -> String {
        format!(
            "{}D n = {} on {} x {} ranks, m = {:.6e}{}",
            self.mesh.dim,
            self.mesh.n,
            self.grid.px,
            self.grid.py,
            self.mass,
            self.critical_mass
                .map(|mc| format!(" ({:.4} m_c)", self.mass / mc))
                .unwrap_or_default()
        )
    }

    /// The initial field of this rank's block.
    pub fn initial_field(&self) -> Result<Field, CommandError> {
        let mut f = Field::zeros(self.block.ny, self.block.nx);
        self.initial
            .fill(&self.mesh, &self.block, self.mass, &mut f)
            .map_err(|e| CommandError::Input(format!("{}: initial: {e}", self.config.source)))?;
        Ok(f)
    }

    /// The time stepper for this rank's block.
    pub fn stepper(&self) -> Box<dyn TimeStepper> {
        time::build_stepper(
            &self.mesh,
            &self.block,
            FaceCoefficients {
                diffusion: self.params.diffusion,
                kappa: self.params.kappa,
                gamma: self.params.gamma,
                h: self.mesh.h,
            },
            self.scheme,
            self.stepper,
            self.control,
        )
    }

    /// Bytes a block of `ny x nx` cells needs: three fields with ghosts (state and two stages)
    /// plus per-cell auxiliary values (1 double for `upwind`, 3 for `sg`) and row buffers.
    pub fn block_memory_bytes(&self, ny: usize, nx: usize) -> usize {
        let storage = (ny + 2 * GHOST) * (nx + 2 * GHOST);
        let aux = match self.scheme {
            SchemeKind::Upwind => 1,
            SchemeKind::Sg => 3,
        };
        8 * (storage * (3 + aux) + 7 * (nx + 1) + 4 * ny)
    }
}

fn build_initial(comm: &Comm, config: &Config, mesh: &Mesh) -> Result<InitialShape, CommandError> {
    let init = &config.initial;
    let point = |v: &[f64]| {
        [
            v.first().copied().unwrap_or(0.0),
            v.get(1).copied().unwrap_or(0.0),
        ]
    };
    let missing = |key: &str| {
        CommandError::Input(format!(
            "{}: initial.{key} is required for this kind",
            config.source
        ))
    };
    Ok(match init.kind {
        InitialKind::GaussianMixture => InitialShape::GaussianMixture(GaussianMixture {
            dim: mesh.dim,
            components: init
                .components
                .iter()
                .map(|c| GaussianComponent {
                    weight: c.weight,
                    mean: point(&c.mean),
                    std: c.std,
                })
                .collect(),
        }),
        InitialKind::Disc => InitialShape::Disc {
            centre: point(&init.centre),
            radius: init.radius.ok_or_else(|| missing("radius"))?,
        },
        InitialKind::Ring => InitialShape::Ring {
            centre: point(&init.centre),
            radius: init.radius.ok_or_else(|| missing("radius"))?,
            width: init.width.ok_or_else(|| missing("width"))?,
        },
        InitialKind::Points => {
            let file = init.file.as_ref().ok_or_else(|| missing("file"))?;
            let path = if file.is_absolute() {
                file.clone()
            } else {
                config.base_dir.join(file)
            };
            let bytes = read_on_root(comm, &path, "initial.file")?;
            let text = String::from_utf8_lossy(&bytes);
            let samples = parse_points_csv(&text, mesh.dim, &path.display().to_string())
                .map_err(|e| CommandError::Input(format!("initial.file: {e}")))?;
            InitialShape::Points(samples)
        }
    })
}
