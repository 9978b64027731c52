//! `[filter]`: density filtering by forward–reverse cycles (`nlfp filter`).

use crate::config::read::{fmt_f64, Sec};
use crate::config::rules::{config_section, count, custom, name, non_negative};
use crate::config::schema::Ty;
use crate::config::ConfigError;
use crate::filter::cycle::Variant;
use crate::filter::noise::NoiseKind;

/// Default `filter.variant`: every variant that `nlfp filter` compares.
pub const DEFAULT_FILTER_VARIANTS: [Variant; 3] = [
    Variant::ExactTerminal,
    Variant::ExactAsymptotic,
    Variant::Score,
];

config_section! {
    /// `[filter]`: density filtering by forward–reverse cycles.
    pub struct FilterConfig {
        /// Number of cycles `K >= 1`.
        pub cycles: u64 = count(1, 3),
        /// Reverse variants to run (each from the same noisy density), no duplicates.
        pub variants: Vec<Variant> as "variant" = custom(Ty::StrArray, read_variants),
        /// Stabilisation `lambda >= 0` of the score variants.
        pub lambda: f64 = non_negative(3.0),
        /// Width (standard deviation, in cells) of the smoothing of the forward states before
        /// their score is taken, `>= 0` (0 = the raw grid score).
        pub smoothing: f64 = non_negative(1.0),
        /// Noise kind.
        pub noise_kind: NoiseKind = name(NoiseKind::Multiplicative),
        /// Noise amplitude (`multiplicative`: `< 1`; unused by `samples`).
        pub noise: f64 = non_negative(0.3),
        /// Noise seed.
        pub seed: u64 = count(0, 1),
        /// Number of samples of the `samples` kind (`>= 1` for it).
        pub samples: u64 = count(0, 10_000),
    }
    check = check_noise;
}

/// `filter.variant`: a non-empty list of distinct variants, default [`DEFAULT_FILTER_VARIANTS`].
fn read_variants(f: &Sec, key: &str) -> Result<Vec<Variant>, ConfigError> {
    let variants = f
        .name_list(key)?
        .unwrap_or_else(|| DEFAULT_FILTER_VARIANTS.to_vec());
    if variants.is_empty() {
        return Err(f.err(key, "must name at least one variant"));
    }
    for (i, v) in variants.iter().enumerate() {
        if variants[..i].contains(v) {
            return Err(f.err(key, format!("lists `{}` twice", v.name())));
        }
    }
    Ok(variants)
}

/// The noise amplitude and sample count the noise kind needs.
fn check_noise(f: &FilterConfig, sec: &Sec) -> Result<(), ConfigError> {
    if f.noise_kind == NoiseKind::Multiplicative && f.noise >= 1.0 {
        let msg = format!(
            "must be < 1 for noise_kind = \"multiplicative\" (the density must stay positive), \
             got {}",
            fmt_f64(f.noise)
        );
        return Err(sec.err("noise", msg));
    }
    if f.noise_kind == NoiseKind::Samples && f.samples == 0 {
        return Err(sec.err("samples", "must be >= 1 for noise_kind = \"samples\""));
    }
    Ok(())
}
