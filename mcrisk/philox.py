"""Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011)
and its conversion to normals, in plain uint32 jnp code.

Why not `jax.random`: its Threefry-2x32 costs 20 rounds of add/rotate/xor per 64 bits; on a
CPU the pricing kernels spent most of their time there. Philox gets 128 bits from 10 rounds
of two 32x32->64 multiplies. The output is the same bits with 64-bit mode on or off: the
high half of a product comes from 16-bit limbs (exact in uint32 arithmetic) when 64-bit
integers are unavailable, and from one uint64 product when they are on, which is the same
integer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_M0 = 0xD2511F53
_M1 = 0xCD9E8D57
_W0 = 0x9E3779B9  # key schedule: golden ratio
_W1 = 0xBB67AE85  # sqrt(3) - 1
ROUNDS = 10


def _mulhilo(m: int, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(high, low) 32-bit halves of the 64-bit product m * x, m a constant."""
    lo = x * np.uint32(m)
    if jax.config.jax_enable_x64:
        hi = ((x.astype(jnp.uint64) * np.uint64(m)) >> np.uint64(32)).astype(jnp.uint32)
        return hi, lo
    # Schoolbook on 16-bit limbs: no partial sum below exceeds 2^32 - 1.
    mh, ml = np.uint32(m >> 16), np.uint32(m & 0xFFFF)
    xh, xl = x >> np.uint32(16), x & np.uint32(0xFFFF)
    t = xl * ml
    u = xh * ml + (t >> np.uint32(16))
    v = xl * mh + (u & np.uint32(0xFFFF))
    hi = xh * mh + (u >> np.uint32(16)) + (v >> np.uint32(16))
    return hi, lo


def philox4x32(counter: tuple[jax.Array, ...], key: tuple[jax.Array, jax.Array],
               rounds: int = ROUNDS) -> tuple[jax.Array, ...]:
    """Philox4x32 bijection of `counter` under `key`.

    Args:
        counter: four uint32 arrays (broadcastable to one shape): the counter words c0..c3.
        key: two uint32 arrays (broadcastable): the key words k0, k1.
        rounds: 10 for Philox4x32-10 (the Random123 default).

    Returns:
        Four uint32 arrays of the broadcast shape, words 0..3 of the output.
    """
    c = tuple(jnp.broadcast_arrays(*(jnp.asarray(x, jnp.uint32) for x in counter)))
    k = tuple(jnp.asarray(x, jnp.uint32) for x in key)
    if rounds % 2:
        raise ValueError(f"rounds must be even, got {rounds}")

    # A loop, not unrolled code: XLA's CPU backend fuses an unrolled chain into each
    # consumer of the four words, recomputing it per word (4x the work in the kernel, 60x
    # where the words are concatenated); the loop's carry stores the state every two rounds.
    def two_rounds(_, ck):
        (c0, c1, c2, c3), (k0, k1) = ck
        for _ in range(2):
            hi0, lo0 = _mulhilo(_M0, c0)
            hi1, lo1 = _mulhilo(_M1, c2)
            c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
            k0, k1 = k0 + np.uint32(_W0), k1 + np.uint32(_W1)
        return (c0, c1, c2, c3), (k0, k1)

    c, _ = jax.lax.fori_loop(0, rounds // 2, two_rounds, (c, k))
    return c


# Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011), single precision:
# erfinv(x) = x p(w) with w = -log(1 - x^2), one polynomial below w = 5, one above.
_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                  0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
               0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _erfinv32(x: jax.Array) -> jax.Array:
    """erfinv of float32 `x` in (-1, 1) whose 1 - x and 1 + x are exact (true of m 2^-24).

    `jax.scipy.special.erfinv` forms 1 - x^2 as log1p(-x * x); the rounding of x * x costs
    up to 97 ulps near |z| = 3.8. From the exact factors (1 - x)(1 + x) the same
    polynomial is within 5 ulps of the exact quantile over all 2^24 inputs, and faster.
    """
    one = np.float32(1.0)
    w = -jnp.log((one - x) * (one + x))
    central = w < 5
    w = jnp.where(central, w - np.float32(2.5), jnp.sqrt(w) - np.float32(3.0))
    p = jnp.where(central, np.float32(_GILES_CENTRAL[0]), np.float32(_GILES_TAIL[0]))
    for c, t in zip(_GILES_CENTRAL[1:], _GILES_TAIL[1:]):
        p = jnp.where(central, np.float32(c), np.float32(t)) + p * w
    return p * x


def words_to_normals(words: tuple[jax.Array, ...], dtype: jnp.dtype) -> tuple[jax.Array, ...]:
    """Standard normals from uniform uint32 words via sqrt(2) erfinv(2u - 1).

    float32 uses 24 bits of one word per normal (4 words -> 4 arrays of normals); float64
    uses 53 bits of a pair of words (words 0, 1 and 2, 3 -> 2 arrays). The argument of
    erfinv is the odd integer m = 2n + 1 - 2^b, |m| < 2^b, times 2^-b: exact in the dtype,
    symmetric about 0 and never +-1, so every normal is finite (|z| < 5.5 in float32,
    < 8.3 in float64).

    Args:
        words: Philox's four uint32 output arrays, one shape.
        dtype: float32 or float64 (the latter needs 64-bit mode).
    """
    dtype = jnp.dtype(dtype)
    scale = np.sqrt(2.0).astype(dtype)
    if dtype == jnp.float32:
        def one(w):
            m = 2 * (w >> np.uint32(8)).astype(jnp.int32) + (1 - 2 ** 24)
            return scale * _erfinv32(m.astype(dtype) * np.float32(2.0 ** -24))
        return tuple(one(w) for w in words)
    if dtype == jnp.float64:
        def two(hi, lo):
            n = (hi.astype(jnp.int64) << 21) | (lo >> np.uint32(11)).astype(jnp.int64)
            m = 2 * n + (1 - 2 ** 53)
            return scale * jax.scipy.special.erfinv(m.astype(dtype) * np.float64(2.0 ** -53))
        return two(words[0], words[1]), two(words[2], words[3])
    raise ValueError(f"normals in {dtype} are not supported (float32 or float64)")


def normals_per_counter(dtype: jnp.dtype) -> int:
    """Normals from one counter's four words."""
    return 2 if jnp.dtype(dtype) == jnp.float64 else 4
