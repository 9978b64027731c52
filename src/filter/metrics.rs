//! What a filtering cycle is measured by (pure: global-shaped arrays, no MPI).
//!
//! For a density `u` and the clean density `g` on the same grid (row-major `ny x nx`, cell
//! volume `h^d`):
//! * `l1 = h^d sum |u - g|`, mass `h^d sum u`, `min u`, `max u`;
//! * total variation `TV(u) = h^(d-1) sum over interior faces |u_R - u_L|` (the anisotropic
//!   discrete `int |du/dx| + |du/dy|`);
//! * the error spectrum: [`crate::filter::spectrum::band_energies`] of `u - g`;
//! * `high` = the error energy in the top two octave bands (`|k| >= 2^(B-3)` for `B` bands: the
//!   wavelengths up to about 8 cells), `low` = the error energy in the bands `|k| < 2^(B-4)`,
//!   relative to the clean density's energy there (`low_rel = sqrt(E_low(u - g) / E_low(g))`,
//!   the relative L2 error of the large scales).

use crate::filter::spectrum::{band_count, band_energies};

/// The bands counted as high and low wavenumbers (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BandSplit {
    /// Bands `b < low_end` are the low wavenumbers.
    pub low_end: usize,
    /// Bands `b >= high_start` are the high wavenumbers.
    pub high_start: usize,
    /// Number of bands.
    pub bands: usize,
}

impl BandSplit {
    /// The split of an `ny x nx` grid.
    pub fn of(ny: usize, nx: usize) -> BandSplit {
        let bands = band_count(ny, nx);
        BandSplit {
            low_end: bands.saturating_sub(3).max(1),
            high_start: bands.saturating_sub(2).max(1),
            bands,
        }
    }
}

/// The measures of one density against the clean one.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    /// `||u - g||_1`.
    pub l1: f64,
    /// `||u - g||_2`.
    pub l2: f64,
    /// Total variation of `u`.
    pub tv: f64,
    /// Mass of `u`.
    pub mass: f64,
    /// `min u`.
    pub min: f64,
    /// `max u`.
    pub max: f64,
    /// Error energy per octave band.
    pub bands: Vec<f64>,
    /// Error energy in the high bands.
    pub high: f64,
    /// `sqrt(E_low(u - g) / E_low(g))`.
    pub low_rel: f64,
}

/// Total variation `h^(d-1) sum |u_R - u_L|` over interior faces of a row-major `ny x nx` array.
pub fn total_variation(u: &[f64], ny: usize, nx: usize, h: f64, dim: usize) -> f64 {
    let mut tv = 0.0;
    for j in 0..ny {
        for i in 1..nx {
            tv += (u[j * nx + i] - u[j * nx + i - 1]).abs();
        }
    }
    for j in 1..ny {
        for i in 0..nx {
            tv += (u[j * nx + i] - u[(j - 1) * nx + i]).abs();
        }
    }
    tv * h.powi(dim as i32 - 1)
}

impl Metrics {
    /// The measures of `u` against `clean` (`clean_bands`: the band energies of `clean`).
    pub fn of(
        u: &[f64],
        clean: &[f64],
        clean_bands: &[f64],
        ny: usize,
        nx: usize,
        h: f64,
        dim: usize,
    ) -> Metrics {
        let vol = h.powi(dim as i32);
        let err: Vec<f64> = u.iter().zip(clean).map(|(a, b)| a - b).collect();
        let bands = band_energies(&err, ny, nx, vol);
        let split = BandSplit::of(ny, nx);
        let high = bands[split.high_start..].iter().sum();
        let low_err: f64 = bands[..split.low_end].iter().sum();
        let low_clean: f64 = clean_bands[..split.low_end].iter().sum();
        Metrics {
            l1: err.iter().map(|e| e.abs()).sum::<f64>() * vol,
            l2: (err.iter().map(|e| e * e).sum::<f64>() * vol).sqrt(),
            tv: total_variation(u, ny, nx, h, dim),
            mass: u.iter().sum::<f64>() * vol,
            min: u.iter().copied().fold(f64::INFINITY, f64::min),
            max: u.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            high,
            low_rel: (low_err / low_clean).sqrt(),
            bands,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_variation_of_simple_shapes() {
        // 1D hat: up 2, down 2.
        let u = [0.0, 1.0, 2.0, 1.0, 0.0];
        assert_eq!(total_variation(&u, 1, 5, 0.3, 1), 4.0);
        // 2D: a single bump of height 1 has 4 faces of jump 1, times h.
        let mut v = vec![0.0; 9];
        v[4] = 1.0;
        assert!((total_variation(&v, 3, 3, 0.5, 2) - 2.0).abs() < 1e-15);
    }

    #[test]
    fn metrics_of_the_clean_density_vanish() {
        let g: Vec<f64> = (0..33)
            .map(|i| (-(i as f64 - 16.0).powi(2) / 20.0).exp())
            .collect();
        let gb = band_energies(&g, 1, 33, 0.1);
        let m = Metrics::of(&g, &g, &gb, 1, 33, 0.1, 1);
        assert_eq!((m.l1, m.l2, m.high, m.low_rel), (0.0, 0.0, 0.0, 0.0));
        assert!((m.mass - g.iter().sum::<f64>() * 0.1).abs() < 1e-15);
        let split = BandSplit::of(1, 33);
        assert_eq!(split.bands, 6);
        assert_eq!((split.low_end, split.high_start), (3, 4));
    }
}
