"""Splitting a chunk's samples over the local devices.

A chunk kernel maps a per-sample function over the vector of global sample indices. That
vector is split over a 1-D mesh of devices (`shard_map`) and each device derives its keys
from the indices it holds, so every sample's numbers are the same for any device count.
Each device reduces its samples to moments; the host merges them in device order, in
float64, exactly as it merges chunks (`mcrisk.stats`), so sums differ between device
counts only by rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from mcrisk import stats
from mcrisk.random import index_keys

AXIS = "samples"


def local_device_count() -> int:
    """Devices a chunk is split over by default: every device of this process (on a CPU,
    the host devices the command line asked XLA for, one per core by default)."""
    return jax.local_device_count()


def chunk_samples(samples: int, devices: int) -> int:
    """`samples` rounded up to a multiple of `devices` (the padding is masked)."""
    return -(-samples // devices) * devices


@lru_cache(maxsize=None)
def sample_mesh(devices: int) -> Mesh:
    """1-D mesh over the first `devices` local devices."""
    local = jax.local_devices()
    if devices > len(local):
        raise ValueError(f"{devices} devices asked for, {len(local)} available")
    return Mesh(np.array(local[:devices]), (AXIS,))


def over_samples(fn: Callable, start: jax.Array, samples: int, devices: int):
    """Apply `fn(index)` to the global sample indices ``start .. start + samples - 1``,
    split over `devices` devices.

    `fn` takes a (samples // devices,) uint32 vector of indices and returns arrays (or a
    pytree of them) whose leading axis is that device's share; the result concatenates the
    shares in device order (the leading axis of `fn`'s output, so a per-device reduction
    returns shape (1, ...) and the result has one row per device). Anything `fn` closes
    over is replicated.
    """
    return over_indices(fn, start.astype(jnp.uint32) + jnp.arange(samples, dtype=jnp.uint32),
                        devices)


def over_indices(fn: Callable, idx: jax.Array, devices: int, out_axes=0):
    """`over_samples` on given global indices (samples,) uint32, e.g. a tail's scenarios
    picked out of order for a second pass. `out_axes`: the axis of each output that runs
    over the samples (an int for all, or a pytree of ints matching `fn`'s output)."""
    if devices == 1:
        return fn(idx)
    spec = PartitionSpec(AXIS)
    outs = jax.tree_util.tree_map(lambda a: PartitionSpec(*([None] * a + [AXIS])), out_axes)
    # check_vma off: per-sample code (lax.cond on a block boundary, say) mixes values that
    # vary by device with replicated ones; every output is per-device, split by its spec.
    return jax.shard_map(fn, mesh=sample_mesh(devices), in_specs=spec, out_specs=outs,
                         check_vma=False)(idx)


def sharded_moments(per_sample: Callable, root: jax.Array, start: jax.Array,
                    n_valid: jax.Array, samples: int, devices: int):
    """Moments of ``per_sample(keys)`` over one chunk, one row per device.

    Args:
        per_sample: maps (k,) sample keys to values of shape (k, ...), or to a tuple of
            such arrays (k, rows_i, ...), whose moments are concatenated along the rows.
        root: the run's root key; sample i's key is `random.index_keys(root, i)`.
        start: uint32 global index of the chunk's first sample.
        n_valid: int32; samples past it are padding and carry weight 0.
        samples: chunk size, a multiple of `devices`.
        devices: devices the chunk is split over.

    Returns:
        (count (devices,), mean (devices, ...), m2 (devices, ...)); merge the rows with
        `stats.update` in order.
    """
    first = start.astype(jnp.uint32)
    last = first + n_valid.astype(jnp.uint32)

    def local(idx):
        vals = per_sample(index_keys(root, idx))
        # A tuple's parts are reduced on their own, then joined: parts computed from shared
        # intermediates (the Greeks rows of one payoff) and concatenated first would be one
        # fusion that evaluates every shared intermediate once per part.
        parts = vals if isinstance(vals, tuple) else (vals,)
        weights = (idx < last).astype(parts[0].dtype)
        moments = [stats.chunk_moments(v, weights) for v in parts]
        out = moments[0] if len(moments) == 1 else (
            moments[0][0], jnp.concatenate([m[1] for m in moments]),
            jnp.concatenate([m[2] for m in moments]))
        return jax.tree_util.tree_map(lambda a: a[None], out)

    return over_samples(local, start, samples, devices)
