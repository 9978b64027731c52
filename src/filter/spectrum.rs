//! Energy per wavenumber band of a global-shaped grid function (pure: no MPI).
//!
//! The discrete Fourier transform `E_k = sum_j e_j exp(-2 pi i k.j / n)` of an `ny x nx` array
//! (periodic extension of the box `[-L, L]^d`, integer wavenumbers `k = (k_x, k_y)`,
//! `|k_a| <= n_a / 2`, one mode = one period across the box), split into octave bands of
//! `|k| = sqrt(k_x^2 + k_y^2)`:
//!
//! ```text
//! band 0: k = 0,   band b >= 1: 2^(b-1) <= |k| < 2^b,
//! energy_b = (h^d / N) sum_{k in band b} |E_k|^2,   N = nx ny,
//! ```
//!
//! normalised so that the bands add up to `||e||_2^2 = h^d sum_j e_j^2` (Parseval). Computed
//! with `rustfft`, rows then columns.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

/// Number of octave bands of an `ny x nx` grid: band 0 and the bands up to the largest
/// `|k| = sqrt(kx_max^2 + ky_max^2)`, `k_max = floor(n / 2)`.
pub fn band_count(ny: usize, nx: usize) -> usize {
    let (kx, ky) = ((nx / 2) as f64, (ny / 2) as f64);
    let k_max = (kx * kx + ky * ky).sqrt();
    if k_max < 1.0 {
        1
    } else {
        k_max.log2().floor() as usize + 2
    }
}

/// The band of integer wavenumber `(kx, ky)`: 0 for `k = 0`, else `b` with
/// `4^(b-1) <= |k|^2 < 4^b`.
pub fn band_of(kx: i64, ky: i64) -> usize {
    let k2 = (kx * kx + ky * ky) as u64;
    if k2 == 0 {
        return 0;
    }
    // floor(log4(k2)) + 1 = floor(log2(|k|)) + 1, in integers.
    (63 - k2.leading_zeros() as usize) / 2 + 1
}

/// The lowest `|k|` of band `b` (0 for band 0, else `2^(b-1)`).
pub fn band_lower(b: usize) -> u64 {
    if b == 0 {
        0
    } else {
        1 << (b - 1)
    }
}

/// Signed wavenumber of DFT index `k` on `n` points.
fn signed(k: usize, n: usize) -> i64 {
    if k <= n / 2 {
        k as i64
    } else {
        k as i64 - n as i64
    }
}

/// Energy per band ([`band_count`] of them) of `values` (row-major `ny x nx`, row = y) with cell
/// volume `cell_volume = h^d`.
pub fn band_energies(values: &[f64], ny: usize, nx: usize, cell_volume: f64) -> Vec<f64> {
    assert_eq!(values.len(), ny * nx, "band_energies: shape");
    let mut data: Vec<Complex<f64>> = values.iter().map(|&v| Complex::new(v, 0.0)).collect();
    let mut planner = FftPlanner::new();
    let fft_x = planner.plan_fft_forward(nx);
    for row in data.chunks_exact_mut(nx) {
        fft_x.process(row);
    }
    if ny > 1 {
        let fft_y = planner.plan_fft_forward(ny);
        let mut column = vec![Complex::new(0.0, 0.0); ny];
        for i in 0..nx {
            for (j, c) in column.iter_mut().enumerate() {
                *c = data[j * nx + i];
            }
            fft_y.process(&mut column);
            for (j, c) in column.iter().enumerate() {
                data[j * nx + i] = *c;
            }
        }
    }
    let mut bands = vec![0.0; band_count(ny, nx)];
    let scale = cell_volume / (nx * ny) as f64;
    for j in 0..ny {
        let ky = signed(j, ny);
        for i in 0..nx {
            let kx = signed(i, nx);
            bands[band_of(kx, ky)] += data[j * nx + i].norm_sqr() * scale;
        }
    }
    bands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize) -> Vec<f64> {
        (0..n)
            .map(|k| crate::random::uniform(5, k as u64, 0) - 0.3)
            .collect()
    }

    /// The bands add up to `h^d sum e^2` (Parseval), 1D and 2D, odd and even sizes.
    #[test]
    fn parseval() {
        for (ny, nx, vol) in [(1, 101, 0.12), (1, 64, 1.0), (21, 21, 0.04), (9, 16, 0.5)] {
            let e = pseudo_random(ny * nx);
            let bands = band_energies(&e, ny, nx, vol);
            assert_eq!(bands.len(), band_count(ny, nx));
            let total: f64 = bands.iter().sum();
            let direct: f64 = e.iter().map(|x| x * x).sum::<f64>() * vol;
            assert!(
                (total - direct).abs() < 1e-12 * direct,
                "{ny}x{nx}: {total} vs {direct}"
            );
            assert!(bands.iter().all(|&b| b >= 0.0));
        }
    }

    /// A single cosine mode lands entirely in its band; a constant in band 0.
    #[test]
    fn modes_land_in_their_band() {
        let n = 101;
        for k in [1usize, 2, 3, 5, 12, 40, 50] {
            let e: Vec<f64> = (0..n)
                .map(|j| (2.0 * std::f64::consts::PI * (k * j) as f64 / n as f64).cos())
                .collect();
            let bands = band_energies(&e, 1, n, 1.0);
            let b = band_of(k as i64, 0);
            assert!(
                (bands[b] - n as f64 / 2.0).abs() < 1e-9,
                "k = {k}: {bands:?}"
            );
            let rest: f64 = bands.iter().sum::<f64>() - bands[b];
            assert!(rest.abs() < 1e-9, "k = {k}: {bands:?}");
        }
        let bands = band_energies(&[2.0; 25], 5, 5, 1.0);
        assert!((bands[0] - 100.0).abs() < 1e-12);
        assert_eq!(band_of(0, 0), 0);
        assert_eq!(band_of(1, 0), 1);
        assert_eq!(band_of(1, 1), 1);
        assert_eq!(band_of(2, 0), 2);
        assert_eq!(band_of(3, 2), 2);
        assert_eq!(band_of(3, 3), 3);
        assert_eq!(band_of(-50, 0), 6);
        assert_eq!(band_count(1, 101), 7);
        assert_eq!(band_lower(6), 32);
    }
}
