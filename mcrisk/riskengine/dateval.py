"""Revaluation of every position at one date, inside a kernel, for one scenario.

A `DatePlan` (host side) splits into its structure, a hashable `DateSpec` that goes into a
kernel's static spec, and its numbers, a pytree of arrays (`date_inputs`) passed as kernel
arguments. Only the structure decides the compiled program: a second run with other spots,
vols, strikes, dates or quantities but the same book shape reuses it. Which closed forms
apply travels as the keys of the group dict, part of the pytree's structure.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.instruments.book import Obs, take_rows
from mcrisk.models.base import Params, State
from mcrisk.random import sample_keys
from mcrisk.riskengine.revalue import DatePlan, ScenarioState, closed_values, group_arrays
from mcrisk.simulate import KernelSpec, chunk_payoffs


class DateSpec(NamedTuple):
    """Static structure of one revaluation date.

    Attributes:
        nested: kernel spec of the residual book revalued by nested Monte Carlo (None when
            nothing is nested at the date).
        inner_samples: antithetic pairs of inner paths per scenario.
        has_variance: the model carries its own variance (heston/bates): inner paths start
            from the scenario's variance rather than the revaluation vols.
        expired: some position has expired by the date (its realised payoff is needed).
    """

    nested: KernelSpec | None
    inner_samples: int
    has_variance: bool
    expired: bool = True


def date_inputs(dp: DatePlan, dtype: str) -> tuple[DateSpec, dict]:
    """Split a date plan into its static spec and its arrays (kernel arguments).

    Args:
        dp: the date's plan.
        dtype: simulation dtype of the float arrays.

    Returns:
        (spec, arrays): arrays holds the date, the expired mask, the closed-form groups and,
        where something is nested, the residual book's terms, scan inputs, the positions it
        fills and where its running statistics live in the outer plan.
    """
    arrays = dict(date=jnp.asarray(dp.date, dtype), expired=jnp.asarray(dp.expired),
                  groups=group_arrays(dp, dtype), slot=jnp.asarray(closed_slots(dp)))
    n = dp.nested
    if n is None:
        return DateSpec(nested=None, inner_samples=0, has_variance=False,
                        expired=bool(dp.expired.any())), arrays
    arrays.update(nested_pos=jnp.asarray(dp.nested_idx[n.plan.order]), terms=n.terms,
                  xs=n.xs, src={k: jnp.asarray(v) for k, v in dp.nested_src.items()})
    return DateSpec(nested=n.spec, inner_samples=n.n_samples,
                    has_variance=n.problem.model.has_variance,
                    expired=bool(dp.expired.any())), arrays


def closed_slots(dp: DatePlan) -> np.ndarray:
    """Per position, its index in the closed-form groups' values laid end to end in the
    order a kernel iterates them (pytree order: sorted kinds); the length of that vector
    (a trailing zero) for positions no closed form values."""
    slot = np.full(len(dp.expired), sum(len(g["idx"]) for g in dp.groups.values()), np.int32)
    at = 0
    for kind in sorted(dp.groups):
        idx = dp.groups[kind]["idx"]
        slot[idx] = np.arange(at, at + len(idx))
        at += len(idx)
    return slot


def value_at(spec: DateSpec, d: dict, st: ScenarioState, p: Params, vols: jax.Array,
             realized: jax.Array, key: jax.Array, halves: bool = False) -> jax.Array:
    """Value of every position (original order) at the date in one scenario.

    Args:
        spec: the date's static structure.
        d: the date's arrays (`date_inputs`).
        st: the scenario's state at the date.
        p: pricing-measure parameters (risk-neutral growth).
        vols: (assets,) vols for the closed forms and nested paths at the date.
        realized: (positions,) realised payoffs discounted to today (used where expired).
        key: key of this scenario and date for the nested paths.
        halves: also return the values with nested positions estimated from each half of
            the inner paths, for the nested-bias correction.

    Returns:
        (positions,) values; with `halves`, (3, positions): all inner paths, first half,
        second half.
    """
    out, samples = value_samples(spec, d, st, p, vols, realized, key)
    if samples is None:
        return jnp.stack([out] * 3) if halves else out
    idx = d["nested_pos"]
    if not halves:
        return out.at[idx].set(jnp.mean(samples, axis=0))
    m = samples.shape[0] // 2
    return jnp.stack([out.at[idx].set(jnp.mean(part, axis=0))
                      for part in (samples, samples[:m], samples[m:])])


def value_samples(spec: DateSpec, d: dict, st: ScenarioState, p: Params, vols: jax.Array,
                  realized: jax.Array, key: jax.Array):
    """Exact values (closed form or realised) of every position, original order, and the
    inner samples (antithetic-pair means, shape (pairs, nested positions), residual family
    order) of the nested ones; None when nothing is nested at this date."""
    # One gather from the groups' values laid end to end (and a trailing 0) rather than a
    # scatter per group: vmapped over scenarios, XLA's CPU scatter costs ~100x the gather.
    # Each group materialised (optimization_barrier): fused into the gather below, the
    # formulas ran element by element through the concatenation's branches, unvectorised.
    parts = [jax.lax.optimization_barrier(
        closed_values(kind, d["groups"][kind], st, p, vols).astype(realized.dtype))
        for kind in sorted(d["groups"])]
    out = jnp.concatenate(parts + [jnp.zeros((1,), realized.dtype)])[d["slot"]]
    if spec.expired:
        out = jnp.where(d["expired"], realized * jnp.exp(p.rate * d["date"]), out)
    if spec.nested is None:
        return out, None
    return out, _nested_samples(spec, d, st, p, vols, key)


def _nested_samples(spec: DateSpec, d: dict, st: ScenarioState, p: Params, vols: jax.Array,
                    key: jax.Array) -> jax.Array:
    """Inner Monte Carlo samples of the residual book, (pairs, nested positions)."""
    src = d["src"]
    shape = spec.nested.book
    # The residual positions' running statistics, taken from their outer rows.
    start_obs = Obs(snap=jnp.zeros((shape.n_snap, shape.n_assets), st.x.dtype),
                    stats={n: take_rows(st.obs.stats[n], src[n]) for n in shape.present})
    # gbm/merton carry vol^2 as their variance: re-base it on the revaluation vols.
    v = st.v if spec.has_variance else vols ** 2
    start = (State(x=st.x, v=v), start_obs)
    inner_params = p._replace(vols=vols)
    keys = sample_keys(key, jnp.asarray(0, jnp.uint32), spec.inner_samples)
    return chunk_payoffs(spec.nested, inner_params, d["terms"], d["xs"], keys, start)
