"""What a static hedge is optimised on: the scenario losses of the book and of each candidate
instrument per unit, today's prices and Greeks, and the margin grid's losses.

The candidates join the book at quantity 1 (named ``hedge:<name>``) and the risk engine
revalues everything on the same scenarios (`mcrisk.riskengine.run.simulate_risk` with a `sink`), so
the loss of book plus hedge ``q`` in scenario i is exactly ``book[i] + units[i] @ q``: the
engine's full revaluation, linear in the quantities. The margin grid is revalued the same
way (`mcrisk.riskengine.stress.margin_grid`), so the requirement of any hedge is the grid
requirement of ``grid.book + grid.units @ q`` (`mcrisk.riskengine.stress.margin_requirement`).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from mcrisk.config.hedge import LINEAR, HedgeOptions
from mcrisk.riskengine.results import RiskResult

if TYPE_CHECKING:  # stress imports jax; the hedge config is parsed without it
    from mcrisk.riskengine.stress import GridPoints

# risk-section keys that only shape outputs the hedge does not use (profile, stress)
_DROPPED = ("dates", "collateral", "maintenance_margin", "stress", "method")


class Scenarios(NamedTuple):
    """Horizon losses of one scenario set (loss units of the book's currency).

    Attributes:
      book: ``(n,)`` the book's loss in each scenario.
      units: ``(n, m)`` each instrument's loss per unit held.
      seed: the scenarios' `sim.seed`.
    """

    book: np.ndarray
    units: np.ndarray
    seed: int


class Today(NamedTuple):
    """Today's prices and Greeks (per unit; the book's summed over its positions).

    Attributes:
      prices: ``(m,)`` value of one unit of each instrument (cash paid to buy it).
      notional: ``(m,)`` traded notional per unit: the premium for options, the spot for
        spot, perpetuals and forwards (proportional costs are a fraction of it).
      unit_delta, unit_vega: ``(assets, m)`` per unit, vega per 1.00 of vol.
      book_delta, book_vega: ``(assets,)``.
      book_value: the book's value today.
    """

    prices: np.ndarray
    notional: np.ndarray
    unit_delta: np.ndarray
    unit_vega: np.ndarray
    book_delta: np.ndarray
    book_vega: np.ndarray
    book_value: float


class Grid(NamedTuple):
    """The margin grid's point losses: requirement of hedge q from ``book + units @ q``.

    Attributes:
      book: ``(points,)`` the book's loss at each point.
      units: ``(points, m)`` each instrument's loss per unit.
      points: the grid's points: shocks, loss weights, scanned asset
        (`stress.GridPoints`).
      mode: ``joint`` or ``per_asset``.
    """

    book: np.ndarray
    units: np.ndarray
    points: GridPoints
    mode: str

    @property
    def weights(self) -> np.ndarray:
        """``(points,)`` loss weights (extreme points are weighted down)."""
        return self.points.weight


def combined(cfg: dict, opts: HedgeOptions, *, seed: int | None = None,
             margin: bool = False, quantities=None) -> dict:
    """The config of book plus instruments (at quantity 1, or at `quantities`).

    Args:
      cfg: the plain-dict config (book, market, model, sim, risk).
      opts: the checked hedge section.
      seed: replaces ``sim.seed`` (fresh out-of-sample scenarios).
      margin: keep the config's margin grid (else it and the stress scenarios are off).
      quantities: ``(m,)`` hedge quantities (default 1 each).
    """
    from mcrisk.config.build import _portfolio

    out = {k: copy.deepcopy(v) for k, v in cfg.items() if k not in ("hedge", "task")}
    positions, _ = _portfolio(cfg["portfolio"], [])
    q = np.ones(len(opts.instruments)) if quantities is None else np.asarray(quantities)
    out["portfolio"] = {"positions": [dict(p) for p in positions] + [
        dict(x.position, quantity=float(qj)) for x, qj in zip(opts.instruments, q)]}
    risk = {k: v for k, v in dict(cfg.get("risk") or {}).items() if k not in _DROPPED}
    if not margin:
        risk["margin"] = {"enabled": False}
    out["risk"] = risk
    if seed is not None:
        out["sim"] = dict(out.get("sim") or {}, seed=seed)
    return out


def scenario_losses(cfg: dict, opts: HedgeOptions, seed: int | None = None
                    ) -> tuple[Scenarios, RiskResult]:
    """Losses of the book and of each instrument per unit on the risk engine's scenarios.

    Returns:
      The scenarios and the engine's `RiskResult` (its ``today`` holds each instrument's
      price).
    """
    from mcrisk.config import build
    from mcrisk.progress import resolve
    from mcrisk.riskengine.run import simulate_risk

    m = len(opts.instruments)
    chunks: list[tuple[np.ndarray, np.ndarray]] = []
    book = combined(cfg, opts, seed=seed)
    res = simulate_risk(build(book), progress=resolve(None, book),
                        sink=lambda idx, loss, spots: chunks.append((np.array(idx),
                                                                     np.array(loss))))
    idx = np.concatenate([c[0] for c in chunks])
    loss = np.concatenate([c[1] for c in chunks])[np.argsort(idx, kind="stable")]
    return Scenarios(loss[:, :-m].sum(axis=1), loss[:, -m:], int(res.seed)), res


def today(cfg: dict, opts: HedgeOptions, engine: RiskResult) -> Today:
    """Prices (from the risk engine's `today`: closed forms where it has them) and Greeks
    (the pricing engine's, `mcrisk.pricing.simulate_prices`) of book and instruments."""
    from mcrisk.config import build
    from mcrisk.engine import use_dtype
    from mcrisk.pricing import simulate_prices

    problem = build(combined(cfg, opts))
    use_dtype(problem.sim.dtype)
    problem = replace(problem, greeks=replace(problem.greeks, enabled=True))
    g = simulate_prices(problem).greeks
    n_a = problem.market.n_assets
    n_pos = len(problem.positions)
    m = len(opts.instruments)
    q_book = np.array([p.quantity for p in problem.positions[:n_pos - m]])
    delta, vega = g[:n_a, :n_pos], g[2 * n_a:3 * n_a, :n_pos]
    values = dict(zip(engine.names, engine.today.positions))
    prices = np.array([values[x.name] for x in opts.instruments])
    spots = problem.market.spots
    notional = np.array([spots[x.asset] if x.type in LINEAR else abs(p)
                         for x, p in zip(opts.instruments, prices)])
    return Today(prices, notional, delta[:, -m:], vega[:, -m:], delta[:, :-m] @ q_book,
                 vega[:, :-m] @ q_book, float(engine.today.book) - float(prices.sum()))


def margin_losses(cfg: dict, opts: HedgeOptions) -> Grid | None:
    """The margin grid's losses of book and instruments (None without ``risk.margin``)."""
    from mcrisk.config import build
    from mcrisk.engine import prepare, use_dtype
    from mcrisk.riskengine import stress
    from mcrisk.riskengine.run import require_finite, stress_paths

    problem = build(combined(cfg, opts, margin=True))
    if problem.risk.margin is None:
        return None
    use_dtype(problem.sim.dtype)
    prep = prepare(problem)
    paths = stress_paths(problem)
    zero = np.zeros((1, problem.market.n_assets))
    base = stress.revalue_shocked(problem, prep, zero, zero, 0.0, paths).values[0]
    r, pts = stress.margin_grid(problem, prep, base, paths)
    names = [p.name for p in problem.positions]
    require_finite(r.values, names, lambda i: (
        f"margin.points[{i}]", "margin grid point " + pts.label(i, problem.market.assets)))
    q = np.array([p.quantity for p in problem.positions])
    loss = q * r.unit_losses(base)
    m = len(opts.instruments)
    return Grid(loss[:, :-m].sum(axis=1), loss[:, -m:], pts, problem.risk.margin.mode)
