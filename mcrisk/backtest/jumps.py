"""Merton jump-diffusion fitted to a window of one-day log returns, and its h-day scenarios.

Per asset, one-day log returns are ``r = mu + vol Z + sum_{j <= N} Y_j`` with N Poisson of
intensity `intensity` per day and ``Y_j ~ N(jump_mean, jump_std^2)``: a Poisson mixture of
normals,

    f(r) = sum_n e^{-lambda} lambda^n / n! * phi(r; mu + n m, vol^2 + n s^2),

cut after `N_TERMS` = 22 jumps: at the intensity bound `INTENSITY_MAX` (three jumps a day) the
omitted Poisson mass is 2.1e-13 < 1e-12, and less below it. The drift `mu` is a free nuisance
parameter of the fit (the window's drift would otherwise bend the jump mean); the scenarios
drop it for a martingale spot, as gbm does.

The fit is a maximum likelihood by TNC (scipy.optimize.minimize) with the analytic
gradient, on the returns standardised by their sample mean and sd and on transformed
parameters ``(mu, log vol, log lambda, m, log s)`` with bounds (`BOUNDS`), from a
moment-matching start: half the variance to the jumps, their intensity then set by the
excess kurtosis (with m = 0: kurtosis = 3 lambda s^4 / var^2). The lower bounds on vol and s
keep the likelihood bounded (a component of zero variance on one return is infinite). A fit
that does not converge or ends on a bound of vol, lambda or s is not used: the asset falls
back to no jumps (the window's zero-mean vol, as gbm), and the reason is returned.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln

# Jumps per day. Two-year windows of S&P 500 returns fit up to 1.9 a day (median 1: the tails
# as many small jumps), so a bound of one a day would discard half of those fits; on normal
# returns the MLE runs to any bound.
INTENSITY_MAX = 3.0
N_TERMS = 22  # Poisson(3) mass beyond 22 jumps: 2.1e-13
_N = np.arange(N_TERMS + 1, dtype=np.float64)
_LOG_FACT = gammaln(_N + 1)
# Standardised units (returns / sample sd): (mu, log vol, log lambda, m, log s).
BOUNDS = ((-5.0, 5.0), (np.log(0.05), np.log(3.0)), (np.log(1e-4), np.log(INTENSITY_MAX)),
          (-10.0, 10.0), (np.log(0.05), np.log(10.0)))
NAMES = ("drift", "vol", "intensity", "jump_mean", "jump_std")
_ON_BOUND = 1e-4  # in transformed units: within this of a bound counts as on it


class MertonFit(NamedTuple):
    """One asset's fit, per day in log-return units.

    Attributes:
        drift, vol, intensity, jump_mean, jump_std: ``mu``, the diffusive vol, jumps a day,
            mean and sd of the log jump; with no jumps (a fallback) intensity is 0.
        loglik: the maximised log-likelihood of the returns (NaN on a fallback).
        fallback: why the fit was not used ("" when it was).
    """

    drift: float
    vol: float
    intensity: float
    jump_mean: float
    jump_std: float
    loglik: float
    fallback: str = ""


def _nll(theta: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood of standardised returns `x` and its gradient in theta."""
    mu, lv, ll, m, ls = theta
    v2, lam, s2 = np.exp(2 * lv), np.exp(ll), np.exp(2 * ls)
    var = v2 + _N * s2  # (terms,)
    dev = x[:, None] - mu - _N * m  # (returns, terms)
    logp = _N * ll - lam - _LOG_FACT
    comp = logp - 0.5 * np.log(2 * np.pi * var) - 0.5 * dev ** 2 / var
    top = comp.max(axis=1, keepdims=True)
    w = np.exp(comp - top)
    total = w.sum(axis=1, keepdims=True)
    lf = np.log(total[:, 0]) + top[:, 0]
    w /= total  # each return's responsibility of each jump count
    dmean = w * dev / var  # d log f / d (component mean)
    dvar = w * (0.5 * dev ** 2 / var ** 2 - 0.5 / var)  # d log f / d (component var)
    g = np.array([dmean.sum(), 2 * v2 * dvar.sum(), (w * (_N - lam)).sum(),
                  (dmean * _N).sum(), 2 * s2 * (dvar * _N).sum()])
    return -lf.mean(), -g / len(x)


def _start(x: np.ndarray) -> np.ndarray:
    """Moment-matching start: half the variance (1 in standardised units) to the jumps."""
    kurt = max(float(np.mean(x ** 4)) - 3.0, 1e-3)
    lam = 3 * 0.25 / kurt  # 3 w^2 / kurtosis with w = 1/2
    theta = np.array([0.0, 0.5 * np.log(0.5), np.log(lam), 0.0, 0.5 * np.log(0.5 / lam)])
    lo, hi = np.array(BOUNDS).T
    # Strictly inside, so that an optimum on a bound is the optimiser's doing, not the start's.
    return np.clip(theta, lo + 10 * _ON_BOUND, hi - 10 * _ON_BOUND)


def fit(r: np.ndarray) -> MertonFit:
    """Merton MLE of one asset's one-day log returns `r` (see the module docstring).

    Returns:
        The fitted parameters, or the no-jump fallback (zero-mean vol) with its reason.
    """
    r = np.asarray(r, dtype=np.float64)
    centre, sd = float(r.mean()), float(r.std())

    def fallback(why: str) -> MertonFit:
        return MertonFit(0.0, float(np.sqrt(np.mean(r * r))), 0.0, 0.0, 0.0, np.nan, why)

    if not sd > 0:
        return fallback("returns with zero variance")
    x = (r - centre) / sd
    # TNC, not L-BFGS-B: the same optima here, but L-BFGS-B's many tiny BLAS calls cost
    # 5-40x more where cores are shared (OpenBLAS threads contend), once per asset and day.
    res = minimize(_nll, _start(x), args=(x,), jac=True, method="TNC", bounds=BOUNDS,
                   options={"maxfun": 1000})
    if not res.success or not np.isfinite(res.fun):
        return fallback(f"MLE did not converge ({res.message})")
    th = res.x
    lo, hi = np.array(BOUNDS).T
    for i in (1, 2, 4):  # vol, intensity, jump sd: the mean parameters' bounds never bind
        if th[i] - lo[i] < _ON_BOUND or hi[i] - th[i] < _ON_BOUND:
            side = "lower" if th[i] - lo[i] < _ON_BOUND else "upper"
            return fallback(f"MLE on the {side} bound of {NAMES[i]}")
    loglik = -res.fun * len(x) - len(x) * np.log(sd)
    return MertonFit(centre + sd * th[0], sd * np.exp(th[1]), float(np.exp(th[2])),
                     sd * th[3], sd * np.exp(th[4]), float(loglik))


def information(r: np.ndarray, f: MertonFit, step: float = 1e-5) -> np.ndarray:
    """Observed Fisher information of ``(drift, vol, intensity, jump_mean, jump_std)`` at
    `f`: the Hessian of the negative log-likelihood of `r`, by central differences of the
    analytic gradient (for standard errors: ``sqrt(diag(inv(information)))``)."""
    r = np.asarray(r, dtype=np.float64)
    p = np.array(f[:5])

    def grad(q: np.ndarray) -> np.ndarray:
        th = np.array([q[0], np.log(q[1]), np.log(q[2]), q[3], np.log(q[4])])
        _, g = _nll(th, r)
        # theta -> natural parameters: d/dq = d/dtheta * dtheta/dq.
        return g * len(r) * np.array([1.0, 1 / q[1], 1 / q[2], 1.0, 1 / q[4]])

    h = step * np.maximum(np.abs(p), 1e-3)
    hess = np.empty((5, 5))
    for i in range(5):
        e = np.zeros(5)
        e[i] = h[i]
        hess[i] = (grad(p + e) - grad(p - e)) / (2 * h[i])
    return 0.5 * (hess + hess.T)


def scenarios(r: np.ndarray, n: int, horizon: int, rng: np.random.Generator,
              scale: float = 1.0) -> tuple[np.ndarray, list[MertonFit]]:
    """``(n, assets)`` h-day log returns of fitted Merton models, martingale in the spot.

    Each asset's Merton parameters are fitted to its column of `r` (one-day log returns);
    the diffusive normals are correlated by the correlation of the window's returns, and
    jumps are independent across assets (a simplification: joint jumps would need a common
    jump process, which a year or two of data does not identify). `scale` multiplies the
    vol and both jump parameters (`vol_scale`); the drift is then the compensator,
    ``-vol^2 h / 2 - lambda h (e^{m + s^2/2} - 1)``, so that ``E[e^R] = 1``.

    Returns:
        The scenarios and each asset's fit (its `fallback` says if it has no jumps).
    """
    fits = [fit(r[:, j]) for j in range(r.shape[1])]
    c = r.T @ r / r.shape[0]
    d = np.sqrt(np.diag(c))
    d = np.where(d > 0, d, 1.0)
    w, v = np.linalg.eigh(c / np.outer(d, d))
    root = v * np.sqrt(np.maximum(w, 0.0))  # eigh: a singular correlation is allowed
    vol, lam, m, s = (np.array([getattr(f, k) for f in fits]) for k in NAMES[1:])
    vol, m, s = scale * vol, scale * m, scale * s
    z = rng.standard_normal((n, r.shape[1])) @ root.T
    jumps = rng.poisson(lam * horizon, size=(n, r.shape[1]))
    eps = rng.standard_normal((n, r.shape[1]))
    drift = -0.5 * vol ** 2 * horizon - lam * horizon * np.expm1(m + 0.5 * s ** 2)
    return drift + vol * np.sqrt(horizon) * z + jumps * m + np.sqrt(jumps) * s * eps, fits
