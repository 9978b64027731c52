//! Verified reading: attributes under `checksum_attrs`, the time against the step sizes, and
//! every dataset against its checksum.

use std::path::{Path, PathBuf};

use super::super::checksum::{checksum_values, field_checksum, hex};
use super::super::hdf5::{self as h5, AttrValue};
use super::{attrs_checksum, CheckpointState, JobKind, Saved, FORMAT_VERSION};
use crate::comm::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::mesh::Mesh;

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
#[cfg(test)]
mod tests {
    use super::*;

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
}
