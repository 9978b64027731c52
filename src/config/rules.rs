//! How a section declares its keys: [`config_section!`] and the reading rules of its key table.
//!
//! A section file declares each key once, as a field of its struct with a rule:
//!
//! ```ignore
//! config_section! {
//!     /// `[checkpoint]`: crash-safe restart files.
//!     pub struct CheckpointConfig {
//!         /// Number of newest checkpoints kept, `>= 1`.
//!         pub keep: u64 = count(1, 3),
//!     }
//! }
//! ```
//!
//! The field's name is the key (`as "key"` after the type renames it), its doc comment is its
//! meaning, and the rule gives its TOML type, default and range (and, with `.physics()`, marks a
//! key that belongs to the physics fingerprint). From this the macro makes the struct
//! (`Serialize` writes the key), `keys()` (the schema rows: unknown-key checks, suggestions,
//! `--set` parsing) and `read()` (every key by its rule, then the optional `check = fn;` of the
//! section's own cross-key rules). Adding a key therefore touches its section file and
//! `configs/defaults.toml`, nothing else.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Serializer;

use super::read::Sec;
use super::schema::{Key, Ty};
use super::ConfigError;
use crate::names::Named;

/// How one key is read: its TOML type, its default and its range.
pub(super) trait Rule {
    /// The field type.
    type Value;

    /// The TOML type of the key.
    fn ty(&self) -> Ty;

    /// Whether the key belongs to the physics fingerprint.
    fn is_physics(&self) -> bool {
        false
    }

    /// Reads the key `key` of `sec`: its value, or its default when absent.
    fn read(&self, sec: &Sec, key: &str) -> Result<Self::Value, ConfigError>;

    /// The schema row of the key `name`.
    fn key(&self, name: &'static str) -> Key {
        Key {
            name,
            ty: self.ty(),
            physics: self.is_physics(),
        }
    }

    /// The same rule, for a key that belongs to the physics fingerprint: two runs whose
    /// physics keys agree compute the same solution, and a restart refuses to change them.
    fn physics(self) -> Physics<Self>
    where
        Self: Sized,
    {
        Physics(self)
    }
}

/// A rule whose key belongs to the physics fingerprint.
pub(super) struct Physics<R>(R);

impl<R: Rule> Rule for Physics<R> {
    type Value = R::Value;

    fn ty(&self) -> Ty {
        self.0.ty()
    }

    fn is_physics(&self) -> bool {
        true
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<R::Value, ConfigError> {
        self.0.read(sec, key)
    }
}

/// An integer `>= min`, `default` when absent.
pub(super) struct Count {
    min: i64,
    default: u64,
}

/// An integer `>= min`, `default` when absent.
pub(super) const fn count(min: i64, default: u64) -> Count {
    Count { min, default }
}

impl Rule for Count {
    type Value = u64;

    fn ty(&self) -> Ty {
        Ty::Int
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<u64, ConfigError> {
        sec.int_at_least(key, self.min, self.default)
    }
}

/// A number `> 0`, `default` when absent.
pub(super) struct Positive(f64);

/// A number `> 0`, `default` when absent.
pub(super) const fn positive(default: f64) -> Positive {
    Positive(default)
}

impl Rule for Positive {
    type Value = f64;

    fn ty(&self) -> Ty {
        Ty::Float
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<f64, ConfigError> {
        Ok(sec.opt_positive(key)?.unwrap_or(self.0))
    }
}

/// A number `>= 0`, `default` when absent.
pub(super) struct NonNegative(f64);

/// A number `>= 0`, `default` when absent.
pub(super) const fn non_negative(default: f64) -> NonNegative {
    NonNegative(default)
}

impl Rule for NonNegative {
    type Value = f64;

    fn ty(&self) -> Ty {
        Ty::Float
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<f64, ConfigError> {
        sec.non_negative_or(key, self.0)
    }
}

/// An optional number, `> 0` when given.
pub(super) struct OptionalPositive;

/// An optional number, `> 0` when given.
pub(super) const fn optional_positive() -> OptionalPositive {
    OptionalPositive
}

impl Rule for OptionalPositive {
    type Value = Option<f64>;

    fn ty(&self) -> Ty {
        Ty::Float
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<Option<f64>, ConfigError> {
        sec.opt_positive(key)
    }
}

/// A required number `> 0`; `what` says what it is in the "is required" message.
pub(super) struct RequiredPositive(&'static str);

/// A required number `> 0`; `what` says what it is in the "is required" message.
pub(super) const fn required_positive(what: &'static str) -> RequiredPositive {
    RequiredPositive(what)
}

impl Rule for RequiredPositive {
    type Value = f64;

    fn ty(&self) -> Ty {
        Ty::Float
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<f64, ConfigError> {
        let x = sec.opt_positive(key)?;
        sec.required(key, x, self.0)
    }
}

/// One of the names of `T`, `default` when absent.
pub(super) struct Name<T>(T);

/// One of the names of `T`, `default` when absent.
pub(super) const fn name<T: Named>(default: T) -> Name<T> {
    Name(default)
}

impl<T: Named> Rule for Name<T> {
    type Value = T;

    fn ty(&self) -> Ty {
        Ty::Str
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<T, ConfigError> {
        Ok(sec.name(key)?.unwrap_or(self.0))
    }
}

/// One of the names of `T`, required (the message lists the names).
pub(super) struct RequiredName<T>(PhantomData<T>);

/// One of the names of `T`, required (the message lists the names).
pub(super) const fn required_name<T: Named>() -> RequiredName<T> {
    RequiredName(PhantomData)
}

impl<T: Named> Rule for RequiredName<T> {
    type Value = T;

    fn ty(&self) -> Ty {
        Ty::Str
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<T, ConfigError> {
        let value = sec.name(key)?;
        sec.required(key, value, &format!("one of {}", T::names().join(", ")))
    }
}

/// A non-empty path, `default` when absent.
pub(super) struct Dir(&'static str);

/// A non-empty path, `default` when absent.
pub(super) const fn dir(default: &'static str) -> Dir {
    Dir(default)
}

impl Rule for Dir {
    type Value = PathBuf;

    fn ty(&self) -> Ty {
        Ty::Str
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<PathBuf, ConfigError> {
        match sec.string(key)?.unwrap_or(self.0) {
            "" => Err(sec.err(key, "must not be empty")),
            path => Ok(PathBuf::from(path)),
        }
    }
}

/// `true` or `false`, `default` when absent.
pub(super) struct Flag(bool);

/// `true` or `false`, `default` when absent.
pub(super) const fn flag(default: bool) -> Flag {
    Flag(default)
}

impl Rule for Flag {
    type Value = bool;

    fn ty(&self) -> Ty {
        Ty::Bool
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<bool, ConfigError> {
        Ok(sec.boolean(key)?.unwrap_or(self.0))
    }
}

/// A key read by a function of the section file (for ranges the rules above do not express).
pub(super) struct Custom<T> {
    ty: Ty,
    read: fn(&Sec, &str) -> Result<T, ConfigError>,
}

/// A key of TOML type `ty` read by `read` (which gives the default when the key is absent).
pub(super) const fn custom<T>(ty: Ty, read: fn(&Sec, &str) -> Result<T, ConfigError>) -> Custom<T> {
    Custom { ty, read }
}

impl<T> Rule for Custom<T> {
    type Value = T;

    fn ty(&self) -> Ty {
        self.ty
    }

    fn read(&self, sec: &Sec, key: &str) -> Result<T, ConfigError> {
        (self.read)(sec, key)
    }
}

/// Writes a path as a string (lossy for a path that is not UTF-8), for `serialize_with`.
pub(super) fn path_text<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// [`path_text`] for an optional path (`None` is left out).
pub(super) fn optional_path_text<S: Serializer>(
    path: &Option<PathBuf>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => s.serialize_some(&path.to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// Declares a config section: its struct, its key table and its reader (see the module docs).
macro_rules! config_section {
    (@key $field:ident) => {
        stringify!($field)
    };
    (@key $field:ident $key:literal) => {
        $key
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty $(as $key:literal)? = $rule:expr,
            )+
        }
        $(check = $check:path;)?
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                $(#[serde(rename = $key)])?
                pub $field: $ty,
            )+
        }

        impl $name {
            /// The keys of the section, in the order they are written.
            pub(in crate::config) fn keys() -> Vec<$crate::config::schema::Key> {
                use $crate::config::rules::Rule as _;
                vec![$( ($rule).key(config_section!(@key $field $($key)?)) ),+]
            }

            /// Reads every key by its rule (type, range, default), then the section's checks.
            pub(in crate::config) fn read(
                sec: &$crate::config::read::Sec,
            ) -> Result<Self, $crate::config::ConfigError> {
                use $crate::config::rules::Rule as _;
                let value = $name {
                    $( $field: ($rule).read(sec, config_section!(@key $field $($key)?))?, )+
                };
                $( $check(&value, sec)?; )?
                Ok(value)
            }
        }
    };
}

pub(super) use config_section;
