"""Every Greek of every GBM position type against finite differences of exact prices.

The references are QuantLib's analytic engines (European, digital, barrier, geometric Asian,
floating lookback, Stulz best/worst-of), Margrabe and the two-asset quadrature of
`qlref` (spread, basket), bumped by central differences with steps small enough that their
error (< 1e-6 relative) is far below the Monte Carlo standard error. At 2^20 float64 paths
the estimators must be within 4 standard errors: the Gaussian-smoothing bias the Greeks
kernel used to carry on delta, vega and rho of calls/puts shows well before that.
"""

from __future__ import annotations

import math

import pytest

import mcrisk
from tests.reference import qlref

R = 0.03
A = dict(spot=100.0, vol=0.25, q=0.01)
B = dict(spot=95.0, vol=0.35, q=0.0)
CORR = 0.5
DAYS = 364  # 4 fixings of 91 days
T = qlref.years(DAYS)

POSITIONS = [
    dict(name="spot", type="spot", asset="A", quantity=3.0),
    dict(name="fwd", type="forward", asset="A", strike=100.0, expiry=T),
    dict(name="call", type="european", asset="A", option="call", strike=110.0, expiry=T),
    dict(name="put", type="european", asset="A", option="put", strike=85.0, expiry=T),
    dict(name="dig_call", type="digital", asset="A", option="call", strike=105.0, expiry=T),
    dict(name="dig_put_b", type="digital", asset="B", option="put", strike=90.0, expiry=T,
         cash=10.0),
    dict(name="do_call", type="barrier", asset="A", option="call", strike=100.0, barrier=80.0,
         barrier_type="down-and-out", expiry=T),
    dict(name="ui_put", type="barrier", asset="A", option="put", strike=100.0, barrier=120.0,
         barrier_type="up-and-in", expiry=T),
    dict(name="asian_geo", type="asian", asset="A", option="call", strike=100.0, expiry=T,
         fixings=4, average="geometric"),
    dict(name="lb_call", type="lookback", asset="A", option="call", expiry=T),
    dict(name="exch", type="exchange", assets=["A", "B"], expiry=T),
    dict(name="spread", type="spread", assets=["A", "B"], option="call", strike=5.0, expiry=T),
    dict(name="basket", type="basket", assets=["A", "B"], weights=[0.6, 0.4], option="put",
         strike=95.0, expiry=T),
    dict(name="best_call", type="best_of", assets=["A", "B"], option="call", strike=105.0,
         expiry=T),
    dict(name="worst_put", type="worst_of", assets=["A", "B"], option="put", strike=95.0,
         expiry=T),
]


def price_ref(p: dict, s: tuple, v: tuple, r: float) -> float:
    """Exact price of position `p` (per unit) at spots `s`, vols `v` (A, B) and rate `r`."""
    t = p["type"]
    i = 0 if p.get("asset", "A") == "A" else 1
    qs = (A["q"], B["q"])
    one = (s[i], )
    if t == "spot":
        return s[i]
    if t == "forward":
        return s[i] * math.exp(-qs[i] * T) - p["strike"] * math.exp(-r * T)
    if t == "european":
        return qlref.european(*one, p["strike"], DAYS, v[i], r, qs[i], p["option"]).NPV()
    if t == "digital":
        return qlref.digital(*one, p["strike"], DAYS, v[i], r, qs[i], p["option"],
                             p.get("cash", 1.0))
    if t == "barrier":
        return qlref.barrier(*one, p["strike"], p["barrier"], p["barrier_type"], DAYS, v[i], r,
                             qs[i], p["option"])
    if t == "asian":
        return qlref.asian(*one, p["strike"], DAYS, p["fixings"], v[i], r, qs[i], p["option"],
                           p["average"])[0]
    if t == "lookback":
        return qlref.lookback(*one, DAYS, v[i], r, qs[i], p["option"])
    if t == "exchange":
        return qlref.margrabe(s[0], s[1], v[0], v[1], CORR, T, qs[0], qs[1])
    if t in ("spread", "basket"):
        w = p.get("weights", [1.0, -1.0])
        return qlref.two_asset_quadrature(w[0], w[1], p["strike"], s[0], s[1], v[0], v[1],
                                          CORR, T, r, qs[0], qs[1], p["option"])
    if t in ("best_of", "worst_of"):
        return qlref.stulz(s[0], s[1], p["strike"], DAYS, v[0], v[1], CORR, r, qs[0], qs[1],
                           p["option"], "max" if t == "best_of" else "min")
    raise AssertionError(t)


def greek_ref(p: dict, greek: str, asset: int) -> float:
    s0, v0 = (A["spot"], B["spot"]), (A["vol"], B["vol"])

    def f(ds=0.0, dv=0.0, dr=0.0):
        s = tuple(x + (ds if k == asset else 0.0) for k, x in enumerate(s0))
        v = tuple(x + (dv if k == asset else 0.0) for k, x in enumerate(v0))
        return price_ref(p, s, v, R + dr)

    h = 0.5
    if greek == "delta":
        return (f(ds=h) - f(ds=-h)) / (2 * h)
    if greek == "gamma":
        return (f(ds=h) - 2 * f() + f(ds=-h)) / h ** 2
    if greek == "vega":
        return (f(dv=1e-4) - f(dv=-1e-4)) / 2e-4
    return (f(dr=1e-5) - f(dr=-1e-5)) / 2e-5


def _cfg(n_paths: int, positions: list = POSITIONS) -> dict:
    return dict(
        market=dict(assets=["A", "B"], spot=[A["spot"], B["spot"]], vol=[A["vol"], B["vol"]],
                    dividend=[A["q"], B["q"]], rate=R, corr=[[1.0, CORR], [CORR, 1.0]]),
        sim=dict(n_paths=n_paths, n_steps=4, seed=2, dtype="float64", chunk_size=1 << 17),
        greeks=dict(enabled=True), portfolio=dict(positions=positions))


@pytest.fixture(scope="module")
def greeks():
    res = mcrisk.price(_cfg(1 << 20))
    return {p["name"]: p for p in res["positions"]}, res


CASES = [(p["name"], g, a) for p in POSITIONS
         for a in ([p["asset"]] if "asset" in p else p["assets"])
         for g in ("delta", "gamma", "vega", "rho") if g != "rho" or a == "A" or "asset" in p]


def _check(pos: dict, name: str, greek: str, asset: str) -> None:
    p = next(x for x in POSITIONS if x["name"] == name)
    g = pos[name]["greeks"]
    mc = g[greek] if greek == "rho" else g[greek][asset]
    se = g[greek + "_stderr"] if greek == "rho" else g[greek + "_stderr"][asset]
    ref = p.get("quantity", 1.0) * greek_ref(p, greek, "AB".index(asset))
    # Greeks that are exact per path (a spot's delta, a lookback's zero gamma) have se = 0;
    # the absolute slack covers the reference's finite-difference rounding.
    assert abs(mc - ref) <= 4 * se + 1e-7 * max(1.0, abs(ref)), \
        f"{name} {greek}[{asset}]: MC {mc:.8g} ± {se:.2g} vs {ref:.8g}"


@pytest.mark.slow
@pytest.mark.parametrize("name,greek,asset", CASES, ids=[f"{n}-{g}-{a}" for n, g, a in CASES])
def test_greek_matches_exact(greeks, name, greek, asset):
    _check(greeks[0], name, greek, asset)


SMALL = ["exch", "spread", "put"]


@pytest.fixture(scope="module")
def greeks_small():
    res = mcrisk.price(_cfg(1 << 16, [p for p in POSITIONS if p["name"] in SMALL]))
    return {p["name"]: p for p in res["positions"]}


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("greek", ["delta", "vega", "rho"])
def test_first_order_greeks_unsmoothed(greeks_small, name, greek):
    """First derivatives of Lipschitz payoffs carry no kernel bias (the Gaussian smoothing
    used to shift a spread's rho by ~800 standard errors at 2^20 paths)."""
    p = next(x for x in POSITIONS if x["name"] == name)
    assets = [p["asset"]] if "asset" in p else p["assets"]
    for a in assets[:1] if greek == "rho" else assets:
        _check(greeks_small, name, greek, a)


def asian_arith_two(s: float, strike: float, vol: float, r: float, q: float,
                    option: str) -> float:
    """Exact price of an arithmetic asian on two fixings (T/2, T) of asset A.

    (S_{T/2} + S_T) / 2 is a two-asset basket: S_{T/2} has log-variance vol^2 T/2, which
    `two_asset_quadrature` takes as an asset with vol / sqrt(2) and dividend (r + q) / 2
    over T, correlated sqrt(1/2) with S_T.
    """
    return qlref.two_asset_quadrature(0.5, 0.5, strike, s, s, vol / math.sqrt(2), vol,
                                      math.sqrt(0.5), T, r, (r + q) / 2, q, option)


ASIAN2 = dict(name="asian_arith", type="asian", asset="A", option="put", strike=100.0,
              expiry=T, fixings=2, average="arithmetic")
KINKED = ["exch", "spread", "basket", "best_call", "worst_put", "asian_geo", "do_call",
          "ui_put"]
WIDE = 1.0  # the widest kernel greeks.smoothing allows


@pytest.fixture(scope="module")
def greeks_wide():
    positions = [p for p in POSITIONS if p["name"] in KINKED] + [ASIAN2]
    cfg = _cfg(1 << 15, positions)
    cfg["greeks"]["smoothing"] = WIDE
    res = mcrisk.price(cfg)
    return {p["name"]: p for p in res["positions"]}


@pytest.mark.parametrize("name", KINKED + ["asian_arith"])
def test_gamma_unbiased_whatever_the_smoothing(greeks_wide, name):
    """Under gbm no gamma depends on `greeks.smoothing`: multi-asset payoffs use the
    pathwise-LR estimator, asians and barriers the expectation over the last step. The widest
    kernel makes the old smoothing bias show at a small size: here it put every gamma but the
    up-and-in put's 9 (down-and-out call) to 540 (exchange) standard errors off."""
    if name != "asian_arith":
        p = next(x for x in POSITIONS if x["name"] == name)
        for a in ([p["asset"]] if "asset" in p else p["assets"]):
            _check(greeks_wide, name, "gamma", a)
        return
    g = greeks_wide[name]["greeks"]

    def price(s):
        return asian_arith_two(s, ASIAN2["strike"], A["vol"], R, A["q"], ASIAN2["option"])

    h = 0.5
    ref = (price(A["spot"] + h) - 2 * price(A["spot"]) + price(A["spot"] - h)) / h ** 2
    mc, se = g["gamma"]["A"], g["gamma_stderr"]["A"]
    assert abs(mc - ref) <= 4 * se, f"asian_arith gamma: MC {mc:.8g} ± {se:.2g} vs {ref:.8g}"
