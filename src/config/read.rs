//! Typed access to the TOML values of one table, with errors that name the full key, the
//! expected type and the value found.

use toml::{Table, Value};

use super::schema::closest;
use super::ConfigError;
use crate::names::Named;

/// Origin used for errors about command-line overrides.
pub(super) const SET_ORIGIN: &str = "--set";

/// Error context: the file name and the keys that came from `--set`.
pub(super) struct Ctx<'a> {
    /// The config file name, used in messages.
    pub source: &'a str,
    /// The full keys set by `--set`, in order.
    pub overridden: Vec<String>,
}

impl Ctx<'_> {
    /// An error about `key`, attributed to `--set` when that key (or the array it indexes,
    /// `initial.components` for `initial.components[0].std`) was overridden.
    pub fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let from_set = self.overridden.iter().any(|o| {
            key == o
                || key
                    .strip_prefix(o.as_str())
                    .is_some_and(|rest| rest.starts_with('['))
        });
        let origin = if from_set { SET_ORIGIN } else { self.source };
        ConfigError::new(origin, Some(key), message)
    }
}

/// A context for reading defaults: no file, no overrides.
static NO_FILE: Ctx<'static> = Ctx {
    source: "",
    overridden: Vec::new(),
};

/// `float 10.5`, `string "abc"`, ... for "found" in type errors (long values are shortened).
pub(super) fn describe(value: &Value) -> String {
    let kind = match value {
        Value::String(_) => "string",
        Value::Integer(_) => "integer",
        Value::Float(_) => "float",
        Value::Boolean(_) => "boolean",
        Value::Datetime(_) => "datetime",
        Value::Array(_) => "array",
        Value::Table(_) => "table",
    };
    let mut text = value.to_string();
    if text.chars().count() > 60 {
        text = text.chars().take(57).collect::<String>() + "...";
    }
    format!("{kind} {text}")
}

/// Formats a float so that it parses back to the same value (`1.0`, `0.01`, `1e-7`).
pub(super) fn fmt_f64(x: f64) -> String {
    format!("{x:?}")
}

/// A TOML array of floats, `[0.5, 0.2]`.
pub(super) fn fmt_floats(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|x| fmt_f64(*x)).collect();
    format!("[{}]", items.join(", "))
}

/// One table of the config (a section or a mixture component) with typed getters.
///
/// Every getter returns `Ok(None)` for an absent key and an error naming the key for a value of
/// the wrong type or out of range.
pub(super) struct Sec<'a> {
    /// `grid` or `initial.components[0]`.
    pub prefix: String,
    /// The table, `None` when the section is absent.
    pub table: Option<&'a Table>,
    /// Error context.
    pub ctx: &'a Ctx<'a>,
}

impl<'a> Sec<'a> {
    /// The table `name` of `root` (absent if `root` has no such table).
    pub fn of(root: &'a Table, name: &str, ctx: &'a Ctx<'a>) -> Sec<'a> {
        Sec {
            prefix: name.to_string(),
            table: root.get(name).and_then(Value::as_table),
            ctx,
        }
    }

    /// An absent section: every key takes its default.
    pub fn absent(name: &str) -> Sec<'static> {
        Sec {
            prefix: name.to_string(),
            table: None,
            ctx: &NO_FILE,
        }
    }

    /// `section.key`.
    pub fn full(&self, key: &str) -> String {
        format!("{}.{key}", self.prefix)
    }

    /// An error about `key` of this table.
    pub fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        self.ctx.err(&self.full(key), message)
    }

    /// The raw value of `key`.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.table.and_then(|t| t.get(key))
    }

    /// Whether `key` is given.
    pub fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(*i)),
            Some(v) => Err(self.err(key, format!("expected an integer, found {}", describe(v)))),
        }
    }

    /// A finite number (an integer is accepted).
    pub fn float(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        let x = match self.raw(key) {
            None => return Ok(None),
            Some(Value::Float(x)) => *x,
            Some(Value::Integer(i)) => *i as f64,
            Some(v) => {
                return Err(self.err(key, format!("expected a number, found {}", describe(v))))
            }
        };
        if !x.is_finite() {
            return Err(self.err(key, format!("must be a finite number, got {}", fmt_f64(x))));
        }
        Ok(Some(x))
    }

    pub fn string(&self, key: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.err(key, format!("expected a string, found {}", describe(v)))),
        }
    }

    /// An array of finite numbers.
    pub fn floats(&self, key: &str) -> Result<Option<Vec<f64>>, ConfigError> {
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        let expected = || {
            self.err(
                key,
                format!("expected an array of numbers, found {}", describe(value)),
            )
        };
        let Value::Array(items) = value else {
            return Err(expected());
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let x = match item {
                Value::Float(x) => *x,
                Value::Integer(i) => *i as f64,
                _ => return Err(expected()),
            };
            if !x.is_finite() {
                let msg = format!("must contain finite numbers, got {}", fmt_f64(x));
                return Err(self.err(key, msg));
            }
            out.push(x);
        }
        Ok(Some(out))
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(
                key,
                format!("expected true or false, found {}", describe(v)),
            )),
        }
    }

    /// A list: an array, or a single value taken as a one-element list.
    fn list(&self, key: &str) -> Option<Vec<&'a Value>> {
        match self.raw(key)? {
            Value::Array(items) => Some(items.iter().collect()),
            single => Some(vec![single]),
        }
    }

    /// A list of finite numbers (a single number is a one-element list).
    pub fn float_list(&self, key: &str) -> Result<Option<Vec<f64>>, ConfigError> {
        let Some(items) = self.list(key) else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            let x = match item {
                Value::Float(x) => *x,
                Value::Integer(i) => *i as f64,
                v => {
                    let msg = format!("expected a list of numbers, found {}", describe(v));
                    return Err(self.err(key, msg));
                }
            };
            if !x.is_finite() {
                let msg = format!("must contain finite numbers, got {}", fmt_f64(x));
                return Err(self.err(key, msg));
            }
            out.push(x);
        }
        Ok(Some(out))
    }

    /// A list of integers (a single integer is a one-element list).
    pub fn int_list(&self, key: &str) -> Result<Option<Vec<i64>>, ConfigError> {
        let Some(items) = self.list(key) else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| {
                v.as_integer().ok_or_else(|| {
                    let msg = format!("expected a list of integers, found {}", describe(v));
                    self.err(key, msg)
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// An array of integers.
    pub fn ints(&self, key: &str) -> Result<Option<Vec<i64>>, ConfigError> {
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        let items = match value {
            Value::Array(items) if items.iter().all(|v| matches!(v, Value::Integer(_))) => items,
            _ => {
                let msg = format!("expected an array of integers, found {}", describe(value));
                return Err(self.err(key, msg));
            }
        };
        Ok(Some(items.iter().filter_map(Value::as_integer).collect()))
    }

    /// `text` as one of the names of `T`, or an error listing the valid names.
    fn parse_name<T: Named>(&self, key: &str, text: &str) -> Result<T, ConfigError> {
        T::from_name(text).map_err(|unknown| {
            let mut msg = format!(
                "unknown {key} `{text}`; valid: {}",
                unknown.valid.join(", ")
            );
            if let Some(close) = closest(text, &unknown.valid) {
                msg += &format!(" (did you mean `{close}`?)");
            }
            self.err(key, msg)
        })
    }

    /// A name of `T` (`stepper`, `scheme`, `kind`, ...).
    pub fn name<T: Named>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        self.parse_name(key, text).map(Some)
    }

    /// A list of names of `T` (a single name is a one-element list).
    pub fn name_list<T: Named>(&self, key: &str) -> Result<Option<Vec<T>>, ConfigError> {
        let Some(items) = self.list(key) else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Value::String(text) = item else {
                let msg = format!("expected a list of names, found {}", describe(item));
                return Err(self.err(key, msg));
            };
            out.push(self.parse_name(key, text)?);
        }
        Ok(Some(out))
    }

    /// `x` if it is `> 0`.
    pub fn positive(&self, key: &str, x: f64) -> Result<f64, ConfigError> {
        if x > 0.0 {
            Ok(x)
        } else {
            Err(self.err(key, format!("must be > 0, got {}", fmt_f64(x))))
        }
    }

    /// An optional float that must be positive when present.
    pub fn opt_positive(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        self.float(key)?.map(|x| self.positive(key, x)).transpose()
    }

    /// A float that must be `>= 0`, with a default.
    pub fn non_negative_or(&self, key: &str, default: f64) -> Result<f64, ConfigError> {
        match self.float(key)? {
            None => Ok(default),
            Some(x) if x >= 0.0 => Ok(x),
            Some(x) => Err(self.err(key, format!("must be >= 0, got {}", fmt_f64(x)))),
        }
    }

    /// An integer that must be at least `min`, with a default.
    pub fn int_at_least(&self, key: &str, min: i64, default: u64) -> Result<u64, ConfigError> {
        match self.int(key)? {
            None => Ok(default),
            Some(i) if i >= min => Ok(i as u64),
            Some(i) => Err(self.err(key, format!("must be >= {min}, got {i}"))),
        }
    }

    /// `value`, or the error "is required (`what`)".
    pub fn required<T>(&self, key: &str, value: Option<T>, what: &str) -> Result<T, ConfigError> {
        value.ok_or_else(|| self.err(key, format!("is required ({what})")))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;

    // --- types -----------------------------------------------------------------------------------

    #[test]
    fn wrong_types_name_key_expected_and_found() {
        let e = err(&MINIMAL.replace("n = 101", "n = \"abc\""), &[]);
        assert_err(
            &e,
            "grid.n",
            &["expected an integer", "found string \"abc\""],
        );
        let e = err(&MINIMAL.replace("n = 101", "n = 10.5"), &[]);
        assert_err(&e, "grid.n", &["expected an integer", "found float 10.5"]);
        let e = set_err("model.kappa=true");
        assert_err(
            &e,
            "model.kappa",
            &["expected a number", "found boolean true"],
        );
        let e = set_err("decomposition.procs=[1.5, 2]");
        assert_err(
            &e,
            "decomposition.procs",
            &["expected an array of integers"],
        );
        let e = set_err("initial.components=[{weight=1, mean=[\"a\", 0], std=1}]");
        assert_err(
            &e,
            "initial.components[0].mean",
            &["expected an array of numbers"],
        );
        let e = set_err("initial.components=3");
        assert_err(&e, "initial.components", &["expected an array of tables"]);
        let e = set_err("time.stepper=3");
        assert_err(&e, "time.stepper", &["unknown stepper `3`"]);
        let e = err(&format!("{MINIMAL}[output]\ndir = 3\n"), &[]);
        assert_err(&e, "output.dir", &["expected a string", "found integer 3"]);
    }

    #[test]
    fn non_finite_values_are_rejected() {
        let e = set_err("model.gamma=nan");
        assert_err(&e, "model.gamma", &["must be a finite number, got NaN"]);
        let e = set_err("grid.half_width=inf");
        assert_err(&e, "grid.half_width", &["finite"]);
        let e = set_err("model.kappa=-inf");
        assert_err(&e, "model.kappa", &["finite"]);
        let e = set_err("initial.components=[{weight=1, mean=[nan, 0], std=1}]");
        assert_err(&e, "initial.components[0].mean", &["finite"]);
        let e = set_err("time.t_end=inf");
        assert_err(&e, "time.t_end", &["finite"]);
    }

    #[test]
    fn unknown_names_list_valid_ones() {
        let e = set_err("time.stepper=rk4");
        assert_err(
            &e,
            "time.stepper",
            &["unknown stepper `rk4`", "valid: euler, ssprk2"],
        );
        let e = set_err("time.scheme=sgg");
        assert_err(
            &e,
            "time.scheme",
            &["valid: upwind, sg", "did you mean `sg`?"],
        );
        let e = set_err("initial.kind=gauss");
        assert_err(
            &e,
            "initial.kind",
            &[
                "unknown kind `gauss`",
                "valid: gaussian_mixture, disc, ring, points",
            ],
        );
        let e = err(&MINIMAL.replace("kind = \"gaussian_mixture\"", ""), &[]);
        assert_err(
            &e,
            "initial.kind",
            &["is required", "gaussian_mixture, disc"],
        );
    }
}
