//! Colour scales: values to positions in `[0, 1]` (linear or log10), positions to colours
//! (viridis: dark blue-violet at 0, yellow at 1, perceptually uniform and readable in grey).

/// A log colour scale spans at most this many decades below the maximum; smaller positive
/// values (and all values `<= 0`) get the floor colour.
pub const MAX_LOG_DECADES: f64 = 12.0;

/// Viridis (matplotlib) sampled at nine equally spaced positions.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

/// The viridis colour at position `s` (clamped to `[0, 1]`), linearly interpolated.
pub fn viridis(s: f64) -> [u8; 3] {
    let s = if s.is_nan() { 0.0 } else { s.clamp(0.0, 1.0) };
    let pos = s * (VIRIDIS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let w = pos - k as f64;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    std::array::from_fn(|i| (a[i] as f64 + w * (b[i] as f64 - a[i] as f64)).round() as u8)
}

/// Maps values to `[0, 1]`: linearly between `lo` and `hi`, or linearly in `log10` (then
/// `0 < lo < hi` and values `<= lo`, including non-positive ones, map to 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColourScale {
    /// Value at position 0 (the floor of a log scale).
    pub lo: f64,
    /// Value at position 1.
    pub hi: f64,
    /// Whether positions are linear in `log10(value)`.
    pub log: bool,
}

impl ColourScale {
    /// The scale covering the finite `values`: `[min, max]` when linear; when `log`,
    /// `[max(smallest positive, max * 10^-MAX_LOG_DECADES), max]`. Degenerate ranges (all
    /// values equal, no finite or no positive values) are widened so that `lo < hi`.
    pub fn covering(values: impl IntoIterator<Item = f64>, log: bool) -> ColourScale {
        let (mut min, mut max, mut min_pos) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            min = min.min(v);
            max = max.max(v);
            if v > 0.0 {
                min_pos = min_pos.min(v);
            }
        }
        if log {
            if !min_pos.is_finite() {
                return ColourScale {
                    lo: 0.1,
                    hi: 1.0,
                    log,
                };
            }
            let lo = min_pos.max(max * 10f64.powf(-MAX_LOG_DECADES));
            let lo = if lo < max { lo } else { max / 10.0 };
            ColourScale { lo, hi: max, log }
        } else if !min.is_finite() {
            ColourScale {
                lo: 0.0,
                hi: 1.0,
                log,
            }
        } else if min < max {
            ColourScale {
                lo: min,
                hi: max,
                log,
            }
        } else {
            let pad = if min == 0.0 { 1.0 } else { 0.5 * min.abs() };
            ColourScale {
                lo: min - pad,
                hi: max + pad,
                log,
            }
        }
    }

    /// Position of `v` in `[0, 1]` (`None` for NaN and infinities).
    pub fn position(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        let s = if self.log {
            if v <= self.lo {
                0.0
            } else {
                (v / self.lo).log10() / (self.hi / self.lo).log10()
            }
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        Some(s.clamp(0.0, 1.0))
    }

    /// The value at position `s` in `[0, 1]` (inverse of [`ColourScale::position`]).
    pub fn value(&self, s: f64) -> f64 {
        if self.log {
            self.lo * (self.hi / self.lo).powf(s)
        } else {
            self.lo + s * (self.hi - self.lo)
        }
    }

    /// The colour of `v`: viridis of its position; mid grey for non-finite values.
    pub fn colour(&self, v: f64) -> [u8; 3] {
        self.position(v).map_or([128, 128, 128], viridis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_middle() {
        assert_eq!(viridis(0.0), VIRIDIS[0]);
        assert_eq!(viridis(1.0), VIRIDIS[8]);
        assert_eq!(viridis(-3.0), VIRIDIS[0]);
        assert_eq!(viridis(7.0), VIRIDIS[8]);
        assert_eq!(viridis(0.5), VIRIDIS[4]);
        assert_eq!(viridis(f64::NAN), VIRIDIS[0]);
    }

    #[test]
    fn linear_scale_covers_min_to_max() {
        let s = ColourScale::covering([2.0, -1.0, 5.0, f64::NAN], false);
        assert_eq!((s.lo, s.hi), (-1.0, 5.0));
        assert_eq!(s.position(2.0), Some(0.5));
        assert_eq!(s.position(f64::NAN), None);
        assert_eq!(s.value(0.5), 2.0);
    }

    #[test]
    fn log_scale_floors_non_positive_and_tiny_values() {
        let s = ColourScale::covering([0.0, -1.0, 1e-30, 1e-3, 10.0], true);
        assert_eq!(s.hi, 10.0);
        assert!((s.lo - 10.0 * 10f64.powf(-MAX_LOG_DECADES)).abs() < 1e-20);
        for v in [0.0, -1.0, 1e-30] {
            assert_eq!(s.position(v), Some(0.0), "{v}");
        }
        assert!((s.position(1e-3).unwrap() - 8.0 / 12.0).abs() < 1e-12);
        assert!((s.value(s.position(1e-3).unwrap()) - 1e-3).abs() < 1e-15);
    }

    #[test]
    fn degenerate_ranges_are_widened() {
        for log in [false, true] {
            for vals in [vec![], vec![3.0, 3.0], vec![0.0], vec![-2.0, f64::INFINITY]] {
                let s = ColourScale::covering(vals.clone(), log);
                assert!(s.lo < s.hi, "{vals:?} log={log}: {s:?}");
                if log {
                    assert!(s.lo > 0.0, "{vals:?}: {s:?}");
                }
            }
        }
    }
}
