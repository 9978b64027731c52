//! Separable smoothing of a deposited density by a tent kernel of half-width `w` cells,
//!
//! ```text
//! K_k = (w + 1 - |k|) / (w + 1)^2,   k = -w..=w      (sum 1; the box of w + 1 cells convolved with itself)
//! ```
//!
//! applied along x and then along y. Cells beyond a physical wall are the mirror images of the
//! cells inside (`-1 - k <- k`): with a symmetric kernel and `w < n` the smoothing then keeps the
//! total mass, and like the deposit it is consistent with zero flux. Every output cell sums its
//! `2w + 1` inputs in the fixed order `k = -w..=w` from values that are identical on every rank
//! count (owned values, exact ghost copies, mirror copies), so the smoothed field is as
//! rank-independent as the deposit. Pure loops over [`Field`] arrays; the ghost exchange
//! between the passes is the caller's.

use crate::field::Field;

/// Tent weights `K_{-w..=w}`.
pub fn tent(w: usize) -> Vec<f64> {
    let norm = ((w + 1) * (w + 1)) as f64;
    (0..=2 * w)
        .map(|k| (w + 1 - k.abs_diff(w)) as f64 / norm)
        .collect()
}

/// Fills the `w` ghost columns beyond the west and/or east wall with mirror images of the owned
/// rows' edge cells.
pub fn mirror_x(a: &mut Field<f64>, w: usize, west: bool, east: bool) {
    let (nx, ny) = (a.nx() as isize, a.ny() as isize);
    for j in 0..ny {
        for k in 0..w as isize {
            if west {
                let v = a.get(j, k);
                a.set(j, -1 - k, v);
            }
            if east {
                let v = a.get(j, nx - 1 - k);
                a.set(j, nx + k, v);
            }
        }
    }
}

/// Fills the `w` ghost rows beyond the south and/or north wall (owned columns) with mirror
/// images of the edge rows.
pub fn mirror_y(a: &mut Field<f64>, w: usize, south: bool, north: bool) {
    let (nx, ny) = (a.nx() as isize, a.ny() as isize);
    for k in 0..w as isize {
        for i in 0..nx {
            if south {
                let v = a.get(k, i);
                a.set(-1 - k, i, v);
            }
            if north {
                let v = a.get(ny - 1 - k, i);
                a.set(ny + k, i, v);
            }
        }
    }
}

/// `dst = K * src` along x on the owned cells (`src` needs `w` ghost columns filled).
pub fn pass_x(src: &Field<f64>, dst: &mut Field<f64>, kernel: &[f64]) {
    let w = (kernel.len() / 2) as isize;
    for j in 0..src.ny() as isize {
        let from = src.index(j, -w);
        let row = &src.raw()[from..from + src.nx() + 2 * w as usize];
        let to = dst.index(j, 0);
        let out = &mut dst.raw_mut()[to..to + src.nx()];
        for (i, o) in out.iter_mut().enumerate() {
            let window = &row[i..i + kernel.len()];
            let mut acc = 0.0;
            for (kv, v) in kernel.iter().zip(window) {
                acc += kv * v;
            }
            *o = acc;
        }
    }
}

/// `dst = K * src` along y on the owned cells (`src` needs `w` ghost rows filled).
pub fn pass_y(src: &Field<f64>, dst: &mut Field<f64>, kernel: &[f64]) {
    let w = (kernel.len() / 2) as isize;
    let nx = src.nx();
    let stride = src.stride() as isize;
    for j in 0..src.ny() as isize {
        let to = dst.index(j, 0);
        let first = src.index(j - w, 0) as isize;
        for i in 0..nx {
            let mut acc = 0.0;
            for (k, kv) in kernel.iter().enumerate() {
                acc += kv * src.raw()[(first + k as isize * stride) as usize + i];
            }
            dst.raw_mut()[to + i] = acc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tent_weights() {
        assert_eq!(tent(0), vec![1.0]);
        assert_eq!(tent(1), vec![0.25, 0.5, 0.25]);
        let k = tent(3);
        assert_eq!(k.len(), 7);
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert_eq!(k[0], k[6]);
        assert_eq!(k[3], 4.0 / 16.0);
    }

    #[test]
    fn smoothing_keeps_mass_with_mirrored_walls_and_constants() {
        let (ny, nx, w) = (6usize, 9usize, 3usize);
        let mut a: Field<f64> = Field::new(ny, nx, w, w);
        for j in 0..ny {
            for i in 0..nx {
                a.set(j as isize, i as isize, ((3 * i + 5 * j) % 7) as f64 + 0.5);
            }
        }
        let total = |a: &Field<f64>| {
            let mut s = 0.0;
            for j in 0..ny as isize {
                for i in 0..nx as isize {
                    s += a.get(j, i);
                }
            }
            s
        };
        let kernel = tent(w);
        let mut tmp = Field::new(ny, nx, w, w);
        let mut out = Field::new(ny, nx, w, w);
        mirror_x(&mut a, w, true, true);
        pass_x(&a, &mut tmp, &kernel);
        mirror_y(&mut tmp, w, true, true);
        pass_y(&tmp, &mut out, &kernel);
        assert!((total(&out) - total(&a)).abs() < 1e-12 * total(&a));
        // A constant stays constant.
        let mut c: Field<f64> = Field::new(ny, nx, w, w);
        c.fill(1.25);
        pass_x(&c, &mut tmp, &kernel);
        mirror_y(&mut tmp, w, true, true);
        pass_y(&tmp, &mut out, &kernel);
        assert!((0..ny as isize)
            .all(|j| (0..nx as isize).all(|i| (out.get(j, i) - 1.25).abs() < 1e-15)));
    }
}
