//! Numerical building blocks that are pure functions of their inputs: the exact,
//! order-independent summation of [`exact_sum`] that makes the implicit solver's reductions
//! reproducible on any rank count.

pub mod exact_sum;

pub use exact_sum::ExactSum;
