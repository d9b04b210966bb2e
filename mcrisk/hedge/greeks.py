"""Black–Scholes value, delta and gamma of a batch of European calls, puts and forwards.

The hedger's view of the book: one vol, no dividends. Written for the dynamic-hedging kernel
(one path at a time, positions along the last axis); expired positions (time to expiry
<= 0) are worth nothing and have no delta or gamma, because their payoff has already been
settled in cash.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr

CALL, PUT, FORWARD = 0, 1, 2
KIND_CODE = {"call": CALL, "put": PUT, "forward": FORWARD}


class Greeks(NamedTuple):
    """Per-position value, delta and gamma, each of the positions' shape."""

    value: jax.Array
    delta: jax.Array
    gamma: jax.Array


def greeks(spot: jax.Array, strikes: jax.Array, taus: jax.Array, vol: jax.Array,
           rate: jax.Array, kinds: jax.Array) -> Greeks:
    """Value, delta and gamma per unit of each position.

    Args:
        spot: scalar spot.
        strikes: (positions,) strikes.
        taus: (positions,) years to expiry; <= 0 means expired (all zero).
        vol: scalar Black–Scholes vol.
        rate: scalar continuously compounded rate.
        kinds: (positions,) int codes CALL, PUT, FORWARD.
    """
    live = taus > 0
    tau = jnp.where(live, taus, 1.0)
    std = vol * jnp.sqrt(tau)
    disc_k = strikes * jnp.exp(-rate * tau)
    d1 = (jnp.log(spot / strikes) + rate * tau) / std + 0.5 * std
    nd1, nd2 = ndtr(d1), ndtr(d1 - std)
    call = spot * nd1 - disc_k * nd2
    pdf = jnp.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    is_call, is_put = kinds == CALL, kinds == PUT
    value = jnp.where(is_call, call, jnp.where(is_put, call - spot + disc_k, spot - disc_k))
    one = jnp.ones_like(nd1)
    delta = jnp.where(is_call, nd1, jnp.where(is_put, nd1 - 1, one))
    gamma = jnp.where(kinds == FORWARD, 0.0, pdf / (spot * std))
    zero = jnp.zeros_like(value)
    return Greeks(jnp.where(live, value, zero), jnp.where(live, delta, zero),
                  jnp.where(live, gamma, zero))


def payoff(spot: jax.Array, strikes: jax.Array, kinds: jax.Array) -> jax.Array:
    """Payoff at expiry per unit of each position, shape (positions,)."""
    fwd = spot - strikes
    return jnp.where(kinds == CALL, jnp.maximum(fwd, 0.0),
                     jnp.where(kinds == PUT, jnp.maximum(-fwd, 0.0), fwd))
