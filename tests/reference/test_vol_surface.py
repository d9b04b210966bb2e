"""`fit_surface` on option chains with a known answer: the synthetic BTC chain against the SSVI
surface that generated it (experiments/data/README.md), and a chain priced by QuantLib at one
flat vol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import QuantLib as ql

from mcrisk.vol.quotes import read_chain
from mcrisk.vol.surface import fit_surface

CHAIN = Path(__file__).resolve().parents[2] / "experiments" / "data" / "btc_eth_chain.csv"
# BTC's generating surface: sigma_atm(T) = vol_inf + (vol_0 - vol_inf) exp(-T / tau), SSVI
# with power-law phi (rho, eta, gamma).
VOL_0, VOL_INF, TAU, RHO, ETA, GAMMA = 0.62, 0.50, 0.15, -0.15, 1.0, 0.45


def _true_vol(k, t):
    """The generating SSVI vol in NumPy, independent of the code under test."""
    theta = (VOL_INF + (VOL_0 - VOL_INF) * np.exp(-t / TAU)) ** 2 * t
    phi = ETA / (theta ** GAMMA * (1.0 + theta) ** (1.0 - GAMMA))
    w = 0.5 * theta * (1.0 + RHO * phi * k + np.sqrt((phi * k + RHO) ** 2 + 1.0 - RHO ** 2))
    return np.sqrt(w / t)


@pytest.fixture(scope="module")
def btc():
    return fit_surface(read_chain(CHAIN), "BTC")


def test_sample_chain_recovers_its_generating_surface(btc):
    r = btc.residuals
    truth = _true_vol(r.k, r.expiry)
    assert btc.expiries.size == 12 and r.k.size == 680
    for t, rmse in zip(btc.expiries, btc.rmse_vol_points):
        mine = r.expiry == t
        noise = 100 * np.sqrt(np.mean((r.market_vol[mine] - truth[mine]) ** 2))
        model = 100 * np.sqrt(np.mean((r.model_vol[mine] - truth[mine]) ** 2))
        # The quotes scatter 0.4-1.2 vol points about the truth; the fit, pooling every
        # expiry, lands within a quarter point of it (a wrong forward, or k from the index,
        # misses by several points at a year).
        assert rmse < 1.0, (t, rmse)
        assert model < 0.3 and model < noise / 2, (t, model, noise)
    assert abs(float(btc.params.rho) - RHO) < 0.02
    assert btc.arbitrage.ok
    assert np.all(np.asarray(btc.arbitrage.g_min) >= 0.0)
    assert np.all(np.asarray(btc.arbitrage.calendar_min) >= 0.0)


def test_vol_between_expiries_is_monotone_in_total_variance(btc):
    t = np.geomspace(0.5 * btc.expiries[0], 1.5 * btc.expiries[-1], 400)
    k = np.linspace(-1.0, 1.0, 21)[:, None]
    strikes = np.exp(k) * np.asarray(btc.forward(t))
    w = np.asarray(btc.vol(strikes, t)) ** 2 * t
    assert np.all(np.diff(w, axis=1) >= -1e-12 * w[:, 1:])
    # At a quoted expiry vol() is that smile, with the forward of that expiry.
    j = 6
    k_q = btc.residuals.k[btc.residuals.expiry == btc.expiries[j]]
    at = np.asarray(btc.vol(btc.forwards[j] * np.exp(k_q), btc.expiries[j]))
    assert np.allclose(at, btc.residuals.model_vol[btc.residuals.expiry == btc.expiries[j]],
                       rtol=0, atol=1e-12)
    # Forwards between expiries: log-linear in T, so the carry rate is constant in between.
    mid = 0.5 * (btc.expiries[j] + btc.expiries[j + 1])
    want = np.sqrt(btc.forwards[j] * btc.forwards[j + 1])
    assert float(btc.forward(mid)) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("method", ["ssvi", "svi"])
def test_flat_vol_chain_gives_a_flat_surface(method):
    vol, rate, rows = 0.6, 0.03, []
    for t, f in ((0.1, 100.5), (0.4, 102.0), (1.0, 105.0)):
        disc = np.exp(-rate * t)
        for k in np.linspace(70.0, 140.0, 15):
            for kind, name in ((ql.Option.Call, "C"), (ql.Option.Put, "P")):
                price = ql.blackFormula(kind, k, f, vol * np.sqrt(t), disc)
                rows.append(dict(underlying="X", expiry=t, strike=k, option_type=name,
                                 forward=f, rate=rate, mid=price))
    surface = fit_surface(read_chain(pd.DataFrame(rows)), "X", method=method)
    strikes = np.linspace(60.0, 160.0, 11)[:, None]
    t = np.array([0.05, 0.1, 0.25, 0.4, 0.7, 1.0, 2.0])
    assert np.abs(np.asarray(surface.vol(strikes, t)) - vol).max() < 1e-4
    assert "implied vol of the mid/mark price (90)" in surface.notes[0]
