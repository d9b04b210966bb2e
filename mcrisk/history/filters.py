"""Per-asset volatility filters for filtered historical simulation: EWMA and GARCH(1,1).

Both give, for one-day log returns ``r_t`` (t = 0 .. T-1) of each asset, the conditional
vol ``sigma_t`` of ``r_t`` given the returns before it, the standardised residuals
``z_t = (r_t - mu) / sigma_t`` and the one-step forecast ``sigma_T`` of the next day's vol.
The same variance recursion (`next_variance`) carries the forecast forward when FHS
bootstraps h > 1 days.

GARCH(1,1) is estimated by `arch` (Sheppard; maximum likelihood with normal innovations,
``arch_model(100 r, vol="GARCH", p=1, q=1, mean=..., dist="normal")``): its MLE is well
kept and tested and one written here would not be better. Returns are fitted in percent
(``100 r``), as arch recommends so that the optimiser sees parameters of order one; the
parameters are converted back to return units (``omega / 100^2``, ``mu / 100``). Our
recursion then reproduces arch's ``conditional_volatility`` from those parameters, starting,
as arch does, from its backcast (the 0.94-weighted mean of the first 75 squared residuals
at the starting mean). arch is an optional dependency (``pip install "mcrisk[history]"``),
imported only here.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from mcrisk import errors as E
from mcrisk.errors import ConfigError
from mcrisk.history.returns import check_lambda

__all__ = ["Filtered", "ewma_filter", "garch_filter", "next_variance", "MIN_RETURNS"]

# Fewest one-day returns a filter is fitted on: GARCH(1,1)'s persistence is not identified
# on a few weeks of data, and an EWMA with lambda = 0.94 forgets its start within ~50 days.
MIN_RETURNS = {"ewma": 30, "garch": 100}
GARCH_MEANS = ("Zero", "Constant")
BACKCAST_DAYS = 75  # arch's backcast: 0.94-weighted mean of the first 75 squared residuals


class Filtered(NamedTuple):
    """A fitted filter, per asset (float64, one-day log-return units).

    Attributes:
        kind: "ewma" or "garch".
        sigma: ``(T, assets)`` conditional vol of each return given the earlier ones.
        forecast: ``(assets,)`` vol forecast for the day after the last return.
        mean: ``(assets,)`` mean return mu (0 for EWMA and GARCH with ``mean="Zero"``).
        residuals: ``(T, assets)`` standardised residuals ``(r_t - mu) / sigma_t``.
        params: ``(3, assets)`` recursion parameters: GARCH ``(omega, alpha, beta)``;
            EWMA ``(0, 1 - lambda, lambda)``, the same recursion with omega = 0.
        notes: what was fitted, and any warning arch raised.
    """

    kind: str
    sigma: np.ndarray
    forecast: np.ndarray
    mean: np.ndarray
    residuals: np.ndarray
    params: np.ndarray
    notes: tuple[str, ...] = ()


def next_variance(params: np.ndarray, variance: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """One step ``omega + alpha eps^2 + beta variance`` (any leading shape, assets last)."""
    omega, alpha, beta = params
    return omega + alpha * eps * eps + beta * variance


def _check_returns(field: str, returns: np.ndarray, kind: str) -> np.ndarray:
    r = np.asarray(returns, np.float64)
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2 or not np.isfinite(r).all():
        raise ConfigError(field, "returns", "a finite (days, assets) matrix of log returns")
    if r.shape[0] < MIN_RETURNS[kind]:
        raise ConfigError(field, r.shape[0], f"at least {MIN_RETURNS[kind]} one-day returns "
                          f"to fit the {kind} filter on (risk.scenarios.window)")
    return r


def ewma_filter(returns: np.ndarray, lam: float = 0.94, *,
                field: str = "risk.scenarios") -> Filtered:
    """RiskMetrics EWMA filter: ``sigma^2_{t+1} = lam sigma^2_t + (1 - lam) r_t^2``, zero mean.

    The recursion starts at ``sigma^2_0 = mean(r^2)`` over the window (RiskMetrics leaves
    the start open; the window's zero-mean variance keeps the first residuals on scale).

    Args:
        returns: ``(T, assets)`` one-day log returns, oldest first.
        lam: decay in (0, 1); RiskMetrics' daily value is 0.94.
        field: config path prefix for error messages.

    Returns:
        The fitted `Filtered` (kind "ewma").
    """
    lam = check_lambda(f"{field}.ewma_lambda", lam)
    r = _check_returns(f"{field}.window", returns, "ewma")
    params = np.array([np.zeros(r.shape[1]), np.full(r.shape[1], 1.0 - lam),
                       np.full(r.shape[1], lam)])
    sigma2 = _recursion(params, r, np.mean(r * r, axis=0))
    return _finish("ewma", r, sigma2, params, np.zeros(r.shape[1]),
                   (f"filter: EWMA (RiskMetrics), lambda = {lam:g}, zero mean, started at "
                    "the window's mean squared return",))


def garch_filter(returns: np.ndarray, *, mean: str = "Zero", names: list[str] | None = None,
                 field: str = "risk.scenarios") -> Filtered:
    """GARCH(1,1) with normal innovations, fitted per asset by `arch`.

    ``sigma^2_t = omega + alpha (r_{t-1} - mu)^2 + beta sigma^2_{t-1}``, with ``mu = 0``
    (``mean="Zero"``) or estimated (``mean="Constant"``).

    Args:
        returns: ``(T, assets)`` one-day log returns, oldest first.
        mean: "Zero" or "Constant".
        names: asset names for messages (default: column numbers).
        field: config path prefix for error messages.

    Returns:
        The fitted `Filtered` (kind "garch").

    Raises:
        ConfigError: without `arch` installed, for too few returns, or when the MLE of some
            asset does not converge.
    """
    mean = E.choice(f"{field}.garch_mean", mean, GARCH_MEANS)
    try:
        from arch import arch_model
    except ImportError:
        raise ConfigError(f"{field}.filter", "garch", "'ewma', or install the optional "
                          'GARCH estimator: pip install "mcrisk[history]"') from None
    r = _check_returns(f"{field}.window", returns, "garch")
    names = names or [str(i) for i in range(r.shape[1])]
    params, mus, notes = np.zeros((3, r.shape[1])), np.zeros(r.shape[1]), []
    backcast = np.zeros(r.shape[1])
    for i in range(r.shape[1]):
        y = 100.0 * r[:, i]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = arch_model(y, vol="GARCH", p=1, q=1, mean=mean, dist="normal").fit(
                disp="off")
        if res.convergence_flag != 0:
            raise ConfigError(f"{field}.filter", "garch", "a window on which arch's GARCH(1,1) "
                              f"MLE converges (asset {names[i]}: "
                              f"{res.optimization_result.message})")
        p = res.params
        mu = float(p["mu"]) / 100.0 if mean == "Constant" else 0.0
        params[:, i] = (p["omega"] / 1e4, p["alpha[1]"], p["beta[1]"])
        mus[i] = mu
        # arch starts from the residuals at its starting values: the sample mean for
        # "Constant", not the fitted mu.
        e0 = r[:, i] - (r[:, i].mean() if mean == "Constant" else 0.0)
        w = 0.94 ** np.arange(min(BACKCAST_DAYS, len(e0)))
        backcast[i] = np.sum(e0[:len(w)] ** 2 * w) / w.sum()
        notes.append(f"filter: GARCH(1,1) {names[i]} (arch, normal MLE on 100 x returns): "
                     f"omega = {params[0, i]:.4g}, alpha = {params[1, i]:.4f}, beta = "
                     f"{params[2, i]:.4f}, mu = {mu:.3g}"
                     + "".join(f"; arch warned: {str(c.message).splitlines()[0]}"
                               for c in caught))
    sigma2 = _recursion(params, r - mus, backcast, backcast=True)
    return _finish("garch", r, sigma2, params, mus, tuple(notes))


def _recursion(params: np.ndarray, eps: np.ndarray, start: np.ndarray,
               backcast: bool = False) -> np.ndarray:
    """``(T + 1, assets)`` variances: of each return, then the one-step forecast.

    `start` is the first variance itself, or (``backcast=True``, arch's convention) the
    value standing in for both the squared residual and the variance before the first day.
    """
    out = np.empty((eps.shape[0] + 1, eps.shape[1]))
    out[0] = next_variance(params, start, np.sqrt(start)) if backcast else start
    # A loop over days (a few thousand at most) with the assets vectorised: the recursion
    # is sequential and this runs once, on the host, before anything is compiled.
    for t in range(eps.shape[0]):
        out[t + 1] = next_variance(params, out[t], eps[t])
    return out


def _finish(kind: str, r: np.ndarray, sigma2: np.ndarray, params: np.ndarray,
            mus: np.ndarray, notes: tuple[str, ...]) -> Filtered:
    if not (np.isfinite(sigma2).all() and (sigma2 > 0).all()):
        bad = np.argwhere(~(np.isfinite(sigma2) & (sigma2 > 0)))[0]
        raise E.NonFiniteError(f"filter.sigma[{int(bad[0])}][{int(bad[1])}]",
                               float(sigma2[tuple(bad)]),
                               f"the {kind} variance recursion (parameters {params[:, bad[1]]})")
    sigma = np.sqrt(sigma2)
    return Filtered(kind=kind, sigma=sigma[:-1], forecast=sigma[-1], mean=mus,
                    residuals=(r - mus) / sigma[:-1], params=params, notes=notes)
