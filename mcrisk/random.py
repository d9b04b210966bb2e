"""Key derivation and per-step draws.

Keys come from a fixed schedule, never from call order or chunk index:
``sample_key = fold_in(fold_in(root, STREAM_PATHS), sample_index)``; the normals of step ``k``
are row ``k % BLOCK`` of a block of Philox4x32-10 output with counter ``k // BLOCK`` under
the sample key (see `normal_block`), and jump counts and bridge uniforms (Threefry) come
from ``fold_in(sample_key, k)``. A *sample* is one path, or one antithetic pair
(both members share the key; the mirror negates every normal and reflects every uniform).
So a path's numbers depend only on the seed and its global index: results are the same for
any chunk size or device count.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk import philox

STREAM_PATHS = 1
STREAM_BOOTSTRAP = 2
STREAM_INNER = 3
STREAM_ALLOCATION = 4  # horizon returns of mcrisk.optimize.scenarios
STREAM_DEEP = 5  # training paths and initial weights of mcrisk.hedge.deep
BLOCK = 16  # steps per block of normals
# Counter word 2 of the normals' blocks: keeps their counters apart from any later
# Philox stream under the same sample key.
_NORMAL_STREAM = 2 ** 31 - 1
# What produced the path normals, for the results' provenance.
NORMALS_GENERATOR = ("philox4x32-10, counter (group, step // 16, stream, 0) under the sample "
                     "key; sqrt(2) erfinv(2u - 1) on 24 (float32) / 53 (float64) bits")


class DrawLayout(NamedTuple):
    """Static description of what one step needs (hashable: part of the kernel's spec)."""

    n_assets: int
    variance: bool  # an independent normal per asset for the variance driver
    jumps: bool  # Poisson counts and log-jump normals per asset
    bridge: bool  # two uniforms per asset for Brownian-bridge max/min


class Draws(NamedTuple):
    """One step's draws for one path; arrays have shape (assets,).

    ``z``: independent normals (correlated later by the Cholesky factor); ``b``: independent
    normals for variance drivers; ``n_jumps``: Poisson counts; ``z_jump``: normals for log
    jump sizes; ``u_max``/``u_min``: uniforms in (0, 1] for bridge extrema.
    """

    z: jax.Array
    b: jax.Array
    n_jumps: jax.Array
    z_jump: jax.Array
    u_max: jax.Array
    u_min: jax.Array


def sample_keys(root: jax.Array, start: jax.Array, count: int) -> jax.Array:
    """Keys of samples ``start .. start + count - 1`` (shape (count,))."""
    return index_keys(root, start.astype(jnp.uint32) + jnp.arange(count, dtype=jnp.uint32))


def index_keys(root: jax.Array, index: jax.Array) -> jax.Array:
    """Keys of the samples with global indices `index` (uint32, shape (count,))."""
    stream = jax.random.fold_in(root, STREAM_PATHS)
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(stream, index)


def n_normals(layout: DrawLayout) -> int:
    return layout.n_assets * (1 + layout.variance + layout.jumps)


# Jitted so that a call outside a kernel runs the same fused arithmetic as the kernels do:
# op by op, the erfinv polynomial rounds differently (no fused multiply-adds) by an ulp.
@partial(jax.jit, static_argnames=("layout", "dtype"))
def normal_block(key: jax.Array, step: jax.Array, layout: DrawLayout,
                 dtype: jnp.dtype) -> jax.Array:
    """The normals of the BLOCK steps containing `step`, shape (BLOCK, n_normals).

    The bits are Philox4x32-10 with counter (group, step // BLOCK, stream, 0) under the
    sample key's two words: distinct for every block of every sample, and the same for
    every chunk size, device count and nested start date. Drawing normals dominates the
    kernel's cost on CPU: with Philox bits, one key per sample (no key derivation in the
    scan) and `philox.words_to_normals`, the 252-step Asian's normals take about half the
    time of `jax.random.normal` on per-block Threefry keys (benchmarks/RESULTS.md).
    Rows 0 .. BLOCK / P - 1 come from word 0 of the counters, the next BLOCK / P from word
    1, ... (P = 4 normals per counter in float32, 2 in float64).
    """
    n = n_normals(layout)
    count = BLOCK // philox.normals_per_counter(dtype) * n
    normals = _block_normals(key, jnp.arange(count, dtype=jnp.uint32), step, dtype)
    return jnp.concatenate(normals).reshape(BLOCK, n)


@partial(jax.jit, static_argnames=("layout", "dtype"))
def normal_row(key: jax.Array, step: jax.Array, layout: DrawLayout,
               dtype: jnp.dtype) -> jax.Array:
    """Row ``step % BLOCK`` of `normal_block`, bit for bit, drawn alone: the counters of
    its word group and the one word (float64: pair of words) it takes from them."""
    n = n_normals(layout)
    rows = BLOCK // philox.normals_per_counter(dtype)  # rows per word (pair)
    r = step % BLOCK
    first = (r % rows).astype(jnp.uint32) * np.uint32(n)
    normals = _block_normals(key, first + jnp.arange(n, dtype=jnp.uint32), step, dtype)
    return jnp.stack(normals)[r // rows]


def _block_normals(key: jax.Array, counters: jax.Array, step: jax.Array,
                   dtype: jnp.dtype) -> tuple[jax.Array, ...]:
    """Normals from the words of the given first counter words of `step`'s block, one
    array per word (float64: pair of words)."""
    kd = jax.random.key_data(key).reshape(-1)
    counter = (counters, (step // BLOCK).astype(jnp.uint32), jnp.uint32(_NORMAL_STREAM),
               jnp.uint32(0))
    return philox.words_to_normals(philox.philox4x32(counter, (kd[0], kd[1])), dtype)


def next_normals(key: jax.Array, step: jax.Array, first_step: jax.Array, buffer: jax.Array,
                 layout: DrawLayout, steps: int | None = None) -> tuple[jax.Array, jax.Array]:
    """This step's normals from the block buffer carried through the scan, refilled at a
    block boundary (or at the first step of a scan that starts mid-block).

    `steps`, the scan's length: a scan shorter than a word's share of the block (4 steps
    in float32, 8 in float64; a one-day risk horizon is one step) draws each step's row
    alone, not the whole block for the few rows it uses.
    """
    if steps is not None and steps < BLOCK // philox.normals_per_counter(buffer.dtype):
        return normal_row(key, step, layout, buffer.dtype), buffer
    refill = (step % BLOCK == 0) | (step == first_step)
    buffer = jax.lax.cond(refill, lambda: normal_block(key, step, layout, buffer.dtype),
                          lambda: buffer)
    return buffer[step % BLOCK], buffer


def step_draws(key: jax.Array, step: jax.Array, layout: DrawLayout, mirror: jax.Array,
               jump_rates: jax.Array, dtype: jnp.dtype,
               normals: jax.Array | None = None) -> Draws:
    """Draws for one path at one step.

    Args:
        key: the sample key.
        step: step index (int32 scalar).
        layout: which draws are needed.
        mirror: bool scalar; True for the antithetic member of a pair.
        jump_rates: (assets,) expected jump count over this step (intensity x dt).
        dtype: float dtype of the draws.
        normals: this step's row of `normal_block` (as `next_normals` returns it); drawn
            here when None.
    """
    n = layout.n_assets
    if normals is None:
        normals = normal_block(key, step, layout, dtype)[step % BLOCK]
    if layout.jumps or layout.bridge:
        k_unif, k_pois = jax.random.split(jax.random.fold_in(key, step))
    normals = jnp.where(mirror, -normals, normals)
    z = normals[:n]
    b = normals[n:2 * n] if layout.variance else jnp.zeros((0,), dtype)
    z_jump = normals[n * (1 + layout.variance):] if layout.jumps else jnp.zeros((0,), dtype)
    if layout.jumps:
        # Counts are shared by both members of a pair; only the sizes are mirrored.
        n_jumps = jax.random.poisson(k_pois, jump_rates, (n,)).astype(dtype)
    else:
        n_jumps = jnp.zeros((0,), dtype)
    if layout.bridge:
        w = jax.random.uniform(k_unif, (2 * n,), dtype)
        u = jnp.where(mirror, w, 1.0 - w)
        u = jnp.maximum(u, jnp.finfo(dtype).tiny)
        u_max, u_min = u[:n], u[n:]
    else:
        u_max = u_min = jnp.zeros((0,), dtype)
    return Draws(z=z, b=b, n_jumps=n_jumps, z_jump=z_jump, u_max=u_max, u_min=u_min)
