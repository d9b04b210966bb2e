"""Today's values in stress and margin: the unshocked margin point is worth today's value,
and linear positions are exact in float32, against Black-Scholes and plain arithmetic."""

from __future__ import annotations

import numpy as np
import QuantLib as ql
from scipy.stats import norm

import mcrisk

SPOT, VOL, R = {"BTC": 60000.0, "ETH": 3000.0}, {"BTC": 0.6, "ETH": 0.75}, 0.03
T = 73 / 365  # a whole number of days for QuantLib
CALL = dict(name="btc_call", type="european", asset="BTC", option="call", strike=65000.0,
            expiry=T, quantity=10.0)
# Nested at every grid point; with it in the book, float32 Black-Scholes rounded differently
# in the one-point call for today's value than in the grid's call.
LOOKBACK = dict(name="btc_lookback", type="lookback", asset="BTC", option="call", expiry=T,
                quantity=1.0)


def _ql(option, s, vol):
    today = ql.Date(1, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(s)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, R, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)))
    exercise = ql.EuropeanExercise(today + int(round(T * 365)))
    if option == "call":
        opt = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Call, CALL["strike"]), exercise)
        opt.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    else:  # the lookback has seen today's spot: its running minimum is min(today, shocked)
        opt = ql.ContinuousFloatingLookbackOption(min(s, SPOT["BTC"]),
                                                  ql.FloatingTypePayoff(ql.Option.Call),
                                                  exercise)
        opt.setPricingEngine(ql.AnalyticContinuousFloatingLookbackEngine(process))
    return opt.NPV()


def _book(move, dvol):
    s, vol = SPOT["BTC"] * (1 + move), VOL["BTC"] + dvol
    return (CALL["quantity"] * _ql("call", s, vol)
            + LOOKBACK["quantity"] * _ql("lookback", s, vol))


def test_unshocked_margin_point_loses_nothing_and_points_match_quantlib():
    cfg = dict(market=dict(assets=["BTC", "ETH"], spot=[SPOT["BTC"], SPOT["ETH"]],
                           vol=[VOL["BTC"], VOL["ETH"]], rate=R, corr=[[1.0, 0.8], [0.8, 1.0]]),
               sim=dict(n_paths=1000, n_steps=8, dtype="float32"), greeks=dict(enabled=False),
               portfolio=dict(positions=[CALL, LOOKBACK]),
               risk=dict(levels=[0.95], stress=[], stress_paths=2000, margin=dict(mode="joint")))
    m = mcrisk.stress(cfg)["margin"]
    base = _book(0.0, 0.0)
    z = []
    for pt in m["points"]:
        if pt["weight"] == 1.0:
            exact = base - _book(pt["spot"], pt["vol"])
            # float32 closed form: ~1e-7 of the call's notional on top of the nested error.
            z.append((pt["loss"] - exact) / (pt["loss_stderr"] + 1e-6 * 10 * SPOT["BTC"]))
    assert max(abs(x) for x in z) <= 4.0, z
    zero = [pt for pt in m["points"] if pt["spot"] == 0.0 and pt["vol"] == 0.0]
    # Before: today's value came from another compiled call; the point lost -0.0195.
    assert [pt["loss"] for pt in zero] == [0.0]


DAO = dict(assets=["DAO", "ETH", "USDC"], spot=[0.37, 3000.0, 1.0], vol=[1.1, 0.75, 0.02],
           dividend=[0.0, 0.03, 0.0], rate=0.03,
           corr=[[1.0, 0.65, 0.0], [0.65, 1.0, 0.0], [0.0, 0.0, 1.0]])
TREASURY = [dict(name="dao_tokens", type="spot", asset="DAO", quantity=4e7),
            dict(name="eth_reserve", type="spot", asset="ETH", quantity=15000.0),
            dict(name="usdc_reserve", type="spot", asset="USDC", quantity=6e7),
            dict(name="eth_perp", type="perpetual", asset="ETH", quantity=-1000.0,
                 funding_rate=0.1)]


def test_linear_positions_are_exact_in_float32():
    cfg = dict(market=DAO, sim=dict(n_paths=1000, n_steps=8, dtype="float32"),
               greeks=dict(enabled=False), portfolio=dict(positions=TREASURY),
               risk=dict(levels=[0.95], margin=dict(enabled=False),
                         stress=[dict(name="depeg", spot={"USDC": -12}),
                                 dict(name="crash", spot={"DAO": -60, "ETH": -40},
                                      horizon=0.1)]))
    exact = {"dao_tokens": 0.37 * 4e7, "eth_reserve": 3000.0 * 15000, "usdc_reserve": 6e7,
             "eth_perp": 0.0}
    priced = {p["name"]: p["value"] for p in mcrisk.price(cfg)["positions"]}
    res = mcrisk.risk(cfg)
    for name, v in exact.items():
        # Before: 14,800,000.19, 45,000,007.32 (float32 exp(log(spot)) times the quantity).
        assert abs(priced[name] - v) <= 1e-6, (name, priced[name])
        assert abs(res["today"]["positions"][name] - v) <= 1e-6, (name, res["today"])
    depeg, crash = res["stress"]
    assert abs(depeg["loss"] - 0.12 * 6e7) <= 1e-6, depeg["loss"]  # before: +0.29
    # 0.1 years at the crashed spot: the perp's funding accrues on the shocked notional.
    perp = -1000.0 * (3000.0 * 0.6 - 3000.0 - 0.1 * 3000.0 * 0.6 * 0.1)
    assert abs(crash["by_position"]["eth_perp"] - (0.0 - perp)) <= 1e-6
    assert abs(crash["by_position"]["dao_tokens"] - 0.6 * 0.37 * 4e7) <= 1e-6
