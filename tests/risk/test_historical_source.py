"""risk.scenarios: historical and filtered historical scenarios through the risk engine,
against the empirical tail of q * dP and Black-Scholes revaluations computed here."""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

import mcrisk
from mcrisk.errors import ConfigError

PRICES = str(Path(__file__).parents[2] / "experiments" / "data" / "crypto_prices.csv")
R = 0.03


@pytest.fixture(scope="module")
def history():
    with open(PRICES) as f:
        rows = list(csv.reader(f))
    return rows[0][1:], np.array([[float(x) for x in r[1:]] for r in rows[1:]])


def _cfg(names, prices, positions, levels=(0.95, 0.99), **scenarios):
    market = dict(assets=names, spot=prices[-1].tolist(), vol=[0.6] * len(names), rate=R,
                  corr=np.eye(len(names)).tolist())
    return dict(market=market, model=dict(name="gbm"),
                sim=dict(n_paths=1000, n_steps=1, seed=5, dtype="float64"),
                # A copy: a test that edits a quantity must not edit LINEAR for the next.
                portfolio=dict(positions=copy.deepcopy(positions)),
                risk=dict(horizon=1 / 365, levels=list(levels), margin=dict(enabled=False),
                          scenarios=dict(prices=PRICES, **scenarios)))


def _top(loss, level):
    m = math.ceil(loss.size * (1 - level) - 1e-9)
    top = np.sort(loss)[::-1][:m]
    return top[-1], top.mean()


LINEAR = [dict(name="btc", type="spot", asset="BTC", quantity=2.0),
          dict(name="eth", type="spot", asset="ETH", quantity=-10.0),
          dict(name="sol", type="spot", asset="SOL", quantity=100.0)]


@pytest.mark.parametrize("days,overlapping", [(1, True), (5, False)])
def test_linear_book_historical_var_es_is_the_empirical_tail(history, days, overlapping):
    names, p = history
    q = np.array([2.0, -10.0, 100.0])
    cfg = _cfg(names, p, LINEAR, source="historical", horizon_days=days,
               overlapping=overlapping)
    res = mcrisk.risk(cfg)
    cfg["risk"]["attribution"] = False
    bare = mcrisk.risk(cfg)
    assert bare["contributions"] == {} and bare["var"] == res["var"]
    ends = (np.arange(days, len(p)) if overlapping
            else np.arange(len(p) - 1, days - 1, -days)[::-1])
    loss = -(p[-1] * (p[ends] / p[ends - days] - 1)) @ q
    assert res["stats"]["n_scenarios"] == loss.size
    for level in (0.95, 0.99):
        var, es = _top(loss, level)
        assert res["var"][str(level)] == pytest.approx(var, rel=1e-9)
        assert res["es"][str(level)] == pytest.approx(es, rel=1e-9)
        comp = res["contributions"][str(level)]["component_es"]
        assert sum(comp.values()) == pytest.approx(es, rel=1e-9)


@pytest.mark.parametrize("attribution", [True, False])
def test_age_weighted_var_es_is_the_weighted_tail(history, attribution):
    names, p = history
    q, lam = np.array([2.0, -10.0, 100.0]), 0.98
    cfg = _cfg(names, p, LINEAR, source="historical", age_weighting=lam)
    cfg["risk"]["attribution"] = attribution
    res = mcrisk.risk(cfg)
    assert bool(res["contributions"]) == attribution
    loss = -(p[-1] * (p[1:] / p[:-1] - 1)) @ q
    n = loss.size
    w = lam ** np.arange(n - 1, -1, -1) * (1 - lam) / (1 - lam ** n)
    for level in (0.95, 0.99):
        t = 1 - level
        # VaR: the smallest loss x with P(L > x) <= 1 - level; ES: the tail beyond it plus
        # the share of VaR's own atom that fills 1 - level.
        var = min(x for x in loss if w[loss > x].sum() <= t + 1e-15)
        beyond = loss > var
        es = (w[beyond] @ loss[beyond] + (t - w[beyond].sum()) * var) / t
        assert res["var"][str(level)] == pytest.approx(var, rel=1e-9)
        assert res["es"][str(level)] == pytest.approx(es, rel=1e-9)
    assert res["var_ci"]["0.99"] is None


def _bs(s, k, t, vol, call=True):
    d1 = (np.log(s / k) + (R + 0.5 * vol ** 2) * t) / (vol * np.sqrt(t))
    d2 = d1 - vol * np.sqrt(t)
    if call:
        return s * norm.cdf(d1) - k * np.exp(-R * t) * norm.cdf(d2)
    return k * np.exp(-R * t) * norm.cdf(-d2) - s * norm.cdf(-d1)


def test_option_book_historical_losses_are_black_scholes_revaluations(history):
    names, p = history
    s0 = p[-1]
    t, h = 30 / 365, 1 / 365
    positions = [dict(name="call", type="european", asset="BTC", option="call",
                      strike=float(round(s0[0])), expiry=t, quantity=-3.0),
                 dict(name="put", type="european", asset="ETH", option="put",
                      strike=float(round(0.9 * s0[1])), expiry=t, quantity=20.0)]
    res = mcrisk.risk(_cfg(names, p, positions, source="historical"))
    s1 = s0 * p[1:] / p[:-1]  # today's spot moved by each one-day return
    k_c, k_p = positions[0]["strike"], positions[1]["strike"]
    loss = (-3.0 * (_bs(s0[0], k_c, t, 0.6) - _bs(s1[:, 0], k_c, t - h, 0.6))
            + 20.0 * (_bs(s0[1], k_p, t, 0.6, call=False)
                      - _bs(s1[:, 1], k_p, t - h, 0.6, call=False)))
    for level in (0.95, 0.99):
        var, es = _top(loss, level)
        assert res["var"][str(level)] == pytest.approx(var, rel=1e-8)
        assert res["es"][str(level)] == pytest.approx(es, rel=1e-8)
    worst = res["worst_scenarios"][0]
    assert worst["loss"] == pytest.approx(loss[worst["scenario"]], rel=1e-8)


def test_fhs_var_hits_the_bootstrap_distributions_quantile(history):
    """One asset, h = 1: FHS losses are -q S0 (exp(sigma_T z*) - 1) with z* drawn from the
    EWMA residuals, so the exact exceedance probability of the reported VaR follows from the
    residuals alone; it must be within 4 s.e. of 1 - level."""
    from mcrisk.history import ewma_filter

    names, p = history
    n = 20_000
    res = mcrisk.risk(_cfg(names, p, [LINEAR[0]], levels=(0.99,), source="filtered_historical",
                           filter="ewma", n_scenarios=n))
    f = ewma_filter(np.diff(np.log(p), axis=0))
    loss = -2.0 * p[-1, 0] * np.expm1(f.forecast[0] * f.residuals[:, 0])
    exceed = np.mean(loss > res["var"]["0.99"])
    assert abs(exceed - 0.01) <= 4 * math.sqrt(0.01 * 0.99 / n) + 1 / len(loss)


def test_scenario_config_errors(history):
    names, p = history
    with pytest.raises(ConfigError, match="risk.scenarios.lookback"):
        mcrisk.risk(_cfg(names, p, LINEAR, source="historical", lookback=5))
    bad = _cfg(names, p, LINEAR, source="historical")
    del bad["risk"]["scenarios"]["prices"]
    with pytest.raises(ConfigError, match="risk.scenarios.prices"):
        mcrisk.risk(bad)
    with pytest.raises(ConfigError, match="risk.scenarios.age_weighting"):
        mcrisk.risk(_cfg(names, p, LINEAR, source="filtered_historical", age_weighting=0.9))
    with pytest.raises(ConfigError, match="risk.scenarios.window"):
        mcrisk.risk(_cfg(names, p, LINEAR, source="filtered_historical", filter="garch",
                         window=50))
    with pytest.raises(ConfigError, match="risk.scenarios.ewma_lambda"):
        mcrisk.risk(_cfg(names, p, LINEAR, source="filtered_historical", ewma_lambda=1.0))
    with pytest.raises(ConfigError, match="risk.scenarios.source"):
        mcrisk.risk(_cfg(names, p, LINEAR, source="bootstrap"))


def test_history_chunks_share_one_compilation(history):
    """The last chunk is padded to the chunk size: after a run of 1,500 FHS scenarios (a full
    chunk and a part), a run of 2,500 (two full chunks and another part) with new
    quantities compiles nothing."""
    from tests.compiles import compiled

    names, p = history
    mcrisk.risk(_cfg(names, p, LINEAR, source="filtered_historical", n_scenarios=1500))
    cfg = _cfg(names, p, LINEAR, source="filtered_historical", n_scenarios=2500)
    cfg["portfolio"]["positions"][0]["quantity"] = 7.0
    with compiled() as names_compiled:
        mcrisk.risk(cfg)
    assert names_compiled == [], names_compiled
