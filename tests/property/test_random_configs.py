"""Random configs, good and bad: every one either raises ConfigError naming a field, or
returns a result whose every number is finite (and that serialises as strict JSON)."""

from __future__ import annotations

import json
import math
import re
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mcrisk
from mcrisk import ConfigError

# A field path: a top-level section, then keys and indices, then ": got ...".
FIELD = re.compile(r"^(market|model|sim|portfolio|risk|greeks)(\.[A-Za-z_]\w*|\[\d+\])*: ")
ASSETS = ["A", "B"]


def _num(lo, hi, edges=()):
    """A float in [lo, hi], or one of `edges` (bad or extreme values) one time in 25, so
    most configs reach the engine and some fail validation."""
    edge = st.sampled_from(list(edges) or [lo])
    return st.integers(0, 24).flatmap(
        lambda k: edge if k == 0 else st.floats(lo, hi, allow_nan=False))


@st.composite
def markets(draw):
    n = draw(st.integers(1, 2))
    m = dict(assets=ASSETS[:n],
             spot=[draw(_num(1e-3, 1e6, (0.0, -5.0, 1e-3, 1e6))) for _ in range(n)],
             vol=[draw(_num(0.01, 3.0, (0.0, 0.01, 5.0))) for _ in range(n)],
             rate=draw(_num(-0.1, 0.3, (0.0, 2.0))))
    if n == 2:
        c = draw(_num(-1.0, 1.0, (1.0, -1.0, 0.999, 1.5)))
        m["corr"] = [[1.0, c], [c, 1.0]]
    if draw(st.booleans()):
        m["drift"] = [draw(_num(-1.0, 1.0, (0.0,))) for _ in range(n)]
    return m


@st.composite
def models(draw):
    name = draw(st.sampled_from(["gbm", "heston", "bates", "merton"]))
    p: dict = {"name": name}
    if name in ("heston", "bates"):
        p.update(kappa=draw(_num(0.01, 10.0, (0.0, 50.0))), theta=draw(_num(0.001, 1.0)),
                 xi=draw(_num(0.01, 3.0, (0.0, 5.0))), rho=draw(_num(-1.0, 1.0, (-1.0, 1.0))))
        if draw(st.booleans()):
            p["v0"] = draw(_num(1e-4, 2.0, (0.0,)))
    if name in ("merton", "bates"):
        p.update(jump_intensity=draw(_num(0.0, 20.0, (0.0,))),
                 jump_mean=draw(_num(-1.0, 1.0, (5.0, -3.0))),
                 jump_std=draw(_num(0.0, 1.0, (0.0, 5.0))))
    return p


SINGLE = ["european", "digital", "barrier", "asian", "lookback", "forward", "spot", "perpetual"]
MULTI = ["basket", "spread", "exchange", "best_of", "worst_of"]


@st.composite
def position(draw, n_assets, i):
    t = draw(st.sampled_from(SINGLE + (MULTI if n_assets == 2 else [])))
    p: dict = {"type": t, "quantity": draw(_num(-10.0, 10.0, (0.0,))), "name": f"p{i}"}
    spot = 1.0  # strikes and barriers are drawn relative to today's spot (moneyness)
    multi = t in ("basket", "spread", "exchange", "best_of", "worst_of")
    if multi:
        p["assets"] = ASSETS if draw(st.integers(0, 24)) else ["A", "A"]
    else:
        p["asset"] = ("Z" if draw(st.integers(0, 24)) == 0 else
                      draw(st.sampled_from(ASSETS[:n_assets])))
    if t not in ("spot", "perpetual"):
        p["expiry"] = draw(_num(1e-3, 3.0, (0.0, 1e-4, 30.0)))
    if t not in ("spot", "perpetual", "forward", "exchange", "lookback"):
        p["option"] = draw(st.sampled_from(["call", "put"]))
    if t not in ("spot", "perpetual", "exchange", "lookback"):
        p["strike"] = spot * draw(_num(0.3, 3.0, (0.0, -1.0)))
    if t == "barrier":
        p["barrier_type"] = draw(st.sampled_from(["down-and-out", "down-and-in", "up-and-out",
                                                  "up-and-in"]))
        p["barrier"] = spot * draw(_num(0.5, 1.5, (1.0,)))
    if t == "asian":
        p["fixings"] = draw(st.integers(0, 12)) if draw(st.integers(0, 9)) == 0 else 4
        p["average"] = draw(st.sampled_from(["arithmetic", "geometric"]))
    if t == "basket":
        p["weights"] = [draw(_num(-1.0, 2.0, (0.0,))) for _ in p["assets"]]
    if t == "perpetual":
        p["funding_rate"] = draw(_num(-1.0, 1.0))
    if t == "digital" and draw(st.booleans()):
        p["cash"] = draw(_num(-5.0, 5.0))
    return p


@st.composite
def configs(draw):
    market = draw(markets())
    n = len(market["assets"])
    positions = [draw(position(n, i)) for i in range(draw(st.integers(1, 2)))]
    # Moneyness -> absolute strike/barrier against the position's (first) asset's spot.
    for p in positions:
        a = p.get("asset", (p.get("assets") or ["A"])[0])
        s = market["spot"][ASSETS.index(a)] if a in ASSETS[:n] else 1.0
        for k in ("strike", "barrier"):
            if k in p:
                p[k] = p[k] * s
    horizon = draw(_num(1e-3, 0.5, (0.0, 1 / 365, 2.0)))
    risk = dict(horizon=horizon, levels=[draw(_num(0.5, 0.999, (0.9999, 1.0)))],
                inner_paths=draw(st.sampled_from([4, 8, 16])),
                method=draw(st.sampled_from(["full", "delta_gamma"])),
                revaluation=draw(st.sampled_from(["auto", "nested"])),
                margin=draw(st.sampled_from([dict(enabled=False), dict(mode="per_asset"),
                                             dict(spot_steps=3, spot_range=0.3)])))
    if draw(st.booleans()):
        risk["dates"] = sorted({horizon, horizon * 2})
    if draw(st.booleans()):
        risk["stress"] = [dict(name="s", spot={"A": draw(_num(-99.0, 200.0, (-100.0,)))},
                               vol={"A": draw(_num(-50.0, 100.0))},
                               horizon=draw(_num(0.0, 1.0, (0.0,))))]
    n_paths = draw(st.sampled_from([2, 8, 64]))
    return dict(market=market, model=draw(models()),
                sim=dict(n_paths=n_paths, n_steps=draw(st.integers(1, 3)), seed=1,
                         dtype=draw(st.sampled_from(["float32", "float64"])),
                         chunk_size=draw(st.sampled_from([2, 32, 64]))),
                greeks=dict(enabled=risk["method"] == "delta_gamma"),
                portfolio=dict(positions=positions), risk=risk)


def _non_finite(x, path="result"):
    """Paths of the non-finite numbers in a result."""
    if isinstance(x, dict):
        return [q for k, v in x.items() for q in _non_finite(v, f"{path}.{k}")]
    if isinstance(x, (list, tuple)):
        return [q for i, v in enumerate(x) for q in _non_finite(v, f"{path}[{i}]")]
    if isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isfinite(x):
        return [path]
    return []


@pytest.mark.slow  # ~60 s: every example compiles its own kernels
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cfg=configs())
def test_config_is_rejected_by_field_or_gives_finite_results(cfg):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Feller-condition notes
            res = mcrisk.risk(cfg)
    except ConfigError as e:
        assert FIELD.match(str(e)), str(e)
        return
    assert _non_finite(res) == [], _non_finite(res)
    json.dumps(res, allow_nan=False)
