"""Independent references for the dynamic-hedging tests: Black–Scholes in SciPy and
expectations over the lognormal law by adaptive quadrature (no simulation)."""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.stats import norm


def bs(s, k, tau, vol, r, call=True):
    """(value, delta, gamma) of a European call/put, no dividends; `s` may be an array."""
    s = np.asarray(s, np.float64)
    std = vol * math.sqrt(tau)
    d1 = (np.log(s / k) + r * tau) / std + 0.5 * std
    d2 = d1 - std
    c = s * norm.cdf(d1) - k * math.exp(-r * tau) * norm.cdf(d2)
    if call:
        return c, norm.cdf(d1), norm.pdf(d1) / (s * std)
    return c - s + k * math.exp(-r * tau), norm.cdf(d1) - 1, norm.pdf(d1) / (s * std)


@functools.cache
def _legendre(n):
    return np.polynomial.legendre.leggauss(n)


def _gauss(a, b, n=120):
    x, w = _legendre(n)
    return 0.5 * (b - a) * x + 0.5 * (b + a), 0.5 * (b - a) * w


def expect(fn, s0, t, vol, mu, peak=None, width=None):
    """E[fn(S_t)] for S_t = s0 exp((mu - vol^2/2) t + vol sqrt(t) Z), by Gauss–Legendre over Z
    on [-12, 12], split around `peak` (a spot where fn is sharp, of log-width `width`)."""
    if t == 0:
        return float(fn(np.asarray(s0, np.float64)))
    m, sd = math.log(s0) + (mu - 0.5 * vol * vol) * t, vol * math.sqrt(t)
    cuts = [-12.0, 12.0]
    if peak is not None:
        zc, wz = (math.log(peak) - m) / sd, width / sd
        cuts += [c for c in (zc - 12 * wz, zc - 2 * wz, zc, zc + 2 * wz, zc + 12 * wz)
                 if -12 < c < 12]
    cuts = sorted(cuts)
    total = 0.0
    for a, b in zip(cuts[:-1], cuts[1:]):
        z, w = _gauss(a, b)
        total += float(np.sum(w * fn(np.exp(m + sd * z)) * norm.pdf(z)))
    return total


def time_integral(fn, horizon, n=200):
    """∫_0^T fn(t) dt for fn ~ (T - t)^{-1/2} near T: substitute t = T - u^2 (Gauss–Legendre)."""
    u, w = _gauss(0.0, math.sqrt(horizon), n)
    return float(sum(wi * 2 * ui * fn(horizon - ui * ui) for ui, wi in zip(u, w)))


def boyle_emanuel_sd(s0, k, horizon, vol, r, mu, n_rebalances, call=True):
    """Asymptotic stdev of the discrete delta hedge's P&L (Boyle–Emanuel; Bertsimas–Kogan–Lo):
    Var ≈ (T/N)/2 ∫_0^T E[(e^{-rt} Γ_t S_t² σ²)²] dt."""
    def inner(t):
        tau = horizon - t
        if tau <= 0:
            return 0.0
        f = lambda s: (math.exp(-r * t) * bs(s, k, tau, vol, r, call)[2] * s * s * vol ** 2) ** 2  # noqa: E731,E501
        return expect(f, s0, t, vol, mu, k, vol * math.sqrt(tau))
    var = horizon / n_rebalances / 2 * time_integral(inner, horizon)
    return math.sqrt(var)


def gamma_pnl_mean(s0, k, horizon, vol, hedge_vol, r, mu, call=True):
    """E[½ ∫ e^{-rt} Γ_h S² (σ² - σ_h²) dt]: mean P&L of an option bought at σ_h and hedged at
    σ_h while the spot moves with vol σ and drift mu (continuous hedging)."""
    def inner(t):
        tau = horizon - t
        f = lambda s: bs(s, k, tau, hedge_vol, r, call)[2] * s * s  # noqa: E731
        return math.exp(-r * t) * expect(f, s0, t, vol, mu, k, hedge_vol * math.sqrt(tau))
    return 0.5 * (vol ** 2 - hedge_vol ** 2) * time_integral(inner, horizon)


def perpetual_minus_spot(s0, k, horizon, vol, r, mu, funding, steps, call=True):
    """Mean P&L of the perpetual hedge minus the spot hedge, both rebalanced every step, for a
    short option: Σ_k E[Δ_k S_k] (e^{-r t_k} - e^{-r t_{k+1}} - f dt e^{-r t_k})."""
    dt = horizon / steps
    total = 0.0
    for i in range(steps):
        t = i * dt
        e = expect(lambda s: bs(s, k, horizon - t, vol, r, call)[1] * s, s0, t, vol, mu,
                   k, vol * math.sqrt(horizon - t))
        total += e * (math.exp(-r * t) - math.exp(-r * (t + dt)) - funding * dt * math.exp(-r * t))
    return total


def derman_kamal_sd(s0, k, horizon, vol, r, n_rebalances):
    """Kamal–Derman: stdev ≈ sqrt(π/4) · vega · σ / sqrt(N) (ATM)."""
    std = vol * math.sqrt(horizon)
    d1 = (math.log(s0 / k) + r * horizon) / std + 0.5 * std
    vega = s0 * norm.pdf(d1) * math.sqrt(horizon)
    return math.sqrt(math.pi / 4) * vega * vol / math.sqrt(n_rebalances)


def leland_cost(s0, k, horizon, vol, r, round_trip, dt, call=True):
    """Leland (1985): price at σ̂² = σ² (1 + sqrt(2/π) k / (σ sqrt(Δt))) minus price at σ, with k
    the round-trip cost (2 × the one-way fraction)."""
    hat = vol * math.sqrt(1 + math.sqrt(2 / math.pi) * round_trip / (vol * math.sqrt(dt)))
    return bs(s0, k, horizon, hat, r, call)[0] - bs(s0, k, horizon, vol, r, call)[0]


__all__ = ["bs", "expect", "boyle_emanuel_sd", "gamma_pnl_mean", "perpetual_minus_spot",
           "derman_kamal_sd", "leland_cost", "merton_call"]


def merton_call(s0, k, horizon, vol, r, intensity, jump_mean, jump_std, terms=60):
    """Merton (1976) jump-diffusion call: Poisson mixture of Black–Scholes prices."""
    kappa = math.expm1(jump_mean + 0.5 * jump_std ** 2)
    lam = intensity * (1 + kappa)
    total = 0.0
    for n in range(terms):
        w = math.exp(-lam * horizon + n * math.log(lam * horizon) - math.lgamma(n + 1))
        vol_n = math.sqrt(vol ** 2 + n * jump_std ** 2 / horizon)
        r_n = r - intensity * kappa + n * math.log1p(kappa) / horizon
        # BS at rate r_n, discounted at r: e^{(r_n - r) T} x BS(r_n).
        total += w * math.exp((r_n - r) * horizon) * float(bs(s0, k, horizon, vol_n, r_n)[0])
    return total
