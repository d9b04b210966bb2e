"""Distribution checks of the drivers: normality (KS) and the correlation structure."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import mcrisk
from mcrisk.engine import prepare
from mcrisk.random import DrawLayout, sample_keys, step_draws
from mcrisk.simulate import sample_payoffs


def test_step_normals_are_standard_normal_and_mirrored():
    keys = sample_keys(jax.random.key(0), jnp.asarray(0, jnp.uint32), 20_000)
    layout = DrawLayout(n_assets=2, variance=True, jumps=False, bridge=True)

    def draw(k, mirror):
        return step_draws(k, jnp.asarray(3, jnp.int32), layout, jnp.asarray(mirror),
                          jnp.zeros(2), jnp.float64)

    d = jax.vmap(lambda k: draw(k, False))(keys)
    m = jax.vmap(lambda k: draw(k, True))(keys)
    z = np.asarray(d.z).ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert stats.kstest(np.asarray(d.u_max).ravel(), "uniform").pvalue > 1e-3
    np.testing.assert_array_equal(np.asarray(m.z), -np.asarray(d.z))
    np.testing.assert_allclose(np.asarray(m.u_max), 1.0 - np.asarray(d.u_max), atol=1e-15)
    # Independent streams: spot and variance normals uncorrelated.
    r = np.corrcoef(np.asarray(d.z)[:, 0], np.asarray(d.b)[:, 0])[0, 1]
    assert abs(r) < 4 / math.sqrt(len(z) / 2)


@pytest.mark.parametrize("model", [
    dict(name="gbm"),
    dict(name="heston", kappa=1.0, theta=0.3, xi=0.5, rho=[-0.7, 0.2]),
])
def test_log_return_correlation_matches_market(model):
    """One short step: corr(d log S1, d log S2) = C (spot-spot correlation is exact)."""
    c = 0.65
    cfg = dict(market=dict(assets=["A", "B"], spot=[100.0, 100.0], vol=[0.5, 0.6], rate=0.0,
                           corr=[[1.0, c], [c, 1.0]]),
               model=model,
               sim=dict(n_paths=40_000, n_steps=1, antithetic=False, dtype="float64",
                        chunk_size=40_000),
               greeks=dict(enabled=False),
               portfolio=dict(positions=[
                   dict(type="forward", asset=a, strike=100.0, expiry=1 / 365) for a in "AB"]))
    prep = prepare(mcrisk.build(cfg))
    keys = sample_keys(jax.random.key(1), jnp.asarray(0, jnp.uint32), 40_000)
    vals = jax.vmap(lambda k: sample_payoffs(prep.spec, prep.params, prep.terms, prep.xs, k))(
        keys)
    log_ret = np.log(np.asarray(vals) + 100.0) - math.log(100.0)
    r = np.corrcoef(log_ret.T)[0, 1]
    se = (1 - c ** 2) / math.sqrt(40_000)
    assert abs(r - c) <= 4 * se, (r, c, se)


def test_block_normals_depend_on_the_step_only():
    """A scan that starts mid-block (nested paths from a later date) sees the same normals
    for the same global step as one that starts at zero."""
    from mcrisk.random import BLOCK, n_normals, next_normals, normal_block

    layout = DrawLayout(n_assets=2, variance=False, jumps=False, bridge=False)
    key = jax.random.key(3)

    def scan_from(start, stop):
        def body(buf, k):
            z, buf = next_normals(key, k, jnp.asarray(start, jnp.int32), buf, layout)
            return buf, z

        steps = jnp.arange(start, stop, dtype=jnp.int32)
        return jax.lax.scan(body, jnp.zeros((BLOCK, n_normals(layout)), jnp.float32), steps)[1]

    full = np.asarray(scan_from(0, 3 * BLOCK))
    late = np.asarray(scan_from(BLOCK + 5, 3 * BLOCK))
    np.testing.assert_array_equal(late, full[BLOCK + 5:])
    np.testing.assert_array_equal(
        full[2 * BLOCK + 1], np.asarray(normal_block(key, jnp.asarray(2 * BLOCK + 1), layout,
                                                     jnp.float32))[1])
    assert len(np.unique(full.round(6))) == full.size  # no block repeats another
