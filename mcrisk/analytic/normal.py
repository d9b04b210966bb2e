"""The standard normal distribution function, and its lower tail scaled out of underflow.

`ndtr` here is one ``erfc``: ``jax.scipy.special.ndtr`` evaluates both ``erf`` and
``erfc`` and selects, and XLA's ``erfc`` already evaluates ``erf`` near zero, so that is
three special functions for one. ``Phi(x) = erfc(-x / sqrt 2) / 2`` has the same relative
precision in the lower tail and absolute precision near 1.

`scaled_mass` gives ``exp(e) (Phi(b) - Phi(a))`` where ``exp(e)`` overflows while the mass
underflows (a reflected barrier term), through the Mills-type ratio
``R(z) = Phi(z) exp(z^2 / 2)`` of the lower tail, which stays between ``1 / (|z| sqrt(2 pi))``
and 1/2: no logarithms (``log_ndtr`` evaluates three branches of ``ndtr`` and a series, and
cost the Greeks kernel more than the rest of a barrier's payoff).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array, lax

_SQRT_HALF = 0.7071067811865476
_SQRT_PI = 1.7724538509055159
# Beyond this (in erfc's argument), erfcx by its asymptotic series: 9 terms are exact to
# 1e-9 relative at 6 and 1e-19 at 20; below it, exp(x^2) erfc(x), whose factors stay
# normal numbers (erfc(6) = 2e-17 in float32, erfc(20) = 5e-176 in float64).
_SERIES_FROM = {4: 6.0, 8: 20.0}
_TERMS = 9


def ndtr(x: Array) -> Array:
    """Standard normal distribution function."""
    return 0.5 * lax.erfc(-x * _SQRT_HALF)


def _erfcx(x: Array) -> Array:
    """``exp(x^2) erfc(x)`` for x >= 0."""
    x0 = jnp.asarray(_SERIES_FROM[jnp.dtype(x.dtype).itemsize], x.dtype)
    near = jnp.minimum(x, x0)
    direct = jnp.exp(near * near) * lax.erfc(near)
    far = jnp.maximum(x, x0)
    u = 0.5 / (far * far)
    # 1 - u + 3 u^2 - 15 u^3 ... : the n-th coefficient is (-1)^n (2n - 1)!!.
    s = jnp.ones_like(far)
    for n in range(_TERMS - 1, 0, -1):
        s = 1.0 - (2 * n - 1) * u * s
    return jnp.where(x > x0, s / (far * _SQRT_PI), direct)


def lower_ratio(z: Array) -> Array:
    """``Phi(z) exp(z^2 / 2)`` for z <= 0 (larger z are read as 0)."""
    return 0.5 * _erfcx(-jnp.minimum(z, 0.0) * _SQRT_HALF)


def scaled_mass(e: Array, a: Array, b: Array) -> Array:
    """``exp(e) (Phi(b) - Phi(a))`` for ``a <= min(b, 0)``.

    Both ends in the lower tail: ``exp(e - b^2/2) (R(b) - exp((b^2 - a^2)/2) R(a))``, every
    exponent of a factor below e's. Otherwise ``Phi(b) >= 1/2`` and the mass is a plain
    difference.
    """
    ra = lower_ratio(a)
    rb = lower_ratio(-jnp.abs(b))  # R(b) below zero, R(-b) above
    ga = jnp.exp(-0.5 * a * a) * ra  # Phi(a)
    tail = jnp.exp(e - 0.5 * b * b) * (rb - jnp.exp(0.5 * (b - a) * (b + a)) * ra)
    body = jnp.exp(e) * (1.0 - jnp.exp(-0.5 * b * b) * rb - ga)
    return jnp.where(b <= 0, tail, body)
