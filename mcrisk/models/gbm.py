r"""Correlated geometric Brownian motion, stepped exactly in log space.

    dS_i / S_i = mu_i dt + sigma_i dW_i,   d<W_i, W_j> = C_ij dt,

with mu_i = r - q_i under the pricing measure. The log step
x' = x + (mu - sigma^2 / 2) dt + sigma sqrt(dt) (L z) is exact for any dt.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from typing import NamedTuple

from mcrisk.models.base import Params, State, correlate, growth
from mcrisk.random import Draws

NAMES: tuple[str, ...] = ()
VARIANCE, JUMPS = False, False


class GbmParams(NamedTuple):
    """No parameters beyond the market's."""


def make_params(params: dict, cast) -> GbmParams:
    return GbmParams()


def jump_intensity(p: Params) -> jax.Array:
    return jnp.zeros_like(p.spots)


def init(p: Params) -> State:
    return State(x=jnp.log(p.spots), v=p.vols ** 2)


def step(p: Params, s: State, dt: jax.Array, d: Draws) -> State:
    zc = correlate(p, d.z)
    x = s.x + (growth(p) - 0.5 * s.v) * dt + p.vols * jnp.sqrt(dt) * zc
    return State(x=x, v=s.v)


def last_step(p: Params, s: State, dt: jax.Array, d: Draws):
    """Mean and variance of each new log spot given the step's start: the asset's own
    diffusive normal is the only unknown (the Greeks kernel's last-step conditioning)."""
    return s.x + (growth(p) - 0.5 * s.v) * dt, s.v * dt
