"""Gammas and digital Greeks under merton, heston and bates against QuantLib.

The Greeks kernel replaces every single-asset terminal payoff, asian and barrier by its
expectation over the last step (normal given the step's jumps and variance driver), and
multi-asset payoffs take the likelihood-ratio score of the log spots (under heston and
bates, given the members' variance drivers). No Greek then depends on `greeks.smoothing`,
so the widest kernel (1.0) is used: with it, the Gaussian smoothing these Greeks had before
put every one but the barrier's gamma 52 to 509 standard errors off at 2^15 paths.

References: QuantLib's AnalyticHestonEngine, BatesEngine (Merton as its constant-variance
limit, `qlref.merton`), FdHestonBarrierEngine (its grid gamma) and the analytic Heston
geometric Asian engine; a cash digital is -dC/dK of the vanilla; spot derivatives by central
differences (h = 0.5 in spot, 0.25 in strike: error < 1e-6 relative, far below the standard
errors). The basket of weights (1, 0) over two correlated assets is a call on the first
whose gamma goes through the two-asset likelihood ratio. The Heston scheme's discretisation
bias at the default grid (0.003 on a barrier price, `test_heston_path_dependent.py`) moves
these Greeks by far less than their standard errors at 2^15 paths.
"""

from __future__ import annotations

import pytest
import QuantLib as ql

import mcrisk
from tests.reference import qlref

R, Q = 0.03, 0.01
DAYS = 182
T = qlref.years(DAYS)
S0 = 100.0
X_H = dict(v0=0.09, kappa=2.0, theta=0.09, xi=0.6, rho=-0.6)
X_J = dict(jump_intensity=1.5, jump_mean=-0.08, jump_std=0.15)
VOL = 0.3  # merton's diffusion vol of X
Y_H = dict(v0=0.16, kappa=1.5, theta=0.16, xi=0.6, rho=-0.4)
Y_J = dict(jump_intensity=1.0, jump_mean=-0.05, jump_std=0.1)
WIDE = 1.0

POSITIONS = [
    dict(name="call", type="european", asset="X", option="call", strike=105.0, expiry=T),
    dict(name="dig", type="digital", asset="X", option="call", strike=95.0, expiry=T),
    dict(name="digp", type="digital", asset="X", option="put", strike=100.0, expiry=T,
         cash=10.0),
    dict(name="bk", type="basket", assets=["X", "Y"], weights=[1.0, 0.0], option="call",
         strike=105.0, expiry=T),
]
BARRIER_DAYS, ASIAN_DAYS = 91, 360
HESTON_ONLY = [
    dict(name="do", type="barrier", asset="X", option="call", strike=100.0, barrier=90.0,
         barrier_type="down-and-out", expiry=qlref.years(BARRIER_DAYS)),
    dict(name="geo", type="asian", asset="X", option="call", strike=100.0,
         expiry=qlref.years(ASIAN_DAYS), fixings=12, average="geometric"),
]

pytestmark = pytest.mark.filterwarnings("ignore:model. Feller condition")


def _model(name: str) -> dict:
    out = dict(name=name)
    keys = (list(X_H) if name in ("heston", "bates") else []) + (
        list(X_J) if name in ("merton", "bates") else [])
    for k in keys:
        x = {**X_H, **X_J}[k]
        y = {**Y_H, **Y_J}[k]
        out[k] = [x, y]
    return out


def _vanilla(model: str, s: float, k: float, option: str) -> float:
    h, j = X_H, X_J
    if model == "merton":
        return qlref.merton(s, k, DAYS, VOL, R, Q, j["jump_intensity"], j["jump_mean"],
                            j["jump_std"], option)
    if model == "heston":
        return qlref.heston(s, k, DAYS, R, Q, h["v0"], h["kappa"], h["theta"], h["xi"],
                            h["rho"], option)
    return qlref.bates(s, k, DAYS, R, Q, h["v0"], h["kappa"], h["theta"], h["xi"], h["rho"],
                       j["jump_intensity"], j["jump_mean"], j["jump_std"], option)


def _heston_process(spot: float):
    qlref._setup()
    h = X_H
    return ql.HestonProcess(qlref._curve(R), qlref._curve(Q),
                            ql.QuoteHandle(ql.SimpleQuote(spot)), h["v0"], h["kappa"],
                            h["theta"], h["xi"], h["rho"])


def _barrier_gamma() -> float:
    option = ql.BarrierOption(ql.Barrier.DownOut, 90.0, 0.0,
                              ql.PlainVanillaPayoff(ql.Option.Call, 100.0),
                              ql.EuropeanExercise(qlref.TODAY + BARRIER_DAYS))
    option.setPricingEngine(ql.FdHestonBarrierEngine(ql.HestonModel(_heston_process(S0)),
                                                     200, 400, 100))
    return option.gamma()


def _geo_asian(spot: float) -> float:
    fixings = [qlref.TODAY + 30 * i for i in range(1, 13)]
    option = ql.DiscreteAveragingAsianOption(
        ql.Average.Geometric, 1.0, 0, fixings, ql.PlainVanillaPayoff(ql.Option.Call, 100.0),
        ql.EuropeanExercise(qlref.TODAY + ASIAN_DAYS))
    option.setPricingEngine(
        ql.AnalyticDiscreteGeometricAveragePriceAsianHestonEngine(_heston_process(spot)))
    return option.NPV()


def reference(model: str, p: dict, greek: str) -> float:
    h, hk = 0.5, 0.25
    if p["name"] == "do":
        return _barrier_gamma()
    if p["name"] == "geo":
        f = _geo_asian
    elif p["type"] in ("european", "basket"):
        def f(s):
            return _vanilla(model, s, p["strike"], p["option"])
    else:
        sg = 1.0 if p["option"] == "call" else -1.0

        def f(s):
            k = p["strike"]
            return -sg * p.get("cash", 1.0) * (_vanilla(model, s, k + hk, p["option"])
                                               - _vanilla(model, s, k - hk, p["option"])) / (2 * hk)
    if greek == "delta":
        return (f(S0 + h) - f(S0 - h)) / (2 * h)
    return (f(S0 + h) - 2 * f(S0) + f(S0 - h)) / h ** 2


def _run(model: str) -> dict:
    positions = POSITIONS + (HESTON_ONLY if model == "heston" else [])
    cfg = dict(
        market=dict(assets=["X", "Y"], spot=[S0, 80.0], vol=[VOL, 0.4], dividend=[Q, 0.0],
                    rate=R, corr=[[1.0, 0.6], [0.6, 1.0]]),
        model=_model(model),
        sim=dict(n_paths=1 << 15, seed=3, dtype="float64", chunk_size=1 << 15),
        greeks=dict(enabled=True, smoothing=WIDE), portfolio=dict(positions=positions))
    return mcrisk.price(cfg)


CASES = [("call", "gamma"), ("dig", "delta"), ("dig", "gamma"), ("digp", "delta"),
         ("digp", "gamma"), ("bk", "gamma")]


@pytest.mark.parametrize("model", ["merton", pytest.param("heston", marks=pytest.mark.slow),
                                   "bates"])  # heston: ~50 s of float64 Greeks compilation
def test_gammas_and_digital_greeks_unbiased_off_gbm(model):
    res = _run(model)
    assert "Gaussian-smoothed" not in res["greeks_method"]
    by_name = {p["name"]: p for p in res["positions"]}
    cases = CASES + ([("do", "gamma"), ("geo", "gamma")] if model == "heston" else [])
    bad = []
    for name, greek in cases:
        p = next(x for x in POSITIONS + HESTON_ONLY if x["name"] == name)
        g = by_name[name]["greeks"]
        mc, se = g[greek]["X"], g[greek + "_stderr"]["X"]
        ref = reference(model, p, greek)
        if not abs(mc - ref) <= 4 * se:
            bad.append(f"{name} {greek}: MC {mc:.6g} ± {se:.2g} vs {ref:.6g} "
                       f"(z {(mc - ref) / se:+.1f})")
    assert not bad, f"{model}: " + "; ".join(bad)
