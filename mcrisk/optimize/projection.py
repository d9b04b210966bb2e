"""Euclidean projections onto the feasible sets of `mcrisk.optimize.cvar`, inside jit.

optax 0.2.8's `optax.projections` projects onto a simplex or a box separately; a box with a
budget (a capped simplex) and an extra half-space need the two functions here. Both are
exact up to rounding: the capped simplex from its sorted breakpoints, the half-space's
multiplier by bisection to the last bit of its bracket.

``budget`` is ``"none"`` (box only), ``"equal"`` or ``"at_most"`` (see `CvarSpec`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax import Array

__all__ = ["capped", "project"]

_BISECT = 60  # bisection steps of the half-space's multiplier: 2^-60 of its bracket


def capped(budget: str, v: Array, lo: Array, hi: Array, a: Array, b: Array) -> Array:
    """Euclidean projection onto ``{lo <= z <= hi, a . z = b}`` (or ``<= b``), ``a > 0``.

    ``z = clip(v - t a, lo, hi)`` with the shift t where ``a . z`` crosses b: that sum is
    piecewise linear and nonincreasing in t with breakpoints ``(v - hi)/a`` and ``(v - lo)/a``,
    so t is interpolated exactly between the two breakpoints that bracket b.
    """
    if budget == "none":
        return optax.projections.projection_box(v, lo, hi)
    tb = jnp.sort(jnp.concatenate([(v - hi) / a, (v - lo) / a]))
    s = jnp.sum(a * jnp.clip(v[None, :] - tb[:, None] * a, lo, hi), axis=1)
    k = jnp.clip(jnp.sum(s >= b), 1, tb.size - 1)
    s0, s1, t0, t1 = s[k - 1], s[k], tb[k - 1], tb[k]
    gap = s0 - s1
    t = t0 + jnp.where(gap > 0, (s0 - b) / jnp.where(gap > 0, gap, 1.0), 0.0) * (t1 - t0)
    if budget == "at_most":
        t = jnp.maximum(t, 0.0)
    return jnp.clip(v - t * a, lo, hi)


def project(budget: str, v: Array, lo, hi, a, b, g: Array, floor: Array) -> Array:
    """Projection onto the capped simplex intersected with ``{g . z >= floor}``.

    Relaxing the half-space with a multiplier lam >= 0 leaves the projection of ``v + lam g``
    onto the capped simplex, whose ``g . z`` is nondecreasing in lam (projections are
    monotone), so lam is found by bisection, on ``lam = s u / (1 - u)`` (s a scale) to reach
    any size; the bracket's feasible end is returned.
    """
    z0 = capped(budget, v, lo, hi, a, b)
    scale = (1.0 + jnp.max(jnp.abs(v))) / jnp.maximum(jnp.max(jnp.abs(g)), 1e-300)

    def at(u):
        return capped(budget, v + scale * u / (1.0 - u) * g, lo, hi, a, b)

    def body(_, bounds):
        u_lo, u_hi = bounds
        u = 0.5 * (u_lo + u_hi)
        ok = g @ at(u) >= floor
        return jnp.where(ok, u_lo, u), jnp.where(ok, u, u_hi)

    one = jnp.ones((), v.dtype)
    _, u_hi = jax.lax.fori_loop(0, _BISECT, body, (0.0 * one, 1.0 - 1e-16 * one))
    return jnp.where(g @ z0 >= floor, z0, at(u_hi))
