"""Historical (HS) and filtered historical (FHS) scenarios as relative spot moves.

HS (e.g. Jorion, *Value at Risk*, ch. 10): each h-day log return vector ``R`` of the window
is one scenario, ``move = exp(R) - 1``, with equal or BRW age weights.

FHS (Barone-Adesi, Giannopoulos & Vosper 1999; Hull & White 1998): each asset's one-day
returns are standardised by a volatility filter (`filters`), ``z_t = (r_t - mu) / sigma_t``.
The residual *vectors* ``z_t`` (all assets on the same date) are resampled together, so the
cross-asset dependence is history's, and rescaled to today's forecast vol ``sigma_{T+1}``.
For h > 1 days each scenario draws h residual vectors and carries the filter's own variance
recursion forward day by day (GARCH and EWMA alike; the sqrt(h) rule is not used, so GARCH
mean reversion and volatility clustering within the horizon are kept):
``r_k = mu + sigma_k z*_k``, ``sigma^2_{k+1} = omega + alpha (sigma_k z*_k)^2 + beta sigma^2_k``,
and ``move = exp(sum_k r_k) - 1``. Draws come from NumPy's PCG64 seeded by
``(seed, STREAM_FHS)``: the scenarios depend on the seed only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mcrisk import errors as E
from mcrisk.errors import ConfigError
from mcrisk.history.filters import ewma_filter, garch_filter, next_variance
from mcrisk.history.returns import age_weights, check_prices, log_returns

__all__ = ["Scenarios", "historical_scenarios", "filtered_scenarios", "STREAM_FHS"]

STREAM_FHS = 0x4F4853  # "FHS": keeps the bootstrap's draws apart from any other use of seed


class Scenarios(NamedTuple):
    """Scenarios from history.

    Attributes:
        moves: ``(scenarios, assets)`` relative spot moves ``exp(R) - 1`` (> -1).
        weights: ``(scenarios,)`` probabilities, summing to 1.
        returns: ``(scenarios, assets)`` the h-day log returns ``R``.
        notes: what was computed from what.
    """

    moves: np.ndarray
    weights: np.ndarray
    returns: np.ndarray
    notes: tuple[str, ...] = ()


def _window(field: str, prices: np.ndarray, window: int | None, need: int) -> np.ndarray:
    """The last `window` one-day returns' prices (window + 1 rows); all rows if None."""
    p = check_prices(f"{field}.prices", prices)
    if window is None:
        window = p.shape[0] - 1
    window = E.integer(f"{field}.window", window, lo=1)
    if window > p.shape[0] - 1:
        raise ConfigError(f"{field}.window", window, f"at most the {p.shape[0] - 1} one-day "
                          "returns the price file holds")
    if window < need:
        raise ConfigError(f"{field}.window", window, f"at least {need} one-day returns")
    return p[-window - 1:]


def historical_scenarios(prices: np.ndarray, *, window: int | None = None,
                         horizon_days: int = 1, overlapping: bool = True,
                         age_lambda: float | None = None,
                         field: str = "risk.scenarios") -> Scenarios:
    """Historical simulation: every h-day return of the window is a scenario.

    Args:
        prices: ``(rows, assets)`` prices > 0, oldest first.
        window: one-day returns looked back (the last ``window + 1`` prices); None: all.
        horizon_days: h >= 1 rows per scenario return.
        overlapping: overlapping h-day returns (see `log_returns`).
        age_lambda: BRW decay in (0, 1) for age weights, or None for equal weights.
        field: config path prefix for error messages.

    Returns:
        `Scenarios`, oldest first.
    """
    h = E.integer(f"{field}.horizon_days", horizon_days, lo=1)
    p = _window(field, prices, window, h)
    r = log_returns(p, h, overlapping=overlapping, field=field)
    w = age_weights(r.shape[0], age_lambda, field=f"{field}.age_weighting")
    notes = (f"scenarios: historical, {r.shape[0]} {'overlapping' if overlapping else 'disjoint'}"
             f" {h}-day log returns from the last {p.shape[0] - 1} one-day returns, "
             + ("equal weights" if age_lambda is None else
                f"BRW age weights lambda = {age_lambda:g} (newest {w[-1]:.3g}, oldest "
                f"{w[0]:.3g})"),)
    return Scenarios(moves=np.expm1(r), weights=w, returns=r, notes=notes)


def filtered_scenarios(prices: np.ndarray, *, n_scenarios: int, seed: int,
                       window: int | None = None, horizon_days: int = 1,
                       filter: str = "ewma", ewma_lambda: float = 0.94,
                       garch_mean: str = "Zero", names: list[str] | None = None,
                       field: str = "risk.scenarios") -> Scenarios:
    """Filtered historical simulation by a bootstrap of joint standardised residuals.

    Args:
        prices: ``(rows, assets)`` prices > 0, oldest first.
        n_scenarios: bootstrap size (>= 1).
        seed: the run's seed.
        window: one-day returns the filter is fitted on; None: all.
        horizon_days: h >= 1 days simulated per scenario.
        filter: "ewma" or "garch".
        ewma_lambda: EWMA decay in (0, 1).
        garch_mean: "Zero" or "Constant" (GARCH only).
        names: asset names for messages.
        field: config path prefix for error messages.

    Returns:
        `Scenarios` with equal weights.
    """
    n = E.integer(f"{field}.n_scenarios", n_scenarios, lo=1)
    h = E.integer(f"{field}.horizon_days", horizon_days, lo=1)
    kind = E.choice(f"{field}.filter", filter, ("ewma", "garch"))
    p = _window(field, prices, window, 1)
    r = np.diff(np.log(p), axis=0)
    f = (ewma_filter(r, ewma_lambda, field=field) if kind == "ewma"
         else garch_filter(r, mean=garch_mean, names=names, field=field))
    rng = np.random.Generator(np.random.PCG64([E.integer("sim.seed", seed, lo=0), STREAM_FHS]))
    draws = rng.integers(0, r.shape[0], size=(n, h))
    var = np.broadcast_to(f.forecast ** 2, (n, r.shape[1])).copy()
    total = np.zeros((n, r.shape[1]))
    for k in range(h):
        eps = np.sqrt(var) * f.residuals[draws[:, k]]
        total += f.mean + eps
        var = next_variance(f.params, var, eps)
    notes = f.notes + (
        f"scenarios: filtered historical ({kind}), {n} bootstrap draws of {h} joint one-day "
        f"residual vectors from {r.shape[0]} days, rescaled to today's forecast vols "
        + ", ".join(f"{v:.4g}" for v in f.forecast)
        + (" (per day; the filter's variance recursion carries them over the horizon)"
           if h > 1 else " (per day)"),)
    return Scenarios(moves=np.expm1(total), weights=np.full(n, 1.0 / n), returns=total,
                     notes=notes)
