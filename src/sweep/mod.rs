//! Marches in time: the forward sweep, the reverse sweep and the trajectory stores between them,
//! and the score-based reverse step (`reverse.method = "score"`).

pub mod forward;
pub mod reverse;
pub mod score;
pub mod trajectory;
