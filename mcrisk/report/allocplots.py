"""Plot of task=allocate: the mean-CVaR frontier beside each frontier portfolio's weights.

Takes the result dict of `mcrisk.tasks.allocate.allocate` and a PNG path; returns whether it
wrote a file. matplotlib is imported inside `mcrisk.report.plots.figure`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mcrisk.report.plots import LOSS, NEUTRAL, figure, save


def frontier(r: Mapping, path: Path) -> bool:
    """Left: mean return against CVaR (frontier, single assets, the capped answer).
    Right: the weights of each frontier portfolio, stacked, against its CVaR."""
    points = r.get("frontier") or []
    if not points:
        return False
    names = [a["name"] for a in r["assets"]]
    cvar = [100 * p["cvar"] for p in points]
    fig, axes = figure(9.0, 3.6, 1, 2)
    ax, bx = axes[0]
    ax.plot(cvar, [100 * p["mean"] for p in points], "o-", ms=3, color=LOSS, label="frontier")
    for a in r["assets"]:
        ax.plot(100 * a["cvar"], 100 * a["mean"], "s", ms=4, color=NEUTRAL)
        ax.annotate(a["name"], (100 * a["cvar"], 100 * a["mean"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    b = r.get("best")
    if b:
        ax.axvline(100 * b["cvar_cap"], color=NEUTRAL, lw=0.8, ls="--")
        ax.plot(100 * b["cvar"], 100 * b["mean"], "*", ms=10, color="black",
                label=f"best with CVaR <= {100 * b['cvar_cap']:.3g}%")
    ax.set_xlabel(f"CVaR {r['level']:.4g} over {r['horizon'] * 365:.3g} days (%)")
    ax.set_ylabel("mean return (%)")
    ax.legend(fontsize=7)
    stacks = [[100 * p["weights"][n] for p in points] for n in names]
    labels = list(names)
    if r.get("cash"):
        stacks.append([100 * p["cash"] for p in points])
        labels.append("cash")
    bx.stackplot(cvar, stacks, labels=labels, alpha=0.85)
    bx.set_xlabel("CVaR of the frontier portfolio (%)")
    bx.set_ylabel("weight (%)")
    bx.set_ylim(0, 100)
    bx.legend(fontsize=7, loc="upper left")
    fig.suptitle("Mean-CVaR efficient frontier")
    return save(fig, path)
