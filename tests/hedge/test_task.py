"""task=dynamic_hedge end to end at a tiny size: the table's rows against the asymptotic."""

from __future__ import annotations

import pytest

from mcrisk.tasks import run
from tests.hedge import refs

T = 30 / 365
CFG = {"task": "dynamic_hedge",
       "sim": {"n_paths": 4000, "chunk_size": 1000, "seed": 3, "dtype": "float64"},
       "dynamic_hedge": {"spot": 60000.0, "rate": 0.0, "horizon": T, "steps": 48,
                 "model": {"name": "gbm", "vol": 0.6},
                 "book": [{"type": "call", "strike": 60000.0, "expiry": T, "quantity": -1.0}],
                 "sweep": {"every": [1, 4], "width": [0.05]}}}


def test_no_cost_rows_match_boyle_emanuel():
    res = run(CFG)
    assert [r["rule"].split(" (")[0] for r in res["rows"]] == [
        "every 1 step", "every 4 steps", "band ±0.05 delta"]
    for row in res["rows"][:2]:
        ref = refs.boyle_emanuel_sd(60000.0, 60000.0, T, 0.6, 0.0, 0.0, row["rebalances"])
        # 4000 paths: the stdev's own error (4 s.e., about 9%) plus 5% for the asymptotic's
        # O(1/N) error at 12 rebalances.
        assert abs(row["stdev"] - ref) <= 4 * row["stdev_se"] + 0.05 * ref, (row, ref)
        assert row["paths"] == 4000 and row["fees"] == 0.0
    # The band row trades less often than every step (tested exactly in test_dynamic.py).
    assert res["rows"][2]["trades"] < res["rows"][0]["trades"]


def test_bad_sweep_value_names_its_field():
    from mcrisk.errors import ConfigError

    bad = {**CFG, "dynamic_hedge": {**CFG["dynamic_hedge"], "sweep": {"every": [1, 5]}}}
    with pytest.raises(ConfigError) as e:
        run(bad)
    assert e.value.path == "dynamic_hedge.sweep.every[1]"
