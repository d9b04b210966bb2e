"""Kernel structure: one compilation per problem shape; grid places events exactly."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import mcrisk
from mcrisk.engine import greeks_chunk, price_chunk
from mcrisk.grid import make_grid
from tests.unit.test_config_errors import BASE


def test_second_chunk_and_second_call_do_not_recompile():
    cfg = copy.deepcopy(BASE)
    cfg["sim"].update(n_paths=3000, chunk_size=1000, seed=123)  # 3 chunks, last one padded
    cfg["sim"]["n_steps"] = 9  # a shape no other test uses
    p0, g0 = price_chunk._cache_size(), greeks_chunk._cache_size()
    first = mcrisk.price(cfg)
    assert price_chunk._cache_size() == p0 + 1  # three chunks, one compilation
    assert greeks_chunk._cache_size() == g0 + 1
    cfg["portfolio"]["positions"][0]["strike"] = 70000.0  # new terms, same shapes
    cfg["market"]["spot"] = [61000.0, 3100.0]
    second = mcrisk.price(cfg)
    assert price_chunk._cache_size() == p0 + 1
    assert greeks_chunk._cache_size() == g0 + 1
    assert second["positions"][0]["unit_price"] != first["positions"][0]["unit_price"]


def test_grid_places_every_event_exactly():
    events = [0.25, 1.0 / 3.0, 0.5, 0.1 * 3]
    grid = make_grid(events, n_steps=10)
    for t in events:
        assert grid.times[grid.index_of(t)] == pytest.approx(t, abs=1e-15)
    assert grid.times[0] == 0.0 and grid.times[-1] == 0.5
    assert np.all(np.diff(grid.times) > 0)
    # 0.1 * 3 and 0.3 are one date; uniform nodes within 1e-3 steps of an event are merged.
    assert len(grid.events) == 4 and grid.n_steps <= 10 + 4


def test_results_are_json_serialisable_and_complete():
    import json

    cfg = copy.deepcopy(BASE)
    res = mcrisk.price(cfg)
    text = json.dumps(res)
    assert "NaN" not in text
    for key in ("positions", "book", "n_paths", "model", "dtype"):
        assert key in res
    p = res["positions"][0]
    assert p["ci95"][0] < p["value"] < p["ci95"][1]
    assert set(p["greeks"]) >= {"delta", "gamma", "vega", "rho"}
    assert res["book"]["value"] == pytest.approx(sum(x["value"] for x in res["positions"]),
                                                 rel=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_dtype_matches_closed_forms(dtype):
    """Each dtype on its own against QuantLib's analytic prices (a float32 kernel that lost
    precision in the log-spot or the discounting would show as a bias of many s.e.)."""
    from tests.reference import qlref

    days = 91
    t = qlref.years(days)
    cfg = copy.deepcopy(BASE)
    cfg["greeks"] = dict(enabled=False)
    cfg["sim"].update(n_paths=20_000, chunk_size=10_000, dtype=dtype, seed=7)
    cfg["portfolio"]["positions"] = [
        dict(type="european", asset="BTC", option="call", strike=65000.0, expiry=t),
        dict(type="european", asset="ETH", option="put", strike=2800.0, expiry=t),
        dict(type="barrier", asset="ETH", option="put", strike=2800.0, barrier=2400.0,
             barrier_type="down-and-out", expiry=t)]
    res = mcrisk.price(cfg)
    refs = [qlref.european(60000.0, 65000.0, days, 0.6, 0.03, 0.0, "call").NPV(),
            qlref.european(3000.0, 2800.0, days, 0.75, 0.03, 0.0, "put").NPV(),
            qlref.barrier(3000.0, 2800.0, 2400.0, "down-and-out", days, 0.75, 0.03, 0.0,
                          "put")]
    for pos, ref in zip(res["positions"], refs):
        z = (pos["unit_price"] - ref) / pos["unit_stderr"]
        assert abs(z) <= 4, (dtype, pos["name"], pos["unit_price"], ref, z)
