"""What a payoff family is: the interface every module of `mcrisk.instruments.FAMILIES` has.

A family owns everything about its positions, so adding one means one new module and a
line in the registry (`mcrisk/instruments/__init__.py`). Host side (NumPy, before tracing):

* ``NAME``, ``TYPES``: the family's name and the position types it covers.
* ``SNAPSHOT``: whether its payoffs read the spots at their expiry (the book then records
  a snapshot of the spots on that date).
* ``plan(ctx, positions) -> FamilyPlan``: contract terms as a struct of arrays (leading axis:
  the family's positions) and per-step masks (leading axis: steps) the scan walks over.
* ``residual(position, date) -> Position``: the contract left at a later date (nested
  revaluation); what happened before the date lives in the path statistics.
* ``KINDS``, ``closed_kind(position, model) -> str | None``, ``closed_terms(kind, positions,
  date) -> dict``: which closed form revalues a position at a later date, and its extra
  terms (`mcrisk.riskengine.revalue` adds the common ones).
* ``shock_aux(positions, horizon) -> dict``: host arrays `at_shock` needs.

In the kernel, for one path:

* ``init(terms, x0) -> stats``: running statistics (a NamedTuple whose arrays have the
  family's positions as leading axis; ``()`` when the payoff needs only the snapshots).
  Each position's statistics and records follow one asset's path, ``terms["asset"]``: the
  Greeks kernel carries one tangent for all assets and splits it by that owner
  (`mcrisk.simulate.owners`). A statistic over several assets needs its own owner rule
  there.
* ``update(stats, terms, masks, x0, x1, var, draws) -> stats``: fold one step in, log spots
  ``x0 -> x1`` with integrated variance ``var`` per asset.
* ``payoff(stats, terms, snap, spots, rate, cond) -> (positions,)``: discounted payoffs;
  ``cond`` is the Greeks kernel's last-step record (`mcrisk.instruments.conditional`) or None.
* Optional, for families whose rows carry likelihood-ratio gammas as a zero-valued payoff
  term: ``lr_gamma(stats, terms, snap, spots, rate, cond) -> (positions, n, n)``, those
  gammas, and a ``payoff(..., lr_term=False)`` that leaves the term out (the Greeks kernel
  adds them directly; `mcrisk.instruments.terminal`).
* ``record_init(n, dtype)``, ``record(rec, stats, terms, masks, mean, var) -> rec``: what
  the Greeks kernel keeps of the path for the family's conditional payoff (``()`` if nothing).
  It is called only on steps that end a snapshot date or where the family's ``last`` mask
  is set (`conditional.record_step`), so it records on those masks alone.
* ``closed_value(kind, g, st, p, vols, stats) -> (positions,)``: a closed form's values in
  one scenario; ``stats`` are the rows of the family's statistics (``g["row"]``).
* ``at_shock(terms, aux, s, x, s0) -> stats``: the statistics of a stress point, the spots
  moved at once from today's ``s0`` to ``s`` (log ``x``).
* ``realise(stats, key) -> stats`` (optional): turn probabilities in the statistics into one
  realised outcome (a barrier's knock) for a scenario's revaluation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np

from mcrisk.grid import TimeGrid
from mcrisk.problem import Position, Problem


class FamilyPlan(NamedTuple):
    """A family's host-side plan: array terms and per-step masks (NumPy)."""

    terms: dict
    masks: dict


class PlanContext(NamedTuple):
    """What a family's `plan` needs to know about the book's problem and grid."""

    problem: Problem
    grid: TimeGrid
    smoothing: float
    snap_times: np.ndarray  # dates of the spot snapshots

    @property
    def n_assets(self) -> int:
        return self.problem.market.n_assets

    @property
    def n_steps(self) -> int:
        return len(self.grid.times) - 1

    def slot(self, t: float) -> int:
        """Snapshot index of date `t`."""
        return int(np.argmin(np.abs(self.snap_times - t)))

    def active(self, expiry: float) -> np.ndarray:
        """(steps,) whether step k, covering (t_k, t_{k+1}], ends on or before `expiry`."""
        return self.grid.times[1:] <= expiry * (1 + 1e-12)

    def last(self, expiry: float) -> np.ndarray:
        """(steps,) whether step k ends on `expiry`."""
        return np.isclose(self.grid.times[1:], expiry, rtol=1e-12, atol=0)

    def vols(self) -> np.ndarray:
        """Today's instantaneous vol per asset (sqrt(v0) under stochastic variance)."""
        mod = self.problem.model
        return np.sqrt(mod.params["v0"]) if mod.has_variance else self.problem.market.vols

    def scale(self, assets, weights, expiry: float) -> float:
        """Terminal standard-deviation scale of a payoff's underlying (the smoothing width of
        the Greek kernels is `smoothing` times it)."""
        spots, vols = self.problem.market.spots, self.vols()
        return float(sum(abs(w) * spots[a] * vols[a] for a, w in zip(assets, weights))
                     * np.sqrt(expiry))


def sign(p: Position) -> float:
    """+1 for a call, -1 for a put."""
    return 1.0 if p.terms.get("option", "call") == "call" else -1.0


def contract_vols(g: dict, vols):
    """Revaluation vols of a closed-form group's first and second asset, per contract: the
    contract's own surface vols where `mcrisk.riskengine.surfvol` set them, else the flat
    vol of each asset."""
    if "vol1" in g:
        return g["vol1"], g["vol2"]
    return vols[g["a1"]], vols[g["a2"]]


def nothing(*args, **kwargs) -> tuple:
    """The part of a family that carries nothing (`init`, `update`, `record_init`, `record`,
    `at_shock` of a payoff read from the snapshots alone)."""
    return ()


def no_aux(positions, horizon: float) -> dict:
    """`shock_aux` of a family whose stress-point statistics need no host arrays."""
    return {}


def shift_expiry(p: Position, date: float) -> Position:
    """The same contract seen from `date`: its expiry measured from there."""
    terms = dict(p.terms)
    terms["expiry"] = p.terms["expiry"] - date
    return replace(p, terms=terms)


def stack_masks(columns: list[np.ndarray], n_steps: int) -> np.ndarray:
    """(steps, k) bool mask from k per-position (steps,) columns."""
    return (np.stack(columns, axis=1) if columns else np.zeros((n_steps, 0), bool))


def pick(a, idx):
    """`a[idx]`, materialised: fused into the closed forms that read it, XLA's CPU backend
    recomputes the gather inside every consumer, which made a vmapped barrier revaluation
    ~8x slower than the formula itself."""
    import jax  # not at import time: this module is read before the backend is chosen

    return jax.lax.optimization_barrier(a[idx])
