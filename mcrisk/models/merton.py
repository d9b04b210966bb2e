r"""Merton (1976) jump diffusion: correlated GBM plus compensated log-normal jumps per asset.

    dS_i / S_i- = (mu_i - lambda_i k_i) dt + sigma_i dW_i + (e^{J_i} - 1) dN_i,
    J_i ~ N(jump_mean_i, jump_std_i^2),  k_i = E[e^J - 1].

Diffusion and jumps are both sampled exactly over each step (Poisson count, then the sum
of that many normals), so the only time-discretisation error is in path-dependent payoffs.
Jump counts are independent across assets.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from typing import NamedTuple

from mcrisk.models import gbm
from mcrisk.models.base import Params, State, correlate, growth, jump_compensator, log_jumps
from mcrisk.random import Draws

NAMES = ("jump_intensity", "jump_mean", "jump_std")
VARIANCE, JUMPS = False, True
init = gbm.init


class MertonParams(NamedTuple):
    """Per-asset (assets,) arrays: jumps per year, mean and st. dev. of the log jump size."""

    jump_intensity: jax.Array
    jump_mean: jax.Array
    jump_std: jax.Array


def make_params(params: dict, cast) -> MertonParams:
    return MertonParams(*(cast(params[k]) for k in MertonParams._fields))


def jump_intensity(p: Params) -> jax.Array:
    return p.model.jump_intensity


def step(p: Params, s: State, dt: jax.Array, d: Draws) -> State:
    zc = correlate(p, d.z)
    drift = growth(p) - jump_compensator(p.model) - 0.5 * s.v
    x = s.x + drift * dt + p.vols * jnp.sqrt(dt) * zc + log_jumps(p.model, d.n_jumps, d.z_jump)
    return State(x=x, v=s.v)


def last_step(p: Params, s: State, dt: jax.Array, d: Draws):
    """Mean and variance of each new log spot given the step's start and its jumps."""
    drift = growth(p) - jump_compensator(p.model) - 0.5 * s.v
    return s.x + drift * dt + log_jumps(p.model, d.n_jumps, d.z_jump), s.v * dt
