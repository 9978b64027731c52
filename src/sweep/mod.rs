//! Marches in time: the forward sweep, the exact reverse sweep, the score-based reverse step and
//! the trajectory stores between them.

pub mod forward;
pub mod reverse;
pub mod score;
pub mod trajectory;
