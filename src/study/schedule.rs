//! How the runs of a study are spread over the ranks: the ranks are split into
//! `G = min(P, J)` groups of consecutive ranks with near-equal sizes (`P` ranks, `J` runs),
//! and the runs are assigned to the groups by the longest-processing-time rule on an
//! estimated cost: largest first, each to the group that would finish it earliest (load per
//! rank), ties to the lowest group. Pure arithmetic, the same on every rank.

use crate::decomp::split;

/// The sizes of the `groups` groups of consecutive ranks (`groups <= ranks`).
pub fn group_sizes(ranks: usize, groups: usize) -> Vec<usize> {
    (0..groups).map(|g| split(ranks, groups, g).1).collect()
}

/// The group of `rank`.
pub fn group_of(rank: usize, ranks: usize, groups: usize) -> usize {
    (0..groups)
        .find(|&g| {
            let (start, len) = split(ranks, groups, g);
            rank >= start && rank < start + len
        })
        .expect("every rank is in a group")
}

/// Estimated cost of a run on `n^dim` cells: cells times `n` (the Krylov iterations per
/// Newton step grow about like `n` with a block-Jacobi ILU(0) preconditioner). Crude, but it
/// only has to order the runs.
pub fn cost(n: usize, dim: usize) -> f64 {
    (n as f64).powi(dim as i32 + 1)
}

/// The group of every run (longest processing time first, load counted per rank).
pub fn assign(costs: &[f64], sizes: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; sizes.len()];
    let mut out = vec![0; costs.len()];
    for job in order {
        let finish = |g: usize| load[g] + costs[job] / sizes[g] as f64;
        let best = (0..sizes.len())
            .min_by(|&a, &b| finish(a).total_cmp(&finish(b)).then(a.cmp(&b)))
            .expect("at least one group");
        load[best] = finish(best);
        out[job] = best;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_the_ranks() {
        assert_eq!(group_sizes(5, 2), vec![3, 2]);
        let groups: Vec<usize> = (0..5).map(|r| group_of(r, 5, 2)).collect();
        assert_eq!(groups, vec![0, 0, 0, 1, 1]);
    }

    #[test]
    fn longest_first_balances_the_load() {
        // One big run alone, the small ones together.
        assert_eq!(assign(&[1.0, 8.0, 1.0, 1.0], &[1, 1]), vec![1, 0, 1, 1]);
        // Ties go to the lowest group; equal runs alternate.
        assert_eq!(assign(&[1.0, 1.0, 1.0, 1.0], &[1, 1]), vec![0, 1, 0, 1]);
        // One group takes everything.
        assert_eq!(assign(&[3.0, 2.0], &[4]), vec![0, 0]);
    }
}
