//! `[initial]` as the initial shape of the run, and the initial density it gives.

use super::setup::RunSetup;
use super::CommandError;
use crate::comm::Comm;
use crate::config::Config;
use crate::field::Field;
use crate::initial::image::decode_png;
use crate::initial::{split_holdout, InitialKind, InitialShape};
use crate::initial::{Density3, Gaussian3};
use crate::io::points::parse_coordinates;
use crate::io::read_on_root;
use crate::mesh::Mesh;
use crate::physics::ou::{GaussianComponent, GaussianMixture};
use crate::stats::Point;

impl RunSetup {
    /// The initial field of this rank's block.
    pub fn initial_field(&self) -> Result<Field, CommandError> {
        let b = &self.layout.block;
        let mut f = Field::for_dim(self.layout.dim(), b.nz, b.ny, b.nx);
        self.initial
            .fill(&self.layout.mesh, &self.layout.block, self.mass, &mut f)
            .map_err(|e| self.initial_error(e))?;
        Ok(f)
    }

    /// The initial density on the whole grid, global row-major (every rank computes all of it).
    pub fn initial_global(&self) -> Result<Vec<f64>, CommandError> {
        self.initial
            .global(&self.layout.mesh, self.mass)
            .map_err(|e| self.initial_error(e))
    }

    /// `<config>: initial: <e>`, bad input.
    pub fn initial_error(&self, e: String) -> CommandError {
        CommandError::Input(format!("{}: initial: {e}", self.config.source))
    }
}

/// The initial shape `[initial]` describes (a points file or an image is read by rank 0 and
/// broadcast; every rank parses it, so a bad file fails on every rank alike).
pub(super) fn build_initial(
    comm: &Comm,
    config: &Config,
    mesh: &Mesh,
) -> Result<InitialShape, CommandError> {
    let init = &config.initial;
    let point = |v: &[f64]| {
        [
            v.first().copied().unwrap_or(0.0),
            v.get(1).copied().unwrap_or(0.0),
        ]
    };
    let point3 =
        |v: &[f64]| -> [f64; 3] { std::array::from_fn(|d| v.get(d).copied().unwrap_or(0.0)) };
    let missing = |key: &str| {
        CommandError::Input(format!(
            "{}: initial.{key} is required for this kind",
            config.source
        ))
    };
    Ok(match init.kind {
        InitialKind::GaussianMixture if mesh.dim == 3 => InitialShape::Volume(Density3::Mixture(
            init.components
                .iter()
                .map(|c| Gaussian3 {
                    weight: c.weight,
                    mean: point3(&c.mean),
                    std: c.std,
                })
                .collect(),
        )),
        InitialKind::Disc if mesh.dim == 3 => InitialShape::Volume(Density3::Ball {
            centre: point3(&init.centre),
            radius: init.radius.ok_or_else(|| missing("radius"))?,
        }),
        InitialKind::Ring if mesh.dim == 3 => InitialShape::Volume(Density3::Shell {
            centre: point3(&init.centre),
            radius: init.radius.ok_or_else(|| missing("radius"))?,
            width: init.width.ok_or_else(|| missing("width"))?,
        }),
        InitialKind::GaussianMixture => InitialShape::GaussianMixture(GaussianMixture {
            dim: mesh.dim,
            components: init
                .components
                .iter()
                .map(|c| GaussianComponent {
                    weight: c.weight,
                    mean: point(&c.mean),
                    std: c.std,
                })
                .collect(),
        }),
        InitialKind::Disc => InitialShape::Disc {
            centre: point(&init.centre),
            radius: init.radius.ok_or_else(|| missing("radius"))?,
        },
        InitialKind::Ring => InitialShape::Ring {
            centre: point(&init.centre),
            radius: init.radius.ok_or_else(|| missing("radius"))?,
            width: init.width.ok_or_else(|| missing("width"))?,
        },
        InitialKind::Points | InitialKind::Image => {
            let file = init.file.as_ref().ok_or_else(|| missing("file"))?;
            let path = if file.is_absolute() {
                file.clone()
            } else {
                config.base_dir.join(file)
            };
            let bytes = read_on_root(comm, &path, "initial.file").map_err(CommandError::Input)?;
            let shown = path.display().to_string();
            let bad = |e: String| CommandError::Input(format!("initial.file: {e}"));
            if init.kind == InitialKind::Image {
                let image = decode_png(&bytes, init.invert, &shown).map_err(bad)?;
                let e = &init.extent;
                let extent = match e.len() {
                    4 => [e[0], e[1], e[2], e[3]],
                    _ => {
                        let l = mesh.half_width;
                        [-l, l, -l, l]
                    }
                };
                InitialShape::Image { image, extent }
            } else {
                let text = String::from_utf8_lossy(&bytes);
                let samples = parse_coordinates(&text, mesh.dim, &shown).map_err(bad)?;
                points(config, samples)?
            }
        }
        InitialKind::Toy => {
            let name = init.name.ok_or_else(|| missing("name"))?;
            if init.samples == 0 {
                InitialShape::Toy {
                    name,
                    scale: init.scale,
                }
            } else {
                let drawn = name.sample(init.samples as usize, init.seed);
                let scaled = drawn
                    .into_iter()
                    .map(|p| [init.scale * p[0], init.scale * p[1], 0.0])
                    .collect();
                points(config, scaled)?
            }
        }
    })
}

/// The `points` shape of `samples`: `initial.holdout` of them held out (by `initial.seed`), the
/// rest as a histogram or kernel density of `initial.bandwidth`.
fn points(config: &Config, samples: Vec<Point>) -> Result<InitialShape, CommandError> {
    let init = &config.initial;
    let (train, held) = split_holdout(samples, init.holdout, init.seed)
        .map_err(|e| CommandError::Input(format!("{}: initial.holdout: {e}", config.source)))?;
    Ok(InitialShape::Points {
        train,
        held,
        bandwidth: init.bandwidth,
    })
}
