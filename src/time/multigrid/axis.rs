//! Grid transfer along one axis. The cell-centred grids of `nlfp` have an odd number of cells
//! per axis (a centre cell on the origin); an axis of `n = 2 n_c + 1` cells coarsens to `n_c`
//! cells placed on the odd fine cells `1, 3, .., n - 2` (coarse cell `I` sits on fine cell
//! `2I + 1`, spacing `2h`, the centre cell stays a centre cell when `n + 1` is divisible by 4).
//! Prolongation `P` is linear interpolation, constant next to the boundary:
//!
//! ```text
//! fine 2I+1      <- coarse I                      (weight 1)
//! fine 2I (0<2I<n-1) <- (coarse I-1 + coarse I) / 2
//! fine 0 <- coarse 0,  fine n-1 <- coarse n_c-1   (weight 1: the coarse cells next to the
//!                                                  boundary cover the boundary cells)
//! ```
//!
//! and restriction is its transpose `R = P^T` (full weighting in sum scaling: each coarse cell
//! collects the weighted residuals of the fine cells it covers, total weight 2 per axis), so
//! `R 1_fine` is the fine volume a coarse cell covers and conservation carries over. An axis of
//! one cell (1D) is kept. An axis that is even or shorter than 5 does not coarsen: grids with `n`
//! not of the form `2^k m - 1` coarsen as far as they can.

/// The number of cells of the coarser axis, if an axis of `n` cells coarsens.
pub fn coarser(n: usize) -> Option<usize> {
    (n >= 5 && n % 2 == 1).then_some((n - 1) / 2)
}

/// Transfer weights of one axis between a fine and the next coarser level, by global index.
#[derive(Clone, Debug)]
pub struct AxisTransfer {
    /// Whether the axis is halved (else kept: one cell).
    pub halved: bool,
    /// For each coarse cell: `(fine cell, weight)` in increasing fine index (a row of `P^T`).
    pub restrict: Vec<Vec<(usize, f64)>>,
    /// For each fine cell: `(coarse cell, weight)` in increasing coarse index (a row of `P`).
    pub prolong: Vec<Vec<(usize, f64)>>,
}

impl AxisTransfer {
    /// The transfer of an axis of `n` fine cells: halved if `halved`, else kept.
    pub fn new(n: usize, halved: bool) -> AxisTransfer {
        if !halved {
            let id: Vec<Vec<(usize, f64)>> = (0..n).map(|i| vec![(i, 1.0)]).collect();
            return AxisTransfer {
                halved,
                restrict: id.clone(),
                prolong: id,
            };
        }
        let nc = (n - 1) / 2;
        let mut prolong = vec![Vec::new(); n];
        for (i, row) in prolong.iter_mut().enumerate() {
            *row = if i % 2 == 1 {
                vec![((i - 1) / 2, 1.0)]
            } else if i == 0 {
                vec![(0, 1.0)]
            } else if i == n - 1 {
                vec![(nc - 1, 1.0)]
            } else {
                vec![(i / 2 - 1, 0.5), (i / 2, 0.5)]
            };
        }
        let mut restrict = vec![Vec::new(); nc];
        for (i, row) in prolong.iter().enumerate() {
            for &(c, w) in row {
                restrict[c].push((i, w));
            }
        }
        AxisTransfer {
            halved,
            restrict,
            prolong,
        }
    }

    /// Cells of the coarse axis.
    pub fn coarse_len(&self) -> usize {
        self.restrict.len()
    }

    /// The coarse cells `(start, len)` owned by the rank that owns fine cells
    /// `start .. start + len`: coarse `I` goes with fine `2I + 1`, so every fine cell a coarse
    /// cell reads (restriction) and every coarse cell a fine cell reads (prolongation) is
    /// owned or one ghost away.
    pub fn coarse_range(&self, start: usize, len: usize) -> (usize, usize) {
        if !self.halved {
            return (start, len);
        }
        let (a, b) = (start / 2, (start + len) / 2);
        (a, b - a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restriction_is_the_transpose_and_covers_every_fine_cell_once() {
        for n in [5usize, 7, 15, 63] {
            let t = AxisTransfer::new(n, true);
            assert_eq!(t.coarse_len(), (n - 1) / 2);
            // Every fine cell's prolongation weights sum to 1 (constants are interpolated
            // exactly), so the restriction weights of all coarse cells sum to n.
            for row in &t.prolong {
                assert_eq!(row.iter().map(|r| r.1).sum::<f64>(), 1.0);
            }
            let total: f64 = t.restrict.iter().flatten().map(|r| r.1).sum();
            assert_eq!(total, n as f64);
            // Ownership: the coarse ranges of any split partition the coarse axis.
            for parts in 1..=4 {
                let mut next = 0;
                for k in 0..parts {
                    let (s, l) = crate::decomp::split(n, parts, k);
                    let (cs, cl) = t.coarse_range(s, l);
                    assert_eq!(cs, next, "n {n} parts {parts}");
                    next = cs + cl;
                    for c in cs..cs + cl {
                        for &(i, _) in &t.restrict[c] {
                            assert!(i + 1 >= s && i <= s + l, "restriction reads far");
                        }
                    }
                    for i in s..s + l {
                        for &(c, _) in &t.prolong[i] {
                            assert!(c + 1 >= cs && c <= cs + cl, "prolongation reads far");
                        }
                    }
                }
                assert_eq!(next, t.coarse_len());
            }
        }
        assert_eq!(coarser(255), Some(127));
        assert_eq!(coarser(81), Some(40));
        assert_eq!(coarser(40), None);
        assert_eq!(coarser(3), None);
    }
}
