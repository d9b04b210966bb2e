"""The risk engine's closed-form revaluations (barrier with its knock status, geometric Asian
with past fixings, Stulz best/worst-of, Margrabe) against nested Monte Carlo on the same
scenarios (`risk.revaluation: nested`), which carries the same path state into inner paths
and is unbiased for it."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mcrisk
from tests.reference import qlref

N, INNER = 200, 4096
POSITIONS = [
    dict(name="do", type="barrier", asset="A", option="call", strike=100.0, barrier=93.0,
         barrier_type="down-and-out", expiry=0.25, quantity=2.0),
    dict(name="ui", type="barrier", asset="A", option="put", strike=100.0, barrier=107.0,
         barrier_type="up-and-in", expiry=0.25, quantity=3.0),
    dict(name="geo", type="asian", asset="A", option="call", strike=95.0,
         expiry=qlref.years(84), fixings=12, average="geometric", quantity=4.0),
    dict(name="best", type="best_of", assets=["A", "B"], option="call", strike=100.0,
         expiry=0.5, quantity=1.0),
    dict(name="worst", type="worst_of", assets=["A", "B"], option="put", strike=100.0,
         expiry=0.5, quantity=-2.0),
    dict(name="xchg", type="exchange", assets=["A", "B"], expiry=0.5, quantity=5.0),
]


def _run(revaluation):
    cfg = dict(market=dict(assets=["A", "B"], spot=[100.0, 100.0], vol=[0.6, 0.4], rate=0.03,
                           corr=[[1.0, 0.3], [0.3, 1.0]]),
               model=dict(name="gbm"),
               sim=dict(n_paths=N, n_steps=8, seed=17, dtype="float64", chunk_size=N * INNER),
               greeks=dict(enabled=False), portfolio=dict(positions=POSITIONS),
               risk=dict(horizon=10 / 365, levels=[0.9], inner_paths=INNER,
                         revaluation=revaluation, margin=dict(enabled=False)))
    loss, spots = np.zeros((N, len(POSITIONS))), np.zeros((N, 2))

    def sink(idx, pos_loss, s):
        loss[idx], spots[idx] = pos_loss, s[:, -1, :]

    res = mcrisk.risk(cfg, sink=sink)
    return res, loss, spots


@pytest.mark.slow  # ~25 s: two risk runs, 200 x 4096 inner paths
def test_closed_forms_agree_with_nested_revaluation_scenario_by_scenario():
    closed, l_closed, s_closed = _run("auto")
    nested, l_nested, s_nested = _run("nested")
    np.testing.assert_array_equal(s_closed, s_nested)  # the same outer scenarios
    for p in POSITIONS:
        assert closed["methods_at_horizon"][p["name"]].startswith("closed form")
        assert nested["methods_at_horizon"][p["name"]] == "nested monte carlo"
    # The scenarios straddle the barriers: some knocked, some not.
    knocked_out = s_closed[:, 0] < 93.0
    assert 0.05 < knocked_out.mean() < 0.6
    for i, p in enumerate(POSITIONS):
        diff = l_nested[:, i] - l_closed[:, i]
        # Inner errors are independent across scenarios (own inner paths per scenario): the
        # mean difference must vanish within 4 s.e., and no scenario may stand out (a
        # knock status or past fixing mishandled in some scenarios shows in both).
        sd = diff.std(ddof=1)
        assert abs(diff.mean()) <= 4 * sd / math.sqrt(N), (p["name"], diff.mean(), sd)
        assert np.abs(diff - diff.mean()).max() <= 5 * sd, (p["name"], diff)
        # The inner error is small against the loss itself: the comparison is sharp.
        assert sd <= 0.1 * l_closed[:, i].std(), p["name"]
