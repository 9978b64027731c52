//! The TOML run configuration: sections, defaults, `--set` overrides and validation.
//!
//! A config file has the sections `[grid]`, `[model]`, `[initial]`, `[time]`,
//! `[decomposition]`, `[output]`, `[checkpoint]` and `[particles]` (read by `nlfp particles`
//! only); every key is documented in `configs/defaults.toml`.
//! Loading goes through five stages, each of which names the offending key on failure:
//!
//! 1. parse the text as a TOML table;
//! 2. apply `--set section.key=value` overrides (the value is parsed as a TOML value; a bare word
//!    such as `time.scheme=upwind` is taken as a string);
//! 3. check every section and key against the schema: an unknown one is an error that names the
//!    full key and, when one is close, the valid key it was probably meant to be;
//! 4. read typed values (a wrong type names the key, the expected type and the value found) and
//!    fill in defaults;
//! 5. validate ranges and cross-key rules (odd `n`, exactly one of `mass` / `mass_ratio`, ...).
//!
//! Config types stop at the driver: it turns these sections into the runtime structs the modules
//! define themselves. [`Config::to_toml`] writes the resolved configuration (defaults filled in)
//! back as TOML that loads to an equal [`Config`]; [`Config::physics_fingerprint`] is a canonical
//! text of the keys that define the physics, used to refuse restarts with different physics.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

/// Default spatial dimension (`grid.dim`).
pub const DEFAULT_DIM: usize = 2;
/// Default half width `L` of the domain `[-L, L]^dim` (`grid.half_width`).
pub const DEFAULT_HALF_WIDTH: f64 = 6.0;
/// Default diffusion coefficient `D` (`model.diffusion`).
pub const DEFAULT_DIFFUSION: f64 = 1.0;
/// Default nonlinearity strength `kappa` (`model.kappa`).
pub const DEFAULT_KAPPA: f64 = 1.0;
/// Default nonlinearity exponent `gamma` (`model.gamma`).
pub const DEFAULT_GAMMA: f64 = 2.0;
/// Default time stepper (`time.stepper`).
pub const DEFAULT_STEPPER: StepperName = StepperName::Ssprk2;
/// Default face-flux scheme (`time.scheme`).
pub const DEFAULT_SCHEME: SchemeName = SchemeName::Sg;
/// Default fraction of the positivity bound used for the time step (`time.safety`).
pub const DEFAULT_SAFETY: f64 = 0.9;
/// Default upper bound on the time step (`time.dt_max`).
pub const DEFAULT_DT_MAX: f64 = 1.0e-2;
/// Default cap on the number of time steps (`time.max_steps`).
pub const DEFAULT_MAX_STEPS: u64 = 100_000_000;
/// Default output directory (`output.dir`).
pub const DEFAULT_OUTPUT_DIR: &str = "out";
/// Default number of steps between diagnostics rows (`output.diagnostics_every`).
pub const DEFAULT_DIAGNOSTICS_EVERY: u64 = 10;
/// Default wall-clock seconds between progress lines (`output.progress_every`).
pub const DEFAULT_PROGRESS_EVERY: f64 = 5.0;
/// Default number of checkpoints kept (`checkpoint.keep`).
pub const DEFAULT_CHECKPOINT_KEEP: u64 = 3;
/// Default checkpoint directory, relative to the output directory (`checkpoint.dir`).
pub const DEFAULT_CHECKPOINT_DIR: &str = "checkpoints";
/// Default radius window `[r_min, r_max]` of the near-origin profile fit (`study.profile_fit`).
pub const DEFAULT_PROFILE_FIT: [f64; 2] = [0.0, 0.5];
/// Default window `[lo, hi]` of entropy-excess levels, relative to the excess at `t = 0`, of the
/// relaxation-rate fit (`study.relax_levels`).
pub const DEFAULT_RELAX_LEVELS: [f64; 2] = [1e-8, 1e-2];

/// Default number of particles (`particles.count`).
pub const DEFAULT_PARTICLE_COUNT: u64 = 100_000;
/// Default seed of the particles' random numbers (`particles.seed`).
pub const DEFAULT_PARTICLE_SEED: u64 = 1;
/// Default particle time step (`particles.dt`).
pub const DEFAULT_PARTICLE_DT: f64 = 1.0e-2;
/// Default half-width in cells of the density smoothing (`particles.smoothing`).
pub const DEFAULT_PARTICLE_SMOOTHING: u64 = 2;

/// The sections of a config file, in the order they are written.
pub const SECTIONS: [&str; 11] = [
    "grid",
    "model",
    "initial",
    "time",
    "decomposition",
    "output",
    "checkpoint",
    "reverse",
    "study",
    "particles",
    "filter",
];

/// The keys of one table of the `initial.components` array.
pub const COMPONENT_KEYS: [&str; 3] = ["weight", "mean", "std"];

/// The TOML type a key expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    /// An integer.
    Int,
    /// A float (an integer is accepted).
    Float,
    /// A string (also used for names and paths).
    Str,
    /// An array of floats.
    FloatArray,
    /// An array of integers.
    IntArray,
    /// An array of tables.
    TableArray,
    /// An array of strings (a single string is accepted as a one-element list).
    StrArray,
    /// A boolean.
    Bool,
}

/// Every valid `section.key`, with its expected type, in the order they are written.
const SCHEMA: &[(&str, Ty)] = &[
    ("grid.dim", Ty::Int),
    ("grid.n", Ty::Int),
    ("grid.half_width", Ty::Float),
    ("model.diffusion", Ty::Float),
    ("model.kappa", Ty::Float),
    ("model.gamma", Ty::Float),
    ("model.mass", Ty::Float),
    ("model.mass_ratio", Ty::Float),
    ("initial.kind", Ty::Str),
    ("initial.components", Ty::TableArray),
    ("initial.centre", Ty::FloatArray),
    ("initial.radius", Ty::Float),
    ("initial.width", Ty::Float),
    ("initial.file", Ty::Str),
    ("time.t_end", Ty::Float),
    ("time.stepper", Ty::Str),
    ("time.scheme", Ty::Str),
    ("time.safety", Ty::Float),
    ("time.dt_max", Ty::Float),
    ("time.max_steps", Ty::Int),
    ("decomposition.procs", Ty::IntArray),
    ("output.dir", Ty::Str),
    ("output.diagnostics_every", Ty::Int),
    ("output.progress_every", Ty::Float),
    ("output.snapshot_every", Ty::Int),
    ("output.snapshot_dt", Ty::Float),
    ("output.io", Ty::Str),
    ("checkpoint.every_steps", Ty::Int),
    ("checkpoint.every_seconds", Ty::Float),
    ("checkpoint.keep", Ty::Int),
    ("checkpoint.dir", Ty::Str),
    ("checkpoint.on_usr1", Ty::Str),
    ("reverse.start", Ty::Str),
    ("reverse.noise", Ty::Float),
    ("reverse.method", Ty::Str),
    ("reverse.lambda", Ty::Float),
    ("reverse.store", Ty::Str),
    ("reverse.recompute_every", Ty::Int),
    ("reverse.samples", Ty::Int),
    ("reverse.seed", Ty::Int),
    ("reverse.sampler", Ty::Str),
    ("reverse.sde_safety", Ty::Float),
    ("study.mass_ratio", Ty::FloatArray),
    ("study.gamma", Ty::FloatArray),
    ("study.n", Ty::IntArray),
    ("study.scheme", Ty::StrArray),
    ("study.refine", Ty::Bool),
    ("study.r0", Ty::Float),
    ("study.profile_fit", Ty::FloatArray),
    ("study.relax_levels", Ty::FloatArray),
    ("study.pictures", Ty::Bool),
    ("study.heatmap_log", Ty::Bool),
    ("particles.count", Ty::Int),
    ("particles.seed", Ty::Int),
    ("particles.dt", Ty::Float),
    ("particles.smoothing", Ty::Int),
    ("particles.positions_every", Ty::Int),
    ("particles.r0", Ty::Float),
    ("filter.cycles", Ty::Int),
    ("filter.variant", Ty::StrArray),
    ("filter.lambda", Ty::Float),
    ("filter.smoothing", Ty::Float),
    ("filter.noise_kind", Ty::Str),
    ("filter.noise", Ty::Float),
    ("filter.seed", Ty::Int),
    ("filter.samples", Ty::Int),
];

/// Every valid `section.key` of a config file, in the order they are written.
///
/// The keys of an `initial.components` table are listed separately in [`COMPONENT_KEYS`].
pub fn known_keys() -> impl Iterator<Item = &'static str> {
    SCHEMA.iter().map(|(key, _)| *key)
}

/// The expected type of a full key, or `None` if the key is unknown.
fn key_type(full: &str) -> Option<Ty> {
    SCHEMA
        .iter()
        .find(|(key, _)| *key == full)
        .map(|(_, ty)| *ty)
}

/// The keys (without section) of one section.
fn section_keys(section: &str) -> Vec<&'static str> {
    known_keys()
        .filter_map(|full| {
            let (sec, key) = full.split_once('.')?;
            (sec == section).then_some(key)
        })
        .collect()
}

/// A loaded, validated run configuration with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `[grid]`: the mesh.
    pub grid: GridConfig,
    /// `[model]`: the parameters of the equation.
    pub model: ModelConfig,
    /// `[initial]`: the initial density.
    pub initial: InitialConfig,
    /// `[time]`: time stepping.
    pub time: TimeConfig,
    /// `[decomposition]`: the process grid.
    pub decomposition: DecompositionConfig,
    /// `[output]`: where and how often to write.
    pub output: OutputConfig,
    /// `[checkpoint]`: crash-safe restart files.
    pub checkpoint: CheckpointConfig,
    /// `[reverse]`: the reverse sweep and generation.
    pub reverse: ReverseConfig,
    /// `[study]`: the sweep of `nlfp study` (ignored by the other commands).
    pub study: StudyConfig,
    /// `[particles]`: the interacting particle system (`nlfp particles`).
    pub particles: ParticlesConfig,
    /// `[filter]`: density filtering by forward–reverse cycles (`nlfp filter`).
    pub filter: FilterConfig,
    /// Name of the config file, used in messages.
    pub source: String,
    /// Directory of the config file (made absolute); relative paths in the file are relative to it.
    pub base_dir: PathBuf,
}

/// `[grid]`: a uniform cell-centred grid on `[-L, L]^dim`.
#[derive(Clone, Debug, PartialEq)]
pub struct GridConfig {
    /// Spatial dimension, 1 or 2.
    pub dim: usize,
    /// Cells per axis: odd (the origin is a cell centre) and at least 5.
    pub n: usize,
    /// Half width `L > 0` of the domain.
    pub half_width: f64,
}

/// `[model]`: `d_t f = D Lap f + div(x f (1 + kappa f^gamma))` with mass `m`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    /// Diffusion coefficient `D > 0`.
    pub diffusion: f64,
    /// Nonlinearity strength `kappa >= 0` (`0` is the linear Ornstein–Uhlenbeck baseline).
    pub kappa: f64,
    /// Nonlinearity exponent `gamma > 0`.
    pub gamma: f64,
    /// Total mass `m > 0`; exactly one of `mass` and `mass_ratio` is set.
    pub mass: Option<f64>,
    /// Mass as a multiple of the critical mass `m_c` (only when `m_c` exists).
    pub mass_ratio: Option<f64>,
}

/// How the total mass was given: the one of `model.mass` / `model.mass_ratio` that is set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MassSpec {
    /// `model.mass`: the mass itself.
    Absolute(f64),
    /// `model.mass_ratio`: a multiple of the critical mass `m_c(D, kappa, gamma, dim)`.
    CriticalRatio(f64),
}

impl ModelConfig {
    /// The mass specification. Validation guarantees exactly one of the two keys is set.
    pub fn mass_spec(&self) -> MassSpec {
        match (self.mass, self.mass_ratio) {
            (Some(m), _) => MassSpec::Absolute(m),
            (None, Some(r)) => MassSpec::CriticalRatio(r),
            (None, None) => unreachable!("validated config has model.mass or model.mass_ratio"),
        }
    }
}

/// `initial.kind`: the family of the initial density.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialKind {
    /// A weighted sum of isotropic Gaussians (`initial.components`).
    GaussianMixture,
    /// A uniform disc (an interval in 1D) of `radius` around `centre`.
    Disc,
    /// A Gaussian ring of `radius` and thickness `width` around `centre` (two bumps in 1D).
    Ring,
    /// A histogram of samples read from the CSV `file`.
    Points,
}

impl InitialKind {
    /// All kinds, in the order they are listed in messages.
    pub const ALL: [InitialKind; 4] = [
        InitialKind::GaussianMixture,
        InitialKind::Disc,
        InitialKind::Ring,
        InitialKind::Points,
    ];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            InitialKind::GaussianMixture => "gaussian_mixture",
            InitialKind::Disc => "disc",
            InitialKind::Ring => "ring",
            InitialKind::Points => "points",
        }
    }

    /// Whether the `[initial]` key `key` (other than `kind`) is used by this kind.
    pub fn uses(&self, key: &str) -> bool {
        let used: &[&str] = match self {
            InitialKind::GaussianMixture => &["components"],
            InitialKind::Disc => &["centre", "radius"],
            InitialKind::Ring => &["centre", "radius", "width"],
            InitialKind::Points => &["file"],
        };
        used.contains(&key)
    }
}

/// `time.stepper`: the explicit time integrator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepperName {
    /// Forward Euler (first order).
    Euler,
    /// Strong-stability-preserving Runge–Kutta, two stages (second order).
    Ssprk2,
    /// Backward Euler + Newton–Krylov (first order; for long times and after blow-up).
    Implicit,
}

impl StepperName {
    /// All steppers, in the order they are listed in messages.
    pub const ALL: [StepperName; 3] = [
        StepperName::Euler,
        StepperName::Ssprk2,
        StepperName::Implicit,
    ];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            StepperName::Euler => "euler",
            StepperName::Ssprk2 => "ssprk2",
            StepperName::Implicit => "implicit",
        }
    }
}

/// `time.scheme`: the finite-volume face flux.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemeName {
    /// Monotone upwind drift plus central diffusion (first order, robust).
    Upwind,
    /// Well-balanced Scharfetter–Gummel (exact discrete steady states).
    Sg,
}

impl SchemeName {
    /// All schemes, in the order they are listed in messages.
    pub const ALL: [SchemeName; 2] = [SchemeName::Upwind, SchemeName::Sg];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            SchemeName::Upwind => "upwind",
            SchemeName::Sg => "sg",
        }
    }
}

/// One table of `initial.components`: `weight * N(mean, std^2 I)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentConfig {
    /// Relative weight `> 0` (weights are normalised to the total mass by the driver).
    pub weight: f64,
    /// Centre, `dim` coordinates.
    pub mean: Vec<f64>,
    /// Standard deviation `> 0` along every axis.
    pub std: f64,
}

/// `[initial]`: the initial density. Keys a kind does not use are rejected when loading.
#[derive(Clone, Debug, PartialEq)]
pub struct InitialConfig {
    /// The family of the initial density.
    pub kind: InitialKind,
    /// Mixture components (`gaussian_mixture`; empty otherwise).
    pub components: Vec<ComponentConfig>,
    /// Centre of the disc or ring, `dim` coordinates (the origin unless given; always `dim` long).
    pub centre: Vec<f64>,
    /// Radius of the disc or ring.
    pub radius: Option<f64>,
    /// Thickness (standard deviation) of the Gaussian ring profile.
    pub width: Option<f64>,
    /// The CSV of sample coordinates (`points`), already resolved against the config directory.
    pub file: Option<PathBuf>,
}

/// `[time]`: explicit time stepping up to `t_end`.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeConfig {
    /// Final time `> 0`.
    pub t_end: f64,
    /// The time integrator.
    pub stepper: StepperName,
    /// The face-flux scheme.
    pub scheme: SchemeName,
    /// Fraction `c` of the positivity bound, `0 < c < 1`.
    pub safety: f64,
    /// Upper bound on the time step, `> 0`.
    pub dt_max: f64,
    /// Cap on the number of steps, `>= 1`.
    pub max_steps: u64,
}

/// `[decomposition]`: the process grid.
#[derive(Clone, Debug, PartialEq)]
pub struct DecompositionConfig {
    /// Ranks per axis (`dim` entries), or `None` for an automatic balanced choice.
    pub procs: Option<Vec<usize>>,
}

/// `[output]`: where and how often to write.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputConfig {
    /// Output directory (as written; relative paths are relative to the working directory).
    pub dir: PathBuf,
    /// Steps between two rows of diagnostics, `>= 1`.
    pub diagnostics_every: u64,
    /// Wall-clock seconds between two progress lines, `> 0`.
    pub progress_every: f64,
    /// Steps between two HDF5 snapshots, `0` = none by step count.
    pub snapshot_every: u64,
    /// Simulated time between two HDF5 snapshots, `0` = none by time.
    pub snapshot_dt: f64,
    /// How HDF5 data is written: collective or independent MPI-IO.
    pub io: IoName,
}

/// `output.io`: the MPI-IO transfer mode of HDF5 writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoName {
    /// Collective MPI-IO (the default; best on parallel file systems).
    Collective,
    /// Independent MPI-IO (a fallback for MPI-IO stacks whose collective path misbehaves).
    Independent,
}

impl IoName {
    /// All modes, in the order they are listed in messages.
    pub const ALL: [IoName; 2] = [IoName::Collective, IoName::Independent];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            IoName::Collective => "collective",
            IoName::Independent => "independent",
        }
    }
}

/// `checkpoint.on_usr1`: what SIGUSR1 does after its checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Usr1Action {
    /// Keep running.
    Continue,
    /// Stop with exit code 75 ("requeue me").
    Stop,
}

impl Usr1Action {
    /// All actions, in the order they are listed in messages.
    pub const ALL: [Usr1Action; 2] = [Usr1Action::Continue, Usr1Action::Stop];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            Usr1Action::Continue => "continue",
            Usr1Action::Stop => "stop",
        }
    }
}

/// `[checkpoint]`: crash-safe restart files.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointConfig {
    /// Steps between checkpoints, `0` = none by step count.
    pub every_steps: u64,
    /// Wall-clock seconds between checkpoints, `0` = none by wall clock.
    pub every_seconds: f64,
    /// Number of newest checkpoints kept, `>= 1`.
    pub keep: u64,
    /// Checkpoint directory; a relative path is relative to the output directory.
    pub dir: PathBuf,
    /// What SIGUSR1 does after writing its checkpoint.
    pub on_usr1: Usr1Action,
}

/// `[study]`: the sweep run by `nlfp study`, the Cartesian product of the four lists (an empty
/// list means the single value of the base config: `model.mass_ratio` or `model.mass`,
/// `model.gamma`, `grid.n`, `time.scheme`), and the settings of its analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyConfig {
    /// Masses as multiples `> 0` of the critical mass, distinct.
    pub mass_ratio: Vec<f64>,
    /// Exponents `gamma > 0`, distinct.
    pub gamma: Vec<f64>,
    /// Cells per axis, odd and `>= 5`, distinct.
    pub n: Vec<usize>,
    /// Face-flux schemes, distinct.
    pub scheme: Vec<SchemeName>,
    /// Whether each supercritical run gets its refined companion (`n -> 2n + 1`) for the
    /// blow-up time estimate.
    pub refine: bool,
    /// Radius `r0 > 0` of the condensate estimate; `None` = `0.5 sqrt(D)`.
    pub r0: Option<f64>,
    /// Radius window `[r_min, r_max]`, `0 <= r_min < r_max`, of the near-origin profile fit.
    pub profile_fit: [f64; 2],
    /// Window `[lo, hi]`, `0 < lo < hi <= 1`, of entropy-excess levels (relative to the excess
    /// at `t = 0`) over which the relaxation rate is fitted.
    pub relax_levels: [f64; 2],
    /// Whether every run gets its PNG pictures.
    pub pictures: bool,
    /// Whether the density pictures use a log colour scale (log vertical axis in 1D).
    pub heatmap_log: bool,
}

impl Default for StudyConfig {
    fn default() -> Self {
        StudyConfig {
            mass_ratio: Vec::new(),
            gamma: Vec::new(),
            n: Vec::new(),
            scheme: Vec::new(),
            refine: true,
            r0: None,
            profile_fit: DEFAULT_PROFILE_FIT,
            relax_levels: DEFAULT_RELAX_LEVELS,
            pictures: true,
            heatmap_log: true,
        }
    }
}

/// `reverse.start`: the state the reverse sweep starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartName {
    /// The data-independent asymptotic state of the same mass (generation).
    Asymptotic,
    /// The terminal forward state `f(T)` itself.
    Terminal,
    /// `f(T)` with seeded multiplicative noise of size `reverse.noise`.
    Perturbed,
}

impl StartName {
    /// All start states, in the order they are listed in messages.
    pub const ALL: [StartName; 3] = [
        StartName::Asymptotic,
        StartName::Terminal,
        StartName::Perturbed,
    ];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            StartName::Asymptotic => "asymptotic",
            StartName::Terminal => "terminal",
            StartName::Perturbed => "perturbed",
        }
    }
}

/// `reverse.method`: how the reverse sweep is discretised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReverseMethodName {
    /// The exact discrete time reversal of the forward steps.
    Exact,
    /// The direct discretisation of the stabilized reverse PDE with the score.
    Score,
}

impl ReverseMethodName {
    /// All methods.
    pub const ALL: [ReverseMethodName; 2] = [ReverseMethodName::Exact, ReverseMethodName::Score];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            ReverseMethodName::Exact => "exact",
            ReverseMethodName::Score => "score",
        }
    }
}

/// `reverse.store`: where the forward states wait for the reverse sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreName {
    /// Every state in memory.
    Memory,
    /// Every state in an HDF5 scratch file in the output directory.
    Disk,
    /// Every K-th state in memory, segments recomputed.
    Recompute,
}

impl StoreName {
    /// All stores.
    pub const ALL: [StoreName; 3] = [StoreName::Memory, StoreName::Disk, StoreName::Recompute];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            StoreName::Memory => "memory",
            StoreName::Disk => "disk",
            StoreName::Recompute => "recompute",
        }
    }
}

/// `reverse.sampler`: what carries the generated samples back in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SamplerName {
    /// The reverse grid random walk (exact in law for the discrete PDE).
    Walk,
    /// The reverse SDE particle sampler with interpolated coefficients.
    Sde,
    /// Both, side by side.
    Both,
}

impl SamplerName {
    /// All samplers.
    pub const ALL: [SamplerName; 3] = [SamplerName::Walk, SamplerName::Sde, SamplerName::Both];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            SamplerName::Walk => "walk",
            SamplerName::Sde => "sde",
            SamplerName::Both => "both",
        }
    }

    /// Whether the grid walk runs.
    pub fn walk(&self) -> bool {
        matches!(self, SamplerName::Walk | SamplerName::Both)
    }

    /// Whether the SDE sampler runs.
    pub fn sde(&self) -> bool {
        matches!(self, SamplerName::Sde | SamplerName::Both)
    }
}

/// `[reverse]`: the reverse sweep and generation.
#[derive(Clone, Debug, PartialEq)]
pub struct ReverseConfig {
    /// Start state.
    pub start: StartName,
    /// Noise amplitude of the `perturbed` start, `0 <= noise < 1`.
    pub noise: f64,
    /// Discretisation.
    pub method: ReverseMethodName,
    /// Stabilisation `lambda >= 0` of the `score` method and of the SDE sampler.
    pub lambda: f64,
    /// Trajectory store.
    pub store: StoreName,
    /// `K` of the `recompute` store, `0` = automatic (`~ sqrt(steps)`).
    pub recompute_every: u64,
    /// Number of generated samples (`nlfp generate`), `0` = none.
    pub samples: u64,
    /// Seed of the noise and of the samples.
    pub seed: u64,
    /// Which sampler(s) carry the samples back.
    pub sampler: SamplerName,
    /// Sub-step safety `c > 0` of the SDE sampler.
    pub sde_safety: f64,
}

/// `[particles]`: the interacting particle system run by `nlfp particles` (other commands
/// ignore it). Time runs to `time.t_end` (at most `time.max_steps` steps).
#[derive(Clone, Debug, PartialEq)]
pub struct ParticlesConfig {
    /// Number of particles `N_p`, `1 <= N_p < 2^31`; each has mass `m / N_p`.
    pub count: u64,
    /// Seed of the counter-based generator, `>= 0`.
    pub seed: u64,
    /// Largest step; the run takes `ceil(t_end / dt)` equal steps.
    pub dt: f64,
    /// Half-width in cells of the tent smoothing of the deposited density, `>= 0`.
    pub smoothing: u64,
    /// Steps between two position files, `0` = only the final positions.
    pub positions_every: u64,
    /// Radius of the particle condensate estimate; `None`: `0.5 sqrt(D)`, as the PDE's.
    pub r0: Option<f64>,
}

/// `filter.variant`: the reverse of a filtering cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterVariantName {
    /// Exact reversal from the terminal state (the identity: not a filter).
    ExactTerminal,
    /// Exact reversal from the asymptotic state.
    ExactAsymptotic,
    /// Score-based reverse from the terminal state, score of the smoothed forward states.
    Score,
    /// Score-based reverse from the asymptotic state.
    ScoreAsymptotic,
}

impl FilterVariantName {
    /// All variants, in the order they are listed in messages.
    pub const ALL: [FilterVariantName; 4] = [
        FilterVariantName::ExactTerminal,
        FilterVariantName::ExactAsymptotic,
        FilterVariantName::Score,
        FilterVariantName::ScoreAsymptotic,
    ];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            FilterVariantName::ExactTerminal => "exact_terminal",
            FilterVariantName::ExactAsymptotic => "exact_asymptotic",
            FilterVariantName::Score => "score",
            FilterVariantName::ScoreAsymptotic => "score_asymptotic",
        }
    }
}

/// `filter.noise_kind`: how the noisy density is made from the clean one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoiseKindName {
    /// `g (1 + noise xi)`.
    Multiplicative,
    /// `g + noise max(g) xi`, floored.
    Additive,
    /// Histogram of `samples` samples of `g`.
    Samples,
}

impl NoiseKindName {
    /// All kinds.
    pub const ALL: [NoiseKindName; 3] = [
        NoiseKindName::Multiplicative,
        NoiseKindName::Additive,
        NoiseKindName::Samples,
    ];

    /// The name used in config files.
    pub fn name(&self) -> &'static str {
        match self {
            NoiseKindName::Multiplicative => "multiplicative",
            NoiseKindName::Additive => "additive",
            NoiseKindName::Samples => "samples",
        }
    }
}

/// `[filter]`: density filtering by forward–reverse cycles.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterConfig {
    /// Number of cycles `K >= 1`.
    pub cycles: u64,
    /// Reverse variants to run (each from the same noisy density), no duplicates.
    pub variants: Vec<FilterVariantName>,
    /// Stabilisation `lambda >= 0` of the score variants.
    pub lambda: f64,
    /// Width (standard deviation, in cells) of the smoothing of the forward states before their
    /// score is taken, `>= 0` (0 = the raw grid score).
    pub smoothing: f64,
    /// Noise kind.
    pub noise_kind: NoiseKindName,
    /// Noise amplitude (`multiplicative`: `< 1`; unused by `samples`).
    pub noise: f64,
    /// Noise seed.
    pub seed: u64,
    /// Number of samples of the `samples` kind.
    pub samples: u64,
}

/// A config error: where it came from, the key it concerns and what is wrong.
///
/// Displays as `<origin>: <key>: <message>`, e.g. `quickstart.toml: grid.n: must be odd, got 100`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file name, or `--set` for a command-line override.
    pub origin: String,
    /// The full key (`section.key`), when the error concerns one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about `key` in `origin`.
    pub fn new(origin: &str, key: Option<&str>, message: impl Into<String>) -> Self {
        ConfigError {
            origin: origin.to_string(),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.origin.is_empty() {
            write!(f, "{}: ", self.origin)?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Origin used for errors about command-line overrides.
const SET_ORIGIN: &str = "--set";

/// Error context: the file name and the keys that came from `--set`.
struct Ctx<'a> {
    source: &'a str,
    overridden: Vec<String>,
}

impl Ctx<'_> {
    /// An error about `key`, attributed to `--set` when that key was overridden.
    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let from_set = self.overridden.iter().any(|o| {
            key == o
                || key
                    .strip_prefix(o.as_str())
                    .is_some_and(|rest| rest.starts_with('['))
        });
        let origin = if from_set { SET_ORIGIN } else { self.source };
        ConfigError::new(origin, Some(key), message)
    }
}

// ---------------------------------------------------------------------------------------------
// Typed access to TOML values
// ---------------------------------------------------------------------------------------------

/// `float 10.5`, `string "abc"`, ... for "found" in type errors (long values are shortened).
fn describe(value: &Value) -> String {
    let kind = match value {
        Value::String(_) => "string",
        Value::Integer(_) => "integer",
        Value::Float(_) => "float",
        Value::Boolean(_) => "boolean",
        Value::Datetime(_) => "datetime",
        Value::Array(_) => "array",
        Value::Table(_) => "table",
    };
    let mut text = value.to_string();
    if text.chars().count() > 60 {
        text = text.chars().take(57).collect::<String>() + "...";
    }
    format!("{kind} {text}")
}

/// Formats a float so that it parses back to the same value (`1.0`, `0.01`, `1e-7`).
fn fmt_f64(x: f64) -> String {
    format!("{x:?}")
}

/// A TOML string literal.
fn fmt_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A TOML array of floats.
fn fmt_floats(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|x| fmt_f64(*x)).collect();
    format!("[{}]", items.join(", "))
}

/// A TOML array of integers.
fn fmt_ints(values: &[usize]) -> String {
    let items: Vec<String> = values.iter().map(usize::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// One table of the config (a section or a mixture component) with typed getters.
struct Sec<'a> {
    /// `grid` or `initial.components[0]`.
    prefix: String,
    table: Option<&'a Table>,
    ctx: &'a Ctx<'a>,
}

impl<'a> Sec<'a> {
    fn full(&self, key: &str) -> String {
        format!("{}.{key}", self.prefix)
    }

    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        self.ctx.err(&self.full(key), message)
    }

    fn raw(&self, key: &str) -> Option<&'a Value> {
        self.table.and_then(|t| t.get(key))
    }

    fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(*i)),
            Some(v) => Err(self.err(key, format!("expected an integer, found {}", describe(v)))),
        }
    }

    fn float(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        let x = match self.raw(key) {
            None => return Ok(None),
            Some(Value::Float(x)) => *x,
            Some(Value::Integer(i)) => *i as f64,
            Some(v) => {
                return Err(self.err(key, format!("expected a number, found {}", describe(v))))
            }
        };
        if !x.is_finite() {
            return Err(self.err(key, format!("must be a finite number, got {}", fmt_f64(x))));
        }
        Ok(Some(x))
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.err(key, format!("expected a string, found {}", describe(v)))),
        }
    }

    fn floats(&self, key: &str) -> Result<Option<Vec<f64>>, ConfigError> {
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        let expected = || {
            self.err(
                key,
                format!("expected an array of numbers, found {}", describe(value)),
            )
        };
        let Value::Array(items) = value else {
            return Err(expected());
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let x = match item {
                Value::Float(x) => *x,
                Value::Integer(i) => *i as f64,
                _ => return Err(expected()),
            };
            if !x.is_finite() {
                let msg = format!("must contain finite numbers, got {}", fmt_f64(x));
                return Err(self.err(key, msg));
            }
            out.push(x);
        }
        Ok(Some(out))
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(
                key,
                format!("expected true or false, found {}", describe(v)),
            )),
        }
    }

    /// A study list: an array, or a single value taken as a one-element list.
    fn list(&self, key: &str) -> Option<Vec<&'a Value>> {
        match self.raw(key)? {
            Value::Array(items) => Some(items.iter().collect()),
            single => Some(vec![single]),
        }
    }

    /// A list of numbers (a single number is a one-element list), non-empty.
    fn float_list(&self, key: &str) -> Result<Option<Vec<f64>>, ConfigError> {
        let Some(items) = self.list(key) else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            let x = match item {
                Value::Float(x) => *x,
                Value::Integer(i) => *i as f64,
                v => {
                    let msg = format!("expected a list of numbers, found {}", describe(v));
                    return Err(self.err(key, msg));
                }
            };
            if !x.is_finite() {
                let msg = format!("must contain finite numbers, got {}", fmt_f64(x));
                return Err(self.err(key, msg));
            }
            out.push(x);
        }
        Ok(Some(out))
    }

    /// A list of integers (a single integer is a one-element list).
    fn int_list(&self, key: &str) -> Result<Option<Vec<i64>>, ConfigError> {
        let Some(items) = self.list(key) else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| {
                v.as_integer().ok_or_else(|| {
                    let msg = format!("expected a list of integers, found {}", describe(v));
                    self.err(key, msg)
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A list of names from a fixed list (a single name is a one-element list).
    fn name_list<T: Copy>(
        &self,
        key: &str,
        all: &[T],
        name: fn(&T) -> &'static str,
    ) -> Result<Option<Vec<T>>, ConfigError> {
        let Some(items) = self.list(key) else {
            return Ok(None);
        };
        let names: Vec<&str> = all.iter().map(name).collect();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Value::String(text) = item else {
                let msg = format!("expected a list of names, found {}", describe(item));
                return Err(self.err(key, msg));
            };
            match all.iter().find(|v| name(v) == text) {
                Some(found) => out.push(*found),
                None => {
                    let mut msg = format!("unknown {key} `{text}`; valid: {}", names.join(", "));
                    if let Some(close) = closest(text, &names) {
                        msg += &format!(" (did you mean `{close}`?)");
                    }
                    return Err(self.err(key, msg));
                }
            }
        }
        Ok(Some(out))
    }

    fn ints(&self, key: &str) -> Result<Option<Vec<i64>>, ConfigError> {
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        let items = match value {
            Value::Array(items) if items.iter().all(|v| matches!(v, Value::Integer(_))) => items,
            _ => {
                let msg = format!("expected an array of integers, found {}", describe(value));
                return Err(self.err(key, msg));
            }
        };
        Ok(Some(items.iter().filter_map(Value::as_integer).collect()))
    }

    /// A name from a fixed list (`stepper`, `scheme`, `kind`).
    fn name<T: Copy>(
        &self,
        key: &str,
        all: &[T],
        name: fn(&T) -> &'static str,
    ) -> Result<Option<T>, ConfigError> {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        if let Some(found) = all.iter().find(|v| name(v) == text) {
            return Ok(Some(*found));
        }
        let names: Vec<&str> = all.iter().map(name).collect();
        let mut msg = format!("unknown {key} `{text}`; valid: {}", names.join(", "));
        if let Some(close) = closest(text, &names) {
            msg += &format!(" (did you mean `{close}`?)");
        }
        Err(self.err(key, msg))
    }

    fn positive(&self, key: &str, x: f64) -> Result<f64, ConfigError> {
        if x > 0.0 {
            Ok(x)
        } else {
            Err(self.err(key, format!("must be > 0, got {}", fmt_f64(x))))
        }
    }

    /// An optional float that must be positive when present.
    fn opt_positive(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        self.float(key)?.map(|x| self.positive(key, x)).transpose()
    }

    /// A float that must be positive, with a default.
    fn positive_or(&self, key: &str, default: f64) -> Result<f64, ConfigError> {
        Ok(self.opt_positive(key)?.unwrap_or(default))
    }

    /// A float that must be `>= 0`, with a default.
    fn non_negative_or(&self, key: &str, default: f64) -> Result<f64, ConfigError> {
        match self.float(key)? {
            None => Ok(default),
            Some(x) if x >= 0.0 => Ok(x),
            Some(x) => Err(self.err(key, format!("must be >= 0, got {}", fmt_f64(x)))),
        }
    }

    /// An integer that must be at least `min`, with a default.
    fn int_at_least(&self, key: &str, min: i64, default: u64) -> Result<u64, ConfigError> {
        match self.int(key)? {
            None => Ok(default),
            Some(i) if i >= min => Ok(i as u64),
            Some(i) => Err(self.err(key, format!("must be >= {min}, got {i}"))),
        }
    }

    fn required<T>(&self, key: &str, value: Option<T>, what: &str) -> Result<T, ConfigError> {
        value.ok_or_else(|| self.err(key, format!("is required ({what})")))
    }
}

// ---------------------------------------------------------------------------------------------
// Unknown keys and suggestions
// ---------------------------------------------------------------------------------------------

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let (dist, best) = candidates
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .min_by_key(|(d, _)| *d)?;
    let longest = word.chars().count().max(best.chars().count());
    let close = dist <= (longest / 3).max(1) || strsim::jaro_winkler(word, best) >= 0.85;
    close.then_some(best)
}

/// The message for an unknown key `section.key` (the section may itself be unknown).
fn unknown_key_message(section: &str, key: &str) -> String {
    if !SECTIONS.contains(&section) {
        return unknown_section_message(section);
    }
    if let Some(elsewhere) = known_keys().find(|full| {
        full.split_once('.')
            .is_some_and(|(sec, k)| k == key && sec != section)
    }) {
        return format!("unknown key; did you mean `{elsewhere}`?");
    }
    let keys = section_keys(section);
    match closest(key, &keys) {
        Some(best) => format!("unknown key; did you mean `{section}.{best}`?"),
        None => format!(
            "unknown key; valid keys in [{section}]: {}",
            keys.join(", ")
        ),
    }
}

/// The message for an unknown section name.
fn unknown_section_message(section: &str) -> String {
    match closest(section, &SECTIONS) {
        Some(best) => format!("unknown section [{section}]; did you mean [{best}]?"),
        None => format!(
            "unknown section [{section}]; valid sections: {}",
            SECTIONS.join(", ")
        ),
    }
}

/// Rejects unknown sections and keys, and sections that are not tables.
fn check_schema(root: &Table, ctx: &Ctx) -> Result<(), ConfigError> {
    for (name, value) in root {
        if !SECTIONS.contains(&name.as_str()) {
            if !matches!(value, Value::Table(_)) {
                // A key written before any section header, e.g. `n = 101`.
                if let Some(full) =
                    known_keys().find(|f| f.split_once('.').map(|p| p.1) == Some(name))
                {
                    let msg = format!("key outside any section; did you mean `{full}`?");
                    return Err(ctx.err(name, msg));
                }
                let msg = format!(
                    "unknown key outside any section; keys belong in a section: {}",
                    SECTIONS.join(", ")
                );
                return Err(ctx.err(name, msg));
            }
            return Err(ctx.err(name, unknown_section_message(name)));
        }
        let Value::Table(table) = value else {
            let msg = format!("must be a section ([{name}]), found {}", describe(value));
            return Err(ctx.err(name, msg));
        };
        for (key, value) in table {
            let full = format!("{name}.{key}");
            if key_type(&full).is_none() {
                return Err(ctx.err(&full, unknown_key_message(name, key)));
            }
            if full == "initial.components" {
                check_component_keys(value, ctx)?;
            }
        }
    }
    Ok(())
}

/// Rejects unknown keys inside the tables of `initial.components`.
fn check_component_keys(value: &Value, ctx: &Ctx) -> Result<(), ConfigError> {
    let Value::Array(items) = value else {
        return Ok(()); // the type error is reported when reading
    };
    for (i, item) in items.iter().enumerate() {
        let Value::Table(table) = item else {
            continue;
        };
        for key in table.keys() {
            if !COMPONENT_KEYS.contains(&key.as_str()) {
                let full = format!("initial.components[{i}].{key}");
                let msg = match closest(key, &COMPONENT_KEYS) {
                    Some(best) => {
                        format!("unknown key; did you mean `initial.components[{i}].{best}`?")
                    }
                    None => format!("unknown key; valid keys: {}", COMPONENT_KEYS.join(", ")),
                };
                return Err(ctx.err(&full, msg));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Overrides
// ---------------------------------------------------------------------------------------------

/// Applies one `section.key=value` override to `root`; returns the full key.
fn apply_override(root: &mut Table, spec: &str) -> Result<String, ConfigError> {
    let malformed = || {
        ConfigError::new(
            SET_ORIGIN,
            Some(spec),
            "malformed override; expected section.key=value (e.g. time.scheme=upwind)",
        )
    };
    let (path, raw) = spec.split_once('=').ok_or_else(malformed)?;
    let (path, raw) = (path.trim(), raw.trim());
    let (section, key) = path.split_once('.').ok_or_else(malformed)?;
    if section.is_empty() || key.is_empty() || key.contains('.') {
        return Err(malformed());
    }
    let full = format!("{section}.{key}");
    let Some(ty) = key_type(&full) else {
        let msg = unknown_key_message(section, key);
        return Err(ConfigError::new(SET_ORIGIN, Some(&full), msg));
    };
    let value = override_value(raw, ty);
    let entry = root
        .entry(section.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    let Value::Table(table) = entry else {
        let msg = format!("cannot set: `{section}` in the config file is not a section");
        return Err(ConfigError::new(SET_ORIGIN, Some(&full), msg));
    };
    table.insert(key.to_string(), value);
    Ok(full)
}

/// Parses an override value as TOML; a bare word (or anything for a string key) is a string.
fn override_value(raw: &str, ty: Ty) -> Value {
    let parsed = format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .filter(|t| t.len() == 1)
        .and_then(|mut t| t.remove("v"));
    match parsed {
        Some(Value::String(s)) => Value::String(s),
        Some(v) if ty != Ty::Str => v,
        // `study.scheme=[sg,upwind]`: bare words in a list are names.
        _ if ty == Ty::StrArray && raw.starts_with('[') && raw.ends_with(']') => Value::Array(
            raw[1..raw.len() - 1]
                .split(',')
                .map(|w| Value::String(w.trim().trim_matches('"').to_string()))
                .filter(|v| v.as_str() != Some(""))
                .collect(),
        ),
        _ => Value::String(raw.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

impl Config {
    /// Reads, overrides and validates the config file at `path`.
    ///
    /// Messages name the file by `path` as given; relative paths inside the file are resolved
    /// against the file's directory.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Config, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(&source, None, format!("cannot read: {e}")))?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        Config::from_toml_str(&text, &source, base_dir, overrides)
    }

    /// Parses `text` (the contents of the file named `source` in directory `base_dir`), applies
    /// the `section.key=value` `overrides`, checks keys against the schema, reads typed values,
    /// fills in defaults and validates ranges.
    pub fn from_toml_str(
        text: &str,
        source: &str,
        base_dir: &Path,
        overrides: &[String],
    ) -> Result<Config, ConfigError> {
        let mut root: Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::new(source, None, e.to_string().trim_end().to_string())
        })?;
        let mut overridden = Vec::with_capacity(overrides.len());
        for spec in overrides {
            overridden.push(apply_override(&mut root, spec)?);
        }
        let ctx = Ctx { source, overridden };
        check_schema(&root, &ctx)?;
        let base_dir = absolute_dir(base_dir);
        let sec = |name: &str| Sec {
            prefix: name.to_string(),
            table: root.get(name).and_then(Value::as_table),
            ctx: &ctx,
        };
        let grid = read_grid(&sec("grid"))?;
        let model = read_model(&sec("model"), grid.dim)?;
        let initial = read_initial(&sec("initial"), grid.dim, &base_dir)?;
        let time = read_time(&sec("time"))?;
        let decomposition = read_decomposition(&sec("decomposition"), grid.dim)?;
        let output = read_output(&sec("output"))?;
        let checkpoint = read_checkpoint(&sec("checkpoint"))?;
        let reverse = read_reverse(&sec("reverse"))?;
        let study = read_study(&sec("study"), grid.half_width)?;
        let particles = read_particles(&sec("particles"))?;
        let filter = read_filter(&sec("filter"))?;
        Ok(Config {
            grid,
            model,
            initial,
            time,
            decomposition,
            output,
            checkpoint,
            reverse,
            study,
            particles,
            filter,
            source: source.to_string(),
            base_dir,
        })
    }

    /// Checks the process grid against the number of ranks.
    ///
    /// With an explicit `decomposition.procs`, it must have `dim` entries whose product is
    /// `nranks`, and no axis may have more ranks than cells. Without it, the driver chooses the
    /// grid; here only the obvious impossibility (more ranks than cells) is reported.
    pub fn validate_for_ranks(&self, nranks: usize) -> Result<(), ConfigError> {
        let n = self.grid.n;
        let dim = self.grid.dim;
        let err = |key: &str, msg: String| ConfigError::new(&self.source, Some(key), msg);
        if nranks == 0 {
            return Err(ConfigError::new(&self.source, None, "the job has no ranks"));
        }
        match &self.decomposition.procs {
            Some(procs) => {
                let key = "decomposition.procs";
                if procs.len() != dim {
                    let msg = format!("has {} entries but grid.dim = {dim}", procs.len());
                    return Err(err(key, msg));
                }
                let product = procs.iter().fold(1usize, |acc, p| acc.saturating_mul(*p));
                if product != nranks {
                    let msg = format!(
                        "{} uses {product} ranks (the product) but the job runs on {nranks}",
                        fmt_ints(procs)
                    );
                    return Err(err(key, msg));
                }
                for (axis, &p) in ["x", "y"].iter().zip(procs) {
                    if p > n {
                        let msg = format!(
                            "{p} ranks along {axis} but grid.n = {n} cells; \
                             every rank needs at least one cell"
                        );
                        return Err(err(key, msg));
                    }
                }
                Ok(())
            }
            None => {
                let cells = if dim == 1 { n } else { n.saturating_mul(n) };
                if nranks > cells {
                    let msg = format!(
                        "the job runs on {nranks} ranks but grid.n = {n} gives only {cells} cells; \
                         use fewer ranks or a larger grid.n"
                    );
                    return Err(err("grid.n", msg));
                }
                Ok(())
            }
        }
    }

    /// Advice that does not make the config invalid (e.g. a box too small for the diffusion).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let l = self.grid.half_width;
        let min_l = 6.0 * self.model.diffusion.sqrt();
        if l < min_l {
            out.push(format!(
                "grid.half_width = {} is below 6 sqrt(D) = {}: the box perturbs the dynamics \
                 and the critical mass",
                fmt_f64(l),
                fmt_f64(min_l)
            ));
        }
        let reach = |centre: &[f64], extent: f64| centre.iter().any(|c| c.abs() + extent > l);
        let init = &self.initial;
        match init.kind {
            InitialKind::GaussianMixture => {
                for (i, c) in init.components.iter().enumerate() {
                    if reach(&c.mean, 3.0 * c.std) {
                        out.push(format!(
                            "initial.components[{i}]: mean +- 3 std reaches beyond the domain \
                             [-{0}, {0}]; mass outside is cut off",
                            fmt_f64(l)
                        ));
                    }
                }
            }
            InitialKind::Disc | InitialKind::Ring => {
                let extent = init.radius.unwrap_or(0.0) + 3.0 * init.width.unwrap_or(0.0);
                if reach(&init.centre, extent) {
                    out.push(format!(
                        "initial: the {} reaches beyond the domain [-{1}, {1}]; mass outside is \
                         cut off",
                        init.kind.name(),
                        fmt_f64(l)
                    ));
                }
            }
            InitialKind::Points => {}
        }
        out
    }

    /// The resolved configuration (every default filled in) as TOML text.
    ///
    /// Loading it again with the same `source` and `base_dir` gives an equal [`Config`].
    pub fn to_toml(&self) -> String {
        let mut lines = vec![format!("# resolved configuration of {}", self.source)];
        let mut push = |header: &str, body: Vec<String>| {
            lines.push(String::new());
            lines.push(header.to_string());
            lines.extend(body);
        };
        push("[grid]", self.grid_lines());
        push("[model]", self.model_lines());
        push("[initial]", self.initial_lines());
        for c in &self.initial.components {
            push("[[initial.components]]", component_lines(c));
        }
        push("[time]", self.time_lines());
        let procs = match &self.decomposition.procs {
            Some(procs) => format!("procs = {}", fmt_ints(procs)),
            None => "# procs not set: automatic balanced process grid".to_string(),
        };
        push("[decomposition]", vec![procs]);
        let o = &self.output;
        push(
            "[output]",
            vec![
                format!("dir = {}", fmt_str(&o.dir.to_string_lossy())),
                format!("diagnostics_every = {}", o.diagnostics_every),
                format!("progress_every = {}", fmt_f64(o.progress_every)),
                format!("snapshot_every = {}", o.snapshot_every),
                format!("snapshot_dt = {}", fmt_f64(o.snapshot_dt)),
                format!("io = {}", fmt_str(o.io.name())),
            ],
        );
        let c = &self.checkpoint;
        push(
            "[checkpoint]",
            vec![
                format!("every_steps = {}", c.every_steps),
                format!("every_seconds = {}", fmt_f64(c.every_seconds)),
                format!("keep = {}", c.keep),
                format!("dir = {}", fmt_str(&c.dir.to_string_lossy())),
                format!("on_usr1 = {}", fmt_str(c.on_usr1.name())),
            ],
        );
        let r = &self.reverse;
        push(
            "[reverse]",
            vec![
                format!("start = {}", fmt_str(r.start.name())),
                format!("noise = {}", fmt_f64(r.noise)),
                format!("method = {}", fmt_str(r.method.name())),
                format!("lambda = {}", fmt_f64(r.lambda)),
                format!("store = {}", fmt_str(r.store.name())),
                format!("recompute_every = {}", r.recompute_every),
                format!("samples = {}", r.samples),
                format!("seed = {}", r.seed),
                format!("sampler = {}", fmt_str(r.sampler.name())),
                format!("sde_safety = {}", fmt_f64(r.sde_safety)),
            ],
        );
        // A run's own config (the study's runs, forward runs) has no [study] section.
        if self.study != StudyConfig::default() {
            push("[study]", self.study_lines());
        }
        let p = &self.particles;
        push(
            "[particles]",
            vec![
                format!("count = {}", p.count),
                format!("seed = {}", p.seed),
                format!("dt = {}", fmt_f64(p.dt)),
                format!("smoothing = {}", p.smoothing),
                format!("positions_every = {}", p.positions_every),
                match p.r0 {
                    Some(r0) => format!("r0 = {}", fmt_f64(r0)),
                    None => "# r0 not set: 0.5 sqrt(model.diffusion)".to_string(),
                },
            ],
        );
        let f = &self.filter;
        let variants: Vec<String> = f.variants.iter().map(|v| fmt_str(v.name())).collect();
        push(
            "[filter]",
            vec![
                format!("cycles = {}", f.cycles),
                format!("variant = [{}]", variants.join(", ")),
                format!("lambda = {}", fmt_f64(f.lambda)),
                format!("smoothing = {}", fmt_f64(f.smoothing)),
                format!("noise_kind = {}", fmt_str(f.noise_kind.name())),
                format!("noise = {}", fmt_f64(f.noise)),
                format!("seed = {}", f.seed),
                format!("samples = {}", f.samples),
            ],
        );
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// A canonical text of the keys that define the physics: `grid.*`, `model.*`, `initial.*`,
    /// `time.scheme` and `time.stepper`, one `key = value` per line in schema order.
    ///
    /// Two configs with the same fingerprint compute the same solution (output cadence, end time,
    /// step limits and decomposition may differ).
    pub fn physics_fingerprint(&self) -> String {
        let mut lines = vec!["# nlfp physics v1".to_string()];
        let prefixed = |section: &str, body: Vec<String>| {
            body.into_iter()
                .map(|l| format!("{section}.{l}"))
                .collect::<Vec<_>>()
        };
        lines.extend(prefixed("grid", self.grid_lines()));
        lines.extend(prefixed("model", self.model_lines()));
        lines.extend(prefixed("initial", self.initial_lines()));
        for (i, c) in self.initial.components.iter().enumerate() {
            lines.extend(prefixed(
                &format!("initial.components[{i}]"),
                component_lines(c),
            ));
        }
        lines.push(format!(
            "time.stepper = {}",
            fmt_str(self.time.stepper.name())
        ));
        lines.push(format!(
            "time.scheme = {}",
            fmt_str(self.time.scheme.name())
        ));
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    fn grid_lines(&self) -> Vec<String> {
        let g = &self.grid;
        vec![
            format!("dim = {}", g.dim),
            format!("n = {}", g.n),
            format!("half_width = {}", fmt_f64(g.half_width)),
        ]
    }

    fn model_lines(&self) -> Vec<String> {
        let m = &self.model;
        let mut out = vec![
            format!("diffusion = {}", fmt_f64(m.diffusion)),
            format!("kappa = {}", fmt_f64(m.kappa)),
            format!("gamma = {}", fmt_f64(m.gamma)),
        ];
        if let Some(mass) = m.mass {
            out.push(format!("mass = {}", fmt_f64(mass)));
        }
        if let Some(ratio) = m.mass_ratio {
            out.push(format!("mass_ratio = {}", fmt_f64(ratio)));
        }
        out
    }

    /// The plain `[initial]` keys used by the kind (components are written separately).
    fn initial_lines(&self) -> Vec<String> {
        let init = &self.initial;
        let kind = init.kind;
        let mut out = vec![format!("kind = {}", fmt_str(kind.name()))];
        if kind.uses("centre") {
            out.push(format!("centre = {}", fmt_floats(&init.centre)));
        }
        if let (true, Some(r)) = (kind.uses("radius"), init.radius) {
            out.push(format!("radius = {}", fmt_f64(r)));
        }
        if let (true, Some(w)) = (kind.uses("width"), init.width) {
            out.push(format!("width = {}", fmt_f64(w)));
        }
        if let (true, Some(f)) = (kind.uses("file"), &init.file) {
            out.push(format!("file = {}", fmt_str(&f.to_string_lossy())));
        }
        out
    }

    fn study_lines(&self) -> Vec<String> {
        let s = &self.study;
        let mut out = Vec::new();
        if !s.mass_ratio.is_empty() {
            out.push(format!("mass_ratio = {}", fmt_floats(&s.mass_ratio)));
        }
        if !s.gamma.is_empty() {
            out.push(format!("gamma = {}", fmt_floats(&s.gamma)));
        }
        if !s.n.is_empty() {
            out.push(format!("n = {}", fmt_ints(&s.n)));
        }
        if !s.scheme.is_empty() {
            let names: Vec<String> = s.scheme.iter().map(|x| fmt_str(x.name())).collect();
            out.push(format!("scheme = [{}]", names.join(", ")));
        }
        out.push(format!("refine = {}", s.refine));
        if let Some(r0) = s.r0 {
            out.push(format!("r0 = {}", fmt_f64(r0)));
        }
        out.push(format!("profile_fit = {}", fmt_floats(&s.profile_fit)));
        out.push(format!("relax_levels = {}", fmt_floats(&s.relax_levels)));
        out.push(format!("pictures = {}", s.pictures));
        out.push(format!("heatmap_log = {}", s.heatmap_log));
        out
    }

    fn time_lines(&self) -> Vec<String> {
        let t = &self.time;
        vec![
            format!("t_end = {}", fmt_f64(t.t_end)),
            format!("stepper = {}", fmt_str(t.stepper.name())),
            format!("scheme = {}", fmt_str(t.scheme.name())),
            format!("safety = {}", fmt_f64(t.safety)),
            format!("dt_max = {}", fmt_f64(t.dt_max)),
            format!("max_steps = {}", t.max_steps),
        ]
    }
}

/// The keys of one mixture component.
fn component_lines(c: &ComponentConfig) -> Vec<String> {
    vec![
        format!("weight = {}", fmt_f64(c.weight)),
        format!("mean = {}", fmt_floats(&c.mean)),
        format!("std = {}", fmt_f64(c.std)),
    ]
}

/// `dir` made absolute against the working directory (without touching the file system beyond
/// reading the working directory), so that resolved paths do not depend on how it was spelled.
fn absolute_dir(dir: &Path) -> PathBuf {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// `[grid]`.
fn read_grid(g: &Sec) -> Result<GridConfig, ConfigError> {
    let dim = g.int("dim")?.unwrap_or(DEFAULT_DIM as i64);
    if dim != 1 && dim != 2 {
        return Err(g.err("dim", format!("must be 1 or 2, got {dim}")));
    }
    let n = g.required("n", g.int("n")?, "cells per axis: an odd number >= 5")?;
    if n < 5 {
        return Err(g.err("n", format!("must be at least 5, got {n}")));
    }
    if n % 2 == 0 {
        return Err(g.err("n", format!("must be odd, got {n}")));
    }
    let n = usize::try_from(n).map_err(|_| g.err("n", format!("is too large, got {n}")))?;
    Ok(GridConfig {
        dim: dim as usize,
        n,
        half_width: g.positive_or("half_width", DEFAULT_HALF_WIDTH)?,
    })
}

/// `[model]`.
fn read_model(m: &Sec, dim: usize) -> Result<ModelConfig, ConfigError> {
    let diffusion = m.positive_or("diffusion", DEFAULT_DIFFUSION)?;
    let kappa = m.float("kappa")?.unwrap_or(DEFAULT_KAPPA);
    if kappa < 0.0 {
        return Err(m.err("kappa", format!("must be >= 0, got {}", fmt_f64(kappa))));
    }
    let gamma = m.positive_or("gamma", DEFAULT_GAMMA)?;
    let mass = m.opt_positive("mass")?;
    let mass_ratio = m.opt_positive("mass_ratio")?;
    match (mass, mass_ratio) {
        (Some(_), Some(_)) => {
            let msg = "and model.mass_ratio are both set; give exactly one of them";
            return Err(m.err("mass", msg));
        }
        (None, None) => {
            let msg = "is required: set model.mass (the mass) or model.mass_ratio \
                       (a multiple of the critical mass)";
            return Err(m.err("mass", msg));
        }
        _ => {}
    }
    if mass_ratio.is_some() {
        if gamma * dim as f64 <= 2.0 {
            let msg = format!(
                "no critical mass exists when gamma*dim <= 2 (gamma = {}, dim = {dim}); \
                 set model.mass instead",
                fmt_f64(gamma)
            );
            return Err(m.err("mass_ratio", msg));
        }
        if kappa == 0.0 {
            let msg = "no critical mass exists when kappa = 0 (linear model); \
                       set model.mass instead";
            return Err(m.err("mass_ratio", msg));
        }
    }
    Ok(ModelConfig {
        diffusion,
        kappa,
        gamma,
        mass,
        mass_ratio,
    })
}

/// Checks that a point has `dim` coordinates.
fn check_len(s: &Sec, key: &str, point: &[f64], dim: usize) -> Result<(), ConfigError> {
    if point.len() == dim {
        Ok(())
    } else {
        let msg = format!("has {} coordinates but grid.dim = {dim}", point.len());
        Err(s.err(key, msg))
    }
}

/// `[initial]`.
fn read_initial(i: &Sec, dim: usize, base_dir: &Path) -> Result<InitialConfig, ConfigError> {
    let names: Vec<&str> = InitialKind::ALL.iter().map(InitialKind::name).collect();
    let kind = i.name("kind", &InitialKind::ALL, InitialKind::name)?;
    let kind = i.required("kind", kind, &format!("one of {}", names.join(", ")))?;
    for key in ["components", "centre", "radius", "width", "file"] {
        if i.has(key) && !kind.uses(key) {
            let msg = format!("is not used by kind = \"{}\"", kind.name());
            return Err(i.err(key, msg));
        }
    }
    let needed = format!("for kind = \"{}\"", kind.name());
    let components = if kind.uses("components") {
        let c = read_components(i, dim)?;
        i.required(
            "components",
            c,
            &format!("at least one [[initial.components]] {needed}"),
        )?
    } else {
        Vec::new()
    };
    let centre = i.floats("centre")?.unwrap_or_else(|| vec![0.0; dim]);
    check_len(i, "centre", &centre, dim)?;
    let radius = i.opt_positive("radius")?;
    if kind.uses("radius") {
        i.required("radius", radius, &needed)?;
    }
    let width = i.opt_positive("width")?;
    if kind.uses("width") {
        i.required("width", width, &needed)?;
    }
    let file = match i.string("file")? {
        Some("") => return Err(i.err("file", "must not be empty")),
        Some(f) => Some(base_dir.join(f)),
        None => None,
    };
    if kind.uses("file") {
        i.required(
            "file",
            file.as_ref(),
            &format!("a CSV of sample coordinates {needed}"),
        )?;
    }
    Ok(InitialConfig {
        kind,
        components,
        centre,
        radius,
        width,
        file,
    })
}

/// `initial.components`; `None` if absent.
fn read_components(i: &Sec, dim: usize) -> Result<Option<Vec<ComponentConfig>>, ConfigError> {
    let Some(value) = i.raw("components") else {
        return Ok(None);
    };
    let expected = || {
        let msg = format!(
            "expected an array of tables ([[initial.components]]), found {}",
            describe(value)
        );
        i.err("components", msg)
    };
    let Value::Array(items) = value else {
        return Err(expected());
    };
    if items.is_empty() {
        return Err(i.err("components", "needs at least one component"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let Value::Table(table) = item else {
            return Err(expected());
        };
        let c = Sec {
            prefix: format!("initial.components[{k}]"),
            table: Some(table),
            ctx: i.ctx,
        };
        let weight = c.opt_positive("weight")?;
        let weight = c.required("weight", weight, "a relative weight > 0")?;
        let mean = c.floats("mean")?;
        let mean = c.required("mean", mean, "the centre, one coordinate per axis")?;
        check_len(&c, "mean", &mean, dim)?;
        let std = c.opt_positive("std")?;
        let std = c.required("std", std, "the standard deviation > 0")?;
        out.push(ComponentConfig { weight, mean, std });
    }
    Ok(Some(out))
}

/// `[time]`.
fn read_time(t: &Sec) -> Result<TimeConfig, ConfigError> {
    let t_end = t.opt_positive("t_end")?;
    let t_end = t.required("t_end", t_end, "the final time > 0")?;
    let stepper = t.name("stepper", &StepperName::ALL, StepperName::name)?;
    let scheme = t.name("scheme", &SchemeName::ALL, SchemeName::name)?;
    let safety = t.float("safety")?.unwrap_or(DEFAULT_SAFETY);
    if !(safety > 0.0 && safety < 1.0) {
        let msg = format!("must be strictly between 0 and 1, got {}", fmt_f64(safety));
        return Err(t.err("safety", msg));
    }
    Ok(TimeConfig {
        t_end,
        stepper: stepper.unwrap_or(DEFAULT_STEPPER),
        scheme: scheme.unwrap_or(DEFAULT_SCHEME),
        safety,
        dt_max: t.positive_or("dt_max", DEFAULT_DT_MAX)?,
        max_steps: t.int_at_least("max_steps", 1, DEFAULT_MAX_STEPS)?,
    })
}

/// `[decomposition]`.
fn read_decomposition(d: &Sec, dim: usize) -> Result<DecompositionConfig, ConfigError> {
    let Some(procs) = d.ints("procs")? else {
        return Ok(DecompositionConfig { procs: None });
    };
    if procs.len() != dim {
        let msg = format!(
            "has {} entries but grid.dim = {dim}; give one rank count per axis",
            procs.len()
        );
        return Err(d.err("procs", msg));
    }
    if let Some(bad) = procs.iter().find(|&&p| p < 1) {
        return Err(d.err("procs", format!("entries must be >= 1, got {bad}")));
    }
    Ok(DecompositionConfig {
        procs: Some(procs.into_iter().map(|p| p as usize).collect()),
    })
}

/// `[output]`.
fn read_output(o: &Sec) -> Result<OutputConfig, ConfigError> {
    let dir = o.string("dir")?.unwrap_or(DEFAULT_OUTPUT_DIR);
    if dir.is_empty() {
        return Err(o.err("dir", "must not be empty"));
    }
    Ok(OutputConfig {
        dir: PathBuf::from(dir),
        diagnostics_every: o.int_at_least("diagnostics_every", 1, DEFAULT_DIAGNOSTICS_EVERY)?,
        progress_every: o.positive_or("progress_every", DEFAULT_PROGRESS_EVERY)?,
        snapshot_every: o.int_at_least("snapshot_every", 0, 0)?,
        snapshot_dt: o.non_negative_or("snapshot_dt", 0.0)?,
        io: o
            .name("io", &IoName::ALL, IoName::name)?
            .unwrap_or(IoName::Collective),
    })
}

/// `[checkpoint]`.
fn read_checkpoint(c: &Sec) -> Result<CheckpointConfig, ConfigError> {
    let dir = c.string("dir")?.unwrap_or(DEFAULT_CHECKPOINT_DIR);
    if dir.is_empty() {
        return Err(c.err("dir", "must not be empty"));
    }
    Ok(CheckpointConfig {
        every_steps: c.int_at_least("every_steps", 0, 0)?,
        every_seconds: c.non_negative_or("every_seconds", 0.0)?,
        keep: c.int_at_least("keep", 1, DEFAULT_CHECKPOINT_KEEP)?,
        dir: PathBuf::from(dir),
        on_usr1: c
            .name("on_usr1", &Usr1Action::ALL, Usr1Action::name)?
            .unwrap_or(Usr1Action::Continue),
    })
}

/// Rejects repeated entries of a study list (they would give two runs of the same name).
fn check_distinct<T: PartialEq>(
    s: &Sec,
    key: &str,
    items: &[T],
    show: impl Fn(&T) -> String,
) -> Result<(), ConfigError> {
    if items.is_empty() {
        return Err(s.err(
            key,
            "must not be empty (leave the key out for the base value)",
        ));
    }
    for (i, a) in items.iter().enumerate() {
        if items[..i].contains(a) {
            return Err(s.err(key, format!("lists {} twice", show(a))));
        }
    }
    Ok(())
}

/// A `[lo, hi]` window: two numbers with `lo < hi`, `lo >= 0` (`lo > 0` if `positive`), and
/// `hi <= max` when given.
fn read_window(
    s: &Sec,
    key: &str,
    default: [f64; 2],
    positive: bool,
    max: Option<f64>,
) -> Result<[f64; 2], ConfigError> {
    let Some(v) = s.floats(key)? else {
        return Ok(default);
    };
    let shown = fmt_floats(&v);
    let ok = v.len() == 2
        && (v[0] > 0.0 || (!positive && v[0] == 0.0))
        && v[0] < v[1]
        && max.is_none_or(|m| v[1] <= m);
    if !ok {
        let low = if positive { "0 < lo" } else { "0 <= lo" };
        let bound = max.map_or(String::new(), |m| format!(" <= {}", fmt_f64(m)));
        let msg = format!("must be two numbers [lo, hi] with {low} < hi{bound}, got {shown}");
        return Err(s.err(key, msg));
    }
    Ok([v[0], v[1]])
}

/// `[study]`.
fn read_study(s: &Sec, half_width: f64) -> Result<StudyConfig, ConfigError> {
    let mass_ratio = s.float_list("mass_ratio")?.unwrap_or_default();
    for &r in &mass_ratio {
        s.positive("mass_ratio", r)?;
    }
    if s.has("mass_ratio") {
        check_distinct(s, "mass_ratio", &mass_ratio, |x| fmt_f64(*x))?;
    }
    let gamma = s.float_list("gamma")?.unwrap_or_default();
    for &g in &gamma {
        s.positive("gamma", g)?;
    }
    if s.has("gamma") {
        check_distinct(s, "gamma", &gamma, |x| fmt_f64(*x))?;
    }
    let mut n = Vec::new();
    for k in s.int_list("n")?.unwrap_or_default() {
        if k < 5 || k % 2 == 0 {
            let msg = format!("entries must be odd and at least 5, got {k}");
            return Err(s.err("n", msg));
        }
        n.push(usize::try_from(k).map_err(|_| s.err("n", format!("is too large, got {k}")))?);
    }
    if s.has("n") {
        check_distinct(s, "n", &n, usize::to_string)?;
    }
    let scheme = s
        .name_list("scheme", &SchemeName::ALL, SchemeName::name)?
        .unwrap_or_default();
    if s.has("scheme") {
        check_distinct(s, "scheme", &scheme, |x| x.name().to_string())?;
    }
    let r0 = s.opt_positive("r0")?;
    if let Some(r0) = r0.filter(|&r| r >= half_width) {
        let msg = format!(
            "must be below grid.half_width = {}, got {}",
            fmt_f64(half_width),
            fmt_f64(r0)
        );
        return Err(s.err("r0", msg));
    }
    Ok(StudyConfig {
        mass_ratio,
        gamma,
        n,
        scheme,
        refine: s.boolean("refine")?.unwrap_or(true),
        r0,
        profile_fit: read_window(s, "profile_fit", DEFAULT_PROFILE_FIT, false, None)?,
        relax_levels: read_window(s, "relax_levels", DEFAULT_RELAX_LEVELS, true, Some(1.0))?,
        pictures: s.boolean("pictures")?.unwrap_or(true),
        heatmap_log: s.boolean("heatmap_log")?.unwrap_or(true),
    })
}

/// `[reverse]`.
fn read_reverse(r: &Sec) -> Result<ReverseConfig, ConfigError> {
    let start = r
        .name("start", &StartName::ALL, StartName::name)?
        .unwrap_or(StartName::Asymptotic);
    let noise = r.non_negative_or("noise", 0.0)?;
    if noise >= 1.0 {
        return Err(r.err(
            "noise",
            format!(
                "must be < 1 (the density must stay positive), got {}",
                fmt_f64(noise)
            ),
        ));
    }
    if start == StartName::Perturbed && noise == 0.0 {
        return Err(r.err("noise", "must be > 0 for start = \"perturbed\""));
    }
    Ok(ReverseConfig {
        start,
        noise,
        method: r
            .name("method", &ReverseMethodName::ALL, ReverseMethodName::name)?
            .unwrap_or(ReverseMethodName::Exact),
        lambda: r.non_negative_or("lambda", 1.0)?,
        store: r
            .name("store", &StoreName::ALL, StoreName::name)?
            .unwrap_or(StoreName::Memory),
        recompute_every: r.int_at_least("recompute_every", 0, 0)?,
        samples: r.int_at_least("samples", 0, 10_000)?,
        seed: r.int_at_least("seed", 0, 1)?,
        sampler: r
            .name("sampler", &SamplerName::ALL, SamplerName::name)?
            .unwrap_or(SamplerName::Walk),
        sde_safety: r.positive_or("sde_safety", crate::particles::reverse::DEFAULT_SAFETY)?,
    })
}

/// `[particles]`.
fn read_particles(p: &Sec) -> Result<ParticlesConfig, ConfigError> {
    let count = p.int_at_least("count", 1, DEFAULT_PARTICLE_COUNT)?;
    let max = crate::particles::cic::MAX_PARTICLES;
    if count > max {
        let msg = format!(
            "must be at most {max} (2^31 - 1: the exact integer deposit holds 2^32 units per \
             particle in 64 bits), got {count}"
        );
        return Err(p.err("count", msg));
    }
    Ok(ParticlesConfig {
        count,
        seed: p.int_at_least("seed", 0, DEFAULT_PARTICLE_SEED)?,
        dt: p.positive_or("dt", DEFAULT_PARTICLE_DT)?,
        smoothing: p.int_at_least("smoothing", 0, DEFAULT_PARTICLE_SMOOTHING)?,
        positions_every: p.int_at_least("positions_every", 0, 0)?,
        r0: p.opt_positive("r0")?,
    })
}

/// Default `filter.variant`: every variant that `nlfp filter` compares.
pub const DEFAULT_FILTER_VARIANTS: [FilterVariantName; 3] = [
    FilterVariantName::ExactTerminal,
    FilterVariantName::ExactAsymptotic,
    FilterVariantName::Score,
];

/// `[filter]`.
fn read_filter(f: &Sec) -> Result<FilterConfig, ConfigError> {
    let cycles = f.int_at_least("cycles", 1, 3)?;
    let variants = f
        .name_list("variant", &FilterVariantName::ALL, FilterVariantName::name)?
        .unwrap_or_else(|| DEFAULT_FILTER_VARIANTS.to_vec());
    if variants.is_empty() {
        return Err(f.err("variant", "must name at least one variant"));
    }
    for (i, v) in variants.iter().enumerate() {
        if variants[..i].contains(v) {
            return Err(f.err("variant", format!("lists `{}` twice", v.name())));
        }
    }
    let noise_kind = f
        .name("noise_kind", &NoiseKindName::ALL, NoiseKindName::name)?
        .unwrap_or(NoiseKindName::Multiplicative);
    let noise = f.non_negative_or("noise", 0.3)?;
    if noise_kind == NoiseKindName::Multiplicative && noise >= 1.0 {
        return Err(f.err(
            "noise",
            format!(
                "must be < 1 for noise_kind = \"multiplicative\" (the density must stay \
                 positive), got {}",
                fmt_f64(noise)
            ),
        ));
    }
    let samples = f.int_at_least("samples", 0, 10_000)?;
    if noise_kind == NoiseKindName::Samples && samples == 0 {
        return Err(f.err("samples", "must be >= 1 for noise_kind = \"samples\""));
    }
    Ok(FilterConfig {
        cycles,
        variants,
        lambda: f.non_negative_or("lambda", 3.0)?,
        smoothing: f.non_negative_or("smoothing", 1.0)?,
        noise_kind,
        noise,
        seed: f.int_at_least("seed", 0, 1)?,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "test.toml";
    const BASE: &str = "/runs/cfg";

    /// A minimal valid config: only the required keys.
    const MINIMAL: &str = r#"
[grid]
n = 101

[model]
mass_ratio = 0.5

[initial]
kind = "gaussian_mixture"

[[initial.components]]
weight = 1.0
mean = [0.0, 0.0]
std = 1.0

[time]
t_end = 1.0
"#;

    fn load(text: &str, overrides: &[&str]) -> Result<Config, ConfigError> {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Config::from_toml_str(text, SOURCE, Path::new(BASE), &overrides)
    }

    fn ok(text: &str, overrides: &[&str]) -> Config {
        load(text, overrides).unwrap_or_else(|e| panic!("unexpected error: {e}"))
    }

    fn err(text: &str, overrides: &[&str]) -> ConfigError {
        match load(text, overrides) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e,
        }
    }

    /// MINIMAL with `line` added right after the `header` line.
    fn with(header: &str, line: &str) -> String {
        let header = format!("{header}\n");
        assert!(MINIMAL.contains(&header), "no {header} in MINIMAL");
        MINIMAL.replacen(&header, &format!("{header}{line}\n"), 1)
    }

    /// Asserts that `e` concerns `key` and its message contains every one of `parts`.
    fn assert_err(e: &ConfigError, key: &str, parts: &[&str]) {
        assert_eq!(e.key.as_deref(), Some(key), "wrong key in `{e}`");
        for part in parts {
            assert!(e.message.contains(part), "`{e}` does not contain `{part}`");
        }
    }

    /// Error from MINIMAL with one override.
    fn set_err(spec: &str) -> ConfigError {
        err(MINIMAL, &[spec])
    }

    // --- loading and defaults ----------------------------------------------------------------

    #[test]
    fn minimal_config_gets_every_default() {
        let c = ok(MINIMAL, &[]);
        assert_eq!(
            c.grid,
            GridConfig {
                dim: DEFAULT_DIM,
                n: 101,
                half_width: DEFAULT_HALF_WIDTH
            }
        );
        assert_eq!(
            c.model,
            ModelConfig {
                diffusion: 1.0,
                kappa: 1.0,
                gamma: 2.0,
                mass: None,
                mass_ratio: Some(0.5)
            }
        );
        assert_eq!(c.model.mass_spec(), MassSpec::CriticalRatio(0.5));
        assert_eq!(c.initial.kind, InitialKind::GaussianMixture);
        assert_eq!(
            c.initial.components,
            vec![ComponentConfig {
                weight: 1.0,
                mean: vec![0.0, 0.0],
                std: 1.0
            }]
        );
        assert_eq!(c.initial.centre, vec![0.0, 0.0]);
        assert_eq!(
            c.time,
            TimeConfig {
                t_end: 1.0,
                stepper: StepperName::Ssprk2,
                scheme: SchemeName::Sg,
                safety: 0.9,
                dt_max: 1.0e-2,
                max_steps: 100_000_000
            }
        );
        assert_eq!(c.decomposition.procs, None);
        assert_eq!(
            c.output,
            OutputConfig {
                dir: PathBuf::from("out"),
                diagnostics_every: 10,
                progress_every: 5.0,
                snapshot_every: 0,
                snapshot_dt: 0.0,
                io: IoName::Collective,
            }
        );
        assert_eq!(
            c.checkpoint,
            CheckpointConfig {
                every_steps: 0,
                every_seconds: 0.0,
                keep: 3,
                dir: PathBuf::from("checkpoints"),
                on_usr1: Usr1Action::Continue,
            }
        );
        assert_eq!(
            c.particles,
            ParticlesConfig {
                count: 100_000,
                seed: 1,
                dt: 1.0e-2,
                smoothing: 2,
                positions_every: 0,
                r0: None,
            }
        );
        assert_eq!(c.source, SOURCE);
        assert_eq!(c.base_dir, PathBuf::from(BASE));
    }

    #[test]
    fn integers_are_accepted_for_floats() {
        let c = ok(&with("[grid]", "half_width = 8"), &[]);
        assert_eq!(c.grid.half_width, 8.0);
    }

    #[test]
    fn toml_syntax_error_is_reported() {
        let e = err("[grid\nn = 101\n", &[]);
        assert_eq!(e.origin, SOURCE);
        assert_eq!(e.key, None);
        assert!(e.message.contains("line 1"), "{e}");
    }

    #[test]
    fn display_is_origin_key_message() {
        let e = err(&MINIMAL.replace("n = 101", "n = 100"), &[]);
        assert_eq!(e.to_string(), "test.toml: grid.n: must be odd, got 100");
        let e = ConfigError::new("a.toml", None, "boom");
        assert_eq!(e.to_string(), "a.toml: boom");
    }

    #[test]
    fn enum_names_match_serde_names() {
        #[derive(Deserialize)]
        struct W {
            k: InitialKind,
            s: StepperName,
            c: SchemeName,
        }
        for k in InitialKind::ALL {
            for s in StepperName::ALL {
                for c in SchemeName::ALL {
                    let text = format!(
                        "k = {:?}\ns = {:?}\nc = {:?}\n",
                        k.name(),
                        s.name(),
                        c.name()
                    );
                    let w: W = toml::from_str(&text).unwrap();
                    assert_eq!((w.k, w.s, w.c), (k, s, c));
                }
            }
        }
    }

    // --- defaults file -------------------------------------------------------------------------

    const DEFAULTS: &str = include_str!("../configs/defaults.toml");

    #[test]
    fn defaults_file_is_a_valid_config() {
        let c = Config::from_toml_str(DEFAULTS, "defaults.toml", Path::new("configs"), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    }

    #[test]
    fn defaults_file_mentions_every_key() {
        // Keys appear as `key = value`, possibly commented out; sections as `[name]`.
        let mut section = String::new();
        let mut seen = Vec::new();
        for line in DEFAULTS.lines() {
            let line = line.trim_start_matches('#').trim();
            if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
                section = name.to_string();
            } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_string();
            } else if let Some((key, _)) = line.split_once(" = ") {
                seen.push(format!("{section}.{}", key.trim()));
            }
        }
        for key in known_keys().filter(|k| *k != "initial.components") {
            assert!(
                seen.iter().any(|s| s == key),
                "{key} missing from defaults.toml"
            );
        }
        assert!(DEFAULTS.contains("\n[[initial.components]]\n"));
        for key in COMPONENT_KEYS {
            let full = format!("initial.components.{key}");
            assert!(seen.contains(&full), "{full} missing from defaults.toml");
        }
        for section in SECTIONS {
            assert!(
                DEFAULTS.contains(&format!("\n[{section}]\n")),
                "[{section}] missing"
            );
        }
    }

    #[test]
    fn defaults_file_values_are_the_code_defaults() {
        let d =
            Config::from_toml_str(DEFAULTS, "defaults.toml", Path::new("configs"), &[]).unwrap();
        // The same required values with every optional key left out.
        let mut required = format!(
            "[grid]\nn = {}\n[model]\nmass_ratio = {:?}\n[initial]\nkind = \"gaussian_mixture\"\n",
            d.grid.n,
            d.model.mass_ratio.unwrap()
        );
        for c in &d.initial.components {
            required += &format!(
                "[[initial.components]]\nweight = {:?}\nmean = {:?}\nstd = {:?}\n",
                c.weight, c.mean, c.std
            );
        }
        required += &format!("[time]\nt_end = {:?}\n", d.time.t_end);
        let m =
            Config::from_toml_str(&required, "defaults.toml", Path::new("configs"), &[]).unwrap();
        assert_eq!(d, m);
    }

    // --- round trip and fingerprint --------------------------------------------------------------

    fn assert_round_trip(c: &Config) {
        let text = c.to_toml();
        let again = Config::from_toml_str(&text, &c.source, &c.base_dir, &[])
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&again, c, "\n{text}");
        assert_eq!(again.to_toml(), text);
    }

    #[test]
    fn to_toml_round_trips() {
        assert_round_trip(&ok(MINIMAL, &[]));
        assert_round_trip(&ok(DEFAULTS, &[]));
        assert_round_trip(&ok(
            MINIMAL,
            &[
                "decomposition.procs=[2,3]",
                "model.mass_ratio=1.0000000000000002",
                "time.dt_max=1e-7",
                "time.scheme=upwind",
                "time.stepper=euler",
                "output.dir=runs/a b\"c",
                "time.max_steps=7",
                "output.progress_every=0.1",
                "grid.half_width=6.123456789012345",
                "particles.count=7",
                "particles.seed=9007199254740993",
                "particles.dt=0.1",
                "particles.smoothing=0",
                "particles.positions_every=3",
                "particles.r0=0.25",
            ],
        ));
        let ring = r#"
[grid]
dim = 1
n = 5
[model]
mass = 3.0
kappa = 0
gamma = 0.5
[initial]
kind = "ring"
centre = [0.25]
radius = 1e-3
width = 0.1
[time]
t_end = 1e20
"#;
        assert_round_trip(&ok(ring, &[]));
        let disc = ring
            .replace("\"ring\"", "\"disc\"")
            .replace("width = 0.1\n", "");
        assert_round_trip(&ok(&disc, &[]));
        let points = "[grid]\nn = 5\n[model]\nmass = 1\n[initial]\nkind = \"points\"\n\
                      file = \"data/p.csv\"\n[time]\nt_end = 1\n";
        assert_round_trip(&ok(points, &[]));
    }

    #[test]
    fn round_trip_with_relative_base_dir() {
        let points = "[grid]\nn = 5\n[model]\nmass = 1\n[initial]\nkind = \"points\"\n\
                      file = \"p.csv\"\n[time]\nt_end = 1\n";
        for base in ["", "configs", "./configs/"] {
            let c = Config::from_toml_str(points, "x.toml", Path::new(base), &[]).unwrap();
            assert!(c.base_dir.is_absolute());
            assert!(c.initial.file.as_ref().unwrap().is_absolute());
            let again =
                Config::from_toml_str(&c.to_toml(), "x.toml", Path::new(base), &[]).unwrap();
            assert_eq!(again, c);
        }
    }

    #[test]
    fn points_file_is_relative_to_config_dir() {
        let text = "[grid]\nn = 5\n[model]\nmass = 1\n[initial]\nkind = \"points\"\n\
                    file = \"data/p.csv\"\n[time]\nt_end = 1\n";
        let c = ok(text, &[]);
        assert_eq!(c.initial.file, Some(PathBuf::from("/runs/cfg/data/p.csv")));
        let c = ok(&text.replace("data/p.csv", "/abs/p.csv"), &[]);
        assert_eq!(c.initial.file, Some(PathBuf::from("/abs/p.csv")));
    }

    #[test]
    fn fingerprint_covers_physics_only() {
        let base = ok(MINIMAL, &[]);
        let fp = base.physics_fingerprint();
        for key in [
            "grid.dim = 2",
            "grid.n = 101",
            "model.mass_ratio = 0.5",
            "initial.kind",
            "time.scheme",
        ] {
            assert!(fp.contains(key), "{key} missing from\n{fp}");
        }
        let same = [
            "time.t_end=5",
            "time.safety=0.5",
            "time.dt_max=1e-3",
            "time.max_steps=10",
            "decomposition.procs=[1,2]",
            "output.dir=elsewhere",
            "output.diagnostics_every=1",
            "output.progress_every=1",
        ];
        for spec in same {
            assert_eq!(ok(MINIMAL, &[spec]).physics_fingerprint(), fp, "{spec}");
        }
        let different = [
            "grid.n=103",
            "grid.half_width=7",
            "model.diffusion=2",
            "model.kappa=0.5",
            "model.gamma=3",
            "model.mass_ratio=0.6",
            "time.scheme=upwind",
            "time.stepper=euler",
            "initial.components=[{weight=1, mean=[0, 0.1], std=1}]",
            "initial.components=[{weight=2, mean=[0, 0], std=1}]",
            "initial.components=[{weight=1, mean=[0, 0], std=1.5}]",
        ];
        for spec in different {
            assert_ne!(ok(MINIMAL, &[spec]).physics_fingerprint(), fp, "{spec}");
        }
    }

    // --- overrides ---------------------------------------------------------------------------

    #[test]
    fn overrides_parse_toml_values_and_bare_strings() {
        let c = ok(
            MINIMAL,
            &[
                "time.scheme=upwind",
                "time.stepper = \"euler\"",
                "grid.n=201",
                "decomposition.procs=[2,1]",
                "model.mass_ratio=1.5",
                "output.dir=2024",
                "initial.components=[{weight=1, mean=[1, 2], std=0.5}]",
            ],
        );
        assert_eq!(c.time.scheme, SchemeName::Upwind);
        assert_eq!(c.time.stepper, StepperName::Euler);
        assert_eq!(c.grid.n, 201);
        assert_eq!(c.decomposition.procs, Some(vec![2, 1]));
        assert_eq!(c.model.mass_ratio, Some(1.5));
        assert_eq!(c.output.dir, PathBuf::from("2024"));
        assert_eq!(c.initial.components[0].mean, vec![1.0, 2.0]);
    }

    #[test]
    fn override_creates_missing_section_and_later_override_wins() {
        let c = ok(MINIMAL, &["output.dir=a", "output.dir=b"]);
        assert_eq!(c.output.dir, PathBuf::from("b"));
    }

    #[test]
    fn override_of_unknown_key_names_it() {
        let e = set_err("time.steper=euler");
        assert_eq!(e.origin, "--set");
        assert_err(
            &e,
            "time.steper",
            &["unknown key", "did you mean `time.stepper`?"],
        );
        let e = set_err("tme.t_end=1");
        assert_err(
            &e,
            "tme.t_end",
            &["unknown section [tme]", "did you mean [time]?"],
        );
    }

    #[test]
    fn malformed_override_names_it() {
        for spec in ["grid.n", "n=5", "=5", "grid.=5", ".n=5", "grid.n.x=5"] {
            let e = set_err(spec);
            assert_eq!(e.origin, "--set");
            assert_err(&e, spec, &["expected section.key=value"]);
        }
    }

    #[test]
    fn errors_in_overridden_values_are_attributed_to_set() {
        let e = set_err("grid.n=100");
        assert_eq!(e.to_string(), "--set: grid.n: must be odd, got 100");
        let e = set_err("grid.n=abc");
        assert_err(&e, "grid.n", &["expected an integer", "string \"abc\""]);
    }

    // --- unknown keys and sections ---------------------------------------------------------------

    #[test]
    fn typo_key_suggests_closest() {
        let e = err(&with("[time]", "steper = \"euler\""), &[]);
        assert_eq!(e.origin, SOURCE);
        assert_err(
            &e,
            "time.steper",
            &["unknown key", "did you mean `time.stepper`?"],
        );
        let e = err(&with("[model]", "diffusivity = 1.0"), &[]);
        assert_err(
            &e,
            "model.diffusivity",
            &["did you mean `model.diffusion`?"],
        );
    }

    #[test]
    fn key_in_wrong_section_suggests_right_one() {
        let e = err(&with("[grid]", "t_end = 2.0"), &[]);
        assert_err(&e, "grid.t_end", &["did you mean `time.t_end`?"]);
    }

    #[test]
    fn far_off_key_lists_valid_keys() {
        let e = err(&format!("{MINIMAL}\n[output]\nzzzzzzzz = 1\n"), &[]);
        assert_err(
            &e,
            "output.zzzzzzzz",
            &["valid keys in [output]: dir, diagnostics_every, progress_every, snapshot_every, snapshot_dt, io"],
        );
    }

    #[test]
    fn unknown_section_suggests_closest() {
        let e = err(&format!("{MINIMAL}\n[outptu]\ndir = \"x\"\n"), &[]);
        assert_err(
            &e,
            "outptu",
            &["unknown section [outptu]", "did you mean [output]?"],
        );
        let e = err(&format!("{MINIMAL}\n[solver]\nx = 1\n"), &[]);
        assert_err(&e, "solver", &["valid sections: grid, model"]);
    }

    #[test]
    fn key_outside_sections_is_rejected() {
        let e = err(&format!("safety = 0.5\n{MINIMAL}"), &[]);
        assert_err(&e, "safety", &["outside any section", "`time.safety`"]);
        let e = err(&format!("foo = 1\n{MINIMAL}"), &[]);
        assert_err(&e, "foo", &["outside any section", "grid, model"]);
    }

    #[test]
    fn section_must_be_a_table() {
        let e = err(&format!("output = 3\n{MINIMAL}"), &[]);
        assert_err(&e, "output", &["must be a section", "integer 3"]);
    }

    #[test]
    fn typo_in_component_key_suggests_closest() {
        let e = err(&MINIMAL.replace("weight = 1.0", "wieght = 1.0"), &[]);
        assert_err(
            &e,
            "initial.components[0].wieght",
            &["did you mean `initial.components[0].weight`?"],
        );
    }

    // --- types -----------------------------------------------------------------------------------

    #[test]
    fn wrong_types_name_key_expected_and_found() {
        let e = err(&MINIMAL.replace("n = 101", "n = \"abc\""), &[]);
        assert_err(
            &e,
            "grid.n",
            &["expected an integer", "found string \"abc\""],
        );
        let e = err(&MINIMAL.replace("n = 101", "n = 10.5"), &[]);
        assert_err(&e, "grid.n", &["expected an integer", "found float 10.5"]);
        let e = set_err("model.kappa=true");
        assert_err(
            &e,
            "model.kappa",
            &["expected a number", "found boolean true"],
        );
        let e = set_err("decomposition.procs=[1.5, 2]");
        assert_err(
            &e,
            "decomposition.procs",
            &["expected an array of integers"],
        );
        let e = set_err("initial.components=[{weight=1, mean=[\"a\", 0], std=1}]");
        assert_err(
            &e,
            "initial.components[0].mean",
            &["expected an array of numbers"],
        );
        let e = set_err("initial.components=3");
        assert_err(&e, "initial.components", &["expected an array of tables"]);
        let e = set_err("time.stepper=3");
        assert_err(&e, "time.stepper", &["unknown stepper `3`"]);
        let e = err(&format!("{MINIMAL}[output]\ndir = 3\n"), &[]);
        assert_err(&e, "output.dir", &["expected a string", "found integer 3"]);
    }

    #[test]
    fn non_finite_values_are_rejected() {
        let e = set_err("model.gamma=nan");
        assert_err(&e, "model.gamma", &["must be a finite number, got NaN"]);
        let e = set_err("grid.half_width=inf");
        assert_err(&e, "grid.half_width", &["finite"]);
        let e = set_err("model.kappa=-inf");
        assert_err(&e, "model.kappa", &["finite"]);
        let e = set_err("initial.components=[{weight=1, mean=[nan, 0], std=1}]");
        assert_err(&e, "initial.components[0].mean", &["finite"]);
        let e = set_err("time.t_end=inf");
        assert_err(&e, "time.t_end", &["finite"]);
    }

    // --- ranges ----------------------------------------------------------------------------------

    #[test]
    fn grid_ranges() {
        assert_err(&set_err("grid.n=100"), "grid.n", &["must be odd, got 100"]);
        assert_err(&set_err("grid.n=3"), "grid.n", &["at least 5, got 3"]);
        assert_err(&set_err("grid.n=-7"), "grid.n", &["at least 5, got -7"]);
        assert_err(
            &set_err("grid.dim=3"),
            "grid.dim",
            &["must be 1 or 2, got 3"],
        );
        assert_err(
            &set_err("grid.dim=0"),
            "grid.dim",
            &["must be 1 or 2, got 0"],
        );
        assert_err(
            &set_err("grid.half_width=0"),
            "grid.half_width",
            &["> 0, got 0.0"],
        );
        assert_err(&set_err("grid.half_width=-1"), "grid.half_width", &["> 0"]);
        let e = err(
            "[model]\nmass = 1\n[initial]\nkind=\"disc\"\nradius=1\n[time]\nt_end=1\n",
            &[],
        );
        assert_err(&e, "grid.n", &["is required"]);
    }

    #[test]
    fn model_ranges() {
        assert_err(&set_err("model.diffusion=0"), "model.diffusion", &["> 0"]);
        assert_err(&set_err("model.diffusion=-1"), "model.diffusion", &["> 0"]);
        assert_err(&set_err("model.gamma=0"), "model.gamma", &["> 0"]);
        assert_err(
            &set_err("model.kappa=-0.5"),
            "model.kappa",
            &[">= 0, got -0.5"],
        );
        assert_err(&set_err("model.mass_ratio=0"), "model.mass_ratio", &["> 0"]);
        let e = err(&MINIMAL.replace("mass_ratio = 0.5", "mass = -2"), &[]);
        assert_err(&e, "model.mass", &["> 0, got -2.0"]);
    }

    #[test]
    fn exactly_one_of_mass_and_mass_ratio() {
        let e = set_err("model.mass=1");
        assert_err(&e, "model.mass", &["both set", "exactly one"]);
        let e = err(&MINIMAL.replace("mass_ratio = 0.5", ""), &[]);
        assert_err(&e, "model.mass", &["is required", "model.mass_ratio"]);
        let c = ok(&MINIMAL.replace("mass_ratio = 0.5", "mass = 2"), &[]);
        assert_eq!(c.model.mass_spec(), MassSpec::Absolute(2.0));
    }

    #[test]
    fn mass_ratio_needs_a_critical_mass() {
        let e = set_err("model.gamma=1");
        assert_err(
            &e,
            "model.mass_ratio",
            &["no critical mass exists when gamma*dim <= 2"],
        );
        let one_d = "initial.components=[{weight=1, mean=[0], std=1}]";
        let e = err(MINIMAL, &["grid.dim=1", one_d]);
        assert_err(&e, "model.mass_ratio", &["gamma*dim <= 2"]);
        ok(MINIMAL, &["grid.dim=1", one_d, "model.gamma=2.5"]); // gamma*dim = 2.5 > 2
        let e = set_err("model.kappa=0");
        assert_err(
            &e,
            "model.mass_ratio",
            &["no critical mass exists when kappa = 0"],
        );
        // With an absolute mass, both are fine.
        let m = MINIMAL.replace("mass_ratio = 0.5", "mass = 2");
        ok(&m, &["model.kappa=0", "model.gamma=0.5"]);
    }

    #[test]
    fn time_ranges() {
        for s in ["0", "1", "1.5", "-0.1"] {
            let e = set_err(&format!("time.safety={s}"));
            assert_err(&e, "time.safety", &["strictly between 0 and 1"]);
        }
        ok(MINIMAL, &["time.safety=0.999"]);
        assert_err(&set_err("time.dt_max=0"), "time.dt_max", &["> 0"]);
        assert_err(&set_err("time.t_end=0"), "time.t_end", &["> 0"]);
        assert_err(&set_err("time.t_end=-1"), "time.t_end", &["> 0"]);
        assert_err(
            &set_err("time.max_steps=0"),
            "time.max_steps",
            &[">= 1, got 0"],
        );
        let e = err(&MINIMAL.replace("t_end = 1.0", ""), &[]);
        assert_err(&e, "time.t_end", &["is required"]);
    }

    #[test]
    fn output_ranges() {
        let e = set_err("output.diagnostics_every=0");
        assert_err(&e, "output.diagnostics_every", &[">= 1, got 0"]);
        assert_err(
            &set_err("output.progress_every=0"),
            "output.progress_every",
            &["> 0"],
        );
        assert_err(
            &set_err("output.dir=\"\""),
            "output.dir",
            &["must not be empty"],
        );
    }

    #[test]
    fn particles_ranges() {
        let e = set_err("particles.count=0");
        assert_err(&e, "particles.count", &["must be >= 1, got 0"]);
        let e = set_err("particles.count=2147483648");
        assert_err(&e, "particles.count", &["at most 2147483647"]);
        assert_eq!(
            ok(MINIMAL, &["particles.count=2147483647"]).particles.count,
            (1 << 31) - 1
        );
        let e = set_err("particles.seed=-1");
        assert_err(&e, "particles.seed", &["must be >= 0"]);
        let e = set_err("particles.dt=0");
        assert_err(&e, "particles.dt", &["must be > 0"]);
        let e = set_err("particles.smoothing=-2");
        assert_err(&e, "particles.smoothing", &["must be >= 0"]);
        let e = set_err("particles.r0=-0.5");
        assert_err(&e, "particles.r0", &["must be > 0"]);
        let e = set_err("particles.cuont=5");
        assert_err(&e, "particles.cuont", &["did you mean `particles.count`?"]);
        // Particle settings are not physics of the PDE: checkpoints do not care.
        assert_eq!(
            ok(MINIMAL, &["particles.count=5", "particles.dt=0.5"]).physics_fingerprint(),
            ok(MINIMAL, &[]).physics_fingerprint()
        );
    }

    #[test]
    fn unknown_names_list_valid_ones() {
        let e = set_err("time.stepper=rk4");
        assert_err(
            &e,
            "time.stepper",
            &["unknown stepper `rk4`", "valid: euler, ssprk2"],
        );
        let e = set_err("time.scheme=sgg");
        assert_err(
            &e,
            "time.scheme",
            &["valid: upwind, sg", "did you mean `sg`?"],
        );
        let e = set_err("initial.kind=gauss");
        assert_err(
            &e,
            "initial.kind",
            &[
                "unknown kind `gauss`",
                "valid: gaussian_mixture, disc, ring, points",
            ],
        );
        let e = err(&MINIMAL.replace("kind = \"gaussian_mixture\"", ""), &[]);
        assert_err(
            &e,
            "initial.kind",
            &["is required", "gaussian_mixture, disc"],
        );
    }

    // --- initial -----------------------------------------------------------------------------

    #[test]
    fn component_ranges() {
        let mk = |c: &str| format!("initial.components=[{c}]");
        let e = set_err(&mk("{weight=1, mean=[0, 0, 0], std=1}"));
        assert_err(
            &e,
            "initial.components[0].mean",
            &["3 coordinates", "grid.dim = 2"],
        );
        let e = set_err(&mk(
            "{weight=1, mean=[0, 0], std=1}, {weight=1, mean=[0], std=1}",
        ));
        assert_err(&e, "initial.components[1].mean", &["1 coordinates"]);
        let e = set_err(&mk("{weight=1, mean=[0, 0], std=0}"));
        assert_err(&e, "initial.components[0].std", &["> 0"]);
        let e = set_err(&mk("{weight=-1, mean=[0, 0], std=1}"));
        assert_err(&e, "initial.components[0].weight", &["> 0"]);
        let e = set_err(&mk("{mean=[0, 0], std=1}"));
        assert_err(&e, "initial.components[0].weight", &["is required"]);
        let e = set_err(&mk("{weight=1, std=1}"));
        assert_err(&e, "initial.components[0].mean", &["is required"]);
        let e = set_err(&mk("{weight=1, mean=[0, 0]}"));
        assert_err(&e, "initial.components[0].std", &["is required"]);
        let e = set_err("initial.components=[]");
        assert_err(&e, "initial.components", &["at least one"]);
        let e = set_err("initial.components=[1, 2]");
        assert_err(&e, "initial.components", &["expected an array of tables"]);
    }

    #[test]
    fn gaussian_mixture_needs_components() {
        let text = "[grid]\nn = 5\n[model]\nmass = 1\n[initial]\nkind = \"gaussian_mixture\"\n\
                    [time]\nt_end = 1\n";
        let e = err(text, &[]);
        assert_err(
            &e,
            "initial.components",
            &["is required", "gaussian_mixture"],
        );
    }

    const DISC: &str = "[grid]\nn = 5\n[model]\nmass = 1\n[initial]\nkind = \"disc\"\n\
                        radius = 1.5\n[time]\nt_end = 1\n";

    #[test]
    fn disc_and_ring() {
        let c = ok(DISC, &[]);
        assert_eq!(c.initial.kind, InitialKind::Disc);
        assert_eq!(c.initial.centre, vec![0.0, 0.0]);
        assert_eq!(c.initial.radius, Some(1.5));
        assert!(c.initial.components.is_empty());
        let c = ok(
            DISC,
            &[
                "initial.kind=ring",
                "initial.width=0.2",
                "initial.centre=[1, -1]",
            ],
        );
        assert_eq!(c.initial.kind, InitialKind::Ring);
        assert_eq!(c.initial.width, Some(0.2));
        assert_eq!(c.initial.centre, vec![1.0, -1.0]);
        let e = err(&DISC.replace("radius = 1.5\n", ""), &[]);
        assert_err(&e, "initial.radius", &["is required (for kind = \"disc\")"]);
        let e = err(DISC, &["initial.kind=ring"]);
        assert_err(&e, "initial.width", &["is required (for kind = \"ring\")"]);
        let e = err(DISC, &["initial.radius=0"]);
        assert_err(&e, "initial.radius", &["> 0"]);
        let e = err(DISC, &["initial.kind=ring", "initial.width=-0.1"]);
        assert_err(&e, "initial.width", &["> 0"]);
        let e = err(DISC, &["initial.centre=[1]"]);
        assert_err(&e, "initial.centre", &["1 coordinates but grid.dim = 2"]);
    }

    #[test]
    fn points_need_a_file() {
        let e = err(DISC, &["initial.kind=points", "initial.radius=1"]);
        assert_err(&e, "initial.radius", &["is not used by kind = \"points\""]);
        let text = DISC
            .replace("radius = 1.5\n", "")
            .replace("\"disc\"", "\"points\"");
        let e = err(&text, &[]);
        assert_err(&e, "initial.file", &["is required", "CSV"]);
        let e = err(&text, &["initial.file=\"\""]);
        assert_err(&e, "initial.file", &["must not be empty"]);
        let c = ok(&text, &["initial.file=p.csv"]);
        assert_eq!(c.initial.file, Some(PathBuf::from("/runs/cfg/p.csv")));
    }

    #[test]
    fn keys_unused_by_the_kind_are_rejected() {
        let e = err(&with("[initial]", "radius = 1.0"), &[]);
        assert_eq!(
            e.to_string(),
            "test.toml: initial.radius: is not used by kind = \"gaussian_mixture\""
        );
        for spec in [
            "initial.centre=[0, 0]",
            "initial.width=1",
            "initial.file=a.csv",
        ] {
            let e = set_err(spec);
            assert!(e.message.contains("is not used by kind"), "{e}");
        }
        let e = err(DISC, &["initial.width=0.3"]);
        assert_err(&e, "initial.width", &["is not used by kind = \"disc\""]);
        let e = err(
            DISC,
            &["initial.components=[{weight=1, mean=[0, 0], std=1}]"],
        );
        assert_err(
            &e,
            "initial.components",
            &["is not used by kind = \"disc\""],
        );
    }

    // --- decomposition and ranks --------------------------------------------------------------

    #[test]
    fn procs_shape_is_checked_when_loading() {
        let e = set_err("decomposition.procs=[2]");
        assert_err(&e, "decomposition.procs", &["1 entries but grid.dim = 2"]);
        let e = set_err("decomposition.procs=[2, 0]");
        assert_err(&e, "decomposition.procs", &[">= 1, got 0"]);
    }

    #[test]
    fn explicit_procs_must_match_ranks_and_cells() {
        let c = ok(MINIMAL, &["decomposition.procs=[2,2]", "grid.n=5"]);
        assert!(c.validate_for_ranks(4).is_ok());
        let e = c.validate_for_ranks(3).unwrap_err();
        assert_err(
            &e,
            "decomposition.procs",
            &["[2, 2] uses 4 ranks", "runs on 3"],
        );
        assert_eq!(e.origin, SOURCE);
        let c = ok(MINIMAL, &["decomposition.procs=[7,1]", "grid.n=5"]);
        let e = c.validate_for_ranks(7).unwrap_err();
        assert_err(
            &e,
            "decomposition.procs",
            &["7 ranks along x", "grid.n = 5"],
        );
        let c = ok(MINIMAL, &["decomposition.procs=[1,6]", "grid.n=5"]);
        let e = c.validate_for_ranks(6).unwrap_err();
        assert_err(
            &e,
            "decomposition.procs",
            &["6 ranks along y", "grid.n = 5"],
        );
    }

    #[test]
    fn automatic_procs_need_enough_cells() {
        let c = ok(MINIMAL, &["grid.n=5"]);
        assert!(c.validate_for_ranks(25).is_ok());
        let e = c.validate_for_ranks(26).unwrap_err();
        assert_err(&e, "grid.n", &["26 ranks", "grid.n = 5", "25 cells"]);
        let one_d = "initial.components=[{weight=1, mean=[0], std=1}]";
        let m = MINIMAL.replace("mass_ratio = 0.5", "mass = 1");
        let c = ok(&m, &["grid.n=5", "grid.dim=1", one_d]);
        assert!(c.validate_for_ranks(5).is_ok());
        let e = c.validate_for_ranks(6).unwrap_err();
        assert_err(&e, "grid.n", &["6 ranks", "5 cells"]);
        assert!(c.validate_for_ranks(0).is_err());
    }

    // --- warnings ------------------------------------------------------------------------------

    #[test]
    fn warnings_for_small_box_and_data_outside() {
        assert!(ok(MINIMAL, &[]).warnings().is_empty());
        let w = ok(MINIMAL, &["model.diffusion=4"]).warnings();
        assert!(w.iter().any(|w| w.contains("6 sqrt(D)")), "{w:?}");
        let w = ok(
            MINIMAL,
            &["initial.components=[{weight=1, mean=[5, 0], std=1}]"],
        )
        .warnings();
        assert!(
            w.iter().any(|w| w.contains("initial.components[0]")),
            "{w:?}"
        );
        let w = ok(DISC, &["initial.radius=5.5", "initial.centre=[1, 0]"]).warnings();
        assert!(w.iter().any(|w| w.contains("disc reaches beyond")), "{w:?}");
    }

    // --- [study] -----------------------------------------------------------------------------

    #[test]
    fn study_section_round_trips_and_is_left_out_when_default() {
        let c = ok(MINIMAL, &[]);
        assert_eq!(c.study, StudyConfig::default());
        assert!(!c.to_toml().contains("[study]"));
        let c = ok(
            &format!(
                "{MINIMAL}[study]\nmass_ratio = [0.8, 1.5]\ngamma = [2, 3.0]\nn = [41, 81]\n\
                 scheme = [\"sg\", \"upwind\"]\nrefine = false\nr0 = 0.25\n\
                 profile_fit = [0.1, 0.4]\nrelax_levels = [1e-6, 0.1]\npictures = false\n\
                 heatmap_log = false\n"
            ),
            &[],
        );
        let s = &c.study;
        assert_eq!(s.mass_ratio, vec![0.8, 1.5]);
        assert_eq!(s.gamma, vec![2.0, 3.0]);
        assert_eq!(s.n, vec![41, 81]);
        assert_eq!(s.scheme, vec![SchemeName::Sg, SchemeName::Upwind]);
        assert_eq!(
            (s.refine, s.r0, s.pictures, s.heatmap_log),
            (false, Some(0.25), false, false)
        );
        assert_eq!((s.profile_fit, s.relax_levels), ([0.1, 0.4], [1e-6, 0.1]));
        assert!(c.to_toml().contains("[study]"));
        assert_round_trip(&c);
        // The study does not change the physics of a run.
        assert_eq!(
            c.physics_fingerprint(),
            ok(MINIMAL, &[]).physics_fingerprint()
        );
    }

    #[test]
    fn study_lists_take_single_values_and_bare_scheme_names() {
        let c = ok(
            MINIMAL,
            &["study.n=41", "study.scheme=[sg, upwind]", "study.gamma=3"],
        );
        assert_eq!(c.study.n, vec![41]);
        assert_eq!(c.study.scheme, vec![SchemeName::Sg, SchemeName::Upwind]);
        assert_eq!(c.study.gamma, vec![3.0]);
        let c = ok(MINIMAL, &["study.scheme=upwind"]);
        assert_eq!(c.study.scheme, vec![SchemeName::Upwind]);
    }

    #[test]
    fn study_values_are_checked_and_named() {
        assert_err(&set_err("study.n=[41, 40]"), "study.n", &["odd", "40"]);
        assert_err(&set_err("study.n=[41, 41]"), "study.n", &["twice", "41"]);
        assert_err(&set_err("study.n=[]"), "study.n", &["must not be empty"]);
        assert_err(
            &set_err("study.mass_ratio=[0.0]"),
            "study.mass_ratio",
            &["> 0", "0.0"],
        );
        assert_err(
            &set_err("study.gamma=[\"x\"]"),
            "study.gamma",
            &["list of numbers"],
        );
        assert_err(
            &set_err("study.scheme=[sg, sgg]"),
            "study.scheme",
            &["`sgg`", "sg"],
        );
        assert_err(
            &set_err("study.refine=1"),
            "study.refine",
            &["true or false"],
        );
        assert_err(&set_err("study.r0=6.0"), "study.r0", &["half_width", "6.0"]);
        assert_err(
            &set_err("study.profile_fit=[0.5, 0.2]"),
            "study.profile_fit",
            &["0 <= lo < hi", "[0.5, 0.2]"],
        );
        assert_err(
            &set_err("study.relax_levels=[1e-8, 2.0]"),
            "study.relax_levels",
            &["<= 1.0", "2.0"],
        );
        let e = set_err("study.gama=[2.0]");
        assert_eq!(e.key.as_deref(), Some("study.gama"));
        assert!(e.message.contains("study.gamma"), "{e}");
    }
}
