"""Which positions drive the tail: component ES/VaR, per-asset totals, incremental ES."""

from __future__ import annotations

import numpy as np

from mcrisk.riskengine.metrics import Tail, tail_count
from mcrisk.riskengine.results import Contribution, WorstScenario


def contributions(tail: Tail, groups: list[str]) -> tuple[Contribution, ...]:
    """Per level: component ES (sums exactly to ES), component VaR, incremental ES, by group.

    Component VaR_i is E[L_i | L near VaR], averaged over the scenarios ranked within
    +-w of the VaR rank (w = max(5, 0.1% of n), capped by what the tail holds); it sums to the
    mean loss of that window, which matches VaR up to the window's spread (`var_window_sum`).
    """
    n = tail.n
    out = []
    without = tail.loo_means([tail_count(n, a) for a in tail.levels])
    for a in tail.levels:
        m = tail_count(n, a)
        comp_es = tail.rank_mean(0, m)
        lo, hi = var_window(tail, m)
        comp_var = tail.rank_mean(lo, hi)
        es = float(tail.top_loss[:m].mean())
        out.append(Contribution(a, np.asarray(comp_es, np.float64),
                                np.asarray(comp_var, np.float64), float(comp_var.sum()),
                                es - without[m], by_group(groups, comp_es)))
    return tuple(out)


def by_group(groups: list[str], comp_es) -> dict[str, float]:
    """Component ES summed by asset group, in the order groups first appear."""
    out: dict[str, float] = {}
    for g, c in zip(groups, comp_es):
        out[g] = out.get(g, 0.0) + float(c)
    return out


def var_window(tail: Tail, m: int) -> tuple[int, int]:
    """Tail ranks lo .. hi - 1 whose mean per-position loss is component VaR at rank m."""
    w = max(5, int(0.001 * tail.n))
    return max(0, m - 1 - w), min(tail.top_loss.size, m + w)


def ranks_needed(tail: Tail) -> list[int]:
    """The ranks at which `contributions` reads the tail's prefix sums."""
    out = []
    for a in tail.levels:
        m = tail_count(tail.n, a)
        out += [m, *var_window(tail, m)]
    return out


WORST = 5  # scenarios listed by `worst_scenarios`


def worst_scenarios(tail: Tail, count: int = WORST, rows: bool = True
                    ) -> tuple[WorstScenario, ...]:
    """The `count` largest losses with their scenario index; with `rows`, also each
    position's loss (the tail must hold them)."""
    got = tail.first_rows(count) if rows else [None] * count
    return tuple(WorstScenario(int(i), float(l), None if row is None
                               else np.asarray(row, np.float64))
                 for i, l, row in zip(tail.top_idx[:count], tail.top_loss[:count], got))


def group_of(position, assets) -> str:
    return "+".join(assets[a] for a in position.assets)

