"""The streamed run of a book that nothing nests (losses reduced on the device, a tail of
(loss, index) only, per-position tail losses recomputed by index in a second pass) against
the same scenarios revalued in memory with SciPy's Black-Scholes."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from scipy.stats import norm

import mcrisk
from mcrisk.riskengine.metrics import Tail
from mcrisk.tasks.risk import table

R, H = 0.03, 2 / 365
SPOT, VOL = np.array([100.0, 50.0]), np.array([0.6, 0.8])
POSITIONS = [
    dict(name="a_call", type="european", asset="A", option="call", strike=105.0, expiry=0.25,
         quantity=-3.0),
    dict(name="a_put", type="european", asset="A", option="put", strike=90.0, expiry=0.5,
         quantity=4.0),
    dict(name="b_call", type="european", asset="B", option="call", strike=55.0, expiry=0.1,
         quantity=-5.0),
    dict(name="b_digital", type="digital", asset="B", option="call", strike=50.0, expiry=0.2,
         quantity=2.0, cash=10.0),
]
CFG = dict(market=dict(assets=["A", "B"], spot=SPOT.tolist(), vol=VOL.tolist(), rate=R,
                       corr=[[1.0, 0.4], [0.4, 1.0]]),
           model=dict(name="gbm"),
           sim=dict(n_paths=20_000, n_steps=4, seed=7, dtype="float64", chunk_size=20_000),
           greeks=dict(enabled=False), portfolio=dict(positions=POSITIONS),
           risk=dict(horizon=H, levels=[0.95, 0.99], margin=dict(enabled=False)))


def _value(p, s, t):
    """Black-Scholes value per unit of a position at spot s, time to expiry t."""
    k = p["strike"]
    sd = VOL[0 if p["asset"] == "A" else 1] * np.sqrt(t)
    d1 = (np.log(s / k) + R * t) / sd + 0.5 * sd
    d2 = d1 - sd
    if p["type"] == "digital":
        return p["cash"] * np.exp(-R * t) * norm.cdf(d2)
    if p["option"] == "call":
        return s * norm.cdf(d1) - k * np.exp(-R * t) * norm.cdf(d2)
    return k * np.exp(-R * t) * norm.cdf(-d2) - s * norm.cdf(-d1)


@pytest.fixture(scope="module")
def runs():
    spots = []
    # The sink takes the general path: it only supplies the scenarios' spots here.
    mcrisk.risk(CFG, sink=lambda idx, loss, s: spots.append(np.array(s[:, -1, :])))
    s_h = np.concatenate(spots)
    pos = np.stack([p["quantity"] * (_value(p, SPOT[i], p["expiry"])
                                     - _value(p, s_h[:, i], p["expiry"] - H))
                    for p in POSITIONS for i in [0 if p["asset"] == "A" else 1]], axis=1)
    out = {}
    # Several chunks and several second-pass batches (the tail keeps ~1,100 scenarios).
    for chunk in (20_000, 450):
        cfg = copy.deepcopy(CFG)
        cfg["sim"]["chunk_size"] = chunk
        out[chunk] = mcrisk.risk(cfg)
    # A first-chunk floor of the leave-one-out tails far too high (each position's largest
    # value of the first chunk): the run must notice and add them all again.
    guess = Tail.guess_loo_floor
    try:
        Tail.guess_loo_floor = lambda self, loo: setattr(self, "loo_floor", loo.max(axis=1))
        cfg = copy.deepcopy(CFG)
        cfg["sim"]["chunk_size"] = 450
        out["floor too high"] = mcrisk.risk(cfg)
    finally:
        Tail.guess_loo_floor = guess
    # Without attribution: the streamed run and (with a sink) the general path.
    for chunk in (20_000, 450):
        cfg = copy.deepcopy(CFG)
        cfg["sim"]["chunk_size"] = chunk
        cfg["risk"]["attribution"] = False
        out[f"no attribution {chunk}"] = mcrisk.risk(cfg)
    out["no attribution, sink"] = mcrisk.risk(cfg, sink=lambda *a: None)
    return pos, out


@pytest.mark.parametrize("chunk", [20_000, 450, "floor too high"])
def test_tail_metrics_and_attribution_match_in_memory_revaluation(runs, chunk):
    pos, out = runs
    res = out[chunk]
    loss = pos.sum(axis=1)
    order = np.lexsort((np.arange(loss.size), -loss))
    for a in (0.95, 0.99):
        key = repr(a)
        m = math.ceil(loss.size * (1 - a) - 1e-9)
        top = order[:m]
        assert res["var"][key] == pytest.approx(loss[top[-1]], rel=1e-9)
        assert res["es"][key] == pytest.approx(loss[top].mean(), rel=1e-9)
        c = res["contributions"][key]
        comp = pos[top].mean(axis=0)
        w = max(5, int(0.001 * loss.size))
        window = order[max(0, m - 1 - w):m + w]
        for j, p in enumerate(POSITIONS):
            scale = abs(res["es"][key])
            assert c["component_es"][p["name"]] == pytest.approx(comp[j], abs=1e-9 * scale)
            assert c["component_var"][p["name"]] == pytest.approx(pos[window, j].mean(),
                                                                  abs=1e-9 * scale)
            without = -np.sort(-(loss - pos[:, j]))[:m].mean()
            assert c["incremental_es"][p["name"]] == pytest.approx(loss[top].mean() - without,
                                                                   abs=1e-9 * scale)
    worst = res["worst_scenarios"]
    assert [w["scenario"] for w in worst] == order[:5].tolist()
    assert worst[0]["by_position"]["a_put"] == pytest.approx(pos[order[0], 1], rel=1e-9)
    assert res["stats"]["mean"] == pytest.approx(loss.mean(), rel=1e-9)
    assert res["stats"]["stdev"] == pytest.approx(loss.std(ddof=1), rel=1e-9)


def test_leave_one_out_floor_from_a_first_chunk():
    """Leave-one-out tails kept above a floor guessed from the first chunk hold each
    position's m worst (NumPy's sort the reference); a first chunk unlike the rest (its
    losses 3 higher) gives too high a floor, which `loo_complete` reports, and adding the
    chunks again after `reset_loo` gives the exact tails."""
    rng = np.random.default_rng(3)
    n, chunk, n_pos = 40_000, 4_000, 3
    loo = rng.standard_normal((n_pos, n)) * np.array([[1.0], [2.0], [0.5]])
    m = None
    for shift in (0.0, 3.0):
        data = loo.copy()
        data[:, :chunk] += shift
        tail = Tail(n, n_pos, (0.95, 0.99), 0.95, 10, rows=False)
        m = tail.m_loo
        want = -np.sort(-data, axis=1)[:, :m]
        for start in range(0, n, chunk):
            part = data[:, start:start + chunk]
            tail.add(np.zeros(chunk), np.arange(start, start + chunk))
            if start == 0:
                tail.guess_loo_floor(part)
                assert (tail.loo_floor > -np.inf).all()
            tail.add_loo(part)
        assert tail.loo_complete() == (shift == 0.0)
        if shift:
            tail.reset_loo()
            for start in range(0, n, chunk):
                tail.add_loo(data[:, start:start + chunk])
            assert tail.loo_complete()
        np.testing.assert_array_equal(tail.loo_top, want)


@pytest.mark.parametrize("case", ["no attribution 20000", "no attribution 450",
                                  "no attribution, sink"])
def test_without_attribution_the_tail_metrics_match_in_memory_revaluation(runs, case):
    """risk.attribution: false reports VaR, ES and the moments of the same scenarios (SciPy's
    revaluation the reference), the worst scenarios' indices and losses, and no
    contributions; the per-position losses of the worst scenarios only where the run kept
    them anyway (the general path)."""
    pos, out = runs
    res = out[case]
    loss = pos.sum(axis=1)
    order = np.lexsort((np.arange(loss.size), -loss))
    for a in (0.95, 0.99):
        m = math.ceil(loss.size * (1 - a) - 1e-9)
        assert res["var"][repr(a)] == pytest.approx(loss[order[m - 1]], rel=1e-9)
        assert res["es"][repr(a)] == pytest.approx(loss[order[:m]].mean(), rel=1e-9)
        lo, hi = res["es_ci"][repr(a)]
        assert lo < res["es"][repr(a)] < hi
    assert res["contributions"] == {}
    worst = res["worst_scenarios"]
    assert [w["scenario"] for w in worst] == order[:5].tolist()
    assert worst[0]["loss"] == pytest.approx(loss[order[0]], rel=1e-9)
    if "sink" in case:
        assert worst[0]["by_position"]["a_put"] == pytest.approx(pos[order[0], 1], rel=1e-9)
    else:
        assert worst[0]["by_position"] is None
    assert res["stats"]["stdev"] == pytest.approx(loss.std(ddof=1), rel=1e-9)
    text = table(res)
    assert "VaR" in text and "contributions at" not in text
