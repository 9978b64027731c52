//! Running a study: the runs spread over rank groups ([`run_groups`]), each group a
//! sub-communicator that does its share one run after another; then rank 0 reads the results
//! back and writes the table ([`report`]).
//!
//! # Rank use: runs in parallel over sub-communicators
//!
//! The ranks are split into `G = min(P, J)` groups of consecutive ranks (`P` ranks, `J` runs
//! including the companions), each group a sub-communicator that runs its share of the runs one
//! after another, each run decomposed over the group's ranks; runs go to groups by the
//! longest-processing-time rule on the estimated cost `n^(d+1)` ([`super::schedule`]).
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
//! Each group's rank 0 records how its runs ended as text lines ([`encode`]: `k <tab> ok <tab>
//! n steps wall newton krylov` or `k <tab> failed <tab> message`), gathered on rank 0. A run that
//! fails in a way its group agrees on is reported in its row and the study goes on; a failure
//! only one rank sees aborts the job, as in `forward`.

use std::path::Path;

use super::analysis::{self, RunData, Series};
use super::pictures::{self, Frame, RunPictures};
use super::plan::{Job, Point, StudySpec, RUNS_DIR};
use super::schedule;
use super::table::{self, Row, RunCost, StudyInfo};
use crate::comm::Comm;
use crate::error::CommandError;
use crate::io;
use crate::io::run_dir::{check_is_dir, existing, refusal};
use crate::scheme::SchemeKind;
use crate::sweep::forward_run::OUTPUT_FILES;

/// The table files of a study.
pub const TABLE_FILES: [&str; 2] = ["study.csv", "study.md"];

/// Refuses to replace an earlier study's results in `dir` (its tables, or any run directory
/// holding a forward run's results) without `overwrite` (rank 0's work).
pub fn check_dir(dir: &Path, jobs: &[Job], overwrite: bool) -> Result<(), String> {
    check_is_dir(dir)?;
    if overwrite {
        return Ok(());
    }
    let mut found = existing(dir, &TABLE_FILES);
    for job in jobs {
        if !existing(&job.dir, &OUTPUT_FILES).is_empty() {
            found.push(format!("{RUNS_DIR}/{}/", job.name));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let listed = if found.len() > 4 {
        format!("{}, ... ({} in all)", found[..4].join(", "), found.len())
    } else {
        found.join(", ")
    };
    Err(refusal(dir, &listed, ""))
}

/// Rank 0's preparation of the study directory: its lock for the life of the process
/// ([`crate::io::lock::lock_dir`]: a second study writing there is refused), the refusal of
/// [`check_dir`], then the pictures of an earlier study in the same directory (other snapshot
/// times) go.
pub fn prepare(dir: &Path, jobs: &[Job], overwrite: bool) -> Result<(), String> {
    check_is_dir(dir)?;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create output directory {}: {e}", dir.display()))?;
    crate::io::lock::lock_dir(dir)?;
    check_dir(dir, jobs, overwrite)?;
    for job in jobs {
        let _ = std::fs::remove_dir_all(job.dir.join(pictures::PICTURES_DIR));
    }
    Ok(())
}

/// The plan on the log (rank 0).
pub fn log_plan(dir: &Path, points: &[Point], jobs: &[Job], groups: &Groups, ranks: usize) {
    log::info!(
        "study: {} point(s), {} run(s) on {ranks} rank(s) in {} group(s); results in {}",
        points.len(),
        jobs.len(),
        groups.sizes.len(),
        dir.display()
    );
    for (job, &g) in jobs.iter().zip(&groups.assigned) {
        let size = groups.sizes[g];
        log::info!(
            "  {:<32} n = {:<5} group {g} ({size} rank(s))",
            job.name,
            job.n
        );
    }
}

/// How a run ended, as seen by its group.
pub type Outcome = Result<RunCost, String>;

/// The runs spread over the ranks: `G = min(P, J)` groups, each run's group.
#[derive(Clone, Debug, PartialEq)]
pub struct Groups {
    /// Ranks per group.
    pub sizes: Vec<usize>,
    /// The group of every run.
    pub assigned: Vec<usize>,
}

impl Groups {
    /// The groups of `ranks` ranks for `jobs` ([`schedule`]).
    pub fn new(ranks: usize, jobs: &[Job]) -> Groups {
        let sizes = schedule::group_sizes(ranks, ranks.min(jobs.len()));
        let costs: Vec<f64> = jobs.iter().map(|j| j.cost).collect();
        let assigned = schedule::assign(&costs, &sizes);
        Groups { sizes, assigned }
    }
}

/// Runs every job in its group: `run_job(sub, k)` runs job `k` on the group's communicator
/// `sub` and returns its cost, or `None` when a signal stopped it (the group's later runs are
/// then skipped). Returns every run's outcome on rank 0 (empty elsewhere). Collective.
pub fn run_groups(
    comm: &Comm,
    groups: &Groups,
    jobs: &[Job],
    mut run_job: impl FnMut(&Comm, usize) -> Result<Option<RunCost>, CommandError>,
) -> Result<Vec<Outcome>, CommandError> {
    let count = groups.sizes.len();
    let group = schedule::group_of(comm.rank(), comm.size(), count);
    let sub = comm.split(group);
    let mut record = String::new();
    let mut stopped = false;
    for (k, job) in jobs.iter().enumerate() {
        if groups.assigned[k] != group {
            continue;
        }
        let outcome = if stopped {
            Err("not run: the study was stopped by a signal".to_string())
        } else {
            match run_job(&sub, k) {
                Ok(Some(cost)) => Ok(cost),
                Ok(None) => {
                    stopped = true;
                    Err("stopped by a signal (the study has no restart; rerun it)".into())
                }
                Err(CommandError::Fatal(msg)) => return Err(CommandError::Fatal(msg)),
                Err(e) => Err(e.message().to_string()),
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
    if !comm.is_root() {
        return Ok(Vec::new());
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; jobs.len()];
    for part in &gathered {
        for line in String::from_utf8_lossy(part).lines() {
            if let Some((k, o)) = decode(line) {
                outcomes[k] = Some(o);
            }
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err("no result reported".into())))
        .collect())
}

/// `k <tab> ok <tab> n steps wall newton krylov` or `k <tab> failed <tab> message`.
pub fn encode(k: usize, outcome: &Outcome) -> String {
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

/// The run index and outcome of a line written by [`encode`] (`None` for anything else).
pub fn decode(line: &str) -> Option<(usize, Outcome)> {
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

/// Rank 0 writes the table ([`report`]); every rank then returns the same verdict: an error
/// when the table could not be written or some runs failed. Collective.
pub fn finish(
    comm: &Comm,
    dir: &Path,
    spec: &StudySpec,
    plan: (&[Point], &[Job]),
    outcomes: &[Outcome],
) -> Result<(), CommandError> {
    let (points, jobs) = plan;
    let failed = comm.broadcast_result(if comm.is_root() {
        report(dir, spec, points, jobs, outcomes, comm.size()).map(|n| n.to_string().into_bytes())
    } else {
        Ok(Vec::new())
    });
    let failed: usize = String::from_utf8_lossy(&failed.map_err(CommandError::Runtime)?)
        .parse()
        .unwrap_or(0);
    if failed > 0 {
        return Err(CommandError::Runtime(format!(
            "{failed} of {} run(s) failed; see {}",
            jobs.len(),
            dir.join("study.md").display()
        )));
    }
    Ok(())
}

/// Rank 0: the table rows (figures and pictures of every point), `study.csv`, `study.md` and
/// the log summary; returns how many runs failed.
pub fn report(
    dir: &Path,
    spec: &StudySpec,
    points: &[Point],
    jobs: &[Job],
    outcomes: &[Outcome],
    ranks: usize,
) -> Result<usize, String> {
    let mut rows: Vec<Row> = points
        .iter()
        .map(|p| row(p, jobs, outcomes, spec))
        .collect();
    if spec.pictures {
        for (p, r) in points.iter().zip(rows.iter_mut()) {
            if let Err(e) = draw_pictures(p, r, jobs, spec) {
                log::warn!("{}: pictures: {e}", r.name);
                r.status = format!("{} (pictures failed: {e})", r.status);
            }
        }
    }
    let info = StudyInfo {
        source: spec.source.clone(),
        runs: jobs.len(),
        ranks,
        groups: ranks.min(jobs.len()),
        r0: spec.r0,
        profile_fit: spec.profile_fit,
        relax_levels: spec.relax_levels,
        diffusion: spec.diffusion,
        kappa: spec.kappa,
        stepper: spec.stepper.to_string(),
        pictures: spec.pictures,
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    io::replace_file(&dir.join("study.csv"), table::csv(&rows).as_bytes())?;
    io::replace_file(
        &dir.join("study.md"),
        table::markdown(&rows, &info).as_bytes(),
    )?;
    log_summary(&rows, dir);
    Ok(outcomes.iter().filter(|o| o.is_err()).count())
}

/// Reads a run's diagnostics.
fn read_series(dir: &Path) -> Result<Series, String> {
    let path = dir.join("diagnostics.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Series::from_csv(&text, &path.display().to_string())
}

/// A field file as a picture frame.
fn read_frame(path: &Path) -> Result<Frame, String> {
    let f = io::hdf5::read_field(path)?;
    Ok(Frame {
        t: f.t,
        step: f.step,
        values: f.values,
    })
}

/// The table row of a study point (rank 0).
fn row(point: &Point, jobs: &[Job], outcomes: &[Outcome], spec: &StudySpec) -> Row {
    let job = &jobs[point.run];
    let mesh = spec.mesh(point.n);
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
        t_end: spec.t_end,
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
            read_series(&jobs[k].dir)
                .map_err(|e| notes.push(format!("refined run unreadable: {e}")))
                .ok()
        }
        Some((_, Err(msg))) => {
            notes.push(format!("refined run failed: {msg}"));
            None
        }
    };
    let read = read_series(&job.dir)
        .and_then(|series| Ok((series, io::hdf5::read_field(&job.dir.join("final.h5"))?)));
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
        params: spec.params(point.gamma),
        mass: point.mass,
        critical_mass: point.critical_mass,
        exact_discrete_steady_state: point.scheme == SchemeKind::Sg,
        field: &field.values,
        series: &series,
        refined: refined_series.as_ref(),
        r0: spec.r0,
        profile_fit: spec.profile_fit,
        relax_levels: spec.relax_levels,
    };
    row.figures = Some(analysis::analyse(&data));
    if !notes.is_empty() {
        row.status = format!("ok ({})", notes.join("; "));
    }
    row
}

/// Draws the pictures of a study point's run (rank 0), when it has figures.
fn draw_pictures(point: &Point, row: &Row, jobs: &[Job], spec: &StudySpec) -> Result<(), String> {
    let Some(figures) = &row.figures else {
        return Ok(());
    };
    let job = &jobs[point.run];
    let series = read_series(&job.dir)?;
    let last = read_frame(&job.dir.join("final.h5"))?;
    let refined = match (point.refined, row.refined) {
        (Some(k), Some(cost)) => Some((read_series(&jobs[k].dir)?, cost.n)),
        _ => None,
    };
    let frames = io::snapshots::list(&job.dir)
        .into_iter()
        .map(|(_, path)| read_frame(&path))
        .collect::<Result<Vec<Frame>, String>>()?;
    let written = pictures::draw(&RunPictures {
        name: &point.name,
        dir: &job.dir,
        mesh: spec.mesh(point.n),
        params: spec.params(point.gamma),
        series: &series,
        refined: refined.as_ref().map(|(s, n)| (s, *n)),
        snapshots: &frames,
        last: &last,
        figures,
        log: spec.heatmap_log,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::plan::MassChoice;

    #[test]
    fn an_earlier_study_is_not_replaced_without_overwrite() {
        let dir = std::env::temp_dir().join(format!("nlfp_study_dir_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let jobs: Vec<Job> = (0..6)
            .map(|k| Job {
                name: format!("run{k}"),
                dir: dir.join(RUNS_DIR).join(format!("run{k}")),
                n: 31,
                gamma: 2.0,
                mass: MassChoice::Absolute(1.0),
                scheme: SchemeKind::Sg,
                cost: 1.0,
            })
            .collect();
        check_dir(&dir, &jobs, false).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("study.md"), b"").unwrap();
        for job in &jobs[..4] {
            std::fs::create_dir_all(&job.dir).unwrap();
            std::fs::write(job.dir.join("final.h5"), b"").unwrap();
        }
        // A run directory holding only pictures is not a result.
        std::fs::create_dir_all(jobs[4].dir.join("pictures")).unwrap();
        let e = check_dir(&dir, &jobs, false).unwrap_err();
        assert!(
            e.contains(
                "already holds study.md, runs/run0/, runs/run1/, runs/run2/, ... (5 in all)"
            ),
            "{e}"
        );
        check_dir(&dir, &jobs, true).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn outcomes_round_trip_through_their_text_lines() {
        let ok = RunCost {
            n: 63,
            steps: 1234,
            wall: 0.1 + 0.2,
            newton: Some(17),
            krylov: None,
        };
        let line = encode(3, &Ok(ok));
        assert_eq!(line, "3\tok\t63\t1234\t0.30000000000000004\t17\t-\n");
        assert_eq!(decode(line.trim_end()), Some((3, Ok(ok))));
        let failed = encode(5, &Err("non-finite\tdensity\nat step 9".into()));
        assert_eq!(
            decode(failed.trim_end()),
            Some((5, Err("non-finite density at step 9".into())))
        );
        for junk in ["", "x\tok", "1\tok\t2", "2\tmaybe\tx"] {
            assert_eq!(decode(junk), None, "{junk}");
        }
    }
}
