//! `[time]`: time stepping up to `t_end`.

use crate::config::read::{fmt_f64, Sec};
use crate::config::rules::{config_section, count, custom, name, positive, required_positive};
use crate::config::schema::Ty;
use crate::config::ConfigError;
use crate::scheme::SchemeKind;
use crate::time::{PreconditionerKind, StepperKind};

config_section! {
    /// `[time]`: time stepping up to `t_end`.
    pub struct TimeConfig {
        /// Final time `> 0`. Required.
        pub t_end: f64 = required_positive("the final time > 0"),
        /// The time integrator.
        pub stepper: StepperKind = name(StepperKind::Ssprk2).physics(),
        /// The face-flux scheme.
        pub scheme: SchemeKind = name(SchemeKind::Sg).physics(),
        /// Fraction `c` of the positivity bound, `0 < c < 1` (default 0.9).
        pub safety: f64 = custom(Ty::Float, read_safety),
        /// Upper bound on the time step, `> 0`.
        pub dt_max: f64 = positive(1.0e-2),
        /// Preconditioner of the implicit stepper's linear systems: `mg` (geometric multigrid,
        /// bit-identical on any rank count) or `ilu` (block-Jacobi ILU(0)).
        pub preconditioner: PreconditionerKind = name(PreconditionerKind::Ilu),
        /// Cap on the number of steps, `>= 1`.
        pub max_steps: u64 = count(1, 100_000_000),
    }
}

/// `time.safety`: strictly between 0 and 1, default 0.9.
fn read_safety(t: &Sec, key: &str) -> Result<f64, ConfigError> {
    let safety = t.float(key)?.unwrap_or(0.9);
    if !(safety > 0.0 && safety < 1.0) {
        let msg = format!("must be strictly between 0 and 1, got {}", fmt_f64(safety));
        return Err(t.err(key, msg));
    }
    Ok(safety)
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;

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
}
