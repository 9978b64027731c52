//! `[study]`: the sweep run by `nlfp study` and the settings of its analysis.

use crate::config::read::{fmt_f64, fmt_floats, Sec};
use crate::config::rules::{config_section, custom, flag, optional_positive};
use crate::config::schema::Ty;
use crate::config::{Config, ConfigError, MassSpec};
use crate::scheme::SchemeKind;
use crate::study::plan::{Job, MassChoice, StudySpec};

config_section! {
    /// `[study]`: the sweep run by `nlfp study`, the Cartesian product of the four lists (an
    /// empty list means the single value of the base config: `model.mass_ratio` or
    /// `model.mass`, `model.gamma`, `grid.n`, `time.scheme`), and the settings of its analysis.
    /// Other commands ignore it; a config whose study is the default is written without it.
    pub struct StudyConfig {
        /// Masses as multiples `> 0` of the critical mass, distinct.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub mass_ratio: Vec<f64> = custom(Ty::FloatArray, read_positive_list),
        /// Exponents `gamma > 0`, distinct.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub gamma: Vec<f64> = custom(Ty::FloatArray, read_positive_list),
        /// Cells per axis, odd and `>= 5`, distinct.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub n: Vec<usize> = custom(Ty::IntArray, read_sizes),
        /// Face-flux schemes, distinct.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub scheme: Vec<SchemeKind> = custom(Ty::StrArray, read_schemes),
        /// Whether each supercritical run gets its refined companion (`n -> 2n + 1`) for the
        /// blow-up time estimate.
        pub refine: bool = flag(true),
        /// Radius `r0 > 0` of the condensate estimate, below `grid.half_width`;
        /// `None` = `0.5 sqrt(D)`.
        pub r0: Option<f64> = optional_positive(),
        /// Radius window `[r_min, r_max]`, `0 <= r_min < r_max`, of the near-origin profile fit
        /// (default `[0, 0.5]`).
        pub profile_fit: [f64; 2] = custom(Ty::FloatArray, read_profile_fit),
        /// Window `[lo, hi]`, `0 < lo < hi <= 1`, of entropy-excess levels (relative to the
        /// excess at `t = 0`) over which the relaxation rate is fitted (default `[1e-8, 1e-2]`).
        pub relax_levels: [f64; 2] = custom(Ty::FloatArray, read_relax_levels),
        /// Whether every run gets its PNG pictures.
        pub pictures: bool = flag(true),
        /// Whether the density pictures use a log colour scale (log vertical axis in 1D).
        pub heatmap_log: bool = flag(true),
    }
}

impl Default for StudyConfig {
    /// Every key at its default: the study of a config without `[study]`.
    fn default() -> Self {
        StudyConfig::read(&Sec::absent("study")).expect("the [study] defaults are valid")
    }
}

impl StudyConfig {
    /// Whether every key has its default (the section is then not written).
    pub fn is_default(&self) -> bool {
        *self == StudyConfig::default()
    }
}

impl Config {
    /// The `[study]` section and the base run as the study's runtime description.
    pub fn study_spec(&self) -> StudySpec {
        let s = &self.study;
        let masses = match self.model.mass_spec() {
            _ if !s.mass_ratio.is_empty() => {
                let ratio = |&r: &f64| MassChoice::CriticalRatio(r);
                s.mass_ratio.iter().map(ratio).collect()
            }
            MassSpec::CriticalRatio(r) => vec![MassChoice::CriticalRatio(r)],
            MassSpec::Absolute(m) => vec![MassChoice::Absolute(m)],
        };
        let gamma_key = if s.gamma.is_empty() {
            "model.gamma"
        } else {
            "study.gamma"
        };
        StudySpec {
            source: self.source.clone(),
            dim: self.grid.dim,
            half_width: self.grid.half_width,
            diffusion: self.model.diffusion,
            kappa: self.model.kappa,
            t_end: self.time.t_end,
            stepper: self.time.stepper.name(),
            masses,
            gammas: (or_base(&s.gamma, self.model.gamma), gamma_key),
            ns: or_base(&s.n, self.grid.n),
            schemes: or_base(&s.scheme, self.time.scheme),
            refine: s.refine,
            r0: s.r0.unwrap_or(0.5 * self.model.diffusion.sqrt()),
            profile_fit: s.profile_fit,
            relax_levels: s.relax_levels,
            pictures: s.pictures,
            heatmap_log: s.heatmap_log,
        }
    }

    /// The config of one run: the base with the run's values, loadable on its own
    /// (`nlfp forward runs/<name>/config.toml`).
    pub fn study_run(&self, job: &Job) -> Result<Config, ConfigError> {
        let mut c = self.clone();
        c.study = StudyConfig::default();
        c.grid.n = job.n;
        c.model.gamma = job.gamma;
        if let MassChoice::CriticalRatio(r) = job.mass {
            c.model.mass = None;
            c.model.mass_ratio = Some(r);
        }
        c.time.scheme = job.scheme;
        c.output.dir = job.dir.clone();
        Config::from_toml_str(&c.to_toml(), &c.source, &c.base_dir, &[])
    }
}

/// `list`, or the base run's single `value` when it is empty.
fn or_base<T: Clone>(list: &[T], value: T) -> Vec<T> {
    if list.is_empty() {
        vec![value]
    } else {
        list.to_vec()
    }
}

/// Rejects an empty list and repeated entries (they would give two runs of the same name).
fn check_distinct<T: PartialEq>(
    s: &Sec,
    key: &str,
    items: &[T],
    show: impl Fn(&T) -> String,
) -> Result<(), ConfigError> {
    if items.is_empty() {
        return Err(s.err(
            key,
            "must not be empty (leave the key out for the base value)",
        ));
    }
    for (i, a) in items.iter().enumerate() {
        if items[..i].contains(a) {
            return Err(s.err(key, format!("lists {} twice", show(a))));
        }
    }
    Ok(())
}

/// `study.mass_ratio`, `study.gamma`: distinct numbers `> 0` (a single number is a list).
fn read_positive_list(s: &Sec, key: &str) -> Result<Vec<f64>, ConfigError> {
    let Some(list) = s.float_list(key)? else {
        return Ok(Vec::new());
    };
    for &x in &list {
        s.positive(key, x)?;
    }
    check_distinct(s, key, &list, |x| fmt_f64(*x))?;
    Ok(list)
}

/// `study.n`: distinct odd sizes `>= 5`.
fn read_sizes(s: &Sec, key: &str) -> Result<Vec<usize>, ConfigError> {
    let Some(list) = s.int_list(key)? else {
        return Ok(Vec::new());
    };
    let mut n = Vec::with_capacity(list.len());
    for k in list {
        if k < 5 || k % 2 == 0 {
            let msg = format!("entries must be odd and at least 5, got {k}");
            return Err(s.err(key, msg));
        }
        n.push(usize::try_from(k).map_err(|_| s.err(key, format!("is too large, got {k}")))?);
    }
    check_distinct(s, key, &n, usize::to_string)?;
    Ok(n)
}

/// `study.scheme`: distinct scheme names.
fn read_schemes(s: &Sec, key: &str) -> Result<Vec<SchemeKind>, ConfigError> {
    let Some(list) = s.name_list::<SchemeKind>(key)? else {
        return Ok(Vec::new());
    };
    check_distinct(s, key, &list, |x| x.name().to_string())?;
    Ok(list)
}

/// A `[lo, hi]` window: two numbers with `lo < hi`, `lo >= 0` (`lo > 0` if `positive`), and
/// `hi <= max` when given.
fn read_window(
    s: &Sec,
    key: &str,
    default: [f64; 2],
    positive: bool,
    max: Option<f64>,
) -> Result<[f64; 2], ConfigError> {
    let Some(v) = s.floats(key)? else {
        return Ok(default);
    };
    let ok = v.len() == 2
        && (v[0] > 0.0 || (!positive && v[0] == 0.0))
        && v[0] < v[1]
        && max.is_none_or(|m| v[1] <= m);
    if !ok {
        let low = if positive { "0 < lo" } else { "0 <= lo" };
        let bound = max.map_or(String::new(), |m| format!(" <= {}", fmt_f64(m)));
        let msg = format!(
            "must be two numbers [lo, hi] with {low} < hi{bound}, got {}",
            fmt_floats(&v)
        );
        return Err(s.err(key, msg));
    }
    Ok([v[0], v[1]])
}

/// `study.profile_fit`: `0 <= r_min < r_max`, default `[0, 0.5]`.
fn read_profile_fit(s: &Sec, key: &str) -> Result<[f64; 2], ConfigError> {
    read_window(s, key, [0.0, 0.5], false, None)
}

/// `study.relax_levels`: `0 < lo < hi <= 1`, default `[1e-8, 1e-2]`.
fn read_relax_levels(s: &Sec, key: &str) -> Result<[f64; 2], ConfigError> {
    read_window(s, key, [1e-8, 1e-2], true, Some(1.0))
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;
    use crate::config::StudyConfig;
    use crate::scheme::SchemeKind;

    #[test]
    fn study_section_round_trips_and_is_left_out_when_default() {
        let c = ok(MINIMAL, &[]);
        assert_eq!(c.study, StudyConfig::default());
        assert!(!c.to_toml().contains("[study]"));
        let c = ok(
            &format!(
                "{MINIMAL}[study]\nmass_ratio = [0.8, 1.5]\ngamma = [2, 3.0]\nn = [41, 81]\n\
                 scheme = [\"sg\", \"upwind\"]\nrefine = false\nr0 = 0.25\n\
                 profile_fit = [0.1, 0.4]\nrelax_levels = [1e-6, 0.1]\npictures = false\n\
                 heatmap_log = false\n"
            ),
            &[],
        );
        let s = &c.study;
        assert_eq!(s.mass_ratio, vec![0.8, 1.5]);
        assert_eq!(s.gamma, vec![2.0, 3.0]);
        assert_eq!(s.n, vec![41, 81]);
        assert_eq!(s.scheme, vec![SchemeKind::Sg, SchemeKind::Upwind]);
        assert_eq!(
            (s.refine, s.r0, s.pictures, s.heatmap_log),
            (false, Some(0.25), false, false)
        );
        assert_eq!((s.profile_fit, s.relax_levels), ([0.1, 0.4], [1e-6, 0.1]));
        assert!(c.to_toml().contains("[study]"));
        assert_round_trip(&c);
        // The study does not change the physics of a run.
        assert_eq!(
            c.physics_fingerprint(),
            ok(MINIMAL, &[]).physics_fingerprint()
        );
    }

    #[test]
    fn study_lists_take_single_values_and_bare_scheme_names() {
        let c = ok(
            MINIMAL,
            &["study.n=41", "study.scheme=[sg, upwind]", "study.gamma=3"],
        );
        assert_eq!(c.study.n, vec![41]);
        assert_eq!(c.study.scheme, vec![SchemeKind::Sg, SchemeKind::Upwind]);
        assert_eq!(c.study.gamma, vec![3.0]);
        let c = ok(MINIMAL, &["study.scheme=upwind"]);
        assert_eq!(c.study.scheme, vec![SchemeKind::Upwind]);
    }

    #[test]
    fn study_values_are_checked_and_named() {
        assert_err(&set_err("study.n=[41, 40]"), "study.n", &["odd", "40"]);
        assert_err(&set_err("study.n=[41, 41]"), "study.n", &["twice", "41"]);
        assert_err(&set_err("study.n=[]"), "study.n", &["must not be empty"]);
        assert_err(
            &set_err("study.mass_ratio=[0.0]"),
            "study.mass_ratio",
            &["> 0", "0.0"],
        );
        assert_err(
            &set_err("study.gamma=[\"x\"]"),
            "study.gamma",
            &["list of numbers"],
        );
        assert_err(
            &set_err("study.scheme=[sg, sgg]"),
            "study.scheme",
            &["`sgg`", "sg"],
        );
        assert_err(
            &set_err("study.refine=1"),
            "study.refine",
            &["true or false"],
        );
        assert_err(&set_err("study.r0=6.0"), "study.r0", &["half_width", "6.0"]);
        assert_err(
            &set_err("study.profile_fit=[0.5, 0.2]"),
            "study.profile_fit",
            &["0 <= lo < hi", "[0.5, 0.2]"],
        );
        assert_err(
            &set_err("study.relax_levels=[1e-8, 2.0]"),
            "study.relax_levels",
            &["<= 1.0", "2.0"],
        );
        let e = set_err("study.gama=[2.0]");
        assert_eq!(e.key.as_deref(), Some("study.gama"));
        assert!(e.message.contains("study.gamma"), "{e}");
    }
}
