r"""Kinks and jumps of payoffs, exact or smoothed with a Gaussian kernel of width ``eps``.

Pathwise derivatives are wrong for discontinuous payoffs (a digital's pathwise delta is
zero almost surely) and second pathwise derivatives are wrong for kinks (a call's pathwise
gamma is zero almost surely). For Greeks the payoff is therefore convolved with a normal
kernel of width eps (Bachelier smoothing):

    ramp_eps(y) = E[max(y + eps Z, 0)] = y Phi(y/eps) + eps phi(y/eps)
    step_eps(y) = E[1{y + eps Z > 0}]  = Phi(y/eps)

which are exact as eps -> 0. If Y has a smooth density p, the smoothed expectation differs
by eps^2/2 p(0) (ramp) and -eps^2/2 p'(0) (step) plus O(eps^4): the bias is second order in
eps. With eps = 5% of the payoff's terminal standard deviation (greeks.smoothing = 0.05) the
bias measured on the reference cases (tests/reference/test_greeks.py) is 0.0-0.5% of delta,
vega, rho and gamma of calls/puts and up to 1.3% of a digital's gamma and vega; the stated
bound is 2%. Halving greeks.smoothing quarters the bias and roughly doubles the variance of
gamma. Prices are never smoothed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr

_INV_SQRT_2PI = 0.3989422804014327


def ramp(y: jax.Array, eps: jax.Array | None) -> jax.Array:
    if eps is None:
        return jnp.maximum(y, 0.0)
    u = y / eps
    return y * ndtr(u) + eps * _INV_SQRT_2PI * jnp.exp(-0.5 * u * u)


def step(y: jax.Array, eps: jax.Array | None) -> jax.Array:
    if eps is None:
        return (y > 0).astype(y.dtype)
    return ndtr(y / eps)


def maximum(x: jax.Array, mask: jax.Array, eps: jax.Array | None) -> jax.Array:
    """Max over the masked last axis; smoothed by log-sum-exp at temperature eps/4.

    The log-sum-exp bias is at most (eps/4) log(n): it is only used for Greeks.
    """
    very_low = jnp.asarray(jnp.finfo(x.dtype).min, x.dtype)
    if eps is None:
        return jnp.max(jnp.where(mask, x, very_low), axis=-1)
    t = (eps / 4.0)[..., None]
    return t[..., 0] * jax.nn.logsumexp(jnp.where(mask, x / t, very_low), axis=-1)
