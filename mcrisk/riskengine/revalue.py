"""Full revaluation of every position at a later date, given the state of a scenario.

For each revaluation date the host sorts positions into:

* expired (expiry <= date): the realised payoff, carried from expiry at the rate;
* closed form: spot, perpetual (less funding paid), forward (any model); under gbm
  Black-Scholes european and digital, Reiner-Rubinstein barrier (conditional on the path so
  far: knocked or not), Margrabe exchange, Stulz best/worst-of two, geometric Asian with the
  fixings already observed; under heston the european by its characteristic function with
  the scenario's variance (bates: with the jumps' characteristic function); under merton the
  european by Merton's series;
* nested Monte Carlo for the rest (inner paths from the scenario's state under the pricing
  measure, with the running sums, extremes and barrier status carried in).

Each payoff family says which of its positions a closed form revalues (`closed_kind`) and
evaluates it (`closed_value`); see `mcrisk.instruments.base`.
The JAX side (`closed_values` here, `dateval.value_at`) works on one scenario and is vmapped
by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.config.positions import event_times, path_expiries
from mcrisk.engine import Prepared, prepare
from mcrisk.grid import TimeGrid, grid_from_times, make_grid
from mcrisk.instruments import BY_KIND
from mcrisk.instruments.book import Obs, family_of, take_rows
from mcrisk.models.base import Params
from mcrisk.problem import MIN_VOL, Position, Problem, Sim, min_steps_of
from mcrisk.riskengine import surfvol


def shocked_vols(base_vols, shifts):
    """Vols after additive shifts, floored at `MIN_VOL`, and where the floor applied.

    The one place a vol shift becomes a revaluation vol: closed forms and nested paths take
    the vols, heston/bates take their squares as the variance, so every method sees the same
    vol. Works on NumPy (host: which points to report) and JAX arrays (kernels) alike.

    Args:
        base_vols: (..., assets) vols before the shift.
        shifts: (..., assets) absolute vol shifts (0.1 = +10 vol points).

    Returns:
        (vols, floored): the floored vols and a bool array, True where base + shift < MIN_VOL.
    """
    raw = base_vols + shifts
    xp = jnp if isinstance(raw, jax.Array) else np
    return xp.maximum(raw, MIN_VOL), raw < MIN_VOL


def closed_kind(p: Position, model: str, revaluation: str = "auto") -> str | None:
    """The closed form that revalues `p` under `model`, or None (nested Monte Carlo).

    `revaluation="nested"` sends every option to nested Monte Carlo (linear positions keep
    their exact values): a check of the nested estimator against the closed forms.
    """
    return family_of(p).closed_kind(p, model, revaluation)


class ScenarioState(NamedTuple):
    """One scenario at one date (arrays per asset or per family member of the book plan)."""

    x: jax.Array  # (assets,) log spots
    v: jax.Array  # (assets,) variances (vol^2 under gbm/merton)
    obs: Obs  # running statistics; a barrier's `survival` holds the 0/1 alive indicator
    funding: jax.Array  # (assets,) integral of the spot over [0, date], for perpetual funding
    # (assets, 4) surface moves of a stress point: vol shift, skew, term, expiry power
    # (`mcrisk.riskengine.surfvol`); None: the shift is the revaluation vols' own.
    moves: jax.Array | None = None


@dataclass(frozen=True)
class DatePlan:
    """How each position is revalued at one date (host side, NumPy)."""

    date: float
    expired: np.ndarray  # (positions,) bool
    groups: dict  # kind -> dict of arrays incl. "idx" (position indices)
    nested_idx: np.ndarray  # positions revalued by nested MC
    nested: Prepared | None  # residual problem of the nested positions
    nested_src: dict  # family -> indices into the outer plan's family arrays


def valuation_grid(problem: Problem, dates) -> TimeGrid:
    """One grid for every nested valuation: the book's events, the risk dates and
    `sim.n_steps` uniform steps over the book's life, refined by `sim.steps_per_year` and
    `sim.min_steps` as in `make_grid`. Nested paths from date d walk its nodes
    after d and key their draws by the global step index, so inner paths with one key from
    today and from a later date share the draws of each calendar interval after that date
    (a scenario's nested loss then differences two estimates on common random numbers)."""
    events = [t for p in problem.positions for t in event_times(p)] + [d for d in dates if d > 0]
    sim = problem.sim
    return make_grid(events or [max(dates)], sim.n_steps, steps_per_year=sim.steps_per_year,
                     min_steps=min_steps_of(sim, problem.model.name), path_expiries=path_expiries(problem.positions))


def plan_date(problem: Problem, outer: Prepared, date: float, inner_paths: int,
              val_grid: TimeGrid, only_nested: np.ndarray | None = None) -> DatePlan:
    """Sort positions by revaluation method at `date` and build the nested residual book.

    `only_nested`: revalue just these positions, all by nested Monte Carlo; the others are
    left out (marked expired: their value is whatever `realized` says, zero in practice).
    """
    model = problem.model.name
    revaluation = "nested" if only_nested is not None else problem.risk.revaluation
    pos = problem.positions
    expiry = np.array([p.terms.get("expiry", np.inf) for p in pos])
    expired = expiry <= date * (1 + 1e-12)
    if only_nested is not None:
        expired = ~np.isin(np.arange(len(pos)), only_nested)
    kinds = {}
    nested_idx = []
    for i, p in enumerate(pos):
        if expired[i]:
            continue
        k = closed_kind(p, model, revaluation)
        if k is None:
            nested_idx.append(i)
        else:
            kinds.setdefault(k, []).append(i)
    outer_row = {int(i): r for r, i in enumerate(outer.plan.order)}
    shape = outer.plan.shape
    groups = {}
    for k, idx in kinds.items():
        g = _group_terms(problem, k, idx, date)
        fam = BY_KIND[k].NAME
        # Row of each position in its family's running statistics (outer plan order).
        g["row"] = np.array([outer_row[i] - shape.rows(fam).start for i in idx], np.int32)
        groups[k] = g
    nested = None
    src: dict = {}
    if nested_idx:
        residual = [family_of(pos[i]).residual(pos[i], date) for i in nested_idx]
        t_max = max(p.terms["expiry"] for p in residual)
        times = val_grid.times
        k0 = int(np.argmin(np.abs(times - date)))
        assert abs(times[k0] - date) <= 1e-12 * max(1.0, date), "date not on the grid"
        k1 = int(np.argmin(np.abs(times - (date + t_max))))
        grid = grid_from_times(times[k0:k1 + 1] - date,
                               [t for p in residual for t in event_times(p)])
        sub = replace(problem, positions=tuple(residual),
                      sim=Sim(n_paths=inner_paths, n_steps=grid.n_steps, seed=problem.sim.seed,
                              antithetic=True, dtype=problem.sim.dtype,
                              chunk_size=inner_paths))
        # Inner paths run inside one scenario's kernel, never split over devices.
        nested = prepare(sub, grid=grid, step_offset=k0, devices=1)
        # Where each residual family member's running statistics live in the outer plan.
        for fam in nested.plan.shape.present:
            rows = [outer_row[nested_idx[int(j)]] - shape.rows(fam).start
                    for j in nested.plan.order[nested.plan.shape.rows(fam)]]
            src[fam] = np.array(rows, np.int32)
    return DatePlan(date=date, expired=expired, groups=groups,
                    nested_idx=np.array(nested_idx, np.int64), nested=nested, nested_src=src)


def group_arrays(dp: DatePlan, dtype: str) -> dict:
    """A date plan's closed-form terms as JAX arrays (floats in the simulation dtype)."""
    return {k: {f: jnp.asarray(a, dtype) if a.dtype == np.float64 else jnp.asarray(a)
                for f, a in g.items()} for k, g in dp.groups.items()}


def _group_terms(problem: Problem, kind: str, idx: list[int], date: float) -> dict:
    pos = [problem.positions[i] for i in idx]
    g: dict = {"idx": np.array(idx, np.int32)}
    g["a1"] = np.array([p.assets[0] for p in pos], np.int32)
    g["a2"] = np.array([p.assets[-1] for p in pos], np.int32)
    g["tau"] = np.array([p.terms.get("expiry", date) - date for p in pos])
    g["strike"] = np.array([p.terms.get("strike", 0.0) for p in pos])
    g["call"] = np.array([p.terms.get("option", "call") == "call" for p in pos])
    g.update(BY_KIND[kind].closed_terms(kind, pos, date))
    if problem.surface is not None and kind in surfvol.KINDS:
        g.update(surfvol.group_terms(problem, kind, g))
    return g


def closed_values(kind: str, g: dict, st: ScenarioState, p: Params,
                  vols: jax.Array) -> jax.Array:
    """Values of one closed-form group in one scenario (vols: revaluation vols per asset)."""
    fam = BY_KIND[kind]
    stats = st.obs.stats.get(fam.NAME, ())
    if surfvol.marked(g):
        g = surfvol.with_contract_vols(kind, g, st, p, vols)
    return fam.closed_value(kind, g, st, p, vols, take_rows(stats, g["row"]))
