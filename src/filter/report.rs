//! The results of a filtering study as files: `filter.csv` (one row per variant and cycle),
//! `filter.md` (summary, per-cycle table, error spectrum) and PNG pictures (density per cycle of
//! the recommended variant, L1 error against cycle for every variant, error spectrum per band).
//! Rank 0 only; plain arrays in, no MPI, no config types.

use std::fmt::Write as _;
use std::path::Path;

use crate::filter::cycle::CycleReport;
#[cfg(doc)]
use crate::filter::cycle::Variant;
use crate::filter::metrics::{BandSplit, Metrics};
use crate::filter::spectrum::band_lower;
use crate::mesh::Mesh;
use crate::plot::{self, Axes, Extent, LineStyle, PlotError, Series};

/// Name of the reference run: the noisy data smoothed directly, `k` times at cycle `k` (the same
/// binomial smoother as the score variants; no forward or reverse).
pub const REFERENCE: &str = "smoothed_data";

/// The recommended variant: the score-based reverse from the terminal state with a smoothed
/// score (it filters, and unlike the start from the asymptotic state does not depend on `T`).
pub const RECOMMENDED: &str = "score";

/// One cycle of one variant (cycle 0 = the noisy input, with a default report).
#[derive(Clone, Debug)]
pub struct CycleRow {
    /// Cycle index `k` (`g_k`).
    pub cycle: u64,
    /// The measures of `g_k`.
    pub metrics: Metrics,
    /// What the cycle that made `g_k` did.
    pub report: CycleReport,
}

/// Every cycle of one variant (or of the direct-smoothing reference).
#[derive(Clone, Debug)]
pub struct VariantRun {
    /// The variant's name ([`Variant::name`]) or [`REFERENCE`].
    pub name: String,
    /// Whether this is the reference (direct smoothing of the data), not a variant.
    pub reference: bool,
    /// Cycles `0..=K`.
    pub rows: Vec<CycleRow>,
    /// The densities `g_0, ..., g_K` (global, row-major).
    pub densities: Vec<Vec<f64>>,
}

/// A whole study.
#[derive(Clone, Debug)]
pub struct Study {
    /// The grid.
    pub mesh: Mesh,
    /// The clean density (global, row-major).
    pub clean: Vec<f64>,
    /// The clean density's band energies.
    pub clean_bands: Vec<f64>,
    /// Its total variation.
    pub clean_tv: f64,
    /// Its mass.
    pub mass: f64,
    /// Lines describing the setup (Markdown, for the head of `filter.md`).
    pub description: Vec<String>,
    /// The variants run.
    pub runs: Vec<VariantRun>,
}

impl Study {
    /// Index of the variant (not the reference) with the lowest L1 distance to the clean
    /// density after the last cycle (the first such run on ties).
    pub fn lowest_final_l1(&self) -> usize {
        let last = |r: &VariantRun| r.rows.last().map_or(f64::INFINITY, |c| c.metrics.l1);
        (0..self.runs.len())
            .filter(|&i| !self.runs[i].reference)
            .min_by(|&a, &b| last(&self.runs[a]).total_cmp(&last(&self.runs[b])))
            .unwrap_or(0)
    }

    /// Index of the recommended run: [`RECOMMENDED`] when it was run (the findings of the
    /// filtering study, README), else `score_asymptotic`, else [`Study::lowest_final_l1`].
    pub fn recommended(&self) -> usize {
        [RECOMMENDED, "score_asymptotic"]
            .iter()
            .find_map(|name| self.runs.iter().position(|r| r.name == *name))
            .unwrap_or_else(|| self.lowest_final_l1())
    }

    fn split(&self) -> BandSplit {
        BandSplit::of(self.mesh.ny(), self.mesh.nx())
    }
}

/// `[lo, hi)` of band `b` as text (`0`, `1-2`, `32-64`).
fn band_label(b: usize) -> String {
    if b == 0 {
        "0".into()
    } else {
        format!("{}-{}", band_lower(b), 2 * band_lower(b))
    }
}

/// The CSV header for `bands` error bands.
pub fn csv_header(bands: usize) -> Vec<String> {
    let mut h: Vec<String> = [
        "variant",
        "cycle",
        "l1_to_clean",
        "l1_relative",
        "l2_to_clean",
        "total_variation",
        "mass",
        "mass_drift",
        "min",
        "max",
        "high_band_error",
        "low_band_error_relative",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    h.extend((0..bands).map(|b| format!("err_k{}", band_lower(b))));
    h.extend(
        [
            "forward_steps",
            "reverse_substeps",
            "start_error",
            "forward_seconds",
            "reverse_seconds",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    h
}

/// Writes `filter.csv`: one row per variant and cycle, floats in shortest round-trip form.
pub fn write_csv(path: &Path, study: &Study) -> Result<(), String> {
    let bands = study.clean_bands.len();
    let mut text = csv_header(bands).join(",") + "\n";
    for run in &study.runs {
        for row in &run.rows {
            let m = &row.metrics;
            let r = &row.report;
            let mut cells = vec![run.name.clone(), row.cycle.to_string()];
            let floats = [
                m.l1,
                m.l1 / study.mass,
                m.l2,
                m.tv,
                m.mass,
                (m.mass - study.mass) / study.mass,
                m.min,
                m.max,
                m.high,
                m.low_rel,
            ];
            cells.extend(floats.iter().map(|v| format!("{v:e}")));
            cells.extend(m.bands.iter().map(|v| format!("{v:e}")));
            cells.push(r.forward_steps.to_string());
            cells.push(r.reverse_substeps.to_string());
            for v in [r.start_error, r.forward_seconds, r.reverse_seconds] {
                cells.push(format!("{v:e}"));
            }
            text += &cells.join(",");
            text.push('\n');
        }
    }
    crate::io::replace_file(path, text.as_bytes())
}

fn sci(v: f64) -> String {
    format!("{v:.3e}")
}

/// Writes `filter.md`.
pub fn write_markdown(path: &Path, study: &Study) -> Result<(), String> {
    let split = study.split();
    let mut s = String::from("# nlfp filter\n\n");
    for line in &study.description {
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(
        s,
        "\nClean density: mass {}, total variation {}. Error bands: band `b >= 1` holds the \
         integer wavenumbers `2^(b-1) <= |k| < 2^b` (one period of mode `k` spans the box `2L`). \
         High wavenumbers: `|k| >= {}` (error energy summed); low: `|k| < {}` (error relative to \
         the clean density's energy there, `sqrt(E_low(u - g) / E_low(g))`).\n",
        sci(study.mass),
        sci(study.clean_tv),
        band_lower(split.high_start),
        band_lower(split.low_end),
    );
    let rec = study.recommended();
    let lowest = study.lowest_final_l1();
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(
        s,
        "| variant | L1 noisy | L1 cycle 1 | L1 last | best L1 (cycle) | high error cycle 1 / noisy | high error last / noisy | low rel. error last | max abs mass drift | min over cycles |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    for run in &study.runs {
        let first = &run.rows[0].metrics;
        let one = &run.rows[1.min(run.rows.len() - 1)].metrics;
        let last = &run.rows[run.rows.len() - 1].metrics;
        let best = run
            .rows
            .iter()
            .min_by(|a, b| a.metrics.l1.total_cmp(&b.metrics.l1))
            .expect("cycle 0 exists");
        let drift = run
            .rows
            .iter()
            .map(|r| ((r.metrics.mass - study.mass) / study.mass).abs())
            .fold(0.0, f64::max);
        let min = run
            .rows
            .iter()
            .map(|r| r.metrics.min)
            .fold(f64::INFINITY, f64::min);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} |",
            run.name,
            sci(first.l1),
            sci(one.l1),
            sci(last.l1),
            sci(best.metrics.l1),
            best.cycle,
            sci(one.high / first.high),
            sci(last.high / first.high),
            sci(last.low_rel),
            sci(drift),
            sci(min),
        );
    }
    let _ = writeln!(
        s,
        "\nLowest L1 distance to the clean density after the last cycle: **{}**. \
         Recommended variant (pictured): **{}**.\n",
        study.runs[lowest].name, study.runs[rec].name
    );
    let _ = writeln!(s, "## Per cycle\n");
    let _ = writeln!(
        s,
        "| variant | cycle | L1 to clean | L1 / m | TV | mass | min | high-band error | low-band rel. error | forward steps | reverse sub-steps | seconds |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for run in &study.runs {
        for row in &run.rows {
            let m = &row.metrics;
            let r = &row.report;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.12e} | {} | {} | {} | {} | {} | {:.2} |",
                run.name,
                row.cycle,
                sci(m.l1),
                sci(m.l1 / study.mass),
                sci(m.tv),
                m.mass,
                sci(m.min),
                sci(m.high),
                sci(m.low_rel),
                r.forward_steps,
                r.reverse_substeps,
                r.forward_seconds + r.reverse_seconds,
            );
        }
    }
    let _ = writeln!(s, "\n## Error spectrum: energy per band\n");
    let mut head = String::from("| band | \\|k\\| | clean density | noisy error |");
    let mut rule = String::from("|---|---|---|---|");
    for run in &study.runs {
        let last = run.rows.len() - 1;
        let cycles: Vec<usize> = if last > 1 { vec![1, last] } else { vec![last] };
        for c in cycles {
            let _ = write!(head, " {} cycle {} |", run.name, c);
            rule += "---|";
        }
    }
    let _ = writeln!(s, "{head}\n{rule}");
    for b in 0..study.clean_bands.len() {
        let _ = write!(
            s,
            "| {b} | {} | {} | {} |",
            band_label(b),
            sci(study.clean_bands[b]),
            sci(study.runs[0].rows[0].metrics.bands[b])
        );
        for run in &study.runs {
            let last = run.rows.len() - 1;
            let cycles: Vec<usize> = if last > 1 { vec![1, last] } else { vec![last] };
            for c in cycles {
                let _ = write!(s, " {} |", sci(run.rows[c].metrics.bands[b]));
            }
        }
        s.push('\n');
    }
    crate::io::replace_file(path, s.as_bytes())
}

/// Cycles to draw out of `0..=last`: all when few, else 0, 1, 2, 4, ... and `last`.
fn cycles_to_draw(last: usize) -> Vec<usize> {
    if last <= 6 {
        return (0..=last).collect();
    }
    let mut c = vec![0];
    let mut k = 1;
    while k < last {
        c.push(k);
        k *= 2;
    }
    c.push(last);
    c
}

/// Draws the pictures into `dir`; returns the file names written.
pub fn write_plots(dir: &Path, study: &Study) -> Result<Vec<String>, PlotError> {
    let mut written = Vec::new();
    let mesh = &study.mesh;
    let rec = &study.runs[study.recommended()];
    // Density per cycle of the recommended variant.
    if mesh.dim == 1 {
        let x: Vec<f64> = (0..mesh.n).map(|i| mesh.centre(i)).collect();
        let mut series = Vec::new();
        for c in cycles_to_draw(rec.densities.len() - 1) {
            series.push(Series {
                label: if c == 0 {
                    "noisy (cycle 0)".into()
                } else {
                    format!("cycle {c}")
                },
                x: x.clone(),
                y: rec.densities[c].clone(),
                style: LineStyle::Solid,
            });
        }
        series.push(Series {
            label: "clean".into(),
            x,
            y: study.clean.clone(),
            style: LineStyle::Dashed,
        });
        let axes = Axes {
            title: format!("density per cycle: {}", rec.name),
            x_label: "x".into(),
            y_label: "f".into(),
            ..Axes::default()
        };
        plot::lines(&dir.join("density.png"), &axes, &series)?;
        written.push("density.png".into());
    } else {
        let n = mesh.n;
        let extent = Extent::square(mesh.half_width);
        let last = rec.densities.len() - 1;
        let mut pictures: Vec<(String, &[f64], String)> = vec![
            (
                "density_clean.png".into(),
                &study.clean,
                "clean density".into(),
            ),
            (
                "density_noisy.png".into(),
                &rec.densities[0],
                "noisy density (cycle 0)".into(),
            ),
        ];
        for c in [1, last] {
            if c >= 1
                && !pictures
                    .iter()
                    .any(|p| p.0 == format!("density_cycle{c}.png"))
            {
                pictures.push((
                    format!("density_cycle{c}.png"),
                    &rec.densities[c],
                    format!("{} cycle {c}", rec.name),
                ));
            }
        }
        for (name, values, title) in pictures {
            let view = ndarray::ArrayView2::from_shape((n, n), values)
                .map_err(|e| PlotError::Data(e.to_string()))?;
            plot::heatmap(&dir.join(&name), view, extent, false, &title)?;
            written.push(name);
        }
    }
    // L1 error against cycle, every variant.
    let series: Vec<Series> = study
        .runs
        .iter()
        .map(|run| Series {
            label: run.name.clone(),
            x: run.rows.iter().map(|r| r.cycle as f64).collect(),
            y: run.rows.iter().map(|r| r.metrics.l1).collect(),
            style: if run.reference {
                LineStyle::Dashed
            } else {
                LineStyle::Solid
            },
        })
        .collect();
    let axes = Axes {
        title: "L1 distance to the clean density".into(),
        x_label: "cycle".into(),
        y_label: "||g_k - g||_1".into(),
        ..Axes::default()
    };
    plot::lines(&dir.join("error.png"), &axes, &series)?;
    written.push("error.png".into());
    // Error spectrum per variant: one panel each, a line per drawn cycle, the clean density's
    // own spectrum dashed.
    let x: Vec<f64> = (1..study.clean_bands.len())
        .map(|b| band_lower(b) as f64)
        .collect();
    let panels: Vec<(Axes, Vec<Series>)> = study
        .runs
        .iter()
        .map(|run| {
            let mut series = vec![Series {
                label: "clean density".into(),
                x: x.clone(),
                y: study.clean_bands[1..].to_vec(),
                style: LineStyle::Dashed,
            }];
            for c in cycles_to_draw(run.rows.len() - 1) {
                series.push(Series {
                    label: format!("error cycle {c}"),
                    x: x.clone(),
                    y: run.rows[c].metrics.bands[1..].to_vec(),
                    style: LineStyle::Solid,
                });
            }
            let axes = Axes {
                title: format!("error spectrum: {}", run.name),
                x_label: "band lower |k|".into(),
                y_label: "energy".into(),
                log_x: true,
                log_y: true,
            };
            (axes, series)
        })
        .collect();
    plot::panels(&dir.join("spectrum.png"), &panels)?;
    written.push("spectrum.png".into());
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_cycles_and_labels() {
        assert_eq!(cycles_to_draw(3), vec![0, 1, 2, 3]);
        assert_eq!(cycles_to_draw(10), vec![0, 1, 2, 4, 8, 10]);
        assert_eq!(band_label(0), "0");
        assert_eq!(band_label(3), "4-8");
        assert_eq!(csv_header(2)[12..14], ["err_k0", "err_k1"]);
    }
}
