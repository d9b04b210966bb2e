"""Heston, Bates and Merton calibration against quotes priced by QuantLib.

QuantLib's AnalyticHestonEngine and BatesEngine (Merton as Bates' constant-variance limit,
`qlref.merton`) price a 5-expiry x 9-strike grid from known crypto-like parameters; the
calibration must recover them. All stochastic-vol fits share one compiled kernel (45 quotes,
padded to 48, four starts), which the noisy fit reuses without compiling.
"""

from __future__ import annotations


import numpy as np
import pytest
from scipy.stats import chi2

from mcrisk.calibrate.models import calibrate
from mcrisk.calibrate.quotes import CalibrationQuotes
from mcrisk.vol.implied import implied_vol
from tests.reference import qlref
from tests.compiles import compiled as _compiled

S, R, Q = 100.0, 0.03, 0.01
DAYS = (30, 91, 182, 365, 730)
STARTS = 4
HESTON = dict(v0=0.36, kappa=2.5, theta=0.42, xi=1.1, rho=-0.3)
BATES = dict(v0=0.30, kappa=2.5, theta=0.36, xi=1.0, rho=-0.3, jump_intensity=2.0,
             jump_mean=-0.08, jump_std=0.12)
MERTON = dict(vol=0.5, jump_intensity=3.0, jump_mean=-0.06, jump_std=0.10)


def _quotes(price) -> CalibrationQuotes:
    """Out-of-the-money quotes at -1.6..1.6 ATM standard deviations (vol 0.6) per expiry."""
    strikes, expiries, calls, prices = [], [], [], []
    for days in DAYS:
        t = qlref.years(days)
        fwd = S * np.exp((R - Q) * t)
        for m in np.linspace(-1.6, 1.6, 9):
            k = fwd * np.exp(m * 0.6 * np.sqrt(t))
            strikes.append(k)
            expiries.append(t)
            calls.append(k >= fwd)
            prices.append(price(k, days, "call" if k >= fwd else "put"))
    k, t, c, p = map(np.array, (strikes, expiries, calls, prices))
    iv = implied_vol(p, S * np.exp((R - Q) * t), k, t, c, np.exp(-R * t))
    assert int(iv.n_invalid) == 0
    return CalibrationQuotes(S, R, Q, k, t, c, np.asarray(iv.vol))


@pytest.fixture(scope="module")
def heston_quotes():
    return _quotes(lambda k, d, o: qlref.heston(S, k, d, R, Q, *HESTON.values(), o))


@pytest.fixture(scope="module")
def heston_fit(heston_quotes):
    return calibrate("heston", heston_quotes, starts=STARTS)


def _close(fitted: dict, true: dict, rel: dict) -> None:
    for name, value in true.items():
        assert abs(fitted[name] - value) <= rel[name] * abs(value), (name, fitted[name], value)


def test_heston_recovers_quantlib_parameters(heston_fit):
    fit = heston_fit
    assert fit.rmse_vol_points < 0.1
    # QuantLib's and our Fourier prices agree to ~1e-9 of spot, so every identified parameter
    # comes back to far better than 1e-3; kappa, the least identified, moves most.
    _close(fit.params, HESTON, dict.fromkeys(HESTON, 1e-3))
    converged = [final for _, final, loss in fit.starts if loss < 1e-6]
    assert len(converged) >= 2
    for final in converged:
        _close(final, HESTON, dict.fromkeys(HESTON, 1e-3))
    assert fit.feller_ratio == pytest.approx(2 * 2.5 * 0.42 / 1.1 ** 2, rel=1e-3)
    assert fit.feller_holds
    assert fit.loss_history[0] > 1e3 * fit.loss_history[-1]
    assert set(fit.rmse_by_expiry) == {qlref.years(d) for d in DAYS}


@pytest.fixture(scope="module")
def noisy_fit(heston_fit, heston_quotes):
    """Quotes with 0.5 vol point of noise, their fit, and the names compiled by the fit."""
    noise = np.random.default_rng(7).normal(0.0, 0.005, heston_quotes.vols.shape)
    noisy = heston_quotes._replace(vols=heston_quotes.vols + noise)
    with _compiled() as names:
        fit = calibrate("heston", noisy, starts=STARTS)
    return noisy, fit, names


def test_noisy_quotes_fit_to_the_noise_and_compile_nothing(noisy_fit, heston_quotes):
    noisy, fit, names = noisy_fit
    assert names == [], names
    # The true parameters miss the noisy quotes by the noise itself; the best fit can only do
    # better, by at most the 5 fitted degrees of freedom (chi-square, 40 dof, 4-sigma tail).
    n = noisy.vols.size
    noise_rmse = 100.0 * np.sqrt(np.mean((noisy.vols - heston_quotes.vols) ** 2))
    assert fit.rmse_vol_points <= noise_rmse + 1e-6
    assert fit.rmse_vol_points >= 0.5 * np.sqrt(chi2.ppf(3e-5, n - 5) / n)
    _close(fit.params, HESTON, dict(v0=0.02, kappa=0.5, theta=0.05, xi=0.2, rho=0.2))


def test_bates_recovers_quantlib_quotes(heston_fit):
    quotes = _quotes(lambda k, d, o: qlref.bates(S, k, d, R, Q, *BATES.values(), o))
    with _compiled() as names:  # Heston's kernel, jumps switched on
        fit = calibrate("bates", quotes, starts=STARTS)
    assert names == [], names
    assert fit.rmse_vol_points < 0.1
    # 45 quotes pin the diffusion to ~1%; the split of the jump variance between intensity and
    # size is flat (10% off in intensity costs 0.002 vol point), hence 25% on the jumps.
    _close(fit.params, BATES, dict(v0=0.02, kappa=0.02, theta=0.02, xi=0.02, rho=0.02,
                                   jump_intensity=0.25, jump_mean=0.25, jump_std=0.25))


def test_merton_recovers_quantlib_parameters():
    quotes = _quotes(lambda k, d, o: qlref.merton(S, k, d, MERTON["vol"], R, Q,
                                                  *list(MERTON.values())[1:], o))
    fit = calibrate("merton", quotes, starts=STARTS)
    assert fit.rmse_vol_points < 0.1
    assert fit.feller_ratio is None and fit.feller_holds is None
    _close(fit.params, MERTON, dict.fromkeys(MERTON, 1e-3))


def test_merton_adam_in_price_space_fits_the_quotes():
    quotes = _quotes(lambda k, d, o: qlref.merton(S, k, d, MERTON["vol"], R, Q,
                                                  *list(MERTON.values())[1:], o))
    fit = calibrate("merton", quotes, optimizer="adam", loss="price", starts=2, n_iter=600,
                    learning_rate=0.03)
    # Adam does not reach L-BFGS's precision in 600 steps, and the jump split is flat, so
    # only the total variance is pinned; the fit itself must still match the quotes.
    assert fit.rmse_vol_points < 0.1
    total = fit.params["vol"] ** 2 + fit.params["jump_intensity"] * (
        fit.params["jump_mean"] ** 2 + fit.params["jump_std"] ** 2)
    true = MERTON["vol"] ** 2 + MERTON["jump_intensity"] * (
        MERTON["jump_mean"] ** 2 + MERTON["jump_std"] ** 2)
    assert total == pytest.approx(true, rel=0.02)


def test_monte_carlo_under_the_calibrated_model_reprices_the_quotes(noisy_fit):
    """The calibration's ``model:`` block, pasted into a config, prices the calibration set
    by Monte Carlo (QE) within each quote's fit error: a convention that differed between the
    calibrator's Fourier pricer and the simulation (v0 vs vol, rho's sign, the carry, the
    order of the parameters) would move the smile by whole vol points."""
    import mcrisk
    from mcrisk.calibrate.models import model_block

    quotes, fit, _ = noisy_fit
    k, t, c = (np.asarray(a) for a in (quotes.strikes, quotes.expiries, quotes.is_call))
    fwd, disc = S * np.exp((R - Q) * t), np.exp(-R * t)
    cfg = dict(
        market=dict(assets=["X"], spot=[S], vol=[0.6], dividend=[Q], rate=R),
        model=model_block({"X": fit}),
        sim=dict(n_paths=100_000, n_steps=400, seed=5, dtype="float32"),
        greeks=dict(enabled=False),
        portfolio=dict(positions=[
            dict(name=f"q{i}", type="european", asset="X", option="call" if ci else "put",
                 strike=float(ki), expiry=float(ti)) for i, (ki, ti, ci) in
            enumerate(zip(k, t, c))]))
    res = mcrisk.price(cfg)
    mc = np.array([p["unit_price"] for p in res["positions"]])
    se = np.array([p["unit_stderr"] for p in res["positions"]])
    iv_mc = np.asarray(implied_vol(mc, fwd, k, t, c, disc).vol)
    model = np.array([qlref.heston(S, ki, round(ti * 365), R, Q, *(fit.params[n] for n in
                                   HESTON), "call" if ci else "put")
                      for ki, ti, ci in zip(k, t, c)])
    iv_model = np.asarray(implied_vol(model, fwd, k, t, c, disc).vol)
    d1 = (np.log(fwd / k) + 0.5 * quotes.vols ** 2 * t) / (quotes.vols * np.sqrt(t))
    vega = disc * fwd * np.sqrt(t) * np.exp(-0.5 * d1 ** 2) / np.sqrt(2 * np.pi)
    # QE's bias at dt = 2y/400 is below 5e-4 of spot (test_stochastic_models' bound at a
    # finer dt of the same order, and benchmarks/heston_bias.py).
    tol = np.abs(iv_model - quotes.vols) + (4 * se + 5e-4 * S) / vega
    miss = np.abs(iv_mc - quotes.vols)
    bad = np.flatnonzero(miss > tol)
    assert bad.size == 0, [(float(t[i]), float(k[i]), float(iv_mc[i]), float(quotes.vols[i]),
                            float(tol[i])) for i in bad]
