"""Path-dependent payoffs under Bates at the default grid, against an extrapolated reference.

QuantLib has no Bates barrier, Asian or lookback engine, so the references are continuous-limit
prices from tests/reference/path_ref.py: an independent NumPy simulation (its own QE scheme,
bridges split at each jump's own time, multilevel Monte Carlo up to 1536 steps with control
variates, extrapolated to the continuous limit), stored with their s.e. in path_ref_bates.json.
The model is test_heston_path_dependent's Heston (v0 = theta = 0.16, kappa 2, xi 1.5, rho -0.5)
with two jumps a year of log size N(-0.1, 0.15^2); each position expires in 91 days inside a
book whose last expiry is two years, so `sim.min_steps` sets its grid (256 steps, 1024 for the
lookback, priced on its own so that it does not refine the others' grid).

Each check is |MC - ref| <= 4 s.e. (MC and reference combined) + BIAS, BIAS the library's bias
at the default grid as measured against these references (2^20 paths, the forward and the
European as control variates) plus that measurement's error (README, `sim`). On a coarse grid
(`min_steps: 0`: 8 steps, 20 with the Asian's fixing dates) the lookback (-0.28, z = -4.9 at its
32,768 paths) and the barrier (+0.14, z = +5.1) fail; the Asian's coarse-grid error (-0.012,
z = -0.7) is below what this test can see.
"""

from __future__ import annotations

import math

import pytest

import mcrisk
from tests.reference import path_ref, qlref

SETUP = path_ref.load("bates")
N_PATHS = 131_072
# Measured bias at the default grid plus its error (README, `sim`).
BIAS = {"lookback": 0.015, "barrier": 0.02, "asian_arith": 0.01}

pytestmark = pytest.mark.filterwarnings("ignore:model. Feller condition")


def _book(positions: list, n_paths: int) -> dict:
    long = dict(name="long", type="european", asset="X", option="call", strike=100.0,
                expiry=qlref.years(730), quantity=0.0)
    model = dict(name="bates", **{k: [v] for k, v in path_ref.HESTON.items()},
                 **{k: [v] for k, v in path_ref.JUMPS.items()})
    return dict(
        market=dict(assets=["X"], spot=[path_ref.S0], vol=[0.4], dividend=[0.0],
                    rate=path_ref.R, corr=[[1.0]]),
        model=model, sim=dict(n_paths=n_paths, seed=5, dtype="float32", chunk_size=65_536),
        greeks=dict(enabled=False), portfolio=dict(positions=positions + [long]))


def _check(p: dict, name: str) -> None:
    ref, ref_se = SETUP["value"][name], SETUP["se"][name]
    se = math.hypot(p["unit_stderr"], ref_se)
    z = (p["unit_price"] - ref) / se
    assert abs(p["unit_price"] - ref) <= 4 * se + BIAS[name], (p, ref, ref_se, z)


@pytest.fixture(scope="module")
def priced() -> dict:
    t = qlref.years(path_ref.T_DAYS)
    res = mcrisk.price(_book([
        dict(name="barrier", type="barrier", asset="X", option="call", strike=path_ref.STRIKE,
             barrier=path_ref.BARRIER, barrier_type="down-and-out", expiry=t),
        dict(name="asian_arith", type="asian", asset="X", option="call", strike=path_ref.STRIKE,
             expiry=t, fixings=path_ref.FIXINGS, average="arithmetic")], N_PATHS))
    return {p["name"]: p for p in res["positions"]}


@pytest.mark.parametrize("name", ["barrier", "asian_arith"])
def test_bates_barrier_and_asian_match_extrapolated_reference(priced, name):
    _check(priced[name], name)


def test_bates_floating_lookback_matches_extrapolated_reference():
    # On its own: a lookback's 4 x `min_steps` would refine the others' grid too.
    res = mcrisk.price(_book([dict(name="lookback", type="lookback", asset="X", option="call",
                                   expiry=qlref.years(path_ref.T_DAYS))], 32_768))
    _check(res["positions"][0], "lookback")
