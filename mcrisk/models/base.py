"""Model interface: dynamics only. A model never touches keys; the caller supplies draws.

Each model module (registered in `mcrisk.models.REGISTRY`) exposes:

* ``NAMES``: its parameters in the config's ``model:`` block; ``VARIANCE``, ``JUMPS``: whether
  it carries a variance state and jumps (which draws a step needs);
* ``make_params(params, cast)``: its own parameter pytree from the config's per-asset arrays;
* ``jump_intensity(params)``: (assets,) jump intensities (zero without jumps);
* ``init(params) -> State`` and ``step(params, state, dt, draws) -> State`` for one path (the
  simulator vmaps over paths and scans over steps);
* ``last_step(params, state, dt, draws) -> (mean, var)``: the law of each new log spot given
  the step's start and everything drawn but the asset's own diffusive normal (the Greeks
  kernel's conditioning).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class Params(NamedTuple):
    """Differentiable market parameters (every array has shape (assets,)) and the model's own.

    ``vols`` is the instantaneous volatility the vega refers to: sigma for gbm/merton and
    sqrt(v0) for heston/bates. ``growth`` is the expected growth rate of the spot under the
    simulation measure, None meaning risk-neutral (rate - dividends). ``model`` is the
    model's own parameter pytree (`GbmParams`, `HestonParams`, `MertonParams`,
    `BatesParams`), built by the model module's `make_params`.
    """

    spots: jax.Array
    vols: jax.Array
    dividends: jax.Array
    rate: jax.Array  # scalar
    chol: jax.Array  # (assets, assets) lower Cholesky factor of the correlation
    model: Any
    growth: jax.Array | None = None


class State(NamedTuple):
    """Per-path model state: log spots and instantaneous variances, shape (assets,)."""

    x: jax.Array
    v: jax.Array


def growth(p: Params) -> jax.Array:
    return p.rate - p.dividends if p.growth is None else p.growth


def correlate(p: Params, z: jax.Array) -> jax.Array:
    # HIGHEST: float32 matmuls may otherwise run as TF32 on GPUs and lose the correlation.
    # Vmapped over paths, chol @ z became a dot with the paths as its last axis between two
    # transposes of the (paths, assets) normals; measured on 65,536-path chunks: up to 4
    # assets as a sum of columns (no dot: example book 33 -> 29 ms), more as z @ chol.T
    # (paths stay the leading axis: 10-asset basket 122 -> 117 ms).
    n = z.shape[-1]
    if n <= 4:
        out = p.chol[:, 0] * z[0]
        for j in range(1, n):
            out = out + p.chol[:, j] * z[j]
        return out
    return jnp.matmul(z, p.chol.T, precision=jax.lax.Precision.HIGHEST)


def jump_compensator(jp) -> jax.Array:
    """lambda * E[e^J - 1]: the drift that keeps e^{-(mu)t} S_t a martingale with jumps
    (`jp`: model parameters with jump_intensity, jump_mean, jump_std)."""
    return jp.jump_intensity * jnp.expm1(jp.jump_mean + 0.5 * jp.jump_std ** 2)


def log_jumps(jp, n_jumps: jax.Array, z_jump: jax.Array) -> jax.Array:
    """Sum of ``n_jumps`` iid normal log jumps: N mu_J + sqrt(N) sigma_J Z (exact)."""
    return n_jumps * jp.jump_mean + jnp.sqrt(n_jumps) * jp.jump_std * z_jump
