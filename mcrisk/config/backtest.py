"""The ``backtest`` section of task=backtest, checked on the host before anything runs.

Every field is checked with its path (``backtest.window``) and unknown keys are rejected;
the defaults are those of `mcrisk.config.schema.BacktestConf`. The price history is read
and checked here (gaps, non-increasing dates and non-positive prices are errors naming the
row, as for ``market.path``).
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from mcrisk import errors as E
from mcrisk.errors import ConfigError

FIELD = "backtest"
MODELS = ("historical", "filtered_historical_ewma", "filtered_historical_garch",
          "delta_normal", "gbm", "merton")
# Merton's five parameters per asset: with fewer returns the window holds a handful of
# jumps at most and the fit mostly ends on a bound (and falls back to no jumps).
MERTON_MIN_RETURNS = 100
WINDOW_TYPES = ("rolling", "expanding")
MARKINGS = ("model", "implied")


class BacktestOptions(NamedTuple):
    """The checked section: see `BacktestConf` for the meaning of each field.

    `prices` is ``(rows, assets)`` float64 in the market's asset order, `dates` its labels.
    """

    source: str
    dates: tuple[str, ...]
    prices: np.ndarray
    models: tuple[str, ...]
    window: int
    window_type: str
    test_days: int
    horizon_days: int
    levels: tuple[float, ...]
    n_scenarios: int
    marking: str
    vol_scale: float
    ewma_lambda: float
    garch_mean: str
    annualisation: float
    es_sims: int
    chunk: int
    seed: int


def needed_returns(models, levels, horizon_days: int) -> dict[str, int]:
    """Fewest one-day returns in a window for each model: a filter's fit (`MIN_RETURNS`),
    Merton's maximum likelihood (`MERTON_MIN_RETURNS`), and for historical simulation enough h-day scenarios that the tail beyond the highest
    level holds one (1 / (1 - level))."""
    from mcrisk.history.filters import MIN_RETURNS

    tail = math.ceil(1.0 / (1.0 - max(levels)) - 1e-9)
    need = {"historical": tail + horizon_days - 1,
            "filtered_historical_ewma": MIN_RETURNS["ewma"],
            "filtered_historical_garch": MIN_RETURNS["garch"],
            "delta_normal": 2, "gbm": 2, "merton": MERTON_MIN_RETURNS}
    return {m: need[m] for m in models}


def backtest_options(cfg: dict, assets: tuple[str, ...], seed: int) -> BacktestOptions:
    """The checked ``backtest`` section of a plain-dict config, defaults filled in.

    Args:
        cfg: the whole plain config.
        assets: the market's asset names (the price columns used, in this order).
        seed: ``sim.seed``.

    Raises:
      ConfigError: naming the field, the value and what was expected.
    """
    from mcrisk.config.schema import BacktestConf
    from mcrisk.history.filters import GARCH_MEANS
    from mcrisk.history.returns import check_lambda, check_prices

    raw = dict(E.mapping(FIELD, cfg.get(FIELD) or {}))
    keys = [f.name for f in fields(BacktestConf)]
    E.only_keys(FIELD, raw, keys)
    d = BacktestConf()
    o = {k: raw.get(k, getattr(d, k)) for k in keys}
    source, dates, prices = _prices(E.required(FIELD, raw, "prices"), assets)
    prices = check_prices(f"{FIELD}.prices", prices)
    models = tuple(E.choice(f"{FIELD}.models[{i}]", m, MODELS) for i, m in enumerate(
        E.sequence(f"{FIELD}.models", o["models"], min_length=1, what="a list of models")))
    if len(set(models)) != len(models):
        raise ConfigError(f"{FIELD}.models", list(models), "distinct models")
    levels = tuple(E.number(f"{FIELD}.levels[{i}]", x, lo=0.5, hi=1.0, hi_open=True,
                            what="a confidence level in [0.5, 1)")
                   for i, x in enumerate(E.sequence(f"{FIELD}.levels", o["levels"],
                                                    min_length=1, what="a list of levels")))
    h = E.integer(f"{FIELD}.horizon_days", o["horizon_days"], lo=1)
    window = E.integer(f"{FIELD}.window", o["window"], lo=1)
    need = needed_returns(models, levels, h)
    worst = max(need, key=need.get)
    if window < need[worst]:
        raise ConfigError(f"{FIELD}.window", window, f"at least {need[worst]} one-day returns "
                          f"(what model {worst} needs at level {max(levels):g})")
    # Day t needs its window (window + 1 prices ending at t) and the price at t + h.
    room = prices.shape[0] - 1 - window - h + 1
    if room < 2:
        raise ConfigError(f"{FIELD}.window", window, f"a window leaving at least 2 test days "
                          f"in the {prices.shape[0]} prices of {source} with "
                          f"horizon_days = {h}")
    test_days = (room if o["test_days"] is None
                 else E.integer(f"{FIELD}.test_days", o["test_days"], lo=2))
    if test_days > room:
        raise ConfigError(f"{FIELD}.test_days", test_days, f"at most the {room} days after "
                          f"the first window of {window} returns in {source}")
    n_sc = E.integer(f"{FIELD}.n_scenarios", o["n_scenarios"], lo=1)
    sampled = [m for m in models if m in ("filtered_historical_ewma",
                                          "filtered_historical_garch", "gbm", "merton")]
    if sampled and n_sc * (1.0 - max(levels)) < 1.0 - 1e-9:
        raise ConfigError(f"{FIELD}.n_scenarios", n_sc, f"at least "
                          f"{math.ceil(1.0 / (1.0 - max(levels)) - 1e-9)} scenarios, so "
                          f"that {sampled[0]}'s tail beyond level {max(levels):g} holds one")
    if "filtered_historical_garch" in models:
        try:
            import arch  # noqa: F401
        except ImportError:
            raise ConfigError(f"{FIELD}.models", "filtered_historical_garch", "a model without "
                              'GARCH, or install the optional estimator: pip install '
                              '"mcrisk[history]"') from None
    return BacktestOptions(
        source=source, dates=tuple(dates), prices=prices, models=models, window=window,
        window_type=E.choice(f"{FIELD}.window_type", o["window_type"], WINDOW_TYPES),
        test_days=test_days, horizon_days=h, levels=levels, n_scenarios=n_sc,
        marking=E.choice(f"{FIELD}.marking", o["marking"], MARKINGS),
        vol_scale=E.number(f"{FIELD}.vol_scale", o["vol_scale"], lo=0.0, lo_open=True),
        ewma_lambda=check_lambda(f"{FIELD}.ewma_lambda", o["ewma_lambda"]),
        garch_mean=E.choice(f"{FIELD}.garch_mean", o["garch_mean"], GARCH_MEANS),
        annualisation=E.number(f"{FIELD}.annualisation", o["annualisation"], lo=1.0),
        es_sims=E.integer(f"{FIELD}.es_sims", o["es_sims"], lo=1),
        chunk=E.integer(f"{FIELD}.chunk", o["chunk"], lo=16),
        seed=E.integer("sim.seed", seed, lo=0))


def _prices(raw: Any, assets: tuple[str, ...]) -> tuple[str, list[str], np.ndarray]:
    """(source, dates, prices): a CSV path read by `read_prices`, or ``{dates, values}``
    arrays from Python with one column per market asset."""
    from mcrisk.marketdata import read_prices

    at = f"{FIELD}.prices"
    if isinstance(raw, (str, Path)):
        path = E.string(at, str(raw))
        _, dates, prices = read_prices(path, assets=list(assets), field=FIELD)
        return path, dates, prices
    raw = E.mapping(at, raw)
    E.only_keys(at, raw, ("dates", "values"))
    values = np.asarray(E.required(at, raw, "values"), dtype=np.float64)
    if values.ndim == 1 and len(assets) == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] != len(assets):
        raise ConfigError(f"{at}.values", list(values.shape), f"(rows, {len(assets)}) prices, "
                          "one column per market asset (" + ", ".join(assets) + ")")
    dates = raw.get("dates")
    dates = ([str(i) for i in range(values.shape[0])] if dates is None
             else [str(x) for x in E.sequence(f"{at}.dates", dates, length=values.shape[0],
                                               what="a list of date labels, one per row")])
    if len(set(dates)) != len(dates):
        raise ConfigError(f"{at}.dates", dates[:5], "distinct date labels")
    return "arrays", dates, values
