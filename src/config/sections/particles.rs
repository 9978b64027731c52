//! `[particles]`: the interacting particle system (`nlfp particles`).

use crate::config::read::Sec;
use crate::config::rules::{config_section, count, custom, optional_positive, positive};
use crate::config::schema::Ty;
use crate::config::ConfigError;

config_section! {
    /// `[particles]`: the interacting particle system run by `nlfp particles` (other commands
    /// ignore it). Time runs to `time.t_end` (at most `time.max_steps` steps).
    pub struct ParticlesConfig {
        /// Number of particles `N_p`, `1 <= N_p < 2^31`; each has mass `m / N_p`.
        pub count: u64 = custom(Ty::Int, read_count),
        /// Seed of the counter-based generator, `>= 0`.
        pub seed: u64 = count(0, 1),
        /// Largest step; the run takes `ceil(t_end / dt)` equal steps.
        pub dt: f64 = positive(1.0e-2),
        /// Half-width in cells of the tent smoothing of the deposited density, `>= 0`.
        pub smoothing: u64 = count(0, 2),
        /// Steps between two position files, `0` = only the final positions.
        pub positions_every: u64 = count(0, 0),
        /// Radius of the particle condensate estimate; `None`: `0.5 sqrt(D)`, as the PDE's.
        pub r0: Option<f64> = optional_positive(),
    }
}

/// `particles.count`: `1 <= N_p <= MAX_PARTICLES`, default 100 000.
fn read_count(p: &Sec, key: &str) -> Result<u64, ConfigError> {
    let count = p.int_at_least(key, 1, 100_000)?;
    let max = crate::particles::cic::MAX_PARTICLES;
    if count > max {
        let msg = format!(
            "must be at most {max} (2^31 - 1: the exact integer deposit holds 2^32 units per \
             particle in 64 bits), got {count}"
        );
        return Err(p.err(key, msg));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;

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
}
