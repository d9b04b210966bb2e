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

The JAX side (`closed_values` here, `dateval.value_at`) works on one scenario and is vmapped
by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from mcrisk.analytic import barrier as an_barrier
from mcrisk.analytic import bs, heston, margrabe, merton, stulz
from mcrisk.config.positions import event_times, path_expiries
from mcrisk.engine import Prepared, prepare
from mcrisk.grid import TimeGrid, grid_from_times, make_grid
from mcrisk.instruments.book import Obs, fixing_dates
from mcrisk.models.base import Params
from mcrisk.problem import MIN_VOL, Position, Problem, Sim, min_steps_of


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


# Gauss–Legendre nodes of the Heston/Bates Fourier integral in revaluation.
_HESTON_NODES = 1024


def closed_kind(p: Position, model: str, revaluation: str = "auto") -> str | None:
    """The closed form that revalues `p` under `model`, or None (nested Monte Carlo).

    `revaluation="nested"` sends every option to nested Monte Carlo (linear positions keep
    their exact values): a check of the nested estimator against the closed forms.
    """
    t = p.type
    if t in ("spot", "forward"):
        return t
    if t == "perpetual":
        return "perp"
    if revaluation == "nested":
        return None
    gbm = model == "gbm"
    if t == "european":
        return {"gbm": "bs_european", "heston": "heston_european",
                "merton": "merton_european", "bates": "bates_european"}.get(model)
    if gbm and t == "digital":
        return "bs_digital"
    if gbm and t == "barrier":
        return "bs_barrier"
    if gbm and t == "exchange":
        return "margrabe"
    if gbm and t in ("best_of", "worst_of") and len(p.assets) == 2:
        return "stulz"
    if gbm and t == "asian" and p.terms["average"] == "geometric":
        return "geo_asian"
    return None


class ScenarioState(NamedTuple):
    """One scenario at one date (arrays per asset or per family member of the book plan)."""

    x: jax.Array  # (assets,) log spots
    v: jax.Array  # (assets,) variances (vol^2 under gbm/merton)
    obs: Obs  # running statistics; `survival` holds the 0/1 alive indicator
    funding: jax.Array  # (assets,) integral of the spot over [0, date], for perpetual funding


@dataclass(frozen=True)
class DatePlan:
    """How each position is revalued at one date (host side, NumPy)."""

    date: float
    expired: np.ndarray  # (positions,) bool
    groups: dict  # kind -> dict of arrays incl. "idx" (position indices)
    nested_idx: np.ndarray  # positions revalued by nested MC
    nested: Prepared | None  # residual problem of the nested positions
    nested_src: dict  # family -> indices into the outer plan's family arrays


def _residual(p: Position, date: float) -> Position:
    terms = dict(p.terms)
    terms["expiry"] = p.terms["expiry"] - date
    if p.type == "asian":
        terms["remaining_fixings"] = [d - date for d in fixing_dates(p) if d > date + 1e-12]
    return replace(p, terms=terms)


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
    offsets = _family_offsets(outer.plan.shape)
    groups = {}
    for k, idx in kinds.items():
        g = _group_terms(problem, k, idx, date)
        fam = {"bs_barrier": "barrier", "geo_asian": "asian"}.get(k)
        if fam:
            # Row of each position in its family's running statistics (outer plan order).
            g["row"] = np.array([outer_row[i] - offsets[fam] for i in idx], np.int32)
        groups[k] = g
    nested = None
    src: dict = {}
    if nested_idx:
        residual = [_residual(pos[i], date) for i in nested_idx]
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
        for fam in ("asian", "barrier", "lookback"):
            rows = [outer_row[nested_idx[int(j)]] - offsets[fam]
                    for j in nested.plan.order[_family_slice(nested.plan.shape, fam)]]
            src[fam] = np.array(rows, np.int32)
    return DatePlan(date=date, expired=expired, groups=groups,
                    nested_idx=np.array(nested_idx, np.int64), nested=nested, nested_src=src)


def group_arrays(dp: DatePlan, dtype: str) -> dict:
    """A date plan's closed-form terms as JAX arrays (floats in the simulation dtype)."""
    return {k: {f: jnp.asarray(a, dtype) if a.dtype == np.float64 else jnp.asarray(a)
                for f, a in g.items()} for k, g in dp.groups.items()}


def _family_offsets(shape) -> dict:
    sizes = [("linear", shape.n_linear), ("terminal", shape.n_terminal),
             ("asian", shape.n_asian), ("barrier", shape.n_barrier),
             ("lookback", shape.n_lookback)]
    out, start = {}, 0
    for name, n in sizes:
        out[name] = start
        start += n
    return out


def _family_slice(shape, fam: str) -> slice:
    start = _family_offsets(shape)[fam]
    n = {"asian": shape.n_asian, "barrier": shape.n_barrier, "lookback": shape.n_lookback}[fam]
    return slice(start, start + n)


def _group_terms(problem: Problem, kind: str, idx: list[int], date: float) -> dict:
    pos = [problem.positions[i] for i in idx]
    g: dict = {"idx": np.array(idx, np.int32)}
    g["a1"] = np.array([p.assets[0] for p in pos], np.int32)
    g["a2"] = np.array([p.assets[-1] for p in pos], np.int32)
    g["tau"] = np.array([p.terms.get("expiry", date) - date for p in pos])
    g["strike"] = np.array([p.terms.get("strike", 0.0) for p in pos])
    g["call"] = np.array([p.terms.get("option", "call") == "call" for p in pos])
    if kind == "perp":
        g["entry"] = np.array([p.terms["entry_price"] for p in pos])
        g["funding_rate"] = np.array([p.terms["funding_rate"] for p in pos])
    if kind == "bs_digital":
        g["cash"] = np.array([p.terms["cash"] for p in pos])
    if kind == "bs_barrier":
        g["level"] = np.array([p.terms["barrier"] for p in pos])
        g["up"] = np.array([p.terms["up"] for p in pos])
        g["knock_in"] = np.array([p.terms["knock_in"] for p in pos])
    if kind == "stulz":
        g["is_max"] = np.array([p.type == "best_of" for p in pos])
    if kind == "geo_asian":
        # log G = (past log-sum + sum of future log fixings) / n; the future part is normal
        # given today's spot: mean n_f x + drift_sum, variance vol^2 * cov_sum.
        n_f, t_sum, c_sum = [], [], []
        for p in pos:
            fut = np.array([d - date for d in fixing_dates(p) if d > date + 1e-12])
            n_f.append(len(fut))
            t_sum.append(fut.sum())
            c_sum.append(np.minimum.outer(fut, fut).sum() if len(fut) else 0.0)
        g["n_total"] = np.array([p.terms["fixings"] for p in pos], np.float64)
        g["n_future"] = np.array(n_f, np.float64)
        g["t_sum"] = np.array(t_sum)
        g["c_sum"] = np.array(c_sum)
    return g


def _geo_asian(s, logsum, g, vol, r, q):
    n, nf = g["n_total"], g["n_future"]
    mean = (logsum + nf * jnp.log(s) + (r - q - 0.5 * vol ** 2) * g["t_sum"]) / n
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


def closed_values(kind: str, g: dict, st: ScenarioState, p: Params,
                  vols: jax.Array) -> jax.Array:
    """Values of one closed-form group in one scenario (vols: revaluation vols per asset)."""
    s = jnp.exp(st.x)
    s1, s2 = s[g["a1"]], s[g["a2"]]
    r, q1, q2 = p.rate, p.dividends[g["a1"]], p.dividends[g["a2"]]
    v1, v2 = vols[g["a1"]], vols[g["a2"]]
    tau = g["tau"]
    if kind == "spot":
        return s1
    if kind == "perp":
        # Longs pay funding_rate x notional per year; the notional is the spot.
        return s1 - g["entry"] - g["funding_rate"] * st.funding[g["a1"]]
    if kind == "forward":
        return s1 * jnp.exp(-q1 * tau) - g["strike"] * jnp.exp(-r * tau)
    common = dict(spots=s1, strikes=g["strike"], expiries=tau, rates=r, dividends=q1,
                  is_call=g["call"])
    if kind == "bs_european":
        return bs.european(vols=v1, **common)
    if kind in ("heston_european", "bates_european"):
        a = g["a1"]
        # 1024 nodes: within 1.1e-9 of spot in float64 (2.5e-6 in float32) over the grid of
        # mcrisk.analytic.heston, vol 1% with vol of variance 3 included; memory is
        # (scenarios x 128) per position for the body, plus ~290 tail nodes.
        jumps = (dict(jump_intensity=p.jump_intensity[a], jump_mean=p.jump_mean[a],
                      jump_std=p.jump_std[a]) if kind == "bates_european"
                 else dict(jump_intensity=0.0, jump_mean=0.0, jump_std=0.0))
        return heston.bates_european(v0=jnp.maximum(st.v[a], 0.0), kappa=p.kappa[a],
                                     n_points=_HESTON_NODES, theta=p.theta[a], xi=p.xi[a],
                                     rho=p.rho[a], **jumps, **common)
    if kind == "merton_european":
        a = g["a1"]
        return merton.european(vols=v1, jump_intensity=p.jump_intensity[a],
                               jump_mean=p.jump_mean[a], jump_std=p.jump_std[a], **common)
    if kind == "bs_digital":
        return bs.digital(vols=v1, cash=g["cash"], **common)
    if kind == "bs_barrier":
        alive = st.obs.survival[g["row"]]
        price = an_barrier.barrier(vols=v1, barriers=g["level"], is_up=g["up"],
                                   is_in=g["knock_in"], **common)
        vanilla = bs.european(vols=v1, **common)
        return jnp.where(alive > 0.5, price, jnp.where(g["knock_in"], vanilla, 0.0))
    if kind == "margrabe":
        return margrabe.exchange(spots1=s1, spots2=s2, vols1=v1, vols2=v2,
                                 corr=_corr(p)[g["a1"], g["a2"]],
                                 expiries=tau, dividends1=q1, dividends2=q2)
    if kind == "stulz":
        return stulz.best_worst_two(spots1=s1, spots2=s2, strikes=g["strike"], vols1=v1,
                                    vols2=v2, corr=_corr(p)[g["a1"], g["a2"]], expiries=tau,
                                    rates=r, dividends1=q1, dividends2=q2, is_call=g["call"],
                                    is_max=g["is_max"])
    if kind == "geo_asian":
        return _geo_asian(s1, st.obs.asian_logsum[g["row"]], g, v1, r, q1)
    raise AssertionError(kind)


def _corr(p: Params) -> jax.Array:
    return jnp.matmul(p.chol, p.chol.T, precision=jax.lax.Precision.HIGHEST)
