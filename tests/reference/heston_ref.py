"""High-accuracy Heston reference: Lewis's formula integrated by QUADPACK (QAGS body, QAWF tail).

Separate from mcrisk.analytic.heston in contour (fixed Im z = -1/2, no damping choice, no control
variate), integrators and range; it shares the little-trap characteristic function and the
asymptotic phase slope x*, so it is checked against QuantLib wherever QuantLib is converged (within
2e-11 of spot on the 6135 such rows of `grid`). With X = ln(S_T / F) and k = ln(K / F), Lewis (2001)
gives

    C = e^{-rT} F [1 - sqrt(K / F) / pi * int_0^inf Re(e^{-iuk} phi(u - i/2)) / (u^2 + 1/4) du].

[0, 40 / sqrt(w)] is done by adaptive Gauss–Kronrod. Beyond it phi(u - i/2) ~ e^{iu x*} G(u),
x* = -rho (v0 + kappa theta T) / xi, G smooth and free of oscillation, so the rest is
cos/sin-weighted integrals of Re G and Im G at omega = k - x*, by QAWF, which is built for slowly
decaying Fourier integrals (small variance and large vol of variance make G decay like
u^{-2 - 2 kappa theta / xi^2}); near omega = 0 it is plain QAGI.
"""

from __future__ import annotations

import itertools
import math
import warnings
from pathlib import Path

import numpy as np
from scipy import integrate


def _phi(z, t, v0, kappa, theta, xi, rho):
    iz = 1j * z
    b = kappa - rho * xi * iz
    d = np.sqrt(b * b + xi * xi * (iz + z * z))
    g = (b - d) / (b + d)
    e = np.exp(-d * t)
    c = kappa * theta / xi**2 * ((b - d) * t - 2.0 * np.log((1.0 - g * e) / (1.0 - g)))
    dd = (b - d) / xi**2 * (1.0 - e) / (1.0 - g * e)
    return np.exp(c + dd * v0)


def lewis_integral(k, t, v0, kappa, theta, xi, rho, epsabs=1e-14):
    """int_0^inf Re(e^{-iuk} phi(u - i/2)) / (u^2 + 1/4) du and QUADPACK's error estimate.

    [0, u0] (the body, u0 = 40 standard deviations of X in frequency) by adaptive Gauss–Kronrod;
    [u0, inf) by QAWF on the phase-stripped integrand.
    """
    x_star = -rho * (v0 + kappa * theta * t) / xi
    omega = k - x_star
    w = theta * t + (v0 - theta) * (1.0 - math.exp(-kappa * t)) / kappa
    u0 = 40.0 / math.sqrt(w)

    def f(u):
        return (np.exp(-1j * u * k) * _phi(u - 0.5j, t, v0, kappa, theta, xi, rho)).real / (u * u + 0.25)

    def g(x):
        u = u0 + x
        return _phi(u - 0.5j, t, v0, kappa, theta, xi, rho) * np.exp(-1j * u * x_star) / (u * u + 0.25)

    with warnings.catch_warnings():
        warnings.simplefilter("error", integrate.IntegrationWarning)
        try:
            body, e0 = integrate.quad(f, 0.0, u0, epsabs=epsabs, epsrel=1e-13, limit=20000)
        except integrate.IntegrationWarning:
            # Roundoff at 1e-13: integrate in pieces, each with a looser relative tolerance.
            edges = np.linspace(0.0, u0, 65)
            parts = [integrate.quad(f, a, b, epsabs=epsabs, epsrel=1e-11, limit=2000)
                     for a, b in zip(edges[:-1], edges[1:])]
            body, e0 = sum(p[0] for p in parts), sum(p[1] for p in parts)
        if abs(omega) < 1e-2:
            # Too slow an oscillation for QAWF's cycles: the plain mapped tail (QAGI).
            tail, e1 = integrate.quad(lambda x: f(u0 + x), 0.0, np.inf, epsabs=epsabs, epsrel=1e-13,
                                      limit=20000)
            return body + tail, e0 + e1
        # e^{-i omega (u0 + x)} G = e^{-i omega u0} (cos(omega x) - i sin(omega x)) G; keep the real part.
        a = abs(omega)
        sign = 1.0 if omega > 0 else -1.0
        kw = dict(epsabs=epsabs, limlst=500, limit=20000)
        cre, e1 = integrate.quad(lambda x: g(x).real, 0.0, np.inf, weight="cos", wvar=a, **kw)
        cim, e2 = integrate.quad(lambda x: g(x).imag, 0.0, np.inf, weight="cos", wvar=a, **kw)
        sre, e3 = integrate.quad(lambda x: g(x).real, 0.0, np.inf, weight="sin", wvar=a, **kw)
        sim, e4 = integrate.quad(lambda x: g(x).imag, 0.0, np.inf, weight="sin", wvar=a, **kw)
    # int e^{-i omega x} G dx = (cre + sign sim) + i (cim - sign sre)
    ph = np.exp(-1j * omega * u0)
    tail = (ph * complex(cre + sign * sim, cim - sign * sre)).real
    return body + tail, e0 + e1 + e2 + e3 + e4


def price(spot, strike, t, r, q, v0, kappa, theta, xi, rho, is_call):
    """Heston European price (Lewis / QAWF) and a bound on its integration error, in price units."""
    fwd = spot * math.exp((r - q) * t)
    df = math.exp(-r * t)
    k = math.log(strike / fwd)
    integral, err = lewis_integral(k, t, v0, kappa, theta, xi, rho)
    scale = df * fwd * math.sqrt(strike / fwd) / math.pi
    call = df * fwd - scale * integral
    value = call if is_call else call - df * (fwd - strike)
    return value, scale * err


# --- The accuracy grid ----------------------------------------------------------------------------------

RATE, DIVIDEND = 0.03, 0.01
TABLE = Path(__file__).with_name("heston_grid.npz")


def grid() -> list[tuple]:
    """(spot, strike, days, rate, dividend, v0, kappa, theta, xi, rho, is_call) rows, 6480 of them.

    Spot 100 over v0 x theta x kappa x xi x rho x days, each at strikes 50..200 and F exp(m sqrt(w)),
    m = +-1, 2, 4 (w = E[int_0^T v dt]); out-of-the-money side (call at K >= F, else put).
    """
    rows = []
    for v0, theta, kappa, xi, rho, days in itertools.product(
        (1e-4, 0.04, 0.5), (0.01, 0.25), (0.5, 4.0), (0.1, 1.0, 3.0), (-0.9, 0.0, 0.9), (1, 30, 365, 730)
    ):
        t = days / 365.0
        fwd = 100.0 * math.exp((RATE - DIVIDEND) * t)
        sd = math.sqrt(theta * t + (v0 - theta) * (1.0 - math.exp(-kappa * t)) / kappa)
        strikes = [50, 70, 85, 95, 100, 105, 115, 140, 200] + [
            fwd * math.exp(m * sd) for m in (-4, -2, -1, 1, 2, 4)
        ]
        rows += [(100.0, float(k), days, RATE, DIVIDEND, v0, kappa, theta, xi, rho, k >= fwd)
                 for k in strikes]
    return rows


def _quantlib(row, tolerance, max_evaluations):
    import QuantLib as ql

    spot, strike, days, rate, dividend, v0, kappa, theta, xi, rho, is_call = row
    today = ql.Settings.instance().evaluationDate
    dc = ql.Actual365Fixed()
    curve = lambda x: ql.YieldTermStructureHandle(ql.FlatForward(today, x, dc))  # noqa: E731
    process = ql.HestonProcess(curve(rate), curve(dividend), ql.QuoteHandle(ql.SimpleQuote(spot)),
                               v0, kappa, theta, xi, rho)
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike),
        ql.EuropeanExercise(today + int(days)))
    option.setPricingEngine(ql.AnalyticHestonEngine(ql.HestonModel(process), tolerance, max_evaluations))
    try:
        return option.NPV()
    except RuntimeError:  # "max number of iterations reached"
        return math.nan


def build_table() -> None:
    """Writes TABLE: per grid row the reference price and its source.

    Source 0: QuantLib's AnalyticHestonEngine (adaptive Gauss–Lobatto at relative 1e-13), used where
    it is converged (1e-12 agrees within 1e-8 of spot; 6135 rows, where this module's Lewis/QAWF
    price agrees with it within 2e-11 of spot). Source 1: `price` above, for the 345 rows where
    QuantLib hits its evaluation limit (1-day and some 30-day expiries, mostly xi = 0.1 or v0 = 1e-4);
    QUADPACK's error bound there is below 1e-11 in price. Takes ~15 minutes.
    """
    import QuantLib as ql

    ql.Settings.instance().evaluationDate = ql.Date(15, ql.January, 2024)
    ref, source = [], []
    for row in grid():
        loose, tight = _quantlib(row, 1e-12, 100_000), _quantlib(row, 1e-13, 1_000_000)
        if abs(loose - tight) < 1e-8 * row[0]:
            ref.append(tight)
            source.append(0)
        else:
            spot, strike, days, rate, dividend, v0, kappa, theta, xi, rho, is_call = row
            ref.append(price(spot, strike, days / 365.0, rate, dividend, v0, kappa, theta, xi, rho,
                             is_call)[0])
            source.append(1)
    np.savez_compressed(TABLE, price=np.array(ref), source=np.array(source, dtype=np.uint8))


if __name__ == "__main__":
    build_table()
