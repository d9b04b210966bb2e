"""Floating-strike lookbacks: a call pays S_T - min S, a put max S - S_T.

The path statistics are the running max and min, with the Brownian bridge's extreme within
each step sampled exactly given its endpoints (two uniforms per step, the draws' `bridge`).
No closed form at a later date: revalued by nested Monte Carlo from the running extremes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.instruments.base import (FamilyPlan, PlanContext, no_aux, nothing, shift_expiry,
                                     sign)

NAME = "lookback"
TYPES = ("lookback",)
SNAPSHOT = True
KINDS = ()


class LookbackStats(NamedTuple):
    run_max: jax.Array  # (lookback,) running maximum of the spot
    run_min: jax.Array  # (lookback,) running minimum of the spot


def plan(ctx: PlanContext, positions) -> FamilyPlan:
    lb = positions
    terms = dict(
        asset=np.array([p.assets[0] for p in lb], np.int32),
        slot=np.array([ctx.slot(p.terms["expiry"]) for p in lb], np.int32),
        sign=np.array([sign(p) for p in lb]),
        expiry=np.array([p.terms["expiry"] for p in lb]))
    masks = dict(active=np.stack([ctx.active(p.terms["expiry"]) for p in lb], axis=1)
                 if lb else np.zeros((ctx.n_steps, 0), bool))
    return FamilyPlan(terms=terms, masks=masks)


residual = shift_expiry


def init(terms: dict, x0: jax.Array) -> LookbackStats:
    s = jnp.exp(x0)[terms["asset"]]
    return LookbackStats(run_max=s, run_min=s)


def update(stats: LookbackStats, terms: dict, masks: dict, x0, x1, var, draws):
    dx = x1 - x0
    # Exact sample of the bridge max/min given the endpoints (reflection principle).
    hi = 0.5 * (x0 + x1 + jnp.sqrt(dx * dx - 2.0 * var * jnp.log(draws.u_max)))
    lo = 0.5 * (x0 + x1 - jnp.sqrt(dx * dx - 2.0 * var * jnp.log(draws.u_min)))
    act = masks["active"]
    a = terms["asset"]
    return LookbackStats(
        run_max=jnp.where(act, jnp.maximum(stats.run_max, jnp.exp(hi[a])), stats.run_max),
        run_min=jnp.where(act, jnp.minimum(stats.run_min, jnp.exp(lo[a])), stats.run_min))


def payoff(stats: LookbackStats, terms: dict, snap: jax.Array, spots, rate: jax.Array,
           cond=None) -> jax.Array:
    s_t = snap[terms["slot"], terms["asset"]]
    pay = jnp.where(terms["sign"] > 0, s_t - stats.run_min, stats.run_max - s_t)
    return pay * jnp.exp(-rate * terms["expiry"])


record_init = nothing


record = nothing


def closed_kind(p, model: str, revaluation: str = "auto") -> None:
    return None


def closed_terms(kind: str, positions, date: float) -> dict:
    raise AssertionError(kind)


def closed_value(kind: str, g: dict, st, p, vols, stats):
    raise AssertionError(kind)


shock_aux = no_aux


def at_shock(terms: dict, aux: dict, s, x, s0) -> LookbackStats:
    a = terms["asset"]
    return LookbackStats(run_max=jnp.maximum(s0[a], s[a]), run_min=jnp.minimum(s0[a], s[a]))
