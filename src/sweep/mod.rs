//! Marches in time: the forward sweep, the reverse sweep and the trajectory stores between them,
//! and the score-based reverse step (`reverse.method = "score"`).

pub mod checkpointer;
pub mod forward;
pub mod forward_run;
pub mod observers;
pub mod pipeline;
pub mod reverse;
pub mod score;
pub mod start;
pub mod trajectory;
