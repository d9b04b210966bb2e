"""SSVI surfaces (Gatheral & Jacquier 2014): one smile shape across expiries, free of static
arbitrage by construction, fitted to implied-vol quotes with optax.

The surface is

    w(k, theta) = theta/2 (1 + rho phi(theta) k + sqrt((phi(theta) k + rho)^2 + 1 - rho^2)),
    phi(theta) = eta / (theta^gamma (1 + theta)^(1 - gamma)),

with ``theta(T)`` the ATM total variance. The parametrisation makes every admissible point
arbitrage-free:

* ``rho = tanh(u)``, ``gamma = sigmoid(v) / 2`` in (0, 1/2) and
  ``eta = 2 sigmoid(s) / (1 + |rho|)``, so ``eta (1 + |rho|) < 2``: with gamma <= 1/2 this gives
  ``theta phi (1 + |rho|) < 4`` and ``theta phi^2 (1 + |rho|) <= 4`` for every theta, the
  no-butterfly conditions of their Theorem 4.2 (Remark 4.4);
* ``theta_i = theta_{i-1} + softplus(u_i)`` rises with expiry, and ``theta phi(theta)`` is
  increasing for the power law, which is their Theorem 4.1's no-calendar condition.

Between and beyond the quoted expiries ``theta(T)`` is linear in T through ``(0, 0)`` and the
quoted ``(T_i, theta_i)``, and ``theta_n T / T_n`` after the last (flat ATM vol), so it stays
non-decreasing and every interpolated or extrapolated slice is again an SSVI slice with the
same (rho, eta, gamma): the surface is arbitrage-free at every (k, T).

Each slice is the raw SVI slice ``a = theta (1 - rho^2)/2, b = theta phi/2, rho,
m = -rho/phi, sigma = sqrt(1 - rho^2)/phi`` (their Lemma 3.2), so `slices` hands it to the
checks and the density of `mcrisk.vol.svi`.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from mcrisk.errors import ConfigError, check_finite, integer
from mcrisk.vol.fit import FitSpec, group_quotes, make_spec, minimise, softplus_inv
from mcrisk.vol.svi import ArbitrageReport, SviParams, arbitrage_report
from mcrisk.vol.svi import total_variance as svi_total_variance

__all__ = ["SsviParams", "SsviFit", "theta", "slices", "total_variance", "total_variance_at",
           "fit_ssvi"]


class SsviParams(NamedTuple):
    """An SSVI surface with a power-law phi.

    Attributes:
      rho: scalar skew, in (-1, 1).
      eta: scalar level of phi, ``eta (1 + |rho|) <= 2``.
      gamma: scalar power of phi, in (0, 1/2].
      thetas: ``(n,)`` ATM total variance at `expiries`, non-decreasing.
      expiries: ``(n,)`` year fractions, strictly increasing.
    """

    rho: Array
    eta: Array
    gamma: Array
    thetas: Array
    expiries: Array


class SsviFit(NamedTuple):
    """Result of `fit_ssvi`; ``n`` is the number of distinct expiries.

    Attributes:
      params: the fitted `SsviParams`.
      rmse_vol_points: ``(n,)`` weighted RMSE of the fitted implied vols per expiry, in vol
        points (100 x vol).
      iterations: scalar, optimizer steps taken before the gradient vanished (or ``n_iter``).
      loss_history: ``(n_iter,)`` loss before each step (weighted mean squared vol error).
      arbitrage: `ArbitrageReport` of the fitted slices at the quoted expiries.
    """

    params: SsviParams
    rmse_vol_points: Array
    iterations: Array
    loss_history: Array
    arbitrage: ArbitrageReport


@jax.jit
def theta(params: SsviParams, expiries: ArrayLike) -> Array:
    """ATM total variance at any expiries: linear in T through the origin and the quoted
    points, flat ATM vol after the last one.

    Args:
      params: the surface.
      expiries: year fractions >= 0, any shape.

    Returns:
      ``theta(T)`` of the shape of `expiries`.
    """
    t = jnp.asarray(expiries)
    zero = jnp.zeros((1,), params.thetas.dtype)
    inside = jnp.interp(t, jnp.concatenate([zero, params.expiries]),
                        jnp.concatenate([zero, params.thetas]))
    beyond = params.thetas[-1] * t / params.expiries[-1]
    return jnp.where(t > params.expiries[-1], beyond, inside)


def _phi(params: SsviParams, th: Array) -> Array:
    return params.eta / (th ** params.gamma * (1.0 + th) ** (1.0 - params.gamma))


def _as_svi(params: SsviParams, th: Array) -> SviParams:
    phi = _phi(params, th)
    rho = jnp.broadcast_to(params.rho, th.shape)
    root = jnp.sqrt(1.0 - rho * rho)
    return SviParams(0.5 * th * (1.0 - rho * rho), 0.5 * th * phi, rho, -rho / phi, root / phi)


@jax.jit
def slices(params: SsviParams, expiries: ArrayLike) -> SviParams:
    """The raw SVI slices of the surface at `expiries` (Gatheral & Jacquier 2014, Lemma 3.2).

    Args:
      params: the surface.
      expiries: year fractions > 0, any shape.

    Returns:
      `SviParams` with fields of the shape of `expiries`; feed them to
      `mcrisk.vol.svi.arbitrage_report` or `mcrisk.vol.svi.density`.
    """
    return _as_svi(params, theta(params, expiries))


@jax.jit
def total_variance(params: SsviParams, k: ArrayLike, expiries: ArrayLike) -> Array:
    """Total implied variance ``w(k, T)`` of the surface.

    Args:
      params: the surface.
      k: log-moneyness ``ln(K/F)``, broadcastable against `expiries`.
      expiries: year fractions > 0.

    Returns:
      ``w`` of the broadcast shape; the implied vol is ``sqrt(w / T)``.
    """
    k, t = jnp.broadcast_arrays(jnp.asarray(k), jnp.asarray(expiries))
    return svi_total_variance(slices(params, t), k)


def total_variance_at(params: SsviParams, k: ArrayLike, th: ArrayLike) -> Array:
    """``w(k, theta)`` by the SSVI formula itself, for given ATM total variances.

    Unlike `total_variance` (through the raw SVI slices, whose ``m = -rho / phi`` needs
    phi > 0) this also holds at ``eta = 0``, the flat surface ``w = theta``. Traceable; the
    parameters broadcast against `k` and `th`.

    Args:
      params: rho, eta, gamma (the knots are not read).
      k: log-moneyness ``ln(K/F)``.
      th: ATM total variance ``theta(T)`` (`theta`), > 0.

    Returns:
      ``w`` of the broadcast shape.
    """
    th = jnp.asarray(th)
    pk = _phi(params, th) * k
    rho = params.rho
    return 0.5 * th * (1.0 + rho * pk + jnp.sqrt((pk + rho) ** 2 + 1.0 - rho * rho))


def _unpack(x: Array, expiries: Array) -> SsviParams:
    rho = jnp.tanh(x[0])
    eta = 2.0 * jax.nn.sigmoid(x[1]) / (1.0 + jnp.abs(rho))
    gamma = 0.5 * jax.nn.sigmoid(x[2])
    return SsviParams(rho, eta, gamma, jnp.cumsum(jax.nn.softplus(x[3:])), expiries)


@partial(jax.jit, static_argnames=("spec",))
def _fit_kernel(spec: FitSpec, x0: Array, expiries: Array, k: Array, vols: Array,
                weights: Array):
    def sq_errors(p):
        svi = jax.tree_util.tree_map(lambda a: a[:, None], _as_svi(p, p.thetas))
        w = svi_total_variance(svi, k)
        return weights * (jnp.sqrt(w / expiries[:, None]) - vols) ** 2

    loss = lambda x: jnp.sum(sq_errors(_unpack(x, expiries))) / jnp.sum(weights)
    x, history, kept = minimise(loss, x0, spec)
    p = _unpack(x, expiries)
    mse = jnp.sum(sq_errors(p), axis=1) / jnp.sum(weights, axis=1)
    return p, 100.0 * jnp.sqrt(mse), kept, history


def _atm_thetas(q) -> np.ndarray:
    """ATM total variance per expiry read off the quotes, made strictly increasing."""
    out = []
    for j, t in enumerate(q.expiries):
        live = q.weights[j] > 0
        order = np.argsort(q.k[j][live])
        out.append(np.interp(0.0, q.k[j][live][order], (q.vols[j][live] ** 2 * t)[order]))
    th = np.maximum.accumulate(np.asarray(out))
    floor = 1e-4 * th[0]
    return np.cumsum(np.maximum(np.diff(th, prepend=0.0), floor))


def fit_ssvi(k: ArrayLike, expiries: ArrayLike, vols: ArrayLike, weights: ArrayLike | None = None,
             *, optimizer: str = "lbfgs", n_iter: int = 500, learning_rate: float = 1e-2,
             grad_tol: float = 1e-13, n_grid: int = 2001) -> SsviFit:
    """Fit an SSVI surface jointly to implied-vol quotes at several expiries.

    The loss is the weighted mean squared error in implied vol over all quotes. The thetas
    start from the ATM total variance of each expiry (linear in k between the nearest quotes,
    then made increasing) and are fitted jointly with (rho, eta, gamma); no penalty is needed
    since every admissible surface is arbitrage-free.

    Args:
      k: ``(n_quotes,)`` log-moneyness ``ln(K/F)`` of each quote.
      expiries: ``(n_quotes,)`` year fractions (ACT/365); equal values form one slice.
      vols: ``(n_quotes,)`` implied vols (annualised, decimal); their dtype is the fit's dtype.
      weights: ``(n_quotes,)`` weights >= 0; default 1.
      optimizer: ``"lbfgs"`` or ``"adam"``.
      n_iter: optimizer steps.
      learning_rate: Adam's step size (unused by L-BFGS).
      grad_tol: steps stop once the gradient norm is at most this.
      n_grid: points per slice of the reported arbitrage grid.

    Returns:
      An `SsviFit`.

    Raises:
      ConfigError: bad quotes or options, or an expiry without a quote on each side of k = 0
        (its ATM variance would be extrapolated).
      NonFiniteError: the fit produced a non-finite number.
    """
    q = group_quotes(k, expiries, vols, weights, min_per_expiry=2)
    spec = make_spec(n_iter, optimizer, learning_rate, grad_tol)
    integer("n_grid", n_grid, lo=3)
    for j, t in enumerate(q.expiries):
        live = q.k[j][q.weights[j] > 0]
        if not (live.min() <= 0.0 <= live.max()):
            raise ConfigError("k", [float(live.min()), float(live.max())],
                              f"quotes on both sides of k = 0 at expiry T={t:g}")
    th = _atm_thetas(q).astype(q.k.dtype)
    x0 = np.concatenate([[0.0, 0.0, 0.0], softplus_inv(jnp.asarray(np.diff(th, prepend=0.0)))]
                        ).astype(q.k.dtype)
    p, rmse, kept, history = _fit_kernel(spec, *map(jnp.asarray, (x0, q.expiries, q.k, q.vols,
                                                                  q.weights)))
    check_finite(p._asdict(), "fit_ssvi.params", "check the quotes")
    check_finite(rmse, "fit_ssvi.rmse_vol_points")
    check_finite(history, "fit_ssvi.loss_history")
    half = np.maximum(1.5 * np.sqrt(q.expiries), np.max(np.abs(q.k), axis=1)).astype(q.k.dtype)
    report = arbitrage_report(slices(p, p.expiries), p.expiries, half_widths=half, n_grid=n_grid)
    return SsviFit(p, rmse, kept, history, report)
