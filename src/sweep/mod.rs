//! Marches in time: the forward sweep (the reverse sweep and trajectory stores come later).

pub mod forward;
