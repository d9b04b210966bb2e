"""Model interface: dynamics only. A model never touches keys; the caller supplies draws.

Each model module exposes ``init(params) -> State`` and
``step(params, state, dt, draws) -> State`` for one path; the simulator vmaps over paths
and scans over steps.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Params(NamedTuple):
    """Differentiable market and model parameters (every array has shape (assets,)).

    ``vols`` is the instantaneous volatility the vega refers to: sigma for gbm/merton and
    sqrt(v0) for heston/bates. ``growth`` is the expected growth rate of the spot under the
    simulation measure, None meaning risk-neutral (rate - dividends).
    """

    spots: jax.Array
    vols: jax.Array
    dividends: jax.Array
    rate: jax.Array  # scalar
    chol: jax.Array  # (assets, assets) lower Cholesky factor of the correlation
    kappa: jax.Array
    theta: jax.Array
    xi: jax.Array
    rho: jax.Array
    jump_intensity: jax.Array
    jump_mean: jax.Array
    jump_std: jax.Array
    growth: jax.Array | None = None


class State(NamedTuple):
    """Per-path model state: log spots and instantaneous variances, shape (assets,)."""

    x: jax.Array
    v: jax.Array


def growth(p: Params) -> jax.Array:
    return p.rate - p.dividends if p.growth is None else p.growth


def correlate(p: Params, z: jax.Array) -> jax.Array:
    # HIGHEST: float32 matmuls may otherwise run as TF32 on GPUs and lose the correlation.
    return jnp.matmul(p.chol, z, precision=jax.lax.Precision.HIGHEST)


def jump_compensator(p: Params) -> jax.Array:
    """lambda * E[e^J - 1]: the drift that keeps e^{-(mu)t} S_t a martingale with jumps."""
    return p.jump_intensity * jnp.expm1(p.jump_mean + 0.5 * p.jump_std ** 2)


def log_jumps(p: Params, n_jumps: jax.Array, z_jump: jax.Array) -> jax.Array:
    """Sum of ``n_jumps`` iid normal log jumps: N mu_J + sqrt(N) sigma_J Z (exact)."""
    return n_jumps * p.jump_mean + jnp.sqrt(n_jumps) * p.jump_std * z_jump
