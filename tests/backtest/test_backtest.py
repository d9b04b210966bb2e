"""task=backtest: coverage of known models on simulated GBM, the realised P&L of an option
book against Black-Scholes (SciPy), the S&P 500 end to end, compile-once, config errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

import mcrisk

from mcrisk.config.backtest import MODELS
from mcrisk.errors import ConfigError
from mcrisk.tasks.backtest import backtest
from tests.compiles import compiled

SP500 = str(Path(__file__).parents[2] / "experiments" / "data" / "sp500.csv")
DAILY_VOL = 0.2 / np.sqrt(252.0)


def gbm_prices(n: int, seed: int) -> np.ndarray:
    """Closes of a GBM with constant vol 20% a year, 252 rows a year, martingale spot."""
    z = np.random.default_rng(seed).standard_normal(n - 1)
    return 100.0 * np.exp(np.cumsum(np.r_[0.0, DAILY_VOL * z - 0.5 * DAILY_VOL ** 2]))


def config(prices, positions=None, **backtest_keys) -> dict:
    return {"market": {"assets": ["X"], "spot": [100.0], "vol": [0.2], "rate": 0.02},
            "sim": {"dtype": "float64", "seed": 3},
            "portfolio": {"positions": positions or [
                {"name": "x", "type": "spot", "asset": "X", "quantity": 10.0}]},
            "backtest": {"prices": {"values": prices}, **backtest_keys}}


def test_correct_vol_is_accepted_and_half_vol_rejected():
    # 750 days at 99% and 95%: ~7.5 and ~37.5 exceptions expected. At half the vol the
    # 99% VaR sits at 1.16 sigma (12% exceptions): Kupiec's p-value is ~0.
    cfg = config(gbm_prices(1001, seed=11), window=250, test_days=750, levels=[0.99, 0.95],
                 models=["historical", "delta_normal"])
    right = backtest(cfg)
    half = backtest({**cfg, "backtest": {**cfg["backtest"], "vol_scale": 0.5}})
    for model in ("historical", "delta_normal"):
        for lvl in ("0.99", "0.95"):
            ok = right["models"][model]["levels"][lvl]
            bad = half["models"][model]["levels"][lvl]
            assert ok["kupiec"]["p_value"] > 0.05, (model, lvl, ok["exceptions"])
            assert bad["kupiec"]["p_value"] < 1e-6, (model, lvl, bad["exceptions"])
            assert bad["exceptions"] > 2 * ok["exceptions"]
        assert right["models"][model]["levels"]["0.99"]["traffic_light"]["last"]["zone"] \
            == "green"
        assert half["models"][model]["levels"]["0.99"]["traffic_light"]["last"]["zone"] \
            == "red"


def bs(s, k, t, vol, r, call):
    d1 = (np.log(s / k) + (r + 0.5 * vol ** 2) * t) / (vol * np.sqrt(t))
    d2 = d1 - vol * np.sqrt(t)
    if call:
        return s * norm.cdf(d1) - k * np.exp(-r * t) * norm.cdf(d2)
    return k * np.exp(-r * t) * norm.cdf(-d2) - s * norm.cdf(-d1)


@pytest.mark.parametrize("marking", ["model", "implied"])
def test_option_book_pnl_is_black_scholes_revaluation(marking):
    p = gbm_prices(60, seed=5)
    book = [{"name": "call", "type": "european", "asset": "X", "option": "call",
             "strike": 105.0, "expiry": 0.25, "quantity": -3.0},
            {"name": "put", "type": "european", "asset": "X", "option": "put",
             "strike": 90.0, "expiry": 0.5, "quantity": 2.0},
            {"name": "x", "type": "spot", "asset": "X", "quantity": 1.0}]
    window, h, days = 40, 2, 5
    res = backtest(config(p, book, window=window, test_days=days, horizon_days=h,
                          levels=[0.95], models=["delta_normal"], marking=marking))

    def vol(t):  # the window's zero-mean sample vol, annualised with 252
        r = np.diff(np.log(p[t - window:t + 1]))
        return np.sqrt(np.mean(r * r) * 252.0) if marking == "model" else 0.2

    want = []
    for t in range(len(p) - h - days, len(p) - h):
        s0, s1, v0, v1 = p[t], p[t + h], vol(t), vol(t + h)
        loss = s0 - s1
        for pos in book[:2]:
            k = pos["strike"] * s0 / 100.0  # the book rolled to the day's spot
            call = pos["option"] == "call"
            loss += pos["quantity"] * (bs(s0, k, pos["expiry"], v0, 0.02, call)
                                       - bs(s1, k, pos["expiry"] - h / 252.0, v1, 0.02, call))
        want.append(loss)
    np.testing.assert_allclose(res["loss"], want, rtol=1e-9, atol=1e-9)


def test_sp500_every_model_end_to_end():
    book = [{"name": "index", "type": "spot", "asset": "SPX", "quantity": 1.0},
            {"name": "put", "type": "european", "asset": "SPX", "option": "put",
             "strike": 2400.0, "expiry": 0.25, "quantity": 1.0}]
    cfg = {"market": {"assets": ["SPX"], "spot": [2500.0], "vol": [0.15], "rate": 0.02},
           "sim": {"dtype": "float64"}, "portfolio": {"positions": book},
           "backtest": {"prices": SP500, "window": 100, "test_days": 20, "levels": [0.99],
                        "n_scenarios": 200, "es_sims": 200, "models": list(MODELS)}}
    res = backtest(cfg)
    assert res["dates"][-1] == "2018-12-28" and len(res["loss"]) == 20
    assert set(res["models"]) == {"historical", "filtered_historical_ewma",
                                  "filtered_historical_garch", "delta_normal", "gbm",
                                  "merton"}
    for model, r in res["models"].items():
        x = r["levels"]["0.99"]
        assert x["exceptions"] == len(x["exception_dates"])
        assert x["traffic_light"]["last"]["zone"] in ("green", "yellow", "red")
        assert np.isfinite(r["var"]["0.99"]).all() and min(r["var"]["0.99"]) > 0, model
        assert x["es_test"]["p_value"] is not None


def test_second_backtest_compiles_nothing():
    cfg = config(gbm_prices(80, seed=2), window=40, test_days=3, levels=[0.95],
                 models=["historical", "gbm", "delta_normal"], n_scenarios=100)
    book = [{"name": "call", "type": "european", "asset": "X", "option": "call",
             "strike": 100.0, "expiry": 0.25, "quantity": 1.0}]
    cfg["portfolio"]["positions"] = book
    backtest(cfg)
    other = config(gbm_prices(120, seed=9), window=50, test_days=30, levels=[0.95],
                   models=["historical", "gbm", "delta_normal"], n_scenarios=100)
    other["portfolio"]["positions"] = book
    with compiled() as names:
        res = mcrisk.backtest(other)  # the public API: the package is callable
    assert names == []
    assert len(res["loss"]) == 30


@pytest.mark.parametrize("keys, path", [
    ({"window": 50}, "backtest.window"),  # HS at 99% needs 100 returns
    ({"models": ["historical", "garch"]}, "backtest.models[1]"),
    ({"window_size": 250}, "backtest.window_size"),
    ({"window": 300}, "backtest.window"),  # no test day left in 301 prices
    ({"marking": "market"}, "backtest.marking"),
])
def test_bad_config_names_the_field(keys, path):
    cfg = config(gbm_prices(301, seed=1), levels=[0.99], **keys)
    with pytest.raises(ConfigError) as err:
        backtest(cfg)
    assert err.value.path == path
