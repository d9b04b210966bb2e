"""h-day log returns of a price matrix and Boudoukh-Richardson-Whitelaw age weights."""

from __future__ import annotations

import numpy as np

from mcrisk import errors as E
from mcrisk.errors import ConfigError

__all__ = ["log_returns", "age_weights", "check_prices", "check_lambda"]


def check_prices(field: str, prices: np.ndarray) -> np.ndarray:
    """Return `prices` as a float64 ``(rows, assets)`` array, or raise ConfigError naming
    the first row and column that is not a finite price > 0."""
    a = np.asarray(prices, np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 2 or a.shape[1] < 1:
        raise ConfigError(field, list(a.shape), "a (rows, assets) price matrix with >= 2 rows")
    bad = np.argwhere(~(np.isfinite(a) & (a > 0)))
    if len(bad):
        r, c = (int(x) for x in bad[0])
        raise ConfigError(f"{field}[{r}][{c}]", float(a[r, c]), "a finite price > 0")
    return a


def check_lambda(field: str, lam: float) -> float:
    """A decay factor strictly inside (0, 1)."""
    return E.number(field, lam, lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                    what="a decay factor strictly between 0 and 1")


def log_returns(prices: np.ndarray, horizon_days: int = 1, *, overlapping: bool = True,
                field: str = "risk.scenarios") -> np.ndarray:
    """h-day log returns ``ln(P_{t+h} / P_t)`` of a price matrix.

    Overlapping returns start on every row (``rows - h`` of them); non-overlapping ones are
    taken backwards from the newest row, so the newest return always ends on the last price
    and an older leftover stub is dropped (``(rows - 1) // h`` of them). Overlapping
    returns use every day's information but are serially correlated, which makes the
    quantile noisier than the count suggests (Harris, Shen & Stoja 2010).

    Args:
        prices: ``(rows, assets)`` prices > 0, oldest first (one row per observation).
        horizon_days: h >= 1, in rows.
        overlapping: every start row, or disjoint blocks.
        field: config path prefix for error messages.

    Returns:
        ``(returns, assets)`` float64 log returns, oldest first.

    Raises:
        ConfigError: for a bad price, h < 1, or fewer than one return of length h.
    """
    p = check_prices(f"{field}.prices", prices)
    h = E.integer(f"{field}.horizon_days", horizon_days, lo=1)
    overlapping = E.boolean(f"{field}.overlapping", overlapping)
    if p.shape[0] <= h:
        raise ConfigError(f"{field}.horizon_days", h, f"fewer days than the {p.shape[0]} "
                          "prices given (an h-day return needs h + 1 prices)")
    logp = np.log(p)
    if overlapping:
        return logp[h:] - logp[:-h]
    ends = np.arange(p.shape[0] - 1, h - 1, -h)[::-1]
    return logp[ends] - logp[ends - h]


def age_weights(n: int, lam: float | None, *, field: str = "risk.scenarios.age_weighting"
                ) -> np.ndarray:
    """Boudoukh, Richardson & Whitelaw (1998) exponential age weights, newest last.

    ``w_i = lam^(i-1) (1 - lam) / (1 - lam^n)`` for the observation ``i - 1`` steps older than
    the newest, so the weights sum to 1 exactly; ``lam=None`` gives equal weights ``1/n``.

    Args:
        n: number of observations (>= 1).
        lam: decay in (0, 1), or None.
        field: config path for error messages.

    Returns:
        ``(n,)`` float64 weights, oldest first.
    """
    n = E.integer(f"{field}.n", n, lo=1)
    if lam is None:
        return np.full(n, 1.0 / n)
    lam = check_lambda(field, lam)
    age = np.arange(n - 1, -1, -1, dtype=np.float64)
    # lam^age (1 - lam) / (1 - lam^n) written with expm1/log1p: for lam near 1 the
    # difference 1 - lam^n loses every digit.
    w = np.exp(age * np.log(lam)) * (-np.expm1(np.log(lam))) / (-np.expm1(n * np.log(lam)))
    return w / w.sum()
