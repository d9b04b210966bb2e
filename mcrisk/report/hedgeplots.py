"""Plots of hedging: the cost–risk frontier of task=dynamic_hedge's rebalancing rules, and
task=hedge's ES (in and out of sample) and margin requirement per hedge.

matplotlib and NumPy are imported inside, as in `mcrisk.report.plots`, whose `figure`/`save`
helpers draw without pyplot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mcrisk.report.plots import LOSS, NEUTRAL, Z95, figure, finite, save

MARKERS = {"time": ("o", NEUTRAL), "band": ("s", LOSS), "whalley_wilmott": ("^", "black"),
           "deep": ("D", "tab:green")}


def frontier(rows: Sequence[Mapping], path: Path) -> bool:
    """Mean cost of hedging against the hedged P&L's stdev, one point per rule, with ±1.96
    s.e. bars and the rule written beside it."""
    rows = [r for r in rows if finite(r.get("cost")) and finite(r.get("stdev"))]
    if not rows:
        return False
    fig, ax = figure(6.5, 4.5)
    ax = ax[0, 0]
    for kind, (marker, colour) in MARKERS.items():
        pts = [r for r in rows if r.get("kind") == kind]
        if not pts:
            continue
        ax.errorbar([r["stdev"] for r in pts], [r["cost"] for r in pts],
                    xerr=[Z95 * r.get("stdev_se", 0.0) for r in pts],
                    yerr=[Z95 * r.get("mean_se", 0.0) for r in pts], fmt=marker, color=colour,
                    ecolor="grey", capsize=3, label=kind.replace("_", "–"), linestyle="-")
        for r in pts:
            ax.annotate(r["rule"].split(" (")[0], (r["stdev"], r["cost"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("stdev of the hedged P&L (risk)")
    ax.set_ylabel("mean cost of hedging (−mean P&L)")
    ax.set_title("Cost–risk frontier of the rebalancing rules")
    ax.legend(fontsize=8)
    return save(fig, path)


def hedges(r: Mapping, path: Path) -> bool:
    """Left: ES at the level per hedge, in and out of sample. Right: margin per hedge."""
    h = r.get("hedges") or {}
    if not h:
        return False
    keys = list(h)
    x = range(len(keys))
    fig, axes = figure(9.0, 3.4, 1, 2)
    ax, bx = axes[0]
    ax.bar([i - 0.2 for i in x], [h[k]["in_sample"]["es"] for k in keys], 0.4, color=LOSS,
           label="in sample")
    ax.bar([i + 0.2 for i in x], [h[k]["out_of_sample"]["es"] for k in keys], 0.4,
           color=NEUTRAL, label="out of sample")
    ax.set_xticks(list(x), keys, fontsize=8)
    ax.set_ylabel(f"ES {r['level']:.4g} of the hedged book")
    ax.legend(fontsize=7)
    margins = [h[k]["margin"] for k in keys]
    if all(m is not None for m in margins):
        bx.bar(list(x), margins, 0.5, color=LOSS)
        bx.set_xticks(list(x), keys, fontsize=8)
        bx.set_ylabel(f"margin requirement ({r['margin_mode']})")
    else:
        bx.set_axis_off()
    fig.suptitle(f"Static hedge: objective {r['objective']}")
    return save(fig, path)
