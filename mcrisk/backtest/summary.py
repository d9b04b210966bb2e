"""Per model and level: exceptions and their coverage tests, traffic light, ES test."""

from __future__ import annotations

import numpy as np

from mcrisk.backtest import coverage
from mcrisk.errors import ConfigError

BASEL_DAYS = 250
ZONE_RANK = {"green": 0, "yellow": 1, "red": 2}


def zones(flags: np.ndarray, level: float, dates: list[str]) -> dict:
    """Traffic light of the last 250 days and the worst of every 250-day window (the whole
    series when it is shorter, judged at its own length)."""
    n = min(BASEL_DAYS, len(flags))
    last = coverage.traffic_light(int(flags[-n:].sum()), n, level)
    counts = np.convolve(flags, np.ones(n, np.int64), "valid")  # exceptions per window
    i = int(np.argmax(counts))
    worst = coverage.traffic_light(int(counts[i]), n, level)
    return {"days": n,
            "last": {"zone": last["zone"], "exceptions": int(flags[-n:].sum()),
                     "start": dates[-n], "end": dates[-1]},
            "worst": {"zone": worst["zone"], "exceptions": int(counts[i]), "start": dates[i],
                      "end": dates[i + n - 1]},
            "green_max": last["green_max"], "yellow_max": last["yellow_max"]}


def es_scenarios(scen: list[np.ndarray], seed: int) -> np.ndarray:
    """``(days, n)`` equally likely scenario losses per day for Z2's p-value; days with
    more scenarios than the fewest (an expanding window) are resampled down to it."""
    n = min(len(s) for s in scen)
    if all(len(s) == n for s in scen):
        return np.stack(scen)
    rng = np.random.Generator(np.random.PCG64([seed, 0x45535432]))
    return np.stack([s if len(s) == n else s[rng.choice(len(s), n, replace=False)]
                     for s in scen])


def summarise(loss: np.ndarray, var: np.ndarray, es: np.ndarray, scen: list[np.ndarray],
              level: float, dates: list[str], es_sims: int, seed: int) -> dict:
    """Everything reported for one model at one level (see `tasks.backtest.FIELDS`)."""
    flags = coverage.exceptions(loss, var)
    kup = coverage.kupiec(flags, level)
    chr_ = coverage.christoffersen(flags, level)
    try:
        z2 = coverage.es_test(loss, var, es, level, es_scenarios(scen, seed),
                              n_sims=es_sims, seed=seed)
        es_out = {"z2": z2["z2"], "p_value": z2["p_value"], "n_sims": z2["n_sims"],
                  "note": None}
    except ConfigError as err:  # an ES forecast <= 0 (a book that gains in its tail)
        es_out = {"z2": None, "p_value": None, "n_sims": 0, "note": str(err)}
    return {
        "exceptions": kup["exceptions"], "expected": kup["expected"], "rate": kup["rate"],
        "exception_dates": [dates[i] for i in np.flatnonzero(flags)],
        "kupiec": {"lr": kup["lr"], "p_value": kup["p_value"]},
        "christoffersen": {"lr_ind": chr_["lr_ind"], "p_ind": chr_["p_ind"],
                           "lr_cc": chr_["lr_cc"], "p_cc": chr_["p_cc"],
                           "n01": chr_["n01"], "n11": chr_["n11"]},
        "traffic_light": zones(flags, level, dates),
        "es_test": es_out,
        "mean_var": float(var.mean()), "mean_es": float(es.mean()),
    }
