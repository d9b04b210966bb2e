"""Horizon losses from historical and filtered historical scenarios (risk.scenarios).

`mcrisk.history` turns the price history into relative spot moves; each is revalued in full
by the stress revaluation (`stress.revalue_shocked`: closed forms, else Monte Carlo on
common inner paths), with implied vols held at today's (vol shifts 0), in fixed-size
chunks (the last one padded, so one compilation serves every chunk). Equally weighted
scenarios go through the same `Tail` and attribution as today's Monte Carlo; with BRW age
weights VaR and ES are the weighted quantile and tail mean (`weighted_tail`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mcrisk.history import filtered_scenarios, historical_scenarios
from mcrisk.history.scenarios import Scenarios
from mcrisk.problem import Problem
from mcrisk.riskengine import attribution, stress
from mcrisk.riskengine.metrics import Tail
from mcrisk.riskengine.results import (Contribution, Histogram, LossStats, TailMetrics,
                                      TailResult, WorstScenario)

CHUNK = 1024  # scenarios revalued per call


def history_scenarios(problem: Problem) -> Scenarios:
    """The configured scenarios from `risk.scenarios` (source historical or
    filtered_historical)."""
    src = problem.risk.scenarios
    if src.source == "historical":
        return historical_scenarios(src.prices, window=src.window,
                                    horizon_days=src.horizon_days,
                                    overlapping=src.overlapping, age_lambda=src.age_weighting)
    return filtered_scenarios(src.prices, n_scenarios=src.n_scenarios, seed=problem.sim.seed,
                              window=src.window, horizon_days=src.horizon_days,
                              filter=src.filter, ewma_lambda=src.ewma_lambda,
                              garch_mean=src.garch_mean, names=list(problem.market.assets))


def history_losses(problem: Problem, prep, base: np.ndarray, q: np.ndarray, moves: np.ndarray,
                   paths: int, check, progress) -> np.ndarray:
    """``(scenarios, positions)`` losses ``q * (today - value at the moved spots)``.

    `check(values, start)` raises on a non-finite value of the chunk starting at `start`.
    """
    n, n_a = moves.shape
    size = min(n, CHUNK)
    zero = np.zeros((size, n_a))
    out = np.empty((n, len(q)))
    n_chunks = -(-n // size)
    progress.start("historical scenarios", n_chunks, "scenarios")
    for c in range(n_chunks):
        start = c * size
        chunk = moves[start:start + size]
        k = len(chunk)
        if k < size:  # pad with zero moves: the same shapes, no second compilation
            chunk = np.vstack([chunk, np.zeros((size - k, n_a))])
        r = stress.revalue_shocked(problem, prep, chunk, zero, problem.risk.horizon, paths)
        check(r.values[:k], start)
        out[start:start + k] = q * r.unit_losses(base)[:k]
        progress.update(c + 1, start + k)
    return out


def equal_tail(problem: Problem, pos_loss: np.ndarray, groups: list[str]) -> tuple:
    """Tail metrics and attribution of equally weighted scenarios (as for Monte Carlo):
    ``(TailResult, contributions, worst scenarios)``."""
    rk = problem.risk
    n = len(pos_loss)
    tail = Tail(n, pos_loss.shape[1], rk.levels, rk.ci_level, rk.histogram_bins,
                loo=rk.attribution)
    tail.update(pos_loss, np.arange(n, dtype=np.int64))
    return (tail.result(),
            attribution.contributions(tail, groups) if rk.attribution else (),
            attribution.worst_scenarios(tail))


class WeightedTail(NamedTuple):
    """VaR, ES and component ES of weighted scenarios, one row per confidence level."""

    var: np.ndarray  # (levels,)
    es: np.ndarray  # (levels,)
    component: np.ndarray  # (levels, positions): each row sums to that level's ES


def weighted_tail(pos_loss: np.ndarray, weights: np.ndarray, levels) -> WeightedTail:
    """Weighted VaR, ES and component ES.

    With losses sorted worst first and cumulative weights ``W_k``, VaR at level a is the
    first loss with ``W_k >= 1 - a``; ES is the probability-weighted mean of the losses
    beyond it plus the part of VaR's own atom needed to fill ``1 - a`` (Acerbi & Tasche
    2002), and component ES splits that same sum by position, so it adds up to ES.

    Args:
        pos_loss: ``(scenarios, positions)`` losses.
        weights: ``(scenarios,)`` probabilities summing to 1.
        levels: confidence levels.
    """
    loss = pos_loss.sum(axis=1)
    order = np.lexsort((np.arange(len(loss)), -loss))  # worst first, ties by index
    w = weights[order]
    cw = np.cumsum(w)
    var, comp = [], []
    for a in levels:
        t = 1.0 - a
        k = int(np.searchsorted(cw, t * (1 - 1e-12)))
        k = min(k, len(loss) - 1)
        part = np.append(w[:k], t - (cw[k - 1] if k else 0.0))
        rows = pos_loss[order[:k + 1]]
        var.append(float(loss[order[k]]))
        comp.append(part @ rows / t)
    comp = np.array(comp, np.float64).reshape(len(var), pos_loss.shape[1])
    return WeightedTail(np.array(var, np.float64), comp.sum(axis=1), comp)


def age_weighted_tail(problem: Problem, pos_loss: np.ndarray, weights: np.ndarray,
                      groups: list[str]) -> tuple:
    """Results of age-weighted scenarios, as `equal_tail`, weighted where they can be."""
    rk = problem.risk
    loss = pos_loss.sum(axis=1)
    wt = weighted_tail(pos_loss, weights, rk.levels)
    mean = float(weights @ loss)
    d = loss - mean
    sd = float(np.sqrt(weights @ d ** 2))
    skew = float(weights @ d ** 3) / sd ** 3 if sd > 0 else 0.0
    kurt = float(weights @ d ** 4) / sd ** 4 - 3.0 if sd > 0 else 0.0
    n_eff = 1.0 / float(weights @ weights)
    counts, edges = np.histogram(loss, rk.histogram_bins)
    contributions = ()
    if rk.attribution:
        # ES of the book without each position, for incremental ES (few scenarios: direct).
        without = np.array([weighted_tail(np.delete(pos_loss, j, axis=1), weights,
                                          rk.levels).es
                            for j in range(pos_loss.shape[1])]).reshape(-1, len(rk.levels))
        contributions = tuple(
            Contribution(a, wt.component[i], None, None, wt.es[i] - without[:, i],
                         attribution.by_group(groups, wt.component[i]))
            for i, a in enumerate(rk.levels))
    worst = np.argsort(-loss, kind="stable")[:attribution.WORST]
    tail = TailResult(
        tuple(TailMetrics(a, float(wt.var[i]), float(wt.es[i]), None, None)
              for i, a in enumerate(rk.levels)),
        LossStats(n_scenarios=len(loss), mean=mean, stdev=sd, skew=skew, excess_kurtosis=kurt,
                  worst_loss=float(loss.max()), prob_loss=float(weights @ (loss > 0)),
                  mean_stderr=sd / float(np.sqrt(n_eff)), effective_scenarios=n_eff),
        Histogram(edges, counts, 0, 0),
        ("age-weighted scenarios: VaR/ES are the weighted quantile and tail mean "
         "(Acerbi-Tasche); no confidence intervals (var_ci, es_ci null); the "
         f"histogram counts scenarios unweighted; effective sample size {n_eff:.1f}",))
    return tail, contributions, tuple(
        WorstScenario(int(i), float(loss[i]), np.asarray(pos_loss[i], np.float64))
        for i in worst)
