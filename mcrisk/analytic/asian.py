"""Fixed-strike Asian option on the discrete geometric average (Kemna–Vorst 1990, discrete form)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from mcrisk.analytic.bs import _as_arrays, _black, _safe_sqrt

__all__ = ["geometric_discrete"]


@functools.partial(jax.jit, static_argnames=("fixings",))
def geometric_discrete(
    *,
    spots: ArrayLike,
    strikes: ArrayLike,
    expiries: ArrayLike,
    vols: ArrayLike,
    rates: ArrayLike,
    dividends: ArrayLike,
    fixings: int,
    is_call: ArrayLike,
) -> Array:
    """Price of a call or put on the geometric average of `fixings` equally spaced fixings.

    The average is G = (prod_i S(t_i))^(1/n) with t_i = i T / n for i = 1..n; today's spot is not a
    fixing. Under Black–Scholes ln G is normal with

        mean     = ln S + (r - q - vol^2/2) T (n + 1) / (2 n),
        variance = vol^2 T (n + 1)(2 n + 1) / (6 n^2)     (= vol^2 / n^2 * sum_ij min(t_i, t_j)),

    so the price is a Black formula on the forward E[G] = exp(mean + variance/2), paid at T.
    This is QuantLib's AnalyticDiscreteGeometricAveragePriceAsianEngine with no past fixings.

    Args:
      spots: spot prices, float, broadcastable.
      strikes: strikes, same units as `spots`.
      expiries: times to expiry (and to the last fixing) in years, >= 0.
      vols: annualised lognormal vols.
      rates: continuously compounded risk-free rates.
      dividends: continuously compounded dividend (carry) yields.
      fixings: number of averaging dates n, a static Python int >= 1.
      is_call: bool, True for a call on the average and False for a put.

    Returns:
      Prices, shape = broadcast of all arguments, dtype = their floating dtype, same units as `spots`.
    """
    n = int(fixings)
    if n < 1:
        raise ValueError(f"fixings must be a positive int, got {fixings!r}")
    s, k, t, v, r, q, call, dtype = _as_arrays(
        spots, strikes, expiries, vols, rates, dividends, flags=(is_call,)
    )
    mean_time = t * ((n + 1) / (2.0 * n))
    variance = v * v * t * ((n + 1) * (2 * n + 1) / (6.0 * n * n))
    fwd = s * jnp.exp((r - q - 0.5 * v * v) * mean_time + 0.5 * variance)
    return _black(
        forwards=fwd, strikes=k, stddevs=_safe_sqrt(variance), discounts=jnp.exp(-r * t), is_call=call
    )
