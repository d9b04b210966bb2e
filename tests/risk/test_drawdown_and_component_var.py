"""Max drawdown of the exposure profile and component VaR against exact lognormal references.

Outer scenarios are iid (no antithetic pairing), so every standard error below is that of an
iid sample mean or order statistic.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize
from scipy.stats import norm

import mcrisk

R = 0.03


def _lognormal_put_ratio(t, vol):
    """E[(1 - S_t/S_0)^+] under the risk-neutral GBM (an undiscounted at-the-money put)."""
    sd = vol * math.sqrt(t)
    d1 = (R * t + 0.5 * sd ** 2) / sd
    return norm.cdf(sd - d1) - math.exp(R * t) * norm.cdf(-d1)


def test_max_drawdown_of_a_spot_position_on_two_dates():
    """Book value V = S monitored at [0, t1, t2] (the profile's dates, discrete): the drawdown
    is D = max(a, M - S2) with a = (S0 - S1)^+, M = max(S0, S1), and M - a = S1, so
    E[D] = E[(S0 - S1)^+] + E[S1] E[(1 - S2/S1)^+] exactly; P(D > x) is one quadrature over
    S1 of a lognormal probability for S2, giving the exact 95% quantile."""
    s0, vol, t1, t2, n = 100.0, 0.8, 10 / 365, 30 / 365, 40_000
    cfg = dict(market=dict(assets=["X"], spot=[s0], vol=[vol], rate=R),
               sim=dict(n_paths=n, n_steps=4, seed=12, dtype="float64", chunk_size=20_000),
               greeks=dict(enabled=False),
               portfolio=dict(positions=[dict(type="spot", asset="X", quantity=1.0)]),
               risk=dict(horizon=t1, dates=[t1, t2], margin=dict(enabled=False)))
    dd = mcrisk.risk(cfg)["profile"]["max_drawdown"]
    dt = t2 - t1
    mean = s0 * _lognormal_put_ratio(t1, vol) + s0 * math.exp(R * t1) * _lognormal_put_ratio(
        dt, vol)
    assert abs(dd["mean"] - mean) <= 4 * dd["stdev"] / math.sqrt(n), (dd, mean)

    z = np.linspace(-10, 10, 200_001)
    w = norm.pdf(z) * (z[1] - z[0])
    s1 = s0 * np.exp((R - 0.5 * vol ** 2) * t1 + vol * math.sqrt(t1) * z)
    a, big = np.maximum(s0 - s1, 0.0), np.maximum(s0, s1)

    def surv(x):  # P(D > x) = P(a > x) + P(a <= x, S2 < M - x)
        room = np.maximum(big - x, 1e-300)
        p2 = norm.cdf((np.log(room / s1) - (R - 0.5 * vol ** 2) * dt) / (vol * math.sqrt(dt)))
        return float(w @ np.where(a > x, 1.0, np.where(big > x, p2, 0.0)))

    q95 = optimize.brentq(lambda x: surv(x) - 0.05, 1e-6, s0, xtol=1e-10)
    dens = (surv(q95 - 0.01) - surv(q95 + 0.01)) / 0.02
    se = math.sqrt(0.05 * 0.95 / n) / dens
    assert abs(dd["q95"] - q95) <= 4 * se, (dd["q95"], q95, se)


def test_component_var_of_a_linear_book_against_the_exact_conditional_mean():
    """Two correlated lognormal spots, L = L_A + L_B. Component VaR_A estimates
    E[L_A | L = VaR] by averaging L_A over the 2w+1 scenarios ranked around VaR; given their
    book losses those L_A are independent with mean g(L) = E[L_A | L], so the estimate is
    g(mean window loss) within 4 sd(L_A | L)/sqrt(2w+1), both computed here exactly by
    quadrature over the lognormal law (conditioning on L fixes S_A given S_B)."""
    s0, vol, rho, qty, h, n = np.array([100.0, 50.0]), np.array([0.6, 0.8]), 0.6, \
        np.array([3.0, 4.0]), 10 / 365, 40_000
    cfg = dict(market=dict(assets=["A", "B"], spot=s0.tolist(), vol=vol.tolist(), rate=R,
                           corr=[[1.0, rho], [rho, 1.0]]),
               sim=dict(n_paths=n, n_steps=4, seed=8, dtype="float64", chunk_size=20_000),
               greeks=dict(enabled=False),
               portfolio=dict(positions=[dict(name="a", type="spot", asset="A", quantity=3.0),
                                         dict(name="b", type="spot", asset="B", quantity=4.0)]),
               risk=dict(horizon=h, levels=[0.99], margin=dict(enabled=False)))
    res = mcrisk.risk(cfg)
    c = res["contributions"]["0.99"]
    z = np.linspace(-10, 10, 200_001)
    dz = z[1] - z[0]
    mu = (R - 0.5 * vol ** 2) * h
    sb = s0[1] * np.exp(mu[1] + vol[1] * math.sqrt(h) * z)
    cond_sd = vol[0] * math.sqrt((1 - rho ** 2) * h)
    total = float(qty @ s0)

    def moments(v):
        """E[L_A | L = v] and its conditional sd, integrating the joint density over z_B."""
        sa = (total - v - qty[1] * sb) / qty[0]
        ok = sa > 0
        sa = np.where(ok, sa, 1.0)
        u = (np.log(sa / s0[0]) - mu[0] - vol[0] * math.sqrt(h) * rho * z) / cond_sd
        dens = np.where(ok, norm.pdf(z) * norm.pdf(u) / (sa * cond_sd), 0.0) * dz
        la = qty[0] * (s0[0] - sa)
        m1 = (dens @ la) / dens.sum()
        return m1, math.sqrt(max((dens @ la ** 2) / dens.sum() - m1 ** 2, 0.0))

    w = max(5, int(0.001 * n))
    v = c["var_window_sum"]  # mean book loss of the window
    # The window must sit at the VaR (its loss spread is a few percent of it here).
    assert abs(v - res["var"]["0.99"]) <= 0.05 * res["var"]["0.99"]
    g, sd = moments(v)
    tol = 4 * sd / math.sqrt(2 * w + 1)
    assert abs(c["component_var"]["a"] - g) <= tol, (c["component_var"], g, tol)
    assert abs(c["component_var"]["b"] - (v - g)) <= tol, (c["component_var"], v - g, tol)
