"""The risk and stress cores return typed results (`mcrisk.riskengine.results`): fields and
shapes, and values against closed forms on a book of spot positions (a lognormal loss)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from mcrisk.config import build
from mcrisk.riskengine import results as R
from mcrisk.riskengine.run import simulate_risk, simulate_stress

S0, VOL, RATE, H, N = 100.0, 0.6, 0.03, 1.0 / 365.0, 20_000
LEVELS = (0.95, 0.99)
Q = (1.5, 0.5)  # two spot positions on one asset: a book of 2 units


def _cfg():
    return {"market": {"assets": ["A"], "spot": [S0], "vol": [VOL], "rate": RATE,
                       "corr": [[1.0]]},
            "model": {"name": "gbm"}, "greeks": {"enabled": False},
            "sim": {"n_paths": N, "n_steps": 1, "seed": 11, "dtype": "float64"},
            "portfolio": {"positions": [
                {"name": "a", "type": "spot", "asset": "A", "quantity": Q[0]},
                {"name": "b", "type": "spot", "asset": "A", "quantity": Q[1]}]},
            "risk": {"horizon": H, "levels": list(LEVELS), "margin": {"enabled": False},
                     "stress": [{"name": "down", "spot": {"A": -10}}]}}


def _closed_form(level):
    """VaR, ES and their standard errors at n scenarios of L = 2 S0 (1 - exp(X)),
    X ~ N(mu, s^2) under the risk-neutral measure."""
    mu, s = (RATE - 0.5 * VOL ** 2) * H, VOL * math.sqrt(H)
    scale, p = sum(Q) * S0, 1.0 - level
    z = norm.ppf(p)
    var = scale * (1 - math.exp(mu + s * z))
    es = scale * (1 - math.exp(mu + 0.5 * s * s) * norm.cdf(z - s) / p)
    # Order statistic: sqrt(a (1 - a) / n) / f_L(VaR), f_L = phi(z) / (s * scale * e^x).
    var_se = math.sqrt(level * p / N) * scale * math.exp(mu + s * z) * s / norm.pdf(z)
    # Tail mean: [Var(L | tail) + a (ES - VaR)^2] / (n p).
    loss = lambda u: scale * (1 - math.exp(mu + s * u))  # noqa: E731
    m2 = integrate.quad(lambda u: loss(u) ** 2 * norm.pdf(u), -12, z)[0] / p
    es_se = math.sqrt((m2 - es ** 2 + level * (es - var) ** 2) / (N * p))
    return var, es, var_se, es_se


@pytest.fixture(scope="module")
def result():
    return simulate_risk(build(_cfg()))


def test_core_returns_typed_results_of_the_right_shapes(result):
    r = result
    assert isinstance(r, R.RiskResult) and r.names == ("a", "b") and r.assets == ("A",)
    assert isinstance(r.tail, R.TailResult) and isinstance(r.tail.stats, R.LossStats)
    assert [t.level for t in r.tail.metrics] == list(LEVELS)
    assert all(isinstance(t, R.TailMetrics) and len(t.var_ci) == 2 and len(t.es_ci) == 2
               for t in r.tail.metrics)
    assert r.tail.stats.n_scenarios == N and r.n_paths == N
    assert r.tail.histogram.counts.shape == (60,) and r.tail.histogram.edges.shape == (61,)
    assert isinstance(r.today, R.Today) and r.today.positions.shape == (2,)
    assert r.today.book == pytest.approx(sum(Q) * S0, rel=1e-12)
    assert [c.level for c in r.contributions] == list(LEVELS)
    for c, t in zip(r.contributions, r.tail.metrics):
        assert isinstance(c, R.Contribution)
        assert c.component_es.shape == c.component_var.shape == c.incremental_es.shape == (2,)
        assert c.component_es.sum() == pytest.approx(t.es, rel=1e-12)
        # Both positions move with the one spot: component ES in proportion to quantity.
        assert c.component_es[0] == pytest.approx(3 * c.component_es[1], rel=1e-12)
    assert all(isinstance(w, R.WorstScenario) and w.by_position.shape == (2,)
               for w in r.worst_scenarios)
    assert r.nested_error is None and r.profile is None and r.delta_gamma is None
    assert r.margin is None and r.scenario_source is None and r.inner_paths is None


@pytest.mark.parametrize("j", range(len(LEVELS)))
def test_var_and_es_of_a_lognormal_loss_within_4_standard_errors(result, j):
    t = result.tail.metrics[j]
    var, es, var_se, es_se = _closed_form(t.level)
    assert abs(t.var - var) <= 4 * var_se, (t.var, var, var_se)
    assert abs(t.es - es) <= 4 * es_se, (t.es, es, es_se)


def test_stress_core_loss_is_the_spot_move():
    r = simulate_stress(build(_cfg()))
    assert isinstance(r, R.StressResult) and len(r.stress) == 1
    s = r.stress[0]
    assert isinstance(s, R.StressLoss) and s.name == "down"
    np.testing.assert_allclose(s.spot_shock, [-0.1])
    np.testing.assert_allclose(s.by_position, np.array(Q) * S0 * 0.1, rtol=1e-12)
    assert s.loss == pytest.approx(sum(Q) * S0 * 0.1, rel=1e-12)
    assert r.today.book == pytest.approx(sum(Q) * S0, rel=1e-12) and r.margin is None
