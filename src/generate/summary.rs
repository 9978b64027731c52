//! What a generate run measured: `summary.toml` (floats in Rust's shortest round-trip form, so
//! a value read back is bit-identical, except the wall times in microseconds) and the closing
//! log lines.

use std::path::Path;

use super::GenerateSettings;
use crate::names::Named;
#[cfg(test)]
use crate::samplers::quality::HeldOutQuality;
use crate::samplers::quality::{Quality, References};
use crate::samplers::sde::SdeReport;
use crate::samplers::{Generated, SamplerKind, WalkReport};
use crate::sweep::forward::format_duration;
use crate::sweep::pipeline::Recorded;
use crate::sweep::reverse::ReverseResult;
use crate::sweep::start::StartKind;

/// What a generate run measured (also written to `summary.toml`).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// `reverse.start`.
    pub start: StartKind,
    /// Forward steps.
    pub steps: u64,
    /// `T`.
    pub t_end: f64,
    /// `||u(T) - f(T)||_1`.
    pub start_error: f64,
    /// `||u(0) - f0||_1`.
    pub reconstruction_error: f64,
    /// Forward wall seconds (recording included).
    pub forward_seconds: f64,
    /// Reverse wall seconds (store reads and recomputation included).
    pub reverse_seconds: f64,
    /// Reverse seconds spent reading the store.
    pub store_seconds: f64,
    /// Peak store memory on rank 0, bytes.
    pub store_peak_bytes: usize,
    /// Forward steps recomputed by the store.
    pub recomputed_steps: u64,
    /// Generated samples.
    pub samples: u64,
    /// What the reverse walk did (with samples).
    pub walk: Option<WalkReport>,
    /// The walk's sample quality against fresh samples of `f0` (rank 0, with samples and the
    /// walk).
    pub quality: Option<Quality>,
    /// `reverse.sampler`.
    pub sampler: SamplerKind,
    /// What the SDE sampler did (with samples and the SDE sampler).
    pub sde: Option<SdeReport>,
    /// The SDE sampler's sample quality against the same references as the walk's (rank 0).
    pub sde_quality: Option<Quality>,
}

impl Summary {
    /// The summary of a run: its settings, the recorded forward run (before its store is
    /// released), the forward march's wall time (this process's part), the reverse, the samples and, on rank 0, the references
    /// their quality is measured against.
    pub fn new(
        settings: &GenerateSettings,
        recorded: &Recorded,
        forward_seconds: f64,
        reverse: &ReverseResult,
        generated: Generated,
        references: Option<&References>,
    ) -> Summary {
        let quality = |points: &[crate::stats::Point]| references.map(|r| r.compare(points));
        let (walk, quality_walk) = match &generated.walk {
            Some((points, report)) => (Some(*report), quality(points)),
            None => (None, None),
        };
        let (sde, quality_sde) = match &generated.sde {
            Some((points, report)) => (Some(*report), quality(points)),
            None => (None, None),
        };
        Summary {
            start: settings.start.kind,
            steps: recorded.state.step,
            t_end: recorded.state.t,
            start_error: reverse.start_error,
            reconstruction_error: reverse.reconstruction_error,
            forward_seconds,
            reverse_seconds: reverse.wall.as_secs_f64(),
            store_seconds: reverse.store_wall.as_secs_f64(),
            store_peak_bytes: recorded.store.peak_memory_bytes(),
            recomputed_steps: recorded.store.recomputed_steps(),
            samples: settings.samplers.samples,
            walk,
            quality: quality_walk,
            sampler: settings.samplers.kind,
            sde,
            sde_quality: quality_sde,
        }
    }

    /// The summary of a finished run without samples read back from its `summary.toml` text
    /// (what `nlfp compare --restart` keeps of a finished probe): the errors and step count
    /// bit-identical (shortest round-trip floats), the wall times to the microsecond.
    /// A run with samples is refused (its sampler reports are not read back).
    pub fn from_toml(text: &str) -> Result<Summary, String> {
        let table: toml::Table = text.parse().map_err(|e| format!("summary.toml: {e}"))?;
        let get = |key: &str| {
            table
                .get(key)
                .ok_or_else(|| format!("summary.toml: no `{key}`"))
        };
        let float = |key: &str| -> Result<f64, String> {
            match get(key)? {
                toml::Value::Float(x) => Ok(*x),
                toml::Value::Integer(i) => Ok(*i as f64),
                v => Err(format!("summary.toml: `{key}` is not a number: {v}")),
            }
        };
        let count = |key: &str| -> Result<u64, String> {
            get(key)?
                .as_integer()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| format!("summary.toml: `{key}` is not a count"))
        };
        let name = |key: &str| -> Result<String, String> {
            get(key)?
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("summary.toml: `{key}` is not a name"))
        };
        let samples = count("samples")?;
        if samples != 0 {
            return Err(format!(
                "summary.toml: a run with {samples} samples is not read back"
            ));
        }
        let named_err = |e: crate::names::UnknownName| format!("summary.toml: {e}");
        Ok(Summary {
            start: StartKind::from_name(&name("start")?).map_err(named_err)?,
            steps: count("steps")?,
            t_end: float("t_end")?,
            start_error: float("start_error_l1")?,
            reconstruction_error: float("reconstruction_error_l1")?,
            forward_seconds: float("forward_seconds")?,
            reverse_seconds: float("reverse_seconds")?,
            store_seconds: float("store_seconds")?,
            store_peak_bytes: count("store_peak_bytes")? as usize,
            recomputed_steps: count("recomputed_steps")?,
            samples,
            walk: None,
            quality: None,
            sampler: SamplerKind::from_name(&name("sampler")?).map_err(named_err)?,
            sde: None,
            sde_quality: None,
        })
    }

    /// The text of `summary.toml`.
    pub fn to_toml(&self) -> String {
        let mut text = format!(
            "# nlfp generate: what the run measured\n\
             start = \"{}\"\n\
             steps = {}\n\
             t_end = {:e}\n\
             start_error_l1 = {:e}\n\
             reconstruction_error_l1 = {:e}\n\
             forward_seconds = {:.6}\n\
             reverse_seconds = {:.6}\n\
             store_seconds = {:.6}\n\
             store_peak_bytes = {}\n\
             recomputed_steps = {}\n",
            self.start.name(),
            self.steps,
            self.t_end,
            self.start_error,
            self.reconstruction_error,
            self.forward_seconds,
            self.reverse_seconds,
            self.store_seconds,
            self.store_peak_bytes,
            self.recomputed_steps,
        );
        text += &format!(
            "samples = {}\nsampler = \"{}\"\n",
            self.samples,
            self.sampler.name()
        );
        if let Some(w) = &self.walk {
            text += &format!(
                "walk_seconds = {:.6}\nwalk_substeps = {}\nwalk_stuck = {}\n",
                w.wall.as_secs_f64(),
                w.substeps,
                w.stuck
            );
        }
        if let Some(r) = &self.sde {
            text += &format!(
                "# sde_count: SDE particles present at t = 0; sde_ids_intact: their ids are exactly 0..N\n\
                 sde_count = {}\nsde_ids_intact = {}\n\
                 sde_seconds = {:.6}\nsde_push_seconds = {:.6}\nsde_migrate_seconds = {:.6}\n\
                 sde_substeps = {}\nsde_max_substeps = {}\nsde_capped_steps = {}\n\
                 sde_tamed = {}\nsde_particle_steps = {}\nsde_seconds_per_particle_step = {:e}\n",
                r.count,
                r.ids_intact,
                r.wall.as_secs_f64(),
                r.push_wall.as_secs_f64(),
                r.migrate_wall.as_secs_f64(),
                r.substeps,
                r.max_substeps,
                r.capped,
                r.tamed,
                r.particle_steps,
                r.wall.as_secs_f64() / r.particle_steps.max(1) as f64,
            );
        }
        if let Some(q) = self.quality.as_ref().or(self.sde_quality.as_ref()) {
            text += &format!(
                "# {m}: the walk's samples against fresh samples of f0; sde_{m}: the SDE sampler's\n\
                 # against the same set; {m}_floor: two fresh f0 sets of the same size (the sampling\n\
                 # noise); {m}_expected_floor: its expectation\n\
                 metric_points = {}\n{m}_floor = {:e}\n{m}_expected_floor = {:e}\n",
                q.points,
                q.floor,
                q.expected_floor,
                m = q.metric,
            );
        }
        if let Some(q) = &self.quality {
            text += &format!("{} = {:e}\n", q.metric, q.value);
        }
        if let Some(q) = &self.sde_quality {
            text += &format!("sde_{} = {:e}\n", q.metric, q.value);
        }
        text += &self.heldout_toml();
        text
    }

    /// The held-out comparison's lines of `summary.toml` (none without held-out data).
    fn heldout_toml(&self) -> String {
        let mut text = String::new();
        let Some(q) = self.quality.as_ref().or(self.sde_quality.as_ref()) else {
            return text;
        };
        let Some(first) = q.heldout.first() else {
            return text;
        };
        text += &format!(
            "# held-out data: heldout_points points of the held-out set and of a random subset of\n\
             # the training points; per metric: heldout_<metric>_floor: the two sets against each\n\
             # other; heldout_<metric>_to_train / _to_heldout: the walk's samples against each\n\
             # (sde_heldout_*: the SDE sampler's); _gap = to_heldout - to_train, the memorisation\n\
             # gap (0 within noise for a generator independent of the training points)\n\
             heldout_points = {}\n",
            first.points
        );
        for h in &q.heldout {
            text += &format!("heldout_{}_floor = {:e}\n", h.metric, h.floor);
        }
        for (prefix, q) in [("", &self.quality), ("sde_", &self.sde_quality)] {
            for h in q.iter().flat_map(|q| &q.heldout) {
                let m = h.metric;
                text += &format!(
                    "{prefix}heldout_{m}_to_train = {:e}\n\
                     {prefix}heldout_{m}_to_heldout = {:e}\n\
                     {prefix}heldout_{m}_gap = {:e}\n",
                    h.to_train,
                    h.to_heldout,
                    h.gap(),
                );
            }
        }
        text
    }

    /// The closing log lines (rank 0): errors, samplers, sample quality, the files in `dir`
    /// (with the `pictures` drawn).
    pub fn log(&self, dir: &Path, pictures: &[&str]) {
        let ratio = if self.start_error > 0.0 {
            format!(
                " (ratio {:.3e})",
                self.reconstruction_error / self.start_error
            )
        } else {
            String::new()
        };
        log::info!(
            "reverse: {} steps in {} (forward {}); start error ||u(T) - f(T)||_1 = {:.3e}, \
             reconstruction error ||u(0) - f0||_1 = {:.3e}{ratio}",
            self.steps,
            format_duration(self.reverse_seconds),
            format_duration(self.forward_seconds),
            self.start_error,
            self.reconstruction_error,
        );
        let some = |count: u64, what: &str| {
            if count > 0 {
                format!(", {count} {what}")
            } else {
                String::new()
            }
        };
        if let Some(w) = &self.walk {
            log::info!(
                "walk: {} samples in {} ({} sub-steps{})",
                self.samples,
                format_duration(w.wall.as_secs_f64()),
                w.substeps,
                some(w.stuck, "particle-steps stuck"),
            );
        }
        if let Some(r) = &self.sde {
            log::info!(
                "sde: {} particles in {} ({} sub-steps, at most {} per step{}{}; push {}, \
                 migration {}; {:.3e} s per particle-step)",
                self.samples,
                format_duration(r.wall.as_secs_f64()),
                r.substeps,
                r.max_substeps,
                some(r.capped, "steps capped"),
                some(r.tamed, "drift steps clipped"),
                format_duration(r.push_wall.as_secs_f64()),
                format_duration(r.migrate_wall.as_secs_f64()),
                r.wall.as_secs_f64() / (r.particle_steps.max(1)) as f64,
            );
        }
        if let Some(q) = self.quality.as_ref().or(self.sde_quality.as_ref()) {
            let mut values = Vec::new();
            if let Some(w) = &self.quality {
                values.push(format!("walk {:.3e}", w.value));
            }
            if let Some(s) = &self.sde_quality {
                values.push(format!("sde {:.3e}", s.value));
            }
            log::info!(
                "sample quality, {} to fresh f0 samples: {}; noise floor {:.3e} measured / \
                 {:.3e} expected ({} points per set)",
                q.metric,
                values.join(", "),
                q.floor,
                q.expected_floor,
                q.points,
            );
        }
        for (name, q) in [("walk", &self.quality), ("sde", &self.sde_quality)] {
            let Some(q) = q.as_ref().filter(|q| !q.heldout.is_empty()) else {
                continue;
            };
            let parts: Vec<String> = q
                .heldout
                .iter()
                .map(|h| {
                    format!(
                        "{} to held-out {:.3e} / to train {:.3e} (memorisation gap {:+.3e}; \
                         floor train-held-out {:.3e})",
                        h.metric,
                        h.to_heldout,
                        h.to_train,
                        h.gap(),
                        h.floor
                    )
                })
                .collect();
            log::info!(
                "held-out data, {name} ({} points per set): {}",
                q.heldout[0].points,
                parts.join("; ")
            );
        }
        // The fields and the two CSVs: OUTPUT_FILES after config.toml.
        let mut files = super::OUTPUT_FILES[1..7].to_vec();
        if self.walk.is_some() {
            files.extend(["samples.h5", "samples.csv"]);
        }
        if self.sde.is_some() {
            files.extend(["samples_sde.h5", "samples_sde.csv"]);
        }
        files.extend(pictures.iter().copied());
        files.push("summary.toml");
        log::info!("results in {}: {}", dir.display(), files.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn summary() -> Summary {
        let quality = |value: f64| Quality {
            metric: "energy_distance",
            points: 5000,
            value,
            floor: 3.1e-4,
            expected_floor: 2.9e-4,
            heldout: Vec::new(),
        };
        Summary {
            start: StartKind::Asymptotic,
            steps: 1234,
            t_end: 4.0,
            start_error: 0.1 + 0.2,
            reconstruction_error: 1.0 / 3.0 * 1e-7,
            forward_seconds: 12.345_678_9,
            reverse_seconds: 0.5,
            store_seconds: 0.25,
            store_peak_bytes: 98_765_432,
            recomputed_steps: 0,
            samples: 10_000,
            walk: Some(WalkReport {
                stuck: 3,
                substeps: 1234,
                max_substeps: 1,
                wall: Duration::from_millis(1500),
            }),
            quality: Some(quality(std::f64::consts::PI * 1e-4)),
            sampler: SamplerKind::Both,
            sde: Some(SdeReport {
                substeps: 5000,
                max_substeps: 9,
                capped: 0,
                tamed: 2,
                particle_steps: 50_000_000,
                count: 10_000,
                ids_intact: true,
                ..SdeReport::default()
            }),
            sde_quality: Some(quality(f64::MIN_POSITIVE)),
        }
    }

    /// `summary.toml` is valid TOML and gives back every figure: the exact bits of the errors
    /// and qualities, the counts, the wall times to a microsecond.
    #[test]
    fn summary_toml_round_trips() {
        let s = summary();
        let table: toml::Table = toml::from_str(&s.to_toml()).expect("valid TOML");
        let float = |key: &str| table[key].as_float().unwrap_or_else(|| panic!("{key}"));
        let int = |key: &str| table[key].as_integer().unwrap_or_else(|| panic!("{key}"));
        assert_eq!(table["start"].as_str(), Some("asymptotic"));
        assert_eq!(table["sampler"].as_str(), Some("both"));
        assert_eq!(int("steps"), 1234);
        assert_eq!(float("t_end").to_bits(), s.t_end.to_bits());
        assert_eq!(float("start_error_l1").to_bits(), s.start_error.to_bits());
        assert_eq!(
            float("reconstruction_error_l1").to_bits(),
            s.reconstruction_error.to_bits()
        );
        assert!((float("forward_seconds") - s.forward_seconds).abs() <= 5e-7);
        assert_eq!(int("store_peak_bytes"), 98_765_432);
        assert_eq!(int("samples"), 10_000);
        assert_eq!(int("walk_stuck"), 3);
        assert_eq!(float("walk_seconds"), 1.5);
        assert_eq!(table["sde_ids_intact"].as_bool(), Some(true));
        assert_eq!(int("sde_tamed"), 2);
        assert_eq!(int("metric_points"), 5000);
        let q = s.quality.as_ref().unwrap();
        assert_eq!(float("energy_distance").to_bits(), q.value.to_bits());
        assert_eq!(float("energy_distance_floor").to_bits(), q.floor.to_bits());
        assert_eq!(
            float("sde_energy_distance").to_bits(),
            f64::MIN_POSITIVE.to_bits()
        );
    }

    fn without_samples() -> Summary {
        Summary {
            samples: 0,
            walk: None,
            quality: None,
            sde: None,
            sde_quality: None,
            sampler: SamplerKind::Walk,
            ..summary()
        }
    }

    /// A run without samples is read back from its `summary.toml` equal, but for the wall
    /// times (to the microsecond); a run with samples is refused.
    #[test]
    fn summary_without_samples_reads_back() {
        let s = without_samples();
        let back = Summary::from_toml(&s.to_toml()).expect("reads back");
        assert!((back.forward_seconds - s.forward_seconds).abs() <= 5e-7);
        let wall_equal = Summary {
            forward_seconds: s.forward_seconds,
            ..back
        };
        assert_eq!(wall_equal, s);
        let e = Summary::from_toml(&summary().to_toml()).unwrap_err();
        assert!(e.contains("10000 samples"), "{e}");
        let e = Summary::from_toml("steps = 3\n").unwrap_err();
        assert!(e.contains("no `samples`"), "{e}");
    }

    /// With held-out data: the floor once, every sampler's distances and gap, bit for bit.
    #[test]
    fn summary_toml_has_the_heldout_comparison() {
        let mut s = summary();
        let h = |metric, to_train: f64| HeldOutQuality {
            metric,
            points: 250,
            to_train,
            to_heldout: 0.3,
            floor: 0.1 / 3.0,
        };
        s.quality.as_mut().unwrap().heldout = vec![h("energy_distance", 0.25), h("sliced_w1", 0.5)];
        s.sde_quality.as_mut().unwrap().heldout =
            vec![h("energy_distance", 0.125), h("sliced_w1", 1.0)];
        let table: toml::Table = toml::from_str(&s.to_toml()).expect("valid TOML");
        let float = |key: &str| table[key].as_float().unwrap_or_else(|| panic!("{key}"));
        assert_eq!(table["heldout_points"].as_integer(), Some(250));
        assert_eq!(float("heldout_energy_distance_floor"), 0.1 / 3.0);
        assert_eq!(float("heldout_sliced_w1_floor"), 0.1 / 3.0);
        assert_eq!(float("heldout_energy_distance_to_train"), 0.25);
        assert_eq!(float("heldout_energy_distance_gap"), 0.3 - 0.25);
        assert_eq!(float("sde_heldout_energy_distance_to_train"), 0.125);
        assert_eq!(float("sde_heldout_sliced_w1_gap"), 0.3 - 1.0);
        assert_eq!(float("heldout_sliced_w1_to_heldout"), 0.3);
        let plain: toml::Table = toml::from_str(&summary().to_toml()).unwrap();
        assert!(plain.keys().all(|k| !k.contains("heldout")));
    }

    /// Without samples the summary has no sampler keys at all.
    #[test]
    fn summary_without_samples_has_no_sampler_keys() {
        let s = without_samples();
        let table: toml::Table = toml::from_str(&s.to_toml()).unwrap();
        for key in table.keys() {
            assert!(
                !key.starts_with("walk") && !key.starts_with("sde") && !key.contains("energy"),
                "{key}"
            );
        }
        assert_eq!(table["samples"].as_integer(), Some(0));
    }
}
