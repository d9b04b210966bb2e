"""Deep hedging against the Black–Scholes delta hedge on the same paths.

GBM, a short 3-month ATM call, 25 rebalancing dates, hedge vol = true vol. Without costs the
trained policy must recover the delta hedge: hedge ratios within 0.1 of N(d1) at mid-life and
an out-of-sample ES within 10% of the delta hedge's (observed at this seed: 1.46 against
1.59). The unhedged ES, from the lognormal law in closed form (about 19), shows the scale of
the error guarded against: a policy that hedged half the delta, or a day late, would be off
by far more than the bound. With a 0.5% one-way cost the policy learns to trade less, and
its ES, costs included, falls below the delta hedge's (observed: 2.74 against 3.35).

Both trainings share one compiled training step: the second run (new cost, same shapes)
compiles nothing. float32 and a 2-layer MLP of width 16 keep the file under a minute.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import pytest
from scipy.stats import norm

from mcrisk import hedge
from mcrisk.config import deep_hedge
from mcrisk.config.dynamic_hedge import parse
from mcrisk.errors import ConfigError
from mcrisk.hedge import deep
from mcrisk.results_schema import undescribed
from mcrisk.tasks import run as run_task
from tests.compiles import compiled
from tests.hedge import refs

S0, T, VOL, LEVEL, COST = 100.0, 0.25, 0.2, 0.95, 0.005
HEDGE = dict(spot=S0, rate=0.0, horizon=T, steps=25, model=dict(name="gbm", vol=VOL),
             book=[dict(type="call", strike=S0, expiry=T, quantity=-1.0)], level=LEVEL,
             paths=5000, chunk=5000, seed=1, dtype="float32")
DEEP = dict(hidden=[16, 16], iterations=300, batch=2000, learning_rate=0.01)


def unhedged_es() -> float:
    """ES at LEVEL of the short call's loss (S_T - K)^+ - C, increasing in S_T: the mean
    over S_T above its LEVEL quantile s, E[S_T; S_T > s] = S_0 N(d1(s)) at zero rate."""
    sd = VOL * math.sqrt(T)
    d1 = norm.ppf(1 - LEVEL) + sd
    return S0 * norm.cdf(d1) / (1 - LEVEL) - S0 - refs.bs(S0, S0, T, VOL, 0.0)[0]


@pytest.fixture(scope="module")
def no_cost():
    setup = parse(HEDGE)
    section = deep_hedge.parse(DEEP, setup)
    out, _, trained = deep.run(setup, section)
    delta, _ = hedge.run(setup)
    return out, delta, (*deep.make(setup, section), trained.params)


def test_without_costs_the_deep_hedge_recovers_the_delta_hedge(no_cost):
    out, delta, (spec, arrays, params) = no_cost
    gap = unhedged_es() - delta["es"]
    assert gap > 10 * delta["es"], (unhedged_es(), delta["es"])
    # The deep hedge minimises ES at discrete dates, the delta hedge does not: it may do
    # better (by 5-11% over seeds and both path generators), never much worse.
    assert out["es"] <= 1.10 * delta["es"], (out["es"], delta["es"])
    assert abs(out["es"] - delta["es"]) <= 0.15 * gap
    # Mid-life hedge ratios (holding the delta already) against N(d1) at the hedge vol.
    tau = T / 2
    for s in (90.0, 100.0, 110.0):
        d = float(refs.bs(s, S0, tau, VOL, 0.0)[1])
        f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
        h = float(deep.hedge_ratio(spec, arrays, params, f(T - tau), f(s), f(d)))
        assert abs(h - d) <= 0.1, (s, h, d)
    assert out["fees"] == 0.0 and out["deep"]["indifference_price"] == pytest.approx(
        out["deep"]["premium"] - out["es"])


def test_with_costs_it_trades_less_and_lowers_es_compiling_nothing_new(no_cost):
    cfg = {"task": "dynamic_hedge", "dynamic_hedge": {**HEDGE, "costs": dict(proportional=COST),
                                                      "deep": DEEP}}
    with compiled() as names:
        res = run_task(cfg)
    assert names == []
    delta, dh = res["rows"]
    assert dh["kind"] == "deep" and undescribed("dynamic_hedge", res) == []
    # Observed 2.74 against 3.35 (fees 1.12 against 1.29).
    assert dh["es"] < 0.9 * delta["es"], (dh["es"], delta["es"])
    assert dh["fees"] < delta["fees"]


@pytest.mark.parametrize("bad, path", [
    (dict(hidden=[]), "dynamic_hedge.deep.hidden"),
    (dict(hidden=[16, 0]), "dynamic_hedge.deep.hidden[1]"),
    (dict(hidden=[8.5]), "dynamic_hedge.deep.hidden[0]"),
    (dict(learning_rate=0.0), "dynamic_hedge.deep.learning_rate"),
    (dict(learning_rate=-0.1), "dynamic_hedge.deep.learning_rate"),
    (dict(measure="cvar"), "dynamic_hedge.deep.measure"),
    (dict(level=1.0), "dynamic_hedge.deep.level"),
    (dict(level=0.0), "dynamic_hedge.deep.level"),
    (dict(risk_aversion=0.0), "dynamic_hedge.deep.risk_aversion"),
    (dict(batch=10), "dynamic_hedge.deep.batch"),
    (dict(layers=2), "dynamic_hedge.deep.layers"),
])
def test_bad_input_names_the_field_before_compiling(bad, path):
    cfg = {"task": "dynamic_hedge", "dynamic_hedge": {**HEDGE, "deep": {**DEEP, **bad}}}
    with compiled() as names, pytest.raises(ConfigError) as e:
        run_task(cfg)
    assert e.value.path == path and names == []
