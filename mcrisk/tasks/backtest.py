"""task=backtest: VaR/ES models re-estimated on each day of a price history, side by side.

For each test day every model of ``backtest.models`` forecasts VaR and ES of the book's
h-day loss from the window ending that day; the realised loss revalues the book at the
prices h days later (`mcrisk.backtest.run`). Per model and level the result holds the
exception dates, Kupiec's and Christoffersen's tests, the Basel traffic light of the last
250 days and of the worst 250-day window, the Acerbi-Szekely Z2 ES test, the mean VaR and
the seconds per backtested day.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

_M = "models.<model>."
_L = _M + "levels.<level>."
FIELDS = [
    ("task", "`backtest`"),
    ("setup.source", "the price file, or `arrays` when prices came from Python"),
    ("setup.assets", "the market's assets (price columns used)"),
    ("setup.models", "the models backtested"),
    ("setup.window", "one-day returns per estimation window"),
    ("setup.window_type", "`rolling` or `expanding`"),
    ("setup.horizon_days", "h: price rows between a forecast and its realised loss"),
    ("setup.levels", "VaR/ES levels"),
    ("setup.test_days", "days backtested"),
    ("setup.n_scenarios", "scenarios per day of filtered HS, gbm and merton"),
    ("setup.marking", "`model` (Black-Scholes at the window's sample vol) or `implied` "
                      "(at `market.vol`)"),
    ("setup.vol_scale", "factor on every model's forecast returns (1: as estimated)"),
    ("setup.annualisation", "price rows per year"),
    ("dates", "list: the test days (date labels of the price rows)"),
    ("loss", "list: realised loss of the book from each day to h rows later (positive = "
             "loss), in the book's currency"),
    ("value", "list: the rolled book's value on each day"),
    (_M + "var.<level>", "list: VaR forecast of each day"),
    (_M + "es.<level>", "list: ES forecast of each day"),
    (_M + "seconds_per_day", "seconds per backtested day: forecasting (filter fits, draws) "
                             "plus the model's share of the revaluation"),
    (_L + "exceptions", "days with loss > VaR"),
    (_L + "expected", "days x (1 - level)"),
    (_L + "rate", "exceptions / days"),
    (_L + "exception_dates", "list: the days with an exception"),
    (_L + "kupiec.lr", "Kupiec's proportion-of-failures likelihood ratio (chi2, 1 dof)"),
    (_L + "kupiec.p_value", "its p-value (small: the exception rate is wrong)"),
    (_L + "christoffersen.lr_ind", "Christoffersen's independence likelihood ratio "
                                   "(chi2, 1 dof)"),
    (_L + "christoffersen.p_ind", "its p-value (small: exceptions cluster)"),
    (_L + "christoffersen.lr_cc", "conditional coverage LR = Kupiec + independence "
                                  "(chi2, 2 dof)"),
    (_L + "christoffersen.p_cc", "its p-value"),
    (_L + "christoffersen.n01", "days without an exception followed by one"),
    (_L + "christoffersen.n11", "exceptions followed by an exception"),
    (_L + "traffic_light.days", "days per traffic-light window (250, or all when fewer)"),
    (_L + "traffic_light.last.zone", "Basel zone of the last window (`green`, `yellow`, "
                                     "`red`; the binomial rule at this level)"),
    (_L + "traffic_light.last.exceptions", "exceptions in it"),
    (_L + "traffic_light.last.start", "its first day"),
    (_L + "traffic_light.last.end", "its last day"),
    (_L + "traffic_light.worst.zone", "worst zone of every window of that length"),
    (_L + "traffic_light.worst.exceptions", "exceptions in the worst window"),
    (_L + "traffic_light.worst.start", "its first day"),
    (_L + "traffic_light.worst.end", "its last day"),
    (_L + "traffic_light.green_max", "most exceptions still green"),
    (_L + "traffic_light.yellow_max", "most exceptions still yellow"),
    (_L + "es_test.z2", "Acerbi-Szekely Z2 (0 if ES is right, negative if too low); null "
                        "when some ES forecast is <= 0"),
    (_L + "es_test.p_value", "its p-value by simulation from each day's scenarios"),
    (_L + "es_test.n_sims", "simulations of the p-value"),
    (_L + "es_test.note", "why Z2 is null, else null"),
    (_L + "mean_var", "mean VaR forecast"),
    (_L + "mean_es", "mean ES forecast"),
    ("seconds_per_day", "wall seconds of the whole backtest per test day"),
    ("seconds_kernel", "wall seconds of the whole backtest, compilation included"),
]


def backtest(cfg: Any, progress: Any = None) -> dict:
    """Backtest every model of ``cfg["backtest"]`` on the book of ``cfg["portfolio"]``.

    Args:
        cfg: dict or DictConfig with ``market``, ``portfolio`` and ``backtest``.
        progress: see `mcrisk.progress.resolve`.

    Returns:
        The result dict (`FIELDS` documents each key).
    """
    from mcrisk import errors as E
    from mcrisk.config import build
    from mcrisk.config.backtest import backtest_options
    from mcrisk.config.build import to_plain
    from mcrisk.progress import Tracker, resolve

    plain = E.mapping("config", to_plain(cfg))
    problem = build(plain)
    opts = backtest_options(plain, problem.market.assets, problem.sim.seed)
    from mcrisk.backtest import run as bt

    bt.check_book(problem)

    from mcrisk.backtest.summary import summarise
    from mcrisk.engine import prepare, use_dtype
    from mcrisk.riskengine.metrics import _key

    use_dtype(problem.sim.dtype)
    progress = resolve(progress, plain) or Tracker()
    t0 = time.perf_counter()
    rows = opts.prices.shape[0]
    h = opts.horizon_days
    days = np.arange(rows - h - opts.test_days, rows - h)
    prep = prepare(problem)
    marks, notes = bt.marking_vols(problem, opts, days)
    scale, today, loss, deltas = bt.realised(problem, prep, opts, days, marks, [0.0])
    fc = bt.forecasts(problem, prep, opts, days, marks, scale, today, deltas, progress)
    dates = [opts.dates[t] for t in days]
    models = {}
    for md in opts.models:
        levels = {_key(a): summarise(loss, fc.var[md][_key(a)], fc.es[md][_key(a)],
                                     fc.scenarios[md], a, dates, opts.es_sims, opts.seed)
                  for a in opts.levels}
        models[md] = {"var": {k: v.tolist() for k, v in fc.var[md].items()},
                      "es": {k: v.tolist() for k, v in fc.es[md].items()},
                      "levels": levels, "seconds_per_day": fc.seconds[md] / len(days)}
    seconds = time.perf_counter() - t0
    notes += [
        "the book on each day is the configured one rolled to the day: quantities fixed, "
        "expiries at constant maturity, strikes and other levels at their ratio to "
        "market.spot",
        f"realised loss: the book's value on the day minus its value {h} price row(s) later"
        + (" (overlapping horizons: exceptions are autocorrelated by construction)"
           if h > 1 else ""),
        "delta_normal: deltas by central differences in the day's market; ES test draws "
        "from the normal's quantiles",
        "gbm: Monte Carlo with the window's zero-mean covariance and a martingale spot"]
    if "merton" in opts.models:
        notes += merton_notes(fc.fallbacks, len(days) * len(problem.market.assets),
                              opts.dates)
    if opts.vol_scale != 1.0:
        notes.append(f"every model's forecast returns scaled by vol_scale = "
                     f"{opts.vol_scale:g}")
    setup = {"source": opts.source, "assets": list(problem.market.assets),
             "models": list(opts.models), "window": opts.window,
             "window_type": opts.window_type, "horizon_days": h,
             "levels": list(opts.levels), "test_days": len(days),
             "n_scenarios": opts.n_scenarios, "marking": opts.marking,
             "vol_scale": opts.vol_scale, "annualisation": opts.annualisation}
    value = (scale * today).sum(axis=1)
    return E.check_finite(
        {"task": "backtest", "setup": setup, "dates": dates, "loss": loss.tolist(),
         "value": value.tolist(), "models": models, "seconds_per_day": seconds / len(days),
         "seconds_kernel": seconds, "notes": notes}, "backtest")


def merton_notes(fallbacks: list, fits: int, dates) -> list[str]:
    """What merton assumed, and every asset-day whose fit was not used (never silent)."""
    from collections import Counter

    from mcrisk.backtest.jumps import INTENSITY_MAX, N_TERMS

    notes = [f"merton: Monte Carlo of Merton jump-diffusions fitted each day per asset by "
             f"maximum likelihood on the window (Poisson mixture cut at {N_TERMS} jumps: "
             f"omitted mass < 1e-12 at the intensity bound of {INTENSITY_MAX:g} a day), "
             "diffusions correlated as the window's returns, jumps independent across "
             "assets, martingale spot"]
    if not fallbacks:
        return notes + [f"merton: all {fits} asset-day fits used"]
    why = Counter(r for _, _, r in fallbacks)
    day, asset, reason = fallbacks[0]
    return notes + [
        f"merton: {len(fallbacks)} of {fits} asset-day fits not used, those assets had no "
        "jumps that day (the window's zero-mean vol, as gbm): "
        + "; ".join(f"{n} {r}" for r, n in why.most_common())
        + f" (first: {asset} on {dates[day]}, {reason})"]


def table(result: dict) -> str:
    """Plain-text table: one line per model and level."""
    s = result["setup"]
    lines = [f"backtest: {s['test_days']} days of {s['source']} ({result['dates'][0]} to "
             f"{result['dates'][-1]}), {s['window_type']} window {s['window']}, "
             f"h = {s['horizon_days']}, {result['seconds_per_day']:.3g} s/day"]
    head = (f"{'model':<26} {'level':>6} {'exc':>5} {'exp':>7} {'p_pof':>7} {'p_ind':>7} "
            f"{'p_cc':>7} {'zone':>7} {'worst':>7} {'Z2':>7} {'p_Z2':>6} {'s/day':>8}")
    lines += [head, "-" * len(head)]
    for md, r in result["models"].items():
        for lvl, x in r["levels"].items():
            z2 = x["es_test"]
            lines.append(
                f"{md:<26} {lvl:>6} {x['exceptions']:>5} {x['expected']:>7.1f} "
                f"{x['kupiec']['p_value']:>7.3f} {x['christoffersen']['p_ind']:>7.3f} "
                f"{x['christoffersen']['p_cc']:>7.3f} {x['traffic_light']['last']['zone']:>7} "
                f"{x['traffic_light']['worst']['zone']:>7} "
                + (f"{z2['z2']:>7.2f} " if z2["z2"] is not None else f"{'-':>7} ")
                + (f"{z2['p_value']:>6.3f} " if z2["p_value"] is not None else f"{'-':>6} ")
                + f"{r['seconds_per_day']:>8.4f}")
    return "\n".join(lines)
