"""The merton backtest model: its maximum likelihood against known parameters, its h-day
scenarios against Merton's moments, coverage on a simulated jump-diffusion where
delta-normal's thin tails fail, fallbacks reported, and config errors."""

from __future__ import annotations

import numpy as np
import pytest

from mcrisk.backtest import jumps
from mcrisk.errors import ConfigError
from mcrisk.tasks.backtest import backtest

DT = 1.0 / 252.0


def merton_returns(n: int, seed: int, vol: float, intensity: float, jump_mean: float,
                   jump_std: float) -> np.ndarray:
    """One-day log returns of a martingale Merton spot (annual vol and intensity)."""
    rng = np.random.default_rng(seed)
    k = rng.poisson(intensity * DT, n)
    drift = -0.5 * vol ** 2 * DT - intensity * DT * np.expm1(jump_mean + 0.5 * jump_std ** 2)
    return (drift + vol * np.sqrt(DT) * rng.standard_normal(n) + k * jump_mean
            + np.sqrt(k) * jump_std * rng.standard_normal(n))


def config(prices, **backtest_keys) -> dict:
    return {"market": {"assets": ["X"], "spot": [100.0], "vol": [0.2], "rate": 0.02},
            "sim": {"dtype": "float64", "seed": 3},
            "portfolio": {"positions": [
                {"name": "x", "type": "spot", "asset": "X", "quantity": 10.0}]},
            "backtest": {"prices": {"values": prices}, **backtest_keys}}


def test_mle_recovers_known_parameters():
    # 5000 days at 20 jumps a year: ~400 jumps. Tolerance: 4 standard errors from the
    # inverse observed Fisher information (relative s.e. ~2% vol, 25% intensity, 18% jump
    # mean, 8% jump sd; seeds 1-5 gave |z| <= 2.0).
    r = merton_returns(5000, 1, vol=0.4, intensity=20.0, jump_mean=-0.03, jump_std=0.05)
    f = jumps.fit(r)
    assert f.fallback == ""
    se = np.sqrt(np.diag(np.linalg.inv(jumps.information(r, f))))
    got = np.array([f.vol, f.intensity, f.jump_mean, f.jump_std])
    want = np.array([0.4 * np.sqrt(DT), 20.0 * DT, -0.03, 0.05])
    z = (got - want) / se[1:]
    assert np.all(np.abs(z) <= 4.0), z


def test_scenarios_have_merton_moments():
    # Two assets with jumps, h = 10: the scenarios' martingale mean, per-asset variance
    # h (vol^2 + lambda (m^2 + s^2)) and covariance h rho vol_1 vol_2 (jumps independent),
    # with the fitted parameters and the window's correlation rho, within 4 s.e.
    a = merton_returns(2000, 2, vol=0.3, intensity=15.0, jump_mean=-0.04, jump_std=0.04)
    b = merton_returns(2000, 3, vol=0.2, intensity=10.0, jump_mean=0.02, jump_std=0.06)
    r = np.column_stack([a, 0.6 * a + 0.8 * b])
    n, h = 200_000, 10
    x, fits = jumps.scenarios(r, n, h, np.random.default_rng(4))
    assert [f.fallback for f in fits] == ["", ""]
    vol = np.array([f.vol for f in fits])
    jv = np.array([f.intensity * (f.jump_mean ** 2 + f.jump_std ** 2) for f in fits])
    c = r.T @ r / len(r)
    rho = c[0, 1] / np.sqrt(c[0, 0] * c[1, 1])
    g = np.expm1(x)
    assert np.all(np.abs(g.mean(axis=0)) <= 4 * g.std(axis=0) / np.sqrt(n))
    d = x - x.mean(axis=0)
    sq = d ** 2
    assert np.all(np.abs(sq.mean(axis=0) - h * (vol ** 2 + jv))
                  <= 4 * sq.std(axis=0) / np.sqrt(n))
    cross = d[:, 0] * d[:, 1]
    assert abs(cross.mean() - h * rho * vol[0] * vol[1]) <= 4 * cross.std() / np.sqrt(n)


def test_merton_passes_kupiec_where_delta_normal_fails():
    # 1000 days at 99%, window 500, of a Merton spot (vol 20%, 20 jumps a year of mean -3%,
    # sd 5%): 10 exceptions expected. The normal's 99% VaR sits inside the jump tail.
    # Seed 1 gave merton 12 (Kupiec p 0.54), delta_normal 30 (p 3e-7); seeds 1-6 gave
    # merton 10-17 and delta_normal 24-38, rejected at p <= 2e-4 each time.
    r = merton_returns(1500, 1, vol=0.2, intensity=20.0, jump_mean=-0.03, jump_std=0.05)
    prices = 100.0 * np.exp(np.cumsum(np.r_[0.0, r]))
    res = backtest(config(prices, window=500, test_days=1000, levels=[0.99],
                          models=["merton", "delta_normal"], es_sims=200))
    jd, dn = (res["models"][m]["levels"]["0.99"] for m in ("merton", "delta_normal"))
    assert jd["kupiec"]["p_value"] > 0.05, jd["exceptions"]
    assert dn["kupiec"]["p_value"] < 0.01, dn["exceptions"]
    assert dn["exceptions"] > 1.5 * jd["exceptions"]


def test_fallback_to_no_jumps_is_reported():
    # Normal returns: the MLE mostly spreads the tails over many tiny jumps (intensity
    # bound) or one spike (jump sd bound): 34 of 40 samples of 250 returns. Either way the
    # day has no jumps, and the notes say so.
    r = 0.0126 * np.random.default_rng(0).standard_normal(130)
    f = jumps.fit(r)
    assert "bound" in f.fallback and f.intensity == 0.0
    assert f.vol == pytest.approx(np.sqrt(np.mean(r * r)), rel=1e-12)
    prices = 100.0 * np.exp(np.cumsum(np.r_[0.0, r]))
    res = backtest(config(prices, window=120, test_days=5, levels=[0.95],
                          models=["merton"], n_scenarios=100, es_sims=50))
    note = [n for n in res["notes"] if "fits not used" in n]
    assert len(note) == 1 and "bound" in note[0], res["notes"]


@pytest.mark.parametrize("keys, path", [
    ({"window": 60, "models": ["merton"], "levels": [0.95]}, "backtest.window"),
    ({"models": ["merton"], "levels": [0.99], "n_scenarios": 50}, "backtest.n_scenarios"),
])
def test_bad_merton_config_names_the_field(keys, path):
    r = 0.0126 * np.random.default_rng(1).standard_normal(300)
    with pytest.raises(ConfigError) as err:
        backtest(config(100.0 * np.exp(np.cumsum(np.r_[0.0, r])), **keys))
    assert err.value.path == path
    assert "merton" in str(err.value)
