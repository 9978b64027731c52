//! Marches in time: the forward sweep and the score-based reverse step (the exact reverse sweep
//! and trajectory stores come later).

pub mod forward;
pub mod score;
