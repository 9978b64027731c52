//! The study tables: one row per run, as CSV (every column, floats in shortest round-trip form,
//! `none` where a figure does not apply) and as Markdown (definitions and units in the header,
//! a figures table and a cost table).

use super::analysis::Figures;
use crate::sweep::forward::MarchResult;

/// What a run cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunCost {
    /// Cells per axis.
    pub n: usize,
    /// Time steps.
    pub steps: u64,
    /// Wall time of the march in seconds.
    pub wall: f64,
    /// Newton iterations (implicit stepper).
    pub newton: Option<u64>,
    /// Krylov iterations (implicit stepper).
    pub krylov: Option<u64>,
}

impl RunCost {
    /// The cost of a run on `n` cells per axis that marched `result`, with the stepper's
    /// cumulative `(Newton, Krylov)` iterations (implicit).
    pub fn of(n: usize, result: &MarchResult, iterations: Option<(u64, u64)>) -> RunCost {
        RunCost {
            n,
            steps: result.steps,
            wall: result.wall.as_secs_f64(),
            newton: iterations.map(|(n, _)| n),
            krylov: iterations.map(|(_, k)| k),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Run name (its directory under `runs/`).
    pub name: String,
    /// `ok`, or what went wrong.
    pub status: String,
    /// Spatial dimension.
    pub dim: usize,
    /// `gamma`.
    pub gamma: f64,
    /// `m / m_c`.
    pub mass_ratio: f64,
    /// `m`.
    pub mass: f64,
    /// `m_c`.
    pub critical_mass: f64,
    /// Cells per axis.
    pub n: usize,
    /// Cell width.
    pub h: f64,
    /// Scheme name.
    pub scheme: String,
    /// Final time.
    pub t_end: f64,
    /// The figures (absent when the run failed).
    pub figures: Option<Figures>,
    /// The run's cost (absent when it failed).
    pub run: Option<RunCost>,
    /// The refined companion's cost, when there is one and it succeeded.
    pub refined: Option<RunCost>,
}

/// CSV header; see [`markdown`] for the definitions.
pub const CSV_HEADER: [&str; 38] = [
    "name",
    "status",
    "dim",
    "gamma",
    "mass_ratio",
    "mass",
    "critical_mass",
    "n",
    "h",
    "scheme",
    "t_end",
    "blowup_time",
    "max_f_ratio_final",
    "centre_mass",
    "centre_mass_discrete",
    "centre_mass_discrete_rel_err",
    "centre_mass_continuum",
    "centre_mass_continuum_rel_err",
    "condensate",
    "condensate_expected",
    "profile_exponent",
    "profile_exponent_reference",
    "minus_2_over_gamma",
    "profile_cells",
    "entropy",
    "entropy_discrete",
    "entropy_rel_diff",
    "relax_rate",
    "relax_rows",
    "steps",
    "newton",
    "krylov",
    "wall_seconds",
    "refined_n",
    "refined_steps",
    "refined_newton",
    "refined_krylov",
    "refined_wall_seconds",
];

/// The CSV columns that hold wall-clock times (they differ between otherwise identical runs).
pub const WALL_COLUMNS: [&str; 2] = ["wall_seconds", "refined_wall_seconds"];

/// A cell value: a float, an integer, text, or nothing (`none`).
enum Cell {
    F(f64),
    I(u64),
    S(String),
    None,
}

impl Cell {
    fn of(x: Option<f64>) -> Cell {
        x.map_or(Cell::None, Cell::F)
    }

    fn int(x: Option<u64>) -> Cell {
        x.map_or(Cell::None, Cell::I)
    }

    fn csv(&self) -> String {
        match self {
            Cell::F(x) if x.is_finite() => format!("{x:e}"),
            Cell::F(_) | Cell::None => "none".into(),
            Cell::I(i) => i.to_string(),
            Cell::S(s) => csv_text(s),
        }
    }

    fn md(&self) -> String {
        match self {
            Cell::F(x) => sig(*x),
            Cell::I(i) => i.to_string(),
            Cell::S(s) => s.replace('|', "/"),
            Cell::None => "none".into(),
        }
    }
}

/// Quotes a CSV field when it needs it.
fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\"").replace('\n', " "))
    } else {
        s.to_string()
    }
}

/// Five significant digits, plain or in exponent form.
pub fn sig(x: f64) -> String {
    if !x.is_finite() {
        return "none".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if (1e-3..1e5).contains(&a) {
        let decimals = (4 - a.log10().floor() as i32).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.4e}")
    }
}

fn rel(value: f64, reference: f64) -> Option<f64> {
    (reference != 0.0 && reference.is_finite()).then(|| (value - reference) / reference.abs())
}

/// The Markdown text of the cell of the CSV column `name` in a row's `cells`.
fn column(cells: &[Cell], name: &str) -> String {
    let k = CSV_HEADER.iter().position(|h| *h == name).unwrap();
    cells[k].md()
}

fn cells(row: &Row) -> Vec<Cell> {
    use Cell::*;
    let fig = row.figures.as_ref();
    let fig_f = |get: fn(&Figures) -> f64| Cell::of(fig.map(get));
    let fig_o = |get: fn(&Figures) -> Option<f64>| Cell::of(fig.and_then(get));
    let cost = |c: Option<&RunCost>| {
        [
            Cell::int(c.map(|c| c.steps)),
            Cell::int(c.and_then(|c| c.newton)),
            Cell::int(c.and_then(|c| c.krylov)),
            Cell::of(c.map(|c| c.wall)),
        ]
    };
    let mut out = vec![
        S(row.name.clone()),
        S(row.status.clone()),
        I(row.dim as u64),
        F(row.gamma),
        F(row.mass_ratio),
        F(row.mass),
        F(row.critical_mass),
        I(row.n as u64),
        F(row.h),
        S(row.scheme.clone()),
        F(row.t_end),
        fig_o(|f| f.blowup_time),
        fig_o(|f| f.max_ratio_final),
        fig_f(|f| f.centre_mass),
        fig_f(|f| f.centre_discrete),
        fig_o(|f| rel(f.centre_mass, f.centre_discrete)),
        fig_f(|f| f.centre_continuum),
        fig_o(|f| rel(f.centre_mass, f.centre_continuum)),
        fig_f(|f| f.condensate),
        fig_f(|f| f.condensate_expected),
        fig_o(|f| f.exponent),
        fig_o(|f| f.exponent_reference),
        F(-2.0 / row.gamma),
        Cell::int(fig.map(|f| f.exponent_cells as u64)),
        fig_f(|f| f.entropy),
        fig_f(|f| f.entropy_discrete),
        fig_o(|f| rel(f.entropy, f.entropy_discrete)),
        fig_o(|f| f.relax_rate),
        Cell::int(fig.map(|f| f.relax_rows as u64)),
    ];
    out.extend(cost(row.run.as_ref()));
    out.push(Cell::int(row.refined.map(|c| c.n as u64)));
    out.extend(cost(row.refined.as_ref()));
    out
}

/// The CSV text.
pub fn csv(rows: &[Row]) -> String {
    let mut text = CSV_HEADER.join(",") + "\n";
    for row in rows {
        let line: Vec<String> = cells(row).iter().map(Cell::csv).collect();
        debug_assert_eq!(line.len(), CSV_HEADER.len());
        text += &line.join(",");
        text.push('\n');
    }
    text
}

/// What the Markdown header says about the study as a whole.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyInfo {
    /// The config file.
    pub source: String,
    /// Forward runs, refined companions included.
    pub runs: usize,
    /// Ranks of the job.
    pub ranks: usize,
    /// Rank groups the runs were spread over.
    pub groups: usize,
    /// Radius of the condensate estimate.
    pub r0: f64,
    /// Radius window of the profile fit.
    pub profile_fit: [f64; 2],
    /// Entropy-excess levels of the relaxation fit.
    pub relax_levels: [f64; 2],
    /// Model diffusion `D` and `kappa`.
    pub diffusion: f64,
    /// `kappa`.
    pub kappa: f64,
    /// Stepper name.
    pub stepper: String,
    /// Whether the runs have pictures.
    pub pictures: bool,
}

/// The Markdown text.
pub fn markdown(rows: &[Row], info: &StudyInfo) -> String {
    let mut s = String::new();
    s += "# nlfp study\n\n";
    s += &format!(
        "Config `{}`; D = {}, kappa = {}, stepper `{}`; {} study point(s), {} run(s) with the refined \
         companions, on {} rank(s) in {} group(s). \
         Every figure is in model units (length, time, mass of `d_t f = D Lap f + div(x f (1 + kappa f^gamma))`); \
         wall times in seconds. The same numbers, unrounded and with every column, are in `study.csv`.\n\n",
        info.source,
        sig(info.diffusion),
        sig(info.kappa),
        info.stepper,
        rows.len(),
        info.runs,
        info.ranks,
        info.groups
    );
    s += "Definitions (`h` cell width, `d` dimension, `x_j` cell centres, centre cell `c`, `m` mass, `m_c` critical mass, \
          `f_beta` the steady family, `f_c = f_0`):\n\n";
    s += "- **T_blowup**: first time the ratio `max f(refined) / max f(run)` crosses `2^(d/2)` (1 while smooth, `2^d` once a \
          condensate sits in one cell), `ln max f` of each run interpolated linearly in `t` on the union of the two runs' \
          diagnostics times; the refined companion has `2n + 1` cells per axis. `none`: subcritical, no companion, or no crossing. \
          Resolution: the diagnostics cadence and the (first-order, implicit) step size.\n";
    s += "- **ratio(T)**: the same max-f ratio at the final time.\n";
    s += "- **centre mass**: `f(0) h^d` at the final time; **discrete**: `m - sum_{j != c} f_c(x_j) h^d` for `m > m_c`, \
          `f_beta_h(0) h^d` otherwise, where `f_beta_h` is the nodal steady state with discrete mass `m` (the exact discrete \
          steady state of `sg`; `upwind` differs at O(h)); **continuum**: `m - m_c`, or `f_beta(0) h^d` with the continuum \
          `beta` of mass `m`; the relative differences are `(value - prediction) / |prediction|`.\n";
    s += &format!(
        "- **condensate**: `m - h^d sum_(|x_j| > r0) f_j - int_(|x| < r0) f_ref` with r0 = {}, `f_ref = f_c` \
         (expected `m - m_c`) or the continuum `f_beta` for `m <= m_c` (expected 0).\n",
        sig(info.r0)
    );
    s += &format!(
        "- **exponent**: least-squares slope of `ln f` against `ln |x|` over the cells with {} <= |x| <= {} \
         (centre cell excluded) at the final time; **ref**: the same fit of the nodal `f_c` (`f_beta_h` for \
         `m <= m_c`), which carries the bias of the window (`f_c ~ |x|^(-2/gamma)` only as `|x| -> 0`); \
         **-2/gamma**: the universal profile.\n",
        sig(info.profile_fit[0]),
        sig(info.profile_fit[1])
    );
    s += "- **H(T)**: final entropy `sum h^d (|x|^2/2 f + D Phi(f))`; **H_h**: the entropy of the discrete steady state \
          `f_beta_h`.\n";
    s += &format!(
        "- **relax rate**: minus the least-squares slope of `ln(H(t) - H_ref)` against `t` over the diagnostics rows \
         with {} <= (H(t) - H_ref) / (H(0) - H_ref) <= {}, `H_ref = H_h` for `sg`, `H(T)` for `upwind` (units 1/time; \
         the entropy excess is quadratic in the distance to the steady state, so in the linear regime this is twice the \
         decay rate of `f`); `none` with fewer than 3 rows.\n",
        sig(info.relax_levels[0]),
        sig(info.relax_levels[1])
    );
    s += "- Subcritical runs (`m/m_c < 1`) have no refined companion and are compared with `f_beta` instead of `f_c`.\n\n";
    if info.pictures {
        s += "Pictures of each run are in `runs/<run>/pictures/`: `f_step<step>.png` (the density at every \
              snapshot) and `f_final.png`, `series.png` (max f, ‖f‖₂, centre-cell mass, entropy against t), \
              `radial.png` (log-log profile with `|x|^(-2/gamma)`), and `max_ratio.png` for runs with a refined \
              companion.\n\n";
    }

    s += "## Figures\n\n";
    let head = [
        "run",
        "m/m_c",
        "gamma",
        "n",
        "scheme",
        "T_blowup",
        "ratio(T)",
        "centre mass",
        "discrete (rel)",
        "continuum (rel)",
        "condensate",
        "expected",
        "exponent",
        "ref",
        "-2/gamma",
        "H(T)",
        "H_h (rel)",
        "relax rate",
    ];
    s += &table_header(&head);
    for row in rows {
        let c = cells(row);
        let col = |name: &str| column(&c, name);
        let with_rel = |a: &str, b: &str| format!("{} ({})", col(a), col(b));
        let line = [
            col("name"),
            col("mass_ratio"),
            col("gamma"),
            col("n"),
            col("scheme"),
            col("blowup_time"),
            col("max_f_ratio_final"),
            col("centre_mass"),
            with_rel("centre_mass_discrete", "centre_mass_discrete_rel_err"),
            with_rel("centre_mass_continuum", "centre_mass_continuum_rel_err"),
            col("condensate"),
            col("condensate_expected"),
            col("profile_exponent"),
            col("profile_exponent_reference"),
            col("minus_2_over_gamma"),
            col("entropy"),
            with_rel("entropy_discrete", "entropy_rel_diff"),
            col("relax_rate"),
        ];
        s += &format!("| {} |\n", line.join(" | "));
    }
    s += "\n## Cost\n\n";
    let head = [
        "run",
        "status",
        "steps",
        "Newton",
        "Krylov",
        "wall [s]",
        "refined n",
        "steps",
        "Newton",
        "Krylov",
        "wall [s]",
    ];
    s += &table_header(&head);
    for row in rows {
        let c = cells(row);
        let col = |name: &str| column(&c, name);
        let line = [
            col("name"),
            col("status"),
            col("steps"),
            col("newton"),
            col("krylov"),
            col("wall_seconds"),
            col("refined_n"),
            col("refined_steps"),
            col("refined_newton"),
            col("refined_krylov"),
            col("refined_wall_seconds"),
        ];
        s += &format!("| {} |\n", line.join(" | "));
    }
    s
}

fn table_header(head: &[&str]) -> String {
    format!(
        "| {} |\n|{}|\n",
        head.join(" | "),
        vec!["---"; head.len()].join("|")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(figures: bool) -> Row {
        Row {
            name: "mr1.5_g3_n41_sg".into(),
            status: "ok".into(),
            dim: 1,
            gamma: 3.0,
            mass_ratio: 1.5,
            mass: 8.8,
            critical_mass: 5.87,
            n: 41,
            h: 12.0 / 41.0,
            scheme: "sg".into(),
            t_end: 1.0,
            figures: figures.then_some(Figures {
                supercritical: true,
                blowup_time: Some(0.1),
                max_ratio_final: Some(1.9),
                centre_mass: 2.0,
                centre_discrete: 2.0,
                centre_continuum: 2.9,
                condensate: 2.9,
                condensate_expected: 2.93,
                exponent: Some(-0.66),
                exponent_reference: Some(-0.66),
                exponent_cells: 4,
                entropy: 1.0,
                entropy_discrete: 1.0,
                beta_h: 1e-6,
                relax_rate: None,
                relax_rows: 0,
            }),
            run: Some(RunCost {
                n: 41,
                steps: 10,
                wall: 0.5,
                newton: Some(20),
                krylov: Some(200),
            }),
            refined: None,
        }
    }

    #[test]
    fn csv_has_one_row_per_run_and_none_where_missing() {
        let text = csv(&[row(true), row(false)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        for l in &lines {
            assert_eq!(l.split(',').count(), CSV_HEADER.len(), "{l}");
        }
        let cells: Vec<&str> = lines[1].split(',').collect();
        let at = |name: &str| cells[CSV_HEADER.iter().position(|h| *h == name).unwrap()];
        assert_eq!(at("blowup_time"), "1e-1");
        assert_eq!(at("relax_rate"), "none");
        assert_eq!(at("centre_mass_discrete_rel_err"), "0e0");
        assert_eq!(at("refined_n"), "none");
        assert!(lines[2].contains(",none,"));
    }

    #[test]
    fn markdown_has_both_tables() {
        let info = StudyInfo {
            source: "s.toml".into(),
            runs: 2,
            ranks: 2,
            groups: 2,
            r0: 0.5,
            profile_fit: [0.0, 0.5],
            relax_levels: [1e-8, 1e-2],
            diffusion: 1.0,
            kappa: 1.0,
            stepper: "implicit".into(),
            pictures: true,
        };
        let text = markdown(&[row(true)], &info);
        assert!(text.contains("## Figures") && text.contains("## Cost"));
        assert_eq!(text.matches("| mr1.5_g3_n41_sg |").count(), 2);
    }

    #[test]
    fn significant_digits() {
        assert_eq!(sig(5.678278), "5.6783");
        assert_eq!(sig(-0.6667), "-0.66670");
        assert_eq!(sig(1.5e-7), "1.5000e-7");
        assert_eq!(sig(123456.0), "1.2346e5");
        assert_eq!(sig(0.0), "0");
    }
}
