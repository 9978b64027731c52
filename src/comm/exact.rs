//! The reproducible SUM reduction: each rank's exact accumulators
//! ([`crate::numeric::ExactSum`]) are combined by an integer SUM of their limbs, which is exact
//! and associative, so the rounded totals have the same bits for every rank count, process grid
//! and reduction order MPI picks. One `MPI_Allreduce` of `ExactSum::WORDS` (70) 64-bit integers
//! per value.

use mpi::collective::SystemOperation;
use mpi::traits::*;

use super::Comm;
use crate::numeric::exact_sum::{ExactSum, WORDS};

impl Comm {
    /// The global exact sums of several local accumulators, each rounded once to the nearest
    /// double: bit-identical for any distribution of the terms over ranks (collective).
    pub fn sum_exact_many(&self, local: &[ExactSum]) -> Vec<f64> {
        let mut words = Vec::with_capacity(local.len() * WORDS);
        for s in local {
            words.extend_from_slice(&s.to_words());
        }
        let mut out = vec![0i64; words.len()];
        self.world
            .all_reduce_into(&words[..], &mut out[..], SystemOperation::sum());
        out.chunks(WORDS)
            .map(|w| ExactSum::from_words(w).value())
            .collect()
    }
}
