"""Summary of hedged-P&L paths: mean (the cost of hedging), stdev, VaR/ES, trades and fees,
each with its standard error, and a host driver from a checked setup to that summary."""

from __future__ import annotations

import math

import jax
import numpy as np

from mcrisk.config.dynamic_hedge import HedgeSetup
from mcrisk.engine import require_dtype
from mcrisk.errors import check_finite
from mcrisk.hedge import dynamic
from mcrisk.riskengine import metrics


def _mean(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def summarize(paths: dynamic.PathResult, level: float, ci: float = 0.95) -> dict:
    """Moments and tail of the hedged P&L (positive = gain) and the loss -P&L.

    The stdev's standard error is the delta method on the sample variance,
    sqrt((m4 - s^4) / n) / (2 s), which holds for the heavy-tailed P&L of a discrete hedge
    (a normal-theory s / sqrt(2n) would understate it). VaR and ES are of the loss, with the
    risk engine's order-statistic conventions and intervals.

    Args:
        paths: per-path results, (paths,) arrays.
        level: VaR/ES confidence level.
        ci: coverage of the VaR/ES intervals.
    """
    pnl = np.asarray(paths.pnl, np.float64)
    check_finite({"pnl": pnl, "fees": np.asarray(paths.fees)}, "dynamic_hedge.paths",
                 "a hedged path produced a non-finite number")
    n = pnl.size
    mean, mean_se = _mean(pnl)
    sd = float(pnl.std(ddof=1))
    c = pnl - pnl.mean()
    sd_se = float(math.sqrt(max(np.mean(c ** 4) - np.mean(c ** 2) ** 2, 0.0) / n) / (2 * sd)
                  ) if sd > 0 else 0.0
    loss = -pnl
    out = dict(paths=n, mean=mean, mean_se=mean_se, cost=-mean, stdev=sd, stdev_se=sd_se,
               level=level, var=metrics.var(loss, level), es=metrics.es(loss, level))
    top = -np.sort(-loss)
    out["var_ci"] = [float(v) for v in metrics.var_interval(top, n, level, ci)]
    if metrics.tail_count(n, level) >= metrics.MIN_TAIL:
        out["es_ci"] = [float(v) for v in metrics.es_interval(top, n, level, ci)]
    else:
        out["es_ci"] = None
    for name in ("trades", "fees", "edge_fees"):
        out[name], out[name + "_se"] = _mean(np.asarray(getattr(paths, name), np.float64))
    return out


def run(setup: HedgeSetup) -> tuple[dict, dynamic.PathResult]:
    """Simulate a checked setup's paths and summarise them (the summary, and the paths)."""
    require_dtype(setup.dtype)
    spec, arrays = dynamic.make(setup)
    paths = dynamic.simulate(spec, arrays, jax.random.key(setup.seed),
                             dynamic.path_indices(setup.paths))
    paths = jax.tree_util.tree_map(np.asarray, paths)
    return summarize(paths, setup.level), paths
