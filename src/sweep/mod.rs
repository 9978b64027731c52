//! Marches in time: the forward sweep, the reverse sweep and the trajectory stores between them.

pub mod forward;
pub mod reverse;
pub mod trajectory;
