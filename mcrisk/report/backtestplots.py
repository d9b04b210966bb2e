"""Plots of task=backtest: the P&L with each model's VaR line and its exceptions, and the
cumulative exceptions of each model against the count expected.

matplotlib and NumPy are imported inside, as in `mcrisk.report.plots`, whose `figure`/`save`
helpers draw without pyplot.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mcrisk.report.plots import figure, fnum, save
from mcrisk.report.text import highest

COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")


def _ticks(ax, dates: list[str]) -> None:
    step = max(1, len(dates) // 6)
    ax.set_xticks(range(0, len(dates), step))
    ax.set_xticklabels(dates[::step], rotation=30, ha="right", fontsize=7)


def pnl_var(r: Mapping, path: Path) -> bool:
    """Daily P&L (-loss) as bars, each model's -VaR at the highest level as a line, and the
    days its VaR was exceeded as markers on the P&L."""
    import numpy as np

    dates, models = list(r.get("dates") or []), r.get("models") or {}
    if not dates or not models:
        return False
    key = highest(next(iter(models.values()))["var"])
    pnl = -np.array([fnum(x) for x in r["loss"]])
    fig, ax = figure(9.0, 4.5)
    ax = ax[0, 0]
    x = np.arange(len(dates))
    ax.bar(x, pnl, width=1.0, color="grey", alpha=0.5, label="P&L")
    for i, (md, m) in enumerate(models.items()):
        colour = COLOURS[i % len(COLOURS)]
        var = np.array([fnum(v) for v in m["var"][key]])
        ax.plot(x, -var, color=colour, lw=1.0, label=f"{md} VaR {key}")
        hit = -pnl > var
        ax.plot(x[hit], pnl[hit], "v", color=colour, ms=5, ls="none")
    ax.axhline(0.0, color="black", lw=0.5)
    _ticks(ax, dates)
    ax.set_ylabel("P&L over the horizon")
    ax.set_title(f"P&L against each model's VaR {key} (markers: exceptions)")
    ax.legend(fontsize=7, ncol=2)
    return save(fig, path)


def exceptions(r: Mapping, path: Path) -> bool:
    """Cumulative exceptions per model at the highest level, and the expected count."""
    import numpy as np

    dates, models = list(r.get("dates") or []), r.get("models") or {}
    if not dates or not models:
        return False
    key = highest(next(iter(models.values()))["var"])
    loss = np.array([fnum(x) for x in r["loss"]])
    fig, ax = figure(9.0, 4.0)
    ax = ax[0, 0]
    x = np.arange(len(dates))
    for i, (md, m) in enumerate(models.items()):
        var = np.array([fnum(v) for v in m["var"][key]])
        ax.step(x, np.cumsum(loss > var), where="post", color=COLOURS[i % len(COLOURS)],
                label=md)
    ax.plot(x, (x + 1) * (1.0 - float(key)), "k--", lw=1.0, label="expected")
    _ticks(ax, dates)
    ax.set_ylabel(f"exceptions of VaR {key} so far")
    ax.set_title("Exceptions over time")
    ax.legend(fontsize=7)
    return save(fig, path)
