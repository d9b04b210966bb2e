"""Path-dependent payoffs under Heston at the default grid, against QuantLib and a converged MC.

The Brownian-bridge barrier and bridge extremes are exact per step only for constant variance; under
Heston (vol of variance 1.5 here) the bias falls like the step, so a short barrier inside a long
book needs its own step density: `sim.min_steps` over each path-dependent expiry. Each position
sits in a book whose last expiry is two years, so without it the barrier would get
64 * 0.25 / 2 = 8 steps (bias +0.16, 21 s.e. at 10^6 paths).

References: FdHestonBarrierEngine (converged to 1e-4 between 200x400x200 and 400x800x200 grids),
AnalyticDiscreteGeometricAveragePriceAsianHestonEngine and, for the arithmetic Asian, QuantLib's
Monte Carlo engine with its geometric control variate. The bias bound of 0.01 allowed on top of
4 s.e. is above the discretisation bias measured at the default grid at 10^6 paths in float64
(0.003 for the barrier, 0.006 for the Asians: README, `sim`). QuantLib has no Heston lookback
engine: the floating lookback is checked against the continuous-limit price of
tests/reference/path_ref.py (an independent NumPy simulation extrapolated over step counts, stored
with its s.e. in path_ref_heston.json). The library was -0.018 +- 0.006 from it at 256 steps
(2.1 s.e. of a 10^6-path run) and -0.007 +- 0.006 at 1024, lookbacks' default (4 x `min_steps`;
README, `sim`): LOOKBACK_BIAS is that, plus its error. At 8 steps (`min_steps: 0`) it is -0.21,
z = -6.4 at this test's 65,536 paths, so the test fails there.
Barriers, Asians and lookbacks under Bates: test_bates_path_dependent.py.
"""

from __future__ import annotations

import math

import pytest
import QuantLib as ql

import mcrisk
from tests.reference import path_ref, qlref

R = 0.02
V0, KAPPA, THETA, XI, RHO = 0.16, 2.0, 0.16, 1.5, -0.5
LONG = dict(name="long", type="european", asset="X", option="call", strike=100.0,
            expiry=qlref.years(730), quantity=0.0)


# Measured bias of the floating lookback at its default grid plus its error (README, `sim`).
LOOKBACK_BIAS = 0.015


def _cfg(position: dict, n_paths: int) -> dict:
    return dict(
        market=dict(assets=["X"], spot=[100.0], vol=[0.4], dividend=[0.0], rate=R, corr=[[1.0]]),
        model=dict(name="heston", v0=[V0], kappa=[KAPPA], theta=[THETA], xi=[XI], rho=[RHO]),
        sim=dict(n_paths=n_paths, seed=5, dtype="float32", chunk_size=65_536),
        greeks=dict(enabled=False),
        portfolio=dict(positions=[position, LONG]))


# 2 kappa theta = 0.64 < xi^2: variance reaches zero, which is the point (QE handles it).
pytestmark = pytest.mark.filterwarnings("ignore:model. Feller condition")


def _process():
    return ql.HestonProcess(qlref._curve(R), qlref._curve(0.0),
                            ql.QuoteHandle(ql.SimpleQuote(100.0)), V0, KAPPA, THETA, XI, RHO)


def _check(res: dict, ref: float, bias: float) -> None:
    p = res["positions"][0]
    z = (p["unit_price"] - ref) / p["unit_stderr"]
    assert abs(p["unit_price"] - ref) <= 4 * p["unit_stderr"] + bias, (p, ref, z)


def test_heston_down_and_out_call_matches_fd_barrier_engine():
    qlref._setup()
    option = ql.BarrierOption(ql.Barrier.DownOut, 90.0, 0.0,
                              ql.PlainVanillaPayoff(ql.Option.Call, 100.0),
                              ql.EuropeanExercise(qlref.TODAY + 91))
    option.setPricingEngine(ql.FdHestonBarrierEngine(ql.HestonModel(_process()), 200, 400, 200))
    ref = option.NPV()
    res = mcrisk.price(_cfg(dict(name="do", type="barrier", asset="X", option="call",
                                 strike=100.0, barrier=90.0, barrier_type="down-and-out",
                                 expiry=qlref.years(91)), 100_000))
    _check(res, ref, bias=0.01)


def test_heston_geometric_asian_matches_quantlib_analytic_engine():
    qlref._setup()
    fixings = [qlref.TODAY + 30 * i for i in range(1, 13)]
    option = ql.DiscreteAveragingAsianOption(
        ql.Average.Geometric, 1.0, 0, fixings, ql.PlainVanillaPayoff(ql.Option.Call, 100.0),
        ql.EuropeanExercise(qlref.TODAY + 360))
    option.setPricingEngine(ql.AnalyticDiscreteGeometricAveragePriceAsianHestonEngine(_process()))
    res = mcrisk.price(_cfg(dict(name="geo", type="asian", asset="X", option="call",
                                 strike=100.0, expiry=qlref.years(360), fixings=12,
                                 average="geometric"), 200_000))
    _check(res, option.NPV(), bias=0.01)


def test_heston_arithmetic_asian_matches_quantlib_monte_carlo():
    qlref._setup()
    fixings = [qlref.TODAY + 30 * i for i in range(1, 13)]
    option = ql.DiscreteAveragingAsianOption(
        ql.Average.Arithmetic, 0.0, 0, fixings, ql.PlainVanillaPayoff(ql.Option.Call, 100.0),
        ql.EuropeanExercise(qlref.TODAY + 360))
    # QuantLib's own QE paths with the geometric Asian as control variate: s.e. ~0.005, and
    # 120 vs 730 steps per year move it by less than that.
    option.setPricingEngine(ql.MCDiscreteArithmeticAPHestonEngine(
        _process(), "pseudorandom", antitheticVariate=True, requiredSamples=20_000, seed=42,
        timeStepsPerYear=120, controlVariate=True))
    ref, ref_se = option.NPV(), option.errorEstimate()
    res = mcrisk.price(_cfg(dict(name="ari", type="asian", asset="X", option="call",
                                 strike=100.0, expiry=qlref.years(360), fixings=12,
                                 average="arithmetic"), 200_000))
    p = res["positions"][0]
    se = math.hypot(p["unit_stderr"], ref_se)
    assert abs(p["unit_price"] - ref) <= 4 * se + 0.01, (p, ref, ref_se)


def test_heston_floating_lookback_matches_extrapolated_reference():
    # No QuantLib engine: the continuous-limit price of tests/reference/path_ref.py, same model.
    assert (R, V0, KAPPA, THETA, XI, RHO) == (path_ref.R, *path_ref.HESTON.values())
    ref = path_ref.load("heston")
    res = mcrisk.price(_cfg(dict(name="lb", type="lookback", asset="X", option="call",
                                 expiry=qlref.years(path_ref.T_DAYS)), 65_536))
    p = res["positions"][0]
    se = math.hypot(p["unit_stderr"], ref["se"]["lookback"])
    err = p["unit_price"] - ref["value"]["lookback"]
    assert abs(err) <= 4 * se + LOOKBACK_BIAS, (p, ref["value"], err / se)
