//! `[initial]`: the initial density, one of six kinds; `[[initial.components]]` tables.

use std::path::PathBuf;

use toml::{Table, Value};

use crate::config::read::{describe, fmt_f64, fmt_floats, Sec};
use crate::config::rules::{config_section, custom, optional_positive, required_name};
use crate::config::rules::{count, flag, non_negative, positive, required_positive};
use crate::config::schema::Ty;
use crate::config::ConfigError;
use crate::initial::toy::ToyName;
use crate::initial::InitialKind;
use crate::names::Named;

/// Whether the `[initial]` key `key` (other than `kind`) is used by `kind`.
fn uses(kind: InitialKind, key: &str) -> bool {
    let used: &[&str] = match kind {
        InitialKind::GaussianMixture => &["components"],
        InitialKind::Disc => &["centre", "radius"],
        InitialKind::Ring => &["centre", "radius", "width"],
        InitialKind::Points => &["file", "bandwidth", "holdout", "seed"],
        InitialKind::Toy => &["name", "scale", "samples", "bandwidth", "holdout", "seed"],
        InitialKind::Image => &["file", "invert", "extent"],
    };
    used.contains(&key)
}

config_section! {
    /// `[initial]`: the initial density. Keys a kind does not use are rejected when loading.
    pub struct InitialConfig {
        /// The family of the initial density. Required.
        pub kind: InitialKind = required_name::<InitialKind>().physics(),
        /// Centre of the disc or ring, `dim` coordinates (the origin unless given; always `dim`
        /// long).
        pub centre: Vec<f64> = custom(Ty::FloatArray, read_centre).physics(),
        /// Radius of the disc or ring.
        pub radius: Option<f64> = optional_positive().physics(),
        /// Thickness (standard deviation) of the Gaussian ring profile.
        pub width: Option<f64> = optional_positive().physics(),
        /// The CSV of sample coordinates (`points`) or the PNG (`image`), already resolved
        /// against the config directory.
        #[serde(serialize_with = "crate::config::rules::optional_path_text")]
        pub file: Option<PathBuf> = custom(Ty::Str, read_file).physics(),
        /// The toy data set (`toy`).
        pub name: Option<ToyName> = custom(Ty::Str, read_toy_name).physics(),
        /// Factor on every coordinate of the toy set (`toy`).
        pub scale: f64 = positive(1.0).physics(),
        /// Points drawn from the toy set as a finite data set (`toy`; 0: its density).
        pub samples: u64 = count(0, 0).physics(),
        /// Gaussian kernel standard deviation of the points' density, a length (0: histogram).
        pub bandwidth: f64 = non_negative(0.0).physics(),
        /// Fraction of the points kept out of the density, in `[0, 1)`.
        pub holdout: f64 = custom(Ty::Float, read_holdout).physics(),
        /// Seed of the held-out choice and of the toy draws.
        pub seed: u64 = count(0, 0).physics(),
        /// Dark is mass (`image`).
        pub invert: bool = flag(false).physics(),
        /// Where the image lies, `[x_min, x_max, y_min, y_max]` (`image`; empty: the domain).
        pub extent: Vec<f64> = custom(Ty::FloatArray, read_extent).physics(),
        /// Mixture components (`gaussian_mixture`; empty otherwise).
        pub components: Vec<ComponentConfig> = custom(Ty::TableArray, read_components).physics(),
    }
    check = check_kind_keys;
}

config_section! {
    /// One table of `initial.components`: `weight * N(mean, std^2 I)`.
    pub struct ComponentConfig {
        /// Relative weight `> 0` (weights are normalised to the total mass by the driver).
        pub weight: f64 = required_positive("a relative weight > 0"),
        /// Centre, `dim` coordinates.
        pub mean: Vec<f64> = custom(Ty::FloatArray, read_mean),
        /// Standard deviation `> 0` along every axis.
        pub std: f64 = required_positive("the standard deviation > 0"),
    }
}

impl InitialConfig {
    /// Removes from `table` (this section, serialized) the keys the kind does not use: loading
    /// rejects them.
    pub(in crate::config) fn drop_unused(&self, table: &mut Table) {
        table.retain(|key, _| key == "kind" || uses(self.kind, key));
    }
}

/// `initial.centre` as given; empty when absent (the origin is filled in once `grid.dim` is
/// known, in `config/validate.rs`).
fn read_centre(i: &Sec, key: &str) -> Result<Vec<f64>, ConfigError> {
    Ok(i.floats(key)?.unwrap_or_default())
}

/// `initial.file` as written (resolved against the config directory when loading).
fn read_file(i: &Sec, key: &str) -> Result<Option<PathBuf>, ConfigError> {
    match i.string(key)? {
        Some("") => Err(i.err(key, "must not be empty")),
        Some(f) => Ok(Some(PathBuf::from(f))),
        None => Ok(None),
    }
}

/// `initial.name`: a toy set's name, required for `toy` (checked with the kind).
fn read_toy_name(i: &Sec, key: &str) -> Result<Option<ToyName>, ConfigError> {
    i.name::<ToyName>(key)
}

/// `initial.holdout`: a fraction in `[0, 1)`, 0 when absent.
fn read_holdout(i: &Sec, key: &str) -> Result<f64, ConfigError> {
    let q = i.float(key)?.unwrap_or(0.0);
    if !(0.0..1.0).contains(&q) {
        let msg = format!("must be a fraction in [0, 1), got {}", fmt_f64(q));
        return Err(i.err(key, msg));
    }
    Ok(q)
}

/// `initial.extent`: `[x_min, x_max, y_min, y_max]` with `x_min < x_max`, `y_min < y_max`;
/// empty when absent (the whole domain; containment is checked against `grid.half_width`
/// by [`check_dims`]).
fn read_extent(i: &Sec, key: &str) -> Result<Vec<f64>, ConfigError> {
    let Some(e) = i.floats(key)? else {
        return Ok(Vec::new());
    };
    if e.len() != 4 || !(e[0] < e[1] && e[2] < e[3]) {
        let msg = format!(
            "must be [x_min, x_max, y_min, y_max] with x_min < x_max and y_min < y_max, got {}",
            fmt_floats(&e)
        );
        return Err(i.err(key, msg));
    }
    Ok(e)
}

/// The `[initial]` rules that need `grid`: a toy set lives in its dimension, an image in 2D,
/// inside the domain; fills the default extent (the domain). Called by `config/validate.rs`.
pub(in crate::config) fn check_dims(
    init: &mut InitialConfig,
    i: &Sec,
    dim: usize,
    half_width: f64,
) -> Result<(), ConfigError> {
    if let (InitialKind::Toy, Some(name)) = (init.kind, init.name) {
        if name.dim() != dim {
            let msg = format!("\"{name}\" is a {}D set but grid.dim = {dim}", name.dim());
            return Err(i.err("name", msg));
        }
    }
    if init.kind == InitialKind::Image {
        if dim != 2 {
            return Err(i.err("kind", format!("\"image\" needs grid.dim = 2, got {dim}")));
        }
        let l = half_width;
        if init.extent.is_empty() {
            init.extent = vec![-l, l, -l, l];
        } else if init.extent.iter().any(|x| x.abs() > l) {
            let msg = format!(
                "{} reaches beyond the domain [-{l}, {l}]^2 (grid.half_width = {l})",
                fmt_floats(&init.extent),
                l = fmt_f64(l),
            );
            return Err(i.err("extent", msg));
        }
    }
    Ok(())
}

/// `initial.components`: a non-empty array of tables; empty when absent.
fn read_components(i: &Sec, key: &str) -> Result<Vec<ComponentConfig>, ConfigError> {
    let Some(value) = i.raw(key) else {
        return Ok(Vec::new());
    };
    let expected = || {
        let msg = format!(
            "expected an array of tables ([[initial.components]]), found {}",
            describe(value)
        );
        i.err(key, msg)
    };
    let Value::Array(items) = value else {
        return Err(expected());
    };
    if items.is_empty() {
        return Err(i.err(key, "needs at least one component"));
    }
    items
        .iter()
        .enumerate()
        .map(|(k, item)| {
            let Value::Table(table) = item else {
                return Err(expected());
            };
            ComponentConfig::read(&Sec {
                prefix: format!("{}[{k}]", i.full(key)),
                table: Some(table),
                ctx: i.ctx,
            })
        })
        .collect()
}

/// `initial.components[k].mean`: required (its length is checked against `grid.dim` in
/// `config/validate.rs`).
fn read_mean(c: &Sec, key: &str) -> Result<Vec<f64>, ConfigError> {
    let mean = c.floats(key)?;
    c.required(key, mean, "the centre, one coordinate per axis")
}

/// Keys the kind does not use are errors; the keys it uses are required (except `centre`).
fn check_kind_keys(init: &InitialConfig, i: &Sec) -> Result<(), ConfigError> {
    let kind = init.kind;
    for key in InitialConfig::keys().iter().map(|k| k.name) {
        if key != "kind" && i.has(key) && !uses(kind, key) {
            let msg = format!("is not used by kind = \"{}\"", kind.name());
            return Err(i.err(key, msg));
        }
    }
    let needed = format!("for kind = \"{}\"", kind.name());
    if uses(kind, "components") && init.components.is_empty() {
        let what = format!("at least one [[initial.components]] {needed}");
        return Err(i.err("components", format!("is required ({what})")));
    }
    if uses(kind, "radius") {
        i.required("radius", init.radius, &needed)?;
    }
    if uses(kind, "width") {
        i.required("width", init.width, &needed)?;
    }
    if uses(kind, "file") {
        let what = match kind {
            InitialKind::Image => "a PNG image",
            _ => "a CSV of sample coordinates",
        };
        i.required("file", init.file.as_ref(), &format!("{what} {needed}"))?;
    }
    if uses(kind, "name") {
        i.required(
            "name",
            init.name,
            &format!("(one of {}) {needed}", ToyName::names().join(", ")),
        )?;
    }
    if kind == InitialKind::Toy && init.samples == 0 {
        for key in ["bandwidth", "holdout"] {
            if i.has(key) {
                let msg = "needs initial.samples > 0 (the toy's density is used as it is)";
                return Err(i.err(key, msg));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::config::testing::*;
    use crate::initial::toy::ToyName;
    use crate::initial::InitialKind;

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
    fn points_file_is_relative_to_config_dir() {
        let text = "[grid]\nn = 5\n[model]\nmass = 1\n[initial]\nkind = \"points\"\n\
                    file = \"data/p.csv\"\n[time]\nt_end = 1\n";
        let c = ok(text, &[]);
        assert_eq!(c.initial.file, Some(PathBuf::from("/runs/cfg/data/p.csv")));
        let c = ok(&text.replace("data/p.csv", "/abs/p.csv"), &[]);
        assert_eq!(c.initial.file, Some(PathBuf::from("/abs/p.csv")));
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
            "initial.name=rings",
            "initial.bandwidth=0.1",
            "initial.holdout=0.1",
            "initial.extent=[0, 1, 0, 1]",
            "initial.invert=true",
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

    const POINTS: &str = "[grid]\nn = 5\n[model]\nmass = 1\n[initial]\nkind = \"points\"\n\
                          file = \"p.csv\"\n[time]\nt_end = 1\n";

    #[test]
    fn points_bandwidth_holdout_seed() {
        let c = ok(POINTS, &[]);
        assert_eq!(
            (c.initial.bandwidth, c.initial.holdout, c.initial.seed),
            (0.0, 0.0, 0)
        );
        let c = ok(
            POINTS,
            &[
                "initial.bandwidth=0.2",
                "initial.holdout=0.25",
                "initial.seed=9",
            ],
        );
        assert_eq!(
            (c.initial.bandwidth, c.initial.holdout, c.initial.seed),
            (0.2, 0.25, 9)
        );
        let e = err(POINTS, &["initial.holdout=1"]);
        assert_err(&e, "initial.holdout", &["[0, 1)", "got 1"]);
        let e = err(POINTS, &["initial.holdout=-0.1"]);
        assert_err(&e, "initial.holdout", &["[0, 1)"]);
        let e = err(POINTS, &["initial.bandwidth=-1"]);
        assert_err(&e, "initial.bandwidth", &[">= 0"]);
        let e = err(POINTS, &["initial.name=rings"]);
        assert_err(&e, "initial.name", &["is not used by kind = \"points\""]);
    }

    #[test]
    fn toy_keys() {
        let toy = POINTS
            .replace("\"points\"", "\"toy\"")
            .replace("file = \"p.csv\"", "name = \"two_moons\"");
        let c = ok(&toy, &[]);
        assert_eq!(c.initial.kind, InitialKind::Toy);
        assert_eq!(c.initial.name, Some(ToyName::TwoMoons));
        assert_eq!((c.initial.scale, c.initial.samples), (1.0, 0));
        let c = ok(
            &toy,
            &[
                "initial.samples=500",
                "initial.holdout=0.2",
                "initial.scale=1.5",
            ],
        );
        assert_eq!(
            (c.initial.samples, c.initial.holdout, c.initial.scale),
            (500, 0.2, 1.5)
        );
        let e = err(&toy, &["initial.name=moons"]);
        assert_err(&e, "initial.name", &["two_moons", "checkerboard"]);
        let e = err(&toy.replace("name = \"two_moons\"\n", ""), &[]);
        assert_err(&e, "initial.name", &["is required", "pinwheel"]);
        let e = err(&toy, &["initial.bandwidth=0.1"]);
        assert_err(&e, "initial.bandwidth", &["initial.samples > 0"]);
        let e = err(&toy, &["grid.dim=1"]);
        assert_err(&e, "initial.name", &["2D set but grid.dim = 1"]);
        let c = ok(&toy, &["grid.dim=1", "initial.name=two_bumps"]);
        assert_eq!(c.initial.name, Some(ToyName::TwoBumps));
        let e = err(&toy, &["initial.file=a.csv"]);
        assert_err(&e, "initial.file", &["is not used by kind = \"toy\""]);
    }

    #[test]
    fn image_keys() {
        let image = POINTS
            .replace("\"points\"", "\"image\"")
            .replace("p.csv", "a.png");
        let c = ok(&image, &[]);
        assert_eq!(c.initial.kind, InitialKind::Image);
        assert_eq!(c.initial.file, Some(PathBuf::from("/runs/cfg/a.png")));
        assert!(!c.initial.invert);
        let l = c.grid.half_width;
        assert_eq!(c.initial.extent, vec![-l, l, -l, l]);
        let c = ok(
            &image,
            &["initial.extent=[-1, 2, -3, 0.5]", "initial.invert=true"],
        );
        assert_eq!(c.initial.extent, vec![-1.0, 2.0, -3.0, 0.5]);
        assert!(c.initial.invert);
        let e = err(&image, &["initial.extent=[1, -1, 0, 1]"]);
        assert_err(&e, "initial.extent", &["x_min < x_max"]);
        let e = err(&image, &["initial.extent=[0, 1, 0]"]);
        assert_err(&e, "initial.extent", &["[x_min, x_max, y_min, y_max]"]);
        let e = err(&image, &["initial.extent=[0, 1, 0, 100]"]);
        assert_err(&e, "initial.extent", &["beyond the domain"]);
        let e = err(&image, &["grid.dim=1"]);
        assert_err(&e, "initial.kind", &["grid.dim = 2"]);
        let e = err(&image.replace("file = \"a.png\"\n", ""), &[]);
        assert_err(&e, "initial.file", &["is required", "PNG"]);
        let e = err(&image, &["initial.holdout=0.1"]);
        assert_err(&e, "initial.holdout", &["is not used by kind = \"image\""]);
    }
}
