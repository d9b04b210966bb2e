"""task=hedge: the static hedge of the book with the ``hedge`` section's instruments, beside
no hedge, the delta hedge and the delta-vega hedge (`mcrisk.hedge.optimal.optimise`).

Every ES, VaR, stdev and margin requirement reported is recomputed exactly from the
scenarios (in sample: ``sim.seed``; out of sample: ``hedge.oos_seed``) and the margin grid
at each hedge's quantities.
"""

from __future__ import annotations

from typing import Any

from mcrisk import errors as E
from mcrisk.config.hedge import PREFIX

_H = "hedges.<hedge>."
_T = ("es", "var", "mean", "stdev")
# What each key of its results.json means (docs/results.md is rendered from this).
FIELDS = [
    ("task", "`hedge`"),
    ("objective", "what was minimised: `es`, `variance` or `margin` (plus costs and fees)"),
    ("level", "the ES and VaR level"),
    ("horizon", "years of the scenarios"),
    ("n_scenarios", "scenarios in sample (and out of sample)"),
    ("seed", "seed of the in-sample scenarios"),
    ("oos_seed", "seed of the out-of-sample scenarios"),
    ("budget", "cap on the net cash paid for the hedge (premiums plus costs), or null"),
    ("margin_mode", "`joint` or `per_asset` (the `risk.margin` grid), or null without a grid"),
    ("book.value", "the book's value today"),
    ("book.delta.<asset>", "its delta per asset (pricing engine)"),
    ("book.vega.<asset>", "its vega per asset, per 1.00 of vol"),
    ("instruments[].name", "the candidate"),
    ("instruments[].type", "its position type"),
    ("instruments[].price", "value of one unit today (cash paid to buy it)"),
    ("instruments[].cost_per_unit", "proportional cost per unit traded: `cost` times the "
                                    "premium (options) or the spot (spot, perpetual, forward)"),
    ("instruments[].fee", "fixed fee if traded at all"),
    ("instruments[].min", "lower quantity limit, or null"),
    ("instruments[].max", "upper quantity limit, or null"),
    ("instruments[].delta.<asset>", "delta per unit"),
    ("instruments[].vega.<asset>", "vega per unit"),
    (_H + "quantities.<instrument>", "quantity of each instrument; `<hedge>` is `none`, "
                                     "`delta`, `delta_vega` or `optimised`"),
    *((_H + f"in_sample.{k}", f"{k} of the hedged book's loss on the in-sample scenarios")
      for k in _T),
    *((_H + f"out_of_sample.{k}", "the same on the out-of-sample scenarios") for k in _T),
    (_H + "margin", "exact grid requirement of book plus hedge (null without a grid)"),
    (_H + "cost", "proportional costs paid"),
    (_H + "fees", "fixed fees paid"),
    (_H + "cash", "net cash paid: premiums plus costs (negative: received)"),
    ("multiplier", "the budget's Lagrange multiplier (0: it does not bind)"),
    ("dropped", "instruments left out to save their fixed fee"),
    ("seconds", "wall time of the optimisation, compilation included"),
    ("notes", "methods and caveats"),
]


def hedge(cfg: dict, progress: Any = None) -> dict:
    """Run task=hedge on a plain-dict config; see the module docstring.

    Raises:
      ConfigError: a bad config or ``hedge`` section, before anything is compiled.
      NonFiniteError: a non-finite number in the scenarios or the result.
    """
    from mcrisk.hedge.optimal import optimise

    run = optimise(cfg)
    p, now, opts = run.problem, run.today, run.options
    plain = lambda n: n[len(PREFIX):]  # noqa: E731
    names = [plain(n) for n in p.names]
    assets = list(cfg["market"]["assets"])
    per_asset = lambda v: {a: float(x) for a, x in zip(assets, v)}  # noqa: E731
    hedges = {}
    for k, e in run.evaluations.items():
        hedges[k] = {"quantities": {n: float(x) + 0.0 for n, x in zip(names, e.q)},
                     "in_sample": e.in_sample, "out_of_sample": e.out_of_sample,
                     "margin": e.margin, "cost": e.cost, "fees": e.fees, "cash": e.cash}
    inst = [{"name": n, "type": x.type, "price": float(pr), "cost_per_unit": float(c),
             "fee": x.fee, "min": None if x.lower == -float("inf") else x.lower,
             "max": None if x.upper == float("inf") else x.upper,
             "delta": per_asset(now.unit_delta[:, j]), "vega": per_asset(now.unit_vega[:, j])}
            for j, (n, x, pr, c) in enumerate(zip(names, opts.instruments, p.prices, p.costs))]
    result = {
        "task": "hedge", "objective": p.objective, "level": p.level,
        "horizon": float((cfg.get("risk") or {}).get("horizon", 1 / 365)),
        "n_scenarios": int(p.scenarios.book.size), "seed": p.scenarios.seed,
        "oos_seed": opts.oos_seed, "budget": p.budget,
        "margin_mode": None if p.grid is None else p.grid.mode,
        "book": {"value": now.book_value, "delta": per_asset(now.book_delta),
                 "vega": per_asset(now.book_vega)},
        "instruments": inst, "hedges": hedges, "multiplier": run.solution.multiplier,
        "dropped": [plain(n) for n in run.solution.dropped], "seconds": run.seconds,
        "notes": _notes(run) + run.notes,
    }
    return E.check_finite(result, "", "hedge")


def _notes(run) -> list[str]:
    p = run.problem
    out = [f"{p.scenarios.book.size} scenarios of the risk engine's full revaluation "
           f"(seed {p.scenarios.seed}); out of sample: the same hedges on fresh scenarios "
           f"(seed {run.options.oos_seed})",
           "ES at the level is the mean of the ceil(n (1 - level)) worst scenario losses; the "
           "margin requirement is recomputed on the grid at each hedge's quantities",
           "delta and delta-vega hedges: per asset, the first linear instrument (and the first "
           "option) on it, from the pricing engine's Greeks"]
    if p.fees.any():
        out.append("fixed fees: the continuous optimum, then instruments dropped greedily "
                   "while the objective plus fees falls (a heuristic)")
    if p.budget is not None and run.solution.multiplier > 0:
        out.append("the budget binds: met through its Lagrange multiplier (bisection)")
    return out


def table(result: dict) -> str:
    """The hedges side by side: quantities, ES in and out of sample, margin, cash."""
    names = [x["name"] for x in result["instruments"]]
    lvl = f"{result['level']:.4g}"
    keys = list(result["hedges"])
    w = max(12, *(len(n) for n in names))
    lines = [f"{'':<{w}} " + " ".join(f"{k:>14}" for k in keys)]
    for n in names:
        lines.append(f"{n:<{w}} " + " ".join(f"{result['hedges'][k]['quantities'][n]:>14.6g}"
                                             for k in keys))
    rows = [(f"ES {lvl}", lambda h: h["in_sample"]["es"]),
            (f"ES {lvl} (oos)", lambda h: h["out_of_sample"]["es"]),
            (f"VaR {lvl}", lambda h: h["in_sample"]["var"]),
            ("stdev", lambda h: h["in_sample"]["stdev"]),
            ("margin", lambda h: h["margin"]),
            ("cash paid", lambda h: h["cash"]), ("fees", lambda h: h["fees"])]
    for label, get in rows:
        vals = [get(result["hedges"][k]) for k in keys]
        lines.append(f"{label:<{w}} " + " ".join("             -" if v is None else
                                                 f"{v:>14,.2f}" for v in vals))
    return "\n".join(lines)
