//! Geometric multigrid preconditioner for the 5-point (3D: 7-point) systems of the implicit
//! stepper (the
//! Newton Jacobian `J = I - dt dL/df`) and of the exact implicit reverse (`J^T`): one V-cycle
//! per application, a fixed linear map, so BiCGStab can use it as a right preconditioner.
//!
//! * Levels: the cell-centred grid coarsens by [`axis`] (`n -> (n - 1)/2` per axis while `n` is
//!   odd and at least 5; all three axes in 3D, an axis of one cell is kept), as far as it can;
//!   the number of levels depends on the grid only.
//! * Coarse operators: rediscretised face rates ([`coarse`]): two fine links in series become
//!   one coarse link, so every coarse level is an M-matrix whatever the fine Jacobian does.
//! * Smoother: red–black Gauss–Seidel by global index parity (`(i + j + k) mod 2`, red first),
//!   `SWEEPS` sweeps before and after the coarse correction. Within a colour every cell reads
//!   only cells of the other colour, so the update of a cell is the same arithmetic on any
//!   decomposition.
//! * Distribution: coarse cell `I` lives with fine cell `2I + 1`, so transfers read one ghost
//!   layer (edges and corners included, [`HaloExchange::fill`]). Once a coarse level is small
//!   (at most `GATHER_CELLS` cells) or some rank's part would be empty, its restricted
//!   right-hand side is all-gathered and that level and all coarser ones are computed
//!   redundantly by every rank (no further messages).
//! * Coarsest level: a banded LU of the gathered global operator, the same on every rank, when
//!   affordable ([`coarse::BandLu::affordable`]); else `COARSE_SWEEPS` smoothing sweeps.
//!
//! Every value is computed by a fixed formula in a fixed order from values that do not depend
//! on the decomposition, so the preconditioner, and with the exact dot products of
//! [`super::krylov`] the whole solve, is bit-identical on any rank count and process grid.

pub mod axis;
pub mod coarse;

use axis::{coarser, AxisTransfer};
use coarse::{coarsen_faces, BandLu, Dims, FaceForm};

use super::krylov::{self, Preconditioner, Stencil};
use crate::comm::{Comm, HaloExchange};
use crate::decomp::Block;
use crate::field::Field;
use crate::mesh::Mesh;

/// Red–black sweeps before and after each coarse correction.
const SWEEPS: usize = 2;
/// Sweeps on a coarsest level too large for the direct solve.
const COARSE_SWEEPS: usize = 20;
/// Coarse levels at most this large are gathered and computed redundantly on every rank.
const GATHER_CELLS: usize = 4096;

/// A box of cells: global start `[z, y, x]` and extent `[nz, ny, nx]`.
type Part = (Dims, Dims);

/// One level of the hierarchy on this rank.
struct Level {
    /// Global cells `[nz, ny, nx]`.
    global: Dims,
    /// The cells this rank holds (the whole level once gathered).
    block: Block,
    /// Whether the whole level is held by every rank.
    replicated: bool,
    halo: HaloExchange,
    a: Stencil,
    x: Field,
    b: Vec<f64>,
    r: Field,
    /// `(first owned cell, first storage index)` of every owned row, in cell order.
    rows: Vec<(usize, usize)>,
}

impl Level {
    fn new(dim: usize, global: Dims, block: Block, replicated: bool) -> Level {
        let (nz, ny, nx) = (block.nz, block.ny, block.nx);
        let x = Field::for_dim(dim, nz, ny, nx);
        let mut rows = Vec::with_capacity(nz * ny);
        krylov::for_rows(&x, |c0, k0| rows.push((c0, k0)));
        Level {
            global,
            halo: HaloExchange::new(&block),
            block,
            replicated,
            a: Stencil::for_dim(dim, nz, ny, nx),
            r: x.clone(),
            x,
            b: vec![0.0; nx * ny * nz],
            rows,
        }
    }

    fn whole([nz, ny, nx]: Dims, rank: usize) -> Block {
        Block {
            rank,
            coords: (0, 0),
            x0: 0,
            nx,
            y0: 0,
            ny,
            z0: 0,
            nz,
            cz: 0,
            neighbours: [None; 6],
        }
    }

    /// The owned box `(start, extent)` of this rank's block.
    fn part(&self) -> Part {
        let b = &self.block;
        ([b.z0, b.y0, b.x0], [b.nz, b.ny, b.nx])
    }

    /// `sweeps` red–black Gauss–Seidel sweeps on `a x = b`, colour `(i + j + k) mod 2` of the
    /// global index.
    fn smooth(&mut self, comm: &Comm, sweeps: usize) {
        let (nx, ny) = (self.block.nx, self.block.ny);
        let parity0 = self.block.x0 + self.block.y0 + self.block.z0;
        let (s, ps) = (self.x.stride(), self.x.plane_stride());
        for _ in 0..sweeps {
            for colour in 0..2 {
                self.halo.exchange(comm, &mut self.x, |_| ());
                let a = &self.a;
                let raw = self.x.raw_mut();
                for (row, &(c0, k0)) in self.rows.iter().enumerate() {
                    let first = (colour + parity0 + row % ny + row / ny) % 2;
                    for i in (first..nx).step_by(2) {
                        let (c, k) = (c0 + i, k0 + i);
                        let off = a.off_diagonal(c, k, raw, s, ps);
                        raw[k] = (self.b[c] - off) / a.diag[c];
                    }
                }
            }
        }
    }

    /// `r = b - a x` on the owned cells, ghosts of `r` (edges and corners included) refreshed.
    fn residual(&mut self, comm: &Comm) {
        let nx = self.block.nx;
        self.halo.exchange(comm, &mut self.x, |_| ());
        let (s, ps) = (self.x.stride(), self.x.plane_stride());
        let (a, x) = (&self.a, self.x.raw());
        let r = self.r.raw_mut();
        for &(c0, k0) in &self.rows {
            for i in 0..nx {
                let (c, k) = (c0 + i, k0 + i);
                r[k] = self.b[c] - a.row(c, k, x, s, ps);
            }
        }
        // Restriction reads diagonal neighbours: edges and corners included.
        self.halo.fill(comm, &mut self.r, 1);
    }
}

/// The link from a level to the next coarser one.
struct Link {
    /// Transfers along `[z, y, x]`.
    t: [AxisTransfer; 3],
    /// The coarse cells this rank computes in restriction (its derived part).
    part: Part,
    /// Whether the coarse level is gathered here (fine distributed, coarse replicated).
    gather: bool,
}

impl Link {
    fn transfers(&self) -> [&AxisTransfer; 3] {
        [&self.t[0], &self.t[1], &self.t[2]]
    }
}

/// The multigrid hierarchy of one block; [`Multigrid::setup`] loads an operator.
pub struct Multigrid {
    dim: usize,
    levels: Vec<Level>,
    links: Vec<Link>,
    /// The direct solver of the coarsest level, when affordable.
    direct: Option<BandLu>,
    transposed: bool,
}

/// Places the parts `[z0, y0, x0, nz, ny, nx, values..]` gathered from every rank (the
/// `index`-th array after the header of each) into the global array `out` of extent `global`.
fn place(parts: &[Vec<f64>], index: usize, [_, gny, gnx]: Dims, out: &mut [f64]) {
    for p in parts {
        let h: Vec<usize> = p[..6].iter().map(|&v| v as usize).collect();
        let (z0, y0, x0, nz, ny, nx) = (h[0], h[1], h[2], h[3], h[4], h[5]);
        let base = 6 + index * nz * ny * nx;
        for k in 0..nz {
            for j in 0..ny {
                let src = base + (k * ny + j) * nx;
                let dst = ((z0 + k) * gny + y0 + j) * gnx + x0;
                out[dst..dst + nx].copy_from_slice(&p[src..src + nx]);
            }
        }
    }
}

/// All-gathers per-rank parts (cell-order values on the box `part`) of several arrays into
/// global arrays of extent `global`, in cell order.
fn gather(comm: &Comm, (start, extent): Part, values: &[&[f64]], global: Dims) -> Vec<Vec<f64>> {
    let mut local: Vec<f64> = start.iter().chain(&extent).map(|&v| v as f64).collect();
    for v in values {
        local.extend_from_slice(v);
    }
    let parts = comm.all_gather_f64(&local);
    (0..values.len())
        .map(|a| {
            let mut g = vec![0.0; global.iter().product()];
            place(&parts, a, global, &mut g);
            g
        })
        .collect()
}

impl Multigrid {
    /// The hierarchy for `block` of `mesh` (collective).
    pub fn new(comm: &Comm, mesh: &Mesh, block: &Block) -> Multigrid {
        let dim = mesh.dim;
        let global = [mesh.nz(), mesh.ny(), mesh.nx()];
        let mut levels = vec![Level::new(dim, global, block.clone(), comm.size() == 1)];
        let mut links = Vec::new();
        loop {
            let fine = levels.last().expect("a level");
            // An axis of one cell is kept; the others halve, or the hierarchy ends.
            let halve = |n: usize| if n == 1 { Some(1) } else { coarser(n) };
            let cglobal = match fine.global.map(halve) {
                [Some(z), Some(y), Some(x)] => [z, y, x],
                _ => break,
            };
            let t = fine.global.map(|n| AxisTransfer::new(n, n > 1));
            let b = &fine.block;
            let (cz0, cnz) = t[0].coarse_range(b.z0, b.nz);
            let (cy0, cny) = t[1].coarse_range(b.y0, b.ny);
            let (cx0, cnx) = t[2].coarse_range(b.x0, b.nx);
            let cells: usize = cglobal.iter().product();
            let (gather, replicated, cblock) = if fine.replicated {
                (false, true, Level::whole(cglobal, b.rank))
            } else {
                let empty = comm.any(cnx == 0 || cny == 0 || cnz == 0);
                if empty || cells <= GATHER_CELLS {
                    (true, true, Level::whole(cglobal, b.rank))
                } else {
                    let mut cb = b.clone();
                    (cb.z0, cb.nz, cb.y0, cb.ny, cb.x0, cb.nx) = (cz0, cnz, cy0, cny, cx0, cnx);
                    (false, false, cb)
                }
            };
            links.push(Link {
                t,
                part: ([cz0, cy0, cx0], [cnz, cny, cnx]),
                gather,
            });
            levels.push(Level::new(dim, cglobal, cblock, replicated));
        }
        Multigrid {
            dim,
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
    pub fn setup(&mut self, comm: &Comm, a: &Stencil, transposed: bool) -> Result<(), String> {
        self.transposed = transposed;
        let dim = self.dim;
        let fine = &mut self.levels[0];
        fine.a.clone_from(a);
        // The coefficients as fields with ghosts, for the face form.
        let coef: Vec<Field> = a
            .coefficients()
            .into_iter()
            .map(|v| {
                let mut f = a.field();
                krylov::load(&mut f, v);
                fine.halo.exchange(comm, &mut f, |_| ());
                f
            })
            .collect();
        let mut faces = FaceForm::from_stencil(&coef, transposed);
        for l in 0..self.links.len() {
            let (fine_levels, coarse_levels) = self.levels.split_at_mut(l + 1);
            let (fine, coarse) = (&mut fine_levels[l], &mut coarse_levels[0]);
            // Coarsening reads diagonal neighbours: edges and corners included.
            for f in faces.fields_mut() {
                fine.halo.fill(comm, f, 1);
            }
            let link = &self.links[l];
            let (start, extent) = if fine.replicated {
                ([0; 3], coarse.global)
            } else {
                link.part
            };
            let (fine_start, _) = fine.part();
            let values = coarsen_faces(&faces, fine_start, link.transfers(), start, extent);
            let (_, cext) = coarse.part();
            let mut next = FaceForm::zeros(dim == 3, cext);
            let refs: Vec<&[f64]> = values.iter().map(|v| v.as_slice()).collect();
            let values = if link.gather {
                gather(comm, link.part, &refs, coarse.global)
            } else {
                values
            };
            for (dst, src) in next.fields_mut().into_iter().zip(&values) {
                krylov::load(dst, src);
                if !link.gather {
                    coarse.halo.exchange(comm, dst, |_| ());
                }
            }
            coarse.a = next.stencil(transposed);
            faces = next;
        }
        // The coarsest level: factorise the global operator if affordable.
        let last = self.levels.last().expect("a level");
        self.direct = None;
        if BandLu::affordable(last.global) {
            let global = if last.replicated {
                last.a.clone()
            } else {
                let [gnz, gny, gnx] = last.global;
                let mut g = Stencil::for_dim(dim, gnz, gny, gnx);
                let values = gather(comm, last.part(), &last.a.coefficients(), last.global);
                for (dst, src) in g.coefficients_mut().into_iter().zip(values) {
                    *dst = src;
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
        let ([z0, y0, x0], [cnz, cny, cnx]) = if fine.replicated {
            ([0; 3], coarse.global)
        } else {
            link.part
        };
        let [tz, ty, tx] = link.transfers();
        let r = &fine.r;
        let ([fz0, fy0, fx0], _) = fine.part();
        let mut values = Vec::with_capacity(cnz * cny * cnx);
        for ck in 0..cnz {
            for cj in 0..cny {
                for ci in 0..cnx {
                    let mut v = 0.0;
                    for &(fk, wk) in &tz.restrict[z0 + ck] {
                        for &(fj, wj) in &ty.restrict[y0 + cj] {
                            for &(fi, wi) in &tx.restrict[x0 + ci] {
                                let k = r.index3(
                                    fk as isize - fz0 as isize,
                                    fj as isize - fy0 as isize,
                                    fi as isize - fx0 as isize,
                                );
                                v += (wk * wj * wi) * r.raw()[k];
                            }
                        }
                    }
                    values.push(v);
                }
            }
        }
        if link.gather {
            let g = gather(comm, link.part, &[&values], coarse.global);
            coarse.b.copy_from_slice(&g[0]);
        } else {
            coarse.b.copy_from_slice(&values);
        }
    }

    /// `x_l += P x_{l+1}`.
    fn prolong(&mut self, comm: &Comm, l: usize) {
        let (fine_levels, coarse_levels) = self.levels.split_at_mut(l + 1);
        let (fine, coarse) = (&mut fine_levels[l], &mut coarse_levels[0]);
        // Prolongation reads diagonal neighbours: edges and corners included.
        coarse.halo.fill(comm, &mut coarse.x, 1);
        let [tz, ty, tx] = self.links[l].transfers();
        let ([cz0, cy0, cx0], _) = coarse.part();
        let ([z0, y0, x0], [nz, ny, nx]) = fine.part();
        let xc = &coarse.x;
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let mut v = 0.0;
                    for &(ck, wk) in &tz.prolong[z0 + k] {
                        for &(cj, wj) in &ty.prolong[y0 + j] {
                            for &(ci, wi) in &tx.prolong[x0 + i] {
                                let kc = xc.index3(
                                    ck as isize - cz0 as isize,
                                    cj as isize - cy0 as isize,
                                    ci as isize - cx0 as isize,
                                );
                                v += (wk * wj * wi) * xc.raw()[kc];
                            }
                        }
                    }
                    let kf = fine.x.index3(k as isize, j as isize, i as isize);
                    fine.x.raw_mut()[kf] += v;
                }
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
        let mut global = if level.replicated {
            level.b.clone()
        } else {
            gather(comm, level.part(), &[&level.b], level.global).remove(0)
        };
        lu.solve(&mut global);
        let ([z0, y0, x0], [nz, ny, nx]) = level.part();
        let [_, gny, gnx] = level.global;
        for k in 0..nz {
            for j in 0..ny {
                let kf = level.x.index3(k as isize, j as isize, 0);
                let g = ((z0 + k) * gny + y0 + j) * gnx + x0;
                level.x.raw_mut()[kf..kf + nx].copy_from_slice(&global[g..g + nx]);
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
        krylov::store(&self.levels[0].x, z);
    }
}
