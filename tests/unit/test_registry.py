"""Every model with every payoff family in one book: the simulation dtype is kept, new market
numbers of the same shapes compile nothing, and the kernel vmaps over markets.

The book holds one position of every registered position type, and the models are those of
the registry: a family or model added without an example here fails the first test.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mcrisk.config.build import build
from mcrisk.engine import prepare, price_chunk
from mcrisk.instruments import OF_TYPE
from mcrisk.models import REGISTRY
from tests.compiles import compiled

POSITIONS = [
    dict(type="european", asset="A", option="call", strike=105.0, expiry=0.5),
    dict(type="digital", asset="B", option="put", strike=48.0, cash=10.0, expiry=0.4),
    dict(type="forward", asset="A", strike=100.0, expiry=0.3),
    dict(type="basket", assets=["A", "B"], weights=[1.0, 2.0], option="call", strike=200.0,
         expiry=0.5),
    dict(type="spread", assets=["A", "B"], option="call", strike=50.0, expiry=0.5),
    dict(type="exchange", assets=["A", "B"], expiry=0.5),
    dict(type="best_of", assets=["A", "B"], option="call", strike=80.0, expiry=0.5),
    dict(type="worst_of", assets=["A", "B"], option="put", strike=60.0, expiry=0.5),
    dict(type="asian", asset="A", option="call", strike=100.0, expiry=0.5, fixings=6),
    dict(type="barrier", asset="A", option="put", strike=100.0, barrier=80.0,
         barrier_type="down-and-out", expiry=0.5),
    dict(type="lookback", asset="B", option="put", expiry=0.4),
    dict(type="spot", asset="B", quantity=3.0),
    dict(type="perpetual", asset="A", quantity=-1.0, funding_rate=0.1),
]
HESTON = dict(v0=[0.25, 0.49], kappa=[2.0, 1.5], theta=[0.3, 0.5], xi=[0.8, 0.9],
              rho=[-0.5, -0.3])
JUMPS = dict(jump_intensity=[1.0, 2.0], jump_mean=[-0.1, -0.05], jump_std=[0.2, 0.1])
MODELS = dict(gbm={}, heston=HESTON, merton=JUMPS, bates={**HESTON, **JUMPS})


def test_the_book_and_models_cover_the_registries():
    assert {p["type"] for p in POSITIONS} == set(OF_TYPE)
    assert set(MODELS) == set(REGISTRY)


def _prepared(model: str, dtype: str):
    return prepare(build(dict(
        market=dict(assets=["A", "B"], spot=[100.0, 50.0], vol=[0.5, 0.7], rate=0.03,
                    corr=[[1.0, 0.4], [0.4, 1.0]]),
        model=dict(name=model, **MODELS[model]),
        sim=dict(n_paths=64, n_steps=4, seed=3, dtype=dtype, chunk_size=64),
        greeks=dict(enabled=False), portfolio=dict(positions=POSITIONS))), devices=1)


# Each model once, both dtypes across the set: a compilation per case is the cost.
@pytest.mark.parametrize("model, dtype", [("gbm", "float32"), ("heston", "float64"),
                                          ("merton", "float64"), ("bates", "float32")])
def test_every_family_under_each_model(model, dtype):
    prep = _prepared(model, dtype)
    root = jax.random.key(0)

    def run(params):
        return price_chunk(prep.spec, params, prep.terms, prep.xs, prep.quantities, root,
                           jnp.asarray(0, jnp.uint32), jnp.asarray(prep.n_samples, jnp.int32))

    n, mean, m2 = run(prep.params)
    assert mean.dtype == m2.dtype == jnp.dtype(dtype)
    assert mean.shape[-1] == len(POSITIONS) + 1 and np.all(np.isfinite(np.asarray(mean)))
    p = prep.params
    moved = p._replace(spots=p.spots * 1.1, vols=p.vols * 0.9, rate=p.rate + 0.01)
    with compiled() as names:
        jax.block_until_ready(run(moved))
    assert names == [], names
    if model != "gbm":
        return  # vmap once (a compilation of its own), on the model every other one extends
    # Markets in a batch: each row equals its own call.
    spots = jnp.stack([p.spots, p.spots * 1.1, p.spots * 0.8])
    batch = jax.vmap(lambda s: run(p._replace(spots=s)))(spots)[1]
    tol = 1e-5 if dtype == "float32" else 1e-12
    for i in range(3):
        one = run(p._replace(spots=spots[i]))[1]
        np.testing.assert_allclose(np.asarray(batch[i]), np.asarray(one), rtol=tol,
                                   atol=tol * 100.0)
