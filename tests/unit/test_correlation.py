"""Correlation matrices that pass validation must factor: one tolerance, one factorisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

import mcrisk
from mcrisk import ConfigError
from mcrisk import corr as corrlib

S0, K, T, VOL = 100.0, 105.0, 0.5, 0.4


def _bs_call(s, k, t, vol):
    d1 = (np.log(s / k) + 0.5 * vol ** 2 * t) / (vol * np.sqrt(t))
    return s * norm.cdf(d1) - k * norm.cdf(d1 - vol * np.sqrt(t))


def _near_singular(min_eig: float) -> np.ndarray:
    """A and B perfectly correlated, C tilted by d: smallest eigenvalue exactly `min_eig`."""
    def mk(d):
        return np.array([[1.0, 1.0, 0.5 + d], [1.0, 1.0, 0.5 - d], [0.5 + d, 0.5 - d, 1.0]])

    return mk(brentq(lambda d: np.linalg.eigvalsh(mk(d)).min() - min_eig, 1e-9, 1e-3))


def _basket_price(corr: np.ndarray) -> dict:
    n = corr.shape[0]
    cfg = dict(
        market=dict(assets=["A", "B", "C"][:n], spot=[S0] * n, vol=[VOL] * n, rate=0.0,
                    corr=corr.tolist()),
        sim=dict(n_paths=20_000, n_steps=1, seed=3, dtype="float64", chunk_size=20_000),
        greeks=dict(enabled=False),
        # Half of A plus half of B, perfectly correlated with equal spots and vols, is A.
        portfolio=dict(positions=[dict(type="basket", assets=["A", "B"], weights=[0.5, 0.5],
                                       option="call", strike=K, expiry=T)]))
    return mcrisk.price(cfg)["positions"][0]


@pytest.mark.parametrize("corr", [np.array([[1.0, 1.0], [1.0, 1.0]]), _near_singular(-5e-11)],
                         ids=["perfect", "min_eig=-5e-11"])
def test_singular_correlation_accepted_and_simulated(corr):
    # Both passed the PSD check and then crashed in Cholesky (jitter 1e-14 < 5e-11).
    got = _basket_price(corr)
    ref = _bs_call(S0, K, T, VOL)
    assert abs(got["value"] - ref) <= 4 * got["stderr"], (got["value"], ref, got["stderr"])


def test_factor_reproduces_the_matrix_within_the_tolerance():
    c = _near_singular(-5e-11)
    f = corrlib.factor(c)
    assert np.allclose(np.tril(f), f)
    assert np.abs(f @ f.T - c).max() <= corrlib.PSD_TOL
    with pytest.raises(ConfigError, match="smallest eigenvalue"):
        corrlib.factor(_near_singular(-1e-8))
