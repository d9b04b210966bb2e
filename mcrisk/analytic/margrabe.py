"""Margrabe (1978) exchange option: the right to receive asset 1 and deliver asset 2 at expiry."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from mcrisk.analytic.bs import _as_arrays, _black, _safe_sqrt

__all__ = ["exchange"]


@jax.jit
def exchange(
    *,
    spots1: ArrayLike,
    spots2: ArrayLike,
    vols1: ArrayLike,
    vols2: ArrayLike,
    corr: ArrayLike,
    expiries: ArrayLike,
    dividends1: ArrayLike,
    dividends2: ArrayLike,
) -> Array:
    """Value of a European payoff max(S1_T - S2_T, 0) on two correlated lognormal assets.

    With asset 2 as numeraire this is a Black call on the ratio S1/S2 with strike 1, so

        V = S1 e^{-q1 T} N(d1) - S2 e^{-q2 T} N(d2),
        d1 = [ln(S1/S2) + (q2 - q1 + s^2/2) T] / (s sqrt T),  d2 = d1 - s sqrt T,
        s^2 = vol1^2 + vol2^2 - 2 corr vol1 vol2.

    The risk-free rate cancels and does not appear.

    Args:
      spots1: spot prices of the asset received, float, broadcastable.
      spots2: spot prices of the asset delivered, same currency as `spots1`.
      vols1: annualised lognormal vols of asset 1.
      vols2: annualised lognormal vols of asset 2.
      corr: correlations of the two log-returns, in [-1, 1].
      expiries: times to expiry in years, >= 0.
      dividends1: continuously compounded dividend (carry) yields of asset 1.
      dividends2: continuously compounded dividend (carry) yields of asset 2.

    Returns:
      Values, shape = broadcast of all arguments, dtype = their floating dtype, in the currency of
      the spots. When the ratio's variance is zero (expiry 0, or equal vols with corr 1) the value is
      the intrinsic value of the two discounted forwards.
    """
    s1, s2, v1, v2, rho, t, q1, q2, dtype = _as_arrays(
        spots1, spots2, vols1, vols2, corr, expiries, dividends1, dividends2
    )
    ratio_var = v1 * v1 + v2 * v2 - 2.0 * rho * v1 * v2
    std = _safe_sqrt(ratio_var * t)
    # Asset 2 discounted at its own yield is the numeraire; asset 1's forward in that measure.
    disc2 = jnp.exp(-q2 * t)
    fwd1 = s1 * jnp.exp((q2 - q1) * t)
    call = jnp.ones(s1.shape, dtype=bool)
    return _black(forwards=fwd1, strikes=s2, stddevs=std, discounts=disc2, is_call=call)
