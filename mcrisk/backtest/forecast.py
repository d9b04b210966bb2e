"""Each backtest day's forecast of the book's h-day spot moves, per VaR model (host NumPy).

A model sees only the window of prices ending at day t (`window_prices`) and returns
``(scenarios, assets)`` h-day log returns, or for delta-normal the h-day covariance:

* ``historical``: every overlapping h-day return of the window (`historical_scenarios`).
* ``filtered_historical_ewma`` / ``_garch``: `filtered_scenarios`, EWMA or GARCH(1,1) (arch)
  refitted on the window each day, `n_scenarios` bootstrap draws.
* ``gbm``: Monte Carlo of geometric Brownian motion with the window's zero-mean covariance
  of one-day log returns, ``R = -diag(C h) / 2 + sqrt(h) C^(1/2) Z`` (a martingale spot: a
  drift estimated from one year of returns is mostly noise, so none is used).
* ``delta_normal``: the same covariance, times h, for ``loss ~ N(0, D' C h D)``.
* ``merton``: Monte Carlo of Merton jump-diffusions fitted per asset by maximum likelihood
  to the window's one-day log returns (`mcrisk.backtest.jumps`), diffusions correlated as
  the window's returns, jumps independent across assets, martingale spot; an asset whose
  fit fails or ends on a bound has no jumps that day (gbm's vol), reported in `fallbacks`.

`vol_scale` multiplies every forecast return (the covariance by its square): 0.5 is a model
with half the vol it estimated. Draws come from PCG64 seeded by (seed, stream, day), so a
day's scenarios do not depend on which other days are backtested.
"""

from __future__ import annotations

import numpy as np

from mcrisk.backtest import jumps
from mcrisk.history import filtered_scenarios, historical_scenarios

STREAM_GBM = 0x42544D43  # "BTMC": backtest Monte Carlo draws
STREAM_DAY = 0x42544658  # "BTFX": the per-day seed of filtered HS's bootstrap
STREAM_MERTON = 0x42544A44  # "BTJD": jump-diffusion draws


def window_prices(prices: np.ndarray, t: int, window: int, window_type: str) -> np.ndarray:
    """Prices of the window ending at row t: the last ``window + 1`` (rolling) or all."""
    return prices[t - window:t + 1] if window_type == "rolling" else prices[:t + 1]


def covariance(p: np.ndarray) -> np.ndarray:
    """``(assets, assets)`` zero-mean covariance of the one-day log returns of `p`."""
    r = np.diff(np.log(p), axis=0)
    return r.T @ r / r.shape[0]


def sample_vol(p: np.ndarray, annualisation: float) -> np.ndarray:
    """``(assets,)`` annualised zero-mean vol of the one-day log returns of `p`."""
    return np.sqrt(np.diag(covariance(p)) * annualisation)


def _sqrt_psd(c: np.ndarray) -> np.ndarray:
    # eigh, not Cholesky: a window where two assets moved in lockstep gives a singular C.
    w, v = np.linalg.eigh(c)
    return v * np.sqrt(np.maximum(w, 0.0))


def forecast(model: str, p: np.ndarray, day: int, opts, names: list[str],
             fallbacks: list | None = None) -> np.ndarray:
    """One day's forecast of one model.

    Args:
        model: a name of `mcrisk.config.backtest.MODELS`.
        p: ``(rows, assets)`` window prices, oldest first, ending at the day.
        day: row index of the day in the whole history (keys the draws).
        opts: `BacktestOptions`.
        names: asset names.
        fallbacks: merton appends ``(day, asset name, reason)`` for each asset whose fit
            was not used.

    Returns:
        ``(scenarios, assets)`` h-day log returns, or for delta_normal the ``(assets,
        assets)`` covariance of the h-day log returns; both already scaled by `vol_scale`.
    """
    h, k = opts.horizon_days, opts.vol_scale
    field = "backtest"
    if model == "historical":
        return k * historical_scenarios(p, horizon_days=h, field=field).returns
    if model.startswith("filtered_historical"):
        seed = int(np.random.SeedSequence([opts.seed, STREAM_DAY, day]).generate_state(1)[0])
        return k * filtered_scenarios(
            p, n_scenarios=opts.n_scenarios, seed=seed, horizon_days=h,
            filter=model.rsplit("_", 1)[1], ewma_lambda=opts.ewma_lambda,
            garch_mean=opts.garch_mean, names=names, field=field).returns
    if model == "merton":
        rng = np.random.Generator(np.random.PCG64([opts.seed, STREAM_MERTON, day]))
        r, fits = jumps.scenarios(np.diff(np.log(p), axis=0), opts.n_scenarios, h, rng, k)
        if fallbacks is not None:
            fallbacks += [(day, n, f.fallback) for n, f in zip(names, fits) if f.fallback]
        return r
    c = covariance(p) * h * k * k
    if model == "delta_normal":
        return c
    rng = np.random.Generator(np.random.PCG64([opts.seed, STREAM_GBM, day]))
    z = rng.standard_normal((opts.n_scenarios, c.shape[0]))
    return z @ _sqrt_psd(c).T - 0.5 * np.diag(c)
