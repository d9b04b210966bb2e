"""task=allocate: the mean-CVaR efficient frontier of a long-only portfolio of assets.

Horizon returns are simulated (`mcrisk.optimize.scenarios`) for the assets of the
``allocation`` section; the frontier (`mcrisk.optimize.frontier.frontier`) and, with
``allocation.cvar_cap``, the best mean return under that CVaR
(`mcrisk.optimize.frontier.best_return`) are solved on them. Every CVaR reported is the
exact empirical CVaR (ES) of the portfolio's scenario losses, as the risk engine computes it.
"""

from __future__ import annotations

import time
from typing import Any


from mcrisk import errors as E

_A = "frontier[]."
# What each key of its results.json means (docs/results.md is rendered from this).
FIELDS = [
    ("task", "`allocate`"),
    ("assets[].name", "the asset"),
    ("assets[].mean", "mean horizon return of its scenarios (decimal)"),
    ("assets[].stdev", "their standard deviation"),
    ("assets[].cvar", "CVaR (ES) at `level` of holding only this asset (a loss, decimal)"),
    ("level", "the CVaR level"),
    ("horizon", "years"),
    ("n_scenarios", "scenarios drawn"),
    ("seed", "their seed"),
    ("cash", "whether weights may sum to less than 1 (the rest in cash)"),
    (_A + "target", "target mean return of the point (decimal, over the horizon)"),
    (_A + "mean", "mean return of its portfolio (>= target)"),
    (_A + "cvar", "exact empirical CVaR of its loss at `level` (decimal of the portfolio)"),
    (_A + "var", "VaR at `level`"),
    (_A + "weights.<asset>", "weight of each asset"),
    (_A + "cash", "weight held in cash"),
    ("best", "with `allocation.cvar_cap`: the best mean return with CVaR at most the cap, "
             "else null"),
    ("best.cvar_cap", "the cap"),
    ("best.mean", "its mean return"),
    ("best.cvar", "its exact CVaR (<= cap)"),
    ("best.var", "its VaR"),
    ("best.weights.<asset>", "its weights"),
    ("best.cash", "its cash weight"),
    ("seconds", "wall time of the optimisation, compilation included"),
    ("notes", "how the scenarios were made, and caveats"),
]


def allocate(cfg: dict, progress: Any = None) -> dict:
    """Run task=allocate on a plain-dict config; see the module docstring.

    Raises:
        ConfigError: a bad ``allocation`` section, or a cap below the minimum CVaR.
        NonFiniteError: a non-finite number in the scenarios or the result.
    """
    from mcrisk.config.allocation import allocation_options

    o = allocation_options(cfg)
    from mcrisk.optimize.frontier import best_return, frontier
    from mcrisk.optimize.scenarios import simulate_returns
    from mcrisk.riskengine.metrics import es

    names = [a.name for a in o.assets]
    col = lambda k: [getattr(a, k) for a in o.assets]  # noqa: E731
    r = simulate_returns(o.seed, o.n_scenarios, o.horizon, col("mean"), col("vol"), o.corr,
                         col("jump_rate"), col("jump_mean"), col("jump_std"))
    E.check_finite(r, "allocation.scenarios", "simulated returns; check the assets' numbers")
    t0 = time.perf_counter()
    kw = dict(lower=o.lower, upper=o.upper, cash=o.cash, names=names)
    f = frontier(r, o.level, o.n_points, **kw)
    best = None
    if o.cvar_cap is not None:
        b = best_return(r, o.level, o.cvar_cap, **kw)
        best = {"cvar_cap": o.cvar_cap, **_point(b, 0, names)}
        del best["target"]
    result = {
        "task": "allocate",
        "assets": [{"name": n, "mean": float(r[:, j].mean()), "stdev": float(r[:, j].std()),
                    "cvar": es(-r[:, j], o.level)} for j, n in enumerate(names)],
        "level": o.level, "horizon": o.horizon, "n_scenarios": o.n_scenarios, "seed": o.seed,
        "cash": o.cash,
        "frontier": [_point(f, k, names) for k in range(len(f.targets))],
        "best": best,
        "seconds": time.perf_counter() - t0,
        "notes": [f"{o.n_scenarios} horizon returns from a correlated Merton terminal draw "
                  f"over {o.horizon * 365:.4g} days (mcrisk.optimize.scenarios); CVaR is the "
                  "mean of the ceil(n (1 - level)) worst scenario losses of each portfolio",
                  "weights are fractions of the portfolio's value today; returns and CVaR "
                  "are decimals of it"],
    }
    return E.check_finite(result, "", "allocation")


def _point(f, k: int, names: list[str]) -> dict:
    w = f.weights[k]
    return {"target": float(f.targets[k]), "mean": float(f.mean[k]), "cvar": float(f.cvar[k]),
            "var": float(f.var[k]), "weights": {n: float(x) for n, x in zip(names, w)},
            "cash": float(max(0.0, 1.0 - w.sum()))}


def table(result: dict) -> str:
    """The frontier as a console table, and the capped answer."""
    names = [a["name"] for a in result["assets"]]
    pc = lambda x: f"{100 * x:7.2f}%"  # noqa: E731
    lines = [f"{'mean':>8} {'CVaR':>8} " + " ".join(f"{n[:8]:>8}" for n in names)]
    for p in result["frontier"]:
        lines.append(f"{pc(p['mean'])} {pc(p['cvar'])} "
                     + " ".join(pc(p["weights"][n]) for n in names))
    b = result.get("best")
    if b:
        lines.append(f"best mean return with {result['level']:.4g} CVaR <= {pc(b['cvar_cap'])}: "
                     f"{pc(b['mean'])} (CVaR {pc(b['cvar'])}); weights "
                     + ", ".join(f"{n} {pc(b['weights'][n]).strip()}" for n in names))
    return "\n".join(lines)
