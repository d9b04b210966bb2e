"""Floating-strike lookback options with continuous monitoring (Goldman–Sosin–Gatto 1979)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.special import ndtr
from jax.typing import ArrayLike

from mcrisk.analytic.bs import _as_arrays

__all__ = ["floating"]

_INV_SQRT_2PI = 0.3989422804014327


@jax.jit
def floating(
    *,
    spots: ArrayLike,
    expiries: ArrayLike,
    vols: ArrayLike,
    rates: ArrayLike,
    dividends: ArrayLike,
    is_call: ArrayLike,
) -> Array:
    """Price of a freshly started floating-strike lookback call (S_T - min) or put (max - S_T).

    With the running extremum equal to spot, s = vol sqrt(T), lambda = 2 (r - q) / vol^2 and eta = +1
    for the call, -1 for the put, the Goldman–Sosin–Gatto price (Haug 4.15.1, QuantLib's
    AnalyticContinuousFloatingLookbackEngine) is

        eta S [e^{-qT} N(eta d1) - e^{-rT} N(eta (d1 - s)) + e^{-rT} g(lambda)],
        d1 = (lambda + 1) s / 2,
        g(lambda) = [N(eta (lambda - 1) s / 2) - e^{lambda s^2/2} N(-eta (lambda + 1) s / 2)] / lambda.

    g has a removable singularity at r == q, where QuantLib returns NaN. Here it is evaluated as
    eta s DD - (s^2 / 2) expm1(x)/x N(-eta (lambda + 1) s / 2), with x = lambda s^2 / 2 and DD the
    divided difference of N over an interval of length lambda s; both factors have stable
    small-argument forms, so r == q and r close to q are handled without cancellation.

    Args:
      spots: spot prices, which are also the running minimum and maximum, float, broadcastable.
      expiries: times to expiry in years, >= 0.
      vols: annualised lognormal vols, > 0.
      rates: continuously compounded risk-free rates.
      dividends: continuously compounded dividend (carry) yields.
      is_call: bool, True for the call on S_T - min and False for the put on max - S_T.

    Returns:
      Prices, shape = broadcast of all arguments, dtype = their floating dtype, same units as `spots`.
      At expiry 0 the price is 0.
    """
    s0, t, v, r, q, call, dtype = _as_arrays(spots, expiries, vols, rates, dividends, flags=(is_call,))
    eta = jnp.where(call, 1.0, -1.0).astype(dtype)
    live = t > 0
    t_safe = jnp.where(live, t, 1.0)
    s = v * jnp.sqrt(t_safe)
    lam = 2.0 * (r - q) / (v * v)
    df_r = jnp.exp(-r * t_safe)
    df_q = jnp.exp(-q * t_safe)
    d1 = 0.5 * (lam + 1.0) * s

    lo = -eta * d1  # the two ends of the divided difference; hi - lo = eta lam s
    hi = eta * (0.5 * (lam - 1.0) * s)
    half_var = 0.5 * s * s
    g = eta * s * _ndtr_divided_difference(hi, lo) - half_var * _expm1_ratio(lam * half_var) * ndtr(lo)
    value = eta * s0 * (df_q * ndtr(eta * d1) - df_r * ndtr(eta * (d1 - s)) + df_r * g)
    return jnp.where(live, value, 0.0)


def _expm1_ratio(x: Array) -> Array:
    """expm1(x) / x, equal to 1 at x = 0, accurate to rounding for all x."""
    tiny = jnp.abs(x) < 1e-4
    x_safe = jnp.where(tiny, 1.0, x)
    series = 1.0 + x * (0.5 + x * (1.0 / 6.0 + x / 24.0))
    return jnp.where(tiny, series, jnp.expm1(x_safe) / x_safe)


def _ndtr_divided_difference(a: Array, b: Array) -> Array:
    """(N(a) - N(b)) / (a - b), the standard normal density's mean on [b, a].

    Near a == b the quotient loses digits to cancellation; there the midpoint series
    sum_j pdf^(2j)(m) (h/2)^(2j) / (2j + 1)!
        = pdf(m) [1 + h^2 He2(m)/24 + h^4 He4(m)/1920 + h^6 He6(m)/322560]
    (m the midpoint, h = a - b, He the Hermite polynomials) is used; its first omitted term,
    h^8 He8(m)/92897280, is below 1e-14 relative for |h| < 0.1.
    """
    h = a - b
    small = jnp.abs(h) < 0.1
    h_safe = jnp.where(small, 1.0, h)
    direct = (ndtr(a) - ndtr(b)) / h_safe
    m = 0.5 * (a + b)
    m2 = m * m
    h2 = h * h
    pdf = _INV_SQRT_2PI * jnp.exp(-0.5 * m2)
    he2 = m2 - 1.0
    he4 = m2 * (m2 - 6.0) + 3.0
    he6 = m2 * (m2 * (m2 - 15.0) + 45.0) - 15.0
    series = pdf * (1.0 + h2 * (he2 / 24.0 + h2 * (he4 / 1920.0 + h2 * he6 / 322560.0)))
    return jnp.where(small, series, direct)
