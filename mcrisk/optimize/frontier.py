"""The mean-CVaR efficient frontier of a long-only, budgeted portfolio over scenarios.

Given ``(n, m)`` scenario returns R of m assets or strategies (historical, or simulated with
`mcrisk.optimize.scenarios.simulate_returns`), a portfolio w has return ``R w`` and loss
``-R w``. The frontier is the minimum CVaR at level beta for each target mean return between
that of the minimum-CVaR portfolio and the largest mean return the constraints allow; each
point is one `mcrisk.optimize.cvar.minimise_cvar` problem with an expected-P&L floor, all
points solved at once. `best_return` answers the converse, "the largest expected return with
CVaR at most X": the minimum CVaR is nondecreasing in the target on the frontier, so the
answer is the target where it reaches X, found by bracketing on a few rounds of frontier
points and regula falsi within the last bracket (the frontier of an LP is piecewise linear
in the target).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mcrisk.errors import ConfigError, integer, number
from mcrisk.optimize.cvar import CvarSolution, CvarSpec, make_problem, max_mean, minimise_cvar

__all__ = ["Frontier", "best_return", "frontier"]


class Frontier(NamedTuple):
    """Frontier points (``k`` of them, ``m`` assets), ordered by increasing target return.

    Attributes:
      names: the assets.
      level: the CVaR level beta.
      targets: ``(k,)`` target mean returns (horizon returns, decimals).
      mean: ``(k,)`` achieved mean return of each portfolio (>= its target).
      cvar: ``(k,)`` exact empirical CVaR of each portfolio's loss, decimals of the budget.
      var: ``(k,)`` the matching VaR.
      weights: ``(k, m)`` the portfolios; with cash the rest of the budget is cash.
    """

    names: tuple[str, ...]
    level: float
    targets: np.ndarray
    mean: np.ndarray
    cvar: np.ndarray
    var: np.ndarray
    weights: np.ndarray


def _problem(returns, level, lower, upper, cash, names, path):
    r = np.asarray(returns)
    if r.ndim != 2 or r.dtype.kind not in "fiu":
        raise ConfigError(f"{path}.scenarios", f"an array of shape {r.shape}",
                          "a 2-D array of returns, scenarios x assets")
    return make_problem(0.0, -r, level, lower=lower, upper=upper, budget=1.0, cash=cash,
                        names=names, path=path)


def _frontier(targets: np.ndarray, s: CvarSolution, p) -> Frontier:
    return Frontier(p.names, p.level, targets, s.mean_pnl, s.cvar, s.var, s.x)


def frontier(returns, level: float, n_points: int = 11, *, lower=0.0, upper=np.inf,
             cash: bool = False, names=None, spec: CvarSpec | None = None,
             path: str = "allocation") -> Frontier:
    """Mean-CVaR efficient frontier of portfolios ``w >= lower`` with ``sum w = 1``.

    Args:
      returns: ``(n, m)`` scenario returns over the horizon (decimals).
      level: CVaR level beta in (0, 1).
      n_points: frontier points, from the minimum-CVaR portfolio to the maximum mean return.
      lower, upper: weight bounds (a number or one per asset).
      cash: ``sum w <= 1``, the rest held as cash with zero return.
      names: asset labels.
      spec: solver options.
      path: config path for error messages.

    Raises:
      ConfigError: bad inputs, named by field, before anything is compiled.
    """
    p = _problem(returns, level, lower, upper, cash, names, path)
    k = integer(f"{path}.n_points", n_points, lo=2)
    low = minimise_cvar(p, None, spec)
    targets = np.linspace(float(low.mean_pnl[0]), max_mean(p), k)
    return _frontier(targets, minimise_cvar(p, targets, spec), p)


def best_return(returns, level: float, cvar_cap: float, *, lower=0.0, upper=np.inf,
                cash: bool = False, names=None, spec: CvarSpec | None = None,
                rounds: int = 2, points: int = 8, polish: int = 4,
                path: str = "allocation") -> Frontier:
    """The portfolio of largest mean return whose CVaR is at most `cvar_cap` (one point).

    Args:
      returns, level, lower, upper, cash, names, spec, path: as for `frontier`.
      cvar_cap: the largest admissible CVaR (a loss, decimals of the budget).
      rounds: bracketing rounds; each narrows the bracket by ``points + 1``.
      points: frontier points per round.
      polish: at most this many single solves by regula falsi within the last bracket.

    Returns:
      A one-point `Frontier`; its ``cvar`` is <= `cvar_cap`.

    Raises:
      ConfigError: bad inputs, or a cap below the minimum CVaR the constraints allow.
    """
    p = _problem(returns, level, lower, upper, cash, names, path)
    cap = number(f"{path}.cvar_cap", cvar_cap)
    integer(f"{path}.rounds", rounds, lo=0)
    integer(f"{path}.points", points, lo=1)
    integer(f"{path}.polish", polish, lo=0)
    low = minimise_cvar(p, None, spec)
    if low.cvar[0] > cap:
        raise ConfigError(f"{path}.cvar_cap", cap,
                          f"at least the minimum CVaR the constraints allow, {low.cvar[0]:.6g}")
    top = max_mean(p)
    best = minimise_cvar(p, [top], spec)
    if best.cvar[0] <= cap:
        return _frontier(np.array([top]), best, p)
    # Bracket [r0, r1]: CVaR(r0) <= cap < CVaR(r1), with the solutions at both ends.
    r0, c0, r1, c1 = float(low.mean_pnl[0]), float(low.cvar[0]), top, float(best.cvar[0])
    keep, keep_r = low, r0
    for _ in range(rounds):
        grid = np.linspace(r0, r1, points + 2)[1:-1]
        s = minimise_cvar(p, grid, spec)
        ok = np.flatnonzero(s.cvar <= cap)
        i = int(ok[-1]) if ok.size else -1
        if i >= 0:
            r0, c0 = float(grid[i]), float(s.cvar[i])
            keep, keep_r = _row(s, i), r0
        if i + 1 < points:
            r1, c1 = float(grid[i + 1]), float(s.cvar[i + 1])
    # Within a bracket the frontier is piecewise linear: regula falsi on the bracket, keeping
    # the best point found whose exact CVaR is within the cap.
    for _ in range(polish):
        r = r0 + (cap - c0) / (c1 - c0) * (r1 - r0) if c1 > c0 else r0
        s = minimise_cvar(p, [r], spec)
        if s.cvar[0] <= cap:
            r0, c0, keep, keep_r = r, float(s.cvar[0]), s, r
            if cap - c0 <= 1e-6 * abs(cap):
                break
        else:
            r1, c1 = r, float(s.cvar[0])
    return _frontier(np.array([keep_r]), keep, p)


def _row(s: CvarSolution, i: int) -> CvarSolution:
    return CvarSolution(*(v[i:i + 1] for v in s))
