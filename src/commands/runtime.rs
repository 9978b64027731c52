//! The config sections as the runtime structs the library modules define (stepper, output
//! directory and transfer mode, march control and cadences, pipeline, log lines): the
//! translations every command shares.

use std::path::Path;

use super::setup::RunSetup;
use crate::cli::OutArgs;
use crate::comm::Comm;
use crate::io::hdf5::IoMode;
use crate::io::run_dir::RunDir;
use crate::scheme::FaceCoefficients;
use crate::sweep::forward::{MarchControl, OutputCadence};
use crate::sweep::pipeline::Pipeline;
use crate::time::{build_stepper, TimeStepper};

impl RunSetup {
    /// The HDF5 transfer mode of `output.io`.
    pub fn io_mode(&self) -> IoMode {
        self.config.output.io
    }

    /// `2D n = 101 on 2 x 1 ranks, m = 1.48e1 (1.5000 m_c)`: the grid, process grid and mass,
    /// for the first log line of a run.
    pub fn run_line(&self) -> String {
        format!(
            "{}D n = {} on {} ranks, m = {:.6e}{}",
            self.layout.mesh.dim,
            self.layout.mesh.n,
            self.layout
                .grid
                .label_in(self.layout.dim())
                .replace('x', " x "),
            self.mass,
            self.critical_mass
                .map(|mc| format!(" ({:.4} m_c)", self.mass / mc))
                .unwrap_or_default()
        )
    }

    /// The output directory `dir` of this run (nothing is touched on disk).
    pub fn run_dir(&self, dir: &Path) -> RunDir {
        RunDir::new(dir, self.config.to_toml(), self.io_mode(), &self.layout)
    }

    /// The output directory of `--out` (default: `output.dir`).
    pub fn run_dir_for(&self, output: &OutArgs) -> RunDir {
        self.run_dir(&output.dir_or(&self.config.output.dir))
    }

    /// `forward: 2D n = 101 on 2 x 1 ranks, m = ..., sg / ssprk2, t_end = 1`: the first log
    /// line of a run named `label`.
    pub fn title(&self, label: &str) -> String {
        format!(
            "{label}: {}, {} / {}, t_end = {}",
            self.run_line(),
            self.scheme.name(),
            self.stepper.name(),
            self.config.time.t_end
        )
    }

    /// `time.t_end`, `time.max_steps` and the `[output]` reporting cadences.
    pub fn march_control(&self) -> MarchControl {
        MarchControl {
            t_end: self.config.time.t_end,
            max_steps: self.config.time.max_steps,
            diagnostics_every: self.config.output.diagnostics_every,
            progress_every: self.config.output.progress_every,
        }
    }

    /// The snapshot cadences of `[output]` and `checkpoint.every_steps`.
    pub fn output_cadence(&self) -> OutputCadence {
        OutputCadence {
            snapshot_every: self.config.output.snapshot_every,
            snapshot_dt: self.config.output.snapshot_dt,
            checkpoint_every: self.config.checkpoint.every_steps,
        }
    }

    /// The forward → record → start → reverse pipeline of this run, its forward march
    /// controlled by `march`.
    pub fn pipeline<'a>(&'a self, comm: &'a Comm, march: MarchControl) -> Pipeline<'a> {
        Pipeline {
            comm,
            layout: &self.layout,
            params: self.params,
            mass: self.mass,
            scheme: self.scheme,
            stepper: self.stepper,
            control: self.control,
            march,
        }
    }

    /// The time stepper for this rank's block.
    pub fn stepper(&self) -> Box<dyn TimeStepper> {
        build_stepper(
            &self.layout.mesh,
            &self.layout.block,
            FaceCoefficients {
                diffusion: self.params.diffusion,
                kappa: self.params.kappa,
                gamma: self.params.gamma,
                h: self.layout.mesh.h,
            },
            self.scheme,
            self.stepper,
            self.control,
        )
    }
}
