"""Per-path simulation: one `lax.scan` over the time grid whose carry is the model state and
the path statistics the book needs; the output is the discounted payoff of every position.

Written for one path (vmap over paths happens in the engine). No paths x steps x assets
array is ever built.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk import corr as corrlib
from mcrisk.grid import TimeGrid
from mcrisk.instruments import conditional
from mcrisk.instruments.book import (BookPlan, BookShape, Obs, init_obs, init_records, payoffs,
                                     record_families, update_obs)
from mcrisk.models import REGISTRY
from mcrisk.models.base import Params, State
from mcrisk.problem import Problem
from mcrisk.random import BLOCK, DrawLayout, n_normals, next_normals, step_draws


class KernelSpec(NamedTuple):
    """Everything static about a kernel: one compilation per distinct spec and shapes."""

    model: str
    book: BookShape
    layout: DrawLayout
    antithetic: bool
    samples: int  # samples (paths, or antithetic pairs) per chunk
    dtype: str
    greeks: bool  # Greeks kernel: under gbm, terminal payoffs conditioned on the last step


def make_params(problem: Problem, dtype: str) -> Params:
    """Problem -> JAX parameter pytree in the simulation dtype."""
    m, mod = problem.market, problem.model
    f = lambda a: jnp.asarray(np.asarray(a, np.float64), dtype)  # noqa: E731
    return Params(spots=f(m.spots), vols=f(mod.base_vols(m)), dividends=f(m.dividends),
                  rate=f(m.rate), chol=f(corrlib.factor(m.corr)),
                  model=REGISTRY[mod.name].make_params(mod.params, f))


def make_layout(problem: Problem, shape: BookShape) -> DrawLayout:
    return DrawLayout(n_assets=problem.market.n_assets, variance=problem.model.has_variance,
                      jumps=problem.model.has_jumps, bridge=shape.bridge)


def scan_inputs(grid: TimeGrid, plan: BookPlan, dtype: str, step_offset: int = 0) -> dict:
    """Per-step arrays the scan walks over: step index (the draws' key), dt, step masks."""
    return dict(k=step_offset + jnp.arange(grid.n_steps, dtype=jnp.int32),
                dt=jnp.asarray(grid.dt, dtype),
                masks=jax.tree_util.tree_map(jnp.asarray, plan.step_masks))


def path_payoffs(spec: KernelSpec, params: Params, terms: dict, xs: dict, key: jax.Array,
                 mirror: jax.Array, start: tuple[State, Obs] | None = None) -> jax.Array:
    """Discounted payoffs, shape (positions,) in family order, of one path.

    `start` replaces today's state and empty statistics (nested revaluation from a scenario).
    """
    model = REGISTRY[spec.model]
    dtype = jnp.dtype(spec.dtype)
    tiny = jnp.finfo(dtype).tiny
    if start is None:
        state0 = model.init(params)
        obs0 = init_obs(spec.book, terms, state0.x)
    else:
        state0, obs0 = start

    first = xs["k"][0]
    n_steps = xs["k"].shape[0]
    # The Greeks kernel conditions on each asset's last step, normal given its start (and,
    # by model, the variance driver and jumps): `model.last_step` gives that law.
    conditioned = spec.greeks

    def body(carry, x):
        state, obs, cond, buf = carry
        normals, buf = next_normals(key, x["k"], first, buf, spec.layout, n_steps)
        draws = step_draws(key, x["k"], spec.layout, mirror,
                           model.jump_intensity(params) * x["dt"],
                           dtype, normals)
        new = model.step(params, state, x["dt"], draws)
        var = jnp.maximum(state.v * x["dt"], tiny)
        if conditioned:
            rec, acc = cond
            if sv is not None:
                _, var_sv = model.last_step(params, state, x["dt"], draws)
                acc = conditional.accumulate(acc, params, terms, x["dt"], draws,
                                             jnp.maximum(var_sv, tiny), sv)
            else:
                acc = conditional.accumulate(acc, params, terms, x["dt"], draws)

            def keep(rec):
                mean, var_end = model.last_step(params, state, x["dt"], draws)
                var_end = jnp.maximum(var_end, tiny)
                rec = conditional.record(rec, acc, terms, x["masks"], state.x, state.v,
                                         mean, var_end, var, sv)
                # The families record from the statistics before the step (the last
                # fixing's and the expiry step's own contributions are what the
                # conditioning integrates).
                return rec._replace(family=record_families(rec.family, obs, terms,
                                                           x["masks"], mean, var_end))

            # Records change only on the few steps that end a date some payoff conditions
            # on; elsewhere the branch (and its tangents) is skipped, not selected away.
            cond = (jax.lax.cond(conditional.record_step(x["masks"], rec.family), keep,
                                 lambda r: r, rec),
                    acc)
        obs = update_obs(obs, terms, x["masks"], state.x, new.x, var, draws)
        return (new, obs, cond, buf), None

    b = spec.book
    n_sv = terms["terminal"]["sv_row"].shape[0] if "terminal" in terms else 0
    sv = conditional.sv_matrices(params, terms["terminal"]) if conditioned and n_sv else None
    cond0 = (conditional.init(b.n_snap, b.n_assets, n_sv, dtype, init_records(b, dtype))
             if conditioned else ())
    buf0 = jnp.zeros((BLOCK, n_normals(spec.layout)), dtype)
    (_, obs, cond, _), _ = jax.lax.scan(body, (state0, obs0, cond0, buf0), xs)
    return payoffs(obs, terms, params.spots, params.rate, cond[0] if conditioned else None)


def sample_payoffs(spec: KernelSpec, params: Params, terms: dict, xs: dict,
                   key: jax.Array, start: tuple[State, Obs] | None = None) -> jax.Array:
    """Payoffs of one sample: a path, or the mean over an antithetic pair."""
    if not spec.antithetic:
        return path_payoffs(spec, params, terms, xs, key, jnp.asarray(False), start)
    both = jax.vmap(lambda m: path_payoffs(spec, params, terms, xs, key, m, start))(
        jnp.array([False, True]))
    return 0.5 * (both[0] + both[1])
