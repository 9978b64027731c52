//! `[model]`: the parameters of the equation.

use crate::config::read::Sec;
use crate::config::rules::{config_section, non_negative, optional_positive, positive};
use crate::config::ConfigError;

config_section! {
    /// `[model]`: `d_t f = D Lap f + div(x f (1 + kappa f^gamma))` with mass `m`.
    pub struct ModelConfig {
        /// Diffusion coefficient `D > 0`.
        pub diffusion: f64 = positive(1.0).physics(),
        /// Nonlinearity strength `kappa >= 0` (`0` is the linear Ornstein–Uhlenbeck baseline).
        pub kappa: f64 = non_negative(1.0).physics(),
        /// Nonlinearity exponent `gamma > 0`.
        pub gamma: f64 = positive(2.0).physics(),
        /// Total mass `m > 0`; exactly one of `mass` and `mass_ratio` is set.
        pub mass: Option<f64> = optional_positive().physics(),
        /// Mass as a multiple of the critical mass `m_c` (only when `m_c` exists).
        pub mass_ratio: Option<f64> = optional_positive().physics(),
    }
    check = exactly_one_mass;
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

/// Exactly one of `mass` and `mass_ratio` is set. (Whether a critical mass exists for
/// `mass_ratio` depends on `grid.dim`: see `config/validate.rs`.)
fn exactly_one_mass(m: &ModelConfig, sec: &Sec) -> Result<(), ConfigError> {
    match (m.mass, m.mass_ratio) {
        (Some(_), Some(_)) => Err(sec.err(
            "mass",
            "and model.mass_ratio are both set; give exactly one of them",
        )),
        (None, None) => Err(sec.err(
            "mass",
            "is required: set model.mass (the mass) or model.mass_ratio \
             (a multiple of the critical mass)",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;
    use crate::config::MassSpec;

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
}
