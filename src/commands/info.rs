//! `nlfp info FILE`: what an nlfp HDF5 file holds, and whether its checksums are valid.

use std::path::Path;

use super::CommandError;
use crate::comm::Comm;
use crate::io::checkpoint;
use crate::io::checksum;
use crate::io::hdf5 as h5;

/// Runs the command (rank 0 prints; a serial read, no collective I/O).
pub fn run(comm: &Comm, file: &Path) -> Result<(), CommandError> {
    let report = if comm.is_root() {
        describe(file).map(String::into_bytes)
    } else {
        Ok(Vec::new())
    };
    let text = comm.broadcast_result(report).map_err(CommandError::Input)?;
    if comm.is_root() {
        print!("{}", String::from_utf8_lossy(&text));
    }
    Ok(())
}

fn describe(file: &Path) -> Result<String, String> {
    let stored = h5::read_field(file)?;
    let attr_str = |name: &str| h5::read_attr_str(file, name).ok();
    let attr_u64 = |name: &str| h5::read_attr_u64(file, name).ok();
    let attr_f64 = |name: &str| h5::read_attr_f64(file, name).ok();
    let kind = attr_str("kind").unwrap_or_else(|| {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        match name.as_deref() {
            Some("final.h5") => "final".into(),
            Some(n) if n.starts_with("snap_") => "snapshot".into(),
            _ => "field".into(),
        }
    });
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<14}{v}\n"));
    line("file", file.display().to_string());
    line("kind", kind.clone());
    line("step", stored.step.to_string());
    line("t", format!("{:e}", stored.t));
    if let Some(dt) = attr_f64("dt") {
        line("dt", format!("{dt:e}"));
    }
    line(
        "grid",
        format!(
            "{}D, shape {:?}, half_width {}",
            attr_u64("dim").map_or("?".into(), |d| d.to_string()),
            stored.shape,
            attr_f64("half_width").map_or("?".into(), |l| l.to_string())
        ),
    );
    if let Some(g) = attr_str("process_grid") {
        line("written by", format!("{g} process grid"));
    }
    if let Some(v) = attr_str("code_version") {
        line("code", v);
    }
    let min = stored.values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = stored
        .values
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    line("f range", format!("[{min:e}, {max:e}]"));
    let mut valid = true;
    match attr_str("checksum_f") {
        Some(want) => {
            let got = checksum::hex(checksum::checksum_values(&stored.values));
            let ok = got == want;
            valid &= ok;
            line(
                "checksum f",
                format!("{} (stored {want}, computed {got})", verdict(ok)),
            );
        }
        None => line("checksum f", "none stored".into()),
    }
    // The grid attributes a restart or a reader trusts must describe the dataset's shape.
    if let (Some(dim), Some(n)) = (attr_u64("dim"), attr_u64("n")) {
        let expected: Vec<u64> = match dim {
            1..=3 => vec![n; dim as usize],
            _ => Vec::new(),
        };
        let shape: Vec<u64> = stored.shape.iter().map(|&s| s as u64).collect();
        let ok = expected == shape;
        valid &= ok;
        line(
            "attributes",
            format!(
                "{}: dim = {dim}, n = {n} {} the dataset shape {:?}",
                verdict(ok),
                if ok { "match" } else { "do not match" },
                stored.shape
            ),
        );
    }
    if kind == "checkpoint" {
        match checkpoint::read_state(file) {
            Ok(state) => {
                line("job", format!("{} (phase {})", state.job, state.phase));
                line(
                    "dt_history",
                    format!("{} steps, checksum valid", state.dt_history.len()),
                );
                line("attributes", "checksum valid".into());
            }
            Err(e) => {
                valid = false;
                line("attributes", format!("INVALID: {e}"));
            }
        }
        match checkpoint::verify_serial(file) {
            Ok(datasets) => {
                let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
                line("size", format!("{bytes} bytes"));
                for d in datasets {
                    line("dataset", format!("{d}, checksum valid"));
                }
            }
            Err(e) => {
                valid = false;
                line("datasets", format!("INVALID: {e}"));
            }
        }
    }
    line("verdict", if valid { "valid" } else { "INVALID" }.into());
    if let Some(config) = attr_str("config") {
        out.push_str("\n# config\n");
        out.push_str(&config);
    }
    Ok(out)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "valid"
    } else {
        "INVALID"
    }
}
