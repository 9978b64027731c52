//! The horizon search of `nlfp compare`: for one model, the smallest `T` at which generation
//! reconstructs the data to a relative L1 error `E` (`||u(0) - f0||_1 <= E m`). `T` doubles from
//! its start value until the target is met (or `t_max` is passed), then the last interval is
//! bisected [`BISECTIONS`] times; and the table of the models' results.

use super::summary::Summary;
use crate::comm::Comm;
use crate::io::run_dir::RunDir;
use crate::progress::Progress;

/// Bisection steps after the doubling search.
pub const BISECTIONS: usize = 3;

/// One model's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Found<T> {
    /// Model name.
    pub model: &'static str,
    /// The smallest `T` found that meets the target, with what its probe gave.
    pub hit: Option<(f64, T)>,
    /// Every probe `(T, relative error)`, in the order made.
    pub probes: Vec<(f64, f64)>,
}

/// Doubling from `t_start` (at most `t_max`), then bisection, on `T` for `model`: `probe(T)`
/// runs the model to `T` and returns its relative reconstruction error and what else it
/// measured. Rank 0 (`is_root`) prints a progress line (phase `compare`) after every probe,
/// counted against the most probes the search can make ([`max_probes`]).
pub fn search<T, E>(
    model: &'static str,
    (t_start, t_max): (f64, f64),
    target: f64,
    is_root: bool,
    mut probe: impl FnMut(f64) -> Result<(f64, T), E>,
) -> Result<Found<T>, E> {
    let mut found = Found {
        model,
        hit: None,
        probes: Vec::new(),
    };
    let most = max_probes(t_start, t_max);
    let mut progress = Progress::new(is_root, "compare", "probes (at most)", most as f64, 0.0);
    let mut try_t = |t: f64, found: &mut Found<T>| -> Result<bool, E> {
        let (relative, value) = probe(t)?;
        found.probes.push((t, relative));
        let done = found.probes.len() as f64;
        progress.report(done, || {
            format!("{model} T = {t}: relative reconstruction error {relative:.3e}")
        });
        let hit = relative <= target;
        if hit && found.hit.as_ref().is_none_or(|(best, _)| t < *best) {
            found.hit = Some((t, value));
        }
        Ok(hit)
    };
    let (mut lo, mut hi) = (0.0, t_start);
    loop {
        if try_t(hi, &mut found)? {
            break;
        }
        if hi >= t_max {
            return Ok(found);
        }
        lo = hi;
        hi = (2.0 * hi).min(t_max);
    }
    for _ in 0..BISECTIONS {
        if lo <= 0.0 {
            lo = hi / 2.0;
            if !try_t(lo, &mut found)? {
                continue;
            }
            hi = lo;
            lo = 0.0;
            continue;
        }
        let mid = 0.5 * (lo + hi);
        if try_t(mid, &mut found)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(found)
}

/// The summary of the finished probe in `run`, when its directory holds a `summary.toml` and a
/// `config.toml` equal to this probe's resolved config (a probe of other settings is run
/// again). Rank 0 reads, every rank gets the same answer. Collective; an error (an unreadable
/// summary of a finished probe) is bad input.
pub fn finished_probe(comm: &Comm, run: &RunDir) -> Result<Option<Summary>, String> {
    let text = if comm.is_root() {
        let same_config = std::fs::read_to_string(run.join("config.toml"))
            .is_ok_and(|written| written == run.config());
        match std::fs::read_to_string(run.join("summary.toml")) {
            Ok(summary) if same_config => summary,
            _ => String::new(),
        }
    } else {
        String::new()
    };
    let text = String::from_utf8(comm.broadcast_bytes(text.into_bytes())).unwrap_or_default();
    if text.is_empty() {
        return Ok(None);
    }
    let summary =
        Summary::from_toml(&text).map_err(|e| format!("{}: {e}", run.path().display()))?;
    if comm.is_root() {
        log::info!(
            "compare: {} is finished (T = {}), kept",
            run.path().display(),
            summary.t_end
        );
    }
    Ok(Some(summary))
}

/// The most probes [`search`] makes from `t_start` to `t_max`: the doublings
/// `t_start, 2 t_start, .., t_max` (the last one capped), then [`BISECTIONS`] bisections or
/// halvings.
pub fn max_probes(t_start: f64, t_max: f64) -> usize {
    let mut doublings = 1;
    let mut t = t_start;
    while t < t_max {
        t = (2.0 * t).min(t_max);
        doublings += 1;
    }
    doublings + BISECTIONS
}

/// What the table's head says: the grid, scheme, stepper, mass and target of the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct TableHead {
    /// Spatial dimension.
    pub dim: usize,
    /// Cells per axis.
    pub n: usize,
    /// Flux family name.
    pub scheme: &'static str,
    /// Stepper name.
    pub stepper: &'static str,
    /// The mass `m`.
    pub mass: f64,
    /// The relative error target `E`.
    pub target: f64,
}

/// `compare.csv` and `compare.md` for the models' results.
pub fn table(results: &[Found<Summary>], head: &TableHead) -> (String, String) {
    let (mass, target) = (head.mass, head.target);
    let mut csv = String::from(
        "model,t_needed,wall_seconds,steps,start_error_l1,reconstruction_error_l1,relative_error\n",
    );
    let mut md = format!(
        "# Nonlinear model vs OU baseline\n\n\
         Same data, grid ({}D, n = {}), scheme {} and stepper {}; mass m = {:.6e}; target \
         `||u(0) - f0||_1 <= {target:e} m`, generation from the asymptotic state.\n\n\
         | model | T needed | wall s (that run) | steps | start error | reconstruction error | relative |\n\
         |---|---|---|---|---|---|---|\n",
        head.dim, head.n, head.scheme, head.stepper, mass
    );
    for r in results {
        match &r.hit {
            Some((t, s)) => {
                let wall = s.forward_seconds + s.reverse_seconds;
                let rel = s.reconstruction_error / mass;
                csv += &format!(
                    "{},{t:e},{wall:.6},{},{:e},{:e},{rel:e}\n",
                    r.model, s.steps, s.start_error, s.reconstruction_error
                );
                md += &format!(
                    "| {} | {t:.4} | {wall:.2} | {} | {:.3e} | {:.3e} | {rel:.3e} |\n",
                    r.model, s.steps, s.start_error, s.reconstruction_error
                );
            }
            None => {
                let best = r.probes.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
                csv += &format!("{},,,,,,{best:e}\n", r.model);
                md += &format!(
                    "| {} | not reached up to T = {:.4} | | | | | best {best:.3e} |\n",
                    r.model,
                    r.probes.iter().map(|p| p.0).fold(0.0, f64::max)
                );
            }
        }
    }
    md += "\nProbes (T: relative error):\n\n";
    for r in results {
        let list: Vec<String> = r
            .probes
            .iter()
            .map(|(t, e)| format!("{t:.4}: {e:.2e}"))
            .collect();
        md += &format!("- {}: {}\n", r.model, list.join(", "));
    }
    (csv, md)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error `exp(-T)`: doubling 1, 2, 4 (hit), then bisection of [2, 4]: 3 (hit),
    /// 2.5 (miss), 2.75 (hit).
    #[test]
    fn doubling_then_bisection_finds_the_smallest_horizon() {
        let target = (-2.7f64).exp();
        let found = search("m", (1.0, 64.0), target, true, |t| {
            Ok::<_, ()>(((-t).exp(), t))
        })
        .unwrap();
        let ts: Vec<f64> = found.probes.iter().map(|p| p.0).collect();
        assert_eq!(ts, [1.0, 2.0, 4.0, 3.0, 2.5, 2.75]);
        assert_eq!(found.hit, Some((2.75, 2.75)));
    }

    /// A target met at the first probe bisects towards 0: T/2, then on.
    #[test]
    fn a_first_hit_bisects_below_the_start() {
        let found = search("m", (4.0, 64.0), 0.5, true, |t| Ok::<_, ()>((t / 8.0, ()))).unwrap();
        let ts: Vec<f64> = found.probes.iter().map(|p| p.0).collect();
        // 4 hits (0.5); 2 hits; 1 hits; 0.5 hits.
        assert_eq!(ts, [4.0, 2.0, 1.0, 0.5]);
        assert_eq!(found.hit.map(|h| h.0), Some(0.5));
    }

    /// Never reached: doubling stops at t_max, no bisection, no hit; errors propagate.
    #[test]
    fn an_unreachable_target_stops_at_t_max() {
        let found = search("m", (1.0, 5.0), 1e-9, true, |_| Ok::<_, ()>((1.0, ()))).unwrap();
        let ts: Vec<f64> = found.probes.iter().map(|p| p.0).collect();
        assert_eq!(ts, [1.0, 2.0, 4.0, 5.0]);
        assert!(found.hit.is_none());
        // Progress counts against the most probes: 4 doublings and 3 bisections here.
        assert_eq!(max_probes(1.0, 5.0), 4 + BISECTIONS);
        assert_eq!(max_probes(1.0, 64.0), 7 + BISECTIONS);
        assert_eq!(
            search("m", (1.0, 5.0), 1.0, true, |_| Err::<(f64, ()), _>("boom")),
            Err("boom")
        );
    }
}
