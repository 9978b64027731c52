//! From a config file to the runtime structs: mesh, process grid, block, model parameters,
//! initial shape ([`super::initial`]), stepper; the other sections in [`super::runtime`].
//! Files are read by rank 0 and broadcast, so every rank parses the same bytes and reaches the
//! same verdict (errors are reported identically, exit code 2).

use std::path::Path;

use super::initial::build_initial;
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::config::Config;
use crate::decomp::ProcessGrid;
use crate::initial::InitialShape;
use crate::io::read_on_root;
use crate::layout::Layout;
use crate::memory;
use crate::mesh::Mesh;
use crate::physics::ModelParams;
use crate::scheme::SchemeKind;
use crate::time::block_memory_bytes;
use crate::time::{StepControl, StepperKind};

/// Everything a run needs, built from the config.
pub struct RunSetup {
    /// The validated config.
    pub config: Config,
    /// Mesh, process grid and this rank's block.
    pub layout: Layout,
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

/// Refuses (on every rank alike) a run whose largest block, times the ranks sharing a node,
/// exceeds what the nodes can give ([`crate::memory`]), before anything is allocated. Every rank
/// decides from the same numbers: the smallest availability and the most ranks per node over
/// the job.
fn refuse_if_too_big(
    comm: &Comm,
    config: &Config,
    mesh: &Mesh,
    grid: ProcessGrid,
) -> Result<(), String> {
    let largest = grid.largest_block(mesh);
    let per_rank = block_memory_bytes(config.time.scheme, mesh.dim, largest) as u64;
    let local = memory::ranks_on_node(comm.size());
    let mine = memory::available_on_node();
    let mine_bytes = mine.as_ref().map_or(f64::INFINITY, |(b, _)| *b as f64);
    let least = comm.min(mine_bytes);
    let local = comm.max(local as f64) as usize;
    let available = least.is_finite().then(|| {
        let source = match &mine {
            Some((b, s)) if *b as f64 == least => s.clone(),
            _ => "on the most loaded node".to_string(),
        };
        (least as u64, source)
    });
    memory::check_fits(per_rank, local, available)
}

/// Refuses a `grid.dim = 3` config in `nlfp command`, which is 1D/2D only so far (bad input,
/// exit 2, naming `grid.dim`).
pub fn refuse_3d(config: &Config, command: &str) -> Result<(), CommandError> {
    if config.grid.dim == 3 {
        return Err(CommandError::Input(format!(
            "{}: grid.dim = 3: `nlfp {command}` is not supported in 3D yet (3D runs \
             `nlfp forward` and `nlfp check` with an explicit stepper)",
            config.source
        )));
    }
    Ok(())
}

/// Reads (on rank 0, broadcast) and validates the config named in `args`, with its `--set`
/// overrides. The rank count is not checked here.
pub fn load_config(comm: &Comm, args: &RunArgs) -> Result<Config, CommandError> {
    let bytes = read_on_root(comm, &args.config, "config").map_err(CommandError::Input)?;
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
    /// Refuses a 3D run in a command that is 1D/2D only so far ([`refuse_3d`]).
    pub fn refuse_3d(&self, command: &str) -> Result<(), CommandError> {
        refuse_3d(&self.config, command)
    }

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
                let grid = ProcessGrid::from_procs(p);
                grid.check(&mesh, comm.size())
                    .map_err(|e| input(format!("decomposition.procs: {e}")))?;
                grid
            }
            None => ProcessGrid::choose(&mesh, comm.size())
                .map_err(|e| input(format!("grid.n: {e}")))?,
        };
        let layout = Layout::new(mesh, grid, comm.rank());
        refuse_if_too_big(comm, &config, &mesh, grid).map_err(input)?;
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
        let (scheme, stepper) = (config.time.scheme, config.time.stepper);
        let control = StepControl {
            safety: config.time.safety,
            dt_max: config.time.dt_max,
            preconditioner: config.time.preconditioner,
        };
        Ok(RunSetup {
            config,
            layout,
            params,
            mass,
            critical_mass,
            initial,
            scheme,
            stepper,
            control,
        })
    }
}
