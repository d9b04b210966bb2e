"""A book as payoff families (struct of arrays), the path statistics they need, and payoffs.

Families and the position types they cover:

* ``linear``: spot, perpetual (values known today; no path needed).
* ``terminal``: forward, european, digital, basket, spread, exchange, best_of, worst_of:
  a payoff of the spots at one date, written as ``U = W . S`` (or max/min of S over a set
  of assets) then forward ``U - K``, vanilla ``max(sign (U - K), 0)`` or digital
  ``cash 1{sign (U - K) > 0}``.
* ``asian``: running arithmetic sum and log-sum at the fixing dates.
* ``barrier``: survival probability of continuous monitoring, Brownian bridge per step.
* ``lookback``: running max/min with the bridge extreme sampled exactly per step.

`plan_book` groups the positions on the host (NumPy); `init_obs`, `update_obs` and
`payoffs` run inside the kernel for one path.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.grid import TimeGrid
from mcrisk.instruments import conditional, smooth
from mcrisk.instruments.conditional import (KIND_DIGITAL, KIND_FORWARD, KIND_VANILLA,
                                            REDUCE_MAX, REDUCE_MIN, REDUCE_SUM)
from mcrisk.problem import Problem

TERMINAL = ("forward", "european", "digital", "basket", "spread", "exchange", "best_of",
            "worst_of")
FAMILIES = ("linear", "terminal", "asian", "barrier", "lookback")


class BookShape(NamedTuple):
    """Static (hashable) part of a book: family sizes and the snapshot dates count."""

    n_assets: int
    n_linear: int
    n_terminal: int
    n_asian: int
    n_barrier: int
    n_lookback: int
    n_snap: int

    @property
    def bridge(self) -> bool:
        return self.n_lookback > 0


class BookPlan(NamedTuple):
    """Host-side result of grouping: static shape, array terms, per-step masks, ordering."""

    shape: BookShape
    terms: dict  # family -> dict of NumPy arrays (leading axis: positions of the family)
    step_masks: dict  # name -> (steps, k) bool NumPy arrays, scanned over with the grid
    order: np.ndarray  # position index of each entry of the concatenated family outputs
    snap_times: np.ndarray  # dates of the spot snapshots


class Obs(NamedTuple):
    """Per-path statistics carried through the scan."""

    snap: jax.Array  # (snap, assets) spots at the snapshot dates
    asian_sum: jax.Array  # (asian,) sum of fixings
    asian_logsum: jax.Array  # (asian,) sum of log fixings
    survival: jax.Array  # (barrier,) probability the barrier was not touched so far
    run_max: jax.Array  # (lookback,) running maximum of the spot
    run_min: jax.Array  # (lookback,) running minimum of the spot


def fixing_dates(p) -> list[float]:
    """Fixing dates of an Asian still to come; `remaining_fixings` marks a residual contract
    (a position re-based at a later date, its earlier fixings already in the running sums)."""
    if "remaining_fixings" in p.terms:
        return list(p.terms["remaining_fixings"])
    n = p.terms["fixings"]
    return [p.terms["expiry"] * (k + 1) / n for k in range(n)]


def _scale(problem: Problem, assets, weights, expiry: float) -> float:
    """Terminal standard-deviation scale of a payoff's underlying, for the Greek kernels."""
    m = problem.market
    vols = (np.sqrt(problem.model.params["v0"]) if problem.model.has_variance else m.vols)
    return float(sum(abs(w) * m.spots[a] * vols[a] for a, w in zip(assets, weights))
                 * np.sqrt(expiry))


def plan_book(problem: Problem, grid: TimeGrid, smoothing: float) -> BookPlan:
    """Group the positions of `problem` into families on `grid` (NumPy, before tracing)."""
    n = problem.market.n_assets
    fam: dict[str, list[int]] = {f: [] for f in FAMILIES}
    for i, p in enumerate(problem.positions):
        if p.type in ("spot", "perpetual"):
            fam["linear"].append(i)
        elif p.type in TERMINAL:
            fam["terminal"].append(i)
        else:
            fam[p.type].append(i)
    pos = problem.positions
    snap_times = sorted({pos[i].terms["expiry"] for f in ("terminal", "barrier", "lookback")
                         for i in fam[f]})
    snap_times = np.array(snap_times, dtype=np.float64)
    times = grid.times

    def slot(t: float) -> int:
        return int(np.argmin(np.abs(snap_times - t)))

    def sign(p) -> float:
        return 1.0 if p.terms.get("option", "call") == "call" else -1.0

    def active(i: int) -> np.ndarray:
        # Step k covers (t_k, t_{k+1}]; it counts while t_{k+1} <= expiry.
        return times[1:] <= pos[i].terms["expiry"] * (1 + 1e-12)

    t: dict[str, dict[str, np.ndarray]] = {}
    lin = [pos[i] for i in fam["linear"]]
    t["linear"] = dict(
        asset=np.array([p.assets[0] for p in lin], np.int32),
        offset=np.array([-p.terms["entry_price"] if p.type == "perpetual" else 0.0
                         for p in lin]))

    ter = [pos[i] for i in fam["terminal"]]
    w = np.zeros((len(ter), n))
    member = np.zeros((len(ter), n), bool)
    reduce_, kind, eps = [], [], []
    for r, p in enumerate(ter):
        member[r, list(p.assets)] = True
        if p.type == "basket":
            weights = p.terms["weights"]
        elif p.type in ("spread", "exchange"):
            weights = (1.0, -1.0)
        else:
            weights = (1.0,) * len(p.assets)
        w[r, list(p.assets)] = weights
        reduce_.append(REDUCE_MAX if p.type == "best_of" else
                       REDUCE_MIN if p.type == "worst_of" else REDUCE_SUM)
        kind.append(KIND_FORWARD if p.type == "forward" else
                    KIND_DIGITAL if p.type == "digital" else KIND_VANILLA)
        scale = (max(_scale(problem, [a], [1.0], p.terms["expiry"]) for a in p.assets)
                 if p.type in ("best_of", "worst_of")
                 else _scale(problem, p.assets, weights, p.terms["expiry"]))
        eps.append(smoothing * scale)
    # Rows the Greeks kernel conditions on the last step: U = w S of one asset, w > 0.
    cond_rows = np.array([len(p.assets) == 1 and w[r, p.assets[0]] > 0
                          for r, p in enumerate(ter)], bool)
    precision, invertible = conditional.precision_blocks(problem.market.corr, member)
    lr_rows = ~cond_rows & (np.array(kind, np.int32) == KIND_VANILLA) & invertible
    t["terminal"] = dict(
        slot=np.array([slot(p.terms["expiry"]) for p in ter], np.int32),
        weights=w, member=member, reduce=np.array(reduce_, np.int32),
        kind=np.array(kind, np.int32), sign=np.array([sign(p) for p in ter]),
        strike=np.array([p.terms["strike"] if p.type != "exchange" else 0.0 for p in ter]),
        cash=np.array([p.terms.get("cash", 1.0) for p in ter]),
        expiry=np.array([p.terms["expiry"] for p in ter]), eps=np.array(eps),
        conditional=cond_rows,
        # Other vanilla rows get the pathwise-LR gamma where their assets have a joint density.
        lr=lr_rows,
        # Under stochastic variance their score needs the covariance given the variance path.
        sv_row=(np.flatnonzero(lr_rows).astype(np.int32) if problem.model.has_variance
                else np.zeros(0, np.int32)),
        precision=precision.reshape(len(ter), n, n),
        asset1=np.array([p.assets[0] for p in ter], np.int32),
        weight1=np.array([w[r, p.assets[0]] if w[r, p.assets[0]] > 0 else 1.0
                          for r, p in enumerate(ter)]))

    asi = [pos[i] for i in fam["asian"]]
    fix = np.zeros((len(times) - 1, len(asi)), bool)
    fix_last = np.zeros_like(fix)
    for r, p in enumerate(asi):
        for d in fixing_dates(p):
            if d <= times[-1] * (1 + 1e-12):  # a scenario grid may end before the expiry
                fix[grid.index_of(d) - 1, r] = True
        if fix[:, r].any() and max(fixing_dates(p)) <= times[-1] * (1 + 1e-12):
            fix_last[np.flatnonzero(fix[:, r])[-1], r] = True
    t["asian"] = dict(
        asset=np.array([p.assets[0] for p in asi], np.int32),
        n_fix=np.array([p.terms["fixings"] for p in asi], np.float64),
        geometric=np.array([p.terms["average"] == "geometric" for p in asi], bool),
        sign=np.array([sign(p) for p in asi]),
        strike=np.array([p.terms["strike"] for p in asi]),
        expiry=np.array([p.terms["expiry"] for p in asi]),
        conditional=fix_last.any(axis=0),
        eps=np.array([smoothing * _scale(problem, p.assets, [1.0], p.terms["expiry"])
                      / np.sqrt(3.0) for p in asi]))

    bar = [pos[i] for i in fam["barrier"]]
    dt_ref = float(np.mean(np.diff(times)))
    vols = (np.sqrt(problem.model.params["v0"]) if problem.model.has_variance
            else problem.market.vols)
    t["barrier"] = dict(
        asset=np.array([p.assets[0] for p in bar], np.int32),
        slot=np.array([slot(p.terms["expiry"]) for p in bar], np.int32),
        log_level=np.log(np.array([p.terms["barrier"] for p in bar])),
        up=np.array([p.terms["up"] for p in bar], bool),
        knock_in=np.array([p.terms["knock_in"] for p in bar], bool),
        sign=np.array([sign(p) for p in bar]),
        strike=np.array([p.terms["strike"] for p in bar]),
        expiry=np.array([p.terms["expiry"] for p in bar]),
        eps=np.array([smoothing * _scale(problem, p.assets, [1.0], p.terms["expiry"])
                      for p in bar]),
        eps_log=np.array([smoothing * vols[p.assets[0]] * np.sqrt(dt_ref) for p in bar]))

    lb = [pos[i] for i in fam["lookback"]]
    t["lookback"] = dict(
        asset=np.array([p.assets[0] for p in lb], np.int32),
        slot=np.array([slot(p.terms["expiry"]) for p in lb], np.int32),
        sign=np.array([sign(p) for p in lb]),
        expiry=np.array([p.terms["expiry"] for p in lb]))

    masks = dict(
        snap=np.stack([np.isclose(times[1:], s, rtol=1e-12, atol=0) for s in snap_times],
                      axis=1) if len(snap_times) else np.zeros((len(times) - 1, 0), bool),
        fix=fix, fix_last=fix_last,
        barrier=np.stack([active(i) for i in fam["barrier"]], axis=1)
        if bar else np.zeros((len(times) - 1, 0), bool),
        barrier_last=np.stack([np.isclose(times[1:], pos[i].terms["expiry"], rtol=1e-12, atol=0)
                               for i in fam["barrier"]], axis=1)
        if bar else np.zeros((len(times) - 1, 0), bool),
        lookback=np.stack([active(i) for i in fam["lookback"]], axis=1)
        if lb else np.zeros((len(times) - 1, 0), bool))
    order = np.array([i for f in FAMILIES for i in fam[f]], np.int64)
    shape = BookShape(n_assets=n, n_linear=len(lin), n_terminal=len(ter), n_asian=len(asi),
                      n_barrier=len(bar), n_lookback=len(lb), n_snap=len(snap_times))
    return BookPlan(shape=shape, terms=t, step_masks=masks, order=order,
                    snap_times=snap_times)


def init_obs(shape: BookShape, terms: dict, x0: jax.Array) -> Obs:
    dtype = x0.dtype
    s0 = jnp.exp(x0)
    s_lb = s0[terms["lookback"]["asset"]]
    return Obs(snap=jnp.zeros((shape.n_snap, shape.n_assets), dtype),
               asian_sum=jnp.zeros((shape.n_asian,), dtype),
               asian_logsum=jnp.zeros((shape.n_asian,), dtype),
               survival=jnp.ones((shape.n_barrier,), dtype),
               run_max=s_lb, run_min=s_lb)


def update_obs(obs: Obs, terms: dict, masks: dict, x0: jax.Array, x1: jax.Array,
               var: jax.Array, draws) -> Obs:
    """Fold one step (log spots x0 -> x1, per-asset integrated variance `var`) into `obs`."""
    s1 = jnp.exp(x1)
    snap = jnp.where(masks["snap"][:, None], s1[None, :], obs.snap)
    ta = terms["asian"]
    fix = masks["fix"].astype(x1.dtype)
    asian_sum = obs.asian_sum + fix * s1[ta["asset"]]
    asian_logsum = obs.asian_logsum + fix * x1[ta["asset"]]

    tb = terms["barrier"]
    eps_log = tb["eps_log"]
    a = jnp.where(tb["up"], tb["log_level"] - x0[tb["asset"]], x0[tb["asset"]] - tb["log_level"])
    b = jnp.where(tb["up"], tb["log_level"] - x1[tb["asset"]], x1[tb["asset"]] - tb["log_level"])
    # P(no crossing | endpoints) for a Brownian bridge; 0 once an endpoint is beyond.
    # Lipschitz in the path, so first derivatives are exact. An interior node enters two
    # steps' factors, making survival quadratic in its distance near the barrier (C^1, no
    # Dirac in the second derivative): exact max there. Only the node at expiry enters once,
    # a kink whose second derivative `kink` smooths (the Greeks kernel replaces the expiry
    # step by its closed-form expectation, so this matters only where that is off).
    b_pos = jnp.where(masks["barrier_last"], smooth.kink(b, eps_log), jnp.maximum(b, 0.0))
    stay = -jnp.expm1(-2.0 * jnp.maximum(a, 0.0) * b_pos / var[tb["asset"]])
    survival = obs.survival * jnp.where(masks["barrier"], stay, 1.0)

    run_max, run_min = obs.run_max, obs.run_min
    if draws.u_max.shape[0]:
        tl = terms["lookback"]
        dx = x1 - x0
        # Exact sample of the bridge max/min given the endpoints (reflection principle).
        hi = 0.5 * (x0 + x1 + jnp.sqrt(dx * dx - 2.0 * var * jnp.log(draws.u_max)))
        lo = 0.5 * (x0 + x1 - jnp.sqrt(dx * dx - 2.0 * var * jnp.log(draws.u_min)))
        act = masks["lookback"]
        run_max = jnp.where(act, jnp.maximum(run_max, jnp.exp(hi[tl["asset"]])), run_max)
        run_min = jnp.where(act, jnp.minimum(run_min, jnp.exp(lo[tl["asset"]])), run_min)
    return Obs(snap, asian_sum, asian_logsum, survival, run_max, run_min)


def payoffs(obs: Obs, terms: dict, spots: jax.Array, rate: jax.Array,
            cond: conditional.LastStep | None = None) -> jax.Array:
    """Discounted payoff per position of one path, in family order (see `BookPlan.order`).

    `cond` (Greeks kernel): what `conditional.record` kept along the path. Terminal
    single-asset, asian and barrier payoffs are then replaced by their conditional
    expectation over the last step, and multi-asset vanilla rows carry the pathwise-LR gamma
    under gbm and merton (`mcrisk.instruments.conditional`): all their Greeks unbiased, no
    smoothing.
    """
    out = []
    tl = terms["linear"]
    out.append(spots[tl["asset"]] + tl["offset"])

    tt = terms["terminal"]
    eps = tt["eps"]
    s_at = obs.snap[tt["slot"]]  # (terminal, assets)
    linear_u = jnp.sum(tt["weights"] * s_at, axis=-1)
    u = jnp.where(tt["reduce"] == REDUCE_SUM, linear_u,
                  jnp.where(tt["reduce"] == REDUCE_MAX, smooth.maximum(s_at, tt["member"], eps),
                            -smooth.maximum(-s_at, tt["member"], eps)))
    y = tt["sign"] * (u - tt["strike"])
    pay = jnp.where(tt["kind"] == KIND_FORWARD, u - tt["strike"],
                    jnp.where(tt["kind"] == KIND_DIGITAL,
                              tt["cash"] * smooth.heaviside(y, eps), smooth.kink(y, eps)))
    if cond is not None and tt["strike"].shape[0]:
        pay = jnp.where(tt["conditional"], conditional.terminal(tt, cond), pay)
        pay = jnp.where(tt["lr"], conditional.lr_terminal(tt, cond, s_at, spots), pay)
    out.append(pay * jnp.exp(-rate * tt["expiry"]))

    ta = terms["asian"]
    avg = jnp.where(ta["geometric"], jnp.exp(obs.asian_logsum / ta["n_fix"]),
                    obs.asian_sum / ta["n_fix"])
    pay = smooth.kink(ta["sign"] * (avg - ta["strike"]), ta["eps"])
    if cond is not None and ta["strike"].shape[0]:  # static: no formulas for no rows
        pay = jnp.where(ta["conditional"], conditional.asian(ta, cond), pay)
    out.append(pay * jnp.exp(-rate * ta["expiry"]))

    tb = terms["barrier"]
    s_t = obs.snap[tb["slot"], tb["asset"]]
    vanilla = smooth.kink(tb["sign"] * (s_t - tb["strike"]), tb["eps"])
    alive = jnp.where(tb["knock_in"], 1.0 - obs.survival, obs.survival)
    pay = vanilla * alive
    if cond is not None and tb["strike"].shape[0]:
        pay = conditional.barrier(tb, cond)
    out.append(pay * jnp.exp(-rate * tb["expiry"]))

    tk = terms["lookback"]
    s_t = obs.snap[tk["slot"], tk["asset"]]
    pay = jnp.where(tk["sign"] > 0, s_t - obs.run_min, obs.run_max - s_t)
    out.append(pay * jnp.exp(-rate * tk["expiry"]))
    return jnp.concatenate(out)
