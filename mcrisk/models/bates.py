r"""Bates (1996): the multi-asset Heston QE scheme plus Merton's compensated log-normal jumps.

    dS_i / S_i- = (mu_i - lambda_i k_i) dt + sqrt(v_i) dW_i + (e^{J_i} - 1) dN_i,

with v_i as in `mcrisk.models.heston`. Jumps are independent of the diffusions and sampled
exactly per step; the compensator keeps the discounted spot a martingale.
"""

from __future__ import annotations

import jax

from mcrisk.models import heston
from mcrisk.models.base import Params, State, jump_compensator, log_jumps
from mcrisk.random import Draws

init = heston.init


def step(p: Params, s: State, dt: jax.Array, d: Draws) -> State:
    nxt = heston.step(p, s, dt, d)
    x = nxt.x - jump_compensator(p) * dt + log_jumps(p, d.n_jumps, d.z_jump)
    return State(x=x, v=nxt.v)


def last_step(p: Params, s: State, dt: jax.Array, d: Draws):
    """Mean and variance of each new log spot given the step's start, its variance driver
    and its jumps (see `heston.last_step`)."""
    mean, var = heston.last_step(p, s, dt, d)
    return mean - jump_compensator(p) * dt + log_jumps(p, d.n_jumps, d.z_jump), var
