"""Plot of task=hedge: ES in and out of sample, and the margin requirement, of each hedge.

Takes the result dict of `mcrisk.tasks.hedge.hedge` and a PNG path; returns whether it
wrote a file. matplotlib is imported inside `mcrisk.report.plots.figure`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mcrisk.report.plots import LOSS, NEUTRAL, figure, save


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
