"""Plots of pricing, convergence, model-risk and stress results.

Every function takes the part of a result dict it draws and a PNG path, draws whatever of
it is present and returns whether it wrote a file (False when there is nothing to draw).

Figures are `matplotlib.figure.Figure` objects rendered by the Agg canvas directly, never
through pyplot: that needs no display and leaves the process's global backend alone, so a
notebook that calls `write_report` keeps its own inline plotting. matplotlib and NumPy are
imported inside the functions so that importing `mcrisk.report` stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mcrisk.report.text import highest, level

DPI = 120
LOSS, GAIN, NEUTRAL = "#c0392b", "#27ae60", "#4c72b0"
Z95 = 1.959963984540054
NAMES = {"var": "VaR", "es": "ES"}


def figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kwargs: Any):
    """A stand-alone figure (no pyplot state) and its axes as an (nrows, ncols) array."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kwargs)


def save(fig: Any, path: Path) -> bool:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from mcrisk.atomic import replacing

    FigureCanvasAgg(fig)
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=DPI)
    return True


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fnum(x: Any) -> float:
    """A JSON number as a float; None (an absent estimate) becomes NaN so it is not drawn."""
    return float(x) if finite(x) else math.nan


def bar_height(n: int) -> float:
    return max(2.6, 0.32 * n + 1.3)


def errors(values: Sequence[float], cis: Sequence[Any], stderrs: Sequence[Any]):
    """Asymmetric error-bar lengths, shape (2, n), from [lo, hi] intervals or else
    1.96 standard errors; zero where neither is known."""
    import numpy as np

    out = np.zeros((2, len(values)))
    for i, (v, ci, se) in enumerate(zip(values, cis, stderrs)):
        if ci and len(ci) == 2 and finite(ci[0]) and finite(ci[1]):
            out[:, i] = v - ci[0], ci[1] - v
        elif finite(se):
            out[:, i] = Z95 * se
    return np.nan_to_num(np.abs(out))


def values(positions: Sequence[Mapping] | None, path: Path) -> bool:
    """Horizontal bars of position values with their 95% intervals."""
    import numpy as np

    rows = [p for p in positions or [] if finite(p.get("value"))]
    if not rows:
        return False
    vals = np.array([p["value"] for p in rows], float)
    err = errors(vals, [p.get("ci95") for p in rows], [p.get("stderr") for p in rows])
    y = np.arange(len(rows))[::-1]
    fig, ax = figure(7.5, bar_height(len(rows)))
    ax = ax[0, 0]
    ax.barh(y, vals, xerr=err, color=[NEUTRAL if v >= 0 else LOSS for v in vals],
            ecolor="black", capsize=3)
    ax.set_yticks(y, [str(p.get("name", i)) for i, p in enumerate(rows)])
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("value (error bars: 95% interval)")
    ax.set_title("Position values")
    return save(fig, path)


def greeks(book_greeks: Mapping | None, path: Path) -> bool:
    """Book delta, gamma and vega per asset, one panel each, with ±1.96 s.e. bars."""
    import numpy as np

    g = book_greeks or {}
    names = [k for k in ("delta", "gamma", "vega") if isinstance(g.get(k), Mapping) and g[k]]
    if not names:
        return False
    fig, axes = figure(3.2 * len(names) + 0.6, 3.4, 1, len(names))
    for ax, name in zip(axes[0], names):
        assets = list(g[name])
        vals = np.array([fnum(g[name][a]) for a in assets])
        se = g.get(f"{name}_stderr") or {}
        err = np.nan_to_num([Z95 * fnum(se.get(a)) for a in assets])
        ax.bar(range(len(assets)), vals, yerr=err, capsize=4,
               color=[NEUTRAL if v >= 0 else LOSS for v in np.nan_to_num(vals)])
        ax.set_xticks(range(len(assets)), assets)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_title(f"book {name}")
    fig.suptitle("Book Greeks per asset (error bars: ±1.96 s.e.)")
    return save(fig, path)


def stress(scenarios: Sequence[Mapping] | None, path: Path) -> bool:
    """Horizontal bars of the book loss in each stress scenario (positive = loss)."""
    import numpy as np

    rows = [s for s in scenarios or [] if finite(s.get("loss"))]
    if not rows:
        return False
    losses = np.array([s["loss"] for s in rows], float)
    y = np.arange(len(rows))[::-1]
    fig, ax = figure(7.5, bar_height(len(rows)))
    ax = ax[0, 0]
    ax.barh(y, losses, color=[LOSS if v > 0 else GAIN for v in losses])
    ax.set_yticks(y, [str(s.get("name", i)) for i, s in enumerate(rows)])
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("book loss (negative = gain)")
    ax.set_title("Stress scenarios")
    return save(fig, path)


def convergence(rows: Sequence[Mapping] | None, path: Path) -> bool:
    """Price and the highest-level VaR/ES with their intervals against the path count."""
    import numpy as np

    rows = sorted((r for r in rows or [] if finite(r.get("n_paths")) and r["n_paths"] > 0),
                  key=lambda r: r["n_paths"])
    priced = [r for r in rows if finite(r.get("book_value"))]
    top = highest({k for r in rows for m in ("var", "es") for k in (r.get(m) or {})})
    panels = (["price"] if priced else []) + (["tail"] if top is not None else [])
    if not panels:
        return False
    fig, axes = figure(5.0 * len(panels) + 0.5, 3.8, 1, len(panels))
    n_lo, n_hi = rows[0]["n_paths"], rows[-1]["n_paths"]
    for ax, panel in zip(axes[0], panels):
        ax.set_xscale("log")
        # Fixed before drawing: a single path count would give autoscaling a zero-width
        # range on a log axis.
        ax.set_xlim(n_lo / 1.5, n_hi * 1.5)
        ax.set_xlabel("paths")
        if panel == "price":
            n = np.array([r["n_paths"] for r in priced], float)
            v = np.array([r["book_value"] for r in priced], float)
            err = errors(v, [r.get("book_ci95") for r in priced],
                         [r.get("book_stderr") for r in priced])
            ax.errorbar(n, v, yerr=err, fmt="o-", capsize=3, color=NEUTRAL,
                        label="book value, 95% interval")
            ax.axhline(v[-1], color="grey", ls="--", lw=0.8, label="largest run")
            ax.set_title("Book value")
            ax.legend(fontsize=8)
            continue
        for shift, (metric, color) in zip((0.96, 1.04), (("var", NEUTRAL), ("es", LOSS))):
            sel = [r for r in rows if finite((r.get(metric) or {}).get(top))]
            if not sel:
                continue
            n = np.array([r["n_paths"] for r in sel], float) * shift
            v = np.array([r[metric][top] for r in sel], float)
            err = errors(v, [(r.get(f"{metric}_ci") or {}).get(top) for r in sel],
                         [None] * len(sel))
            ax.errorbar(n, v, yerr=err, fmt="o-", capsize=3, color=color,
                        label=f"{NAMES[metric]} {level(top)}")
        ax.set_title(f"VaR and ES at {level(top)} with intervals")
        ax.legend(fontsize=8)
    return save(fig, path)


def model_risk(models: Mapping[str, Mapping] | None, path: Path) -> bool:
    """Book value (±1.96 s.e.) and highest-level VaR/ES per model, grouped.

    Value and tail metrics get separate panels: a book worth millions with a one-day VaR
    in the thousands would flatten the VaR bars on a shared axis.
    """
    import numpy as np

    models = dict(models or {})
    names = list(models)
    valued = [m for m in names if finite(models[m].get("book_value"))]
    top = highest({k for m in names for t in ("var", "es") for k in (models[m].get(t) or {})})
    panels = (["value"] if valued else []) + (["tail"] if top is not None else [])
    if not panels:
        return False
    width = max(4.0, 0.9 * len(names) + 2.0)
    fig, axes = figure(width * len(panels), 3.8, 1, len(panels))
    for ax, panel in zip(axes[0], panels):
        if panel == "value":
            v = np.array([models[m]["book_value"] for m in valued], float)
            err = np.nan_to_num([Z95 * fnum(models[m].get("book_stderr")) for m in valued])
            ax.bar(range(len(valued)), v, yerr=err, capsize=4, color=NEUTRAL)
            ax.set_xticks(range(len(valued)), valued, rotation=20)
            ax.set_title("Book value (±1.96 s.e.)")
        else:
            x = np.arange(len(names))
            for off, (metric, color) in zip((-0.2, 0.2), (("var", NEUTRAL), ("es", LOSS))):
                v = np.array([fnum((models[m].get(metric) or {}).get(top)) for m in names])
                ok = np.isfinite(v)  # a missing estimate gets no bar rather than a zero one
                ax.bar(x[ok] + off, v[ok], width=0.4, color=color,
                       label=f"{NAMES[metric]} {level(top)}")
            ax.set_xticks(x, names, rotation=20)
            ax.set_title(f"VaR and ES at {level(top)}")
            ax.legend(fontsize=8)
        ax.axhline(0.0, color="grey", lw=0.8)
    fig.suptitle("Model risk: the same book under each model")
    return save(fig, path)
