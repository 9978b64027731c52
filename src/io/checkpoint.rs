//! Crash-safe checkpoints: everything needed to continue a run bit for bit, verifiable on load,
//! readable on any rank count and process grid.
//!
//! One implementation serves every job kind ([`JobKind`]: `forward`, `generate`, `particles`,
//! `filter`). A checkpoint `ckpt_<seq>.h5` (`seq`: the step, or the job's progress counter,
//! [`CheckpointWrite::seq`]) holds the global-shaped state `f`, the exact
//! sequence of step sizes `dt_history`, the time stepper's own state `stepper_state` (the
//! implicit step controller), the job's further datasets ([`Saved`]: global-shaped fields and
//! small arrays, e.g. the trajectory store and the samplers of `generate`), and attributes:
//! the job kind and its `phase`, `t`, `step`, `dt`, `t_end`, the resolved config, the physics
//! fingerprint, the code version, the process grid that wrote it, the grid, the output
//! directory that owns it, the list of its datasets, a checksum of every dataset, and
//! `checksum_attrs`, a hash of every other attribute (name, type and bits): a changed `t`,
//! `physics` or `n` is detected as corruption, never read as a real change. On load, `t` must
//! also be the march's sum of `dt_history` (in order; the last step may end exactly at
//! `t_end`) and `dt_history` must have `step` entries. It is written under a temporary name, closed, fsync'ed and renamed (see
//! [`super::hdf5::write_global`]); then the `latest` pointer is replaced atomically the same way,
//! and checkpoints beyond the newest `keep` are deleted.
//!
//! Checksums are those of [`super::checksum`]: order-independent, so a checkpoint written on 4
//! ranks verifies on 3 or on 1.
//!
//! # Restart selection ([`resume`])
//!
//! `--restart PATH` loads that file; any defect is bad input. `--restart auto` tries the
//! checkpoints of the directory newest first ([`select`]): an unreadable, truncated or
//! checksum-failing file is skipped with its reason logged, and the next older one tried; a
//! valid checkpoint of other physics, or of another job kind, ends the search with a refusal
//! that names the keys (or both kinds): an older checkpoint is never silently used instead; no
//! checkpoint at all starts from `t = 0`; checkpoints that are all invalid are an error.
//!
//! # Ownership ([`check_owner`], [`clear`])
//!
//! Every checkpoint names the output directory of its run (attribute `output_dir`,
//! canonical). A run refuses a checkpoint directory holding checkpoints of another run, and
//! `--overwrite` deletes only checkpoint files: inside the output directory by name, outside
//! it only those whose `output_dir` is this run's.

use std::path::{Path, PathBuf};

use super::checksum::{checksum_values, field_checksum, hex};
use super::hdf5::{self as h5, AttrValue, BlockData, IoMode, SmallData};
use crate::comm::Comm;
use crate::decomp::{Block, ProcessGrid};
use crate::field::Field;
use crate::mesh::Mesh;
use crate::names::named_enum;

/// Format version written to every checkpoint (attribute `format`).
pub const FORMAT_VERSION: u64 = 2;

/// Name of the pointer file holding the newest checkpoint's file name.
pub const LATEST: &str = "latest";

named_enum! {
    /// The kind of job a checkpoint continues (attribute `job`).
    pub enum JobKind {
        /// `nlfp forward` (and every run of `nlfp study`).
        Forward = "forward",
        /// `nlfp generate` (phases `forward` and `reverse`).
        Generate = "generate",
        /// `nlfp particles`.
        Particles = "particles",
        /// `nlfp filter`.
        Filter = "filter",
    }
}

/// What a checkpoint restores besides the field.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointState {
    /// The job kind that wrote it.
    pub job: JobKind,
    /// The job's phase (`march` for `forward`; `forward` or `reverse` for `generate`).
    pub phase: String,
    /// Simulated time.
    pub t: f64,
    /// The final time the march was heading for (its last step may end exactly there).
    pub t_end: f64,
    /// Steps since `t = 0`.
    pub step: u64,
    /// Every step size since `t = 0`.
    pub dt_history: Vec<f64>,
    /// The resolved config that wrote it (TOML text).
    pub config: String,
    /// Its physics fingerprint (`key = value` lines).
    pub physics: String,
    /// The time stepper's own state (empty for explicit steppers).
    pub stepper_state: Vec<f64>,
}

/// A job's datasets beyond `f`, `dt_history` and `stepper_state`: global-shaped fields (this
/// rank's block of each) and small arrays (the same values on every rank).
#[derive(Default)]
pub struct Saved {
    /// Global-shaped fields, by dataset name.
    pub fields: Vec<(String, Field)>,
    /// Small arrays, by dataset name.
    pub small: Vec<(String, Vec<f64>)>,
}

impl Saved {
    /// Appends everything of `other`.
    pub fn extend(&mut self, other: Saved) {
        self.fields.extend(other.fields);
        self.small.extend(other.small);
    }

    /// Bytes of data this rank contributes (fields: its blocks; small arrays: all of them).
    pub fn bytes(&self) -> usize {
        let fields: usize = self
            .fields
            .iter()
            .map(|(_, f)| 8 * f.interior().len())
            .sum();
        let small: usize = self.small.iter().map(|(_, v)| 8 * v.len()).sum();
        fields + small
    }
}

/// File name of the checkpoint of `step`.
pub fn file_name(step: u64) -> String {
    super::step_file(PREFIX, step)
}

/// File-name prefix of a checkpoint: `ckpt_<step:012>.h5`.
pub const PREFIX: &str = "ckpt_";

/// Everything a checkpoint write needs.
pub struct CheckpointWrite<'a> {
    /// Directory of the checkpoints (created if missing).
    pub dir: &'a Path,
    /// The output directory of the run (attribute `output_dir`, canonical).
    pub owner: &'a Path,
    /// Global grid.
    pub mesh: &'a Mesh,
    /// Process grid that writes.
    pub grid: ProcessGrid,
    /// This rank's block.
    pub block: &'a Block,
    /// The state.
    pub f: &'a Field,
    /// Job, phase, time, step, dt history, config, physics.
    pub state: &'a CheckpointState,
    /// The checkpoint's place in the job's progress, its file-name index (the step for a
    /// single march; for `generate`, `N + (N - n)` at reverse step `n`): newer is larger.
    pub seq: u64,
    /// The job's further datasets.
    pub saved: &'a Saved,
    /// How many checkpoints to keep.
    pub keep: usize,
    /// MPI-IO mode.
    pub mode: IoMode,
}

/// The canonical form of `dir`: absolute, `.` and `..` resolved (lexically), symbolic links
/// resolved when it exists.
pub fn canonical(dir: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = match dir.is_absolute() {
        true => dir.to_path_buf(),
        false => std::env::current_dir().unwrap_or_default().join(dir),
    };
    let mut out = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    std::fs::canonicalize(&out).unwrap_or(out)
}

/// The text the attribute checksum hashes: `name:type=value` lines, sorted, floats by bits.
fn attrs_text(attrs: &[(String, AttrValue)]) -> String {
    let mut lines: Vec<String> = attrs
        .iter()
        .filter(|(name, _)| name != "checksum_attrs")
        .map(|(name, v)| match v {
            AttrValue::F64(x) => format!("{name}:f64={:016x}", x.to_bits()),
            AttrValue::U64(x) => format!("{name}:u64={x}"),
            AttrValue::Str(s) => format!("{name}:str={s}"),
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

/// A 64-bit hash of bytes (splitmix over little-endian words, length-seeded).
pub fn bytes_hash(bytes: &[u8]) -> u64 {
    use crate::random::mix;
    bytes
        .chunks(8)
        .enumerate()
        .fold(mix(bytes.len() as u64), |acc, (i, chunk)| {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            mix(acc ^ mix(i as u64 ^ u64::from_le_bytes(word)))
        })
}

/// The attribute checksum of `attrs` (every attribute but `checksum_attrs`).
pub fn attrs_checksum(attrs: &[(String, AttrValue)]) -> String {
    hex(bytes_hash(attrs_text(attrs).as_bytes()))
}

/// Writes a checkpoint (collective), updates `latest`, prunes old ones. Returns its path.
pub fn write(comm: &Comm, w: &CheckpointWrite) -> Result<PathBuf, String> {
    comm.on_root(|| {
        std::fs::create_dir_all(w.dir).map_err(|e| {
            format!(
                "cannot create checkpoint directory {}: {e}",
                w.dir.display()
            )
        })
    })?;
    let name = file_name(w.seq);
    let path = w.dir.join(&name);
    let s = w.state;
    let mut small: Vec<(&str, &[f64])> = vec![
        ("dt_history", &s.dt_history),
        ("stepper_state", &s.stepper_state),
    ];
    small.extend(
        w.saved
            .small
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice())),
    );
    let mut fields: Vec<(&str, &Field)> = vec![("f", w.f)];
    fields.extend(w.saved.fields.iter().map(|(n, f)| (n.as_str(), f)));
    let mut datasets: Vec<String> = fields.iter().map(|(n, _)| format!("{n}:field")).collect();
    datasets.extend(small.iter().map(|(n, _)| format!("{n}:small")));
    let mut attrs: Vec<(String, AttrValue)> = vec![
        ("kind".into(), AttrValue::Str("checkpoint".into())),
        ("format".into(), AttrValue::U64(FORMAT_VERSION)),
        ("job".into(), AttrValue::Str(s.job.name().into())),
        ("phase".into(), AttrValue::Str(s.phase.clone())),
        ("t".into(), AttrValue::F64(s.t)),
        ("t_end".into(), AttrValue::F64(s.t_end)),
        ("step".into(), AttrValue::U64(s.step)),
        (
            "dt".into(),
            AttrValue::F64(s.dt_history.last().copied().unwrap_or(0.0)),
        ),
        ("config".into(), AttrValue::Str(s.config.clone())),
        ("physics".into(), AttrValue::Str(s.physics.clone())),
        (
            "code_version".into(),
            AttrValue::Str(super::CODE_VERSION.into()),
        ),
        (
            "process_grid".into(),
            AttrValue::Str(format!("{}x{}", w.grid.px, w.grid.py)),
        ),
        ("dim".into(), AttrValue::U64(w.mesh.dim as u64)),
        ("n".into(), AttrValue::U64(w.mesh.n as u64)),
        ("half_width".into(), AttrValue::F64(w.mesh.half_width)),
        (
            "output_dir".into(),
            AttrValue::Str(canonical(w.owner).to_string_lossy().into_owned()),
        ),
        ("datasets".into(), AttrValue::Str(datasets.join(","))),
    ];
    for (n, f) in &fields {
        let sum = field_checksum(comm, w.mesh, w.block, f);
        attrs.push((format!("checksum_{n}"), AttrValue::Str(hex(sum))));
    }
    for (n, v) in &small {
        attrs.push((
            format!("checksum_{n}"),
            AttrValue::Str(hex(checksum_values(v))),
        ));
    }
    let sum = attrs_checksum(&attrs);
    attrs.push(("checksum_attrs".into(), AttrValue::Str(sum)));
    let attr_refs: Vec<(&str, AttrValue)> =
        attrs.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let blocks: Vec<BlockData> = fields
        .iter()
        .map(|(name, field)| BlockData { name, field })
        .collect();
    let small: Vec<SmallData> = small
        .iter()
        .map(|(name, values)| SmallData { name, values })
        .collect();
    h5::write_global(
        comm, &path, w.mesh, w.block, &blocks, &small, &attr_refs, w.mode,
    )?;
    comm.on_root(|| update_latest(w.dir, &name).and_then(|_| prune(w.dir, w.keep)))?;
    Ok(path)
}

/// Replaces `dir/latest` atomically (see [`super::replace_file`]).
fn update_latest(dir: &Path, name: &str) -> Result<(), String> {
    super::replace_file(&dir.join(LATEST), format!("{name}\n").as_bytes())
}

/// Deletes all but the newest `keep` checkpoints.
fn prune(dir: &Path, keep: usize) -> Result<(), String> {
    for (_, path) in list(dir).into_iter().skip(keep) {
        std::fs::remove_file(&path)
            .map_err(|e| format!("cannot delete old checkpoint {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Checkpoints in `dir`, newest (largest step) first.
pub fn list(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found = super::list_step_files(dir, PREFIX);
    found.reverse();
    found
}

/// The file named by `dir/latest`, if any.
pub fn latest_pointer(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(LATEST))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Whether `dir` lies inside `out` (both canonical when they exist).
pub fn inside(dir: &Path, out: &Path) -> bool {
    canonical(dir).starts_with(canonical(out))
}

/// Refuses a checkpoint directory `dir` outside the output directory `out` that holds
/// checkpoints of a run other than the one writing to `out` (rank 0's work; cheap: attributes
/// only). Inside `out` every checkpoint is the run's (a copied or moved run directory goes on).
pub fn check_owner(dir: &Path, out: &Path) -> Result<(), String> {
    if inside(dir, out) {
        return Ok(());
    }
    // Through `out/..` while `out` does not exist yet: list the resolved directory.
    let dir = &canonical(dir);
    let ours = canonical(out).to_string_lossy().into_owned();
    for (_, path) in list(dir) {
        if let Ok(owner) = h5::read_attr_str(&path, "output_dir") {
            if owner != ours {
                return Err(format!(
                    "checkpoint directory {} holds {} of the run in {owner}, not of this run \
                     ({ours}): give each run its own checkpoint.dir",
                    dir.display(),
                    path.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
        }
    }
    Ok(())
}

/// Deletes the checkpoints of `dir` a fresh run replaces (rank 0's work): inside the output
/// directory `out`, every `ckpt_<step>.h5` and `latest`; outside it, only the checkpoints whose
/// `output_dir` attribute is `out` (and `latest`, when it names one of them).
pub fn clear(dir: &Path, out: &Path) {
    let within = inside(dir, out);
    let dir = &canonical(dir);
    let ours = canonical(out).to_string_lossy().into_owned();
    let latest = latest_pointer(dir);
    for (_, path) in list(dir) {
        let owned =
            within || h5::read_attr_str(&path, "output_dir").is_ok_and(|owner| owner == ours);
        if owned {
            let _ = std::fs::remove_file(&path);
            if latest.as_deref() == path.file_name().and_then(|n| n.to_str()) {
                let _ = std::fs::remove_file(dir.join(LATEST));
            }
        }
    }
    if within {
        let _ = std::fs::remove_file(dir.join(LATEST));
    }
}

/// The type of an attribute of a checkpoint.
#[derive(Clone, Copy)]
enum Ty {
    F,
    U,
    S,
}

/// The fixed attributes of a checkpoint and their types.
const ATTRS: [(&str, Ty); 17] = [
    ("kind", Ty::S),
    ("format", Ty::U),
    ("job", Ty::S),
    ("phase", Ty::S),
    ("t", Ty::F),
    ("t_end", Ty::F),
    ("step", Ty::U),
    ("dt", Ty::F),
    ("config", Ty::S),
    ("physics", Ty::S),
    ("code_version", Ty::S),
    ("process_grid", Ty::S),
    ("dim", Ty::U),
    ("n", Ty::U),
    ("half_width", Ty::F),
    ("output_dir", Ty::S),
    ("datasets", Ty::S),
];

/// A checkpoint's attributes, verified: read back by name.
struct Attrs(Vec<(String, AttrValue)>);

impl Attrs {
    fn get(&self, name: &str) -> Option<&AttrValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    fn str(&self, name: &str) -> String {
        match self.get(name) {
            Some(AttrValue::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }
    fn f64(&self, name: &str) -> f64 {
        match self.get(name) {
            Some(AttrValue::F64(x)) => *x,
            _ => f64::NAN,
        }
    }
    fn u64(&self, name: &str) -> u64 {
        match self.get(name) {
            Some(AttrValue::U64(x)) => *x,
            _ => 0,
        }
    }
}

/// A dataset of a checkpoint: its name and whether it is global-shaped (else small).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetEntry {
    /// Dataset name.
    pub name: String,
    /// Global-shaped (`field`) or a small array.
    pub field: bool,
}

fn parse_datasets(path: &Path, text: &str) -> Result<Vec<DatasetEntry>, String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|entry| match entry.split_once(':') {
            Some((name, "field")) => Ok(DatasetEntry {
                name: name.into(),
                field: true,
            }),
            Some((name, "small")) => Ok(DatasetEntry {
                name: name.into(),
                field: false,
            }),
            _ => Err(format!(
                "{}: attribute datasets: bad entry {entry:?}",
                path.display()
            )),
        })
        .collect()
}

/// Reads every attribute of a checkpoint and verifies `checksum_attrs` (serial).
fn read_attrs(path: &Path) -> Result<(Attrs, Vec<DatasetEntry>), String> {
    let kind = h5::read_attr_str(path, "kind")?;
    if kind != "checkpoint" {
        return Err(format!(
            "{}: not a checkpoint (kind = {kind})",
            path.display()
        ));
    }
    let format = h5::read_attr_u64(path, "format")?;
    if format != FORMAT_VERSION {
        return Err(format!(
            "{}: checkpoint format {format}, this build reads {FORMAT_VERSION}",
            path.display()
        ));
    }
    let read = |name: &str, ty: Ty| -> Result<AttrValue, String> {
        Ok(match ty {
            Ty::F => AttrValue::F64(h5::read_attr_f64(path, name)?),
            Ty::U => AttrValue::U64(h5::read_attr_u64(path, name)?),
            Ty::S => AttrValue::Str(h5::read_attr_str(path, name)?),
        })
    };
    let mut attrs = Vec::new();
    for (name, ty) in ATTRS {
        attrs.push((name.to_string(), read(name, ty)?));
    }
    let datasets = Attrs(attrs.clone()).str("datasets");
    let datasets = parse_datasets(path, &datasets)?;
    for d in &datasets {
        let name = format!("checksum_{}", d.name);
        attrs.push((name.clone(), read(&name, Ty::S)?));
    }
    let want = h5::read_attr_str(path, "checksum_attrs")?;
    let got = attrs_checksum(&attrs);
    if want != got {
        return Err(format!(
            "{}: the attributes fail their checksum (stored {want}, computed {got})",
            path.display()
        ));
    }
    Ok((Attrs(attrs), datasets))
}

/// `t` as the forward march reaches it from `dt_history`: `t += dt` in order, except that a
/// last step reaching `t_end` ends exactly there. `None` when the stored `t` is neither.
pub fn check_time(t: f64, t_end: f64, dt_history: &[f64]) -> bool {
    let Some((&last, before)) = dt_history.split_last() else {
        return t == 0.0;
    };
    let prefix = before.iter().fold(0.0, |t, dt| t + dt);
    t == prefix + last || (t == t_end && last >= t_end - prefix)
}

/// Reads and verifies the attributes and the small datasets `dt_history` and `stepper_state`
/// of a checkpoint (any rank, serial; cheap).
pub fn read_state(path: &Path) -> Result<CheckpointState, String> {
    read_header(path).map(|(state, _)| state)
}

/// [`read_state`] and the list of the checkpoint's datasets.
pub fn read_header(path: &Path) -> Result<(CheckpointState, Vec<DatasetEntry>), String> {
    let (attrs, datasets) = read_attrs(path)?;
    let small = |name: &str| -> Result<Vec<f64>, String> {
        let values = h5::read_small(path, name)?;
        verify_small(path, &attrs, name, &values)?;
        Ok(values)
    };
    let dt_history = small("dt_history")?;
    let step = attrs.u64("step");
    if dt_history.len() as u64 != step {
        return Err(format!(
            "{}: dt_history has {} entries for step {step}",
            path.display(),
            dt_history.len()
        ));
    }
    let (t, t_end) = (attrs.f64("t"), attrs.f64("t_end"));
    if !check_time(t, t_end, &dt_history) {
        return Err(format!(
            "{}: t = {t:e} is not the sum of the {} stored step sizes",
            path.display(),
            dt_history.len()
        ));
    }
    let job = attrs.str("job");
    let job = job
        .parse::<JobKind>()
        .map_err(|e| format!("{}: attribute job: {e}", path.display()))?;
    let state = CheckpointState {
        job,
        phase: attrs.str("phase"),
        t,
        t_end,
        step,
        dt_history,
        config: attrs.str("config"),
        physics: attrs.str("physics"),
        stepper_state: small("stepper_state")?,
    };
    Ok((state, datasets))
}

fn verify_small(path: &Path, attrs: &Attrs, name: &str, values: &[f64]) -> Result<(), String> {
    let want = attrs.str(&format!("checksum_{name}"));
    let got = hex(checksum_values(values));
    if want != got {
        return Err(format!(
            "{}: dataset {name} fails its checksum (stored {want}, computed {got})",
            path.display()
        ));
    }
    Ok(())
}

/// Verifies every dataset of the checkpoint serially (`nlfp info`): one line per dataset.
pub fn verify_serial(path: &Path) -> Result<Vec<String>, String> {
    let (attrs, datasets) = read_attrs(path)?;
    let mut lines = Vec::new();
    for d in &datasets {
        let values = h5::read_raw(path, &d.name)?;
        let want = attrs.str(&format!("checksum_{}", d.name));
        let got = hex(checksum_values(&values));
        if want != got {
            return Err(format!(
                "{}: dataset {} fails its checksum (stored {want}, computed {got})",
                path.display(),
                d.name
            ));
        }
        lines.push(format!(
            "{} ({}, {} values, {} bytes)",
            d.name,
            if d.field { "field" } else { "array" },
            values.len(),
            8 * values.len()
        ));
    }
    Ok(lines)
}

/// A verified checkpoint, loaded: its state, `f` and its further datasets (this rank's blocks).
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// Job, phase, time, step, dt history, config, physics.
    pub state: CheckpointState,
    /// `f` (this rank's block).
    pub f: Field,
    /// The further datasets.
    pub saved: Saved,
}

impl Loaded {
    /// Takes the field `name` out of the checkpoint.
    pub fn take_field(&mut self, name: &str) -> Result<Field, String> {
        let k = self
            .saved
            .fields
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| format!("{}: no dataset {name}", self.path.display()))?;
        Ok(self.saved.fields.swap_remove(k).1)
    }

    /// The small array `name`.
    pub fn small(&self, name: &str) -> Result<&[f64], String> {
        self.saved
            .small
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| format!("{}: no dataset {name}", self.path.display()))
    }

    /// The names of the fields starting with `prefix`.
    pub fn field_names(&self, prefix: &str) -> Vec<String> {
        self.saved
            .fields
            .iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// Reads this rank's block of the global dataset `name` into `into` and verifies the checksum
/// of the whole dataset (collective). The error is the same on every rank.
pub fn read_dataset(
    comm: &Comm,
    path: &Path,
    name: &str,
    mesh: &Mesh,
    block: &Block,
    into: &mut Field,
) -> Result<(), String> {
    let local = h5::read_block(comm, path, name, mesh, block, into);
    if comm.any(local.is_err()) {
        return Err(local
            .err()
            .unwrap_or_else(|| format!("{}: another rank failed to read {name}", path.display())));
    }
    let got = hex(field_checksum(comm, mesh, block, into));
    let want = h5::read_attr_str(path, &format!("checksum_{name}"))?;
    if want != got {
        return Err(format!(
            "{}: dataset {name} fails its checksum (stored {want}, computed {got})",
            path.display()
        ));
    }
    Ok(())
}

/// Reads this rank's block of the checkpoint's `f` into `into` and verifies the checksum of the
/// whole dataset (collective). The error is the same on every rank.
pub fn read_field(
    comm: &Comm,
    path: &Path,
    mesh: &Mesh,
    block: &Block,
    into: &mut Field,
) -> Result<(), String> {
    read_dataset(comm, path, "f", mesh, block, into)
}

/// Physics keys whose values differ between two fingerprints (`key = value` lines), with both
/// values, for a refusal message.
pub fn physics_differences(stored: &str, current: &str) -> Vec<String> {
    let parse = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (k, v) = l.split_once(" = ")?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect()
    };
    let (a, b) = (parse(stored), parse(current));
    let mut keys: Vec<&String> = a.iter().chain(b.iter()).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let get = |list: &[(String, String)], k: &str| {
        list.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    keys.into_iter()
        .filter_map(|k| {
            let (old, new) = (get(&a, k), get(&b, k));
            (old != new).then(|| {
                format!(
                    "{k} (checkpoint: {}, now: {})",
                    old.unwrap_or_else(|| "unset".into()),
                    new.unwrap_or_else(|| "unset".into())
                )
            })
        })
        .collect()
}

/// Why a checkpoint cannot be resumed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The checkpoint is fine but belongs to other physics: never fall back past it.
    Refused(String),
    /// Unreadable, truncated, or failing a checksum.
    Invalid(String),
}

/// Verifies the checkpoint `path` against the job kind `job` and the current `physics`
/// fingerprint and loads it: `f` and every further dataset (this rank's blocks), every checksum
/// verified. Collective; the verdict is the same on every rank.
pub fn try_resume(
    comm: &Comm,
    path: &Path,
    job: JobKind,
    physics: &str,
    mesh: &Mesh,
    block: &Block,
) -> Result<Loaded, Rejection> {
    let local = read_header(path);
    if comm.any(local.is_err()) {
        return Err(Rejection::Invalid(local.err().unwrap_or_else(|| {
            format!("{}: another rank could not read it", path.display())
        })));
    }
    let (state, datasets) = local.map_err(Rejection::Invalid)?;
    if state.job != job {
        return Err(Rejection::Refused(format!(
            "{}: restart refused: a checkpoint of a `{}` job cannot continue a `{}` job",
            path.display(),
            state.job.name(),
            job.name()
        )));
    }
    let differences = physics_differences(&state.physics, physics);
    if !differences.is_empty() {
        return Err(Rejection::Refused(format!(
            "{}: restart refused: the physics differs from the checkpoint's in {} \
             (only t_end, output cadence, checkpoint settings and the rank count may change)",
            path.display(),
            differences.join(", ")
        )));
    }
    let mut f = Field::zeros(block.ny, block.nx);
    read_field(comm, path, mesh, block, &mut f).map_err(Rejection::Invalid)?;
    let mut saved = Saved::default();
    for d in datasets {
        if d.name == "f" || d.name == "dt_history" || d.name == "stepper_state" {
            continue;
        }
        if d.field {
            let mut into = Field::zeros(block.ny, block.nx);
            read_dataset(comm, path, &d.name, mesh, block, &mut into)
                .map_err(Rejection::Invalid)?;
            saved.fields.push((d.name, into));
        } else {
            let local = h5::read_small(path, &d.name).and_then(|v| {
                let want = h5::read_attr_str(path, &format!("checksum_{}", d.name))?;
                let got = hex(checksum_values(&v));
                if want == got {
                    Ok(v)
                } else {
                    Err(format!(
                        "{}: dataset {} fails its checksum (stored {want}, computed {got})",
                        path.display(),
                        d.name
                    ))
                }
            });
            if comm.any(local.is_err()) {
                return Err(Rejection::Invalid(local.err().unwrap_or_else(|| {
                    format!("{}: another rank could not read {}", path.display(), d.name)
                })));
            }
            saved
                .small
                .push((d.name, local.map_err(Rejection::Invalid)?));
        }
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        state,
        f,
        saved,
    })
}

/// What `--restart auto` found among the candidates.
#[derive(Debug, PartialEq)]
pub enum Selection<T> {
    /// No candidate at all: start from `t = 0`.
    Empty,
    /// The newest valid candidate and what loading it gave.
    Found(String, T),
    /// A valid candidate of other physics (the refusal): stop.
    Refused(String),
    /// Every candidate is invalid.
    NoneValid,
}

/// Tries `candidates` (newest first) with `attempt` until one loads ([`Selection::Found`]) or
/// one is refused; invalid ones are skipped. Returns the choice and the skipped candidates with
/// their reasons, in the order tried.
pub fn select<T>(
    candidates: &[String],
    mut attempt: impl FnMut(&str) -> Result<T, Rejection>,
) -> (Selection<T>, Vec<(String, String)>) {
    let mut skipped = Vec::new();
    if candidates.is_empty() {
        return (Selection::Empty, skipped);
    }
    for candidate in candidates {
        match attempt(candidate) {
            Ok(value) => return (Selection::Found(candidate.clone(), value), skipped),
            Err(Rejection::Refused(msg)) => return (Selection::Refused(msg), skipped),
            Err(Rejection::Invalid(msg)) => skipped.push((candidate.clone(), msg)),
        }
    }
    (Selection::NoneValid, skipped)
}

/// `--restart auto|PATH` (`request`) for a job of kind `job` whose checkpoints go to `dir`:
/// the loaded checkpoint ([`Loaded`]: state, `f` and further datasets, this rank's blocks), or
/// `None` (start from `t = 0`) when `auto` finds no checkpoint (module doc). Collective: rank 0
/// lists the directory, every rank tries the same files in the same order. Errors are bad
/// input, the same on every rank.
#[allow(clippy::too_many_arguments)]
pub fn resume(
    comm: &Comm,
    request: &str,
    dir: &Path,
    job: JobKind,
    physics: &str,
    mesh: &Mesh,
    block: &Block,
) -> Result<Option<Loaded>, String> {
    let attempt = |path: &str| try_resume(comm, Path::new(path), job, physics, mesh, block);
    if request != "auto" {
        return attempt(request).map(Some).map_err(|e| match e {
            Rejection::Refused(msg) | Rejection::Invalid(msg) => msg,
        });
    }
    let listing = if comm.is_root() {
        list(dir)
            .into_iter()
            .map(|(_, p)| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        String::new()
    };
    let listing = String::from_utf8(comm.broadcast_bytes(listing.into_bytes())).unwrap_or_default();
    let candidates: Vec<String> = listing
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if let (true, false, Some(latest)) =
        (comm.is_root(), candidates.is_empty(), latest_pointer(dir))
    {
        log::debug!("restart auto: latest pointer names {latest}");
    }
    let (selection, skipped) = select(&candidates, attempt);
    if comm.is_root() {
        for (candidate, msg) in &skipped {
            log::warn!("restart auto: skipping {candidate}: {msg}");
        }
    }
    match selection {
        Selection::Empty => {
            if comm.is_root() {
                log::info!(
                    "restart auto: no checkpoint in {}; starting from t = 0",
                    dir.display()
                );
            }
            Ok(None)
        }
        Selection::Found(path, loaded) => {
            if comm.is_root() {
                log::info!(
                    "restart auto: resuming from {path} ({} phase, step {}, t = {:e})",
                    loaded.state.phase,
                    loaded.state.step,
                    loaded.state.t
                );
            }
            Ok(Some(loaded))
        }
        Selection::Refused(msg) => Err(msg),
        Selection::NoneValid => Err(format!(
            "restart auto: none of the {} checkpoints in {} is valid (see the warnings above); \
             start afresh with --overwrite instead",
            candidates.len(),
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_of_a_directory_not_made_yet_is_outside_it() {
        let root = std::env::temp_dir().join(format!("nlfp_ckpt_inside_{}", std::process::id()));
        let out = root.join("run");
        assert!(!inside(&out.join("../shared"), &out));
        assert!(!inside(&out.join(".."), &out));
        assert!(inside(&out.join("checkpoints"), &out));
        assert!(inside(&out.join("./a/../b"), &out));
        assert_eq!(canonical(&out.join("x/..")), canonical(&out));
    }

    #[test]
    fn time_must_be_the_marchs_sum_of_the_step_sizes() {
        let dts = [0.1, 0.1, 0.1];
        let t = 0.1 + 0.1 + 0.1;
        assert!(check_time(t, 1.0, &dts));
        assert!(!check_time(f64::from_bits(t.to_bits() + 1), 1.0, &dts));
        assert!(!check_time(f64::from_bits(t.to_bits() - 1), 1.0, &dts));
        // The last step ends exactly at t_end.
        assert!(check_time(0.25, 0.25, &dts));
        assert!(!check_time(0.25, 0.3, &dts));
        assert!(check_time(0.0, 1.0, &[]));
        assert!(!check_time(1e-300, 1.0, &[]));
    }

    #[test]
    fn the_attribute_checksum_sees_every_attribute() {
        let attrs = vec![
            ("t".to_string(), AttrValue::F64(0.5)),
            (
                "physics".to_string(),
                AttrValue::Str("model.gamma = 2.0\n".into()),
            ),
            ("n".to_string(), AttrValue::U64(31)),
        ];
        let base = attrs_checksum(&attrs);
        let mut t = attrs.clone();
        t[0].1 = AttrValue::F64(f64::from_bits(0.5f64.to_bits() + 1));
        let mut phys = attrs.clone();
        phys[1].1 = AttrValue::Str("model.gamma = 3.0\n".into());
        let mut n = attrs.clone();
        n[2].1 = AttrValue::U64(32);
        for changed in [t, phys, n] {
            assert_ne!(attrs_checksum(&changed), base);
        }
        // Order-independent; the stored checksum itself is not hashed.
        let mut reordered: Vec<_> = attrs.iter().rev().cloned().collect();
        reordered.push(("checksum_attrs".into(), AttrValue::Str(base.clone())));
        assert_eq!(attrs_checksum(&reordered), base);
    }

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(file_name(42), "ckpt_000000000042.h5");
        let step_of = |name: &str| super::super::step_of_file(PREFIX, name);
        assert_eq!(step_of(&file_name(42)), Some(42));
        assert_eq!(step_of("ckpt_x.h5"), None);
        assert_eq!(step_of("latest"), None);
    }

    #[test]
    fn checkpoints_are_listed_newest_first() {
        let dir = std::env::temp_dir().join(format!("nlfp_ckpt_list_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for step in [60u64, 90, 30] {
            std::fs::write(dir.join(file_name(step)), b"").unwrap();
        }
        std::fs::write(dir.join(LATEST), b"ckpt_000000000090.h5\n").unwrap();
        std::fs::write(dir.join("snap_000000000100.h5"), b"").unwrap();
        let steps: Vec<u64> = list(&dir).into_iter().map(|e| e.0).collect();
        assert_eq!(steps, [90, 60, 30]);
        assert_eq!(
            latest_pointer(&dir).as_deref(),
            Some("ckpt_000000000090.h5")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn selection_takes_the_newest_valid_and_reports_the_skipped() {
        let candidates = names(&["c90", "c60", "c30"]);
        let mut tried = Vec::new();
        let (choice, skipped) = select(&candidates, |c| {
            tried.push(c.to_string());
            match c {
                "c90" => Err(Rejection::Invalid("truncated".into())),
                _ => Ok(c.len()),
            }
        });
        assert_eq!(choice, Selection::Found("c60".into(), 3));
        assert_eq!(skipped, vec![("c90".to_string(), "truncated".to_string())]);
        // Older candidates than the one found are never read.
        assert_eq!(tried, ["c90", "c60"]);
    }

    #[test]
    fn selection_stops_at_a_refusal_and_never_falls_back_past_it() {
        let candidates = names(&["c90", "c60", "c30"]);
        let (choice, skipped) = select(&candidates, |c| match c {
            "c90" => Err(Rejection::Invalid("checksum".into())),
            "c60" => Err(Rejection::Refused("model.gamma differs".into())),
            _ => Ok(()),
        });
        assert_eq!(choice, Selection::Refused("model.gamma differs".into()));
        assert_eq!(skipped.len(), 1);
    }

    #[test]
    fn selection_of_nothing_and_of_only_invalid_ones() {
        let (choice, skipped) = select(&[], |_| Ok(()));
        assert_eq!(choice, Selection::Empty);
        assert!(skipped.is_empty());
        let candidates = names(&["c2", "c1"]);
        let (choice, skipped) = select(&candidates, |c| {
            Err::<(), _>(Rejection::Invalid(format!("{c} bad")))
        });
        assert_eq!(choice, Selection::NoneValid);
        assert_eq!(
            skipped,
            vec![
                ("c2".to_string(), "c2 bad".to_string()),
                ("c1".to_string(), "c1 bad".to_string())
            ]
        );
    }

    #[test]
    fn physics_differences_name_the_keys() {
        let a = "# nlfp physics v1\nmodel.gamma = 2.0\ngrid.n = 31\n";
        let b = "# nlfp physics v1\nmodel.gamma = 2.5\ngrid.n = 31\n";
        assert_eq!(
            physics_differences(a, b),
            vec!["model.gamma (checkpoint: 2.0, now: 2.5)".to_string()]
        );
        assert!(physics_differences(a, a).is_empty());
    }
}
