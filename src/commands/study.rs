//! `nlfp study CONFIG [--out DIR] [--overwrite]`: a condensation study.
//!
//! The runs are the Cartesian product of the `[study]` lists (`mass_ratio`, `gamma`, `n`,
//! `scheme`; an absent list is the base config's single value). Each run is a forward sweep of
//! the base config with those values substituted, through the same machinery as
//! `nlfp forward` ([`super::forward::execute`]), into `DIR/runs/<name>/` (`config.toml`,
//! `diagnostics.csv`, `final.h5`, snapshots at the config's cadence). Every supercritical run
//! (`m > m_c`) gets a refined companion `DIR/runs/<name>_refined/` with `2n + 1` cells per axis
//! (the origin stays a cell centre) for the blow-up time estimate, unless `study.refine = false`.
//! When every run is done, rank 0 reads the results back and writes one row per run to
//! `DIR/study.csv` and `DIR/study.md` (crash-safe replacement); the figures are defined in
//! [`crate::study::analysis`].
//!
//! # Rank use: runs in parallel over sub-communicators
//!
//! The ranks are split into `G = min(P, J)` groups of consecutive ranks (`P` ranks, `J` runs
//! including the companions), each group a sub-communicator that runs its share of the runs one
//! after another, each run decomposed over the group's ranks; runs go to groups by the
//! longest-processing-time rule on the estimated cost `n^(d+1)` ([`crate::study::schedule`]).
//! Why not every run over all ranks: study grids are small (tens to a few hundred cells per
//! axis), where a decomposed implicit step is dominated by latency, not arithmetic: every
//! BiCGStab iteration needs a halo exchange and global sums, every Newton iteration a MAX, so
//! splitting a 63^2 grid over more ranks buys little, while independent runs scale perfectly.
//! Second, with `P <= J` every run is computed on one rank exactly as on a single process, so
//! the table does not depend on the rank count at all (the implicit stepper is otherwise only
//! rank-count independent to its solver tolerance). The price is balance: a refined companion
//! costs about `2^d` or more times its run, so with few runs the groups finish at different
//! times (with a single supercritical run on 2 ranks, the refined run alone decides the wall
//! time); the cost ordering keeps the big runs apart and packs the small ones around them.
//!
//! Failures: a run that fails (non-finite density, an I/O error its group agrees on) is
//! reported in its row (`status`) and the study goes on; the command then exits with status 1
//! after writing the table. Errors only one rank sees abort the whole job, as in `forward`.

use std::path::{Path, PathBuf};

use super::forward::{execute, Execution, OUTPUT_FILES, SNAPSHOT_DIR};
use super::setup::{load_config, RunSetup};
use super::CommandError;
use crate::cli::RunArgs;
use crate::comm::Comm;
use crate::config::{Config, MassSpec, SchemeName, StudyConfig};
use crate::diagnostics::DiagnosticsSetup;
use crate::io;
use crate::mesh::Mesh;
use crate::physics::ModelParams;
use crate::signals::SignalFlags;
use crate::study::analysis::{self, RunData, Series};
use crate::study::pictures::{self, Frame, RunPictures};
use crate::study::schedule;
use crate::study::table::{self, Row, RunCost, StudyInfo};
use crate::sweep::forward::{MarchEnd, MarchState};

/// The table files of a study.
pub const TABLE_FILES: [&str; 2] = ["study.csv", "study.md"];

/// Subdirectory of the study directory holding one directory per run.
pub const RUNS_DIR: &str = "runs";

/// Suffix of a refined companion's name.
pub const REFINED_SUFFIX: &str = "_refined";

/// One forward run of the study.
struct Job {
    name: String,
    dir: PathBuf,
    config: Config,
    cost: f64,
}

/// One row of the table: a study point, its run and its refined companion.
struct Point {
    name: String,
    gamma: f64,
    mass: f64,
    critical_mass: f64,
    n: usize,
    scheme: SchemeName,
    run: usize,
    refined: Option<usize>,
}

/// How a run ended, as seen by its group.
type Outcome = Result<RunCost, String>;

/// Runs the command.
pub fn run(
    comm: &Comm,
    args: &RunArgs,
    out: Option<PathBuf>,
    overwrite: bool,
) -> Result<(), CommandError> {
    // Everything that can be wrong with the input is found before anything is written.
    let base = load_config(comm, args)?;
    let dir = out.unwrap_or_else(|| base.output.dir.clone());
    let (points, jobs) = plan(&base, &dir)?;
    let ranks = comm.size();
    let groups = ranks.min(jobs.len());
    let sizes = schedule::group_sizes(ranks, groups);
    let assigned = schedule::assign(&jobs.iter().map(|j| j.cost).collect::<Vec<_>>(), &sizes);
    for (job, &g) in jobs.iter().zip(&assigned) {
        job.config
            .validate_for_ranks(sizes[g])
            .map_err(|e| CommandError::Input(format!("run {}: {e}", job.name)))?;
    }
    if comm.is_root() && !base.warnings().is_empty() {
        for warning in base.warnings() {
            log::warn!("{warning}");
        }
    }
    let checked = if comm.is_root() {
        check_output_dir(&dir, &jobs, overwrite).map(|_| Vec::new())
    } else {
        Ok(Vec::new())
    };
    comm.broadcast_result(checked)
        .map_err(CommandError::Input)?;
    if comm.is_root() {
        // Pictures of an earlier study in the same directory (other snapshot times) go.
        for job in &jobs {
            let _ = std::fs::remove_dir_all(job.dir.join(pictures::PICTURES_DIR));
        }
    }
    let signals = SignalFlags::install().map_err(CommandError::Fatal)?;
    if comm.is_root() {
        log::info!(
            "study: {} point(s), {} run(s) on {ranks} rank(s) in {groups} group(s); results in {}",
            points.len(),
            jobs.len(),
            dir.display()
        );
        for (job, &g) in jobs.iter().zip(&assigned) {
            log::info!(
                "  {:<32} n = {:<5} group {g} ({} rank(s))",
                job.name,
                job.config.grid.n,
                sizes[g]
            );
        }
    }

    // Each group runs its share; the group's rank 0 records the outcomes.
    let group = schedule::group_of(comm.rank(), ranks, groups);
    let sub = comm.split(group);
    let mut record = String::new();
    let mut stopped = false;
    for (k, job) in jobs.iter().enumerate() {
        if assigned[k] != group {
            continue;
        }
        let outcome = if stopped {
            Err("not run: the study was stopped by a signal".to_string())
        } else {
            match run_job(&sub, job, &base.study, &signals) {
                Ok(Some(cost)) => Ok(cost),
                Ok(None) => {
                    stopped = true;
                    Err("stopped by a signal (the study has no restart; rerun it)".into())
                }
                Err(CommandError::Fatal(msg)) => return Err(CommandError::Fatal(msg)),
                Err(
                    CommandError::Input(msg)
                    | CommandError::Runtime(msg)
                    | CommandError::Requeue(msg),
                ) => Err(msg),
            }
        };
        if let Err(msg) = &outcome {
            if sub.is_root() {
                log::warn!("study run {} failed: {msg}", job.name);
            }
        }
        if sub.is_root() {
            record += &encode(k, &outcome);
        }
    }
    let gathered = comm.gather_bytes_to_root(record.as_bytes());

    // Rank 0 reads the results back and writes the tables.
    let summary = if comm.is_root() {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; jobs.len()];
        for part in &gathered {
            for line in String::from_utf8_lossy(part).lines() {
                if let Some((k, o)) = decode(line) {
                    outcomes[k] = Some(o);
                }
            }
        }
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err("no result reported".into())))
            .collect();
        let mut rows: Vec<Row> = points
            .iter()
            .map(|p| row(p, &jobs, &outcomes, &base.study, &base))
            .collect();
        if base.study.pictures {
            for (p, r) in points.iter().zip(rows.iter_mut()) {
                if let Err(e) = pictures(p, r, &jobs, &base) {
                    log::warn!("{}: pictures: {e}", r.name);
                    r.status = format!("{} (pictures failed: {e})", r.status);
                }
            }
        }
        let failed_runs = outcomes.iter().filter(|o| o.is_err()).count();
        let info = StudyInfo {
            source: base.source.clone(),
            runs: jobs.len(),
            ranks,
            groups,
            r0: condensate_radius(&base),
            profile_fit: base.study.profile_fit,
            relax_levels: base.study.relax_levels,
            diffusion: base.model.diffusion,
            kappa: base.model.kappa,
            stepper: base.time.stepper.name().to_string(),
            pictures: base.study.pictures,
        };
        write_tables(&dir, &rows, &info).map(|_| {
            log_summary(&rows, &dir);
            failed_runs.to_string().into_bytes()
        })
    } else {
        Ok(Vec::new())
    };
    let failed = comm
        .broadcast_result(summary)
        .map_err(CommandError::Runtime)?;
    let failed: usize = String::from_utf8_lossy(&failed).parse().unwrap_or(0);
    if failed > 0 {
        return Err(CommandError::Runtime(format!(
            "{failed} of {} run(s) failed; see {}",
            jobs.len(),
            dir.join("study.md").display()
        )));
    }
    Ok(())
}

/// The radius of the condensate estimate.
fn condensate_radius(config: &Config) -> f64 {
    config
        .study
        .r0
        .unwrap_or(0.5 * config.model.diffusion.sqrt())
}

/// `1.5` -> `1.5`, `2.0` -> `2` (for run names).
fn token(x: f64) -> String {
    format!("{x}")
}

/// The study points and the runs, from the base config.
fn plan(base: &Config, dir: &Path) -> Result<(Vec<Point>, Vec<Job>), CommandError> {
    let s = &base.study;
    let input =
        |key: &str, msg: String| CommandError::Input(format!("{}: {key}: {msg}", base.source));
    if let Some(procs) = &base.decomposition.procs {
        return Err(input(
            "decomposition.procs",
            format!(
                "{procs:?} is not supported by `nlfp study`: the runs are spread over groups of ranks \
                 whose sizes the study chooses; leave it out"
            ),
        ));
    }
    let dim = base.grid.dim;
    let (gammas, gamma_key) = if s.gamma.is_empty() {
        (vec![base.model.gamma], "model.gamma")
    } else {
        (s.gamma.clone(), "study.gamma")
    };
    let ns = if s.n.is_empty() {
        vec![base.grid.n]
    } else {
        s.n.clone()
    };
    let schemes = if s.scheme.is_empty() {
        vec![base.time.scheme]
    } else {
        s.scheme.clone()
    };
    // The mass of each point: a ratio (from the study or the model) or the model's absolute mass.
    let masses: Vec<MassSpec> = if s.mass_ratio.is_empty() {
        vec![base.model.mass_spec()]
    } else {
        s.mass_ratio
            .iter()
            .map(|&r| MassSpec::CriticalRatio(r))
            .collect()
    };
    let r0 = condensate_radius(base);
    if r0 >= base.grid.half_width {
        return Err(input(
            "study.r0",
            format!(
                "the default 0.5 sqrt(D) = {r0} is not below grid.half_width = {}; set study.r0",
                base.grid.half_width
            ),
        ));
    }
    for &n in &ns {
        let mesh = Mesh::new(dim, n, base.grid.half_width);
        let radii = analysis::profile_radii(&mesh, s.profile_fit);
        if radii < 2 {
            return Err(input(
                "study.profile_fit",
                format!(
                    "{:?} holds {radii} distinct cell radii on the n = {n} grid (h = {:.4}); the fit \
                     needs 2: widen the window",
                    s.profile_fit, mesh.h
                ),
            ));
        }
    }
    let mut points = Vec::new();
    let mut jobs = Vec::new();
    for mass_spec in &masses {
        for &gamma in &gammas {
            let params = ModelParams::new(base.model.diffusion, base.model.kappa, gamma);
            let Some(mc) = params.critical_mass(dim) else {
                return Err(input(
                    gamma_key,
                    format!(
                        "{gamma}: no critical mass (gamma * dim = {} <= 2, or kappa = {} = 0); a \
                         condensation study needs one",
                        gamma * dim as f64,
                        base.model.kappa
                    ),
                ));
            };
            let (mass, mass_token) = match *mass_spec {
                MassSpec::CriticalRatio(r) => (r * mc, format!("mr{}", token(r))),
                MassSpec::Absolute(m) => (m, format!("m{}", token(m))),
            };
            for &n in &ns {
                for &scheme in &schemes {
                    let name = format!("{mass_token}_g{}_n{n}_{}", token(gamma), scheme.name());
                    let make = |name: &str, n: usize| -> Result<Job, CommandError> {
                        let mut c = base.clone();
                        c.study = StudyConfig::default();
                        c.grid.n = n;
                        c.model.gamma = gamma;
                        if let MassSpec::CriticalRatio(r) = *mass_spec {
                            c.model.mass = None;
                            c.model.mass_ratio = Some(r);
                        }
                        c.time.scheme = scheme;
                        let run_dir = dir.join(RUNS_DIR).join(name);
                        c.output.dir = run_dir.clone();
                        // The run's config must load on its own (`nlfp forward runs/<name>/config.toml`).
                        let c = Config::from_toml_str(&c.to_toml(), &c.source, &c.base_dir, &[])
                            .map_err(|e| CommandError::Input(format!("run {name}: {e}")))?;
                        Ok(Job {
                            name: name.to_string(),
                            dir: run_dir,
                            config: c,
                            cost: schedule::cost(n, dim),
                        })
                    };
                    let run = jobs.len();
                    jobs.push(make(&name, n)?);
                    let refined = if s.refine && mass > mc {
                        jobs.push(make(&format!("{name}{REFINED_SUFFIX}"), 2 * n + 1)?);
                        Some(run + 1)
                    } else {
                        None
                    };
                    points.push(Point {
                        name,
                        gamma,
                        mass,
                        critical_mass: mc,
                        n,
                        scheme,
                        run,
                        refined,
                    });
                }
            }
        }
    }
    Ok((points, jobs))
}

/// Refuses to replace earlier results without `--overwrite`.
fn check_output_dir(dir: &Path, jobs: &[Job], overwrite: bool) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "output directory {} exists and is not a directory",
            dir.display()
        ));
    }
    if overwrite {
        return Ok(());
    }
    let mut existing: Vec<String> = TABLE_FILES
        .iter()
        .filter(|f| dir.join(f).exists())
        .map(|f| f.to_string())
        .collect();
    for job in jobs {
        if OUTPUT_FILES.iter().any(|f| job.dir.join(f).exists()) {
            existing.push(format!("{RUNS_DIR}/{}/", job.name));
        }
    }
    if existing.is_empty() {
        return Ok(());
    }
    let shown = if existing.len() > 4 {
        format!(
            "{}, ... ({} in all)",
            existing[..4].join(", "),
            existing.len()
        )
    } else {
        existing.join(", ")
    };
    Err(format!(
        "output directory {} already holds {shown}; choose another with --out DIR or pass --overwrite",
        dir.display()
    ))
}

/// One forward run on the group `comm`; `None` when it stopped on a signal.
fn run_job(
    comm: &Comm,
    job: &Job,
    study: &StudyConfig,
    signals: &SignalFlags,
) -> Result<Option<RunCost>, CommandError> {
    let setup = RunSetup::from_config(comm, job.config.clone())?;
    let mut f = setup.initial_field()?;
    let mut stepper = setup.stepper();
    let mut state = MarchState::start();
    let r0 = study.r0.unwrap_or(0.5 * setup.params.diffusion.sqrt());
    let label = format!("study {}", job.name);
    let result = execute(
        comm,
        &Execution {
            setup: &setup,
            dir: &job.dir,
            diagnostics: DiagnosticsSetup::with_condensate_radius(
                setup.params,
                &setup.mesh,
                setup.mass,
                r0,
            ),
            signals,
            replace: true,
            resumed: None,
            label: &label,
        },
        &mut f,
        stepper.as_mut(),
        &mut state,
    )?;
    if result.end == MarchEnd::Stopped {
        return Ok(None);
    }
    let iterations = stepper.iteration_counts();
    Ok(Some(RunCost {
        n: setup.mesh.n,
        steps: result.steps,
        wall: result.wall.as_secs_f64(),
        newton: iterations.map(|(n, _)| n),
        krylov: iterations.map(|(_, k)| k),
    }))
}

/// `k <tab> ok <tab> n steps wall newton krylov` or `k <tab> failed <tab> message`.
fn encode(k: usize, outcome: &Outcome) -> String {
    let opt = |x: Option<u64>| x.map_or("-".to_string(), |v| v.to_string());
    match outcome {
        Ok(c) => format!(
            "{k}\tok\t{}\t{}\t{:?}\t{}\t{}\n",
            c.n,
            c.steps,
            c.wall,
            opt(c.newton),
            opt(c.krylov)
        ),
        Err(msg) => format!("{k}\tfailed\t{}\n", msg.replace(['\n', '\t'], " ")),
    }
}

fn decode(line: &str) -> Option<(usize, Outcome)> {
    let parts: Vec<&str> = line.split('\t').collect();
    let k = parts.first()?.parse().ok()?;
    match *parts.get(1)? {
        "ok" if parts.len() == 7 => {
            let opt = |s: &str| s.parse::<u64>().ok();
            Some((
                k,
                Ok(RunCost {
                    n: parts[2].parse().ok()?,
                    steps: parts[3].parse().ok()?,
                    wall: parts[4].parse().ok()?,
                    newton: opt(parts[5]),
                    krylov: opt(parts[6]),
                }),
            ))
        }
        "failed" => Some((k, Err(parts.get(2).unwrap_or(&"").to_string()))),
        _ => None,
    }
}

/// Reads a run's diagnostics.
fn read_series(dir: &Path) -> Result<Series, String> {
    let path = dir.join("diagnostics.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Series::from_csv(&text, &path.display().to_string())
}

/// The table row of a study point (rank 0).
fn row(
    point: &Point,
    jobs: &[Job],
    outcomes: &[Outcome],
    study: &StudyConfig,
    base: &Config,
) -> Row {
    let job = &jobs[point.run];
    let mesh = Mesh::new(base.grid.dim, point.n, base.grid.half_width);
    let mut row = Row {
        name: point.name.clone(),
        status: "ok".into(),
        dim: mesh.dim,
        gamma: point.gamma,
        mass_ratio: point.mass / point.critical_mass,
        mass: point.mass,
        critical_mass: point.critical_mass,
        n: point.n,
        h: mesh.h,
        scheme: point.scheme.name().to_string(),
        t_end: base.time.t_end,
        figures: None,
        run: None,
        refined: None,
    };
    let cost = match &outcomes[point.run] {
        Ok(c) => *c,
        Err(msg) => {
            row.status = format!("failed: {msg}");
            return row;
        }
    };
    row.run = Some(cost);
    let mut notes = Vec::new();
    let refined_series = match point.refined.map(|k| (k, &outcomes[k])) {
        None => None,
        Some((k, Ok(c))) => {
            row.refined = Some(*c);
            match read_series(&jobs[k].dir) {
                Ok(s) => Some(s),
                Err(e) => {
                    notes.push(format!("refined run unreadable: {e}"));
                    None
                }
            }
        }
        Some((_, Err(msg))) => {
            notes.push(format!("refined run failed: {msg}"));
            None
        }
    };
    let read = read_series(&job.dir).and_then(|series| {
        let field = io::hdf5::read_field(&job.dir.join("final.h5"))?;
        Ok((series, field))
    });
    let (series, field) = match read {
        Ok(x) => x,
        Err(e) => {
            row.status = format!("failed: {e}");
            return row;
        }
    };
    if field.values.len() != mesh.cells() {
        row.status = format!(
            "failed: final.h5 holds {} values, the n = {} grid has {}",
            field.values.len(),
            point.n,
            mesh.cells()
        );
        return row;
    }
    let data = RunData {
        mesh,
        params: ModelParams::new(base.model.diffusion, base.model.kappa, point.gamma),
        mass: point.mass,
        critical_mass: point.critical_mass,
        exact_discrete_steady_state: point.scheme == SchemeName::Sg,
        field: &field.values,
        series: &series,
        refined: refined_series.as_ref(),
        r0: condensate_radius(base),
        profile_fit: study.profile_fit,
        relax_levels: study.relax_levels,
    };
    row.figures = Some(analysis::analyse(&data));
    if !notes.is_empty() {
        row.status = format!("ok ({})", notes.join("; "));
    }
    row
}

/// The snapshots of a run (`snapshots/snap_<step>.h5`), in step order.
fn snapshots(dir: &Path) -> Result<Vec<Frame>, String> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(dir.join(SNAPSHOT_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name
                .strip_prefix("snap_")?
                .strip_suffix(".h5")?
                .parse()
                .ok()?;
            Some((step, e.path()))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, path)| {
            let f = io::hdf5::read_field(&path)?;
            Ok(Frame {
                t: f.t,
                step: f.step,
                values: f.values,
            })
        })
        .collect()
}

/// Draws the pictures of a study point's run (rank 0), when it has figures.
fn pictures(point: &Point, row: &Row, jobs: &[Job], base: &Config) -> Result<(), String> {
    let Some(figures) = &row.figures else {
        return Ok(());
    };
    let job = &jobs[point.run];
    let series = read_series(&job.dir)?;
    let stored = io::hdf5::read_field(&job.dir.join("final.h5"))?;
    let last = Frame {
        t: stored.t,
        step: stored.step,
        values: stored.values,
    };
    let refined = match (point.refined, row.refined) {
        (Some(k), Some(cost)) => Some((read_series(&jobs[k].dir)?, cost.n)),
        _ => None,
    };
    let frames = snapshots(&job.dir)?;
    let written = pictures::draw(&RunPictures {
        name: &point.name,
        dir: &job.dir,
        mesh: Mesh::new(base.grid.dim, point.n, base.grid.half_width),
        params: ModelParams::new(base.model.diffusion, base.model.kappa, point.gamma),
        series: &series,
        refined: refined.as_ref().map(|(s, n)| (s, *n)),
        snapshots: &frames,
        last: &last,
        figures,
        log: base.study.heatmap_log,
    })
    .map_err(|e| e.to_string())?;
    log::debug!(
        "{}: {} picture(s) in {}",
        point.name,
        written.len(),
        job.dir.join(pictures::PICTURES_DIR).display()
    );
    Ok(())
}

/// Writes `study.csv` and `study.md` crash-safely.
fn write_tables(dir: &Path, rows: &[Row], info: &StudyInfo) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    io::replace_file(&dir.join("study.csv"), table::csv(rows).as_bytes())?;
    io::replace_file(
        &dir.join("study.md"),
        table::markdown(rows, info).as_bytes(),
    )
}

/// A few figures per run on the log.
fn log_summary(rows: &[Row], dir: &Path) {
    let opt = |x: Option<f64>| x.map_or("none".to_string(), table::sig);
    for r in rows {
        match &r.figures {
            Some(f) => log::info!(
                "{}: T_blowup {}, centre mass {} (discrete rel err {}), exponent {} (-2/gamma {}), relax rate {}{}",
                r.name,
                opt(f.blowup_time),
                table::sig(f.centre_mass),
                table::sig((f.centre_mass - f.centre_discrete) / f.centre_discrete.abs()),
                opt(f.exponent),
                table::sig(-2.0 / r.gamma),
                opt(f.relax_rate),
                if r.status == "ok" { String::new() } else { format!(" [{}]", r.status) }
            ),
            None => log::warn!("{}: {}", r.name, r.status),
        }
    }
    log::info!(
        "study tables: {} and {}",
        dir.join("study.csv").display(),
        dir.join("study.md").display()
    );
}
