"""Plots of a risk run: loss distribution, tail attribution, margin scan, exposure profile.

Same conventions as `mcrisk.report.plots`: each function draws what is present of its part
of the result dict and returns whether it wrote the PNG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from mcrisk.report.plots import GAIN, LOSS, NEUTRAL, bar_height, figure, finite, fnum, save
from mcrisk.report.text import highest, level, num, pct, points, sorted_levels

MAX_BARS = 20
MAX_ANNOTATED_CELLS = 80


def loss_histogram(result: Mapping, path: Path) -> bool:
    """Histogram of horizon losses with VaR (solid) and ES (dashed) lines per level, each
    with its confidence interval shaded."""

    h = result.get("histogram") or {}
    edges, counts = h.get("edges") or [], h.get("counts") or []
    if len(counts) == 0 or len(edges) != len(counts) + 1:
        return False
    fig, ax = figure(8.0, 4.4)
    ax = ax[0, 0]
    ax.stairs(counts, edges, fill=True, color="#b8c7e0", label="scenarios")
    xs = [edges[0], edges[-1]]
    var, es = result.get("var") or {}, result.get("es") or {}
    keys = sorted_levels(set(var) | set(es))
    colors = [f"C{i + 1}" for i in range(len(keys))]
    for key, color in zip(keys, colors):
        for metric, values, style in (("VaR", var, "-"), ("ES", es, "--")):
            x = values.get(key)
            if not finite(x):
                continue
            ax.axvline(x, color=color, ls=style, lw=1.4,
                       label=f"{metric} {level(key)}: {num(x)}")
            ci = (result.get(f"{metric.lower()}_ci") or {}).get(key) or []
            if len(ci) == 2 and finite(ci[0]) and finite(ci[1]):
                ax.axvspan(ci[0], ci[1], color=color, alpha=0.12, lw=0)
                xs += list(ci)
            xs.append(x)
    pad = 0.03 * (max(xs) - min(xs) or 1.0)
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    outside = [f"{h[k]:,} {k}" for k in ("below", "above") if h.get(k)]
    ax.set_xlabel("loss over the horizon (negative = gain); shaded: intervals"
                  + (f"\nscenarios outside the bins, not drawn: {', '.join(outside)}"
                     if outside else ""))
    ax.set_ylabel("scenarios")
    ax.set_title("Loss distribution")
    ax.legend(fontsize=7, loc="upper left")
    return save(fig, path)


def component_es(contributions: Mapping | None, path: Path) -> bool:
    """Component ES per position at the highest level (bars), incremental ES (markers)."""
    import numpy as np

    top = highest(contributions or {})
    c = (contributions or {}).get(top) or {}
    comp = {k: v for k, v in (c.get("component_es") or {}).items() if finite(v)}
    if not comp:
        return False
    names = sorted(comp, key=lambda k: -abs(comp[k]))[:MAX_BARS]
    names.sort(key=lambda k: -comp[k])
    vals = np.array([comp[k] for k in names])
    y = np.arange(len(names))[::-1]
    fig, ax = figure(7.5, bar_height(len(names)))
    ax = ax[0, 0]
    ax.barh(y, vals, color=[LOSS if v > 0 else GAIN for v in vals],
            label="component ES (sums to ES)")
    inc = c.get("incremental_es") or {}
    pts = [(yy, inc[k]) for yy, k in zip(y, names) if finite(inc.get(k))]
    if pts:
        ax.scatter([p[1] for p in pts], [p[0] for p in pts], marker="D", color="black",
                   zorder=3, s=22, label="incremental ES (ES - ES without it)")
    ax.set_yticks(y, names)
    ax.axvline(0.0, color="grey", lw=0.8)
    shown = "" if len(names) == len(comp) else f" (largest {len(names)} of {len(comp)})"
    ax.set_title(f"Tail contributions at {level(top)}, total {num(sum(comp.values()))}"
                 + shown)
    ax.set_xlabel("contribution to ES (negative = hedge)")
    ax.legend(fontsize=8, loc="lower right")
    return save(fig, path)


def margin_grid(margin: Mapping | None, path: Path) -> bool:
    """Heatmap of book loss over spot move (x) and vol shift (y) for the weight-1 points,
    one panel per scanned asset in per-asset mode, with the worst point outlined."""
    import numpy as np

    m = margin or {}
    pts = [p for p in m.get("points") or []
           if fnum(p.get("weight", 1.0)) == 1.0
           and all(finite(p.get(k)) for k in ("spot", "vol", "loss"))]
    if not pts:
        return False
    panels = list(dict.fromkeys(p.get("asset") for p in pts))
    spots = sorted({p["spot"] for p in pts})
    vols = sorted({p["vol"] for p in pts})
    grids = {a: np.full((len(vols), len(spots)), np.nan) for a in panels}
    for p in pts:
        grids[p.get("asset")][vols.index(p["vol"]), spots.index(p["spot"])] = p["loss"]
    vmax = max(abs(p["loss"]) for p in pts) or 1.0
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = figure(max(4.5, 0.55 * len(spots) + 1.5) * ncols + 1.0,
                       max(3.0, 0.45 * len(vols) + 1.6) * nrows, nrows, ncols)
    worst = m.get("worst_point") or {}
    annotate = len(spots) * len(vols) <= MAX_ANNOTATED_CELLS
    image = None
    for ax, a in zip(axes.flat, panels):
        grid = grids[a]
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="RdBu_r",
                          vmin=-vmax, vmax=vmax)
        ax.set_xticks(range(len(spots)), [pct(s, signed=True) for s in spots],
                      fontsize=7, rotation=45 if len(spots) > 9 else 0)
        ax.set_yticks(range(len(vols)), [points(v) for v in vols], fontsize=7)
        ax.set_xlabel("spot move")
        ax.set_ylabel("vol shift")
        ax.set_title("all assets together" if a is None else str(a), fontsize=9)
        if annotate:
            for (iy, ix), loss in np.ndenumerate(grid):
                if math.isfinite(loss):
                    ax.text(ix, iy, _short(loss), ha="center", va="center", fontsize=6,
                            color="white" if abs(loss) > 0.6 * vmax else "black")
        if (fnum(worst.get("weight", 1.0)) == 1.0 and worst.get("asset") == a
                and worst.get("spot") in spots and worst.get("vol") in vols):
            ax.scatter([spots.index(worst["spot"])], [vols.index(worst["vol"])], marker="s",
                       s=260, facecolors="none", edgecolors="black", linewidths=2,
                       zorder=3)
            ax.set_title(ax.get_title() + " (outlined: worst point)", fontsize=9)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes, label="book loss (negative = gain)", shrink=0.9)
    title = f"Margin scan ({m.get('grid', {}).get('mode', 'joint')})"
    if finite(m.get("requirement")):
        title += f": requirement {num(m['requirement'])}"
    if worst and fnum(worst.get("weight", 1.0)) != 1.0:
        title += (f"\nworst point is an extreme move {pct(worst.get('spot'), signed=True)}"
                  f" ({pct(worst.get('weight'))} of its loss counted), not in the grid")
    fig.suptitle(title, fontsize=10)
    return save(fig, path)


def profile(prof: Mapping | None, path: Path) -> bool:
    """Expected exposure, mean value and the PFE band by date; the liquidation probability
    by date in a second panel when the run had a maintenance margin."""
    import numpy as np

    p = prof or {}
    days = np.array([fnum(d) for d in p.get("dates") or []]) * 365.0
    if days.size == 0:
        return False

    def series(key):
        s = p.get(key)
        return np.array([fnum(x) for x in s]) if s and len(s) == days.size else None

    ee, mean, pfe = series("expected_exposure"), series("mean_value"), series("pfe")
    ene = series("expected_negative_exposure")
    liq = None
    by_date = (p.get("liquidation") or {}).get("probability_by_date")
    if by_date and len(by_date) == days.size:
        liq = np.array([fnum(x) for x in by_date])
    exposure = any(s is not None for s in (ee, mean, pfe, ene))
    if not exposure and liq is None:
        return False
    nrows = int(exposure) + int(liq is not None)
    fig, axes = figure(9.0, 2.9 * nrows + 0.5, nrows, 1, sharex=True,
                       height_ratios=[2, 1] if nrows == 2 else None)
    axes = list(axes[:, 0])
    if exposure:
        ax = axes[0]
        lower = mean if mean is not None else ee
        if pfe is not None:
            lvl = p.get("pfe_level")
            name = f"PFE {pct(lvl)}" if finite(lvl) else "PFE"
            if lower is not None:
                ax.fill_between(days, lower, pfe, color=NEUTRAL, alpha=0.18,
                                label=f"{'mean value' if mean is not None else 'EE'} to {name}")
            ax.plot(days, pfe, ":", marker=".", color=NEUTRAL, label=name)
        for s, label, style in ((ee, "expected exposure", "o-"), (mean, "mean value", "s-"),
                                (ene, "expected negative exposure", "^--")):
            if s is not None:
                ax.plot(days, s, style, ms=4, label=label)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_ylabel("book value")
        ax.set_title("Exposure profile")
        # Outside the axes: the curves can fill any corner of the panel.
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if liq is not None:
        from matplotlib.ticker import PercentFormatter

        ax = axes[-1]
        ax.plot(days, liq, "o-", color=LOSS, ms=4)
        top = float(np.nanmax(liq)) if np.isfinite(liq).any() else 0.0
        # A floor keeps an all-zero curve on a readable axis instead of a singular one.
        ax.set_ylim(0.0, max(top, 1e-3) * 1.15)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("P(liquidated by date)")
        if not exposure:
            ax.set_title("Liquidation probability")
    axes[-1].set_xlabel("days from today")
    return save(fig, path)


def _short(x: float) -> str:
    """A heatmap cell label: 3 significant digits with a k/M suffix."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"

