"""Plots of task=calibrate: fitted smiles, fit residuals and implied densities per expiry.

Each function takes one underlying's ``surface`` section of the result (see
`mcrisk.tasks.calibrate.surface_section`) and a PNG path, draws one small panel per expiry
and returns whether it wrote a file. matplotlib and NumPy are imported inside, as in
`mcrisk.report.plots`, whose `figure`/`save` helpers draw without pyplot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from mcrisk.report.plots import NEUTRAL, LOSS, figure, save

PANEL_W, PANEL_H, MAX_COLS = 3.0, 2.3, 4


def _grid(n: int, title: str):
    cols = min(n, MAX_COLS)
    rows = math.ceil(n / cols)
    fig, axes = figure(PANEL_W * cols, PANEL_H * rows + 0.4, rows, cols)
    fig.suptitle(title)
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat


def _label(e: Mapping) -> str:
    days = e["years"] * 365.0
    return (e["expiry"] or "")[:10] + f" ({days:.3g} d)"


def _by_expiry(s: Mapping) -> list[tuple[Mapping, list[Mapping]]]:
    res = s.get("residuals") or []
    return [(e, [r for r in res if r["years"] == e["years"]]) for e in s.get("expiries") or []]


def smiles(underlying: str, s: Mapping, path: Path) -> bool:
    """Market mid vols with bid/ask error bars and the fitted smile, per expiry."""
    import numpy as np

    groups = _by_expiry(s)
    if not groups:
        return False
    fig, axes = _grid(len(groups), f"{underlying}: implied vol ({s['method']} fit) vs "
                                   "log-moneyness ln(K/F)")
    for ax, (e, quotes) in zip(axes, groups):
        k = np.array([q["k"] for q in quotes])
        mid = np.array([q["market_vol"] for q in quotes]) * 100
        bid = np.array([np.nan if q["bid_vol"] is None else q["bid_vol"] for q in quotes]) * 100
        ask = np.array([np.nan if q["ask_vol"] is None else q["ask_vol"] for q in quotes]) * 100
        # A missing side draws no bar on that side.
        err = np.vstack([np.nan_to_num(mid - bid), np.nan_to_num(ask - mid)]).clip(min=0)
        ax.errorbar(k, mid, yerr=err, fmt="o", ms=2, lw=0.6, color=NEUTRAL, alpha=0.7,
                    label="market (bid/ask)")
        c = e["curve"]
        ax.plot(c["k"], np.array(c["vol"]) * 100, color=LOSS, lw=1.2, label="fit")
        ax.set_title(_label(e) + f", RMSE {e['rmse_vol_points']:.2f} pt", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("vol (%)", fontsize=8)
    axes[0].legend(fontsize=6)
    return save(fig, path)


def residuals(underlying: str, s: Mapping, path: Path) -> bool:
    """Model minus market vol (vol points) against log-moneyness, with the band of the
    bid/ask half-spread around zero, per expiry."""
    import numpy as np

    groups = _by_expiry(s)
    if not groups:
        return False
    fig, axes = _grid(len(groups), f"{underlying}: fit residual (model − market, vol points) "
                                   "vs ln(K/F); band: ± half the bid/ask spread")
    for ax, (e, quotes) in zip(axes, groups):
        quotes = sorted(quotes, key=lambda q: q["k"])
        k = np.array([q["k"] for q in quotes])
        res = np.array([q["residual"] for q in quotes]) * 100
        lo = np.array([np.nan if q["bid_vol"] is None else q["bid_vol"] - q["market_vol"]
                       for q in quotes]) * 100
        hi = np.array([np.nan if q["ask_vol"] is None else q["ask_vol"] - q["market_vol"]
                       for q in quotes]) * 100
        ax.fill_between(k, lo, hi, color="0.85", lw=0, label="bid/ask")
        ax.axhline(0.0, color="0.4", lw=0.6)
        out = np.array([q["inside"] is False for q in quotes])
        ax.plot(k[~out], res[~out], "o", ms=2, color=NEUTRAL, label="inside")
        ax.plot(k[out], res[out], "o", ms=2.5, color=LOSS, label="outside")
        ax.set_title(_label(e), fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("vol points", fontsize=8)
    axes[0].legend(fontsize=6)
    return save(fig, path)


def densities(underlying: str, s: Mapping, path: Path) -> bool:
    """The risk-neutral density of ln(S_T/F) implied by each fitted smile."""
    import numpy as np

    groups = _by_expiry(s)
    if not groups:
        return False
    fig, axes = _grid(len(groups), f"{underlying}: implied density of ln(S_T/F)")
    for ax, (e, _) in zip(axes, groups):
        c = e["curve"]
        d = np.array(c["density"])
        ax.plot(c["k"], d, color=NEUTRAL, lw=1.2)
        ax.fill_between(c["k"], 0.0, d, where=d < 0, color=LOSS, label="negative")
        ax.set_title(_label(e), fontsize=8)
        ax.tick_params(labelsize=7)
    return save(fig, path)
