"""A GBM book of every position type priced once, each position against an exact reference.

Under GBM the simulation is exact at the grid dates, the Brownian-bridge barrier survival
and the bridge maximum are exact given the endpoints, so every reference here is unbiased:
the tolerance is |MC - ref| <= 4 sqrt(se_mc^2 + se_ref^2) (se_ref > 0 only for QuantLib's
own Monte Carlo arithmetic Asian).
"""

from __future__ import annotations

import math

import pytest

import mcrisk
from tests.reference import qlref

R = 0.03
A = dict(spot=100.0, vol=0.6, q=0.01)
B = dict(spot=95.0, vol=0.8, q=0.0)
CORR = 0.7
D1, D2 = 182, 360  # days; 360 = 12 fixings of 30 days
T1, T2 = qlref.years(D1), qlref.years(D2)


def _pos(name, **kw):
    return dict(name=name, **kw)


POSITIONS = [
    _pos("eu_call", type="european", asset="A", option="call", strike=110.0, expiry=T1),
    _pos("eu_put", type="european", asset="A", option="put", strike=90.0, expiry=T1),
    _pos("eu_call_b", type="european", asset="B", option="call", strike=95.0, expiry=T2),
    _pos("dig_call", type="digital", asset="A", option="call", strike=105.0, expiry=T1),
    _pos("dig_put_b", type="digital", asset="B", option="put", strike=85.0, expiry=T1, cash=10.0),
    _pos("fwd", type="forward", asset="A", strike=100.0, expiry=T1),
    _pos("do_call", type="barrier", asset="A", option="call", strike=100.0, barrier=80.0,
         barrier_type="down-and-out", expiry=T1),
    _pos("di_call", type="barrier", asset="A", option="call", strike=100.0, barrier=80.0,
         barrier_type="down-and-in", expiry=T1),
    _pos("uo_call", type="barrier", asset="A", option="call", strike=100.0, barrier=150.0,
         barrier_type="up-and-out", expiry=T1),
    _pos("ui_put", type="barrier", asset="A", option="put", strike=100.0, barrier=130.0,
         barrier_type="up-and-in", expiry=T1),
    _pos("do_put", type="barrier", asset="A", option="put", strike=95.0, barrier=75.0,
         barrier_type="down-and-out", expiry=T1),
    _pos("uo_put_b", type="barrier", asset="B", option="put", strike=100.0, barrier=120.0,
         barrier_type="up-and-out", expiry=T2),
    _pos("asian_geo", type="asian", asset="A", option="call", strike=100.0, expiry=T2,
         fixings=12, average="geometric"),
    _pos("asian_arith", type="asian", asset="A", option="call", strike=100.0, expiry=T2,
         fixings=12, average="arithmetic"),
    _pos("asian_arith_put", type="asian", asset="A", option="put", strike=95.0, expiry=T2,
         fixings=12, average="arithmetic"),
    _pos("lb_call", type="lookback", asset="A", option="call", expiry=T1),
    _pos("lb_put_b", type="lookback", asset="B", option="put", expiry=T1),
    _pos("exch", type="exchange", assets=["A", "B"], expiry=T1),
    _pos("spread", type="spread", assets=["A", "B"], option="call", strike=5.0, expiry=T1),
    _pos("basket_call", type="basket", assets=["A", "B"], weights=[0.6, 0.4], option="call",
         strike=100.0, expiry=T1),
    _pos("basket_put", type="basket", assets=["A", "B"], weights=[0.6, 0.4], option="put",
         strike=95.0, expiry=T1),
    _pos("best_call", type="best_of", assets=["A", "B"], option="call", strike=100.0, expiry=T1),
    _pos("best_put", type="best_of", assets=["A", "B"], option="put", strike=110.0, expiry=T1),
    _pos("worst_call", type="worst_of", assets=["A", "B"], option="call", strike=90.0,
         expiry=T1),
    _pos("worst_put", type="worst_of", assets=["A", "B"], option="put", strike=100.0,
         expiry=T1),
]


def _cfg(dtype: str) -> dict:
    return dict(
        market=dict(assets=["A", "B"], spot=[A["spot"], B["spot"]], vol=[A["vol"], B["vol"]],
                    dividend=[A["q"], B["q"]], rate=R, corr=[[1.0, CORR], [CORR, 1.0]]),
        model=dict(name="gbm"),
        sim=dict(n_paths=200_000, n_steps=48, seed=7, antithetic=True, dtype=dtype,
                 chunk_size=65_536),
        greeks=dict(enabled=False),
        portfolio=dict(positions=POSITIONS))


def reference(p: dict) -> tuple[float, float]:
    """(reference price, its standard error) for one position dict."""
    days = D1 if p["expiry"] == T1 else D2
    t = p["type"]
    if t in ("european", "digital", "forward", "barrier", "asian", "lookback"):
        m = A if p["asset"] == "A" else B
        args = (m["spot"],)
    if t == "european":
        return qlref.european(*args, p["strike"], days, m["vol"], R, m["q"], p["option"]).NPV(), 0.0
    if t == "digital":
        return qlref.digital(*args, p["strike"], days, m["vol"], R, m["q"], p["option"],
                             p.get("cash", 1.0)), 0.0
    if t == "forward":
        T = p["expiry"]
        return m["spot"] * math.exp(-m["q"] * T) - p["strike"] * math.exp(-R * T), 0.0
    if t == "barrier":
        return qlref.barrier(*args, p["strike"], p["barrier"], p["barrier_type"], days,
                             m["vol"], R, m["q"], p["option"]), 0.0
    if t == "asian":
        return qlref.asian(*args, p["strike"], days, p["fixings"], m["vol"], R, m["q"],
                           p["option"], p["average"])
    if t == "lookback":
        return qlref.lookback(*args, days, m["vol"], R, m["q"], p["option"]), 0.0
    if t == "exchange":
        return qlref.margrabe(A["spot"], B["spot"], A["vol"], B["vol"], CORR, p["expiry"],
                              A["q"], B["q"]), 0.0
    if t in ("spread", "basket"):
        w = p.get("weights", [1.0, -1.0])
        return qlref.two_asset_quadrature(w[0], w[1], p["strike"], A["spot"], B["spot"],
                                          A["vol"], B["vol"], CORR, p["expiry"], R, A["q"],
                                          B["q"], p["option"]), 0.0
    if t in ("best_of", "worst_of"):
        return qlref.stulz(A["spot"], B["spot"], p["strike"], days, A["vol"], B["vol"], CORR,
                           R, A["q"], B["q"], p["option"],
                           "max" if t == "best_of" else "min"), 0.0
    raise AssertionError(t)


@pytest.fixture(scope="module", params=["float32", "float64"])
def priced(request):
    res = mcrisk.price(_cfg(request.param))
    return request.param, {p["name"]: p for p in res["positions"]}


@pytest.mark.parametrize("pos", POSITIONS, ids=[p["name"] for p in POSITIONS])
def test_position_matches_reference(priced, pos):
    dtype, results = priced
    mc = results[pos["name"]]
    ref, ref_se = reference(pos)
    se = math.hypot(mc["unit_stderr"], ref_se)
    z = (mc["unit_price"] - ref) / se if se > 0 else float("inf")
    assert abs(z) <= 4.0, (f"{pos['name']} [{dtype}]: MC {mc['unit_price']:.6g} "
                           f"± {mc['unit_stderr']:.3g} vs ref {ref:.6g} (z = {z:.2f})")
