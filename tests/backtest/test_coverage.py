"""Kupiec, Christoffersen, the Basel traffic light and the Z2 ES test against direct
computations with SciPy and the Basel table."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import xlogy

from mcrisk.backtest import christoffersen, es_test, exceptions, kupiec, traffic_light
from mcrisk.errors import ConfigError

SERIES = {
    "zero": [0] * 250,
    "all": [1] * 40,
    "consecutive": [0] * 100 + [1, 1, 1] + [0] * 100 + [1, 1],
    "no_11": [0, 0, 1, 0, 0, 0, 1, 0] * 30,
    "last_only": [0] * 99 + [1],
    "random": list(np.random.default_rng(7).random(500) < 0.02),
}


def direct(e, level):
    e = np.asarray(e, int)
    n, x, p = e.size, e.sum(), 1 - level
    pi = x / n
    lr_pof = -2 * (xlogy(n - x, 1 - p) + xlogy(x, p) - xlogy(n - x, 1 - pi) - xlogy(x, pi))
    a, b = e[:-1], e[1:]
    n00, n01 = np.sum((a == 0) & (b == 0)), np.sum((a == 0) & (b == 1))
    n10, n11 = np.sum((a == 1) & (b == 0)), np.sum((a == 1) & (b == 1))
    p01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    p11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    p1 = (n01 + n11) / (n - 1)
    lr_ind = -2 * (xlogy(n00 + n10, 1 - p1) + xlogy(n01 + n11, p1)
                   - xlogy(n00, 1 - p01) - xlogy(n01, p01)
                   - xlogy(n10, 1 - p11) - xlogy(n11, p11))
    return lr_pof, lr_ind, lr_pof + lr_ind


@pytest.mark.parametrize("name", SERIES)
@pytest.mark.parametrize("level", [0.99, 0.95])
def test_likelihood_ratios_match_scipy(name, level):
    e = SERIES[name]
    lr_pof, lr_ind, lr_cc = direct(e, level)
    k, c = kupiec(e, level), christoffersen(e, level)
    assert k["lr"] == pytest.approx(lr_pof, rel=1e-12, abs=1e-12)
    assert k["p_value"] == pytest.approx(stats.chi2.sf(lr_pof, 1), rel=1e-9, abs=1e-300)
    assert c["lr_ind"] == pytest.approx(lr_ind, rel=1e-12, abs=1e-12)
    assert c["p_ind"] == pytest.approx(stats.chi2.sf(lr_ind, 1), rel=1e-9, abs=1e-300)
    assert c["lr_cc"] == pytest.approx(lr_cc, rel=1e-12, abs=1e-12)
    assert c["p_cc"] == pytest.approx(stats.chi2.sf(lr_cc, 2), rel=1e-9, abs=1e-300)


def test_traffic_light_is_the_basel_table():
    # BCBS (1996), table 2: 250 observations at 99%, cumulative probabilities in percent.
    basel = [8.11, 28.58, 54.32, 75.81, 89.22, 95.88, 98.63, 99.60, 99.89, 99.97, 99.99]
    for x, cum in enumerate(basel):
        t = traffic_light(x, 250, 0.99)
        assert round(100 * t["cumulative_probability"], 2) == cum
        assert t["zone"] == ("green" if x <= 4 else "yellow" if x <= 9 else "red")
    assert traffic_light(25, 250, 0.99)["zone"] == "red"
    # Other windows follow the same binomial thresholds.
    for n, level in [(500, 0.99), (250, 0.975), (1000, 0.95)]:
        t = traffic_light(0, n, level)
        p = 1 - level
        assert stats.binom.cdf(t["green_max"], n, p) < 0.95 <= stats.binom.cdf(
            t["green_max"] + 1, n, p)
        assert stats.binom.cdf(t["yellow_max"], n, p) < 0.9999 <= stats.binom.cdf(
            t["yellow_max"] + 1, n, p)


def test_normal_model_accepted_half_vol_rejected():
    """P&L ~ N(0, 1) for 1000 days, 99% VaR. The true model's Kupiec test rejects at 5% in
    (nominally) 5% of seeds; at this seed it accepts. Half the vol puts VaR at 1.16 sd, an
    exception rate of 12% instead of 1%."""
    rng = np.random.default_rng(2024)
    loss = rng.standard_normal(1000)
    z = stats.norm.ppf(0.99)
    good = kupiec(exceptions(loss, np.full(1000, z)), 0.99)
    bad = kupiec(exceptions(loss, np.full(1000, 0.5 * z)), 0.99)
    assert good["p_value"] > 0.05
    assert bad["p_value"] < 1e-6
    assert christoffersen(exceptions(loss, np.full(1000, 0.5 * z)), 0.99)["p_cc"] < 1e-6


def test_es_z2_statistic_and_simulated_p_value():
    level, days = 0.975, 500
    rng = np.random.default_rng(11)
    loss = rng.standard_normal(days)
    z = stats.norm.ppf(level)
    var, es = np.full(days, z), np.full(days, stats.norm.pdf(z) / (1 - level))
    want = 1 - np.sum(loss * (loss > var) / es) / (days * (1 - level))
    scen = rng.standard_normal((days, 1000))
    good = es_test(loss, var, es, level, scen, n_sims=1000, seed=1)
    assert good["z2"] == pytest.approx(want, rel=1e-12)
    assert good["p_value"] > 0.05
    bad = es_test(loss, 0.5 * var, 0.5 * es, level, 0.5 * scen, n_sims=1000, seed=1)
    assert bad["p_value"] < 0.01
    assert es_test(loss, var, es, level)["p_value"] is None


def test_bad_input_is_config_error():
    with pytest.raises(ConfigError, match="exceptions"):
        kupiec([0, 2, 1], 0.99)
    with pytest.raises(ConfigError, match="level"):
        kupiec([0, 1], 1.0)
    with pytest.raises(ConfigError, match=r"var"):
        exceptions([1.0, 2.0], [1.0])
    with pytest.raises(ConfigError, match=r"es\[1\]"):
        es_test([1.0, 2.0], [1.0, 1.0], [1.0, 0.0], 0.975)
