//! `[grid]`: the mesh.

use crate::config::read::fmt_f64;
use crate::config::read::Sec;
use crate::config::rules::{config_section, custom};
use crate::config::schema::Ty;
use crate::config::ConfigError;

config_section! {
    /// `[grid]`: a uniform cell-centred grid on `[-L, L]^dim`.
    pub struct GridConfig {
        /// Spatial dimension, 1 or 2 (default 2).
        pub dim: usize = custom(Ty::Int, read_dim).physics(),
        /// Cells per axis: odd (the origin is a cell centre) and at least 5. Required.
        pub n: usize = custom(Ty::Int, read_n).physics(),
        /// Half width `L` of the domain, `0 < L <= MAX_HALF_WIDTH` (default 6).
        pub half_width: f64 = custom(Ty::Float, read_half_width).physics(),
    }
}

/// `grid.dim`: 1 or 2, default 2.
fn read_dim(g: &Sec, key: &str) -> Result<usize, ConfigError> {
    let dim = g.int(key)?.unwrap_or(2);
    if dim != 1 && dim != 2 {
        return Err(g.err(key, format!("must be 1 or 2, got {dim}")));
    }
    Ok(dim as usize)
}

/// The largest `grid.half_width`. The stationary states have width ~ sqrt(D) = 1 and condense
/// at the origin, so a useful domain is a few units wide; the bound keeps the products that build
/// the grid, the drift `x f` and the first time step `h / (|x| ...)` far from overflow.
pub const MAX_HALF_WIDTH: f64 = 1.0e6;

/// `grid.half_width`: `0 < L <= MAX_HALF_WIDTH`, default 6.
fn read_half_width(g: &Sec, key: &str) -> Result<f64, ConfigError> {
    let half_width = g.float(key)?.unwrap_or(6.0);
    if !(half_width > 0.0 && half_width <= MAX_HALF_WIDTH) {
        return Err(g.err(
            key,
            format!(
                "must be > 0 and <= {} (the domain [-L, L] in units of the diffusion length), got {}",
                fmt_f64(MAX_HALF_WIDTH),
                fmt_f64(half_width)
            ),
        ));
    }
    Ok(half_width)
}

/// `grid.n`: required, odd, at least 5.
fn read_n(g: &Sec, key: &str) -> Result<usize, ConfigError> {
    let n = g.required(key, g.int(key)?, "cells per axis: an odd number >= 5")?;
    if n < 5 {
        return Err(g.err(key, format!("must be at least 5, got {n}")));
    }
    if n % 2 == 0 {
        return Err(g.err(key, format!("must be odd, got {n}")));
    }
    usize::try_from(n).map_err(|_| g.err(key, format!("is too large, got {n}")))
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;

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
            &["> 0 and <= 1000000.0", "got 0.0"],
        );
        assert_err(&set_err("grid.half_width=-1"), "grid.half_width", &["> 0"]);
        assert_err(
            &set_err("grid.half_width=1e300"),
            "grid.half_width",
            &["<= 1000000.0", "got 1e300"],
        );
        let e = err(
            "[model]\nmass = 1\n[initial]\nkind=\"disc\"\nradius=1\n[time]\nt_end=1\n",
            &[],
        );
        assert_err(&e, "grid.n", &["is required"]);
    }
}
