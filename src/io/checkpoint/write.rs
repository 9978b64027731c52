//! The collective checkpoint write: datasets and attributes under checksums, written
//! atomically, then `latest` replaced and old checkpoints pruned.

use std::path::{Path, PathBuf};

use super::super::checksum::{checksum_values, field_checksum, hex};
use super::super::hdf5::{self as h5, AttrValue, BlockData, IoMode, SmallData};
use super::{canonical, file_name, list, CheckpointState, Saved, FORMAT_VERSION, LATEST};
use crate::comm::Comm;
use crate::field::Field;
use crate::layout::Layout;

/// Everything a checkpoint write needs.
pub struct CheckpointWrite<'a> {
    /// Directory of the checkpoints (created if missing).
    pub dir: &'a Path,
    /// The output directory of the run (attribute `output_dir`, canonical).
    pub owner: &'a Path,
    /// Mesh, process grid that writes, and this rank's block.
    pub layout: &'a Layout,
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
            AttrValue::Str(super::super::CODE_VERSION.into()),
        ),
        (
            "process_grid".into(),
            AttrValue::Str(w.layout.grid.label_in(w.layout.dim())),
        ),
        ("dim".into(), AttrValue::U64(w.layout.mesh.dim as u64)),
        ("n".into(), AttrValue::U64(w.layout.mesh.n as u64)),
        (
            "half_width".into(),
            AttrValue::F64(w.layout.mesh.half_width),
        ),
        (
            "output_dir".into(),
            AttrValue::Str(canonical(w.owner).to_string_lossy().into_owned()),
        ),
        ("datasets".into(), AttrValue::Str(datasets.join(","))),
    ];
    for (n, f) in &fields {
        let sum = field_checksum(comm, &w.layout.mesh, &w.layout.block, f);
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
    h5::write_global(comm, &path, w.layout, &blocks, &small, &attr_refs, w.mode)?;
    comm.on_root(|| update_latest(w.dir, &name).and_then(|_| prune(w.dir, w.keep)))?;
    Ok(path)
}

/// Replaces `dir/latest` atomically (see [`super::super::replace_file`]).
fn update_latest(dir: &Path, name: &str) -> Result<(), String> {
    super::super::replace_file(&dir.join(LATEST), format!("{name}\n").as_bytes())
}

/// Deletes all but the newest `keep` checkpoints.
fn prune(dir: &Path, keep: usize) -> Result<(), String> {
    for (_, path) in list(dir).into_iter().skip(keep) {
        std::fs::remove_file(&path)
            .map_err(|e| format!("cannot delete old checkpoint {}: {e}", path.display()))?;
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;

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
}
