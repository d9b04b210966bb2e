"""Spot and perpetual positions: values known from today's spots, no path statistics.

Payoff: the spot, less the entry price for a perpetual (its P&L since entry). At a later
date a perpetual has also paid funding, ``funding_rate`` per year on the spot notional.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.instruments.base import (FamilyPlan, PlanContext, no_aux, nothing, pick,
                                     shift_expiry)

NAME = "linear"
TYPES = ("spot", "perpetual")
SNAPSHOT = False
KINDS = ("spot", "perp")


def plan(ctx: PlanContext, positions) -> FamilyPlan:
    return FamilyPlan(terms=dict(
        asset=np.array([p.assets[0] for p in positions], np.int32),
        offset=np.array([-p.terms["entry_price"] if p.type == "perpetual" else 0.0
                         for p in positions])), masks={})


residual = shift_expiry


init = nothing


update = nothing


def payoff(stats, terms: dict, snap, spots: jax.Array, rate, cond=None) -> jax.Array:
    return spots[terms["asset"]] + terms["offset"]


record_init = nothing


record = nothing


def closed_kind(p, model: str, revaluation: str = "auto") -> str:
    # Exact under every model and revaluation method.
    return "perp" if p.type == "perpetual" else "spot"


def closed_terms(kind: str, positions, date: float) -> dict:
    if kind != "perp":
        return {}
    return dict(entry=np.array([p.terms["entry_price"] for p in positions]),
                funding_rate=np.array([p.terms["funding_rate"] for p in positions]))


def closed_value(kind: str, g: dict, st, p, vols, stats) -> jax.Array:
    s1 = pick(jnp.exp(st.x), g["a1"])
    if kind == "spot":
        return s1
    # Longs pay funding_rate x notional per year; the notional is the spot.
    return s1 - g["entry"] - g["funding_rate"] * st.funding[g["a1"]]


shock_aux = no_aux


at_shock = nothing
