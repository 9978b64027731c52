//! The TOML run configuration: sections, defaults, `--set` overrides and validation.
//!
//! A config file has the sections `[grid]`, `[model]`, `[initial]` (with its
//! `[[initial.components]]` tables), `[time]`, `[decomposition]`, `[output]`, `[checkpoint]`,
//! `[reverse]`, `[study]` (read by `nlfp study` only), `[particles]` (`nlfp particles` only) and
//! `[filter]` (`nlfp filter` only); every key is documented in `configs/defaults.toml`.
//!
//! Where things are:
//! - `sections/<section>.rs`: one file per section. Each key is declared once there, as a field
//!   of the section struct with its doc, TOML type, default and range (`rules.rs` explains the
//!   declaration); the section's own cross-key checks and the tests of its ranges sit beside it.
//! - `schema.rs`: the key table built from those declarations, unknown-key errors with the
//!   closest valid key, `--set` parsing.
//! - `read.rs`: typed access to TOML values, errors naming the key, the expected type and the
//!   value found.
//! - `validate.rs`: rules between sections, the rank-count check, physics warnings.
//! - here: the load pipeline, [`ConfigError`], writing TOML and the physics fingerprint.
//!
//! Loading goes through five stages, each of which names the offending key on failure:
//!
//! 1. parse the text as a TOML table;
//! 2. apply `--set section.key=value` overrides (the value is parsed as a TOML value; a bare word
//!    such as `time.scheme=upwind` is taken as a string);
//! 3. check every section and key against the schema: an unknown one is an error that names the
//!    full key and, when one is close, the valid key it was probably meant to be;
//! 4. read each section (a wrong type names the key, the expected type and the value found; an
//!    absent key takes its default; ranges and the section's own rules are checked);
//! 5. check the rules between sections (`model.mass_ratio` needs a critical mass for `grid.dim`,
//!    points have `grid.dim` coordinates, ...) and resolve `initial.file` against the config
//!    directory.
//!
//! Names are read straight into the runtime enums the modules define (`time.scheme` into
//! [`crate::scheme::SchemeKind`], `reverse.store` into [`crate::sweep::trajectory::StoreKind`],
//! ...: each one's `ALL` and `name()` are the valid names and the error message lists them).
//! Config types stop at the driver: it turns the sections into the runtime structs the modules
//! define themselves. [`Config::to_toml`] writes the resolved configuration (defaults filled in)
//! through serde, and it loads back to an equal [`Config`]; [`Config::physics_fingerprint`] is
//! the canonical text of the keys marked physics (`grid.*`, `model.*`, `initial.*`,
//! `time.stepper`, `time.scheme`), used to refuse restarts with different physics.

mod read;
mod rules;
mod schema;
mod sections;
#[cfg(test)]
mod testing;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::{Table, Value};

use read::{Ctx, Sec};
pub use schema::{component_keys, known_keys};
pub use sections::*;

/// A loaded, validated run configuration with every default filled in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    /// `[grid]`: the mesh.
    pub grid: GridConfig,
    /// `[model]`: the parameters of the equation.
    pub model: ModelConfig,
    /// `[initial]`: the initial density.
    pub initial: InitialConfig,
    /// `[time]`: time stepping.
    pub time: TimeConfig,
    /// `[decomposition]`: the process grid.
    pub decomposition: DecompositionConfig,
    /// `[output]`: where and how often to write.
    pub output: OutputConfig,
    /// `[checkpoint]`: crash-safe restart files.
    pub checkpoint: CheckpointConfig,
    /// `[reverse]`: the reverse sweep and generation.
    pub reverse: ReverseConfig,
    /// `[study]`: the sweep of `nlfp study` (ignored by the other commands). A run's own config
    /// (the study's runs, forward runs) has the default study and is written without it.
    #[serde(skip_serializing_if = "StudyConfig::is_default")]
    pub study: StudyConfig,
    /// `[particles]`: the interacting particle system (`nlfp particles`).
    pub particles: ParticlesConfig,
    /// `[filter]`: density filtering by forward–reverse cycles (`nlfp filter`).
    pub filter: FilterConfig,
    /// Name of the config file, used in messages.
    #[serde(skip)]
    pub source: String,
    /// Directory of the config file (made absolute); relative paths in the file are relative to it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// A config error: where it came from, the key it concerns and what is wrong.
///
/// Displays as `<origin>: <key>: <message>`, e.g. `quickstart.toml: grid.n: must be odd, got 100`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file name, or `--set` for a command-line override.
    pub origin: String,
    /// The full key (`section.key`), when the error concerns one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about `key` in `origin`.
    pub fn new(origin: &str, key: Option<&str>, message: impl Into<String>) -> Self {
        ConfigError {
            origin: origin.to_string(),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.origin.is_empty() {
            write!(f, "{}: ", self.origin)?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses `text` (the contents of the file named `source` in directory `base_dir`), applies
    /// the `section.key=value` `overrides`, checks keys against the schema, reads typed values,
    /// fills in defaults and validates ranges and the rules between sections.
    pub fn from_toml_str(
        text: &str,
        source: &str,
        base_dir: &Path,
        overrides: &[String],
    ) -> Result<Config, ConfigError> {
        let mut root: Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::new(source, None, e.to_string().trim_end().to_string())
        })?;
        let mut overridden = Vec::with_capacity(overrides.len());
        for spec in overrides {
            overridden.push(schema::apply_override(&mut root, spec)?);
        }
        let ctx = Ctx { source, overridden };
        schema::check(&root, &ctx)?;
        let sec = |name: &str| Sec::of(&root, name, &ctx);
        let mut config = Config {
            grid: GridConfig::read(&sec("grid"))?,
            model: ModelConfig::read(&sec("model"))?,
            initial: InitialConfig::read(&sec("initial"))?,
            time: TimeConfig::read(&sec("time"))?,
            decomposition: DecompositionConfig::read(&sec("decomposition"))?,
            output: OutputConfig::read(&sec("output"))?,
            checkpoint: CheckpointConfig::read(&sec("checkpoint"))?,
            reverse: ReverseConfig::read(&sec("reverse"))?,
            study: StudyConfig::read(&sec("study"))?,
            particles: ParticlesConfig::read(&sec("particles"))?,
            filter: FilterConfig::read(&sec("filter"))?,
            source: source.to_string(),
            base_dir: absolute_dir(base_dir),
        };
        validate::cross_keys(&mut config, sec)?;
        if let Some(file) = &mut config.initial.file {
            *file = config.base_dir.join(&file);
        }
        Ok(config)
    }

    /// The resolved configuration (every default filled in) as TOML text, sections in the usual
    /// order, written by serde from the section structs.
    ///
    /// Loading it again with the same `source` and `base_dir` gives an equal [`Config`].
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(&self.to_table()).expect("a config table is valid TOML");
        format!("# resolved configuration of {}\n\n{body}", self.source)
    }

    /// A canonical text of the keys that define the physics (those the section files mark
    /// `.physics()`: `grid.*`, `model.*`, `initial.*`, `time.scheme` and `time.stepper`), one
    /// `section.key = value` line each (`initial.components[i].key = value` for the mixture),
    /// in the order they are written; floats are written so that they parse back exactly.
    ///
    /// Two configs with the same fingerprint compute the same solution (output cadence, end time,
    /// step limits and decomposition may differ).
    pub fn physics_fingerprint(&self) -> String {
        let mut lines = vec!["# nlfp physics v1".to_string()];
        for (section, table) in self.to_table() {
            let Value::Table(table) = table else {
                continue;
            };
            for (key, value) in table {
                let full = format!("{section}.{key}");
                if !schema::is_physics(&full) {
                    continue;
                }
                match value {
                    Value::Array(items) if items.iter().all(Value::is_table) => {
                        for (i, item) in items.iter().enumerate() {
                            for (k, v) in item.as_table().into_iter().flatten() {
                                lines.push(format!("{full}[{i}].{k} = {}", fingerprint_value(v)));
                            }
                        }
                    }
                    value => lines.push(format!("{full} = {}", fingerprint_value(&value))),
                }
            }
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// The config as a TOML table, as written: serde's, without the `[initial]` keys the kind
    /// does not use.
    fn to_table(&self) -> Table {
        let mut root = Table::try_from(self).expect("a config serializes to a TOML table");
        if let Some(Value::Table(initial)) = root.get_mut("initial") {
            self.initial.drop_unused(initial);
        }
        root
    }
}

/// A value of the fingerprint: TOML, with floats written as Rust's shortest round-trip form
/// (`1e-7`, not `0.0000001`), so fingerprints stored in checkpoints keep comparing equal.
fn fingerprint_value(value: &Value) -> String {
    match value {
        Value::Float(x) => read::fmt_f64(*x),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(fingerprint_value).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// `dir` made absolute against the working directory (without touching the file system beyond
/// reading the working directory), so that resolved paths do not depend on how it was spelled.
fn absolute_dir(dir: &Path) -> PathBuf {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::initial::InitialKind;
    use crate::io::hdf5::IoMode;
    use crate::scheme::SchemeKind;
    use crate::time::StepperKind;
    use serde::Deserialize;

    // --- loading and defaults ----------------------------------------------------------------

    #[test]
    fn minimal_config_gets_every_default() {
        // Field by field (not whole-struct literals), so that a new key touches only its
        // section file and `configs/defaults.toml` (whose values are checked against the code
        // below); the section structs' `PartialEq` is what the round trip compares.
        let c = ok(MINIMAL, &[]);
        let g = &c.grid;
        assert_eq!((g.dim, g.n, g.half_width), (2, 101, 6.0));
        let m = &c.model;
        assert_eq!(
            (m.diffusion, m.kappa, m.gamma, m.mass, m.mass_ratio),
            (1.0, 1.0, 2.0, None, Some(0.5))
        );
        assert_eq!(c.model.mass_spec(), MassSpec::CriticalRatio(0.5));
        assert_eq!(c.initial.kind, InitialKind::GaussianMixture);
        assert_eq!(
            c.initial.components,
            vec![ComponentConfig {
                weight: 1.0,
                mean: vec![0.0, 0.0],
                std: 1.0
            }]
        );
        assert_eq!(c.initial.centre, vec![0.0, 0.0]);
        let t = &c.time;
        assert_eq!(
            (
                t.t_end,
                t.stepper,
                t.scheme,
                t.safety,
                t.dt_max,
                t.max_steps
            ),
            (
                1.0,
                StepperKind::Ssprk2,
                SchemeKind::Sg,
                0.9,
                1.0e-2,
                100_000_000
            )
        );
        assert_eq!(c.decomposition.procs, None);
        let o = &c.output;
        assert_eq!(o.dir, PathBuf::from("out"));
        assert_eq!(
            (
                o.diagnostics_every,
                o.progress_every,
                o.snapshot_every,
                o.snapshot_dt,
                o.io
            ),
            (10, 5.0, 0, 0.0, IoMode::Collective)
        );
        let k = &c.checkpoint;
        assert_eq!(k.dir, PathBuf::from("checkpoints"));
        assert_eq!(
            (k.every_steps, k.every_seconds, k.keep, k.on_usr1),
            (0, 0.0, 3, Usr1Action::Continue)
        );
        let p = &c.particles;
        assert_eq!(
            (p.count, p.seed, p.dt, p.smoothing, p.positions_every, p.r0),
            (100_000, 1, 1.0e-2, 2, 0, None)
        );
        assert_eq!(c.source, SOURCE);
        assert_eq!(c.base_dir, PathBuf::from(BASE));
    }

    #[test]
    fn integers_are_accepted_for_floats() {
        let c = ok(&with("[grid]", "half_width = 8"), &[]);
        assert_eq!(c.grid.half_width, 8.0);
    }

    #[test]
    fn toml_syntax_error_is_reported() {
        let e = err("[grid\nn = 101\n", &[]);
        assert_eq!(e.origin, SOURCE);
        assert_eq!(e.key, None);
        assert!(e.message.contains("line 1"), "{e}");
    }

    #[test]
    fn display_is_origin_key_message() {
        let e = err(&MINIMAL.replace("n = 101", "n = 100"), &[]);
        assert_eq!(e.to_string(), "test.toml: grid.n: must be odd, got 100");
        let e = ConfigError::new("a.toml", None, "boom");
        assert_eq!(e.to_string(), "a.toml: boom");
    }

    #[test]
    fn enum_names_match_serde_names() {
        #[derive(Deserialize)]
        struct W {
            k: InitialKind,
            s: StepperKind,
            c: SchemeKind,
        }
        for k in InitialKind::ALL {
            for s in StepperKind::ALL {
                for c in SchemeKind::ALL {
                    let text = format!(
                        "k = {:?}\ns = {:?}\nc = {:?}\n",
                        k.name(),
                        s.name(),
                        c.name()
                    );
                    let w: W = toml::from_str(&text).unwrap();
                    assert_eq!((w.k, w.s, w.c), (k, s, c));
                }
            }
        }
    }

    // --- defaults file -------------------------------------------------------------------------

    const DEFAULTS: &str = include_str!("../../configs/defaults.toml");

    #[test]
    fn defaults_file_is_a_valid_config() {
        let c = Config::from_toml_str(DEFAULTS, "defaults.toml", Path::new("configs"), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    }

    #[test]
    fn defaults_file_mentions_every_key() {
        // Keys appear as `key = value`, possibly commented out; sections as `[name]`.
        let mut section = String::new();
        let mut seen = Vec::new();
        for line in DEFAULTS.lines() {
            let line = line.trim_start_matches('#').trim();
            if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
                section = name.to_string();
            } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_string();
            } else if let Some((key, _)) = line.split_once(" = ") {
                seen.push(format!("{section}.{}", key.trim()));
            }
        }
        for key in known_keys().filter(|k| *k != "initial.components") {
            assert!(
                seen.iter().any(|s| s == key),
                "{key} missing from defaults.toml"
            );
        }
        assert!(DEFAULTS.contains("\n[[initial.components]]\n"));
        for key in component_keys() {
            let full = format!("initial.components.{key}");
            assert!(seen.contains(&full), "{full} missing from defaults.toml");
        }
        for section in SECTIONS {
            assert!(
                DEFAULTS.contains(&format!("\n[{section}]\n")),
                "[{section}] missing"
            );
        }
    }

    #[test]
    fn defaults_file_values_are_the_code_defaults() {
        let d =
            Config::from_toml_str(DEFAULTS, "defaults.toml", Path::new("configs"), &[]).unwrap();
        // The same required values with every optional key left out.
        let mut required = format!(
            "[grid]\nn = {}\n[model]\nmass_ratio = {:?}\n[initial]\nkind = \"gaussian_mixture\"\n",
            d.grid.n,
            d.model.mass_ratio.unwrap()
        );
        for c in &d.initial.components {
            required += &format!(
                "[[initial.components]]\nweight = {:?}\nmean = {:?}\nstd = {:?}\n",
                c.weight, c.mean, c.std
            );
        }
        required += &format!("[time]\nt_end = {:?}\n", d.time.t_end);
        let m =
            Config::from_toml_str(&required, "defaults.toml", Path::new("configs"), &[]).unwrap();
        assert_eq!(d, m);
    }

    // --- round trip and fingerprint --------------------------------------------------------------

    #[test]
    fn to_toml_round_trips() {
        assert_round_trip(&ok(MINIMAL, &[]));
        assert_round_trip(&ok(DEFAULTS, &[]));
        assert_round_trip(&ok(
            MINIMAL,
            &[
                "decomposition.procs=[2,3]",
                "model.mass_ratio=1.0000000000000002",
                "time.dt_max=1e-7",
                "time.scheme=upwind",
                "time.stepper=euler",
                "output.dir=runs/a b\"c",
                "time.max_steps=7",
                "output.progress_every=0.1",
                "grid.half_width=6.123456789012345",
                "particles.count=7",
                "particles.seed=9007199254740993",
                "particles.dt=0.1",
                "particles.smoothing=0",
                "particles.positions_every=3",
                "particles.r0=0.25",
            ],
        ));
        let ring = r#"
[grid]
dim = 1
n = 5
[model]
mass = 3.0
kappa = 0
gamma = 0.5
[initial]
kind = "ring"
centre = [0.25]
radius = 1e-3
width = 0.1
[time]
t_end = 1e20
"#;
        assert_round_trip(&ok(ring, &[]));
        let disc = ring
            .replace("\"ring\"", "\"disc\"")
            .replace("width = 0.1\n", "");
        assert_round_trip(&ok(&disc, &[]));
        let points = "[grid]\nn = 5\n[model]\nmass = 1\n[initial]\nkind = \"points\"\n\
                      file = \"data/p.csv\"\n[time]\nt_end = 1\n";
        assert_round_trip(&ok(points, &[]));
    }

    #[test]
    fn round_trip_with_relative_base_dir() {
        let points = "[grid]\nn = 5\n[model]\nmass = 1\n[initial]\nkind = \"points\"\n\
                      file = \"p.csv\"\n[time]\nt_end = 1\n";
        for base in ["", "configs", "./configs/"] {
            let c = Config::from_toml_str(points, "x.toml", Path::new(base), &[]).unwrap();
            assert!(c.base_dir.is_absolute());
            assert!(c.initial.file.as_ref().unwrap().is_absolute());
            let again =
                Config::from_toml_str(&c.to_toml(), "x.toml", Path::new(base), &[]).unwrap();
            assert_eq!(again, c);
        }
    }

    #[test]
    fn fingerprint_covers_physics_only() {
        let base = ok(MINIMAL, &[]);
        let fp = base.physics_fingerprint();
        for key in [
            "grid.dim = 2",
            "grid.n = 101",
            "model.mass_ratio = 0.5",
            "initial.kind",
            "time.scheme",
        ] {
            assert!(fp.contains(key), "{key} missing from\n{fp}");
        }
        let same = [
            "time.t_end=5",
            "time.safety=0.5",
            "time.dt_max=1e-3",
            "time.max_steps=10",
            "decomposition.procs=[1,2]",
            "output.dir=elsewhere",
            "output.diagnostics_every=1",
            "output.progress_every=1",
        ];
        for spec in same {
            assert_eq!(ok(MINIMAL, &[spec]).physics_fingerprint(), fp, "{spec}");
        }
        let different = [
            "grid.n=103",
            "grid.half_width=7",
            "model.diffusion=2",
            "model.kappa=0.5",
            "model.gamma=3",
            "model.mass_ratio=0.6",
            "time.scheme=upwind",
            "time.stepper=euler",
            "initial.components=[{weight=1, mean=[0, 0.1], std=1}]",
            "initial.components=[{weight=2, mean=[0, 0], std=1}]",
            "initial.components=[{weight=1, mean=[0, 0], std=1.5}]",
        ];
        for spec in different {
            assert_ne!(ok(MINIMAL, &[spec]).physics_fingerprint(), fp, "{spec}");
        }
    }

    #[test]
    fn fingerprint_text_is_unchanged_from_the_hand_written_one() {
        // The text stored in existing checkpoints: physics keys in the order they are written,
        // floats in their shortest round-trip form.
        let expected = "# nlfp physics v1\n\
                        grid.dim = 2\ngrid.n = 101\ngrid.half_width = 6.0\n\
                        model.diffusion = 1.0\nmodel.kappa = 1e-7\nmodel.gamma = 2.0\n\
                        model.mass_ratio = 0.5\n\
                        initial.kind = \"gaussian_mixture\"\n\
                        initial.components[0].weight = 1.0\n\
                        initial.components[0].mean = [0.0, 0.0]\n\
                        initial.components[0].std = 1.0\n\
                        time.stepper = \"ssprk2\"\ntime.scheme = \"sg\"\n";
        assert_eq!(
            ok(MINIMAL, &["model.kappa=1e-7"]).physics_fingerprint(),
            expected
        );
        let disc = ok(DISC, &["initial.kind=ring", "initial.width=0.25"]);
        let fp = disc.physics_fingerprint();
        let initial: Vec<&str> = fp.lines().filter(|l| l.starts_with("initial.")).collect();
        assert_eq!(
            initial,
            [
                "initial.kind = \"ring\"",
                "initial.centre = [0.0, 0.0]",
                "initial.radius = 1.5",
                "initial.width = 0.25"
            ]
        );
    }

    #[test]
    fn physics_keys_are_grid_model_initial_scheme_and_stepper() {
        // What counts as physics: a new key in [grid], [model] or [initial] must be marked
        // `.physics()`, a key elsewhere must not (except the two of [time]).
        for key in known_keys() {
            let (section, _) = key.split_once('.').unwrap();
            let physics = matches!(section, "grid" | "model" | "initial")
                || matches!(key, "time.stepper" | "time.scheme");
            assert_eq!(schema::is_physics(key), physics, "{key}");
        }
    }

    #[test]
    fn schema_rows_are_unique_and_follow_the_sections() {
        let keys: Vec<&str> = known_keys().collect();
        for (i, key) in keys.iter().enumerate() {
            assert!(!keys[..i].contains(key), "{key} declared twice");
        }
        let order: Vec<&str> = keys.iter().map(|k| k.split_once('.').unwrap().0).collect();
        let mut sections = order.clone();
        sections.dedup();
        assert_eq!(
            sections, SECTIONS,
            "keys grouped by section, sections in order"
        );
    }

    #[test]
    fn every_registered_name_is_read_into_its_runtime_enum() {
        use crate::filter::{cycle::Variant, noise::NoiseKind};
        use crate::samplers::SamplerKind;
        use crate::sweep::{reverse::ReverseKind, start::StartKind, trajectory::StoreKind};
        let set = |spec: String| ok(MINIMAL, &[spec.as_str(), "reverse.noise=0.1"]);
        for k in SchemeKind::ALL {
            assert_eq!(set(format!("time.scheme={}", k.name())).time.scheme, k);
        }
        for k in StepperKind::ALL {
            assert_eq!(set(format!("time.stepper={}", k.name())).time.stepper, k);
        }
        for k in IoMode::ALL {
            assert_eq!(set(format!("output.io={}", k.name())).output.io, k);
        }
        for k in StartKind::ALL {
            assert_eq!(set(format!("reverse.start={}", k.name())).reverse.start, k);
        }
        for k in ReverseKind::ALL {
            assert_eq!(
                set(format!("reverse.method={}", k.name())).reverse.method,
                k
            );
        }
        for k in StoreKind::ALL {
            assert_eq!(set(format!("reverse.store={}", k.name())).reverse.store, k);
        }
        for k in SamplerKind::ALL {
            assert_eq!(
                set(format!("reverse.sampler={}", k.name())).reverse.sampler,
                k
            );
        }
        for k in Variant::ALL {
            assert_eq!(
                set(format!("filter.variant={}", k.name())).filter.variants,
                [k]
            );
        }
        for k in NoiseKind::ALL {
            let c = set(format!("filter.noise_kind={}", k.name()));
            assert_eq!(c.filter.noise_kind, k);
        }
        for k in Usr1Action::ALL {
            let c = set(format!("checkpoint.on_usr1={}", k.name()));
            assert_eq!(c.checkpoint.on_usr1, k);
        }
    }
}
