//! Geometric multigrid preconditioner for the 5-point systems of the implicit stepper (the
//! Newton Jacobian `J = I - dt dL/df`) and of the exact implicit reverse (`J^T`): one V-cycle
//! per application, a fixed linear map, so BiCGStab can use it as a right preconditioner.
//!
//! * Levels: the cell-centred grid coarsens by [`axis`] (`n -> (n - 1)/2` per axis while `n` is
//!   odd and at least 5), as far as it can; the number of levels depends on the grid only.
//! * Coarse operators: rediscretised face rates ([`coarse`]): two fine links in series become
//!   one coarse link, so every coarse level is an M-matrix whatever the fine Jacobian does.
//! * Smoother: red–black Gauss–Seidel by global index parity (`(i + j) mod 2`, red first),
//!   `SWEEPS` sweeps before and after the coarse correction. Within a colour every cell reads
//!   only cells of the other colour, so the update of a cell is the same arithmetic on any
//!   decomposition.
//! * Distribution: coarse cell `I` lives with fine cell `2I + 1`, so transfers read one ghost
//!   layer. Once a coarse level is small (at most `GATHER_CELLS` cells) or some rank's part would
//!   be empty, its restricted right-hand side is all-gathered and that level and all coarser
//!   ones are computed redundantly by every rank (no further messages).
//! * Coarsest level: a banded LU of the gathered global operator, the same on every rank, when
//!   affordable ([`coarse::BandLu::affordable`]); else `COARSE_SWEEPS` smoothing sweeps.
//!
//! Every value is computed by a fixed formula in a fixed order from values that do not depend
//! on the decomposition, so the preconditioner, and with the exact dot products of
//! [`super::krylov`] the whole solve, is bit-identical on any rank count and process grid.

pub mod axis;
pub mod coarse;

use axis::{coarser, AxisTransfer};
use coarse::{coarsen_faces, BandLu, FaceForm};

use super::krylov::{Preconditioner, Stencil5};
use crate::comm::{Comm, HaloExchange};
use crate::decomp::Block;
use crate::field::Field;

/// Red–black sweeps before and after each coarse correction.
const SWEEPS: usize = 2;
/// Sweeps on a coarsest level too large for the direct solve.
const COARSE_SWEEPS: usize = 20;
/// Coarse levels at most this large are gathered and computed redundantly on every rank.
const GATHER_CELLS: usize = 4096;

/// One level of the hierarchy on this rank.
struct Level {
    /// Global cells `(ny, nx)`.
    global: (usize, usize),
    /// The cells this rank holds (the whole level once gathered).
    block: Block,
    /// Whether the whole level is held by every rank.
    replicated: bool,
    halo: HaloExchange,
    a: Stencil5,
    x: Field,
    b: Vec<f64>,
    r: Field,
}

impl Level {
    fn new(global: (usize, usize), block: Block, replicated: bool) -> Level {
        let (ny, nx) = (block.ny, block.nx);
        Level {
            global,
            halo: HaloExchange::new(&block),
            block,
            replicated,
            a: Stencil5::zeros(ny, nx),
            x: Field::zeros(ny, nx),
            b: vec![0.0; nx * ny],
            r: Field::zeros(ny, nx),
        }
    }

    fn whole(global: (usize, usize), rank: usize) -> Block {
        Block {
            rank,
            coords: (0, 0),
            x0: 0,
            nx: global.1,
            y0: 0,
            ny: global.0,
            z0: 0,
            nz: 1,
            cz: 0,
            neighbours: [None; 6],
        }
    }

    /// `sweeps` red–black Gauss–Seidel sweeps on `a x = b`.
    fn smooth(&mut self, comm: &Comm, sweeps: usize) {
        let (nx, ny) = (self.block.nx, self.block.ny);
        let parity0 = self.block.x0 + self.block.y0;
        let s = self.x.stride();
        for _ in 0..sweeps {
            for colour in 0..2 {
                self.halo.exchange(comm, &mut self.x, |_| ());
                let a = &self.a;
                let raw = self.x.raw_mut();
                for j in 0..ny {
                    let first = (colour + parity0 + j) % 2;
                    let k0 = (j + 1) * s + 1; // Field::index(j, 0) with one ghost layer
                    for i in (first..nx).step_by(2) {
                        let (c, k) = (j * nx + i, k0 + i);
                        let off = a.west[c] * raw[k - 1]
                            + a.east[c] * raw[k + 1]
                            + a.south[c] * raw[k - s]
                            + a.north[c] * raw[k + s];
                        raw[k] = (self.b[c] - off) / a.diag[c];
                    }
                }
            }
        }
    }

    /// `r = b - a x` on the owned cells, ghosts of `r` (corners included) refreshed.
    fn residual(&mut self, comm: &Comm) {
        let (nx, ny) = (self.block.nx, self.block.ny);
        self.halo.exchange(comm, &mut self.x, |_| ());
        let s = self.x.stride();
        let (a, x) = (&self.a, self.x.raw());
        let r = self.r.raw_mut();
        for j in 0..ny {
            let k0 = (j + 1) * s + 1;
            for i in 0..nx {
                let (c, k) = (j * nx + i, k0 + i);
                let ax = a.diag[c] * x[k]
                    + a.west[c] * x[k - 1]
                    + a.east[c] * x[k + 1]
                    + a.south[c] * x[k - s]
                    + a.north[c] * x[k + s];
                r[k] = self.b[c] - ax;
            }
        }
        // Restriction reads diagonal neighbours: corners included.
        self.halo.fill(comm, &mut self.r, 1);
    }
}

/// The link from a level to the next coarser one.
struct Link {
    tx: AxisTransfer,
    ty: AxisTransfer,
    /// The coarse cells `(y0, x0, ny, nx)` this rank computes in restriction (its derived part).
    part: (usize, usize, usize, usize),
    /// Whether the coarse level is gathered here (fine distributed, coarse replicated).
    gather: bool,
}

/// The multigrid hierarchy of one block; [`Multigrid::setup`] loads an operator.
pub struct Multigrid {
    levels: Vec<Level>,
    links: Vec<Link>,
    /// The direct solver of the coarsest level, when affordable.
    direct: Option<BandLu>,
    transposed: bool,
}

/// Places the parts `[y0, x0, ny, nx, values..]` gathered from every rank into a global
/// row-major array of `nx_global` columns.
fn place(parts: &[Vec<f64>], nx_global: usize, out: &mut [f64], stride: usize, offset: usize) {
    for part in parts {
        let (y0, x0, ny, nx) = (
            part[0] as usize,
            part[1] as usize,
            part[2] as usize,
            part[3] as usize,
        );
        let _ = nx_global;
        for j in 0..ny {
            for i in 0..nx {
                out[offset + (y0 + j) * stride + x0 + i] = part[4 + j * nx + i];
            }
        }
    }
}

/// All-gathers per-rank parts (row-major values on `(y0, x0, ny, nx)`) of several arrays into
/// global fields (ghost layer one, zero ghosts).
fn gather_fields(
    comm: &Comm,
    part: (usize, usize, usize, usize),
    values: &[&[f64]],
    global: (usize, usize),
) -> Vec<Field> {
    let (y0, x0, ny, nx) = part;
    let mut local = vec![y0 as f64, x0 as f64, ny as f64, nx as f64];
    for v in values {
        local.extend_from_slice(v);
    }
    let parts = comm.all_gather_f64(&local);
    (0..values.len())
        .map(|a| {
            let mut f = Field::zeros(global.0, global.1);
            let s = f.stride();
            for p in &parts {
                let (py0, px0, pny, pnx) =
                    (p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize);
                let base = 4 + a * pny * pnx;
                for j in 0..pny {
                    for i in 0..pnx {
                        f.raw_mut()[(py0 + j + 1) * s + px0 + i + 1] = p[base + j * pnx + i];
                    }
                }
            }
            f
        })
        .collect()
}

impl Multigrid {
    /// The hierarchy for `block` of a `global = (ny, nx)` grid (collective).
    pub fn new(comm: &Comm, global: (usize, usize), block: &Block) -> Multigrid {
        let mut levels = vec![Level::new(global, block.clone(), comm.size() == 1)];
        let mut links = Vec::new();
        loop {
            let fine = levels.last().expect("a level");
            let (gny, gnx) = fine.global;
            let Some(cnx) = coarser(gnx) else { break };
            let cny = if gny == 1 {
                1
            } else {
                match coarser(gny) {
                    Some(c) => c,
                    None => break,
                }
            };
            let tx = AxisTransfer::new(gnx, true);
            let ty = AxisTransfer::new(gny, gny > 1);
            let b = &fine.block;
            let (cx0, cnx_local) = tx.coarse_range(b.x0, b.nx);
            let (cy0, cny_local) = ty.coarse_range(b.y0, b.ny);
            let cglobal = (cny, cnx);
            let (gather, replicated, cblock) = if fine.replicated {
                (false, true, Level::whole(cglobal, b.rank))
            } else {
                let empty = comm.any(cnx_local == 0 || cny_local == 0);
                if empty || cnx * cny <= GATHER_CELLS {
                    (true, true, Level::whole(cglobal, b.rank))
                } else {
                    let mut cb = b.clone();
                    (cb.x0, cb.nx, cb.y0, cb.ny) = (cx0, cnx_local, cy0, cny_local);
                    (false, false, cb)
                }
            };
            links.push(Link {
                tx,
                ty,
                part: (cy0, cx0, cny_local, cnx_local),
                gather,
            });
            levels.push(Level::new(cglobal, cblock, replicated));
        }
        Multigrid {
            levels,
            links,
            direct: None,
            transposed: false,
        }
    }

    /// Number of levels (finest included).
    pub fn depth(&self) -> usize {
        self.levels.len()
    }

    /// Loads the system matrix `a` of the finest level (`J`, or `J^T` if `transposed`) and
    /// builds the coarse operators (collective; fails on every rank alike if the coarsest
    /// factorisation fails).
    pub fn setup(&mut self, comm: &Comm, a: &Stencil5, transposed: bool) -> Result<(), String> {
        self.transposed = transposed;
        let fine = &mut self.levels[0];
        fine.a.clone_from(a);
        // The coefficients as fields with ghosts, for the face form.
        let (ny, nx) = (fine.block.ny, fine.block.nx);
        let mut coef: [Field; 5] = std::array::from_fn(|_| Field::zeros(ny, nx));
        for (f, v) in coef
            .iter_mut()
            .zip([&a.diag, &a.west, &a.east, &a.south, &a.north])
        {
            for j in 0..ny {
                let k = f.index(j as isize, 0);
                f.raw_mut()[k..k + nx].copy_from_slice(&v[j * nx..(j + 1) * nx]);
            }
            fine.halo.exchange(comm, f, |_| ());
        }
        let mut faces = FaceForm::from_stencil(&coef, transposed);
        for l in 0..self.links.len() {
            let (fine_levels, coarse_levels) = self.levels.split_at_mut(l + 1);
            let (fine, coarse) = (&mut fine_levels[l], &mut coarse_levels[0]);
            // Coarsening reads diagonal neighbours: corners included.
            for f in faces.fields_mut() {
                fine.halo.fill(comm, f, 1);
            }
            let link = &self.links[l];
            let (y0, x0, cny, cnx) = if fine.replicated {
                (0, 0, coarse.global.0, coarse.global.1)
            } else {
                link.part
            };
            let values = coarsen_faces(
                &faces,
                (fine.block.y0, fine.block.x0),
                &link.tx,
                &link.ty,
                (y0, x0),
                (cny, cnx),
            );
            let mut next = FaceForm::zeros(coarse.block.ny, coarse.block.nx);
            if link.gather {
                let refs: Vec<&[f64]> = values.iter().map(|v| v.as_slice()).collect();
                let gathered = gather_fields(comm, link.part, &refs, coarse.global);
                for (dst, src) in next.fields_mut().into_iter().zip(gathered) {
                    *dst = src;
                }
            } else {
                for (dst, src) in next.fields_mut().into_iter().zip(&values) {
                    for j in 0..cny {
                        let k = dst.index(j as isize, 0);
                        dst.raw_mut()[k..k + cnx].copy_from_slice(&src[j * cnx..(j + 1) * cnx]);
                    }
                }
                for f in next.fields_mut() {
                    coarse.halo.exchange(comm, f, |_| ());
                }
            }
            coarse.a = next.stencil(transposed);
            faces = next;
        }
        // The coarsest level: factorise the global operator if affordable.
        let last = self.levels.last().expect("a level");
        let (gny, gnx) = last.global;
        self.direct = None;
        if BandLu::affordable(gny, gnx) {
            let global = if last.replicated {
                last.a.clone()
            } else {
                let b = &last.block;
                let part = (b.y0, b.x0, b.ny, b.nx);
                let a = &last.a;
                let refs = [&a.diag[..], &a.west, &a.east, &a.south, &a.north];
                let f = gather_fields(comm, part, &refs, last.global);
                let mut g = Stencil5::zeros(gny, gnx);
                for (dst, src) in [
                    &mut g.diag,
                    &mut g.west,
                    &mut g.east,
                    &mut g.south,
                    &mut g.north,
                ]
                .into_iter()
                .zip(&f)
                {
                    for j in 0..gny {
                        let k = src.index(j as isize, 0);
                        dst[j * gnx..(j + 1) * gnx].copy_from_slice(&src.raw()[k..k + gnx]);
                    }
                }
                g
            };
            // Same global system on every rank: every rank gets the same verdict.
            self.direct = Some(BandLu::new(&global)?);
        }
        Ok(())
    }

    /// One V-cycle for `levels[l].b`, result in `levels[l].x` (from zero).
    fn cycle(&mut self, comm: &Comm, l: usize) {
        if l + 1 == self.levels.len() {
            self.solve_coarsest(comm);
            return;
        }
        {
            let level = &mut self.levels[l];
            level.x.raw_mut().fill(0.0);
            level.smooth(comm, SWEEPS);
            level.residual(comm);
        }
        self.restrict(comm, l);
        self.cycle(comm, l + 1);
        self.prolong(comm, l);
        self.levels[l].smooth(comm, SWEEPS);
    }

    /// `b_{l+1} = R r_l`.
    fn restrict(&mut self, comm: &Comm, l: usize) {
        let (fine_levels, coarse_levels) = self.levels.split_at_mut(l + 1);
        let (fine, coarse) = (&fine_levels[l], &mut coarse_levels[0]);
        let link = &self.links[l];
        let (y0, x0, cny, cnx) = if fine.replicated {
            (0, 0, coarse.global.0, coarse.global.1)
        } else {
            link.part
        };
        let r = &fine.r;
        let (fy0, fx0) = (fine.block.y0 as isize, fine.block.x0 as isize);
        let mut values = Vec::with_capacity(4 + cny * cnx);
        values.extend_from_slice(&[y0 as f64, x0 as f64, cny as f64, cnx as f64]);
        for cj in 0..cny {
            for ci in 0..cnx {
                let mut v = 0.0;
                for &(fj, wj) in &link.ty.restrict[y0 + cj] {
                    for &(fi, wi) in &link.tx.restrict[x0 + ci] {
                        v += (wj * wi) * r.raw()[r.index(fj as isize - fy0, fi as isize - fx0)];
                    }
                }
                values.push(v);
            }
        }
        if link.gather {
            let parts = comm.all_gather_f64(&values);
            place(&parts, coarse.global.1, &mut coarse.b, coarse.global.1, 0);
        } else {
            coarse.b.copy_from_slice(&values[4..]);
        }
    }

    /// `x_l += P x_{l+1}`.
    fn prolong(&mut self, comm: &Comm, l: usize) {
        let (fine_levels, coarse_levels) = self.levels.split_at_mut(l + 1);
        let (fine, coarse) = (&mut fine_levels[l], &mut coarse_levels[0]);
        // Prolongation reads diagonal neighbours: corners included.
        coarse.halo.fill(comm, &mut coarse.x, 1);
        let link = &self.links[l];
        let (cy0, cx0) = (coarse.block.y0 as isize, coarse.block.x0 as isize);
        let (nx, ny) = (fine.block.nx, fine.block.ny);
        let xc = &coarse.x;
        for j in 0..ny {
            let gj = fine.block.y0 + j;
            for i in 0..nx {
                let gi = fine.block.x0 + i;
                let mut v = 0.0;
                for &(cj, wj) in &link.ty.prolong[gj] {
                    for &(ci, wi) in &link.tx.prolong[gi] {
                        v += (wj * wi) * xc.raw()[xc.index(cj as isize - cy0, ci as isize - cx0)];
                    }
                }
                let k = fine.x.index(j as isize, i as isize);
                fine.x.raw_mut()[k] += v;
            }
        }
    }

    fn solve_coarsest(&mut self, comm: &Comm) {
        let level = self.levels.last_mut().expect("a level");
        level.x.raw_mut().fill(0.0);
        let Some(lu) = &self.direct else {
            level.smooth(comm, COARSE_SWEEPS);
            return;
        };
        let (gny, gnx) = level.global;
        let b = &level.block;
        let mut global = if level.replicated {
            level.b.clone()
        } else {
            let mut local = vec![b.y0 as f64, b.x0 as f64, b.ny as f64, b.nx as f64];
            local.extend_from_slice(&level.b);
            let parts = comm.all_gather_f64(&local);
            let mut g = vec![0.0; gny * gnx];
            place(&parts, gnx, &mut g, gnx, 0);
            g
        };
        lu.solve(&mut global);
        for j in 0..b.ny {
            for i in 0..b.nx {
                let k = level.x.index(j as isize, i as isize);
                level.x.raw_mut()[k] = global[(b.y0 + j) * gnx + b.x0 + i];
            }
        }
    }
}

impl Preconditioner for Multigrid {
    /// One V-cycle from zero for `r`.
    fn apply(&mut self, comm: &Comm, r: &[f64], z: &mut [f64]) {
        let fine = &mut self.levels[0];
        fine.b.copy_from_slice(r);
        self.cycle(comm, 0);
        let fine = &self.levels[0];
        let nx = fine.block.nx;
        for j in 0..fine.block.ny {
            let k = fine.x.index(j as isize, 0);
            z[j * nx..(j + 1) * nx].copy_from_slice(&fine.x.raw()[k..k + nx]);
        }
    }
}
