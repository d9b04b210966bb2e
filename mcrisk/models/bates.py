r"""Bates (1996): the multi-asset Heston QE scheme plus Merton's compensated log-normal jumps.

    dS_i / S_i- = (mu_i - lambda_i k_i) dt + sqrt(v_i) dW_i + (e^{J_i} - 1) dN_i,

with v_i as in `mcrisk.models.heston`. Jumps are independent of the diffusions and sampled
exactly per step; the compensator keeps the discounted spot a martingale.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from mcrisk.models import heston
from mcrisk.models.base import Params, State, jump_compensator, log_jumps
from mcrisk.random import Draws

NAMES = heston.NAMES + ("jump_intensity", "jump_mean", "jump_std")
VARIANCE, JUMPS = True, True
init = heston.init


class BatesParams(NamedTuple):
    """Heston's parameters then Merton's (the field names the two schemes read)."""

    kappa: jax.Array
    theta: jax.Array
    xi: jax.Array
    rho: jax.Array
    jump_intensity: jax.Array
    jump_mean: jax.Array
    jump_std: jax.Array


def make_params(params: dict, cast) -> BatesParams:
    return BatesParams(*(cast(params[k]) for k in BatesParams._fields))


def jump_intensity(p: Params) -> jax.Array:
    return p.model.jump_intensity


def step(p: Params, s: State, dt: jax.Array, d: Draws) -> State:
    nxt = heston.step(p, s, dt, d)
    x = nxt.x - jump_compensator(p.model) * dt + log_jumps(p.model, d.n_jumps, d.z_jump)
    return State(x=x, v=nxt.v)


def last_step(p: Params, s: State, dt: jax.Array, d: Draws):
    """Mean and variance of each new log spot given the step's start, its variance driver
    and its jumps (see `heston.last_step`)."""
    mean, var = heston.last_step(p, s, dt, d)
    return mean - jump_compensator(p.model) * dt + log_jumps(p.model, d.n_jumps, d.z_jump), var
