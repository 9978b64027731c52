//! The plan of a study: its points (the Cartesian product of the lists, an empty list being the
//! base run's single value) and its forward runs, each point's run plus, for a supercritical
//! point (`m > m_c`) with `refine`, a refined companion `<name>_refined` with `2n + 1` cells per
//! axis (the origin stays a cell centre) for the blow-up time estimate. Pure: the driver turns
//! each [`Job`] into the run's config.
//!
//! Run names: `mr<ratio>_g<gamma>_n<n>_<scheme>` (or `m<mass>_...` for an absolute mass), the
//! numbers in Rust's shortest form (`1.5`, `2`).

use std::path::{Path, PathBuf};

use super::analysis;
use super::schedule;
use crate::mesh::Mesh;
use crate::physics::ModelParams;
use crate::scheme::SchemeKind;

/// Subdirectory of the study directory holding one directory per run.
pub const RUNS_DIR: &str = "runs";

/// Suffix of a refined companion's name.
pub const REFINED_SUFFIX: &str = "_refined";

/// How a point's mass is given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MassChoice {
    /// A multiple of the critical mass of the point's `gamma`.
    CriticalRatio(f64),
    /// The mass itself.
    Absolute(f64),
}

/// What a study runs, in runtime terms.
#[derive(Clone, Debug, PartialEq)]
pub struct StudySpec {
    /// The config file (for the tables).
    pub source: String,
    /// Spatial dimension and half width of the grids.
    pub dim: usize,
    /// `L`.
    pub half_width: f64,
    /// `D`.
    pub diffusion: f64,
    /// `kappa`.
    pub kappa: f64,
    /// `T` of every run.
    pub t_end: f64,
    /// Stepper of every run.
    pub stepper: &'static str,
    /// The masses of the points.
    pub masses: Vec<MassChoice>,
    /// The `gamma` values, and the key they come from (for messages).
    pub gammas: (Vec<f64>, &'static str),
    /// Cells per axis.
    pub ns: Vec<usize>,
    /// Flux families.
    pub schemes: Vec<SchemeKind>,
    /// Whether supercritical points get a refined companion.
    pub refine: bool,
    /// Radius of the condensate estimate.
    pub r0: f64,
    /// Radius window of the profile fit.
    pub profile_fit: [f64; 2],
    /// Entropy-excess levels of the relaxation fit.
    pub relax_levels: [f64; 2],
    /// Whether to draw the pictures of every run.
    pub pictures: bool,
    /// Log colour scale in the density pictures.
    pub heatmap_log: bool,
}

impl StudySpec {
    /// The grid of a run with `n` cells per axis.
    pub fn mesh(&self, n: usize) -> Mesh {
        Mesh::new(self.dim, n, self.half_width)
    }

    /// The model of a run with `gamma`.
    pub fn params(&self, gamma: f64) -> ModelParams {
        ModelParams::new(self.diffusion, self.kappa, gamma)
    }
}

/// One row of the table: a study point, its run and its refined companion.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Name of the point (and of its run).
    pub name: String,
    /// `gamma`.
    pub gamma: f64,
    /// `m`.
    pub mass: f64,
    /// `m_c`.
    pub critical_mass: f64,
    /// Cells per axis.
    pub n: usize,
    /// Flux family.
    pub scheme: SchemeKind,
    /// Index of its run in the job list.
    pub run: usize,
    /// Index of its refined companion, if any.
    pub refined: Option<usize>,
}

/// One forward run of the study.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Run name (its directory under `runs/`).
    pub name: String,
    /// Run directory.
    pub dir: PathBuf,
    /// Cells per axis.
    pub n: usize,
    /// `gamma`.
    pub gamma: f64,
    /// The mass as given.
    pub mass: MassChoice,
    /// Flux family.
    pub scheme: SchemeKind,
    /// Estimated cost ([`schedule::cost`]).
    pub cost: f64,
}

/// An invalid plan: the key at fault and why.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanError {
    /// The config key (`study.gamma`, ...).
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

/// `1.5` -> `1.5`, `2.0` -> `2` (for run names).
fn token(x: f64) -> String {
    format!("{x}")
}

/// The points and runs of `spec`, with run directories under `dir/runs/`.
pub fn plan(spec: &StudySpec, dir: &Path) -> Result<(Vec<Point>, Vec<Job>), PlanError> {
    let fail = |key, message| PlanError { key, message };
    let r0 = spec.r0;
    if r0 >= spec.half_width {
        return Err(fail(
            "study.r0",
            format!(
                "the default 0.5 sqrt(D) = {r0} is not below grid.half_width = {}; set study.r0",
                spec.half_width
            ),
        ));
    }
    for &n in &spec.ns {
        let mesh = spec.mesh(n);
        let radii = analysis::profile_radii(&mesh, spec.profile_fit);
        if radii < 2 {
            return Err(fail(
                "study.profile_fit",
                format!(
                    "{:?} holds {radii} distinct cell radii on the n = {n} grid (h = {:.4}); the fit \
                     needs 2: widen the window",
                    spec.profile_fit, mesh.h
                ),
            ));
        }
    }
    let (gammas, gamma_key) = &spec.gammas;
    let mut points = Vec::new();
    let mut jobs = Vec::new();
    for &mass_choice in &spec.masses {
        for &gamma in gammas {
            let Some(mc) = spec.params(gamma).critical_mass(spec.dim) else {
                return Err(fail(
                    gamma_key,
                    format!(
                        "{gamma}: no critical mass (gamma * dim = {} <= 2, or kappa = {} = 0); a \
                         condensation study needs one",
                        gamma * spec.dim as f64,
                        spec.kappa
                    ),
                ));
            };
            let (mass, mass_token) = match mass_choice {
                MassChoice::CriticalRatio(r) => (r * mc, format!("mr{}", token(r))),
                MassChoice::Absolute(m) => (m, format!("m{}", token(m))),
            };
            for &n in &spec.ns {
                for &scheme in &spec.schemes {
                    let name = format!("{mass_token}_g{}_n{n}_{}", token(gamma), scheme.name());
                    let job = |name: String, n: usize| Job {
                        dir: dir.join(RUNS_DIR).join(&name),
                        name,
                        n,
                        gamma,
                        mass: mass_choice,
                        scheme,
                        cost: schedule::cost(n, spec.dim),
                    };
                    let run = jobs.len();
                    jobs.push(job(name.clone(), n));
                    let refined = (spec.refine && mass > mc).then(|| {
                        jobs.push(job(format!("{name}{REFINED_SUFFIX}"), 2 * n + 1));
                        run + 1
                    });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> StudySpec {
        StudySpec {
            source: "study.toml".into(),
            dim: 2,
            half_width: 6.0,
            diffusion: 1.0,
            kappa: 1.0,
            t_end: 1.0,
            stepper: "ssprk2",
            masses: vec![
                MassChoice::CriticalRatio(0.8),
                MassChoice::CriticalRatio(1.5),
            ],
            gammas: (vec![2.0, 3.0], "study.gamma"),
            ns: vec![31],
            schemes: vec![SchemeKind::Sg],
            refine: true,
            r0: 0.5,
            profile_fit: [0.0, 0.6],
            relax_levels: [1e-8, 1e-2],
            pictures: false,
            heatmap_log: true,
        }
    }

    #[test]
    fn points_are_the_product_and_supercritical_ones_get_a_refined_companion() {
        let (points, jobs) = plan(&spec(), Path::new("out")).unwrap();
        let names: Vec<&str> = points.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "mr0.8_g2_n31_sg",
                "mr0.8_g3_n31_sg",
                "mr1.5_g2_n31_sg",
                "mr1.5_g3_n31_sg"
            ]
        );
        // Two subcritical runs, two supercritical runs with companions.
        assert_eq!(jobs.len(), 6);
        let p = &points[2];
        assert_eq!(jobs[p.run].name, "mr1.5_g2_n31_sg");
        let refined = &jobs[p.refined.unwrap()];
        assert_eq!(refined.name, "mr1.5_g2_n31_sg_refined");
        assert_eq!(refined.n, 63);
        assert_eq!(refined.dir, Path::new("out/runs/mr1.5_g2_n31_sg_refined"));
        assert_eq!(refined.cost, 63f64.powi(3));
        assert!(points[0].refined.is_none() && points[1].refined.is_none());
        assert_eq!(p.mass, 1.5 * p.critical_mass);
    }

    #[test]
    fn an_absolute_mass_is_named_by_its_value_and_refine_can_be_off() {
        let mut s = spec();
        s.masses = vec![MassChoice::Absolute(20.0)];
        s.gammas = (vec![2.0], "model.gamma");
        s.refine = false;
        let (points, jobs) = plan(&s, Path::new("out")).unwrap();
        assert_eq!(points[0].name, "m20_g2_n31_sg");
        assert_eq!(jobs.len(), 1);
    }

    #[test]
    fn bad_lists_name_the_key() {
        let mut s = spec();
        s.gammas = (vec![0.5], "study.gamma");
        assert_eq!(plan(&s, Path::new("out")).unwrap_err().key, "study.gamma");
        let mut s = spec();
        s.r0 = 7.0;
        assert_eq!(plan(&s, Path::new("out")).unwrap_err().key, "study.r0");
        let mut s = spec();
        s.profile_fit = [0.0, 0.01];
        let e = plan(&s, Path::new("out")).unwrap_err();
        assert_eq!(e.key, "study.profile_fit");
        assert!(e.message.contains("distinct cell radii"), "{}", e.message);
    }
}
