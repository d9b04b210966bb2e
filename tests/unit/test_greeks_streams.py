"""The Greeks kernel's shared tangent streams against plain forward-mode AD of the path.

`simulate.path_greeks` carries one spot, one vol and one rate direction through the scan and
splits them per asset only at the payoff, relying on every carry entry being a function of
one asset (`simulate.owners`). The reference here is what that replaces: nested `jax.jvp`
of the whole path's payoffs along each spot pair, and `jax.jvp` along each vol and the rate,
one direction at a time. On a book with every payoff family, single- and multi-asset rows
and all four models, per path in float64, the two agree to rounding; a family whose
statistics mixed assets, or a wrong owner, would be off by whole Greeks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mcrisk.config import build
from mcrisk.engine import prepare, spot_pairs, use_dtype
from mcrisk.random import index_keys
from mcrisk.simulate import sample_greeks, sample_payoffs

MODELS = {
    "gbm": dict(name="gbm"),
    "merton": dict(name="merton", jump_intensity=1.0, jump_mean=-0.1, jump_std=0.15),
    "heston": dict(name="heston", v0=[0.36, 0.49, 0.25], kappa=2.0, theta=[0.36, 0.49, 0.25],
                   xi=0.8, rho=-0.5),
    "bates": dict(name="bates", v0=[0.36, 0.49, 0.25], kappa=2.0, theta=[0.36, 0.49, 0.25],
                  xi=0.8, rho=-0.5, jump_intensity=1.0, jump_mean=-0.1, jump_std=0.15),
}


def _cfg(model: str) -> dict:
    pos = [
        dict(name="call", type="european", asset="A", option="call", strike=100.0,
             expiry=0.5, quantity=2.0),
        dict(name="dig", type="digital", asset="C", option="put", strike=50.0, expiry=0.25,
             cash=10.0),
        dict(name="dao", type="barrier", asset="B", option="put", strike=95.0, barrier=80.0,
             barrier_type="down-and-out", expiry=0.5, quantity=-3.0),
        dict(name="asian", type="asian", asset="A", option="call", strike=100.0, expiry=0.5,
             fixings=6, average="arithmetic"),
        dict(name="look", type="lookback", asset="C", option="call", expiry=0.5),
        dict(name="perp", type="perpetual", asset="B", quantity=-1.0),
        dict(name="basket", type="basket", assets=["A", "B", "C"], weights=[0.5, 0.3, 0.2],
             option="call", strike=85.0, expiry=0.5),
        dict(name="exch", type="exchange", assets=["A", "B"], expiry=0.25, quantity=1.5),
    ]
    return dict(
        market=dict(assets=["A", "B", "C"], spot=[100.0, 95.0, 50.0], vol=[0.6, 0.7, 0.5],
                    dividend=[0.01, 0.0, 0.02], rate=0.03,
                    corr=[[1.0, 0.5, 0.3], [0.5, 1.0, 0.2], [0.3, 0.2, 1.0]]),
        model=MODELS[model],
        sim=dict(n_paths=16, n_steps=12, seed=9, dtype="float64", chunk_size=16,
                 min_steps=12),
        greeks=dict(enabled=True, cross_gamma=True),
        portfolio=dict(positions=pos))


def _reference(prep, key) -> jnp.ndarray:
    """Rows of one sample by jvps of the whole path: nested along each spot pair, first
    order along each vol and the rate (directions batched by vmap)."""
    spec, params, terms, xs = prep.spec, prep.params, prep.terms, prep.xs
    n = spec.book.n_assets
    eye = jnp.eye(n, dtype=params.spots.dtype)
    pi, pj = spot_pairs(n, True)

    def f(s, v, r):
        return sample_payoffs(spec, params._replace(spots=s, vols=v, rate=r), terms, xs, key)

    def pair(a, b):
        def d1(s):
            return jax.jvp(lambda s_: f(s_, params.vols, params.rate), (s,), (a,))[1]
        return jax.jvp(d1, (params.spots,), (b,))

    first, second = jax.vmap(pair)(eye[pi], eye[pj])
    dv = jnp.concatenate([eye, jnp.zeros((1, n), eye.dtype)])
    dr = jnp.zeros((n + 1,), eye.dtype).at[n].set(1.0)
    other = jax.vmap(lambda a, b: jax.jvp(lambda v, r: f(params.spots, v, r),
                                          (params.vols, params.rate), (a, b))[1])(dv, dr)
    return jnp.concatenate([first[:n], second[:n], other, second[n:]])


@pytest.mark.parametrize("model", [
    "gbm",  # the default tier's (23 s); the others compile twice as long
    # bates: heston's variance, merton's jumps and the stochastic-variance likelihood ratio
    pytest.param("bates", marks=pytest.mark.slow), pytest.param("merton", marks=pytest.mark.slow),
    pytest.param("heston", marks=pytest.mark.slow)])
def test_shared_streams_equal_plain_forward_mode(model):
    use_dtype("float64")
    prep = prepare(build(_cfg(model)), greeks=True)
    assert -2 in prep.spec.row_assets and max(prep.spec.row_assets) == 2
    keys = index_keys(jax.random.key(prep.problem.sim.seed), jnp.arange(4, dtype=jnp.uint32))
    got = jax.jit(jax.vmap(lambda k: jnp.concatenate(
        sample_greeks(prep.spec, prep.params, prep.terms, prep.xs, k, True))))(keys)
    want = jax.jit(jax.vmap(lambda k: _reference(prep, k)))(keys)
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape == (4, 3 * 3 + 1 + 3, len(prep.problem.positions))
    # Each Greek row on its own scale (gammas are 1e-4 of deltas here).
    scale = np.abs(want).max(axis=(0, 2), keepdims=True) + 1e-300
    err = np.abs(got - want) / scale
    assert err.max() < 1e-9, (model, np.unravel_index(err.argmax(), err.shape), err.max())
    # Not vacuous: every kind of row is exercised and nonzero somewhere.
    assert (np.abs(want).max(axis=(0, 2)) > 0).all()
