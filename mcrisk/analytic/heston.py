"""European options under the Heston (1993) stochastic-volatility model, by Fourier inversion."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import Array, lax
from jax.typing import ArrayLike

from mcrisk.analytic.bs import _as_arrays, _black, _gauss_legendre, _safe_sqrt

__all__ = ["european"]

# The integral is cut where the integrand's envelope has decayed by e^{-_DECAY} (about 2e-16).
_DECAY = 36.0


@functools.partial(jax.jit, static_argnames=("n_points",))
def european(
    *,
    spots: ArrayLike,
    strikes: ArrayLike,
    expiries: ArrayLike,
    rates: ArrayLike,
    dividends: ArrayLike,
    v0: ArrayLike,
    kappa: ArrayLike,
    theta: ArrayLike,
    xi: ArrayLike,
    rho: ArrayLike,
    is_call: ArrayLike,
    n_points: int = 1024,
) -> Array:
    """Heston price of a European call or put.

    The model is dS = (r - q) S dt + sqrt(v) S dW1, dv = kappa (theta - v) dt + xi sqrt(v) dW2,
    d<W1, W2> = rho dt. With X = ln(S_T / F) and F = S e^{(r-q)T}, Lewis's (2001) formula gives

        C = S e^{-qT} - sqrt(F K) e^{-rT} / pi * int_0^inf Re[e^{i u k} phi(u - i/2)] / (u^2 + 1/4) du,
        P = K e^{-rT} - (the same integral term),                                    k = ln(F / K),

    where phi is X's characteristic function, evaluated in the "little Heston trap" form of Albrecher,
    Mayer, Schoutens and Tistaert (2007), which has no branch-cut discontinuity. As a control variate,
    the same formula for Black–Scholes with total variance w = E[int_0^T v dt] is subtracted under
    the integral and its closed form added back; its characteristic function on this contour is the
    real exp(-w (u^2 + 1/4) / 2). The integral is cut at the larger of the points where the Heston tail
    exp(-u sqrt(1 - rho^2) (v0 + kappa theta T) / xi) (Andersen–Piterbarg) and the Gaussian tail have
    decayed by e^{-36}; [0, cut] is mapped by u = cut * t^2, which packs nodes near u = 0 where the
    integrand varies fastest, and integrated with `n_points` Gauss–Legendre nodes.

    Accuracy against QuantLib's AnalyticHestonEngine (adaptive Gauss–Lobatto at 1e-13), measured over
    the corners of and 1000 random points in v0, theta in [0.04, 0.8], kappa in [0.5, 5],
    xi in [0.2, 2], rho in [-0.9, 0.5], T in [0.05, 2], K/S in [0.6, 1.5]:
    float64 with the default 1024 nodes is within 1e-12 of spot absolute and 1e-11 relative for prices
    above 1e-4 of spot. 128 nodes already give that away from the corners; short expiries with small
    v0 and large xi (slow, oscillating tails) need about 512. float32 is computed in float32: within
    about 6e-6 of spot absolute, hence 4e-5 relative for prices above 1% of spot.

    Args:
      spots: spot prices, float, broadcastable.
      strikes: strikes, same units as `spots`.
      expiries: times to expiry in years, >= 0 (0 gives the intrinsic value).
      rates: continuously compounded risk-free rates.
      dividends: continuously compounded dividend (carry) yields.
      v0: initial variances (vol^2 per year), >= 0.
      kappa: mean-reversion speeds of the variance, per year, > 0.
      theta: long-run variances, > 0.
      xi: vols of variance, > 0.
      rho: spot–variance correlations, in (-1, 1).
      is_call: bool, True for a call and False for a put.
      n_points: number of Gauss–Legendre nodes, a static Python int.

    Returns:
      Prices, shape = broadcast of all arguments, dtype = their floating dtype, same units as `spots`.
    """
    s, k, t, r, q, v0_, kap, th, x, rh, call, dtype = _as_arrays(
        spots, strikes, expiries, rates, dividends, v0, kappa, theta, xi, rho, flags=(is_call,)
    )
    # Expiry 0 is priced as intrinsic; the integral sees T = 1 there, keeping value and gradient finite.
    live = t > 0
    t = jnp.where(live, t, 1.0)
    df = jnp.exp(-r * t)
    fwd = s * jnp.exp((r - q) * t)
    log_moneyness = jnp.log(fwd / k)

    # Total variance of the control variate: the expected integrated variance E[int_0^T v dt].
    kt = kap * t
    decay = -jnp.expm1(-kt) / kt
    total_var = th * t + (v0_ - th) * t * decay
    cv_price = _black(forwards=fwd, strikes=k, stddevs=_safe_sqrt(total_var), discounts=df, is_call=call)

    tail_rate = jnp.sqrt(1.0 - rh * rh) * (v0_ + kap * th * t) / x
    cut = jnp.maximum(_DECAY / tail_rate, jnp.sqrt(2.0 * _DECAY / total_var))

    nodes, weights = _gauss_legendre(n_points, dtype)
    grid = (1,) * s.ndim + (n_points,)
    t01 = 0.5 * (jnp.reshape(nodes, grid) + 1.0)
    w01 = 0.5 * jnp.reshape(weights, grid)
    cut_ = cut[..., None]
    u = cut_ * t01 * t01
    jac = 2.0 * cut_ * t01 * w01

    expo = _log_cf_shifted(
        u, t[..., None], v0_[..., None], kap[..., None], th[..., None], x[..., None], rh[..., None]
    )
    # Re[e^{i u k} phi] = e^{Re expo} cos(u k + Im expo), kept real to avoid a complex exponential.
    heston_part = jnp.exp(expo.real) * jnp.cos(u * log_moneyness[..., None] + expo.imag)
    bs_part = jnp.exp(-0.5 * total_var[..., None] * (u * u + 0.25)) * jnp.cos(
        u * log_moneyness[..., None]
    )
    integral = jnp.sum(jac * (heston_part - bs_part) / (u * u + 0.25), axis=-1)
    price = cv_price - jnp.sqrt(fwd * k) * df / jnp.pi * integral
    intrinsic = jnp.maximum(jnp.where(call, s - k, k - s), 0.0)
    return jnp.where(live, price, intrinsic)


def _log_cf_shifted(
    u: Array, t: Array, v0: Array, kappa: Array, theta: Array, xi: Array, rho: Array
) -> Array:
    """log E[exp(i z X)] at z = u - i/2 for X = ln(S_T/F) under Heston, little-trap form.

    Along this contour i z = i u + 1/2 and i z + z^2 = u^2 + 1/4 (real), which is what the
    expressions below use.
    """

    def cplx(a: Array) -> Array:
        # Strict promotion refuses real-complex mixing, so every operand is made complex explicitly.
        return lax.complex(a, jnp.zeros_like(a))

    u, t, v0, kappa, theta, xi, rho = (cplx(a) for a in (u, t, v0, kappa, theta, xi, rho))
    b = kappa - rho * xi * (1j * u + 0.5)
    d = jnp.sqrt(b * b + xi * xi * (u * u + 0.25))
    bmd = b - d
    g = bmd / (b + d)
    e = jnp.exp(-d * t)
    log_ratio = jnp.log((1.0 - g * e) / (1.0 - g))
    big_c = kappa * theta / (xi * xi) * (bmd * t - 2.0 * log_ratio)
    big_d = bmd / (xi * xi) * (1.0 - e) / (1.0 - g * e)
    return big_c + big_d * v0
