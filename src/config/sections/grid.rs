//! `[grid]`: the mesh.

use crate::config::read::Sec;
use crate::config::rules::{config_section, custom, positive};
use crate::config::schema::Ty;
use crate::config::ConfigError;

config_section! {
    /// `[grid]`: a uniform cell-centred grid on `[-L, L]^dim`.
    pub struct GridConfig {
        /// Spatial dimension, 1, 2 or 3 (default 2; 3D runs `nlfp forward` with an explicit
        /// stepper and Gaussian-mixture initial data so far).
        pub dim: usize = custom(Ty::Int, read_dim).physics(),
        /// Cells per axis: odd (the origin is a cell centre) and at least 5. Required.
        pub n: usize = custom(Ty::Int, read_n).physics(),
        /// Half width `L > 0` of the domain.
        pub half_width: f64 = positive(6.0).physics(),
    }
}

/// `grid.dim`: 1, 2 or 3, default 2.
fn read_dim(g: &Sec, key: &str) -> Result<usize, ConfigError> {
    let dim = g.int(key)?.unwrap_or(2);
    if !(1..=3).contains(&dim) {
        return Err(g.err(key, format!("must be 1, 2 or 3, got {dim}")));
    }
    Ok(dim as usize)
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
            &set_err("grid.dim=4"),
            "grid.dim",
            &["must be 1, 2 or 3, got 4"],
        );
        assert_err(
            &set_err("grid.dim=0"),
            "grid.dim",
            &["must be 1, 2 or 3, got 0"],
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

    /// A 3D config of `kind` with a file (the kinds that read one).
    fn three_d_kind(kind: &str) -> String {
        format!(
            "[grid]\nn = 5\ndim = 3\n[model]\nmass = 1\n[initial]\nkind = \"{kind}\"\n\
             file = \"x\"\n[time]\nt_end = 1\n"
        )
    }

    #[test]
    fn three_d_takes_gaussian_mixtures_and_every_stepper() {
        let three = [
            "grid.dim=3",
            "initial.components=[{weight=1, mean=[0, 0.5, 0], std=1}]",
        ];
        let c = ok(MINIMAL, &three);
        assert_eq!(c.grid.dim, 3);
        let c = ok(
            MINIMAL,
            &[&three[..], &["time.stepper=\"implicit\""]].concat(),
        );
        assert_eq!(c.time.stepper, crate::time::StepperKind::Implicit);
        let c = ok(DISC, &["grid.dim=3"]);
        assert_eq!(c.initial.centre, vec![0.0; 3]);
        let toy = "[grid]\nn = 5\ndim = 3\n[model]\nmass = 1\n[initial]\nkind = \"toy\"\n\
                   name = \"two_moons\"\n[time]\nt_end = 1\n";
        assert_err(&err(toy, &[]), "initial.name", &["grid.dim = 3"]);
        let image = three_d_kind("image");
        assert_err(
            &err(&image, &[]),
            "initial.kind",
            &["\"image\" needs grid.dim = 2, got 3"],
        );
        let e = err(
            MINIMAL,
            &[&three[..], &["decomposition.procs=[2, 2]"]].concat(),
        );
        assert_err(
            &e,
            "decomposition.procs",
            &["has 2 entries but grid.dim = 3"],
        );
    }
}
