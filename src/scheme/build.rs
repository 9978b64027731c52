//! The one place that maps a [`SchemeKind`] to its flux family type: everything built for a
//! family (the forward stepper, its transpose, the reverse walk) is a [`FamilyBuilder`], so a
//! new scheme adds its family in `src/scheme/` and one arm in [`SchemeKind::build`].

use super::{FaceCoefficients, Family, SchemeKind, Sg, Upwind};

/// Something built for any flux family.
pub trait FamilyBuilder {
    /// What is built.
    type Output;

    /// Builds it for `family`.
    fn build<F: Family + 'static>(self, family: F) -> Self::Output;
}

impl SchemeKind {
    /// `builder`'s output for this scheme's family with `coefficients`.
    pub fn build<B: FamilyBuilder>(self, coefficients: FaceCoefficients, builder: B) -> B::Output {
        match self {
            SchemeKind::Upwind => builder.build(Upwind::new(coefficients)),
            SchemeKind::Sg => builder.build(Sg::new(coefficients)),
        }
    }
}
