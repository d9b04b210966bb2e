"""The Greeks kernel's one-step barrier expectation against direct quadrature."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from mcrisk.instruments import barrier, conditional


def _quadrature(x0, mu, v, level, up, strike, sign, w):
    """E[vanilla(e^X) 1{alive} (1 - exp(-2 a b / w))], X ~ N(mu, v): the survival of one
    step's bridge of variance w integrated against the end point's density."""
    lvl, sd = np.log(level), np.sqrt(v)
    a = max((lvl - x0) if up else (x0 - lvl), 0.0)

    def f(x):
        b = (lvl - x) if up else (x - lvl)
        if b <= 0:
            return 0.0
        dens = np.exp(-(x - mu) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v)
        return max(sign * (np.exp(x) - strike), 0.0) * -np.expm1(-2 * a * b / w) * dens

    lo, hi = mu - 12 * sd, mu + 12 * sd
    kinks = [p for p in (lvl, np.log(strike)) if lo < p < hi]
    return integrate.quad(f, lo, hi, points=kinks or None, limit=400, epsabs=1e-13,
                          epsrel=1e-11)[0]


CASES = [
    # x0, drift, variance, barrier, up, strike, sign, bridge variance / variance
    (np.log(100.0), 0.01, 0.25 ** 2 / 4, 80.0, False, 100.0, 1.0, 1.0),
    (np.log(100.0), -0.02, 0.3 ** 2 / 4, 120.0, True, 100.0, -1.0, 1.0),
    (np.log(100.0), 0.0, 0.2 ** 2 / 4, 90.0, False, 95.0, -1.0, 1.0),
    (np.log(100.0), 0.0, 0.2 ** 2 / 4, 110.0, True, 95.0, 1.0, 1.0),
    # A drift of 20 step deviations towards a barrier 20 deviations away: the reflection
    # factor exp(2 a |m| / v) = e^800 overflows while the mass it multiplies underflows.
    (np.log(100.0), -0.2, 0.01 ** 2, 100.0 * np.exp(-0.2), False, 70.0, 1.0, 1.0),
    # Heston: the bridge keeps the step's start variance, the end has the central scheme's.
    (np.log(100.0), 0.01, 0.25 ** 2 / 4, 80.0, False, 100.0, 1.0, 1.7),
    (np.log(100.0), -0.02, 0.3 ** 2 / 4, 120.0, True, 100.0, -1.0, 0.6),
    (np.log(100.0), 0.0, 0.2 ** 2 / 4, 90.0, False, 95.0, -1.0, 0.3),
]


@pytest.mark.parametrize("x0,m,v,level,up,strike,sign,ratio", CASES)
def test_knock_out_expectation_over_the_last_step(x0, m, v, level, up, strike, sign, ratio):
    tb = dict(asset=jnp.array([0]), slot=jnp.array([0]), log_level=jnp.log(jnp.array([level])),
              up=jnp.array([up]), knock_in=jnp.array([False]), sign=jnp.array([sign]),
              strike=jnp.array([strike]))
    own = barrier.record_init(1, jnp.float64)
    rec = conditional.init(1, 1, 0, jnp.float64, {"barrier": own})[0]._replace(
        start=jnp.array([[x0]]), mean=jnp.array([[x0 + m]]), var=jnp.array([[v]]),
        bridge=jnp.array([[v * ratio]]))
    got = float(barrier.conditional_payoff(tb, rec, own)[0])
    ref = _quadrature(x0, x0 + m, v, level, up, strike, sign, v * ratio)
    assert got == pytest.approx(ref, rel=1e-8, abs=1e-12)
