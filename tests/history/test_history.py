"""Scenarios from history against arch and direct NumPy computations on real S&P 500 data."""

import numpy as np
import pytest

from mcrisk.errors import ConfigError
from mcrisk.history import (age_weights, ewma_filter, filtered_scenarios, garch_filter,
                            historical_scenarios, log_returns)

arch = pytest.importorskip("arch")


@pytest.fixture(scope="module")
def closes():
    from arch.data import sp500

    # Daily S&P 500 closes 1999-2018, shipped with arch (never fetched at run time).
    return sp500.load()["Adj Close"].to_numpy()


@pytest.mark.parametrize("mean", ["Zero", "Constant"])
def test_garch_filter_reproduces_arch(closes, mean):
    r = np.diff(np.log(closes[-1001:]))
    f = garch_filter(r, mean=mean)
    res = arch.arch_model(100 * r, vol="GARCH", p=1, q=1, mean=mean, dist="normal").fit(
        disp="off")
    np.testing.assert_allclose(f.sigma[:, 0], res.conditional_volatility / 100, rtol=1e-10)
    fc = res.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]
    np.testing.assert_allclose(f.forecast[0], np.sqrt(fc) / 100, rtol=1e-10)
    mu = res.params["mu"] / 100 if mean == "Constant" else 0.0
    np.testing.assert_allclose(f.residuals[:, 0], (r - mu) / f.sigma[:, 0], rtol=1e-12)


def test_ewma_filter_matches_direct_loop(closes):
    r = np.diff(np.log(closes[-301:]))
    lam = 0.94
    f = ewma_filter(np.stack([r, 2 * r], axis=1), lam)
    s2 = np.mean(r * r)
    want = []
    for x in r:
        want.append(np.sqrt(s2))
        s2 = lam * s2 + (1 - lam) * x * x
    np.testing.assert_allclose(f.sigma[:, 0], want, rtol=1e-12)
    np.testing.assert_allclose(f.sigma[:, 1], 2 * np.array(want), rtol=1e-12)
    np.testing.assert_allclose(f.forecast[0], np.sqrt(s2), rtol=1e-12)


@pytest.mark.parametrize("h,overlapping", [(1, True), (10, True), (10, False)])
def test_historical_returns_match_numpy(closes, h, overlapping):
    window = 500
    p = closes[-window - 1:]
    if overlapping:
        want = np.log(p[h:] / p[:-h])
    else:  # blocks ending on the newest price
        want = np.array([np.log(p[e] / p[e - h]) for e in range(window, h - 1, -h)][::-1])
    got = historical_scenarios(closes, window=window, horizon_days=h, overlapping=overlapping)
    # log(a / b) and log(a) - log(b) differ by rounding: 1e-15 absolute on returns of 1e-2.
    np.testing.assert_allclose(got.returns[:, 0], want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.moves[:, 0], np.exp(want) - 1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.weights, 1.0 / len(want))


def test_age_weights_are_brw():
    lam, n = 0.98, 250
    i = np.arange(1, n + 1)  # 1 = newest
    want = lam ** (i - 1) * (1 - lam) / (1 - lam ** n)
    np.testing.assert_allclose(age_weights(n, lam), want[::-1], rtol=1e-12)


def test_fhs_garch_horizon_variance_matches_recursion_closed_form(closes):
    """E[R_h^2] = m2 * sum_k E[sigma_k^2] with E[sigma_{k+1}^2] = omega + (alpha m2 + beta)
    E[sigma_k^2], m2 = mean(z^2) of the resampled residuals: guards the h-day recursion (the
    sqrt(h) rule would miss GARCH mean reversion by ~10% here)."""
    h, n = 10, 20_000
    window = closes[-1001:]
    s = filtered_scenarios(window, n_scenarios=n, seed=3, horizon_days=h, filter="garch")
    f = garch_filter(np.diff(np.log(window)))
    omega, alpha, beta = f.params[:, 0]
    m2 = np.mean(f.residuals[:, 0] ** 2)
    e, total = f.forecast[0] ** 2, 0.0
    for _ in range(h):
        total += m2 * e
        e = omega + (alpha * m2 + beta) * e
    x = s.returns[:, 0] ** 2
    assert abs(x.mean() - total) <= 4 * x.std(ddof=1) / np.sqrt(n)


def test_bad_inputs_raise_config_error(closes):
    r = np.diff(np.log(closes[-200:]))
    for lam in (0.0, 1.0, 1.5):
        with pytest.raises(ConfigError, match="ewma_lambda"):
            ewma_filter(r, lam)
        with pytest.raises(ConfigError, match="age_weighting"):
            age_weights(10, lam)
    with pytest.raises(ConfigError, match="horizon_days"):
        log_returns(closes[:20], 0)
    with pytest.raises(ConfigError, match="horizon_days"):
        log_returns(closes[:5], 5)
    with pytest.raises(ConfigError, match="window.*at least 100"):
        garch_filter(r[:50])
    with pytest.raises(ConfigError, match="window"):
        historical_scenarios(closes[:30], window=40)
    with pytest.raises(ConfigError, match=r"prices\[3\]\[0\]"):
        log_returns(np.array([1.0, 2.0, 3.0, -1.0, 2.0]))


def test_garch_without_arch_names_the_extra(closes, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "arch", None)  # import arch now raises ImportError
    with pytest.raises(ConfigError, match=r'risk.scenarios.filter.*mcrisk\[history\]'):
        garch_filter(np.diff(np.log(closes[-300:])))
