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


def test_kernel_options_keep_what_xla_knows_and_drop_the_rest(monkeypatch):
    from mcrisk import kernel

    known = kernel.options()
    monkeypatch.setattr(kernel, "OPTIONS", {"xla_cpu_no_such_option": "", **kernel.OPTIONS})
    kernel.options.cache_clear()
    try:
        assert kernel.options() == known
    finally:
        kernel.options.cache_clear()


def test_greeks_kernel_compiles_without_ynnpack_reductions():
    # They ran 4x slower than XLA's loops on reductions over a few assets per path.
    import jax
    import jax.numpy as jnp

    from mcrisk import kernel
    from mcrisk.config import build
    from mcrisk.engine import prepare

    if not kernel.options():
        pytest.skip("this XLA has no YNNPACK fusion option")
    # Five assets: the correlation of up to four is a sum of columns, whose compiled program
    # has no reduction for YNNPACK to take even without the option.
    names = ["A", "B", "C", "D", "E"]
    corr = (np.full((5, 5), 0.5) + 0.5 * np.eye(5)).tolist()
    cfg = dict(market=dict(assets=names, spot=[100.0, 50.0, 80.0, 20.0, 10.0],
                           vol=[0.3, 0.4, 0.5, 0.6, 0.7], rate=0.0, corr=corr),
               portfolio=dict(positions=[dict(name="b", type="basket", assets=names,
                                              weights=[0.5, 1.0, 0.2, 1.0, 2.0], option="call",
                                              strike=150.0, expiry=0.5)]),
               sim=dict(n_paths=64, chunk_size=64, n_steps=2), greeks=dict(enabled=True))
    prep = prepare(build(cfg), greeks=True)
    args = (prep.spec, prep.params, prep.terms, prep.xs, prep.quantities, jax.random.key(0),
            jnp.asarray(0, jnp.uint32), jnp.asarray(prep.spec.samples, jnp.int32))
    assert "ynn_fusion" not in greeks_chunk.lower(*args).compile().as_text()
    plain = jax.jit(greeks_chunk.fn, static_argnames=greeks_chunk.static_argnames)
    assert "ynn_fusion" in plain.lower(*args).compile().as_text()
