"""Stress and margin values by nested Monte Carlo carry standard errors that explain their
distance to the closed form: every grid point and stress loss of a book forced onto nested
revaluation lies within 4 of its stated standard errors of the exact Black-Scholes loss."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

import mcrisk

S0, VOL, R = 100.0, 0.6, 0.02
POS = [dict(name="call", type="european", asset="A", option="call", strike=110.0, expiry=0.5,
            quantity=-2.0),
       dict(name="put", type="european", asset="A", option="put", strike=90.0, expiry=0.5,
            quantity=3.0)]


def _bs(s, k, t, vol, call):
    d1 = (np.log(s / k) + (R + 0.5 * vol ** 2) * t) / (vol * np.sqrt(t))
    d2 = d1 - vol * np.sqrt(t)
    if call:
        return s * norm.cdf(d1) - k * np.exp(-R * t) * norm.cdf(d2)
    return k * np.exp(-R * t) * norm.cdf(-d2) - s * norm.cdf(-d1)


def _book(s, t, vol):
    return sum(p["quantity"] * _bs(s, p["strike"], t, vol, p["option"] == "call") for p in POS)


def _cfg(stress_paths):
    return dict(
        market=dict(assets=["A"], spot=[S0], vol=[VOL], rate=R, corr=[[1.0]]),
        model=dict(name="gbm"), greeks=dict(enabled=False),
        sim=dict(n_paths=2000, n_steps=8, seed=3, dtype="float64"),
        portfolio=dict(positions=POS),
        risk=dict(revaluation="nested", stress_paths=stress_paths,
                  stress=[dict(name="crash", spot={"A": -30}, vol={"A": 20}),
                          dict(name="slow", spot={"A": -10}, vol={"A": 10}, horizon=0.05)],
                  margin=dict(spot_range=0.2, spot_steps=5, vol_shift=0.1)))


def test_nested_stress_and_margin_within_their_standard_errors_of_black_scholes():
    res = mcrisk.stress(_cfg(8000))
    base = _book(S0, 0.5, VOL)
    assert res["today"]["method"]["call"].startswith("monte carlo (8000 paths")
    for s in res["stress"]:
        shock, dv = s["spot_shock_pct"]["A"] / 100, s["vol_shock_pts"]["A"] / 100
        exact = base - _book(S0 * (1 + shock), 0.5 - s["horizon"], VOL + dv)
        assert s["loss_stderr"] > 0
        assert abs(s["loss"] - exact) <= 4 * s["loss_stderr"], (s["name"], s["loss"], exact)
    m = res["margin"]
    exact_losses = []
    for pt in m["points"]:
        exact = base - _book(S0 * (1 + pt["spot"]), 0.5, VOL + pt["vol"])
        exact_losses.append(exact * pt["weight"])
        assert abs(pt["loss"] - exact) <= 4 * pt["loss_stderr"] + 1e-9, (pt, exact)
    assert m["revaluation_paths"] == 8000
    assert abs(m["requirement"] - max(exact_losses)) <= 4 * m["requirement_stderr"]


def test_stress_paths_sets_the_precision():
    """Four times the paths halve the standard error (the key is really used)."""
    few, many = (mcrisk.stress(_cfg(n))["stress"][0]["loss_stderr"] for n in (2000, 8000))
    assert 1.6 <= few / many <= 2.5, (few, many)


def test_odd_stress_paths_rejected():
    import pytest

    with pytest.raises(mcrisk.ConfigError, match=r"^risk.stress_paths: got 2001"):
        mcrisk.build(_cfg(2001))


def test_tiny_runs_still_give_a_finite_stress_error():
    """Two simulation paths must not leave the stress revaluation with a single antithetic
    pair (no standard error: NaN)."""
    cfg = _cfg(None)
    cfg["sim"]["n_paths"] = 2
    cfg["risk"]["margin"] = dict(enabled=False)
    s = mcrisk.stress(cfg)["stress"][0]
    assert np.isfinite(s["loss_stderr"]) and s["loss_stderr"] > 0
