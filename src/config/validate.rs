//! Rules between sections (run once every section is read), the rank-count check
//! ([`Config::validate_for_ranks`], through [`ProcessGrid::check`] and [`ProcessGrid::choose`]),
//! and physics advice ([`Config::warnings`]).

use super::read::{fmt_f64, Sec};
use super::{Config, ConfigError};
use crate::decomp::{GridError, ProcessGrid};
use crate::initial::InitialKind;
use crate::mesh::Mesh;

/// Applies the rules that relate keys of different sections, and fills in the default that
/// depends on another section (the origin as `initial.centre`). `sec` gives a section's table
/// (for presence and for errors attributed to the file or to `--set`).
pub(super) fn cross_keys<'a>(
    c: &mut Config,
    sec: impl Fn(&str) -> Sec<'a>,
) -> Result<(), ConfigError> {
    let dim = c.grid.dim;
    let model = sec("model");
    if c.model.mass_ratio.is_some() {
        let gamma = c.model.gamma;
        if gamma * dim as f64 <= 2.0 {
            let msg = format!(
                "no critical mass exists when gamma*dim <= 2 (gamma = {}, dim = {dim}); \
                 set model.mass instead",
                fmt_f64(gamma)
            );
            return Err(model.err("mass_ratio", msg));
        }
        if c.model.kappa == 0.0 {
            let msg = "no critical mass exists when kappa = 0 (linear model); \
                       set model.mass instead";
            return Err(model.err("mass_ratio", msg));
        }
    }
    let initial = sec("initial");
    for (k, component) in c.initial.components.iter().enumerate() {
        let table = Sec {
            prefix: format!("initial.components[{k}]"),
            table: None,
            ctx: initial.ctx,
        };
        check_len(&table, "mean", &component.mean, dim)?;
    }
    super::sections::check_initial_dims(&mut c.initial, &initial, dim, c.grid.half_width)?;
    if initial.has("centre") {
        check_len(&initial, "centre", &c.initial.centre, dim)?;
    } else {
        c.initial.centre = vec![0.0; dim];
    }
    if let Some(procs) = &c.decomposition.procs {
        if procs.len() != dim {
            let msg = format!(
                "has {} entries but grid.dim = {dim}; give one rank count per axis",
                procs.len()
            );
            return Err(sec("decomposition").err("procs", msg));
        }
    }
    grid_arithmetic(c, &sec("grid"))?;
    if dim == 3 {
        three_d(c, &sec)?;
        three_d_reverse(c, &sec)?;
    }
    let half_width = c.grid.half_width;
    if let Some(r0) = c.study.r0.filter(|&r| r >= half_width) {
        let msg = format!(
            "must be below grid.half_width = {}, got {}",
            fmt_f64(half_width),
            fmt_f64(r0)
        );
        return Err(sec("study").err("r0", msg));
    }
    Ok(())
}

/// What `grid.dim = 3` supports so far: every stepper (the implicit one with its 7-point
/// Jacobian); the initial kinds evaluated at cell centres (Gaussian mixture, disc = ball,
/// ring = shell) and `points` (a CSV of `x,y,z` lines); the 2D data sets (toy, image) are
/// 1D/2D only.
fn three_d<'a>(c: &Config, sec: &impl Fn(&str) -> Sec<'a>) -> Result<(), ConfigError> {
    let volume = [
        InitialKind::GaussianMixture,
        InitialKind::Disc,
        InitialKind::Ring,
        InitialKind::Points,
    ];
    if !volume.contains(&c.initial.kind) {
        let msg = format!(
            "is {}, but grid.dim = 3 supports gaussian_mixture, disc (a ball), ring (a \
             shell) and points only so far",
            c.initial.kind.name()
        );
        return Err(sec("initial").err("kind", msg));
    }
    Ok(())
}

/// What the reverse sweep of `nlfp generate` supports in 3D so far: the grid walk
/// (`reverse.sampler = "walk"`); the SDE particle sampler is 1D/2D only.
fn three_d_reverse<'a>(c: &Config, sec: &impl Fn(&str) -> Sec<'a>) -> Result<(), ConfigError> {
    let reverse = sec("reverse");
    if c.reverse.sampler != crate::samplers::SamplerKind::Walk {
        let msg = format!(
            "is {}, but grid.dim = 3 supports the grid walk only (sampler = \"walk\"): the SDE \
             particle sampler is not built in 3D yet",
            c.reverse.sampler.name()
        );
        return Err(reverse.err("sampler", msg));
    }
    Ok(())
}

/// Refuses a grid whose index arithmetic overflows (`(n + 8)^dim` cells times 512 bytes must
/// fit in 64 bits: every array of a block is within that) or whose geometry leaves the
/// floating-point range: the cell width `h = 2L/n`, `h^2` (the diffusion rate `D/h^2`), the cell
/// volume `h^dim` and the domain volume `(2L)^dim` must be normal numbers.
fn grid_arithmetic(c: &Config, g: &Sec) -> Result<(), ConfigError> {
    let (dim, n, l) = (c.grid.dim, c.grid.n, c.grid.half_width);
    let fits = (n as u64)
        .checked_add(8)
        .and_then(|p| p.checked_pow(dim as u32))
        .and_then(|cells| cells.checked_mul(512))
        .is_some_and(|b| usize::try_from(b).is_ok());
    if !fits {
        let msg = format!(
            "is too large: {n}^{dim} cells overflow the index arithmetic; use a smaller grid.n"
        );
        return Err(g.err("n", msg));
    }
    let h = 2.0 * l / n as f64;
    let products = [
        ("h = 2L/n", h),
        ("h^2", h * h),
        ("1/h^2", 1.0 / (h * h)),
        ("h^dim", h.powi(dim as i32)),
        ("(2L)^dim", (2.0 * l).powi(dim as i32)),
    ];
    if let Some((name, v)) = products.iter().find(|(_, v)| !v.is_normal()) {
        let msg = format!(
            "is out of range, got {}: with grid.n = {n}, {name} = {v:e} is not a normal \
             floating-point number; use a moderate half_width",
            fmt_f64(l)
        );
        return Err(g.err("half_width", msg));
    }
    Ok(())
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

impl Config {
    /// Checks the process grid against the number of ranks, by the rules of
    /// [`ProcessGrid::check`] (explicit `decomposition.procs`: `dim` entries whose product is
    /// `nranks`, no axis with more ranks than cells) or [`ProcessGrid::choose`] (automatic:
    /// some arrangement leaves every rank a cell), naming the config key.
    pub fn validate_for_ranks(&self, nranks: usize) -> Result<(), ConfigError> {
        let (dim, n) = (self.grid.dim, self.grid.n);
        let err = |key: &str, msg: String| ConfigError::new(&self.source, Some(key), msg);
        let mesh = Mesh::new(dim, n, self.grid.half_width);
        match &self.decomposition.procs {
            Some(procs) => {
                let key = "decomposition.procs";
                if procs.len() != dim {
                    let msg = format!("has {} entries but grid.dim = {dim}", procs.len());
                    return Err(err(key, msg));
                }
                let grid = ProcessGrid::from_procs(procs);
                grid.check(&mesh, nranks).map_err(|e| {
                    let shown = format!("{procs:?}");
                    err(key, procs_message(e, &shown, n))
                })
            }
            None => match ProcessGrid::choose(&mesh, nranks) {
                Ok(_) => Ok(()),
                Err(GridError::NoRanks) => {
                    Err(ConfigError::new(&self.source, None, "the job has no ranks"))
                }
                Err(_) => {
                    let cells = mesh.cells();
                    let msg = if nranks > cells {
                        format!(
                            "the job runs on {nranks} ranks but grid.n = {n} gives only {cells} \
                             cells; use fewer ranks or a larger grid.n"
                        )
                    } else {
                        format!(
                            "the job runs on {nranks} ranks, which cannot be arranged on the \
                             {n} x {n} grid without an empty block; use fewer ranks or a \
                             larger grid.n"
                        )
                    };
                    Err(err("grid.n", msg))
                }
            },
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
            InitialKind::Points | InitialKind::Toy | InitialKind::Image => {}
        }
        out
    }
}

/// The message for an explicit process grid `shown` (`[2, 2]`) that does not fit.
fn procs_message(e: GridError, shown: &str, n: usize) -> String {
    match e {
        GridError::WrongSize { grid, nranks } => format!(
            "{shown} uses {} ranks (the product) but the job runs on {nranks}",
            grid.size()
        ),
        GridError::MoreRanksThanCells { grid, axis, .. } => {
            let (name, ranks) = if axis == 0 {
                ("x", grid.px)
            } else {
                ("y", grid.py)
            };
            format!(
                "{ranks} ranks along {name} but grid.n = {n} cells; every rank needs at least \
                 one cell"
            )
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;

    #[test]
    fn grids_out_of_arithmetic_range_are_refused() {
        let e = set_err("grid.n=9223372036854775807");
        assert_err(&e, "grid.n", &["overflow the index arithmetic"]);
        let e = set_err("grid.n=4294967297");
        assert_err(&e, "grid.n", &["overflow the index arithmetic"]);
        ok(MINIMAL, &["grid.n=200001"]); // fits the arithmetic; the memory check refuses it
        let e = set_err("grid.half_width=1e300");
        assert_err(&e, "grid.half_width", &["h^2 = inf", "out of range"]);
        let e = set_err("grid.half_width=1e-160");
        assert_err(&e, "grid.half_width", &["out of range"]);
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

    #[test]
    fn automatic_procs_need_an_arrangement_without_empty_blocks() {
        // 7 ranks on 5 x 5 cells: 7 x 1 and 1 x 7 both leave a block empty.
        let c = ok(MINIMAL, &["grid.n=5"]);
        let e = c.validate_for_ranks(7).unwrap_err();
        assert_err(&e, "grid.n", &["7 ranks", "cannot be arranged", "5 x 5"]);
        assert!(c.validate_for_ranks(5).is_ok());
    }

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
}
