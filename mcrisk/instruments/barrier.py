"""Single-barrier options (up/down, in/out) monitored continuously.

The path statistic is the probability that the barrier has not been touched so far: per
step, the Brownian bridge's no-crossing probability given the step's endpoints. Under gbm
Reiner-Rubinstein values it at a later date, given whether it has knocked by then.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.analytic import barrier as an_barrier
from mcrisk.instruments import conditional, smooth
from mcrisk.instruments.base import (FamilyPlan, PlanContext, contract_vols, pick,
                                     shift_expiry, sign)

NAME = "barrier"
TYPES = ("barrier",)
SNAPSHOT = True
KINDS = ("bs_barrier",)


class BarrierStats(NamedTuple):
    survival: jax.Array  # (barrier,) probability the barrier was not touched so far


class BarrierRecord(NamedTuple):
    survival: jax.Array  # (barrier,) survival up to the start of the expiry step


def plan(ctx: PlanContext, positions) -> FamilyPlan:
    bar = positions
    dt_ref = float(np.mean(np.diff(ctx.grid.times)))
    vols = ctx.vols()
    terms = dict(
        asset=np.array([p.assets[0] for p in bar], np.int32),
        slot=np.array([ctx.slot(p.terms["expiry"]) for p in bar], np.int32),
        log_level=np.log(np.array([p.terms["barrier"] for p in bar])),
        up=np.array([p.terms["up"] for p in bar], bool),
        knock_in=np.array([p.terms["knock_in"] for p in bar], bool),
        sign=np.array([sign(p) for p in bar]),
        strike=np.array([p.terms["strike"] for p in bar]),
        expiry=np.array([p.terms["expiry"] for p in bar]),
        eps=np.array([ctx.smoothing * ctx.scale(p.assets, [1.0], p.terms["expiry"])
                      for p in bar]),
        eps_log=np.array([ctx.smoothing * vols[p.assets[0]] * np.sqrt(dt_ref) for p in bar]))
    n = ctx.n_steps
    masks = dict(active=np.stack([ctx.active(p.terms["expiry"]) for p in bar], axis=1)
                 if bar else np.zeros((n, 0), bool),
                 last=np.stack([ctx.last(p.terms["expiry"]) for p in bar], axis=1)
                 if bar else np.zeros((n, 0), bool))
    return FamilyPlan(terms=terms, masks=masks)


def residual(p, date: float):
    return shift_expiry(p, date)


def init(terms: dict, x0: jax.Array) -> BarrierStats:
    return BarrierStats(survival=jnp.ones(terms["asset"].shape, x0.dtype))


def update(stats: BarrierStats, terms: dict, masks: dict, x0, x1, var, draws) -> BarrierStats:
    tb = terms
    a = jnp.where(tb["up"], tb["log_level"] - x0[tb["asset"]], x0[tb["asset"]] - tb["log_level"])
    b = jnp.where(tb["up"], tb["log_level"] - x1[tb["asset"]], x1[tb["asset"]] - tb["log_level"])
    # P(no crossing | endpoints) for a Brownian bridge; 0 once an endpoint is beyond.
    # Lipschitz in the path, so first derivatives are exact. An interior node enters two
    # steps' factors, making survival quadratic in its distance near the barrier (C^1, no
    # Dirac in the second derivative): exact max there. Only the node at expiry enters once,
    # a kink whose second derivative `kink` smooths (the Greeks kernel replaces the expiry
    # step by its closed-form expectation, so this matters only where that is off).
    b_pos = jnp.where(masks["last"], smooth.kink(b, tb["eps_log"]), jnp.maximum(b, 0.0))
    stay = -jnp.expm1(-2.0 * jnp.maximum(a, 0.0) * b_pos / var[tb["asset"]])
    return BarrierStats(survival=stats.survival * jnp.where(masks["active"], stay, 1.0))


def payoff(stats: BarrierStats, terms: dict, snap: jax.Array, spots, rate: jax.Array,
           cond: conditional.LastStep | None = None) -> jax.Array:
    tb = terms
    if cond is not None:
        pay = conditional_payoff(tb, cond, cond.family[NAME])
    else:
        s_t = snap[tb["slot"], tb["asset"]]
        vanilla = smooth.kink(tb["sign"] * (s_t - tb["strike"]), tb["eps"])
        alive = jnp.where(tb["knock_in"], 1.0 - stats.survival, stats.survival)
        pay = vanilla * alive
    return pay * jnp.exp(-rate * tb["expiry"])


def conditional_payoff(tb: dict, rec: conditional.LastStep, own: BarrierRecord) -> jax.Array:
    """E[payoff | path up to the expiry step].

    Over that step the survival factor is ``1 - exp(-2 a b / w)`` (Brownian bridge of
    variance w; a, b the start's and end's distances to the barrier on the live side), and
    the end is normal with variance v given the step's start (v = w under gbm and merton;
    heston's bridge uses the start variance, its end the central scheme's). The exponential
    times the normal density of the end is a normal density with its mean moved 2 a v / w
    away from the live side, times ``exp(-2 a (m' + a (1 - v / w)) / w)`` with m' the step's
    drift towards the live side, so the knock-out value is
    ``survival_before x (V(live) - exp(...) V_moved(live))``.
    """
    i = tb["asset"]
    x0 = rec.start[tb["slot"], i]
    mu = rec.mean[tb["slot"], i]
    tiny = jnp.finfo(mu.dtype).tiny
    v = jnp.maximum(rec.var[tb["slot"], i], tiny)
    w = jnp.maximum(rec.bridge[tb["slot"], i], tiny)
    sd = jnp.sqrt(v)
    down = jnp.where(tb["up"], -1.0, 1.0)  # +1: alive above the barrier
    level = tb["log_level"]
    a = jnp.maximum(down * (x0 - level), 0.0)
    drift = down * (mu - x0)
    k = tb["strike"]
    log_k = jnp.log(k)
    sg = tb["sign"]
    up = tb["up"]

    def live(e, m):
        return conditional.vanilla_in(e, m, sd, log_k, k, sg, level, level, ~up, up)

    ratio = v / w
    moved = live(-2.0 * a * (drift + a * (1.0 - ratio)) / w, mu - 2.0 * down * a * ratio)
    out = own.survival * (live(None, mu) - moved)
    return jnp.where(tb["knock_in"], conditional.vanilla(mu, v, k, sg) - out, out)


def record_init(n: int, dtype) -> BarrierRecord:
    return BarrierRecord(survival=jnp.ones((n,), dtype))


def record(rec: BarrierRecord, stats: BarrierStats, terms: dict, masks: dict, mean, var):
    """`stats` hold the survival before the step: recorded at expiry, it excludes the
    expiry step, which the conditional payoff integrates."""
    return BarrierRecord(survival=jnp.where(masks["last"], stats.survival, rec.survival))


def closed_kind(p, model: str, revaluation: str = "auto") -> str | None:
    return "bs_barrier" if revaluation != "nested" and model == "gbm" else None


def closed_terms(kind: str, positions, date: float) -> dict:
    return dict(level=np.array([p.terms["barrier"] for p in positions]),
                up=np.array([p.terms["up"] for p in positions]),
                knock_in=np.array([p.terms["knock_in"] for p in positions]))


def closed_value(kind: str, g: dict, st, p, vols: jax.Array, stats: BarrierStats):
    """`stats.survival` holds the realised 0/1 alive indicator of the scenario."""
    # From the log spots the state holds; the vanilla that a knocked-in position becomes
    # comes with the barrier formula (its term A).
    price, vanilla = an_barrier.barrier_log(
        log_spots=pick(st.x, g["a1"]), strikes=g["strike"], barriers=g["level"],
        expiries=g["tau"], rates=p.rate, dividends=p.dividends[g["a1"]], is_call=g["call"],
        vols=contract_vols(g, vols)[0], is_up=g["up"], is_in=g["knock_in"])
    return jnp.where(stats.survival > 0.5, price, jnp.where(g["knock_in"], vanilla, 0.0))


def shock_aux(positions, horizon: float) -> dict:
    return {}


def at_shock(terms: dict, aux: dict, s, x, s0) -> BarrierStats:
    """Alive where the shocked spot is on the live side (the move is instantaneous)."""
    xb = x[terms["asset"]]
    alive = jnp.where(terms["up"], xb < terms["log_level"], xb > terms["log_level"])
    return BarrierStats(survival=alive.astype(x.dtype))


def realise(stats: BarrierStats, key: jax.Array) -> BarrierStats:
    """One uniform per barrier decides the realised knock: alive while survival > U, so
    P(alive at t | grid path) = survival(t) and the status is monotone in t (the same key
    for every date of a scenario)."""
    u = jax.random.uniform(key, stats.survival.shape[-1:], stats.survival.dtype)
    return BarrierStats(survival=(stats.survival > u).astype(stats.survival.dtype))
