"""Path-dependent payoffs under Bates at the default grid, against an extrapolated reference.

QuantLib has no Bates barrier, Asian or lookback engine, so the references are continuous-limit
prices from tests/reference/path_ref.py: an independent NumPy simulation (its own QE scheme,
bridges split at each jump's own time, multilevel Monte Carlo up to 1536 steps with control
variates, Richardson-extrapolated), stored with their standard errors in path_ref_bates.json.
The model is test_heston_path_dependent's Heston (v0 = theta = 0.16, kappa 2, xi 1.5, rho -0.5)
with two jumps a year of log size N(-0.1, 0.15^2); each position expires in 91 days inside a
book whose last expiry is two years, so `sim.min_steps` sets its grid.

Each check is |MC - ref| <= 4 s.e. (MC and reference combined) + BIAS, BIAS the library's
bias at the default grid as measured against these references at 3 * 2^20 paths plus that
measurement's error (README, `sim`). On a coarse grid (`min_steps: 0`: 8 steps over the 91 days)
the lookback (-0.20, z = -6.8) and the barrier (+0.14, z = +5.2) fail; the Asian's 12 fixings
are grid dates whatever the density, and its coarse-grid error (-0.012, z = -0.7) is below what
this test can see.
"""

from __future__ import annotations

import math

import pytest

import mcrisk
from tests.reference import path_ref, qlref

SETUP = path_ref.load("bates")
N_PATHS = 131_072
# Measured bias at the default grid plus its error (README, `sim`).
BIAS = {"lookback": 0.011, "barrier": 0.03, "asian_arith": 0.015}

pytestmark = pytest.mark.filterwarnings("ignore:model. Feller condition")


def _book(min_steps=None) -> dict:
    t = qlref.years(path_ref.T_DAYS)
    positions = [
        dict(name="lookback", type="lookback", asset="X", option="call", expiry=t),
        dict(name="barrier", type="barrier", asset="X", option="call", strike=path_ref.STRIKE,
             barrier=path_ref.BARRIER, barrier_type="down-and-out", expiry=t),
        dict(name="asian_arith", type="asian", asset="X", option="call", strike=path_ref.STRIKE,
             expiry=t, fixings=path_ref.FIXINGS, average="arithmetic"),
        dict(name="long", type="european", asset="X", option="call", strike=100.0,
             expiry=qlref.years(730), quantity=0.0)]
    sim = dict(n_paths=N_PATHS, seed=5, dtype="float32", chunk_size=65_536)
    if min_steps is not None:
        sim["min_steps"] = min_steps
    model = dict(name="bates", **{k: [v] for k, v in path_ref.HESTON.items()},
                 **{k: [v] for k, v in path_ref.JUMPS.items()})
    return dict(
        market=dict(assets=["X"], spot=[path_ref.S0], vol=[0.4], dividend=[0.0],
                    rate=path_ref.R, corr=[[1.0]]),
        model=model, sim=sim, greeks=dict(enabled=False), portfolio=dict(positions=positions))


@pytest.fixture(scope="module")
def priced() -> dict:
    return {p["name"]: p for p in mcrisk.price(_book())["positions"]}


@pytest.mark.parametrize("name", ["lookback", "barrier", "asian_arith"])
def test_bates_path_dependent_matches_extrapolated_reference(priced, name):
    p = priced[name]
    ref, ref_se = SETUP["value"][name], SETUP["se"][name]
    se = math.hypot(p["unit_stderr"], ref_se)
    z = (p["unit_price"] - ref) / se
    assert abs(p["unit_price"] - ref) <= 4 * se + BIAS[name], (p, ref, ref_se, z)
