"""Compile once: a second price, risk or stress run with other market numbers and
quantities but the same shapes compiles nothing (every number reaches the kernels as an
argument), and its closed-form values are those of the new numbers, not of the first run's."""

from __future__ import annotations

import copy

import pytest

import mcrisk
from tests.reference import qlref
from tests.compiles import compiled as _compiled


CFG = dict(
    market=dict(assets=["BTC", "ETH"], spot=[60000.0, 3000.0], vol=[0.6, 0.75],
                dividend=[0.0, 0.0], rate=0.03, corr=[[1.0, 0.8], [0.8, 1.0]]),
    model=dict(name="gbm"),
    sim=dict(n_paths=64, n_steps=4, seed=5, dtype="float64", chunk_size=64),
    greeks=dict(enabled=False),
    portfolio=dict(positions=[
        dict(name="call", type="european", asset="BTC", option="call", strike=65000,
             expiry=qlref.years(91), quantity=10),
        dict(name="asian", type="asian", asset="BTC", option="call", strike=60000,
             expiry=0.5, fixings=4, average="arithmetic", quantity=5),
        dict(name="basket", type="basket", assets=["BTC", "ETH"], weights=[0.5, 10.0],
             option="call", strike=60000, expiry=0.5, quantity=1),
        dict(name="eth", type="spot", asset="ETH", quantity=100)]),
    risk=dict(horizon=1.0 / 365.0, levels=[0.99], inner_paths=8, stress_paths=8,
              stress=[dict(name="crash", spot=dict(BTC=-30, ETH=-35),
                           vol=dict(BTC=20, ETH=25))],
              margin=dict(spot_range=0.2, spot_steps=3, vol_shift=0.1,
                          extreme_multiple=0.0)))


def test_second_run_with_new_numbers_compiles_nothing():
    for task in (mcrisk.price, mcrisk.risk, mcrisk.stress):
        task(CFG)
    cfg = copy.deepcopy(CFG)
    cfg["market"].update(spot=[52000.0, 3300.0], vol=[0.45, 0.9], rate=0.05)
    for p, q in zip(cfg["portfolio"]["positions"], (-3, 7, 2, -40)):
        p["quantity"] = q
    cfg["portfolio"]["positions"][0]["strike"] = 50000
    with _compiled() as names:
        mcrisk.price(cfg)
        risk = mcrisk.risk(cfg)
        stress = mcrisk.stress(cfg)
    assert names == [], names
    # Stale numbers baked into a reused kernel would show here: the crash scenario's call
    # (spot -30%, vol +20 pts) against Black-Scholes at the second run's market.
    exact = qlref.european(52000.0 * 0.7, 50000.0, 91, 0.65, 0.05, 0.0, "call").NPV()
    today = qlref.european(52000.0, 50000.0, 91, 0.45, 0.05, 0.0, "call").NPV()
    for res in (risk, stress):
        crash = res["stress"][0]["by_position"]["call"]
        assert crash == pytest.approx(-3 * (today - exact), rel=1e-9)


def test_streamed_risk_without_attribution_compiles_once():
    """The streamed kernel without leave-one-out flags (risk.attribution: false) is
    compiled once too: a second run on new numbers compiles nothing."""
    cfg = copy.deepcopy(CFG)
    cfg["portfolio"]["positions"] = [cfg["portfolio"]["positions"][i] for i in (0, 3)]
    cfg["risk"].update(attribution=False, stress=[], margin=dict(enabled=False))
    mcrisk.risk(cfg)
    cfg["market"].update(spot=[52000.0, 3300.0], vol=[0.45, 0.9])
    cfg["portfolio"]["positions"][0]["quantity"] = -4
    with _compiled() as names:
        res = mcrisk.risk(cfg)
    assert names == [], names
    assert res["contributions"] == {}
