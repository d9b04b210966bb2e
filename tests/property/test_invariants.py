"""Invariants that hold path by path, so they hold to rounding for any inputs (hypothesis).

All examples share one book structure and one grid length, so one compiled kernel serves
every example.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mcrisk


def _book(spot, vol, rate, strike, barrier_frac, expiry, k2):
    down = spot * barrier_frac
    up = spot / barrier_frac
    positions = [
        dict(name="call", type="european", asset="X", option="call", strike=strike, expiry=expiry),
        dict(name="put", type="european", asset="X", option="put", strike=strike, expiry=expiry),
        dict(name="fwd", type="forward", asset="X", strike=strike, expiry=expiry),
        dict(name="do", type="barrier", asset="X", option="call", strike=strike, barrier=down,
             barrier_type="down-and-out", expiry=expiry),
        dict(name="di", type="barrier", asset="X", option="call", strike=strike, barrier=down,
             barrier_type="down-and-in", expiry=expiry),
        dict(name="uo", type="barrier", asset="X", option="put", strike=strike, barrier=up,
             barrier_type="up-and-out", expiry=expiry),
        dict(name="ui", type="barrier", asset="X", option="put", strike=strike, barrier=up,
             barrier_type="up-and-in", expiry=expiry),
        dict(name="call2", type="european", asset="X", option="call", strike=k2, expiry=expiry),
        dict(name="put2", type="european", asset="X", option="put", strike=k2, expiry=expiry),
        dict(name="dig", type="digital", asset="X", option="call", strike=strike, expiry=expiry),
        dict(name="dig2", type="digital", asset="X", option="call", strike=k2, expiry=expiry),
    ]
    return dict(market=dict(assets=["X"], spot=[spot], vol=[vol], rate=rate),
                model=dict(name="gbm"),
                # Parity and monotonicity hold path by path on any grid: 16 steps keep it lean.
                sim=dict(n_paths=1024, n_steps=16, min_steps=16, seed=5, dtype="float64",
                         chunk_size=1024),
                greeks=dict(enabled=False), portfolio=dict(positions=positions))


params = dict(
    spot=st.floats(10.0, 1e5), vol=st.floats(0.05, 2.0), rate=st.floats(-0.02, 0.2),
    moneyness=st.floats(0.5, 2.0), barrier_frac=st.floats(0.5, 0.95),
    # vol^2 x expiry <= 8: beyond ~9.6 the engine refuses 1024 paths (a payoff's mean would
    # sit in paths rarer than 1 in 1024; see mcrisk.config.build).
    expiry=st.floats(0.02, 2.0), k2_ratio=st.floats(1.0, 1.5))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**params)
def test_parity_in_out_and_strike_monotonicity(spot, vol, rate, moneyness, barrier_frac,
                                               expiry, k2_ratio):
    strike = spot * moneyness
    k2 = strike * k2_ratio
    res = mcrisk.price(_book(spot, vol, rate, strike, barrier_frac, expiry, k2))
    v = {p["name"]: p["unit_price"] for p in res["positions"]}
    tol = 1e-9 * spot
    # Put-call parity holds per path: max(x, 0) - max(-x, 0) = x.
    assert v["call"] - v["put"] == pytest.approx(v["fwd"], abs=tol)
    # In + out = vanilla per path: survival + (1 - survival) = 1.
    assert v["do"] + v["di"] == pytest.approx(v["call"], abs=tol)
    assert v["uo"] + v["ui"] == pytest.approx(v["put"], abs=tol)
    # Knock-outs are worth no more than the vanilla and no less than zero.
    assert -tol <= v["do"] <= v["call"] + tol and -tol <= v["uo"] <= v["put"] + tol
    # Monotone in strike, path by path.
    assert v["call2"] <= v["call"] + tol and v["put2"] >= v["put"] - tol
    assert v["dig2"] <= v["dig"] + tol


HESTON = dict(kappa=2.0, theta=0.25, xi=0.8, rho=-0.5)
MODELS = {"gbm": dict(name="gbm"),
          "heston": dict(name="heston", **HESTON),
          "bates": dict(name="bates", **HESTON, jump_intensity=2.0, jump_mean=-0.05,
                        jump_std=0.1)}


def _chunk_cfg(chunk_size, dtype, model):
    cfg = _book(100.0, 0.5, 0.03, 100.0, 0.8, 0.5, 1.1)
    cfg["sim"].update(n_paths=3000, chunk_size=chunk_size, dtype=dtype)
    cfg["model"] = dict(MODELS[model])
    cfg["portfolio"]["positions"].append(
        dict(name="lb", type="lookback", asset="X", option="call", expiry=0.5))
    return cfg


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 2e-5)])
@pytest.mark.parametrize("model", ["gbm", "heston", "bates"])
def test_chunk_size_does_not_change_results(dtype, rtol, model):
    ref = mcrisk.price(_chunk_cfg(3000, dtype, model))
    assert ref["model"] == model
    for chunk in (200, 1234):
        res = mcrisk.price(_chunk_cfg(chunk, dtype, model))
        for a, b in zip(ref["positions"], res["positions"]):
            assert b["unit_price"] == pytest.approx(a["unit_price"], rel=rtol, abs=rtol * 1e-2)
            assert b["unit_stderr"] == pytest.approx(a["unit_stderr"], rel=100 * rtol,
                                                     abs=rtol * 1e-2)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_each_seed_matches_the_heston_closed_form(seed):
    """Every seed's estimate lies within 4 s.e. of Heston's semi-closed form (QuantLib); a
    seed-dependent bias (a stream reused across seeds, a draw not keyed by the seed) shows
    as a miss on some seed, and distinct seeds must give distinct paths."""
    from tests.reference import qlref

    cfg = _chunk_cfg(3000, "float64", "heston")
    cfg["sim"]["seed"] = seed
    cfg["sim"]["n_steps"] = 32
    for p in cfg["portfolio"]["positions"]:
        p["expiry"] = qlref.years(182)
    res = mcrisk.price(cfg)
    ref = qlref.heston(100.0, 100.0, 182, 0.03, 0.0, 0.25, 2.0, 0.25, 0.8, -0.5,
                       "call")
    pos = res["positions"][0]
    assert pos["name"] == "call"
    assert abs(pos["unit_price"] - ref) <= 4 * pos["unit_stderr"], (seed, pos, ref)
    other = copy.deepcopy(cfg)
    other["sim"]["seed"] = seed + 100
    assert mcrisk.price(other)["positions"][0]["unit_price"] != pos["unit_price"]
