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


def test_float64_and_float32_agree_statistically():
    cfg = copy.deepcopy(BASE)
    cfg["greeks"] = dict(enabled=False)
    a = mcrisk.price(cfg)
    cfg["sim"]["dtype"] = "float64"
    b = mcrisk.price(cfg)
    for x, y in zip(a["positions"], b["positions"]):
        # Draws differ between dtypes (different bits), so agreement is statistical.
        se = (x["unit_stderr"] ** 2 + y["unit_stderr"] ** 2) ** 0.5
        assert abs(x["unit_price"] - y["unit_price"]) <= 4 * se + 1e-9
