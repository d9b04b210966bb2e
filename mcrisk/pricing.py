"""`price(cfg)`: Monte Carlo value, standard error, 95% CI and Greeks per position and book."""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import numpy as np

from mcrisk import stats, units
from mcrisk.config import build
from mcrisk.engine import (greeks_chunk, prepare, price_chunk, run_chunks, spot_pairs,
                           use_dtype)
from mcrisk.errors import check_finite
from mcrisk.instruments import conditional
from mcrisk.progress import resolve

Z95 = 1.959963984540054


class Priced(NamedTuple):
    """Monte Carlo prices of a problem's positions (NumPy, float64, original position order).

    Greek rows: delta per asset, gamma per asset, vega per asset, rho, then with
    `greeks.cross_gamma` d2V/dS_i dS_j for each pair i < j (`engine.spot_pairs` order);
    columns: the positions per unit, then the book.
    """

    unit: np.ndarray  # (positions,) value per unit
    unit_stderr: np.ndarray  # (positions,)
    book_stderr: float  # of the book's value (the positions' correlation included)
    greeks: np.ndarray | None  # (rows, positions + 1), None without `greeks.enabled`
    greeks_stderr: np.ndarray | None  # (rows, positions + 1)
    n_samples: int
    n_steps: int


def simulate_prices(problem, *, progress: Any = None) -> Priced:
    """Values, standard errors and (with `problem.greeks.enabled`) Greeks of every position
    of a built `Problem`; the typed core of `price`."""
    prep = prepare(problem)
    acc = run_chunks(prep, price_chunk, progress=progress, label="pricing")
    se = stats.stderr(acc)
    n_pos = len(problem.positions)
    inv = np.empty(n_pos, np.int64)
    inv[prep.plan.order] = np.arange(n_pos)
    unit, unit_se = acc.mean[:n_pos][inv], se[:n_pos][inv]
    # Spot and perpetual positions are worth their value today, known without paths: exact
    # in float64 rather than spot-times-quantity rounded in the simulation dtype.
    m = problem.market
    for i, p in enumerate(problem.positions):
        if p.type in ("spot", "perpetual"):
            unit[i] = m.spots[p.assets[0]] - p.terms.get("entry_price", 0.0)
    greeks = greeks_se = None
    if problem.greeks.enabled:
        gprep = prepare(problem, greeks=True)
        kernel = partial(greeks_chunk, cross=problem.greeks.cross_gamma)
        gacc = run_chunks(gprep, kernel, progress=progress, label="Greeks")
        cols = np.append(inv, n_pos)
        greeks, greeks_se = gacc.mean[:, cols], stats.stderr(gacc)[:, cols]
    return Priced(unit=unit, unit_stderr=unit_se, book_stderr=float(se[n_pos]), greeks=greeks,
                  greeks_stderr=greeks_se, n_samples=prep.n_samples, n_steps=prep.grid.n_steps)


def price(cfg: Any, *, progress: Any = None) -> dict:
    """Price a book by Monte Carlo.

    Args:
        cfg: a plain dict, an OmegaConf DictConfig or a `Problem` (see the README's config
            reference).
        progress: True to show each phase (pricing, Greeks) with its ETA on stderr; a
            function ``(chunks_done, n_chunks, seconds, paths_done)`` called per chunk; or
            a `mcrisk.progress.Tracker`. Default: the config's ``progress`` key, else
            nothing is shown.

    Returns:
        A JSON-serialisable dict: ``positions`` (one entry per position: value, stderr,
        ci95, unit_price, greeks), ``book`` (value, stderr, ci95, greeks per asset), and
        ``n_paths``, ``model``, ``dtype``, ``seed``, ``antithetic``, ``n_steps`` (grid steps
        actually simulated), ``notes``, ``units`` (of the value and each Greek: vega per
        1.00 of vol, rho per 1.00 of rate; see `mcrisk.units`).

    Raises:
        ConfigError: on any invalid input, before anything is compiled.
        NonFiniteError: where a price, standard error or Greek came out NaN or inf (naming
            the position).
    """
    problem = build(cfg)
    use_dtype(problem.sim.dtype)
    pr = simulate_prices(problem, progress=resolve(progress, cfg))
    unit, unit_se = pr.unit, pr.unit_stderr
    n_pos = len(problem.positions)
    greeks = (pr.greeks, pr.greeks_stderr) if pr.greeks is not None else None

    assets = problem.market.assets
    positions = []
    for i, p in enumerate(problem.positions):
        # + 0.0: a short position worth 0 is 0, never -0 (printed "-0.00").
        value, err = p.quantity * unit[i] + 0.0, abs(p.quantity) * unit_se[i]
        entry = {
            "name": p.name, "type": p.type, "assets": [assets[a] for a in p.assets],
            "quantity": p.quantity, "unit_price": float(unit[i]),
            "unit_stderr": float(unit_se[i]), "value": float(value), "stderr": float(err),
            "ci95": [float(value - Z95 * err), float(value + Z95 * err)],
        }
        if p.venue is not None:
            entry["venue"] = p.venue
        if greeks is not None:
            entry["greeks"] = _greeks_of(greeks, i, p.quantity, p.assets, assets)
        check_finite(entry, f"positions[{i}]", f"position '{p.name}' ({p.type})")
        positions.append(entry)
    # The mean of the per-path book sum equals the sum of the position means; summed here in
    # float64, it is free of the simulation dtype's rounding (float32 put a 208,120,649 book
    # at 208,120,656). Its error still needs the per-path sums (the positions' correlation).
    book_value = float(sum(p["value"] for p in positions)) + 0.0
    book_se = pr.book_stderr
    book = {"value": book_value, "stderr": book_se,
            "ci95": [book_value - Z95 * book_se, book_value + Z95 * book_se]}
    if greeks is not None:
        book["greeks"] = _greeks_of(greeks, n_pos, 1.0, range(len(assets)), assets)
    check_finite(book, "book", "the book's sum over positions")
    sim = problem.sim
    extra = {}
    if problem.surface is not None:
        from mcrisk.riskengine.vega import surface_values, surface_vega
        from mcrisk.tasks.risk import vega_dict

        extra["vega_by_expiry"] = vega_dict(surface_vega(problem))
        extra["on_surface"] = surface_values(problem, {p["name"]: p["value"]
                                                       for p in positions})
        extra["notes"] = list(problem.notes) + [
            "market.surface: the positions' value fields are Monte Carlo estimates at the flat "
            "market.vol; on_surface marks each closed-form contract at its own surface vol "
            "(as risk and stress do), vega_by_expiry is its vega"]
    return check_finite({
        "task": "price", "positions": positions, "book": book, "n_paths": sim.n_paths,
        "n_samples": pr.n_samples, "model": problem.model.name, "dtype": sim.dtype,
        "seed": sim.seed, "antithetic": sim.antithetic, "n_steps": pr.n_steps,
        "assets": list(assets), "corr_repaired": problem.market.corr_repaired,
        "greeks_method": greeks_method(problem) if greeks is not None else None,
        "notes": list(problem.notes), "units": dict(units.GREEKS), **extra,
    })


def greeks_method(problem) -> str:
    """How each payoff family's Greeks are estimated (see the README's `greeks` section)."""
    w = problem.greeks.smoothing
    smoothed = f"Gaussian-smoothed (kernel width {w} x terminal st.dev., bias O(width^2))"
    given = {"gbm": "", "merton": " given its jumps", "heston": " given its variance driver",
             "bates": " given its variance driver and jumps"}[problem.model.name]
    out = ("pathwise forward-mode autodiff; european/digital/forward, asian and barrier: "
           f"conditioned on the last step (closed-form expectation over the final interval"
           f"{given}), every Greek unbiased; lookback: exact pathwise")
    out += ("; basket/spread/exchange/best_of/worst_of: gamma by the pathwise-likelihood-ratio "
            "mixture over the horizon (the score of the log spots"
            + (" given the variance drivers" if problem.model.has_variance else "")
            + "), every Greek unbiased")
    if _singular_multi_asset(problem):
        out += (f"; except multi-asset payoffs on a singular correlation block (no density "
                f"for a likelihood ratio): gamma {smoothed}")
    if problem.greeks.cross_gamma:
        out += "; cross gammas: the same estimators' mixed second derivatives"
    return out


def _singular_multi_asset(problem) -> bool:
    """Whether a multi-asset position's assets have a singular correlation block."""
    corr = problem.market.corr
    for p in problem.positions:
        if len(p.assets) > 1:
            idx = list(p.assets)
            if np.linalg.eigvalsh(corr[np.ix_(idx, idx)]).min() <= conditional.MIN_EIG:
                return True
    return False


def _greeks_of(greeks, col: int, quantity: float, asset_ids, names) -> dict:
    """Greeks of one column (a position, or the book) scaled by the quantity."""
    mean, se = greeks
    n = len(names)
    out: dict[str, Any] = {}
    for r, key in enumerate(("delta", "gamma", "vega")):
        out[key] = {names[a]: float(quantity * mean[r * n + a, col]) for a in asset_ids}
        out[key + "_stderr"] = {names[a]: float(abs(quantity) * se[r * n + a, col])
                                for a in asset_ids}
    out["rho"] = float(quantity * mean[3 * n, col])
    out["rho_stderr"] = float(abs(quantity) * se[3 * n, col])
    if mean.shape[0] > 3 * n + 1 and len(set(asset_ids)) > 1:
        # Rows after rho: d2V/dS_i dS_j, i < j, in `spot_pairs` order; only pairs of the
        # position's own assets (other pairs are 0), keyed [first asset][second asset];
        # absent for a single-asset position.
        own = set(asset_ids)
        pi, pj = spot_pairs(n, True)
        cross: dict[str, dict[str, float]] = {}
        cross_se: dict[str, dict[str, float]] = {}
        for r, (a, b) in enumerate(zip(pi[n:], pj[n:]), start=3 * n + 1):
            if a in own and b in own:
                cross.setdefault(names[a], {})[names[b]] = float(quantity * mean[r, col])
                cross_se.setdefault(names[a], {})[names[b]] = float(abs(quantity) * se[r, col])
        out["cross_gamma"], out["cross_gamma_stderr"] = cross, cross_se
    return out

