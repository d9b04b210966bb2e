r"""Kinks and jumps of payoffs for the Greeks kernel: exact values and first derivatives,
Gaussian-smoothed second derivatives.

A Lipschitz payoff (``max(y, 0)``, a max over assets) has an unbiased pathwise first
derivative, so `kink` and `maximum` return the exact value and the exact derivative
(``1{y > 0}``, the arg-max indicator). Only the second derivative is wrong pathwise (a call's
pathwise gamma is zero almost surely): the derivative of ``1{y > 0}`` is a Dirac mass, which
`heaviside` replaces by the normal density of width eps. The gamma of a kink is then that of
the payoff convolved with a normal kernel, ``ramp_eps(y) = E[max(y + eps Z, 0)]``, whose
bias is eps^2/2 p''(0)-like, second order in eps. A discontinuous payoff (`heaviside` itself,
a digital) has no pathwise first derivative either; its derivative is the smoothed one, with
the same second-order bias. Under gbm the Greeks kernel needs neither: it conditions on the
last step or uses a likelihood ratio (`mcrisk.instruments.conditional`); the smoothing is
left to the other models, and to multi-asset payoffs on a singular correlation block.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_INV_SQRT_2PI = 0.3989422804014327


def _pdf(y: jax.Array, eps: jax.Array) -> jax.Array:
    u = y / eps
    return _INV_SQRT_2PI / eps * jnp.exp(-0.5 * u * u)


@jax.custom_jvp
def heaviside(y: jax.Array, eps: jax.Array) -> jax.Array:
    """``1{y > 0}``, differentiated as the normal CDF of width eps."""
    return (y > 0).astype(y.dtype)


@heaviside.defjvp
def _heaviside_jvp(primals, tangents):
    y, eps = primals
    # eps is a constant of the contract (kernel input, never a Greek's direction).
    return heaviside(y, eps), _pdf(y, eps) * tangents[0]


@jax.custom_jvp
def kink(y: jax.Array, eps: jax.Array) -> jax.Array:
    """``max(y, 0)`` with the exact first derivative and a smoothed second derivative."""
    return jnp.maximum(y, 0.0)


@kink.defjvp
def _kink_jvp(primals, tangents):
    y, eps = primals
    return kink(y, eps), heaviside(y, eps) * tangents[0]


@jax.custom_jvp
def _argmax_weights(x: jax.Array, mask: jax.Array, t: jax.Array) -> jax.Array:
    """One-hot arg-max over the masked last axis; differentiated as softmax(x / t)."""
    very_low = jnp.asarray(jnp.finfo(x.dtype).min, x.dtype)
    xm = jnp.where(mask, x, very_low)
    return jax.nn.one_hot(jnp.argmax(xm, axis=-1), x.shape[-1], dtype=x.dtype)


@_argmax_weights.defjvp
def _argmax_weights_jvp(primals, tangents):
    x, mask, t = primals
    very_low = jnp.asarray(jnp.finfo(x.dtype).min, x.dtype)
    soft = lambda x_: jax.nn.softmax(jnp.where(mask, x_ / t[..., None], very_low), axis=-1)  # noqa: E731
    _, dsoft = jax.jvp(soft, (x,), (tangents[0],))
    return _argmax_weights(x, mask, t), dsoft


@jax.custom_jvp
def maximum(x: jax.Array, mask: jax.Array, eps: jax.Array) -> jax.Array:
    """Exact max over the masked last axis; the second derivative at ties is smoothed as
    log-sum-exp at temperature eps/4 (first derivatives are the exact arg-max weights)."""
    very_low = jnp.asarray(jnp.finfo(x.dtype).min, x.dtype)
    return jnp.max(jnp.where(mask, x, very_low), axis=-1)


@maximum.defjvp
def _maximum_jvp(primals, tangents):
    x, mask, eps = primals
    w = _argmax_weights(x, mask, eps / 4.0)
    return maximum(x, mask, eps), jnp.sum(w * tangents[0], axis=-1)
