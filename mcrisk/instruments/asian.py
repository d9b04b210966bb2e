"""Asian options: a call or put on the arithmetic or geometric average of fixings.

The path statistics are the running sum and log-sum of the fixings so far. A residual
contract at a later date keeps its remaining fixing dates (`remaining_fixings`); the earlier
fixings stay in the running sums. Under gbm a geometric Asian has a closed form at any date.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from mcrisk.instruments import conditional, smooth
from mcrisk.instruments.base import FamilyPlan, PlanContext, contract_vols, pick, sign

NAME = "asian"
TYPES = ("asian",)
SNAPSHOT = False
KINDS = ("geo_asian",)


class AsianStats(NamedTuple):
    sum: jax.Array  # (asian,) sum of the fixings so far
    logsum: jax.Array  # (asian,) sum of their logs


class AsianRecord(NamedTuple):
    """Greeks kernel: the law of the last fixing given its step's start, and the sums
    of the fixings before it."""

    mean: jax.Array
    var: jax.Array
    sum: jax.Array
    logsum: jax.Array


def fixing_dates(p) -> list[float]:
    """Fixing dates of an Asian still to come; `remaining_fixings` marks a residual contract
    (a position re-based at a later date, its earlier fixings already in the running sums)."""
    if "remaining_fixings" in p.terms:
        return list(p.terms["remaining_fixings"])
    n = p.terms["fixings"]
    return [p.terms["expiry"] * (k + 1) / n for k in range(n)]


def plan(ctx: PlanContext, positions) -> FamilyPlan:
    times = ctx.grid.times
    fix = np.zeros((ctx.n_steps, len(positions)), bool)
    fix_last = np.zeros_like(fix)
    for r, p in enumerate(positions):
        for d in fixing_dates(p):
            if d <= times[-1] * (1 + 1e-12):  # a scenario grid may end before the expiry
                fix[ctx.grid.index_of(d) - 1, r] = True
        if fix[:, r].any() and max(fixing_dates(p)) <= times[-1] * (1 + 1e-12):
            fix_last[np.flatnonzero(fix[:, r])[-1], r] = True
    terms = dict(
        asset=np.array([p.assets[0] for p in positions], np.int32),
        n_fix=np.array([p.terms["fixings"] for p in positions], np.float64),
        geometric=np.array([p.terms["average"] == "geometric" for p in positions], bool),
        sign=np.array([sign(p) for p in positions]),
        strike=np.array([p.terms["strike"] for p in positions]),
        expiry=np.array([p.terms["expiry"] for p in positions]),
        conditional=fix_last.any(axis=0),
        eps=np.array([ctx.smoothing * ctx.scale(p.assets, [1.0], p.terms["expiry"])
                      / np.sqrt(3.0) for p in positions]))
    return FamilyPlan(terms=terms, masks=dict(fix=fix, last=fix_last))


def residual(p, date: float):
    terms = dict(p.terms)
    terms["expiry"] = p.terms["expiry"] - date
    terms["remaining_fixings"] = [d - date for d in fixing_dates(p) if d > date + 1e-12]
    return replace(p, terms=terms)


def init(terms: dict, x0: jax.Array) -> AsianStats:
    z = jnp.zeros(terms["asset"].shape, x0.dtype)
    return AsianStats(sum=z, logsum=z)


def update(stats: AsianStats, terms: dict, masks: dict, x0, x1, var, draws) -> AsianStats:
    fix = masks["fix"].astype(x1.dtype)
    a = terms["asset"]
    return AsianStats(sum=stats.sum + fix * jnp.exp(x1[a]), logsum=stats.logsum + fix * x1[a])


def payoff(stats: AsianStats, terms: dict, snap, spots, rate: jax.Array,
           cond: conditional.LastStep | None = None) -> jax.Array:
    ta = terms
    avg = jnp.where(ta["geometric"], jnp.exp(stats.logsum / ta["n_fix"]),
                    stats.sum / ta["n_fix"])
    pay = smooth.kink(ta["sign"] * (avg - ta["strike"]), ta["eps"])
    if cond is not None:
        pay = jnp.where(ta["conditional"], conditional_payoff(ta, cond.family[NAME]), pay)
    return pay * jnp.exp(-rate * ta["expiry"])


def conditional_payoff(ta: dict, rec: AsianRecord) -> jax.Array:
    """E[payoff | path up to the last fixing's step]: the last fixing is the only unknown.

    Arithmetic: ``(sum + S)/n - K`` is ``(S - (n K - sum)) / n``, a vanilla with a shifted
    strike (a certain forward once the strike is met). Geometric: the log-average is normal.
    """
    n = ta["n_fix"]
    arith = conditional.vanilla(rec.mean, rec.var, n * ta["strike"] - rec.sum, ta["sign"]) / n
    geo = conditional.vanilla((rec.logsum + rec.mean) / n, rec.var / (n * n), ta["strike"],
                              ta["sign"])
    return jnp.where(ta["geometric"], geo, arith)


def record_init(n: int, dtype) -> AsianRecord:
    return AsianRecord(mean=jnp.zeros((n,), dtype), var=jnp.ones((n,), dtype),
                       sum=jnp.zeros((n,), dtype), logsum=jnp.zeros((n,), dtype))


def record(rec: AsianRecord, stats: AsianStats, terms: dict, masks: dict, mean: jax.Array,
           var: jax.Array) -> AsianRecord:
    """`stats` are the sums before the step, so those recorded exclude the last fixing."""
    last = masks["last"]
    a = terms["asset"]
    return AsianRecord(mean=jnp.where(last, mean[a], rec.mean),
                       var=jnp.where(last, var[a], rec.var),
                       sum=jnp.where(last, stats.sum, rec.sum),
                       logsum=jnp.where(last, stats.logsum, rec.logsum))


def closed_kind(p, model: str, revaluation: str = "auto") -> str | None:
    if revaluation != "nested" and model == "gbm" and p.terms["average"] == "geometric":
        return "geo_asian"
    return None


def closed_terms(kind: str, positions, date: float) -> dict:
    # log G = (past log-sum + sum of future log fixings) / n; the future part is normal
    # given today's spot: mean n_f x + drift_sum, variance vol^2 * cov_sum.
    n_f, t_sum, c_sum = [], [], []
    for p in positions:
        fut = np.array([d - date for d in fixing_dates(p) if d > date + 1e-12])
        n_f.append(len(fut))
        t_sum.append(fut.sum())
        c_sum.append(np.minimum.outer(fut, fut).sum() if len(fut) else 0.0)
    return dict(n_total=np.array([p.terms["fixings"] for p in positions], np.float64),
                n_future=np.array(n_f, np.float64), t_sum=np.array(t_sum),
                c_sum=np.array(c_sum))


def closed_value(kind: str, g: dict, st, p, vols: jax.Array, stats: AsianStats) -> jax.Array:
    s = pick(jnp.exp(st.x), g["a1"])
    vol, r, q = contract_vols(g, vols)[0], p.rate, p.dividends[g["a1"]]
    n, nf = g["n_total"], g["n_future"]
    mean = (stats.logsum + nf * jnp.log(s) + (r - q - 0.5 * vol ** 2) * g["t_sum"]) / n
    var = vol ** 2 * g["c_sum"] / n ** 2
    sd = jnp.sqrt(jnp.maximum(var, 1e-30))
    fwd = jnp.exp(mean + 0.5 * var)
    # Black's formula on the lognormal average, with the certain case (no fixings left).
    k = g["strike"]
    d1 = (mean + var - jnp.log(k)) / sd
    d2 = d1 - sd
    call = fwd * ndtr(d1) - k * ndtr(d2)
    put = k * ndtr(-d2) - fwd * ndtr(-d1)
    certain = jnp.where(g["call"], jnp.maximum(fwd - k, 0.0), jnp.maximum(k - fwd, 0.0))
    price = jnp.where(var > 1e-24, jnp.where(g["call"], call, put), certain)
    return jnp.exp(-r * g["tau"]) * price


def shock_aux(positions, horizon: float) -> dict:
    """Fixings already taken at the horizon: a stress point moves the spot at once, so
    each of them fixed at the shocked spot."""
    return dict(n_fixed=np.array([sum(d <= horizon * (1 + 1e-12) for d in fixing_dates(p))
                                  for p in positions], np.float64))


def at_shock(terms: dict, aux: dict, s, x, s0) -> AsianStats:
    a = terms["asset"]
    return AsianStats(sum=aux["n_fixed"] * s[a], logsum=aux["n_fixed"] * x[a])
