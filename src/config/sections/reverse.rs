//! `[reverse]`: the reverse sweep and generation.

use crate::config::read::{fmt_f64, Sec};
use crate::config::rules::{config_section, count, custom, name, non_negative, positive};
use crate::config::schema::Ty;
use crate::config::ConfigError;
use crate::names::named_enum;

named_enum! {
    /// `reverse.start`: the state the reverse sweep starts from.
    pub enum StartName {
        /// The data-independent asymptotic state of the same mass (generation).
        Asymptotic = "asymptotic",
        /// The terminal forward state `f(T)` itself.
        Terminal = "terminal",
        /// `f(T)` with seeded multiplicative noise of size `reverse.noise`.
        Perturbed = "perturbed",
    }
}

named_enum! {
    /// `reverse.method`: how the reverse sweep is discretised.
    pub enum ReverseMethodName {
        /// The exact discrete time reversal of the forward steps.
        Exact = "exact",
        /// The direct discretisation of the stabilized reverse PDE with the score.
        Score = "score",
    }
}

named_enum! {
    /// `reverse.store`: where the forward states wait for the reverse sweep.
    pub enum StoreName {
        /// Every state in memory.
        Memory = "memory",
        /// Every state in an HDF5 scratch file in the output directory.
        Disk = "disk",
        /// Every K-th state in memory, segments recomputed.
        Recompute = "recompute",
    }
}

named_enum! {
    /// `reverse.sampler`: what carries the generated samples back in time.
    pub enum SamplerName {
        /// The reverse grid random walk (exact in law for the discrete PDE).
        Walk = "walk",
        /// The reverse SDE particle sampler with interpolated coefficients.
        Sde = "sde",
        /// Both, side by side.
        Both = "both",
    }
}

impl SamplerName {
    /// Whether the grid walk runs.
    pub fn walk(&self) -> bool {
        matches!(self, SamplerName::Walk | SamplerName::Both)
    }

    /// Whether the SDE sampler runs.
    pub fn sde(&self) -> bool {
        matches!(self, SamplerName::Sde | SamplerName::Both)
    }
}

config_section! {
    /// `[reverse]`: the reverse sweep and generation.
    pub struct ReverseConfig {
        /// Start state.
        pub start: StartName = name(StartName::Asymptotic),
        /// Noise amplitude of the `perturbed` start, `0 <= noise < 1` (`> 0` for `perturbed`).
        pub noise: f64 = custom(Ty::Float, read_noise),
        /// Discretisation.
        pub method: ReverseMethodName = name(ReverseMethodName::Exact),
        /// Stabilisation `lambda >= 0` of the `score` method and of the SDE sampler.
        pub lambda: f64 = non_negative(1.0),
        /// Trajectory store.
        pub store: StoreName = name(StoreName::Memory),
        /// `K` of the `recompute` store, `0` = automatic (`~ sqrt(steps)`).
        pub recompute_every: u64 = count(0, 0),
        /// Number of generated samples (`nlfp generate`), `0` = none.
        pub samples: u64 = count(0, 10_000),
        /// Seed of the noise and of the samples.
        pub seed: u64 = count(0, 1),
        /// Which sampler(s) carry the samples back.
        pub sampler: SamplerName = name(SamplerName::Walk),
        /// Sub-step safety `c > 0` of the SDE sampler.
        pub sde_safety: f64 = positive(crate::particles::reverse::DEFAULT_SAFETY),
    }
    check = perturbed_needs_noise;
}

/// `reverse.noise`: `0 <= noise < 1`, default 0.
fn read_noise(r: &Sec, key: &str) -> Result<f64, ConfigError> {
    let noise = r.non_negative_or(key, 0.0)?;
    if noise >= 1.0 {
        let msg = format!(
            "must be < 1 (the density must stay positive), got {}",
            fmt_f64(noise)
        );
        return Err(r.err(key, msg));
    }
    Ok(noise)
}

/// The `perturbed` start needs noise.
fn perturbed_needs_noise(r: &ReverseConfig, sec: &Sec) -> Result<(), ConfigError> {
    if r.start == StartName::Perturbed && r.noise == 0.0 {
        return Err(sec.err("noise", "must be > 0 for start = \"perturbed\""));
    }
    Ok(())
}
