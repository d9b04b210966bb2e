"""Horizon returns of a set of assets for allocation: a correlated Merton terminal draw.

mcrisk's engine (`mcrisk.simulate`, `mcrisk.riskengine.scenarios`) simulates paths to price
and revalue a book of positions; it has no entry point that returns the assets' terminal
values alone, and an allocation needs only those, at one horizon. So they are drawn here,
exactly (no time stepping is needed for a terminal value under Merton's model):

    ln(S_T / S_0) = (mu - vol^2 / 2 - lam k) T + vol sqrt(T) Z + sum_{j <= N} Y_j,
    N ~ Poisson(lam T), Y_j ~ N(m, s^2), k = exp(m + s^2 / 2) - 1,

with Z correlated across assets (the correlation factor of `mcrisk.corr`) and jumps
independent across assets, so that ``E[S_T / S_0] = exp(mu T)``: mu is the expected
(continuously compounded) return, a stablecoin's yield, a token's expected growth. The sum
of N normal jumps is drawn as ``N m + sqrt(N) s Z'``. Keys follow `mcrisk.random`: one root
key per seed and a stream of its own.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk import corr as corrlib
from mcrisk.random import STREAM_ALLOCATION

__all__ = ["simulate_returns"]


@partial(jax.jit, static_argnames=("n",))
def _draw(key, n: int, horizon, mu, vol, chol, lam, jm, js):
    k_z, k_n, k_j = jax.random.split(key, 3)
    m = mu.shape[0]
    z = jax.random.normal(k_z, (n, m), mu.dtype) @ chol.T
    count = jax.random.poisson(k_n, lam * horizon, (n, m)).astype(mu.dtype)
    jumps = count * jm + jnp.sqrt(count) * js * jax.random.normal(k_j, (n, m), mu.dtype)
    comp = lam * jnp.expm1(jm + 0.5 * js * js)
    log_r = (mu - 0.5 * vol * vol - comp) * horizon + vol * jnp.sqrt(horizon) * z + jumps
    return jnp.expm1(log_r)


def simulate_returns(seed: int, n: int, horizon: float, mean, vol, corr, jump_rate=0.0,
                     jump_mean=0.0, jump_std=0.0) -> np.ndarray:
    """``(n, m)`` simple returns ``S_T / S_0 - 1`` of m assets over `horizon` years.

    Args:
      seed: the root key's seed.
      n: scenarios.
      horizon: years (ACT/365).
      mean, vol, jump_rate, jump_mean, jump_std: ``(m,)`` annual expected return (continuous),
        diffusive vol, jumps per year, mean and std of the log jump size.
      corr: ``(m, m)`` correlation of the diffusions.

    The caller checks the inputs (`mcrisk.config.allocation`).
    """
    f = lambda a: jnp.asarray(np.asarray(a, np.float64),  # noqa: E731
                              jax.dtypes.canonicalize_dtype(np.float64))
    m = len(mean)
    b = lambda a: np.broadcast_to(np.asarray(a, np.float64), (m,))  # noqa: E731
    key = jax.random.fold_in(jax.random.key(seed), STREAM_ALLOCATION)
    out = _draw(key, n, f(horizon), f(mean), f(vol), f(corrlib.factor(np.asarray(corr))),
                f(b(jump_rate)), f(b(jump_mean)), f(b(jump_std)))
    return np.asarray(out, np.float64)
