"""SVI and SSVI smiles against independent references: quotes generated from known surfaces
(recovered to 0.05 vol points), the lognormal density and QuantLib's Black prices
(Breeden–Litzenberger by finite differences), and the published arbitrageable slice of
Axel Vogt (Gatheral & Jacquier 2014, Example 3.1)."""

from __future__ import annotations

import numpy as np
import pytest
import QuantLib as ql
from scipy import stats

from mcrisk.vol import ssvi
from mcrisk.vol.fit import fit_svi
from mcrisk.vol.svi import SviParams, arbitrage_report, density, durrleman_g

# Four arbitrage-free raw SVI slices, 1 week to 1 year.
SVI_T = np.array([7, 30, 91, 365]) / 365.0
SVI_TRUE = SviParams(np.array([0.002, 0.01, 0.03, 0.15]), np.array([0.02, 0.05, 0.1, 0.2]),
                     np.array([-0.2, -0.1, 0.1, 0.15]), np.array([0.0, 0.02, 0.05, 0.1]),
                     np.array([0.05, 0.1, 0.2, 0.3]))
# Crypto-like SSVI: ATM vol 80% at one week down to 55% at one year.
SSVI_T = np.array([7, 14, 30, 60, 91, 182, 365]) / 365.0
SSVI_TRUE = ssvi.SsviParams(np.array(-0.1), np.array(1.2), np.array(0.4),
                            np.array([0.80, 0.75, 0.70, 0.65, 0.62, 0.58, 0.55]) ** 2 * SSVI_T,
                            SSVI_T)
VOGT = SviParams(*(np.array([x]) for x in (-0.0410, 0.1331, 0.3060, 0.3586, 0.4153)))
NOISE = 0.005  # half a vol point


def _svi_w(p, i, k):
    """Raw SVI total variance in NumPy, independent of the code under test."""
    a, b, rho, m, s = (np.asarray(x)[i] for x in p)
    return a + b * (rho * (k - m) + np.sqrt((k - m) ** 2 + s * s))


def _svi_quotes():
    k = np.concatenate([np.linspace(-1.0, 1.0, 21) * 1.2 * np.sqrt(t) for t in SVI_T])
    t = np.repeat(SVI_T, 21)
    i = np.repeat(np.arange(SVI_T.size), 21)
    return k, t, np.sqrt(np.array([_svi_w(SVI_TRUE, j, x) for j, x in zip(i, k)]) / t)


def _ssvi_w(p, k, t):
    """SSVI total variance in NumPy at quoted expiries (theta read off directly)."""
    th = np.interp(t, p.expiries, p.thetas)
    phi = p.eta / (th ** p.gamma * (1 + th) ** (1 - p.gamma))
    return th / 2 * (1 + p.rho * phi * k + np.sqrt((phi * k + p.rho) ** 2 + 1 - p.rho ** 2))


def _ssvi_quotes():
    k = np.concatenate([np.linspace(-1.0, 1.0, 15) * 2 * np.sqrt(th) for th in SSVI_TRUE.thetas])
    t = np.repeat(SSVI_T, 15)
    return k, t, np.sqrt(_ssvi_w(SSVI_TRUE, k, t) / t)


def test_svi_recovers_known_slices_and_fits_noise_to_its_level():
    k, t, vols = _svi_quotes()
    fit = fit_svi(k, t, vols)
    assert np.all(fit.rmse_vol_points < 0.05), fit.rmse_vol_points
    for f, e in zip(fit.params, SVI_TRUE):
        np.testing.assert_allclose(f, e, atol=1e-6)
    assert fit.arbitrage.ok

    noisy = vols + NOISE * np.random.default_rng(7).standard_normal(vols.size)
    fit = fit_svi(k, t, noisy)
    # 21 quotes and 5 parameters per slice: the residual RMSE is about noise * sqrt(16/21).
    assert np.all(fit.rmse_vol_points < 1.3 * 100 * NOISE), fit.rmse_vol_points
    assert np.all(fit.rmse_vol_points > 0.5 * 100 * NOISE), fit.rmse_vol_points
    fitted = np.sqrt(np.array([_svi_w(fit.params, j, x) for j, x in
                               zip(np.repeat(np.arange(4), 21), k)]) / t)
    assert np.sqrt(np.mean((fitted - vols) ** 2)) < NOISE


def test_ssvi_recovers_crypto_surface_and_fits_noise_to_its_level():
    k, t, vols = _ssvi_quotes()
    fit = ssvi.fit_ssvi(k, t, vols)
    assert np.all(fit.rmse_vol_points < 0.05), fit.rmse_vol_points
    for name in ("rho", "eta", "gamma", "thetas"):
        np.testing.assert_allclose(getattr(fit.params, name), getattr(SSVI_TRUE, name), atol=1e-6)

    noisy = vols + NOISE * np.random.default_rng(3).standard_normal(vols.size)
    fit = ssvi.fit_ssvi(k, t, noisy)
    # 15 quotes per expiry: a slice's residual RMSE scatters by about 20% around the noise.
    assert np.sqrt(np.mean(fit.rmse_vol_points ** 2)) < 1.2 * 100 * NOISE, fit.rmse_vol_points
    assert np.all(fit.rmse_vol_points < 1.6 * 100 * NOISE), fit.rmse_vol_points
    fitted = np.sqrt(_ssvi_w(fit.params, k, t) / t)
    # 105 quotes, 10 parameters: the surface itself is recovered far inside the noise.
    assert np.sqrt(np.mean((fitted - vols) ** 2)) < 0.3 * NOISE


def test_ssvi_fit_is_arbitrage_free_between_and_beyond_expiries():
    k, t, vols = _ssvi_quotes()
    noisy = vols + NOISE * np.random.default_rng(5).standard_normal(vols.size)
    p = ssvi.fit_ssvi(k, t, noisy).params
    assert float(p.eta) * (1 + abs(float(p.rho))) <= 2.0
    assert 0.0 < float(p.gamma) <= 0.5
    grid_t = np.unique(np.concatenate([np.geomspace(1 / 365, 3.0, 40), SSVI_T]))
    th = np.asarray(ssvi.theta(p, grid_t))
    assert np.all(np.diff(th) >= 0)
    report = arbitrage_report(ssvi.slices(p, grid_t), grid_t, half_widths=np.full(grid_t.size, 2.0))
    assert report.ok, report.lines()
    # Independent check of calendar monotonicity in NumPy at k = +-1 (the wings cross first).
    for kk in (-1.0, 1.0):
        w = [float(ssvi.total_variance(p, kk, x)) for x in grid_t]
        assert np.all(np.diff(w) >= 0)


def test_flat_smile_density_is_the_lognormal():
    vol, t = 0.7, 0.5
    flat = SviParams(np.array(vol * vol * t), np.array(0.0), np.array(0.0), np.array(0.0),
                     np.array(0.1))
    k = np.linspace(-3, 3, 121)
    # ln(S_T/F) ~ N(-vol^2 t/2, vol^2 t); per unit of k the lognormal pdf of S_T/F times e^k.
    ref = stats.lognorm.pdf(np.exp(k), s=vol * np.sqrt(t), scale=np.exp(-0.5 * vol * vol * t))
    np.testing.assert_allclose(np.asarray(density(flat, k)), ref * np.exp(k), rtol=0, atol=1e-8)


def _ql_density(p, i, t, strikes, forward, h):
    """d^2 C / dK^2 of undiscounted Black prices at the slice's vols (QuantLib), per unit of K.

    Out-of-the-money options (puts below the forward) keep the rounding of the second
    difference small: it scales with the price, not with the intrinsic value.
    """
    def price(kk, kind):
        vol = np.sqrt(_svi_w(p, i, np.log(kk / forward)) / t)
        return ql.blackFormula(kind, kk, forward, vol * np.sqrt(t))
    out = []
    for x in strikes:
        kind = ql.Option.Put if x < forward else ql.Option.Call
        out.append((price(x + h, kind) - 2 * price(x, kind) + price(x - h, kind)) / (h * h))
    return np.array(out)


def test_vogt_slice_butterfly_arbitrage_and_negative_density_match_quantlib():
    forward, t = 100.0, 1.0
    report = arbitrage_report(VOGT, np.array([t]))
    assert not report.ok
    # Gatheral & Jacquier (2014), Figure 3.1: g dips below zero for k between about 0.6 and 1.3.
    assert report.g_min[0] < -0.03
    assert 0.6 < report.g_from[0] < 0.7 and 1.2 < report.g_to[0] < 1.3
    k = np.linspace(-1.5, 1.5, 61)
    strikes = forward * np.exp(k)
    ref = _ql_density(VOGT, 0, t, strikes, forward, h=0.05)
    ours = np.asarray(density(VOGT, k)) / strikes
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-7 * np.max(ref))
    g = np.asarray(durrleman_g(VOGT, k))
    negative = ref < -1e-9
    assert negative.any() and np.array_equal(negative, g < 0)


def test_vogt_quotes_fitted_with_the_penalty_are_butterfly_free_within_tolerance():
    k = np.linspace(-1.5, 1.5, 31)
    vols = np.sqrt(_svi_w(VOGT, 0, k))
    free = fit_svi(k, np.ones_like(k), vols, penalty=0.0)
    assert free.arbitrage.g_min[0] < -0.03 and not free.arbitrage.ok
    fit = fit_svi(k, np.ones_like(k), vols, tol=1e-3)
    assert fit.arbitrage.g_min[0] >= -1e-3, fit.arbitrage.lines()
    assert fit.arbitrage.ok and fit.arbitrage.tol == 1e-3
    # The repair costs fit quality, and the report says so: the quotes themselves are arbitrageable.
    assert 0.1 < fit.rmse_vol_points[0] < 2.0


def test_crossing_slices_are_reported_with_calendar_arbitrage():
    # The later slice has a lower level but steeper wings: it lies below the earlier one near
    # the money, i.e. total variance falls with expiry there.
    p = SviParams(np.array([0.04, 0.016]), np.array([0.05, 0.15]), np.array([0.0, 0.0]),
                  np.array([0.0, 0.0]), np.array([0.2, 0.2]))
    t = np.array([0.5, 1.0])
    report = arbitrage_report(p, t)
    assert report.butterfly_ok.all() and not report.calendar_ok[0]
    k = np.linspace(-1.5, 1.5, 2001)
    dw = _svi_w(p, 1, k) - _svi_w(p, 0, k)
    assert report.calendar_min[0] == pytest.approx(dw.min(), abs=1e-12)
    # dw = 0.1 sqrt(k^2 + 0.04) - 0.024 < 0 exactly for |k| < sqrt(0.24^2 - 0.04).
    edge = np.sqrt(0.24 ** 2 - 0.04)
    step = k[1] - k[0]
    assert report.calendar_from[0] == pytest.approx(-edge, abs=step)
    assert report.calendar_to[0] == pytest.approx(edge, abs=step)


def test_ssvi_density_integrates_to_one_with_the_forward_as_mean():
    k, t, vols = _ssvi_quotes()
    p = ssvi.fit_ssvi(k, t, vols).params
    grid = np.linspace(-15.0, 15.0, 60001)
    for x in (SSVI_T[0], SSVI_T[3], SSVI_T[-1], 2.0):
        q = np.asarray(density(ssvi.slices(p, x), grid))
        assert np.trapezoid(q, grid) == pytest.approx(1.0, abs=1e-4)
        assert np.trapezoid(np.exp(grid) * q, grid) == pytest.approx(1.0, abs=1e-4)
