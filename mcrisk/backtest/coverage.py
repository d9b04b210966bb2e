"""Coverage tests of a VaR forecast series and an ES backtest (host-side NumPy).

Conventions: ``losses`` are realised losses (positive = loss), ``var`` and ``es`` the
forecasts made the day before at confidence ``level`` (positive numbers), and an exception
is a day with ``loss > var``; ``p = 1 - level`` is the exception probability under the null.

* Kupiec (1995) proportion of failures: with x exceptions in n days and ``pi = x / n``,
  ``LR_pof = -2 ln[(1-p)^(n-x) p^x] + 2 ln[(1-pi)^(n-x) pi^x]`` ~ chi2(1).
* Christoffersen (1998) independence: with the transition counts ``n_ij`` (day t-1 in state
  i, day t in state j, 1 = exception), ``pi_01 = n01 / (n00 + n01)``,
  ``pi_11 = n11 / (n10 + n11)``, ``pi = (n01 + n11) / (n - 1)``,
  ``LR_ind = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11)]
  + 2 ln[(1-pi_01)^n00 pi_01^n01 (1-pi_11)^n10 pi_11^n11]`` ~ chi2(1), and conditional
  coverage ``LR_cc = LR_pof + LR_ind`` ~ chi2(2). Every ``0 ln 0`` is 0 (a term whose count
  is zero drops out), so zero exceptions, all exceptions and no 1->1 transition give finite
  statistics, never NaN.
* Basel traffic light (BCBS, *Supervisory framework for the use of backtesting*, 1996):
  with ``F`` the binomial(n, p) CDF, x exceptions are green while ``F(x) < 95%``, yellow
  while ``F(x) < 99.99%``, red from there; at n = 250, 99% this is the Basel table
  (green 0-4, yellow 5-9, red 10+), and the same rule defines the zones for any n and level.
* ES: Acerbi & Szekely (2014) ``Z2 = 1 - sum_t L_t I_t / (T p ES_t)``, zero in expectation
  when ES is right and negative when tail losses are larger than forecast. Z2 is chosen
  over Du & Escanciano (2017) because its statistic needs only what every backtest has
  (VaR, ES and the realised loss per day); Du-Escanciano needs each day's probability
  integral transform, i.e. the whole forecast distribution, even for the statistic. Z2's
  p-value comes from simulation under the null: each day's loss is redrawn from the model's
  own scenario distribution (when the backtest kept it) and Z2 is recomputed with the same
  VaR and ES; without scenarios only the statistic is returned, with Acerbi-Szekely's
  thresholds for 250 days at 97.5% (-0.70 at 5%, -1.8 at 0.01%, stable across the
  distributions they tried) as a guide.
"""

from __future__ import annotations

import math

import numpy as np

from mcrisk import errors as E
from mcrisk.errors import ConfigError

__all__ = ["exceptions", "kupiec", "christoffersen", "traffic_light", "es_test", "binom_cdf",
           "ZONES"]

ZONES = (("green", 0.95), ("yellow", 0.9999))  # upper cumulative-probability bounds


def _level(level: float, field: str = "level") -> float:
    return E.number(field, level, lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                    what="a confidence level strictly between 0 and 1")


def _series(field: str, x, n: int | None = None) -> np.ndarray:
    a = np.asarray(x, np.float64).ravel()
    if a.size == 0 or (n is not None and a.size != n):
        raise ConfigError(field, list(np.shape(x)), f"a series of {n or '>= 1'} days")
    if not np.isfinite(a).all():
        i = int(np.argmax(~np.isfinite(a)))
        raise ConfigError(f"{field}[{i}]", float(a[i]), "a finite number")
    return a


def _flags(x) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1 or a.size == 0 or not np.isin(a, (0, 1)).all():
        raise ConfigError("exceptions", a.tolist()[:20], "a non-empty 1-D series of 0/1 flags")
    return a.astype(np.int64)


def _xlogy(x: float, y: float) -> float:
    """x ln y with 0 ln 0 = 0 (a count of zero contributes nothing)."""
    return 0.0 if x == 0 else x * math.log(y)


def _chi2_sf(x: float, dof: int) -> float:
    """Upper tail of chi2 with 1 or 2 degrees of freedom (closed forms, no SciPy)."""
    x = max(x, 0.0)
    return math.erfc(math.sqrt(x / 2.0)) if dof == 1 else math.exp(-x / 2.0)


def exceptions(losses, var) -> np.ndarray:
    """``(days,)`` int 0/1 flags of ``loss > VaR``."""
    losses = _series("losses", losses)
    var = _series("var", var, losses.size)
    return (losses > var).astype(np.int64)


def kupiec(exceptions, level: float) -> dict:
    """Kupiec's proportion-of-failures test of the exception rate.

    Args:
        exceptions: ``(days,)`` 0/1 flags.
        level: VaR confidence level.

    Returns:
        ``{"days", "exceptions", "expected", "rate", "lr", "p_value"}``.
    """
    p = 1.0 - _level(level)
    e = _flags(exceptions)
    n, x = e.size, int(e.sum())
    pi = x / n
    lr = -2.0 * (_xlogy(n - x, 1 - p) + _xlogy(x, p) - _xlogy(n - x, 1 - pi) - _xlogy(x, pi))
    lr = max(lr, 0.0)  # rounding can leave -1e-15 when pi == p
    return {"days": n, "exceptions": x, "expected": n * p, "rate": pi, "lr": lr,
            "p_value": _chi2_sf(lr, 1)}


def christoffersen(exceptions, level: float) -> dict:
    """Christoffersen's independence and conditional-coverage tests.

    Args:
        exceptions: ``(days,)`` 0/1 flags (at least 2 days).
        level: VaR confidence level.

    Returns:
        ``{"n00", "n01", "n10", "n11", "lr_ind", "p_ind", "lr_cc", "p_cc"}``.
    """
    e = _flags(exceptions)
    if e.size < 2:
        raise ConfigError("exceptions", e.tolist(), "at least 2 days (one transition)")
    prev, cur = e[:-1], e[1:]
    n00, n01 = int(((prev == 0) & (cur == 0)).sum()), int(((prev == 0) & (cur == 1)).sum())
    n10, n11 = int(((prev == 1) & (cur == 0)).sum()), int(((prev == 1) & (cur == 1)).sum())
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    restricted = _xlogy(n00 + n10, 1 - pi) + _xlogy(n01 + n11, pi)
    free = (_xlogy(n00, 1 - pi01) + _xlogy(n01, pi01) + _xlogy(n10, 1 - pi11)
            + _xlogy(n11, pi11))
    lr_ind = max(-2.0 * (restricted - free), 0.0)
    lr_cc = kupiec(e, level)["lr"] + lr_ind
    return {"n00": n00, "n01": n01, "n10": n10, "n11": n11, "lr_ind": lr_ind,
            "p_ind": _chi2_sf(lr_ind, 1), "lr_cc": lr_cc, "p_cc": _chi2_sf(lr_cc, 2)}


def binom_cdf(x: int, n: int, p: float) -> float:
    """P(X <= x) for X ~ binomial(n, p), summed in log space (n in the thousands)."""
    if x < 0:
        return 0.0
    if x >= n:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * lp
             + (n - k) * lq for k in range(x + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


def traffic_light(n_exceptions: int, days: int = 250, level: float = 0.99) -> dict:
    """Basel traffic-light zone of `n_exceptions` in `days` days of VaR at `level`.

    Returns:
        ``{"zone", "cumulative_probability", "green_max", "yellow_max"}``: the zone, F(x),
        and the largest exception counts still green and yellow for this n and level.
    """
    n = E.integer("days", days, lo=1)
    x = E.integer("exceptions", n_exceptions, lo=0)
    if x > n:
        raise ConfigError("exceptions", x, f"at most the {n} days backtested")
    p = 1.0 - _level(level)
    bounds = {}
    k = 0
    for zone, bound in ZONES:
        while k <= n and binom_cdf(k, n, p) < bound:
            k += 1
        bounds[zone] = k - 1
    cdf = binom_cdf(x, n, p)
    zone = "green" if x <= bounds["green"] else "yellow" if x <= bounds["yellow"] else "red"
    return {"zone": zone, "cumulative_probability": cdf, "green_max": bounds["green"],
            "yellow_max": bounds["yellow"]}


def es_test(losses, var, es, level: float, scenarios=None, *, n_sims: int = 2000,
            seed: int = 0) -> dict:
    """Acerbi-Szekely Z2 test of ES forecasts (see the module docstring).

    Args:
        losses: ``(days,)`` realised losses.
        var, es: ``(days,)`` VaR and ES forecasts at `level`.
        level: confidence level.
        scenarios: optional ``(days, scenarios)`` loss scenarios of each day's model (equal
            weights); gives the p-value by simulation under the null.
        n_sims: simulations for the p-value.
        seed: seed of the simulation draws.

    Returns:
        ``{"z2", "p_value", "n_sims"}``; ``p_value`` is None without scenarios. A small
        p-value rejects the ES forecasts as too low.
    """
    losses = _series("losses", losses)
    var = _series("var", var, losses.size)
    es = _series("es", es, losses.size)
    p = 1.0 - _level(level)
    if (es <= 0).any():
        i = int(np.argmax(es <= 0))
        raise ConfigError(f"es[{i}]", float(es[i]), "an ES forecast > 0 (Z2 divides by it)")

    def z2(x: np.ndarray) -> np.ndarray:
        return 1.0 - np.sum(x * (x > var) / es, axis=-1) / (losses.size * p)

    out = {"z2": float(z2(losses)), "p_value": None, "n_sims": 0}
    if scenarios is not None:
        s = np.asarray(scenarios, np.float64)
        if s.ndim != 2 or s.shape[0] != losses.size or not np.isfinite(s).all():
            raise ConfigError("scenarios", list(s.shape), f"({losses.size}, scenarios) "
                              "finite loss scenarios, one row per day")
        n_sims = E.integer("n_sims", n_sims, lo=1)
        rng = np.random.Generator(np.random.PCG64(E.integer("seed", seed, lo=0)))
        pick = rng.integers(0, s.shape[1], size=(n_sims, losses.size))
        sims = z2(s[np.arange(losses.size), pick])  # (n_sims,): one redraw per day
        # (1 + #{sim <= obs}) / (1 + n_sims): never 0 from a finite simulation.
        out.update(p_value=float((1 + np.sum(sims <= out["z2"])) / (1 + n_sims)),
                   n_sims=n_sims)
    return out
