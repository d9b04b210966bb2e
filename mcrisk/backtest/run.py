"""Backtest VaR/ES models over a price history: forecasts, realised losses, exceptions.

The book held on day t is the configured book rolled to t: quantities fixed, expiries at
constant maturity, and every level (strike, barrier, perpetual entry) at its configured
ratio to ``market.spot``. The values of these contracts are homogeneous of degree one in
the spot and the levels, so with ``c = S_t / S_ref`` per underlying a position's value at
any relative spot move equals c times its value in the configured market at the same move:
every day is revalued in the one configured market, at relative moves and vol shifts only.
That is what lets all days go through one compiled stress kernel
(`riskengine.stress.revalue_shocked`) in fixed-size, padded chunks: a second day, or a
second backtest of the same book, compiles nothing.

Options are marked by Black-Scholes: at the window's sample vol (``marking: model``: the
vol of the window ending at t today, that of the window ending at t + h at t + h) or at
``market.vol`` held (``marking: implied``). The realised loss of day t is the book's value
at t (spots S_t, its vol) minus its value at t + h (spots S_{t+h}, expiries h shorter, its
vol): ``L_t = V_t - V_{t+h}``, positive = loss. Each model's scenarios revalue the book at
t + h with the vol of day t held, as the risk engine does.
"""

from __future__ import annotations

import time
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from mcrisk import errors as E
from mcrisk.backtest.forecast import forecast, sample_vol, window_prices
from mcrisk.errors import ConfigError
from mcrisk.problem import Problem

# Position types whose value is homogeneous of degree one in (spot, levels): the rolled
# book above is exact for them (a digital's fixed cash payout is not).
ROLLABLE = ("spot", "perpetual", "forward", "european", "barrier", "asian", "lookback")
BUMP = 1e-4  # relative spot bump of delta-normal's central differences


class Forecasts(NamedTuple):
    """Per model and day: the loss forecast.

    Attributes:
        var, es: ``{model: {level_key: (days,)}}``.
        scenarios: ``{model: [(n_d,) book losses per day]}`` for the ES test's p-value.
        seconds: ``{model: seconds}``: forecasting plus its share of revaluation.
        fallbacks: ``(day row, asset, reason)`` of every merton fit not used (no jumps).
    """

    var: dict
    es: dict
    scenarios: dict
    seconds: dict
    fallbacks: list


def check_book(problem: Problem) -> None:
    """Each position has one underlying, a rollable type and a closed form (no nested
    Monte Carlo in a backtest of thousands of days)."""
    from mcrisk.riskengine.revalue import closed_kind

    if problem.model.name != "gbm":
        raise ConfigError("model.name", problem.model.name, "gbm: the backtest marks options "
                          "by Black-Scholes at the day's vol")
    if problem.surface is not None:
        raise ConfigError("market.surface", "set", "no surface: the backtest marks options at "
                          "one vol per asset and day")
    for i, p in enumerate(problem.positions):
        at = f"portfolio.positions[{i}]"
        if len(p.assets) != 1 or p.type not in ROLLABLE:
            raise ConfigError(f"{at}.type", p.type, "a single-underlying position whose value "
                              "scales with the spot when its levels do (" + ", ".join(ROLLABLE)
                              + "): the backtest rolls the book to each day's spot")
        if closed_kind(p, "gbm") is None:
            raise ConfigError(f"{at}.type", p.type, "a position with a Black-Scholes closed "
                              "form (this one would need nested Monte Carlo every day)")


def revalue(problem: Problem, prep, moves: np.ndarray, vol_shift: np.ndarray,
            horizon: float, chunk: int, timer: list[float]) -> np.ndarray:
    """``(points, positions)`` unit values in the configured market at relative `moves`
    and absolute `vol_shift` (both ``(points, assets)``), `horizon` years on.

    Points go through the kernel `chunk` at a time, the last chunk padded with zero moves,
    so every call has the same shapes.
    """
    from mcrisk.riskengine import stress

    t0 = time.perf_counter()
    n, n_a = moves.shape
    out = np.empty((n, len(problem.positions)))
    for start in range(0, n, chunk):
        m, v = moves[start:start + chunk], vol_shift[start:start + chunk]
        k = len(m)
        if k < chunk:
            m = np.vstack([m, np.zeros((chunk - k, n_a))])
            v = np.vstack([v, np.zeros((chunk - k, n_a))])
        r = stress.revalue_shocked(problem, prep, m, v, horizon, 4)
        out[start:start + k] = r.values[:k]
    if not np.isfinite(out).all():
        i, j = np.argwhere(~np.isfinite(out))[0]
        raise E.NonFiniteError(f"backtest.values[{i}][{j}]", float(out[i, j]),
                               f"the revaluation of {problem.positions[j].name} at spot move "
                               f"{moves[i].tolist()} and vol shift {vol_shift[i].tolist()}")
    timer[0] += time.perf_counter() - t0
    return out


def realised(problem: Problem, prep, opts, days: np.ndarray, marks: np.ndarray,
             timer: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The book at each day and the realised loss.

    Args:
        marks: ``(rows, assets)`` marking vols per price row (NaN where not needed).

    Returns:
        ``(scale, today, loss, deltas)``: ``(days, positions)`` c * quantity,
        ``(days, positions)`` unit values today, ``(days,)`` realised book losses and
        ``(days, assets)`` book deltas per relative spot move (for delta-normal).
    """
    m = problem.market
    h = opts.horizon_days
    p = opts.prices
    n_a, n_d = m.n_assets, len(days)
    under = np.array([pos.assets[0] for pos in problem.positions])
    q = np.array([pos.quantity for pos in problem.positions])
    scale = q * (p[days][:, under] / m.spots[under])
    shift_t = marks[days] - m.vols
    # Today: the unmoved point, then +/- BUMP on each asset (delta-normal's deltas).
    bumps = np.concatenate([np.zeros((1, n_a)), BUMP * np.eye(n_a), -BUMP * np.eye(n_a)])
    pts = np.tile(bumps, (n_d, 1))
    vals = revalue(problem, prep, pts, np.repeat(shift_t, len(bumps), axis=0), 0.0,
                   opts.chunk, timer).reshape(n_d, len(bumps), -1)
    today = vals[:, 0]
    dv = (vals[:, 1:1 + n_a] - vals[:, 1 + n_a:]) / (2 * BUMP)  # (days, assets, positions)
    deltas = np.einsum("dap,dp->da", dv, scale)
    move = p[days + h] / p[days] - 1.0
    later = revalue(problem, prep, move, marks[days + h] - m.vols, h / opts.annualisation,
                    opts.chunk, timer)
    loss = np.sum(scale * (today - later), axis=1)
    return scale, today, loss, deltas


def forecasts(problem: Problem, prep, opts, days: np.ndarray, marks: np.ndarray,
              scale: np.ndarray, today: np.ndarray, deltas: np.ndarray,
              progress) -> Forecasts:
    """VaR and ES of every model on every day (see the module docstring).

    Every day's scenarios, of every sampling model, are revalued together: one stream of
    points through `revalue`, so chunks span days and the kernel is called about
    ``days * scenarios / chunk`` times.
    """
    from mcrisk.riskengine.historical import weighted_tail
    from mcrisk.riskengine.metrics import _key

    m = problem.market
    names = list(m.assets)
    keys = [_key(a) for a in opts.levels]
    var = {md: {k: np.empty(len(days)) for k in keys} for md in opts.models}
    es = {md: {k: np.empty(len(days)) for k in keys} for md in opts.models}
    scen: dict[str, list] = {md: [] for md in opts.models}
    seconds = dict.fromkeys(opts.models, 0.0)
    fallbacks: list = []
    nd = NormalDist()
    sampled = [md for md in opts.models if md != "delta_normal"]
    progress.start("backtest forecasts", len(days), "days")
    for d, t in enumerate(days):
        win = window_prices(opts.prices, t, opts.window, opts.window_type)
        for md in opts.models:
            t0 = time.perf_counter()
            f = forecast(md, win, int(t), opts, names, fallbacks)
            if md == "delta_normal":
                sd = float(np.sqrt(max(deltas[d] @ f @ deltas[d], 0.0)))
                for a, k in zip(opts.levels, keys):
                    z = nd.inv_cdf(a)
                    var[md][k][d], es[md][k][d] = z * sd, sd * nd.pdf(z) / (1.0 - a)
                # The ES test's null draws: the normal's quantiles at mid-points.
                u = (np.arange(opts.n_scenarios) + 0.5) / opts.n_scenarios
                f = sd * np.array([nd.inv_cdf(x) for x in u])
            scen[md].append(f)
            seconds[md] += time.perf_counter() - t0
        progress.update(d + 1, d + 1)
    if sampled:
        counts = np.array([[len(scen[md][d]) for md in sampled] for d in range(len(days))])
        moves = np.expm1(np.concatenate([scen[md][d] for d in range(len(days))
                                         for md in sampled]))
        shift = np.repeat(marks[days] - m.vols, counts.sum(axis=1), axis=0)
        timer = [0.0]
        vals = revalue(problem, prep, moves, shift, opts.horizon_days / opts.annualisation,
                       opts.chunk, timer)
        row = np.repeat(np.arange(len(days)), counts.sum(axis=1))
        losses = (scale[row] * (today[row] - vals)).sum(axis=1)
        start = 0
        for d in range(len(days)):
            for md, n in zip(sampled, counts[d]):
                book = losses[start:start + n]
                start += n
                wt = weighted_tail(book[:, None], np.full(n, 1.0 / n), opts.levels)
                for i, k in enumerate(keys):
                    var[md][k][d], es[md][k][d] = wt.var[i], wt.es[i]
                scen[md][d] = book
        for md, n in zip(sampled, counts.sum(axis=0)):
            seconds[md] += timer[0] * n / len(moves)
    for md in opts.models:
        for k in keys:
            for name, series in (("var", var[md][k]), ("es", es[md][k])):
                if not np.isfinite(series).all():
                    i = int(np.argmax(~np.isfinite(series)))
                    raise E.NonFiniteError(f"models.{md}.{name}.{k}[{i}]", float(series[i]),
                                           f"the {md} forecast of {opts.dates[days[i]]}")
    return Forecasts(var=var, es=es, scenarios=scen, seconds=seconds, fallbacks=fallbacks)


def marking_vols(problem: Problem, opts, days: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``(rows, assets)`` the vol each needed row is marked at (NaN elsewhere), and a note."""
    m = problem.market
    marks = np.full(opts.prices.shape, np.nan)
    rows = np.union1d(days, days + opts.horizon_days)
    if opts.marking == "implied":
        marks[rows] = m.vols
        return marks, ["options marked by Black-Scholes at market.vol, held every day "
                       "(backtest.marking: implied)"]
    for t in rows:
        win = window_prices(opts.prices, int(t), opts.window, opts.window_type)
        marks[t] = sample_vol(win, opts.annualisation)
    from mcrisk.problem import MIN_VOL

    if (marks[rows] < MIN_VOL).any():
        i, j = np.argwhere(marks < MIN_VOL)[0]
        raise ConfigError(f"backtest.prices[{i}]", float(marks[i, j]),
                          f"a window ending on {opts.dates[i]} whose {m.assets[j]} returns "
                          f"have a vol >= {MIN_VOL:g} (marking: model marks options at it)")
    return marks, ["options marked by Black-Scholes at the sample vol (zero mean, x sqrt("
                   f"{opts.annualisation:g})) of the {opts.window_type} window ending on the "
                   "day (backtest.marking: model); scenarios hold day t's vol"]
