"""Vega by expiry bucket, and today's value, of the positions marked on `market.surface`.

Each closed-form position's vega is the derivative of its closed form with respect to a
parallel shift of its own contract vol (`mcrisk.riskengine.surfvol`), by forward-mode
differentiation of the same revaluation the risk engine runs today (analytic, no bumps);
positions valued by Monte Carlo have no surface vega and are listed apart. Buckets are by
the time to expiry in days: ``<= edge_1``, ``(edge_1, edge_2]``, ..., ``> edge_n``. The same
forward-mode pass gives each marked position's value on the smile (the primal).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.engine import prepare
from mcrisk.instruments.book import init_obs
from mcrisk.models import REGISTRY
from mcrisk.problem import Problem
from mcrisk.riskengine import surfvol
from mcrisk.riskengine.results import BucketVega
from mcrisk.riskengine.revalue import (ScenarioState, closed_values, group_arrays, plan_date,
                                       valuation_grid)

def bucket_labels(edges) -> list[str]:
    """Names of the buckets: ``<=7d``, ``7-30d``, ..., ``>180d``."""
    return ([f"<={edges[0]:g}d"] + [f"{a:g}-{b:g}d" for a, b in zip(edges[:-1], edges[1:])]
            + [f">{edges[-1]:g}d"])


def surface_vega(problem: Problem) -> BucketVega | None:
    """Vega per expiry bucket (edges `market.surface.vega_buckets`, in days), per 1.00 of
    vol, of the book and each surface-marked position (scaled by its quantity); None
    without a surface."""
    got = _marked(problem)
    return None if got is None else got[0]


def surface_values(problem: Problem, mc_values: dict) -> dict | None:
    """Today's value of the book on the surface: each surface-marked position at its closed
    form on its own contract vol, every other position at `mc_values` (name -> value,
    quantity included: the Monte Carlo estimate at the flat vol); None without a surface.

    Returns:
      ``{"book": total, "positions": {name: value}, "method": {name: how}}``.
    """
    got = _marked(problem)
    if got is None:
        return None
    marks = got[1]
    names = [p.name for p in problem.positions]
    values = {n: marks.get(n, mc_values[n]) for n in names}
    return {"book": float(sum(values.values())) + 0.0, "positions": values,
            "method": {n: ("closed form at the contract's surface vol" if n in marks else
                           "monte carlo at the flat market.vol (no Black-Scholes closed form)")
                       for n in names}}


def _marked(problem: Problem) -> tuple[BucketVega, dict] | None:
    """(vega by bucket as `surface_vega` returns it, {name: value on the surface}) of the
    surface-marked positions."""
    if problem.surface is None:
        return None
    edges = problem.surface.vega_buckets
    prep = prepare(problem)
    dp = plan_date(problem, prep, 0.0, 4, valuation_grid(problem, [0.0]))
    groups = {k: g for k, g in dp.groups.items() if k in surfvol.KINDS}
    labels = tuple(bucket_labels(edges))
    names = [p.name for p in problem.positions]
    if not groups:
        return BucketVega(labels, np.zeros(len(labels)), (), np.zeros((0, len(labels))),
                          tuple(names)), {}
    dp_g = type(dp)(date=0.0, expired=dp.expired, groups=groups, nested_idx=dp.nested_idx,
                    nested=None, nested_src={})
    values, vegas = jax.device_get(_vega_kernel(prep.spec.model, prep.plan.shape, prep.params,
                                                prep.terms, group_arrays(dp_g, prep.spec.dtype)))
    vega, marks = {}, {}
    for kind, g in groups.items():
        for i, v, x in zip(g["idx"], np.asarray(vegas[kind], np.float64),
                           np.asarray(values[kind], np.float64)):
            p = problem.positions[int(i)]
            days = 365.0 * p.terms["expiry"]
            row = np.zeros(len(labels))
            row[int(np.searchsorted(np.asarray(edges, float), days, side="left"))] = \
                float(p.quantity * v)
            vega[int(i)] = row + 0.0  # never -0.0
            marks[p.name] = float(p.quantity * x) + 0.0
    order = sorted(vega)
    rows = np.array([vega[i] for i in order]).reshape(len(order), len(labels))
    return BucketVega(labels, rows.sum(axis=0) + 0.0, tuple(names[i] for i in order), rows,
                      tuple(n for i, n in enumerate(names) if i not in vega)), marks


@partial(jax.jit, static_argnames=("model", "shape"))
def _vega_kernel(model: str, shape, p, terms: dict, groups: dict) -> dict:
    state = REGISTRY[model].init(p)
    obs = init_obs(shape, terms, state.x)

    def values(eps):
        z = jnp.zeros_like(p.vols)
        moves = jnp.stack([z + eps, z, z, z], axis=-1)
        st = ScenarioState(x=state.x, v=state.v, obs=obs, funding=z, moves=moves)
        return {k: closed_values(k, g, st, p, p.vols) for k, g in groups.items()}

    one = jnp.ones((), p.vols.dtype)
    return jax.jvp(values, (jnp.zeros((), p.vols.dtype),), (one,))
