"""Philox4x32-10 against Random123's known answers, and the path normals against the normal
law: moments, Kolmogorov-Smirnov, and correlation between neighbouring draws."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from mcrisk import philox
from mcrisk.random import BLOCK, DrawLayout, index_keys, normal_block

# Random123 kat_vectors: philox4x32 10 rounds, (counter, key, output).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("counter, key, expected", KAT)
def test_known_answers(counter, key, expected, x64):
    # 64-bit mode changes how the high half of a product is formed, not the result.
    with jax.enable_x64(x64):
        out = jax.jit(philox.philox4x32)(tuple(np.uint32(c) for c in counter),
                                         tuple(np.uint32(k) for k in key))
    assert [int(w) for w in out] == list(expected)


def test_mulhi_agrees_with_integer_product_with_and_without_x64():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 2 ** 32, 4096, dtype=np.uint64).astype(np.uint32)
    x[:3] = [0, 1, 0xFFFFFFFF]
    for m in (philox._M0, philox._M1):
        prod = x.astype(object) * m
        for x64 in (False, True):
            with jax.enable_x64(x64):
                hi, lo = jax.jit(lambda a, m=m: philox._mulhilo(m, a))(jnp.asarray(x))
            assert np.array_equal(np.asarray(hi).astype(object), prod >> 32)
            assert np.array_equal(np.asarray(lo).astype(object), prod & 0xFFFFFFFF)


@pytest.mark.parametrize("dtype, bits", [("float32", 24), ("float64", 53)])
def test_word_mapping_extremes_are_finite_quantiles(dtype, bits):
    """All-zero and all-one words give the normal quantiles of 2^-(b+1) and 1 - 2^-(b+1);
    the middle word gives the smallest step above 0 (b mantissa bits, open interval)."""
    first = jnp.asarray([0, 0xFFFFFFFF, 0x80000000], jnp.uint32)
    second = jnp.asarray([0, 0xFFFFFFFF, 0], jnp.uint32)  # float64's low bits
    words = (first, second, first, second)
    z = np.asarray(philox.words_to_normals(words, jnp.dtype(dtype))[0], np.float64)
    tail = stats.norm.ppf(2.0 ** -(bits + 1))
    rtol = 2e-6 if dtype == "float32" else 1e-12
    assert z[0] == pytest.approx(tail, rel=rtol) and z[1] == pytest.approx(-tail, rel=rtol)
    assert z[2] == pytest.approx(np.sqrt(2 * np.pi) * 2.0 ** -(bits + 1), rel=rtol)


def _normals(dtype, n_assets=4, samples=4096, blocks=4):
    """(samples, blocks * BLOCK, n_assets) normals of the kernels' schedule: 2^20 draws."""
    layout = DrawLayout(n_assets=n_assets, variance=False, jumps=False, bridge=False)
    keys = index_keys(jax.random.key(11), jnp.arange(samples, dtype=jnp.uint32))

    def path(key):
        steps = jnp.arange(blocks * BLOCK, dtype=jnp.int32)
        return jax.vmap(lambda k: normal_block(key, k, layout, jnp.dtype(dtype))[k % BLOCK])(
            steps)

    return np.asarray(jax.jit(jax.vmap(path))(keys), np.float64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normals_moments_ks_and_neighbour_correlations(dtype):
    z = _normals(dtype)
    x = z.ravel()
    n = x.size
    assert n == 2 ** 20 and np.isfinite(x).all()
    # Standard errors of the sample mean, variance, skewness and excess kurtosis.
    centred = x - x.mean()
    m2 = np.mean(centred ** 2)
    moments = [(x.mean(), 0.0, 1 / np.sqrt(n)), (x.var(), 1.0, np.sqrt(2 / n)),
               (np.mean(centred ** 3) / m2 ** 1.5, 0.0, np.sqrt(6 / n)),
               (np.mean(centred ** 4) / m2 ** 2 - 3, 0.0, np.sqrt(24 / n))]
    for value, ref, se in moments:
        assert abs(value - ref) <= 4 * se, (value, ref, se)
    ks = stats.kstest(x, stats.norm.cdf)
    assert ks.pvalue > 1e-4, ks
    # Neighbours: adjacent normals of one step (consecutive counters), one word apart in a
    # counter (rows BLOCK / 4 apart share a counter in float32), adjacent steps, the next
    # block, and adjacent samples (consecutive sample keys).
    quarter = BLOCK // philox.normals_per_counter(dtype)
    pairs = {"asset": (z[:, :, :-1], z[:, :, 1:]),
             "word": (z[:, :-quarter], z[:, quarter:]),
             "step": (z[:, :-1], z[:, 1:]),
             "block": (z[:, :-BLOCK], z[:, BLOCK:]),
             "sample": (z[:-1], z[1:])}
    for name, (a, b) in pairs.items():
        r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        assert abs(r) <= 4 / np.sqrt(a.size), (name, r)


def test_float32_normals_identical_with_and_without_x64():
    layout = DrawLayout(n_assets=3, variance=True, jumps=False, bridge=False)
    keys = index_keys(jax.random.key(5), jnp.arange(64, dtype=jnp.uint32))
    f = jax.vmap(lambda k: normal_block(k, jnp.int32(37), layout, jnp.float32))
    on = jax.jit(f)(keys)
    with jax.enable_x64(False):
        off = jax.jit(f)(keys)
    assert np.array_equal(np.asarray(on), np.asarray(off))


def test_every_float32_normal_is_within_8_ulps_of_the_exact_quantile():
    """All 2^24 values the float32 mapping can take, against scipy's float64 quantile."""
    n = np.arange(2 ** 24, dtype=np.uint32)
    words = (jnp.asarray(n << np.uint32(8)),) * 4
    z = np.asarray(jax.jit(lambda w: philox.words_to_normals(w, jnp.float32)[0])(words),
                   np.float64)
    exact = stats.norm.ppf((n + 0.5) * 2.0 ** -24)
    assert np.max(np.abs(z - exact) / np.abs(exact)) <= 8 * 2.0 ** -24


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_row_drawn_alone_is_the_blocks_row(dtype):
    """Short scans (a one-step risk horizon) draw one step's row alone: it must be that row
    of the block, bit for bit, at every position in the block and for later blocks."""
    from mcrisk.random import normal_row

    layout = DrawLayout(n_assets=3, variance=True, jumps=False, bridge=False)
    keys = index_keys(jax.random.key(7), jnp.arange(3, dtype=jnp.uint32))
    for key in keys:
        for block in (0, 5):
            full = np.asarray(normal_block(key, jnp.int32(block * BLOCK), layout, dtype))
            for r in range(BLOCK):
                row = np.asarray(normal_row(key, jnp.int32(block * BLOCK + r), layout, dtype))
                np.testing.assert_array_equal(row, full[r])
