//! XDMF sidecar for the HDF5 snapshots: a temporal collection of uniform grids with cell-centred
//! data, which ParaView and VisIt open directly as a time series.
//!
//! 2D snapshots are `2DCoRectMesh` grids of `(n + 1) x (n + 1)` nodes with origin `(-L, -L)` and
//! spacing `(h, h)`; a 1D snapshot is shown as a one-cell-high strip (`2 x (n + 1)` nodes) with its
//! `[n]` dataset read as `1 x n` cell values; 3D snapshots are `3DCoRectMesh` grids of
//! `(n + 1)^3` nodes (order z, y, x) with origin `(-L, -L, -L)` and spacing `(h, h, h)`, the
//! `[n, n, n]` dataset their cell values. Written by rank 0 under a temporary name and renamed.

use std::path::Path;

use crate::mesh::Mesh;

/// One snapshot in the series.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotEntry {
    /// Step of the snapshot.
    pub step: u64,
    /// Simulated time.
    pub t: f64,
    /// HDF5 file, relative to the XDMF file's directory.
    pub file: String,
}

/// The XDMF text for `entries` on `mesh`.
pub fn render(mesh: &Mesh, entries: &[SnapshotEntry]) -> String {
    let (nx, ny) = (mesh.nx(), mesh.ny());
    let h = mesh.h;
    let (origin_y, origin_x) = if mesh.dim == 2 {
        (-mesh.half_width, -mesh.half_width)
    } else {
        (-0.5 * h, -mesh.half_width)
    };
    let (topology, geometry, nodes, cells, origin, spacing) = if mesh.dim == 3 {
        let (n, l) = (mesh.n, -mesh.half_width);
        (
            "3DCoRectMesh",
            "ORIGIN_DXDYDZ",
            format!("{0} {0} {0}", n + 1),
            format!("{n} {n} {n}"),
            format!("{l:e} {l:e} {l:e}"),
            format!("{h:e} {h:e} {h:e}"),
        )
    } else {
        (
            "2DCoRectMesh",
            "ORIGIN_DXDY",
            format!("{} {}", ny + 1, nx + 1),
            format!("{ny} {nx}"),
            format!("{origin_y:e} {origin_x:e}"),
            format!("{h:e} {h:e}"),
        )
    };
    let axes = mesh.dim.max(2);
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" ?>\n<!DOCTYPE Xdmf SYSTEM \"Xdmf.dtd\" []>\n");
    out.push_str("<Xdmf Version=\"3.0\">\n <Domain>\n");
    out.push_str(
        "  <Grid Name=\"snapshots\" GridType=\"Collection\" CollectionType=\"Temporal\">\n",
    );
    for e in entries {
        out.push_str(&format!(
            "   <Grid Name=\"step_{step}\" GridType=\"Uniform\">\n\
             \x20   <Time Value=\"{t:e}\"/>\n\
             \x20   <Topology TopologyType=\"{topology}\" Dimensions=\"{nodes}\"/>\n\
             \x20   <Geometry GeometryType=\"{geometry}\">\n\
             \x20    <DataItem Dimensions=\"{axes}\" NumberType=\"Float\" Precision=\"8\" Format=\"XML\">{origin}</DataItem>\n\
             \x20    <DataItem Dimensions=\"{axes}\" NumberType=\"Float\" Precision=\"8\" Format=\"XML\">{spacing}</DataItem>\n\
             \x20   </Geometry>\n\
             \x20   <Attribute Name=\"f\" AttributeType=\"Scalar\" Center=\"Cell\">\n\
             \x20    <DataItem Dimensions=\"{cells}\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">{file}:/f</DataItem>\n\
             \x20   </Attribute>\n\
             \x20  </Grid>\n",
            step = e.step,
            t = e.t,
            file = e.file,
        ));
    }
    out.push_str("  </Grid>\n </Domain>\n</Xdmf>\n");
    out
}

/// Writes the series to `path` atomically (see [`super::replace_file`]).
pub fn write(path: &Path, mesh: &Mesh, entries: &[SnapshotEntry]) -> Result<(), String> {
    super::replace_file(path, render(mesh, entries).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cell_data_on_corect_mesh() {
        let mesh = Mesh::new(2, 5, 1.0);
        let text = render(
            &mesh,
            &[SnapshotEntry {
                step: 3,
                t: 0.5,
                file: "snapshots/snap_3.h5".into(),
            }],
        );
        assert!(text.contains("Dimensions=\"6 6\""));
        assert!(text.contains("Dimensions=\"5 5\""));
        assert!(text.contains("Center=\"Cell\""));
        assert!(text.contains("<Time Value=\"5e-1\"/>"));
        assert!(text.contains("snapshots/snap_3.h5:/f"));
        let line = render(&Mesh::new(1, 7, 1.0), &[]);
        assert!(line.contains("Temporal"));
    }

    #[test]
    fn renders_3d_corect_mesh() {
        let text = render(
            &Mesh::new(3, 5, 2.0),
            &[SnapshotEntry {
                step: 1,
                t: 0.25,
                file: "snapshots/snap_1.h5".into(),
            }],
        );
        assert!(text.contains("TopologyType=\"3DCoRectMesh\" Dimensions=\"6 6 6\""));
        assert!(text.contains("GeometryType=\"ORIGIN_DXDYDZ\""));
        assert!(text.contains(">-2e0 -2e0 -2e0</DataItem>"));
        assert!(text.contains("<DataItem Dimensions=\"5 5 5\""));
    }
}
