//! `[reverse]`: the reverse sweep and generation.

use crate::config::read::{fmt_f64, Sec};
use crate::config::rules::{config_section, count, custom, name, non_negative, positive};
use crate::config::schema::Ty;
use crate::config::ConfigError;
use crate::samplers::SamplerKind;
use crate::sweep::reverse::ReverseKind;
use crate::sweep::start::StartKind;
use crate::sweep::trajectory::StoreKind;

config_section! {
    /// `[reverse]`: the reverse sweep and generation.
    pub struct ReverseConfig {
        /// Start state.
        pub start: StartKind = name(StartKind::Asymptotic),
        /// Noise amplitude of the `perturbed` start, `0 <= noise < 1` (`> 0` for `perturbed`).
        pub noise: f64 = custom(Ty::Float, read_noise),
        /// Discretisation.
        pub method: ReverseKind = name(ReverseKind::Exact),
        /// Stabilisation `lambda >= 0` of the `score` method and of the SDE sampler.
        pub lambda: f64 = non_negative(1.0),
        /// Trajectory store.
        pub store: StoreKind = name(StoreKind::Memory),
        /// `K` of the `recompute` store, `0` = automatic (`~ sqrt(steps)`).
        pub recompute_every: u64 = count(0, 0),
        /// Number of generated samples (`nlfp generate`), `0` = none.
        pub samples: u64 = count(0, 10_000),
        /// Seed of the noise and of the samples.
        pub seed: u64 = count(0, 1),
        /// Which sampler(s) carry the samples back.
        pub sampler: SamplerKind = name(SamplerKind::Walk),
        /// Sub-step safety `c > 0` of the SDE sampler.
        pub sde_safety: f64 = positive(crate::samplers::sde::DEFAULT_SAFETY),
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
    if r.start == StartKind::Perturbed && r.noise == 0.0 {
        return Err(sec.err("noise", "must be > 0 for start = \"perturbed\""));
    }
    Ok(())
}
