//! The key table (built from the sections' own key declarations), unknown-key checks with
//! closest-key suggestions, and `--set section.key=value` overrides.

use std::sync::LazyLock;

use toml::{Table, Value};

use super::read::{describe, Ctx, SET_ORIGIN};
use super::sections::{ComponentConfig, SECTION_KEYS};
use super::ConfigError;

/// The TOML type a key expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    /// An integer.
    Int,
    /// A float (an integer is accepted).
    Float,
    /// A string (also used for names and paths).
    Str,
    /// An array of floats.
    FloatArray,
    /// An array of integers.
    IntArray,
    /// An array of tables.
    TableArray,
    /// An array of strings (a single string is accepted as a one-element list).
    StrArray,
    /// A boolean.
    Bool,
}

/// One row of a section's key table.
#[derive(Clone, Copy, Debug)]
pub(super) struct Key {
    /// The key, without its section.
    pub name: &'static str,
    /// Its TOML type.
    pub ty: Ty,
    /// Whether it belongs to the physics fingerprint.
    pub physics: bool,
}

/// One row of the schema: a key with its section.
struct Entry {
    /// `section.key`.
    full: String,
    section: &'static str,
    key: Key,
}

/// Every valid `section.key`, in the order they are written.
static SCHEMA: LazyLock<Vec<Entry>> = LazyLock::new(|| {
    SECTION_KEYS
        .iter()
        .flat_map(|(section, keys)| {
            keys().into_iter().map(move |key| Entry {
                full: format!("{section}.{}", key.name),
                section,
                key,
            })
        })
        .collect()
});

/// The keys of one table of the `initial.components` array.
static COMPONENT_KEYS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| ComponentConfig::keys().iter().map(|k| k.name).collect());

/// Every valid `section.key` of a config file, in the order they are written.
///
/// The keys of an `initial.components` table are listed by [`component_keys`].
pub fn known_keys() -> impl Iterator<Item = &'static str> {
    SCHEMA.iter().map(|e| e.full.as_str())
}

/// The keys of one table of the `initial.components` array.
pub fn component_keys() -> &'static [&'static str] {
    &COMPONENT_KEYS
}

/// The schema row of a full key, or `None` if the key is unknown.
fn entry(full: &str) -> Option<&'static Key> {
    SCHEMA.iter().find(|e| e.full == full).map(|e| &e.key)
}

/// Whether the full key `section.key` belongs to the physics fingerprint.
pub(super) fn is_physics(full: &str) -> bool {
    entry(full).is_some_and(|k| k.physics)
}

/// Every section name, in the order they are written.
fn section_names() -> Vec<&'static str> {
    SECTION_KEYS.iter().map(|(name, _)| *name).collect()
}

/// The keys (without section) of one section.
fn section_keys(section: &str) -> Vec<&'static str> {
    SCHEMA
        .iter()
        .filter(|e| e.section == section)
        .map(|e| e.key.name)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Unknown keys and suggestions
// ---------------------------------------------------------------------------------------------

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub(super) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let (dist, best) = candidates
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .min_by_key(|(d, _)| *d)?;
    let longest = word.chars().count().max(best.chars().count());
    let close = dist <= (longest / 3).max(1) || strsim::jaro_winkler(word, best) >= 0.85;
    close.then_some(best)
}

/// The message for an unknown key `section.key` (the section may itself be unknown).
fn unknown_key_message(section: &str, key: &str) -> String {
    if !section_names().contains(&section) {
        return unknown_section_message(section);
    }
    if let Some(elsewhere) = SCHEMA
        .iter()
        .find(|e| e.key.name == key && e.section != section)
    {
        return format!("unknown key; did you mean `{}`?", elsewhere.full);
    }
    let keys = section_keys(section);
    match closest(key, &keys) {
        Some(best) => format!("unknown key; did you mean `{section}.{best}`?"),
        None => format!(
            "unknown key; valid keys in [{section}]: {}",
            keys.join(", ")
        ),
    }
}

/// The message for an unknown section name.
fn unknown_section_message(section: &str) -> String {
    let sections = section_names();
    match closest(section, &sections) {
        Some(best) => format!("unknown section [{section}]; did you mean [{best}]?"),
        None => format!(
            "unknown section [{section}]; valid sections: {}",
            sections.join(", ")
        ),
    }
}

/// Rejects unknown sections and keys, and sections that are not tables.
pub(super) fn check(root: &Table, ctx: &Ctx) -> Result<(), ConfigError> {
    let sections = section_names();
    for (name, value) in root {
        if !sections.contains(&name.as_str()) {
            if !matches!(value, Value::Table(_)) {
                // A key written before any section header, e.g. `n = 101`.
                if let Some(e) = SCHEMA.iter().find(|e| e.key.name == name) {
                    let msg = format!("key outside any section; did you mean `{}`?", e.full);
                    return Err(ctx.err(name, msg));
                }
                let msg = format!(
                    "unknown key outside any section; keys belong in a section: {}",
                    sections.join(", ")
                );
                return Err(ctx.err(name, msg));
            }
            return Err(ctx.err(name, unknown_section_message(name)));
        }
        let Value::Table(table) = value else {
            let msg = format!("must be a section ([{name}]), found {}", describe(value));
            return Err(ctx.err(name, msg));
        };
        for (key, value) in table {
            let full = format!("{name}.{key}");
            if entry(&full).is_none() {
                return Err(ctx.err(&full, unknown_key_message(name, key)));
            }
            if full == "initial.components" {
                check_component_keys(&full, value, ctx)?;
            }
        }
    }
    Ok(())
}

/// Rejects unknown keys inside the tables of `initial.components`.
fn check_component_keys(array: &str, value: &Value, ctx: &Ctx) -> Result<(), ConfigError> {
    let Value::Array(items) = value else {
        return Ok(()); // the type error is reported when reading
    };
    let keys = component_keys();
    for (i, item) in items.iter().enumerate() {
        let Value::Table(table) = item else {
            continue;
        };
        for key in table.keys() {
            if !keys.contains(&key.as_str()) {
                let full = format!("{array}[{i}].{key}");
                let msg = match closest(key, keys) {
                    Some(best) => format!("unknown key; did you mean `{array}[{i}].{best}`?"),
                    None => format!("unknown key; valid keys: {}", keys.join(", ")),
                };
                return Err(ctx.err(&full, msg));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Overrides
// ---------------------------------------------------------------------------------------------

/// Applies one `section.key=value` override to `root`; returns the full key.
pub(super) fn apply_override(root: &mut Table, spec: &str) -> Result<String, ConfigError> {
    let malformed = || {
        ConfigError::new(
            SET_ORIGIN,
            Some(spec),
            "malformed override; expected section.key=value (e.g. time.scheme=upwind)",
        )
    };
    let (path, raw) = spec.split_once('=').ok_or_else(malformed)?;
    let (path, raw) = (path.trim(), raw.trim());
    let (section, key) = path.split_once('.').ok_or_else(malformed)?;
    if section.is_empty() || key.is_empty() || key.contains('.') {
        return Err(malformed());
    }
    let full = format!("{section}.{key}");
    let Some(row) = entry(&full) else {
        let msg = unknown_key_message(section, key);
        return Err(ConfigError::new(SET_ORIGIN, Some(&full), msg));
    };
    let value = override_value(raw, row.ty);
    let entry = root
        .entry(section.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    let Value::Table(table) = entry else {
        let msg = format!("cannot set: `{section}` in the config file is not a section");
        return Err(ConfigError::new(SET_ORIGIN, Some(&full), msg));
    };
    table.insert(key.to_string(), value);
    Ok(full)
}

/// Parses an override value as TOML; a bare word (or anything for a string key) is a string.
fn override_value(raw: &str, ty: Ty) -> Value {
    let parsed = format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .filter(|t| t.len() == 1)
        .and_then(|mut t| t.remove("v"));
    match parsed {
        Some(Value::String(s)) => Value::String(s),
        Some(v) if ty != Ty::Str => v,
        // `study.scheme=[sg,upwind]`: bare words in a list are names.
        _ if ty == Ty::StrArray && raw.starts_with('[') && raw.ends_with(']') => Value::Array(
            raw[1..raw.len() - 1]
                .split(',')
                .map(|w| Value::String(w.trim().trim_matches('"').to_string()))
                .filter(|v| v.as_str() != Some(""))
                .collect(),
        ),
        _ => Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;
    use crate::scheme::SchemeKind;
    use crate::time::StepperKind;
    use std::path::PathBuf;

    // --- overrides ---------------------------------------------------------------------------

    #[test]
    fn overrides_parse_toml_values_and_bare_strings() {
        let c = ok(
            MINIMAL,
            &[
                "time.scheme=upwind",
                "time.stepper = \"euler\"",
                "grid.n=201",
                "decomposition.procs=[2,1]",
                "model.mass_ratio=1.5",
                "output.dir=2024",
                "initial.components=[{weight=1, mean=[1, 2], std=0.5}]",
            ],
        );
        assert_eq!(c.time.scheme, SchemeKind::Upwind);
        assert_eq!(c.time.stepper, StepperKind::Euler);
        assert_eq!(c.grid.n, 201);
        assert_eq!(c.decomposition.procs, Some(vec![2, 1]));
        assert_eq!(c.model.mass_ratio, Some(1.5));
        assert_eq!(c.output.dir, PathBuf::from("2024"));
        assert_eq!(c.initial.components[0].mean, vec![1.0, 2.0]);
    }

    #[test]
    fn override_creates_missing_section_and_later_override_wins() {
        let c = ok(MINIMAL, &["output.dir=a", "output.dir=b"]);
        assert_eq!(c.output.dir, PathBuf::from("b"));
    }

    #[test]
    fn override_of_unknown_key_names_it() {
        let e = set_err("time.steper=euler");
        assert_eq!(e.origin, "--set");
        assert_err(
            &e,
            "time.steper",
            &["unknown key", "did you mean `time.stepper`?"],
        );
        let e = set_err("tme.t_end=1");
        assert_err(
            &e,
            "tme.t_end",
            &["unknown section [tme]", "did you mean [time]?"],
        );
    }

    #[test]
    fn malformed_override_names_it() {
        for spec in ["grid.n", "n=5", "=5", "grid.=5", ".n=5", "grid.n.x=5"] {
            let e = set_err(spec);
            assert_eq!(e.origin, "--set");
            assert_err(&e, spec, &["expected section.key=value"]);
        }
    }

    #[test]
    fn errors_in_overridden_values_are_attributed_to_set() {
        let e = set_err("grid.n=100");
        assert_eq!(e.to_string(), "--set: grid.n: must be odd, got 100");
        let e = set_err("grid.n=abc");
        assert_err(&e, "grid.n", &["expected an integer", "string \"abc\""]);
    }

    // --- unknown keys and sections ---------------------------------------------------------------

    #[test]
    fn typo_key_suggests_closest() {
        let e = err(&with("[time]", "steper = \"euler\""), &[]);
        assert_eq!(e.origin, SOURCE);
        assert_err(
            &e,
            "time.steper",
            &["unknown key", "did you mean `time.stepper`?"],
        );
        let e = err(&with("[model]", "diffusivity = 1.0"), &[]);
        assert_err(
            &e,
            "model.diffusivity",
            &["did you mean `model.diffusion`?"],
        );
    }

    #[test]
    fn key_in_wrong_section_suggests_right_one() {
        let e = err(&with("[grid]", "t_end = 2.0"), &[]);
        assert_err(&e, "grid.t_end", &["did you mean `time.t_end`?"]);
    }

    #[test]
    fn far_off_key_lists_valid_keys() {
        let e = err(&format!("{MINIMAL}\n[output]\nzzzzzzzz = 1\n"), &[]);
        assert_err(
            &e,
            "output.zzzzzzzz",
            &["valid keys in [output]: dir, diagnostics_every, progress_every, snapshot_every, snapshot_dt, io"],
        );
    }

    #[test]
    fn unknown_section_suggests_closest() {
        let e = err(&format!("{MINIMAL}\n[outptu]\ndir = \"x\"\n"), &[]);
        assert_err(
            &e,
            "outptu",
            &["unknown section [outptu]", "did you mean [output]?"],
        );
        let e = err(&format!("{MINIMAL}\n[solver]\nx = 1\n"), &[]);
        assert_err(&e, "solver", &["valid sections: grid, model"]);
    }

    #[test]
    fn key_outside_sections_is_rejected() {
        let e = err(&format!("safety = 0.5\n{MINIMAL}"), &[]);
        assert_err(&e, "safety", &["outside any section", "`time.safety`"]);
        let e = err(&format!("foo = 1\n{MINIMAL}"), &[]);
        assert_err(&e, "foo", &["outside any section", "grid, model"]);
    }

    #[test]
    fn section_must_be_a_table() {
        let e = err(&format!("output = 3\n{MINIMAL}"), &[]);
        assert_err(&e, "output", &["must be a section", "integer 3"]);
    }

    #[test]
    fn typo_in_component_key_suggests_closest() {
        let e = err(&MINIMAL.replace("weight = 1.0", "wieght = 1.0"), &[]);
        assert_err(
            &e,
            "initial.components[0].wieght",
            &["did you mean `initial.components[0].weight`?"],
        );
    }
}
