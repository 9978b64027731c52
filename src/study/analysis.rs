//! The figures of one study run, computed from its final field and its diagnostics time series
//! (and those of its refined companion): pure functions, no I/O, no MPI.
//!
//! Definitions (`h^d` is the cell volume, `x_j` the cell centres, `c` the centre cell, `m` the
//! run's mass, `m_c` the critical mass, `f_beta` the steady family of MODEL.md section 3):
//!
//! - **Blow-up time**: with `a(t)`, `b(t)` the piecewise-linear interpolants in `t` of
//!   `ln max f` of the refined companion (`2n + 1` cells per axis) and of the run, the first
//!   time `a - b` reaches `ln 2^(d/2)`, i.e. the max-f ratio crosses `2^(d/2)`, the geometric
//!   midpoint between 1 (smooth) and `2^d` (a condensate in one cell); evaluated on the union of
//!   both runs' diagnostics times and interpolated linearly between the two bracketing ones
//!   ([`fit::first_crossing`]). Its resolution is the diagnostics cadence and the step size.
//!   `None` for subcritical runs (`m <= m_c`) and when the ratio never crosses.
//! - **Discrete steady state** `f_h`: the nodal `f_beta_h(x_j)` whose discrete mass
//!   `sum_j f_beta_h(x_j) h^d` is `m` (solved for `beta_h > 0` by bisection). For `sg` it is
//!   the exact discrete steady state of the scheme (MODEL.md section 4); for `m > m_c`, `beta_h`
//!   is tiny: `f_c` off the centre and the rest of the mass in the centre cell.
//! - **Centre-cell mass** `f_c h^d` of the final field, against the discrete prediction
//!   `m - sum_{j != c} f_c(x_j) h^d` (`m > m_c`) or `f_beta_h(0) h^d` (`m <= m_c`), and against
//!   the continuum `m - m_c` (`m > m_c`) or `f_beta(0) h^d` with the continuum `beta` of mass `m`.
//! - **Condensate estimate** `m - h^d sum_{|x_j| > r0} f_j - int_{|x| < r0} f_ref`, with
//!   `f_ref = f_c` (`m > m_c`; expected `m - m_c`) or the continuum `f_beta` (expected 0).
//! - **Profile exponent**: least squares of `ln f_j` against `ln |x_j|` over the cells with
//!   `r_min <= |x_j| <= r_max`, the centre cell excluded; against `-2/gamma` and against the same
//!   fit of the nodal reference (`f_c` for `m > m_c`, `f_beta_h` otherwise), which carries the
//!   window's own bias (`f_c` is `|x|^(-2/gamma)` only as `|x| -> 0`).
//! - **Entropy**: the final `H` against `H(f_h)`, the discrete entropy of the discrete steady
//!   state.
//! - **Relaxation rate**: with `e(t) = H(t) - H_ref` (`H_ref = H(f_h)` when the scheme's
//!   discrete steady state is exact, i.e. `sg`, else the final entropy), minus the least-squares
//!   slope of `ln e` against `t` over the diagnostics rows with `lo e(0) <= e(t) <= hi e(0)`; at
//!   least three rows, else `None`. Entropy excess is quadratic in the distance to the steady
//!   state, so in the linear regime this is twice the decay rate of `f`.

use super::fit;
use crate::mesh::Mesh;
use crate::physics::ModelParams;

/// The diagnostics time series of a run (columns of `diagnostics.csv`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Time.
    pub t: Vec<f64>,
    /// `max f`.
    pub max: Vec<f64>,
    /// `||f||_2`.
    pub l2: Vec<f64>,
    /// Entropy `H`.
    pub entropy: Vec<f64>,
    /// Mass of the centre cell.
    pub centre_mass: Vec<f64>,
    /// Cumulative Newton iterations (empty for explicit steppers).
    pub newton: Vec<f64>,
    /// Cumulative Krylov iterations (empty for explicit steppers).
    pub krylov: Vec<f64>,
}

impl Series {
    /// Reads the columns from the text of a `diagnostics.csv` (`name` is used in messages).
    pub fn from_csv(text: &str, name: &str) -> Result<Series, String> {
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .ok_or_else(|| format!("{name}: empty"))?
            .split(',')
            .collect();
        let col = |c: &str| {
            header
                .iter()
                .position(|h| *h == c)
                .ok_or_else(|| format!("{name}: no column `{c}`"))
        };
        let keys = [
            "t",
            "max",
            "l2",
            "entropy",
            "centre_mass",
            "newton_iterations",
            "krylov_iterations",
        ];
        let index = keys.iter().map(|k| col(k)).collect::<Result<Vec<_>, _>>()?;
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); keys.len()];
        for (row, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            for (k, &i) in index.iter().enumerate() {
                let cell = cells.get(i).copied().unwrap_or("");
                if cell.is_empty() && k >= 5 {
                    continue; // no iteration counts: explicit stepper
                }
                let v = cell.parse::<f64>().map_err(|_| {
                    format!(
                        "{name}: row {}: `{}` = `{cell}` is not a number",
                        row + 2,
                        keys[k]
                    )
                })?;
                columns[k].push(v);
            }
        }
        if columns[0].is_empty() {
            return Err(format!("{name}: no rows"));
        }
        let mut it = columns.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(Series {
            t: next(),
            max: next(),
            l2: next(),
            entropy: next(),
            centre_mass: next(),
            newton: next(),
            krylov: next(),
        })
    }
}

/// Everything the figures of one run are computed from.
#[derive(Clone, Copy, Debug)]
pub struct RunData<'a> {
    /// The run's grid.
    pub mesh: Mesh,
    /// Model parameters.
    pub params: ModelParams,
    /// The mass `m`.
    pub mass: f64,
    /// The critical mass `m_c`.
    pub critical_mass: f64,
    /// Whether the nodal `f_beta_h` is the scheme's exact discrete steady state (`sg`).
    pub exact_discrete_steady_state: bool,
    /// The final field, global, row-major `ny x nx`.
    pub field: &'a [f64],
    /// The run's diagnostics.
    pub series: &'a Series,
    /// The refined companion's diagnostics (supercritical runs with `study.refine`).
    pub refined: Option<&'a Series>,
    /// Radius of the condensate estimate.
    pub r0: f64,
    /// Radius window of the profile fit.
    pub profile_fit: [f64; 2],
    /// Entropy-excess levels of the relaxation fit, relative to `e(0)`.
    pub relax_levels: [f64; 2],
}

/// The figures of one run (see the module docs for the definitions).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// `m > m_c`.
    pub supercritical: bool,
    /// Blow-up time estimate.
    pub blowup_time: Option<f64>,
    /// Max-f ratio refined / run at the final time.
    pub max_ratio_final: Option<f64>,
    /// Final centre-cell mass.
    pub centre_mass: f64,
    /// Its discrete prediction.
    pub centre_discrete: f64,
    /// Its continuum prediction.
    pub centre_continuum: f64,
    /// Condensate estimate.
    pub condensate: f64,
    /// Its expected value (`m - m_c` or 0).
    pub condensate_expected: f64,
    /// Fitted near-origin exponent.
    pub exponent: Option<f64>,
    /// The same fit of the nodal reference state.
    pub exponent_reference: Option<f64>,
    /// Cells in the profile fit.
    pub exponent_cells: usize,
    /// Final entropy.
    pub entropy: f64,
    /// Entropy of the discrete steady state.
    pub entropy_discrete: f64,
    /// `beta_h` of the discrete steady state.
    pub beta_h: f64,
    /// Fitted relaxation rate of the entropy excess.
    pub relax_rate: Option<f64>,
    /// Rows in the relaxation fit.
    pub relax_rows: usize,
}

/// `|x_j|^2` of every cell, in the order of the global field (z, y, x; `z = 0` in 1D and 2D,
/// where adding `0^2` keeps the bits).
pub fn radii_squared(mesh: &Mesh) -> Vec<f64> {
    let mut out = Vec::with_capacity(mesh.cells());
    for iz in 0..mesh.nz() {
        for iy in 0..mesh.ny() {
            for ix in 0..mesh.nx() {
                let [x, y, z] = mesh.cell_centre3(iz, iy, ix);
                out.push(x * x + y * y + z * z);
            }
        }
    }
    out
}

/// Index of the centre cell in the global field.
fn centre_index(mesh: &Mesh) -> usize {
    let (cz, cy, cx) = mesh.origin_cell3();
    (cz * mesh.ny() + cy) * mesh.nx() + cx
}

/// The cells (row-major indices, centre excluded) with `r_min <= |x| <= r_max`.
pub fn profile_cells(mesh: &Mesh, window: [f64; 2]) -> Vec<usize> {
    let c = centre_index(mesh);
    radii_squared(mesh)
        .iter()
        .enumerate()
        .filter(|&(j, &r2)| {
            let r = r2.sqrt();
            j != c && r >= window[0] && r <= window[1]
        })
        .map(|(j, _)| j)
        .collect()
}

/// Number of distinct radii among [`profile_cells`] (the fit needs two).
pub fn profile_radii(mesh: &Mesh, window: [f64; 2]) -> usize {
    let r2 = radii_squared(mesh);
    let mut radii: Vec<f64> = profile_cells(mesh, window).iter().map(|&j| r2[j]).collect();
    radii.sort_by(f64::total_cmp);
    radii.dedup();
    radii.len()
}

/// `beta_h > 0` with `sum_j f_beta_h(x_j) h^d = mass` on `mesh` (geometric bisection to a
/// relative width of 4e-16; the discrete mass falls from `+inf` at `beta = 0`, where the centre
/// value diverges, to 0). `kappa > 0` is assumed.
pub fn discrete_beta(params: &ModelParams, mesh: &Mesh, mass: f64) -> f64 {
    let r2 = radii_squared(mesh);
    let vol = mesh.cell_volume();
    let excess = |beta: f64| {
        r2.iter()
            .map(|&s| params.steady_state(s, beta))
            .sum::<f64>()
            * vol
            - mass
    };
    let start = params
        .beta_for_mass(mesh.dim, mass)
        .filter(|b| *b > 0.0)
        .unwrap_or(1e-6);
    let (mut lo, mut hi);
    if excess(start) > 0.0 {
        lo = start;
        hi = 2.0 * start;
        while excess(hi) > 0.0 && hi < 1e300 {
            lo = hi;
            hi *= 2.0;
        }
    } else {
        hi = start;
        lo = start / 16.0;
        while excess(lo) <= 0.0 && lo > 1e-300 {
            hi = lo;
            lo /= 16.0;
        }
    }
    for _ in 0..400 {
        if hi / lo - 1.0 <= 4e-16 {
            break;
        }
        let mid = (lo * hi).sqrt().clamp(lo, hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if excess(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo * hi).sqrt()
}

/// The figures of one run.
pub fn analyse(run: &RunData) -> Figures {
    let mesh = &run.mesh;
    let p = &run.params;
    let d = mesh.dim as f64;
    let vol = mesh.cell_volume();
    let r2 = radii_squared(mesh);
    let c = centre_index(mesh);
    let f = run.field;
    assert_eq!(f.len(), r2.len(), "final field does not match the grid");
    let supercritical = run.mass > run.critical_mass;
    let beta_cont = if supercritical {
        0.0
    } else {
        p.beta_for_mass(mesh.dim, run.mass).unwrap_or(0.0)
    };
    let beta_h = discrete_beta(p, mesh, run.mass);
    let nodal_h: Vec<f64> = r2.iter().map(|&s| p.steady_state(s, beta_h)).collect();

    // Blow-up time from the max-f ratio.
    let (blowup_time, max_ratio_final) = match (supercritical, run.refined) {
        (true, Some(fine)) => {
            let ln = |v: &[f64]| v.iter().map(|x| x.ln()).collect::<Vec<_>>();
            let crossing = fit::first_crossing(
                &fine.t,
                &ln(&fine.max),
                &run.series.t,
                &ln(&run.series.max),
                0.5 * d * std::f64::consts::LN_2,
            );
            let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
            (crossing, Some(last(&fine.max) / last(&run.series.max)))
        }
        _ => (None, None),
    };

    // Centre cell.
    let centre_mass = f[c] * vol;
    let (centre_discrete, centre_continuum) = if supercritical {
        let off: f64 = r2
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != c)
            .map(|(_, &s)| p.steady_state(s, 0.0))
            .sum();
        (run.mass - off * vol, run.mass - run.critical_mass)
    } else {
        (nodal_h[c] * vol, p.steady_state(0.0, beta_cont) * vol)
    };

    // Condensate estimate.
    let outside: f64 = f
        .iter()
        .zip(&r2)
        .filter(|(_, &s)| s > run.r0 * run.r0)
        .map(|(v, _)| v)
        .sum();
    let condensate = run.mass - outside * vol - p.steady_mass_in_ball(mesh.dim, beta_cont, run.r0);
    let condensate_expected = if supercritical {
        run.mass - run.critical_mass
    } else {
        0.0
    };

    // Profile exponent.
    let cells = profile_cells(mesh, run.profile_fit);
    let radius: Vec<f64> = cells.iter().map(|&j| r2[j].sqrt()).collect();
    let values: Vec<f64> = cells.iter().map(|&j| f[j]).collect();
    let reference: Vec<f64> = cells
        .iter()
        .map(|&j| {
            if supercritical {
                p.steady_state(r2[j], 0.0)
            } else {
                nodal_h[j]
            }
        })
        .collect();
    let exponent = fit::power_law(&radius, &values).map(|l| l.slope);
    let exponent_reference = fit::power_law(&radius, &reference).map(|l| l.slope);

    // Entropy.
    let entropy = run.series.entropy.last().copied().unwrap_or(f64::NAN);
    let entropy_discrete = nodal_h
        .iter()
        .zip(&r2)
        .map(|(&v, &s)| p.entropy_density(s, v))
        .sum::<f64>()
        * vol;

    // Relaxation rate.
    let h_ref = if run.exact_discrete_steady_state {
        entropy_discrete
    } else {
        entropy
    };
    let excess: Vec<f64> = run.series.entropy.iter().map(|h| h - h_ref).collect();
    let e0 = excess.first().copied().unwrap_or(0.0);
    let (lo, hi) = (run.relax_levels[0] * e0, run.relax_levels[1] * e0);
    let (ts, es): (Vec<f64>, Vec<f64>) = run
        .series
        .t
        .iter()
        .zip(&excess)
        .filter(|(_, &e)| e0 > 0.0 && e >= lo && e <= hi)
        .map(|(t, e)| (*t, *e))
        .unzip();
    let relax_rate = if ts.len() >= 3 {
        fit::exponential_decay(&ts, &es).map(|l| -l.slope)
    } else {
        None
    };

    Figures {
        supercritical,
        blowup_time,
        max_ratio_final,
        centre_mass,
        centre_discrete,
        centre_continuum,
        condensate,
        condensate_expected,
        exponent,
        exponent_reference,
        exponent_cells: cells.len(),
        entropy,
        entropy_discrete,
        beta_h,
        relax_rate,
        relax_rows: ts.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(gamma: f64) -> ModelParams {
        ModelParams::new(1.0, 1.0, gamma)
    }

    #[test]
    fn discrete_beta_gives_the_discrete_mass() {
        let mesh = Mesh::new(2, 41, 6.0);
        for &(gamma, ratio) in &[(2.0, 0.5), (2.0, 0.95), (3.0, 1.5), (2.0, 1.5)] {
            let p = params(gamma);
            let mass = ratio * p.critical_mass(2).unwrap();
            let beta = discrete_beta(&p, &mesh, mass);
            let total: f64 = radii_squared(&mesh)
                .iter()
                .map(|&s| p.steady_state(s, beta))
                .sum::<f64>()
                * mesh.cell_volume();
            assert!(beta > 0.0);
            assert!(
                ((total - mass) / mass).abs() < 1e-12,
                "gamma {gamma} ratio {ratio}: {total} vs {mass}"
            );
        }
    }

    /// On the exact discrete steady state every figure matches its discrete prediction.
    #[test]
    fn figures_of_the_discrete_steady_state_match_their_predictions() {
        let mesh = Mesh::new(1, 201, 6.0);
        let p = params(3.0);
        let mc = p.critical_mass(1).unwrap();
        for ratio in [0.7, 1.5] {
            let mass = ratio * mc;
            let beta = discrete_beta(&p, &mesh, mass);
            let r2 = radii_squared(&mesh);
            let field: Vec<f64> = r2.iter().map(|&s| p.steady_state(s, beta)).collect();
            let h = |v: &[f64]| -> f64 {
                v.iter()
                    .zip(&r2)
                    .map(|(&x, &s)| p.entropy_density(s, x))
                    .sum::<f64>()
                    * mesh.cell_volume()
            };
            let h_inf = h(&field);
            // A synthetic relaxation: the entropy excess decays like e^(-3 t).
            let t: Vec<f64> = (0..200).map(|k| 0.05 * k as f64).collect();
            let entropy: Vec<f64> = t.iter().map(|s| h_inf + 2.0 * (-3.0 * s).exp()).collect();
            let max = vec![field.iter().fold(0.0f64, |a, &b| a.max(b)); t.len()];
            let series = Series {
                t: t.clone(),
                max: max.clone(),
                l2: vec![1.0; t.len()],
                entropy,
                centre_mass: vec![1.0; t.len()],
                newton: Vec::new(),
                krylov: Vec::new(),
            };
            let run = RunData {
                mesh,
                params: p,
                mass,
                critical_mass: mc,
                exact_discrete_steady_state: true,
                field: &field,
                series: &series,
                refined: None,
                r0: 0.5,
                profile_fit: [0.0, 0.3],
                relax_levels: [1e-8, 1e-2],
            };
            let fig = analyse(&run);
            assert_eq!(fig.supercritical, ratio > 1.0);
            // Subcritical: the prediction is this very state. Supercritical: `f_c` off the centre
            // instead of `f_beta_h` (beta_h = 7e-7 here) moves 3e-5 of the centre mass.
            let rel = (fig.centre_mass - fig.centre_discrete) / fig.centre_discrete;
            let tol = if ratio > 1.0 { 1e-4 } else { 1e-12 };
            assert!(rel.abs() < tol, "{ratio}: centre {rel:e}");
            let (e, e_ref) = (fig.exponent.unwrap(), fig.exponent_reference.unwrap());
            assert!((e - e_ref).abs() < 1e-4, "{e} vs {e_ref}");
            assert!(((fig.entropy - fig.entropy_discrete) / h_inf).abs() < 1e-12);
            let rate = fig.relax_rate.unwrap();
            assert!((rate - 3.0).abs() < 1e-9, "rate {rate}");
            assert_eq!(fig.blowup_time, None);
            if ratio > 1.0 {
                let expected = -2.0 / 3.0;
                let e = fig.exponent.unwrap();
                assert!((e - expected).abs() < 0.05 * expected.abs(), "exponent {e}");
                assert!(((fig.condensate - fig.condensate_expected) / mass).abs() < 0.05);
            } else {
                // The ball boundary cuts cells: an O(h) difference (h = 0.06 here).
                assert!((fig.condensate / mass).abs() < 0.05, "{}", fig.condensate);
            }
        }
    }

    #[test]
    fn blow_up_time_is_where_the_max_ratio_crosses_two_to_the_half_dimension() {
        let mesh = Mesh::new(1, 11, 6.0);
        let p = params(3.0);
        let mc = p.critical_mass(1).unwrap();
        let field = vec![0.1; 11];
        // max f ratio 1 until t = 1, then growing linearly in ln to 2 at t = 2.
        let t: Vec<f64> = (0..=30).map(|k| 0.1 * k as f64).collect();
        let base: Vec<f64> = t.iter().map(|_| 5.0).collect();
        let fine: Vec<f64> = t
            .iter()
            .map(|&s| 5.0 * (std::f64::consts::LN_2 * (s - 1.0).clamp(0.0, 1.0)).exp())
            .collect();
        let series = |max: Vec<f64>| Series {
            t: t.clone(),
            max,
            entropy: vec![1.0; t.len()],
            ..Series::default()
        };
        let (coarse, refined) = (series(base), series(fine));
        let run = RunData {
            mesh,
            params: p,
            mass: 1.5 * mc,
            critical_mass: mc,
            exact_discrete_steady_state: true,
            field: &field,
            series: &coarse,
            refined: Some(&refined),
            r0: 0.5,
            profile_fit: [0.0, 2.0],
            relax_levels: [1e-8, 1e-2],
        };
        let fig = analyse(&run);
        // ln ratio = ln 2 (t - 1) reaches ln 2^(1/2) at t = 1.5.
        assert!((fig.blowup_time.unwrap() - 1.5).abs() < 1e-12);
        assert!((fig.max_ratio_final.unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(fig.relax_rate, None);
    }

    #[test]
    fn series_are_read_from_the_diagnostics_csv() {
        let text =
            "step,t,dt,mass,min,max,l2,entropy,centre_mass,newton_iterations,krylov_iterations\n\
                    0,0e0,0e0,1e0,0e0,2e0,1e0,5e0,1e-1,0,0\n\
                    1,1e-1,1e-1,1e0,0e0,3e0,1e0,4e0,2e-1,3,17\n";
        let s = Series::from_csv(text, "d.csv").unwrap();
        assert_eq!(s.t, vec![0.0, 0.1]);
        assert_eq!(s.max, vec![2.0, 3.0]);
        assert_eq!(s.krylov, vec![0.0, 17.0]);
        let e = Series::from_csv("t,max\n0,1\n", "d.csv").unwrap_err();
        assert!(e.contains("no column `l2`"), "{e}");
    }

    #[test]
    fn profile_cells_exclude_the_centre() {
        let mesh = Mesh::new(2, 5, 2.5); // h = 1
        assert_eq!(profile_cells(&mesh, [0.0, 1.0]).len(), 4);
        assert_eq!(profile_radii(&mesh, [0.0, 1.5]), 2);
        assert_eq!(profile_radii(&mesh, [0.0, 0.5]), 0);
    }
}
