"""`optimise(cfg)`: the static hedge of a book, beside the delta and delta-vega hedges, each
evaluated in sample, out of sample (fresh scenarios from ``hedge.oos_seed``) and on the
margin grid."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np

from mcrisk.config.hedge import HedgeOptions
from mcrisk.hedge.scenarios import Grid, Scenarios, Today
from mcrisk.hedge.static import HedgeProblem, HedgeSolution

HEDGES = ("none", "delta", "delta_vega", "optimised")


class Evaluation(NamedTuple):
    """One hedge's numbers: quantities, tails in and out of sample, margin, cash.

    Attributes:
      q: ``(m,)`` quantities.
      in_sample, out_of_sample: `static.tail` dicts (es, var, mean, stdev of the loss).
      margin: exact grid requirement (None without a margin grid).
      cost, fees, cash: proportional costs, fixed fees, net cash paid (premiums + costs).
    """

    q: np.ndarray
    in_sample: dict
    out_of_sample: dict
    margin: float | None
    cost: float
    fees: float
    cash: float


class HedgeRun(NamedTuple):
    """The result of `optimise`: options, inputs, the solution and each hedge's evaluation."""

    options: HedgeOptions
    problem: HedgeProblem
    solution: HedgeSolution
    today: Today
    evaluations: dict[str, Evaluation]
    notes: list[str]
    seconds: float


def optimise(cfg: Any) -> HedgeRun:
    """Optimise the hedge of a plain-dict config's book with its ``hedge`` section.

    Raises:
      ConfigError: a bad config or hedge section, before anything is compiled.
      NonFiniteError: a non-finite scenario loss, price, Greek or result.
    """
    from mcrisk import errors as E
    from mcrisk.config import build
    from mcrisk.config.build import to_plain
    from mcrisk.config.hedge import hedge_options, limits
    from mcrisk.hedge import scenarios as sc
    from mcrisk.hedge.baselines import delta_hedges
    from mcrisk.hedge.static import solve

    cfg = dict(E.mapping("config", to_plain(cfg)))
    book = build({k: v for k, v in cfg.items() if k != "task"})
    opts = hedge_options(cfg, book.market, book.sim.seed)
    if opts.objective == "margin" and book.risk.margin is None:
        raise E.ConfigError("risk.margin.enabled", False,
                            "a margin grid: hedge.objective is margin")
    build(sc.combined(cfg, opts, margin=True))  # the combined book's checks, still uncompiled
    scen, engine = sc.scenario_losses(cfg, opts)
    now = sc.today(cfg, opts, engine)
    grid = sc.margin_losses(cfg, opts)
    lo, hi = limits(opts)
    inst = opts.instruments
    problem = HedgeProblem(opts.objective, opts.level, scen, grid, now.prices,
                           np.array([x.cost for x in inst]) * now.notional,
                           np.array([x.fee for x in inst]), lo, hi, opts.budget,
                           tuple(x.name for x in inst))
    t0 = time.perf_counter()
    sol = solve(problem)
    seconds = time.perf_counter() - t0
    q_d, q_dv, notes = delta_hedges(now.book_delta, now.book_vega, now.unit_delta,
                                    now.unit_vega, [x.type for x in inst],
                                    [x.asset for x in inst])
    oos, _ = sc.scenario_losses(cfg, opts, seed=opts.oos_seed)
    qs = {"none": np.zeros(len(inst)), "delta": q_d, "delta_vega": q_dv, "optimised": sol.q}
    evals = {k: evaluate(problem, scen, oos, grid, q) for k, q in qs.items()}
    for k in ("delta", "delta_vega"):
        out = np.flatnonzero((qs[k] < lo) | (qs[k] > hi))
        if out.size:
            notes.append(f"the {k} hedge breaks the limits of "
                         + ", ".join(problem.names[j] for j in out) + " (evaluated as is)")
    return HedgeRun(opts, problem, sol, now, evals, notes, seconds)


def evaluate(p: HedgeProblem, scen: Scenarios, oos: Scenarios, grid: Grid | None,
             q: np.ndarray) -> Evaluation:
    """Every number of hedge `q`, recomputed exactly from the scenarios and the grid."""
    from mcrisk.hedge.static import requirement, tail

    cost = float(p.costs @ np.abs(q))
    return Evaluation(q, tail(p, scen, q), tail(p, oos, q),
                      None if grid is None else requirement(grid, q), cost,
                      float(p.fees @ (q != 0)), float(p.prices @ q) + cost)
