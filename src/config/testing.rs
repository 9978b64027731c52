//! Helpers shared by the config tests: a minimal valid config and loaders that name the
//! unexpected outcome.

use std::path::Path;

pub use super::{Config, ConfigError};

/// The file name the test configs are loaded as.
pub const SOURCE: &str = "test.toml";
/// The directory the test configs are loaded from.
pub const BASE: &str = "/runs/cfg";

/// A minimal valid config: only the required keys.
pub const MINIMAL: &str = r#"
[grid]
n = 101

[model]
mass_ratio = 0.5

[initial]
kind = "gaussian_mixture"

[[initial.components]]
weight = 1.0
mean = [0.0, 0.0]
std = 1.0

[time]
t_end = 1.0
"#;

/// A minimal valid config with a disc.
pub const DISC: &str = "[grid]\nn = 5\n[model]\nmass = 1\n[initial]\nkind = \"disc\"\n\
                        radius = 1.5\n[time]\nt_end = 1\n";

/// `text` loaded as [`SOURCE`] from [`BASE`] with the `overrides`.
pub fn load(text: &str, overrides: &[&str]) -> Result<Config, ConfigError> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Config::from_toml_str(text, SOURCE, Path::new(BASE), &overrides)
}

/// [`load`], which must succeed.
pub fn ok(text: &str, overrides: &[&str]) -> Config {
    load(text, overrides).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

/// [`load`], which must fail.
pub fn err(text: &str, overrides: &[&str]) -> ConfigError {
    match load(text, overrides) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

/// MINIMAL with `line` added right after the `header` line.
pub fn with(header: &str, line: &str) -> String {
    let header = format!("{header}\n");
    assert!(MINIMAL.contains(&header), "no {header} in MINIMAL");
    MINIMAL.replacen(&header, &format!("{header}{line}\n"), 1)
}

/// Asserts that `e` concerns `key` and its message contains every one of `parts`.
pub fn assert_err(e: &ConfigError, key: &str, parts: &[&str]) {
    assert_eq!(e.key.as_deref(), Some(key), "wrong key in `{e}`");
    for part in parts {
        assert!(e.message.contains(part), "`{e}` does not contain `{part}`");
    }
}

/// Error from MINIMAL with one override.
pub fn set_err(spec: &str) -> ConfigError {
    err(MINIMAL, &[spec])
}

/// `c` written as TOML loads back to `c`, and writes the same text again.
pub fn assert_round_trip(c: &Config) {
    let text = c.to_toml();
    let again = Config::from_toml_str(&text, &c.source, &c.base_dir, &[])
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(&again, c, "\n{text}");
    assert_eq!(again.to_toml(), text);
}
