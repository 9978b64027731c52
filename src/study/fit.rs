//! Least-squares fits of the study: a straight line, a power law `f = A |x|^p` (a line in
//! log-log coordinates), an exponential decay `y = A e^(-lambda t)` (a line in `ln y`), and the
//! first crossing of a level by a piecewise-linear series.

/// A fitted line `y = intercept + slope x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineFit {
    /// The slope.
    pub slope: f64,
    /// The value at `x = 0`.
    pub intercept: f64,
    /// Root-mean-square residual.
    pub rms: f64,
    /// Number of points.
    pub points: usize,
}

/// Ordinary least squares of `y` against `x` (centred sums, so large offsets in `x` do not
/// cost accuracy). `None` with fewer than two points or when every `x` is the same.
pub fn line(x: &[f64], y: &[f64]) -> Option<LineFit> {
    assert_eq!(x.len(), y.len(), "line fit: x and y differ in length");
    let n = x.len();
    if n < 2 {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxx += (a - mx) * (a - mx);
        sxy += (a - mx) * (b - my);
    }
    if sxx <= 0.0 || !sxx.is_finite() {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ss: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (b - intercept - slope * a).powi(2))
        .sum();
    Some(LineFit {
        slope,
        intercept,
        rms: (ss / n as f64).sqrt(),
        points: n,
    })
}

/// The exponent `p` of `f ~ A r^p`: the slope of `ln f` against `ln r`, over the points with
/// `r > 0` and `f > 0`. `None` when fewer than two distinct radii remain.
pub fn power_law(r: &[f64], f: &[f64]) -> Option<LineFit> {
    let (lx, ly): (Vec<f64>, Vec<f64>) = r
        .iter()
        .zip(f)
        .filter(|(a, b)| **a > 0.0 && **b > 0.0)
        .map(|(a, b)| (a.ln(), b.ln()))
        .unzip();
    line(&lx, &ly)
}

/// The rate `lambda` of `y ~ A e^(-lambda t)`: minus the slope of `ln y` against `t`, over the
/// points with `y > 0`. The returned fit has `slope = -lambda`. `None` when fewer than two
/// distinct times remain.
pub fn exponential_decay(t: &[f64], y: &[f64]) -> Option<LineFit> {
    let (tx, ly): (Vec<f64>, Vec<f64>) = t
        .iter()
        .zip(y)
        .filter(|(_, b)| **b > 0.0)
        .map(|(a, b)| (*a, b.ln()))
        .unzip();
    line(&tx, &ly)
}

/// Linear interpolation of the samples `(ts, ys)` (`ts` non-decreasing) at `t`, clamped to
/// the end values outside `[ts[0], ts[last]]`. `ys` must not be empty.
pub fn interpolate(ts: &[f64], ys: &[f64], t: f64) -> f64 {
    assert!(!ts.is_empty() && ts.len() == ys.len());
    let k = ts.partition_point(|&s| s <= t);
    if k == 0 {
        return ys[0];
    }
    if k == ts.len() {
        return ys[k - 1];
    }
    let (t0, t1) = (ts[k - 1], ts[k]);
    if t1 <= t0 {
        return ys[k];
    }
    let w = (t - t0) / (t1 - t0);
    ys[k - 1] + w * (ys[k] - ys[k - 1])
}

/// The first time at which `g(t) = a(t) - b(t)` reaches `level`, where `a` and `b` are the
/// piecewise-linear interpolants of the samples `(ta, ya)` and `(tb, yb)`.
///
/// `g` is evaluated at the union of both sample times inside the common range
/// `[max(ta[0], tb[0]), min(ta[last], tb[last])]`; the crossing is interpolated linearly in `g`
/// between the last union time below `level` and the first one at or above it (the first time
/// itself if `g` already starts at or above `level`). `None` if `g` stays below `level`.
pub fn first_crossing(ta: &[f64], ya: &[f64], tb: &[f64], yb: &[f64], level: f64) -> Option<f64> {
    if ta.is_empty() || tb.is_empty() {
        return None;
    }
    let lo = ta[0].max(tb[0]);
    let hi = ta[ta.len() - 1].min(tb[tb.len() - 1]);
    let mut times: Vec<f64> = ta
        .iter()
        .chain(tb)
        .copied()
        .filter(|&t| t >= lo && t <= hi)
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let g = |t: f64| interpolate(ta, ya, t) - interpolate(tb, yb, t);
    let mut prev: Option<(f64, f64)> = None;
    for t in times {
        let v = g(t);
        if v >= level {
            return Some(match prev {
                None => t,
                Some((t0, v0)) => t0 + (level - v0) / (v - v0) * (t - t0),
            });
        }
        prev = Some((t, v));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_law_exponent_is_exact_on_a_pure_power_law() {
        for &p in &[-2.0 / 3.0, -1.0, -0.5, 1.7] {
            let r: Vec<f64> = (1..40).map(|k| 0.013 * k as f64).collect();
            let f: Vec<f64> = r.iter().map(|x| 3.7 * x.powf(p)).collect();
            let fit = power_law(&r, &f).unwrap();
            assert!((fit.slope - p).abs() < 1e-12, "{p}: {}", fit.slope);
            assert!((fit.intercept - 3.7f64.ln()).abs() < 1e-12);
            assert!(fit.rms < 1e-12);
            assert_eq!(fit.points, 39);
        }
    }

    #[test]
    fn power_law_skips_the_origin_and_zeros_and_needs_two_radii() {
        let r = [0.0, 0.1, 0.2, 0.3, 0.4];
        let f = [1e9, 0.1f64.powi(-2), 0.2f64.powi(-2), 0.0, 0.4f64.powi(-2)];
        let fit = power_law(&r, &f).unwrap();
        assert!((fit.slope + 2.0).abs() < 1e-12);
        assert_eq!(fit.points, 3);
        // Repeated radii (cells of one ring in 2D) are fine, a single radius is not.
        assert!(power_law(&[0.1, 0.1, 0.1], &[1.0, 1.0, 1.0]).is_none());
        assert!(power_law(&[0.1], &[1.0]).is_none());
    }

    #[test]
    fn exponential_rate_is_exact_on_a_pure_exponential() {
        for &lambda in &[0.3, 2.5, 11.0] {
            let t: Vec<f64> = (0..30).map(|k| 5.0 + 0.1 * k as f64).collect();
            let y: Vec<f64> = t.iter().map(|s| 2e-3 * (-lambda * s).exp()).collect();
            let fit = exponential_decay(&t, &y).unwrap();
            assert!(
                (-fit.slope - lambda).abs() < 1e-12 * lambda,
                "{lambda}: {}",
                -fit.slope
            );
        }
    }

    #[test]
    fn line_is_exact_and_reports_residuals() {
        let x = [1e6, 1e6 + 1.0, 1e6 + 2.0, 1e6 + 3.0];
        let y: Vec<f64> = x.iter().map(|v| 2.0 - 0.25 * (v - 1e6)).collect();
        let fit = line(&x, &y).unwrap();
        assert!((fit.slope + 0.25).abs() < 1e-12);
        let noisy = [0.0, 1.0, 0.0, 1.0];
        let fit = line(&[0.0, 1.0, 2.0, 3.0], &noisy).unwrap();
        assert!(fit.rms > 0.4 && fit.rms < 0.5, "{}", fit.rms);
    }

    #[test]
    fn interpolation_clamps_and_is_linear() {
        let ts = [0.0, 1.0, 3.0];
        let ys = [0.0, 2.0, 6.0];
        assert_eq!(interpolate(&ts, &ys, -1.0), 0.0);
        assert_eq!(interpolate(&ts, &ys, 0.5), 1.0);
        assert_eq!(interpolate(&ts, &ys, 2.0), 4.0);
        assert_eq!(interpolate(&ts, &ys, 9.0), 6.0);
    }

    #[test]
    fn first_crossing_interpolates_on_the_union_of_sample_times() {
        // a - b = t on [0, 2], sampled at different times on the two series.
        let (ta, tb) = ([0.0, 0.5, 1.5, 2.0], [0.0, 1.0, 2.0]);
        let ya: Vec<f64> = ta.iter().map(|t| 3.0 * t).collect();
        let yb: Vec<f64> = tb.iter().map(|t| 2.0 * t).collect();
        let t = first_crossing(&ta, &ya, &tb, &yb, 0.7).unwrap();
        assert!((t - 0.7).abs() < 1e-15, "{t}");
        assert_eq!(first_crossing(&ta, &ya, &tb, &yb, 5.0), None);
        assert_eq!(first_crossing(&ta, &ya, &tb, &yb, -1.0), Some(0.0));
        // Only the common range counts.
        assert_eq!(
            first_crossing(&[0.0, 1.0], &[0.0, 0.0], &[0.0, 9.0], &[0.0, -9.0], 2.0),
            None
        );
    }
}
