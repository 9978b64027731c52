//! Enums whose values have a name in config files and messages (`time.scheme = "sg"`).
//!
//! `named_enum!` declares such an enum once: its variants with their names, `ALL` (the order
//! of messages, and the list tests iterate over), `name()`, parsing ([`std::str::FromStr`], whose
//! error lists the valid names), `Display`, and serde (de)serialization as the name. The
//! [`Named`] trait lets the config reader parse any of them generically.

use std::fmt;

/// An enum whose values have a name.
pub trait Named: Copy + PartialEq + 'static {
    /// Every value, in the order they are listed in messages.
    fn all() -> &'static [Self];

    /// The name used in config files and messages.
    fn name(self) -> &'static str;

    /// Every name, in the order of [`Named::all`].
    fn names() -> Vec<&'static str> {
        Self::all().iter().map(|v| v.name()).collect()
    }

    /// The value called `name`.
    fn from_name(name: &str) -> Result<Self, UnknownName> {
        Self::all()
            .iter()
            .copied()
            .find(|v| v.name() == name)
            .ok_or_else(|| UnknownName {
                given: name.to_string(),
                valid: Self::names(),
            })
    }
}

/// A name that is not one of an enum's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    /// The name given.
    pub given: String,
    /// The valid names, in the order of `ALL`.
    pub valid: Vec<&'static str>,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown name `{}`; valid: {}",
            self.given,
            self.valid.join(", ")
        )
    }
}

impl std::error::Error for UnknownName {}

/// Declares a fieldless enum whose variants have names:
///
/// ```ignore
/// named_enum! {
///     /// The flux family.
///     pub enum SchemeKind {
///         /// Monotone upwind drift + central diffusion.
///         Upwind = "upwind",
///         /// Well-balanced Scharfetter–Gummel.
///         Sg = "sg",
///     }
/// }
/// ```
///
/// The enum derives `Clone, Copy, Debug, PartialEq, Eq, Hash` and gets `ALL` (in declaration
/// order), `name()`, [`Named`], `FromStr`, `Display` and serde as its name.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $text:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order they are listed in messages: tests iterate over it.
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant),+];

            /// The name used in config files and messages.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl $crate::names::Named for $name {
            fn all() -> &'static [Self] {
                &$name::ALL
            }

            fn name(self) -> &'static str {
                $name::name(self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::names::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$name as $crate::names::Named>::from_name(s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    use super::*;

    named_enum! {
        /// A test enum.
        enum Colour {
            /// Red.
            Red = "red",
            /// Dark green.
            DarkGreen = "dark_green",
        }
    }

    #[test]
    fn names_parse_back_and_unknown_names_list_the_valid_ones() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::DarkGreen]);
        for c in Colour::ALL {
            assert_eq!(c.name().parse::<Colour>(), Ok(c));
            assert_eq!(c.to_string(), c.name());
        }
        let e = "green".parse::<Colour>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown name `green`; valid: red, dark_green"
        );
        assert_eq!(Colour::names(), vec!["red", "dark_green"]);
    }

    #[test]
    fn serde_uses_the_name() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct W {
            c: Colour,
        }
        let text = toml::to_string(&W {
            c: Colour::DarkGreen,
        })
        .unwrap();
        assert_eq!(text.trim(), "c = \"dark_green\"");
        assert_eq!(
            toml::from_str::<W>(&text).unwrap(),
            W {
                c: Colour::DarkGreen
            }
        );
        assert!(toml::from_str::<W>("c = \"blue\"").is_err());
    }
}
