"""Streaming mean/variance accumulators that combine exactly across chunks.

Inside a chunk the kernel reduces to (count, mean, M2) in the simulation dtype; the host
merges chunks in float64 in chunk order (Chan et al.), so float32 kernels do not lose
digits over 10^8 paths and results do not depend on the chunk size beyond rounding.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Moments(NamedTuple):
    count: float | np.ndarray
    mean: np.ndarray
    m2: np.ndarray


def chunk_moments(values: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Masked moments over the leading (samples) axis. weights: (samples,) of 0/1.

    A block of padding only (a device's share of a last chunk) has count 0 and mean 0.
    """
    w = weights.reshape((-1,) + (1,) * (values.ndim - 1))
    n = jnp.sum(weights)
    mean = jnp.sum(w * values, axis=0) / jnp.maximum(n, 1)
    m2 = jnp.sum(w * (values - mean) ** 2, axis=0)
    return n, mean, m2


def init(shape: tuple[int, ...]) -> Moments:
    return Moments(0.0, np.zeros(shape), np.zeros(shape))


def update(acc: Moments, n, mean, m2) -> Moments:
    n = float(n)
    if n == 0:
        return acc
    mean = np.asarray(mean, np.float64)
    m2 = np.asarray(m2, np.float64)
    if acc.count == 0:
        return Moments(n, mean, m2)
    tot = acc.count + n
    delta = mean - acc.mean
    return Moments(tot, acc.mean + delta * n / tot, acc.m2 + m2 + delta ** 2 * acc.count * n / tot)


def stderr(acc: Moments) -> np.ndarray:
    """Standard error of the mean over iid samples."""
    return np.sqrt(acc.m2 / max(acc.count - 1.0, 1.0) / acc.count)
