//! Trajectory stores: the forward states `f^0, ..., f^N` the reverse sweep reads back in
//! reverse order (ARCHITECTURE.md principle 9: the reverse reuses the forward coefficients and
//! reads a pluggable store).
//!
//! * [`MemoryStore`]: every state in memory, `(N + 1) cells 8` bytes per rank.
//! * [`DiskStore`]: every state in one HDF5 scratch file (global-shaped, one dataset per step,
//!   written and read collectively), streamed back in reverse order; memory `O(1)` states.
//! * [`RecomputeStore`]: keeps every `K`-th state and recomputes a segment of `K` states from
//!   its first one when the reverse reaches it, replaying the recorded step sizes
//!   ([`TimeStepper::replay`]). A forward step is deterministic, so the recomputed states have
//!   the same bits as the originals on the same rank count, and the reverse results of all three
//!   stores are identical. With `K = 0` the store chooses `K ~ sqrt(N)` as it goes: it starts at
//!   `K = 1` and doubles `K` (dropping the states that are no longer multiples) whenever it holds
//!   more than `2 K` states, so it ends with `K <= sqrt(2N)`-ish and at most `3 K` states in
//!   memory, at the price of about one extra forward step per step.
//!
//! All methods are collective. States are recorded in order `0, 1, ..., N` and fetched in order
//! `N, N - 1, ..., 0` (each at most once; the recompute store assumes it).

use std::collections::BTreeMap;
use std::path::Path;

use crate::comm::Comm;
use crate::decomp::Block;
use crate::field::Field;
use crate::io::hdf5::SeriesFile;
use crate::layout::Layout;
use crate::mesh::Mesh;
use crate::names::named_enum;
use crate::sweep::forward::{MarchSink, MarchState};
use crate::time::{Requests, TimeStepper};

named_enum! {
    /// The trajectory store, selected by `reverse.store` (`ALL`: tests iterate over every store).
    pub enum StoreKind {
        /// Every state in memory.
        Memory = "memory",
        /// Every state in an HDF5 scratch file in the output directory.
        Disk = "disk",
        /// Every `K`-th state in memory; segments recomputed.
        Recompute = "recompute",
    }
}

impl StoreKind {
    /// The store of this kind for a run on `layout` (this rank's block of the mesh): `scratch` is the file of the
    /// `disk` store (created, truncated; removed by [`TrajectoryStore::finish`]), `every` the
    /// `K` of the `recompute` store (0 = automatic) and `replay` makes the fresh stepper of the
    /// forward run's kind it replays steps with. With `resume`, the `disk` store opens its
    /// existing scratch file instead (then [`TrajectoryStore::restore`]). Collective.
    pub fn build(
        self,
        comm: &Comm,
        layout: &Layout,
        scratch: &Path,
        every: u64,
        replay: &dyn Fn() -> Box<dyn TimeStepper>,
        resume: bool,
    ) -> Result<Box<dyn TrajectoryStore>, String> {
        let (mesh, block) = (&layout.mesh, &layout.block);
        Ok(match self {
            StoreKind::Memory => Box::new(MemoryStore::new()),
            StoreKind::Disk if resume => Box::new(DiskStore::open(comm, scratch, mesh, block)?),
            StoreKind::Disk => Box::new(DiskStore::create(comm, scratch, mesh, block)?),
            StoreKind::Recompute => Box::new(RecomputeStore::new(replay(), every, layout)),
        })
    }

    /// Bytes of field data a checkpoint of the store holds (all ranks), for `steps` forward
    /// steps of states of `state_bytes` bytes (the whole grid): memory: every state (the store
    /// spills into the checkpoint); disk: none (its scratch file is kept and checked);
    /// recompute: the kept states and the last one.
    pub fn checkpoint_estimate(self, steps: f64, state_bytes: usize, every: u64) -> usize {
        match self {
            StoreKind::Memory => ((steps + 1.0) * state_bytes as f64) as usize,
            StoreKind::Disk => 0,
            StoreKind::Recompute => {
                // The kept states 0, K, 2K, ... and the last one. The adaptive K (`every` =
                // 0) doubles when more than 2K states are kept, so after N steps up to
                // sqrt(2N) + 1 of them are (N / K + 1 with K >= sqrt(N / 2)).
                let kept = match every {
                    0 => (2.0 * steps).sqrt().ceil() + 1.0,
                    k => (steps / k as f64).floor() + 1.0,
                };
                (kept + 1.0) as usize * state_bytes
            }
        }
    }

    /// Bytes of field data the store of this kind holds in memory on a rank at its peak, for
    /// `steps` forward steps of states of `state_bytes` bytes (`every`: `K` of the recompute
    /// store, 0 = automatic, [`recompute_interval`]). Memory: every state; disk: none (the
    /// file holds what the memory store would); recompute: `N / K` kept states, a segment of
    /// `K` and the last state.
    pub fn memory_estimate(self, steps: f64, state_bytes: usize, every: u64) -> usize {
        match self {
            StoreKind::Memory => ((steps + 1.0) * state_bytes as f64) as usize,
            StoreKind::Disk => 0,
            StoreKind::Recompute => {
                let k = recompute_interval(steps, every);
                ((steps / k).ceil() + k + 1.0) as usize * state_bytes
            }
        }
    }
}

/// The `K` of the recompute store for `steps` steps: `every`, or `ceil(sqrt(steps))` when it
/// is 0 (what the adaptive store ends near).
pub fn recompute_interval(steps: f64, every: u64) -> f64 {
    match every {
        0 => steps.sqrt().ceil().max(1.0),
        k => k as f64,
    }
}

/// Forward states for the reverse sweep.
pub trait TrajectoryStore {
    /// Records `f^step` (`step = 0` first), reached by a step of size `dt` (0 for step 0).
    fn record(&mut self, comm: &Comm, step: u64, dt: f64, f: &Field) -> Result<(), String>;
    /// Writes `f^step` into the owned cells of `out`.
    fn fetch(&mut self, comm: &Comm, step: u64, out: &mut Field) -> Result<(), String>;
    /// Bytes of field data held in memory now, on this rank.
    fn memory_bytes(&self) -> usize;
    /// Largest [`TrajectoryStore::memory_bytes`] so far.
    fn peak_memory_bytes(&self) -> usize;
    /// Forward steps recomputed so far.
    fn recomputed_steps(&self) -> u64 {
        0
    }
    /// Releases what the store holds (removes scratch files; collective).
    fn finish(self: Box<Self>, comm: &Comm) -> Result<(), String>;
    /// The step of the last state recorded (`None` before the first).
    fn last_recorded(&self) -> Option<u64>;
    /// What a checkpoint holds for the store to go on: the states the forward march or the
    /// reverse (standing at `upto`) may still need, as fields of this rank's block of
    /// `layout`, and metadata.
    fn save(&self, layout: &Layout, upto: u64) -> StoreState;
    /// Continues from `state` (saved by the same kind of store) after the forward steps
    /// `dt_history`; `upto` is where the checkpoint stood. Collective.
    fn restore(
        &mut self,
        comm: &Comm,
        state: StoreState,
        dt_history: &[f64],
        upto: u64,
    ) -> Result<(), String>;
}

/// A store's part of a checkpoint (see [`TrajectoryStore::save`]).
#[derive(Default)]
pub struct StoreState {
    /// States by step.
    pub states: Vec<(u64, Field)>,
    /// The last recorded state (the recompute store), by step.
    pub last: Option<(u64, Field)>,
    /// Metadata (the recompute store's `K` and whether it adapts).
    pub meta: Vec<f64>,
}

impl StoreState {
    /// As checkpoint datasets: `store_<step>` fields, `store_last` and `store_meta`.
    pub fn into_saved(self) -> crate::io::checkpoint::Saved {
        let mut saved = crate::io::checkpoint::Saved::default();
        for (step, f) in self.states {
            saved.fields.push((format!("store_{step}"), f));
        }
        if let Some((step, f)) = self.last {
            saved.fields.push(("store_last".into(), f));
            saved
                .small
                .push(("store_last_step".into(), vec![step as f64]));
        }
        saved.small.push(("store_meta".into(), self.meta));
        saved
    }

    /// Back from the datasets of [`StoreState::into_saved`].
    pub fn from_loaded(loaded: &mut crate::io::checkpoint::Loaded) -> Result<StoreState, String> {
        let meta = loaded.small("store_meta")?.to_vec();
        let mut states = Vec::new();
        for name in loaded.field_names("store_") {
            if let Some(step) = name.strip_prefix("store_").and_then(|s| s.parse().ok()) {
                states.push((step, loaded.take_field(&name)?));
            }
        }
        states.sort_by_key(|(s, _)| *s);
        let last = match loaded.small("store_last_step") {
            Ok(&[step]) => Some((step as u64, loaded.take_field("store_last")?)),
            _ => None,
        };
        Ok(StoreState { states, last, meta })
    }
}

/// A field of this rank's block of `layout` holding the owned `values` (plane-, then
/// row-major).
fn field_of(layout: &Layout, values: &[f64]) -> Field {
    let mut f = Field::of_block(&layout.mesh, &layout.block);
    restore(values, &mut f);
    f
}

/// The forward-march sink that records every state (the start state too) into a store and
/// writes nothing else: the forward half of a forward-reverse run.
pub struct TrajectoryRecorder<'a> {
    /// Communicator (recording may be collective).
    pub comm: &'a Comm,
    /// Where the states go.
    pub store: &'a mut dyn TrajectoryStore,
}

impl MarchSink for TrajectoryRecorder<'_> {
    fn snapshot(&mut self, _: &Field, _: &MarchState) -> Result<(), String> {
        Ok(())
    }

    fn checkpoint(&mut self, _: &Field, _: &MarchState, _: &[f64]) -> Result<(), String> {
        Ok(())
    }

    fn poll(&mut self, _: u64) -> Result<Requests, String> {
        Ok(Requests::default())
    }

    fn after_step(&mut self, f: &Field, state: &MarchState) -> Result<(), String> {
        // A march resumed from a checkpoint shows its first state again: recorded already.
        if self.store.last_recorded() == Some(state.step) {
            return Ok(());
        }
        self.store.record(self.comm, state.step, state.last_dt(), f)
    }
}

/// Owned cells of a field (any dimension), plane-, then row-major.
fn owned(f: &Field) -> Vec<f64> {
    f.interior3().iter().copied().collect()
}

/// Copies owned values in the order of [`owned`] into `out`.
fn restore(values: &[f64], out: &mut Field) {
    let (nz, ny, nx) = (out.nz(), out.ny(), out.nx());
    assert_eq!(
        values.len(),
        nz * ny * nx,
        "trajectory state of another shape"
    );
    out.apply_box(
        0..nz as isize,
        0..ny as isize,
        0..nx as isize,
        values,
        |cell, v| *cell = v,
    );
}

fn missing(step: u64) -> String {
    format!("trajectory store: state {step} was not recorded")
}

/// Every state in memory.
#[derive(Default)]
pub struct MemoryStore {
    states: Vec<Vec<f64>>,
    peak: usize,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl TrajectoryStore for MemoryStore {
    fn record(&mut self, _comm: &Comm, step: u64, _dt: f64, f: &Field) -> Result<(), String> {
        if step as usize != self.states.len() {
            return Err(format!(
                "trajectory store: state {step} recorded out of order (expected {})",
                self.states.len()
            ));
        }
        self.states.push(owned(f));
        self.peak = self.peak.max(self.memory_bytes());
        Ok(())
    }

    fn fetch(&mut self, _comm: &Comm, step: u64, out: &mut Field) -> Result<(), String> {
        let values = self
            .states
            .get(step as usize)
            .ok_or_else(|| missing(step))?;
        restore(values, out);
        Ok(())
    }

    fn memory_bytes(&self) -> usize {
        self.states.iter().map(|s| 8 * s.len()).sum()
    }

    fn peak_memory_bytes(&self) -> usize {
        self.peak
    }

    fn finish(self: Box<Self>, _comm: &Comm) -> Result<(), String> {
        Ok(())
    }

    fn last_recorded(&self) -> Option<u64> {
        (self.states.len() as u64).checked_sub(1)
    }

    fn save(&self, layout: &Layout, upto: u64) -> StoreState {
        StoreState {
            states: (0..self.states.len().min(upto as usize + 1))
                .map(|s| (s as u64, field_of(layout, &self.states[s])))
                .collect(),
            last: None,
            meta: Vec::new(),
        }
    }

    fn restore(&mut self, _: &Comm, state: StoreState, _: &[f64], upto: u64) -> Result<(), String> {
        let steps: Vec<u64> = state.states.iter().map(|(s, _)| *s).collect();
        if steps != (0..=upto).collect::<Vec<_>>() {
            return Err(format!(
                "memory trajectory store: the checkpoint holds states {steps:?}, expected 0..={upto}"
            ));
        }
        self.states = state.states.iter().map(|(_, f)| owned(f)).collect();
        self.peak = self.peak.max(self.memory_bytes());
        Ok(())
    }
}

/// Every state in an HDF5 scratch file, dataset `f_<step>`.
pub struct DiskStore {
    file: SeriesFile,
    mesh: Mesh,
    block: Block,
    recorded: Option<u64>,
}

impl DiskStore {
    /// A store writing to `path` (created, truncated; removed by [`TrajectoryStore::finish`]).
    pub fn create(comm: &Comm, path: &Path, mesh: &Mesh, block: &Block) -> Result<Self, String> {
        Ok(DiskStore {
            file: SeriesFile::create(comm, path)?,
            mesh: *mesh,
            block: block.clone(),
            recorded: None,
        })
    }

    /// The store of the existing scratch file `path` of an interrupted run (then
    /// [`TrajectoryStore::restore`]).
    pub fn open(comm: &Comm, path: &Path, mesh: &Mesh, block: &Block) -> Result<Self, String> {
        Ok(DiskStore {
            file: SeriesFile::open(comm, path)?,
            mesh: *mesh,
            block: block.clone(),
            recorded: None,
        })
    }
}

impl TrajectoryStore for DiskStore {
    fn record(&mut self, comm: &Comm, step: u64, _dt: f64, f: &Field) -> Result<(), String> {
        self.file
            .write(comm, &format!("f_{step}"), &self.mesh, &self.block, f)?;
        self.recorded = Some(step);
        Ok(())
    }

    fn fetch(&mut self, comm: &Comm, step: u64, out: &mut Field) -> Result<(), String> {
        self.file
            .read(comm, &format!("f_{step}"), &self.mesh, &self.block, out)
    }

    fn memory_bytes(&self) -> usize {
        0
    }

    fn peak_memory_bytes(&self) -> usize {
        0
    }

    fn finish(self: Box<Self>, comm: &Comm) -> Result<(), String> {
        self.file.remove(comm)
    }

    fn last_recorded(&self) -> Option<u64> {
        self.recorded
    }

    fn save(&self, _: &Layout, upto: u64) -> StoreState {
        StoreState {
            meta: vec![upto as f64],
            ..StoreState::default()
        }
    }

    /// Checks that the scratch file holds every state up to the checkpoint's (`f_0` and
    /// `f_<upto>` are read back).
    fn restore(&mut self, comm: &Comm, _: StoreState, _: &[f64], upto: u64) -> Result<(), String> {
        let mut probe = Field::of_block(&self.mesh, &self.block);
        for step in [0, upto] {
            self.fetch(comm, step, &mut probe).map_err(|e| {
                format!("the disk trajectory store's scratch file cannot continue the run: {e}")
            })?;
        }
        self.recorded = Some(upto);
        Ok(())
    }
}

/// Every `K`-th state kept; segments recomputed by replaying the forward steps.
pub struct RecomputeStore {
    stepper: Box<dyn TimeStepper>,
    /// `K`; doubled as the run grows when `adaptive`.
    every: u64,
    adaptive: bool,
    kept: BTreeMap<u64, Vec<f64>>,
    /// The last recorded state (the reverse starts there).
    last: Option<(u64, Vec<f64>)>,
    /// `dt_history[s - 1]` took state `s - 1` to state `s`.
    dt_history: Vec<f64>,
    /// The recomputed segment: first step and its states.
    segment: Option<(u64, Vec<Vec<f64>>)>,
    work: Field,
    recomputed: u64,
    peak: usize,
}

impl RecomputeStore {
    /// A store keeping every `every`-th state (`0` = choose `K ~ sqrt(N)` adaptively); `stepper`
    /// is a fresh stepper of the forward run's kind, used only to replay steps.
    pub fn new(stepper: Box<dyn TimeStepper>, every: u64, layout: &Layout) -> RecomputeStore {
        RecomputeStore {
            stepper,
            every: every.max(1),
            adaptive: every == 0,
            kept: BTreeMap::new(),
            last: None,
            dt_history: Vec::new(),
            segment: None,
            work: Field::of_block(&layout.mesh, &layout.block),
            recomputed: 0,
            peak: 0,
        }
    }

    /// The current `K`.
    pub fn every(&self) -> u64 {
        self.every
    }

    fn note_peak(&mut self) {
        self.peak = self.peak.max(self.memory_bytes());
    }
}

impl TrajectoryStore for RecomputeStore {
    fn record(&mut self, _comm: &Comm, step: u64, dt: f64, f: &Field) -> Result<(), String> {
        let expected = if self.last.is_some() {
            self.dt_history.len() as u64 + 1
        } else {
            0
        };
        if step != expected {
            return Err(format!(
                "trajectory store: state {step} recorded out of order (expected {expected})"
            ));
        }
        if step > 0 {
            self.dt_history.push(dt);
        }
        let values = owned(f);
        if step.is_multiple_of(self.every) {
            self.kept.insert(step, values.clone());
        }
        self.last = Some((step, values));
        if self.adaptive && self.kept.len() as u64 > 2 * self.every {
            self.every *= 2;
            let every = self.every;
            self.kept.retain(|s, _| s.is_multiple_of(every));
        }
        self.note_peak();
        Ok(())
    }

    fn fetch(&mut self, comm: &Comm, step: u64, out: &mut Field) -> Result<(), String> {
        if let Some((last_step, values)) = &self.last {
            if *last_step == step {
                restore(values, out);
                return Ok(());
            }
        }
        let base = step - step % self.every;
        let cached = matches!(&self.segment, Some((first, _)) if *first == base);
        if !cached {
            // Recompute states base ..= min(base + K - 1, N - 1) from the kept state at base.
            let start = self.kept.get(&base).ok_or_else(|| missing(base))?;
            let last_step = self.last.as_ref().map_or(0, |(s, _)| *s);
            let end = (base + self.every - 1)
                .min(last_step.saturating_sub(1))
                .max(base);
            self.segment = None; // release the previous segment before building the next
            restore(start, &mut self.work);
            let mut states = vec![start.clone()];
            for s in base..end {
                let dt = self.dt_history[s as usize];
                self.stepper.replay(comm, &mut self.work, dt)?;
                self.recomputed += 1;
                states.push(owned(&self.work));
            }
            self.segment = Some((base, states));
            self.note_peak();
        }
        let (first, states) = self.segment.as_ref().expect("segment just built");
        let values = states
            .get((step - first) as usize)
            .ok_or_else(|| missing(step))?;
        restore(values, out);
        // Kept states above the segment are no longer needed (fetches go downwards).
        self.kept.retain(|s, _| *s <= base);
        Ok(())
    }

    fn memory_bytes(&self) -> usize {
        let kept: usize = self.kept.values().map(|v| 8 * v.len()).sum();
        let last = self.last.as_ref().map_or(0, |(_, v)| 8 * v.len());
        let segment: usize = self
            .segment
            .as_ref()
            .map_or(0, |(_, s)| s.iter().map(|v| 8 * v.len()).sum());
        kept + last + segment
    }

    fn peak_memory_bytes(&self) -> usize {
        self.peak
    }

    fn recomputed_steps(&self) -> u64 {
        self.recomputed
    }

    fn finish(self: Box<Self>, _comm: &Comm) -> Result<(), String> {
        Ok(())
    }

    fn last_recorded(&self) -> Option<u64> {
        self.last.as_ref().map(|(s, _)| *s)
    }

    fn save(&self, layout: &Layout, upto: u64) -> StoreState {
        StoreState {
            states: self
                .kept
                .iter()
                .filter(|(s, _)| **s <= upto)
                .map(|(s, v)| (*s, field_of(layout, v)))
                .collect(),
            last: self.last.as_ref().map(|(s, v)| (*s, field_of(layout, v))),
            meta: vec![self.every as f64, f64::from(u8::from(self.adaptive))],
        }
    }

    fn restore(
        &mut self,
        _: &Comm,
        state: StoreState,
        dt_history: &[f64],
        _upto: u64,
    ) -> Result<(), String> {
        let (Some(&every), Some(&adaptive), Some((last, f_last))) =
            (state.meta.first(), state.meta.get(1), &state.last)
        else {
            return Err("recompute trajectory store: the checkpoint lacks its metadata".into());
        };
        self.every = every as u64;
        self.adaptive = adaptive > 0.0;
        self.kept = state.states.iter().map(|(s, f)| (*s, owned(f))).collect();
        self.last = Some((*last, owned(f_last)));
        self.dt_history = dt_history[..(*last as usize).min(dt_history.len())].to_vec();
        self.segment = None;
        self.note_peak();
        Ok(())
    }
}
