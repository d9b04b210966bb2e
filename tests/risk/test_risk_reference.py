"""Risk metrics against exact answers.

Exact references are computed independently here (SciPy quadrature and root finding over
the lognormal law of the horizon spots), never with the normal approximation. Estimates are
accepted within 4 standard errors, the standard error taken from the reported 95% interval
(half-width / 1.96).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.stats import norm

import mcrisk

H = 10 / 365
LEVELS = [0.95, 0.99]
N = 100_000


def _within(est, ci, exact, name):
    se = (ci[1] - ci[0]) / (2 * 1.96)
    print(f"REF {name:<28} exact {exact:14.6f} estimate {est:14.6f} CI [{ci[0]:.6f}, {ci[1]:.6f}]")
    assert abs(est - exact) <= 4 * se, f"{name}: estimate {est:.6g} (CI {ci}) vs exact {exact:.6g}"


def _risk(market, positions, **risk):
    cfg = dict(market=market, model=dict(name="gbm"),
               sim=dict(n_paths=N, n_steps=16, seed=21, dtype="float64", chunk_size=50_000),
               greeks=dict(enabled=False), portfolio=dict(positions=positions),
               risk=dict(horizon=H, levels=LEVELS, margin=dict(enabled=False), **risk))
    return mcrisk.risk(cfg)


def _quantile_es_from_survival(surv, lo, hi, level):
    """VaR: P(L > x) = 1 - level; ES = VaR + int_VaR^inf P(L > x) dx / (1 - level)."""
    var = optimize.brentq(lambda x: surv(x) - (1 - level), lo, hi, xtol=1e-10)
    tail, _ = integrate.quad(surv, var, hi, limit=200)
    return var, var + tail / (1 - level)


def test_linear_book_of_correlated_lognormals_real_world_drift():
    s0, vol, mu, rho = np.array([100.0, 50.0]), np.array([0.6, 0.8]), np.array([0.2, -0.1]), 0.7
    qty = np.array([3.0, 4.0])
    market = dict(assets=["A", "B"], spot=s0.tolist(), vol=vol.tolist(), rate=0.03,
                  drift=mu.tolist(), corr=[[1.0, rho], [rho, 1.0]])
    res = _risk(market, [dict(type="spot", asset="A", quantity=3.0),
                         dict(type="spot", asset="B", quantity=4.0)])
    c = float(qty @ s0)
    x, w = np.polynomial.hermite_e.hermegauss(160)
    w = w / w.sum()
    s2 = s0[1] * np.exp((mu[1] - 0.5 * vol[1] ** 2) * H + vol[1] * math.sqrt(H) * x)
    m1 = math.log(s0[0]) + (mu[0] - 0.5 * vol[0] ** 2) * H + rho * vol[0] * math.sqrt(H) * x
    sd1 = vol[0] * math.sqrt((1 - rho ** 2) * H)

    def surv(loss):  # P(c - 3 S1 - 4 S2 > loss | Z2) integrated over Z2
        room = (c - loss - qty[1] * s2) / qty[0]
        p = np.where(room > 0, norm.cdf((np.log(np.maximum(room, 1e-300)) - m1) / sd1), 0.0)
        return float(w @ p)

    for a in LEVELS:
        var, es = _quantile_es_from_survival(surv, -c, c, a)
        k = repr(a)
        _within(res["var"][k], res["var_ci"][k], var, f"VaR {a}")
        _within(res["es"][k], res["es_ci"][k], es, f"ES {a}")


def _bs(s, k, t, vol, r, call=True):
    d1 = (np.log(s / k) + (r + 0.5 * vol ** 2) * t) / (vol * np.sqrt(t))
    d2 = d1 - vol * np.sqrt(t)
    if call:
        return s * norm.cdf(d1) - k * np.exp(-r * t) * norm.cdf(d2)
    return k * np.exp(-r * t) * norm.cdf(-d2) - s * norm.cdf(-d1)


S0, VOL, R, K, T = 100.0, 0.7, 0.03, 105.0, 0.25


def _spot_at_h(z):  # risk-neutral drift (no market.drift given)
    return S0 * np.exp((R - 0.5 * VOL ** 2) * H + VOL * math.sqrt(H) * z)


@pytest.mark.parametrize("quantity", [1.0, -1.0], ids=["long_call", "short_call"])
def test_single_call_var_is_revaluation_at_spot_quantile(quantity):
    market = dict(assets=["X"], spot=[S0], vol=[VOL], rate=R)
    res = _risk(market, [dict(type="european", asset="X", option="call", strike=K, expiry=T,
                              quantity=quantity)])
    v0 = _bs(S0, K, T, VOL, R)

    def loss(z, quantity=quantity):
        return quantity * (v0 - _bs(_spot_at_h(z), K, T - H, VOL, R))

    for a in LEVELS:
        # Loss is monotone in the spot: VaR is the revaluation at the spot's quantile.
        z_star = norm.ppf(1 - a) if quantity > 0 else norm.ppf(a)
        var = loss(z_star)
        lo, hi = (-12, z_star) if quantity > 0 else (z_star, 12)
        es = integrate.quad(lambda z: loss(z) * norm.pdf(z), lo, hi)[0] / (1 - a)
        k = repr(a)
        _within(res["var"][k], res["var_ci"][k], var, f"VaR {a}")
        _within(res["es"][k], res["es_ci"][k], es, f"ES {a}")


def test_short_straddle_non_monotone_by_integration():
    market = dict(assets=["X"], spot=[S0], vol=[VOL], rate=R)
    res = _risk(market, [dict(type="european", asset="X", option="call", strike=S0, expiry=T,
                              quantity=-1.0),
                         dict(type="european", asset="X", option="put", strike=S0, expiry=T,
                              quantity=-1.0)])
    v0 = _bs(S0, S0, T, VOL, R) + _bs(S0, S0, T, VOL, R, call=False)
    z = np.linspace(-9, 9, 200_001)
    st = _spot_at_h(z)
    loss = -(v0 - _bs(st, S0, T - H, VOL, R) - _bs(st, S0, T - H, VOL, R, call=False))
    dens = norm.pdf(z) * (z[1] - z[0])

    def surv(x):
        return float(dens[loss > x].sum())

    for a in LEVELS:
        var = optimize.brentq(lambda x, a=a: surv(x) - (1 - a), loss.min(), loss.max(),
                              xtol=1e-9)
        es = float((loss * dens)[loss >= var].sum() / dens[loss >= var].sum())
        k = repr(a)
        _within(res["var"][k], res["var_ci"][k], var, f"VaR {a}")
        _within(res["es"][k], res["es_ci"][k], es, f"ES {a}")
    # Both legs lose in the tail: component ES is positive for each and sums to ES.
    comp = res["contributions"]["0.99"]["component_es"]
    assert sum(comp.values()) == pytest.approx(res["es"]["0.99"], rel=1e-12)
