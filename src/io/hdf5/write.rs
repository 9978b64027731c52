//! Writing global-shaped fields in parallel ([`write_global`], [`write_field`]) and small
//! serial tables ([`write_table`]), always under a temporary name renamed into place.

use std::collections::HashSet;
use std::path::Path;

use hdf5::dataset::FillTime;
use hdf5::types::VarLenUnicode;
use ndarray::s;

use super::raw::{block_selection, collective_transfer, small_selection, Buffer};
use super::{agree, global_shape, h5err, AttrValue, BlockData, FieldMeta, IoMode, SmallData};
use crate::comm::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::io::{persist, space, tmp_path};
use crate::layout::Layout;
use crate::mesh::Mesh;

/// What one call of [`write_global`] writes.
struct Contents<'a> {
    mesh: &'a Mesh,
    block: &'a Block,
    blocks: &'a [BlockData<'a>],
    small: &'a [SmallData<'a>],
    attrs: &'a [(&'a str, AttrValue)],
    mode: IoMode,
}

/// Checks the arguments of [`write_global`] on this rank.
fn validate(path: &Path, c: &Contents) -> Result<(), String> {
    let (mesh, block, blocks, small, attrs) = (c.mesh, c.block, c.blocks, c.small, c.attrs);
    let mut names = HashSet::new();
    for name in blocks
        .iter()
        .map(|b| b.name)
        .chain(small.iter().map(|s| s.name))
    {
        if name.is_empty() || name.contains('/') || name == "." {
            return Err(format!("{}: bad dataset name {name:?}", path.display()));
        }
        if !names.insert(name) {
            return Err(format!("{}: dataset {name} given twice", path.display()));
        }
    }
    let mut attr_names = HashSet::new();
    for (name, _) in attrs {
        if name.is_empty() || !attr_names.insert(*name) {
            return Err(format!(
                "{}: attribute name {name:?} empty or given twice",
                path.display()
            ));
        }
    }
    let (ny, nx) = (mesh.ny(), mesh.nx());
    if block.x0 + block.nx > nx || block.y0 + block.ny > ny || block.z0 + block.nz > mesh.nz() {
        return Err(format!(
            "{}: block {}+{} x {}+{} outside the {}D grid of {} cells per axis",
            path.display(),
            block.x0,
            block.nx,
            block.y0,
            block.ny,
            mesh.dim,
            mesh.n
        ));
    }
    for b in blocks {
        if b.field.nx() != block.nx || b.field.ny() != block.ny || b.field.nz() != block.nz {
            return Err(format!(
                "{}: dataset {}: field is {}x{} but the block is {}x{}",
                path.display(),
                b.name,
                b.field.ny(),
                b.field.nx(),
                block.ny,
                block.nx
            ));
        }
    }
    Ok(())
}

/// Writes global-shaped datasets of every rank's block, small replicated 1D datasets and file
/// attributes to `path`, collectively (every rank calls, with the same names, small data and
/// attributes).
///
/// * `blocks`: each becomes a dataset of shape `[n]` (1D mesh) or `[n, n]` (2D, y then x); the
///   rank's `field` (owned shape = `block`) fills the block's hyperslab. Ranks with an empty
///   block take part with an empty selection.
/// * `small`: each becomes a 1D dataset of `values.len()` values, written by rank 0 only.
/// * `attrs`: scalar attributes of the root group.
/// * `mode`: [`IoMode::Collective`] (one collective MPI-IO transfer per dataset) or
///   [`IoMode::Independent`] (each rank writes its own hyperslab).
///
/// The file is written as `path` + `".tmp"`, closed, fsynced by rank 0, renamed to `path`, and
/// the directory is fsynced. On error (agreed on by all ranks) the temporary file is removed
/// and `path` is left as it was.
pub fn write_global(
    comm: &Comm,
    path: &Path,
    layout: &Layout,
    blocks: &[BlockData],
    small: &[SmallData],
    attrs: &[(&str, AttrValue)],
    mode: IoMode,
) -> Result<(), String> {
    let contents = Contents {
        mesh: &layout.mesh,
        block: &layout.block,
        blocks,
        small,
        attrs,
        mode,
    };
    agree(comm, path, validate(path, &contents))?;
    let tmp = tmp_path(path);
    if let Err(e) = write_tmp(comm, &tmp, &contents) {
        if comm.is_root() {
            let _ = std::fs::remove_file(&tmp);
        }
        return Err(e);
    }
    let persisted = if comm.is_root() {
        persist(&tmp, path)
    } else {
        Ok(())
    };
    agree(comm, path, persisted)
}

/// Bytes of data a write puts in the file (datasets and attribute values; HDF5's own
/// metadata is [`space::MARGIN`]).
fn data_bytes(c: &Contents) -> u64 {
    let cells = c.mesh.cells() as u64;
    let blocks = 8 * cells * c.blocks.len() as u64;
    let small: u64 = c.small.iter().map(|d| 8 * d.values.len() as u64).sum();
    let attrs: u64 = c
        .attrs
        .iter()
        .map(|(name, v)| {
            name.len() as u64
                + match v {
                    AttrValue::Str(text) => text.len() as u64,
                    _ => 8,
                }
        })
        .sum();
    blocks + small + attrs
}

/// Creates, fills and closes the (temporary) file; the result is the same on every rank.
///
/// A full disk is found before the file is created ([`space::ensure_space`]: an agreed error).
/// A write or close that fails once the file is open ends the job ([`Comm::fatal`]): parallel
/// HDF5 cannot close such a file safely (the ranks can deadlock in different collectives, or
/// crash in `MPI_Finalize`).
fn write_tmp(comm: &Comm, path: &Path, contents: &Contents) -> Result<(), String> {
    space::ensure_space(comm, path, data_bytes(contents))?;
    let created = hdf5::FileBuilder::new()
        .with_fapl(|p| p.mpio(comm.raw(), None))
        .create(path)
        .map_err(|e| h5err(path, "cannot create", e));
    let file = agree(comm, path, created)?;
    let body = write_contents(comm, path, &file, contents);
    if let Err(e) = body {
        comm.fatal(&format!(
            "{e} (the file cannot be closed safely: ending the job)"
        ));
    }
    let closed = {
        let _watch = space::Watchdog::start(path, "closing", comm.rank(), space::GRACE);
        file.close().map_err(|e| h5err(path, "cannot close", e))
    };
    if let Err(e) = agree(comm, path, closed) {
        comm.fatal(&format!("{e} (ending the job)"));
    }
    Ok(())
}

fn write_contents(comm: &Comm, path: &Path, file: &hdf5::File, c: &Contents) -> Result<(), String> {
    let (mesh, block, blocks, small, attrs) = (c.mesh, c.block, c.blocks, c.small, c.attrs);
    let mode = c.mode;
    // Dataset creation is a metadata operation: collective, same arguments on every rank.
    let create = |name: &str, shape: Vec<usize>| {
        file.new_dataset::<f64>()
            .shape(shape)
            .fill_time(FillTime::Never)
            .create(name)
            .map_err(|e| h5err(path, &format!("cannot create dataset {name}"), e))
    };
    let created: Result<Vec<hdf5::Dataset>, String> = blocks
        .iter()
        .map(|b| create(b.name, global_shape(mesh)))
        .collect();
    let block_ds = agree(comm, path, created)?;
    let created: Result<Vec<hdf5::Dataset>, String> = small
        .iter()
        .map(|d| create(d.name, vec![d.values.len()]))
        .collect();
    let small_ds = agree(comm, path, created)?;

    for (b, ds) in blocks.iter().zip(&block_ds) {
        match mode {
            IoMode::Collective => {
                let sel = block_selection(path, ds.id(), mesh, block, b.field);
                let sel = agree(comm, path, sel)?;
                let ptr = b.field.raw().as_ptr();
                collective_transfer(comm, path, b.name, ds.id(), sel, Buffer::Write(ptr))?;
            }
            IoMode::Independent => {
                let written = write_independent(path, ds, mesh, block, b);
                agree(comm, path, written)?;
            }
        }
    }

    for (d, ds) in small.iter().zip(&small_ds) {
        if d.values.is_empty() {
            continue;
        }
        match mode {
            IoMode::Collective => {
                let sel = small_selection(path, ds.id(), d.values.len(), comm.is_root());
                let sel = agree(comm, path, sel)?;
                let ptr = d.values.as_ptr();
                collective_transfer(comm, path, d.name, ds.id(), sel, Buffer::Write(ptr))?;
            }
            IoMode::Independent => {
                let written = if comm.is_root() {
                    ds.write_raw(d.values)
                        .map_err(|e| h5err(path, &format!("cannot write dataset {}", d.name), e))
                } else {
                    Ok(())
                };
                agree(comm, path, written)?;
            }
        }
    }

    // Attributes are metadata: every rank creates and writes them, with the same values.
    let written: Result<(), String> = attrs
        .iter()
        .try_for_each(|(name, value)| write_attr(path, file, name, value));
    agree(comm, path, written)
}

/// The independent path: this rank writes its hyperslab with `write_slice` (a copy of the
/// owned block in standard layout).
fn write_independent(
    path: &Path,
    ds: &hdf5::Dataset,
    mesh: &Mesh,
    block: &Block,
    b: &BlockData,
) -> Result<(), String> {
    if block.cells() == 0 {
        return Ok(());
    }
    let written = match mesh.dim {
        3 => ds.write_slice(
            &b.field.interior3().to_owned(),
            s![
                block.z0..block.z0 + block.nz,
                block.y0..block.y0 + block.ny,
                block.x0..block.x0 + block.nx
            ],
        ),
        2 => ds.write_slice(
            &b.field.interior().to_owned(),
            s![block.y0..block.y0 + block.ny, block.x0..block.x0 + block.nx],
        ),
        _ => ds.write_slice(
            &b.field.interior().row(0).to_owned(),
            s![block.x0..block.x0 + block.nx],
        ),
    };
    written.map_err(|e| h5err(path, &format!("cannot write dataset {}", b.name), e))
}

fn write_attr(path: &Path, file: &hdf5::File, name: &str, value: &AttrValue) -> Result<(), String> {
    let err = |e| h5err(path, &format!("attribute {name}"), e);
    match value {
        AttrValue::F64(v) => file
            .new_attr::<f64>()
            .create(name)
            .and_then(|a| a.write_scalar(v))
            .map_err(err),
        AttrValue::U64(v) => file
            .new_attr::<u64>()
            .create(name)
            .and_then(|a| a.write_scalar(v))
            .map_err(err),
        AttrValue::Str(v) => {
            let text: VarLenUnicode = v
                .parse()
                .map_err(|e| format!("{}: attribute {name}: {e}", path.display()))?;
            file.new_attr::<VarLenUnicode>()
                .create(name)
                .and_then(|a| a.write_scalar(&text))
                .map_err(err)
        }
    }
}

/// Writes `field` (the owned blocks of every rank) to `path` as dataset `f` with the run's
/// attributes (`t`, `step`, `dt`, `config`, `code_version`, `dim`, `n`, `half_width`, `h`,
/// `process_grid`, `checksum_f` — see [`crate::io::checksum`]), collectively: every rank must
/// call. A thin wrapper of [`write_global`]; errors are agreed on by all ranks (an error on any
/// rank is an error on all).
pub fn write_field(
    comm: &Comm,
    path: &Path,
    layout: &Layout,
    field: &Field,
    meta: &FieldMeta,
    mode: IoMode,
) -> Result<(), String> {
    let Layout { mesh, grid, block } = layout;
    let attrs = [
        ("t", AttrValue::F64(meta.t)),
        ("step", AttrValue::U64(meta.step)),
        ("dt", AttrValue::F64(meta.dt)),
        ("config", AttrValue::Str(meta.config.clone())),
        (
            "code_version",
            AttrValue::Str(crate::io::CODE_VERSION.into()),
        ),
        ("dim", AttrValue::U64(mesh.dim as u64)),
        ("n", AttrValue::U64(mesh.n as u64)),
        ("half_width", AttrValue::F64(mesh.half_width)),
        ("h", AttrValue::F64(mesh.h)),
        ("process_grid", AttrValue::Str(grid.label_in(mesh.dim))),
        (
            "checksum_f",
            AttrValue::Str(crate::io::checksum::hex(
                crate::io::checksum::field_checksum(comm, mesh, block, field),
            )),
        ),
    ];
    write_global(
        comm,
        path,
        layout,
        &[BlockData { name: "f", field }],
        &[],
        &attrs,
        mode,
    )
}

/// Writes the `rows x cols` table `values` (row-major) as the 2D dataset `name` of a new file
/// `path`, with the scalar attributes `attrs` in the order given, serially (one process; small
/// files: samples, particle positions). Written under a temporary name and renamed into place.
pub fn write_table(
    path: &Path,
    name: &str,
    shape: [usize; 2],
    values: &[f64],
    attrs: &[(&str, AttrValue)],
) -> Result<(), String> {
    let tmp = tmp_path(path);
    let written = (|| -> Result<(), String> {
        let file = hdf5::File::create(&tmp).map_err(|e| h5err(path, "cannot create", e))?;
        let what = |verb: &str| format!("cannot {verb} dataset {name}");
        let ds = file
            .new_dataset::<f64>()
            .shape(shape)
            .create(name)
            .map_err(|e| h5err(path, &what("create"), e))?;
        ds.write_raw(values)
            .map_err(|e| h5err(path, &what("write"), e))?;
        for (attr, value) in attrs {
            write_attr(path, &file, attr, value)?;
        }
        file.close().map_err(|e| h5err(path, "cannot close", e))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    persist(&tmp, path)
}
