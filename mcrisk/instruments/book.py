"""A book as payoff families (struct of arrays, `mcrisk.instruments.FAMILIES`), the path
statistics they need, and their payoffs.

`plan_book` groups the positions on the host (NumPy), each family planning its own terms
and step masks; `init_obs`, `update_obs` and `payoffs` run inside the kernel for one path
and visit only the families the book holds, so a book of europeans carries no barrier or
lookback work.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.grid import TimeGrid
from mcrisk.instruments import BY_NAME, FAMILIES, OF_TYPE
from mcrisk.instruments.base import PlanContext, pick
from mcrisk.problem import Problem


class BookShape(NamedTuple):
    """Static (hashable) part of a book: positions per family (registry order), the asset
    count and the snapshot dates count."""

    n_assets: int
    sizes: tuple[int, ...]
    n_snap: int

    def size(self, name: str) -> int:
        return self.sizes[[f.NAME for f in FAMILIES].index(name)]

    @property
    def present(self) -> tuple[str, ...]:
        """Names of the families the book holds, in registry order."""
        return tuple(f.NAME for f, n in zip(FAMILIES, self.sizes) if n)

    @property
    def bridge(self) -> bool:
        """The path needs the bridge-extreme uniforms (lookbacks)."""
        return self.size("lookback") > 0

    def rows(self, name: str) -> slice:
        """Where family `name` sits in the concatenated outputs."""
        k = [f.NAME for f in FAMILIES].index(name)
        start = sum(self.sizes[:k])
        return slice(start, start + self.sizes[k])


class BookPlan(NamedTuple):
    """Host-side result of grouping: static shape, array terms, per-step masks, ordering."""

    shape: BookShape
    terms: dict  # family -> dict of NumPy arrays (leading axis: positions of the family)
    step_masks: dict  # "snap" and family -> dict of (steps, k) bool arrays, scanned over
    order: np.ndarray  # position index of each entry of the concatenated family outputs
    snap_times: np.ndarray  # dates of the spot snapshots


class Obs(NamedTuple):
    """Per-path statistics carried through the scan."""

    snap: jax.Array  # (snap, assets) spots at the snapshot dates
    stats: dict  # family -> its running statistics (families the book holds)


def family_of(p):
    """The family module of a position."""
    return OF_TYPE[p.type]


def plan_book(problem: Problem, grid: TimeGrid, smoothing: float) -> BookPlan:
    """Group the positions of `problem` into families on `grid` (NumPy, before tracing)."""
    idx: dict[str, list[int]] = {f.NAME: [] for f in FAMILIES}
    for i, p in enumerate(problem.positions):
        idx[family_of(p).NAME].append(i)
    pos = problem.positions
    snap_times = np.array(sorted({pos[i].terms["expiry"] for f in FAMILIES if f.SNAPSHOT
                                  for i in idx[f.NAME]}), dtype=np.float64)
    ctx = PlanContext(problem=problem, grid=grid, smoothing=smoothing, snap_times=snap_times)
    terms, masks = {}, {}
    for f in FAMILIES:
        if idx[f.NAME]:
            fp = f.plan(ctx, [pos[i] for i in idx[f.NAME]])
            terms[f.NAME] = fp.terms
            masks[f.NAME] = fp.masks
    masks["snap"] = (np.stack([np.isclose(grid.times[1:], s, rtol=1e-12, atol=0)
                               for s in snap_times], axis=1)
                     if len(snap_times) else np.zeros((ctx.n_steps, 0), bool))
    order = np.array([i for f in FAMILIES for i in idx[f.NAME]], np.int64)
    shape = BookShape(n_assets=problem.market.n_assets,
                      sizes=tuple(len(idx[f.NAME]) for f in FAMILIES), n_snap=len(snap_times))
    return BookPlan(shape=shape, terms=terms, step_masks=masks, order=order,
                    snap_times=snap_times)


def init_obs(shape: BookShape, terms: dict, x0: jax.Array) -> Obs:
    return Obs(snap=jnp.zeros((shape.n_snap, shape.n_assets), x0.dtype),
               stats={n: BY_NAME[n].init(terms[n], x0) for n in shape.present})


def update_obs(obs: Obs, terms: dict, masks: dict, x0: jax.Array, x1: jax.Array,
               var: jax.Array, draws) -> Obs:
    """Fold one step (log spots x0 -> x1, per-asset integrated variance `var`) into `obs`."""
    snap = jax.lax.cond(masks["snap"].any(),
                        lambda s: jnp.where(masks["snap"][:, None], jnp.exp(x1)[None, :], s),
                        lambda s: s, obs.snap)
    return Obs(snap=snap, stats={n: BY_NAME[n].update(s, terms[n], masks[n], x0, x1, var, draws)
                                 for n, s in obs.stats.items()})


def payoffs(obs: Obs, terms: dict, spots: jax.Array, rate: jax.Array,
            cond=None, families: tuple[str, ...] | None = None,
            lr_term: bool = True) -> jax.Array:
    """Discounted payoff per position of one path, in family order (see `BookPlan.order`).

    `cond` (Greeks kernel): what `conditional.record` kept along the path. Terminal
    single-asset, asian and barrier payoffs are then replaced by their conditional
    expectation over the last step, and multi-asset vanilla rows carry the pathwise-LR gamma
    (`mcrisk.instruments.conditional`): all their Greeks unbiased, no smoothing.
    `families`: only these families' rows (still in family order). `lr_term` False: the
    families with likelihood-ratio gammas leave them out (`lr_gammas` gives them).
    """
    # Registry order, not the dict's: pytrees come back from a scan with sorted keys.
    out = [f.payoff(obs.stats[f.NAME], terms[f.NAME], obs.snap, spots, rate, cond,
                    **({} if lr_term or not hasattr(f, "lr_gamma") else {"lr_term": False}))
           for f in FAMILIES
           if f.NAME in obs.stats and (families is None or f.NAME in families)]
    return jnp.concatenate(out) if out else jnp.zeros((0,), spots.dtype)


def lr_gammas(shape: BookShape, obs: Obs, terms: dict, spots: jax.Array, rate: jax.Array,
              cond, families: tuple[str, ...]) -> jax.Array:
    """(rows, n, n) likelihood-ratio gammas of the rows of `families` (as `payoffs` orders
    them; zero for families without them)."""
    n = shape.n_assets
    out = [f.lr_gamma(obs.stats[f.NAME], terms[f.NAME], obs.snap, spots, rate, cond)
           if hasattr(f, "lr_gamma") else jnp.zeros((shape.size(f.NAME), n, n), spots.dtype)
           for f in FAMILIES if f.NAME in obs.stats and f.NAME in families]
    return jnp.concatenate(out)


def record_families(rec: dict, obs: Obs, terms: dict, masks: dict, mean: jax.Array,
                    var: jax.Array) -> dict:
    """The families' own part of the Greeks kernel's last-step record (`obs` before the step)."""
    return {n: BY_NAME[n].record(r, obs.stats[n], terms[n], masks[n], mean, var)
            for n, r in rec.items()}


def init_records(shape: BookShape, dtype) -> dict:
    return {n: BY_NAME[n].record_init(shape.size(n), dtype) for n in shape.present}


def take_rows(stats, rows: jax.Array):
    """The rows `rows` of a family's statistics (every array's leading axis)."""
    return jax.tree_util.tree_map(lambda a: pick(a, rows), stats)
