"""Static hedge quantities minimising ES, variance or the portfolio-margin requirement.

The loss of the book hedged with quantities ``q`` is ``book + units @ q`` in every scenario
(and at every margin grid point; `mcrisk.hedge.scenarios`), so each objective is convex in
q over the box of position limits:

* ``es``: the empirical ES at `level`, minimised exactly as a CVaR in the
  Rockafellar-Uryasev form (`mcrisk.optimize.cvar.minimise_cvar`, no budget on weights).
* ``variance``: ``q' C q + 2 c' q + var(book)`` with C, c the scenarios' covariances, a
  box-constrained quadratic programme solved by L-BFGS-B on the split ``q = u - v``
  (u, v >= 0, on which the costs are linear). Without limits and costs its minimum is the
  regression hedge ``-C^-1 c``.
* ``margin``: the requirement sums, over the grid's scans (one in joint mode, one per asset
  in per_asset mode), ``max(0, max_j w_j (G0_j + G_j q))`` over the scan's points. Each
  maximum is replaced by ``tau * logsumexp`` over the points and a zero (above the maximum
  by at most ``tau log(points + 1)``), minimised by projected Nesterov steps (`optax.sgd`,
  step 1 over the bound ``sum_scans max_j |a_j|^2 / tau`` of the Hessian) while tau is
  halved over 20 stages towards 0, where the smoothed problem is the exact one
  (`_smooth_max_kernel`). The joint maximum is also the CVaR of the points plus a zero-loss
  point at a level whose tail is one point, but the CVaR solver's schedule, made for tails
  of many scenarios, stopped far from the optimum there (a requirement of 8,928 against the
  linear programme's 3,244 on the tests' grid); this kernel comes within 2e-5 of it.

Proportional costs ``costs . |q|`` are added to every objective. A `budget` caps the net
cash ``prices . q + costs . |q|``: the Lagrangian adds ``lam (prices . q + costs . |q|)``
(for ES and the joint margin a constant shift of every scenario's loss, ``ES(L + k . q) =
ES(L) + k . q``), the multiplier lam is found by bisection and, where the cash jumps across
the budget between the bracket's two solutions, the hedge is their mixture with cash equal
to the budget: both minimise the Lagrangian at the multiplier (the problem is convex), so
the mixture does too, and it is optimal. Fixed fees (paid once per instrument traded) make
the problem combinatorial: with at most `EXACT_FEES` instruments that may be left out, every
subset of them is solved (exact, up to each convex solve); with more, the continuous problem
is solved first, then instruments are dropped one at a time, greedily, while the objective
plus fees falls (a heuristic: it can miss a better subset). Every number reported is recomputed exactly from the scenarios at
the returned q; no smoothed objective is ever reported.
"""

from __future__ import annotations

from functools import partial
from itertools import combinations
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

from mcrisk.errors import ConfigError, NonFiniteError, check_finite
from mcrisk.hedge.scenarios import Grid, Scenarios
from mcrisk.optimize.cvar import make_problem, minimise_cvar
from mcrisk.riskengine.metrics import es, var
from mcrisk.riskengine.stress import margin_requirement

EXACT_FEES = 4  # up to 2^4 subsets of fee-paying instruments are solved one by one
_WIDE = 100.0  # an unlimited quantity is boxed at 100 book spreads' worth of the instrument
_BISECT = 40  # multiplier bisection steps (stopped earlier at a relative width of 1e-3)
_MOMENTUM = 0.9


class HedgeProblem(NamedTuple):
    """A checked static-hedge problem with ``m`` instruments.

    Attributes:
      objective: ``es``, ``variance`` or ``margin``.
      level: ES level.
      scenarios: the in-sample scenario losses.
      grid: the margin grid's losses (None: no margin grid; required by ``margin``).
      prices: ``(m,)`` cash paid per unit bought today.
      costs: ``(m,)`` proportional cost per unit traded (currency).
      fees: ``(m,)`` fixed fee per instrument traded.
      lower, upper: ``(m,)`` quantity limits (+-inf: none).
      budget: cap on ``prices . q + costs . |q|`` (None: none).
      names: the instruments.
    """

    objective: str
    level: float
    scenarios: Scenarios
    grid: Grid | None
    prices: np.ndarray
    costs: np.ndarray
    fees: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    budget: float | None
    names: tuple[str, ...]


class HedgeSolution(NamedTuple):
    """The optimised hedge.

    Attributes:
      q: ``(m,)`` quantities.
      objective: exact objective (ES, variance or requirement) of the hedged book.
      cost: proportional costs paid, ``costs . |q|``.
      fees: fixed fees paid.
      cash: net cash paid, ``prices . q + cost``.
      multiplier: the budget's Lagrange multiplier (0 where it does not bind).
      dropped: instruments left out to save their fee.
    """

    q: np.ndarray
    objective: float
    cost: float
    fees: float
    cash: float
    multiplier: float
    dropped: tuple[str, ...]


def objective_value(p: HedgeProblem, q: np.ndarray) -> float:
    """The exact objective of hedge `q` (without costs or fees)."""
    if p.objective == "margin":
        return requirement(p.grid, q)
    loss = p.scenarios.book + p.scenarios.units @ q
    return es(loss, p.level) if p.objective == "es" else float(np.var(loss))


def requirement(grid: Grid, q: np.ndarray) -> float:
    """The margin grid's exact requirement of the book hedged with `q`."""
    loss = grid.book + grid.units @ q + 0.0
    return margin_requirement(loss, grid.points, grid.mode)[0]


def tail(p: HedgeProblem, scenarios: Scenarios, q: np.ndarray) -> dict:
    """ES, VaR at the level, mean and stdev of the hedged loss on `scenarios`."""
    loss = scenarios.book + scenarios.units @ q
    return {"es": es(loss, p.level), "var": var(loss, p.level), "mean": float(loss.mean()),
            "stdev": float(loss.std())}


def solve(p: HedgeProblem) -> HedgeSolution:
    """Minimise the objective plus costs and fees under the limits and the budget.

    Raises:
      ConfigError: a budget the limits cannot meet.
      NonFiniteError: a non-finite result.
    """
    lo, hi = _boxed(p)
    traded = np.ones(lo.size, bool)
    q, lam = _budgeted(p, lo, hi)
    best = _total(p, q)
    dropped: list[str] = []
    optional = [j for j in range(lo.size) if p.fees[j] > 0 and lo[j] <= 0.0 <= hi[j]]
    if optional and len(optional) <= EXACT_FEES:
        for r in range(1, len(optional) + 1):
            for out in combinations(optional, r):
                keep = np.ones(lo.size, bool)
                keep[list(out)] = False
                qs, ls = _budgeted(p, np.where(keep, lo, 0.0), np.where(keep, hi, 0.0))
                total = _total(p, qs)
                if total < best:
                    best, q, lam, traded = total, qs, ls, keep
        dropped = [p.names[j] for j in np.flatnonzero(~traded)]
    while p.fees.any() and len(optional) > EXACT_FEES:
        trials = [j for j in np.flatnonzero(traded) if lo[j] <= 0.0 <= hi[j]]
        if not trials:
            break
        got = []
        for j in trials:
            keep = traded.copy()
            keep[j] = False
            qj, lj = _budgeted(p, np.where(keep, lo, 0.0), np.where(keep, hi, 0.0))
            got.append((_total(p, qj), j, qj, lj))
        total, j, qj, lj = min(got, key=lambda t: t[0])
        if total >= best:
            break
        best, q, lam = total, qj, lj
        traded[j] = False
        dropped.append(p.names[j])
    cost = float(p.costs @ np.abs(q))
    out = HedgeSolution(q, objective_value(p, q), cost, float(p.fees @ (q != 0)),
                        float(p.prices @ q) + cost, lam, tuple(dropped))
    for name, value in out._asdict().items():
        if name != "dropped" and not np.all(np.isfinite(value)):
            raise NonFiniteError(f"hedge.{name}", value, "the hedge optimiser's result")
    return out


def _total(p: HedgeProblem, q: np.ndarray) -> float:
    return objective_value(p, q) + float(p.costs @ np.abs(q)) + float(p.fees @ (q != 0))


def _boxed(p: HedgeProblem) -> tuple[np.ndarray, np.ndarray]:
    """Finite limits: none set means a box far beyond any sensible hedge (`_WIDE`)."""
    spread = max(float(np.std(p.scenarios.book)), 1e-12)
    col = p.scenarios.units.std(axis=0)
    for j in np.flatnonzero(col <= 0):
        raise ConfigError(f"hedge.instruments[{j}]", p.names[j],
                          "an instrument whose loss moves across the scenarios")
    wide = _WIDE * spread / col
    return (np.where(np.isfinite(p.lower), p.lower, -wide),
            np.where(np.isfinite(p.upper), p.upper, wide))


def _cash(p: HedgeProblem, q: np.ndarray) -> float:
    return float(p.prices @ q + p.costs @ np.abs(q))


def _budgeted(p: HedgeProblem, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, float]:
    """The continuous minimum under the budget, and the budget's multiplier."""
    q = _continuous(p, lo, hi, 0.0)
    if p.budget is None or _cash(p, q) <= p.budget:
        return q, 0.0
    # The least cash of each coordinate (convex, piecewise linear) is at a limit or at 0.
    ends = np.stack([p.prices * lo + p.costs * np.abs(lo), p.prices * hi + p.costs * np.abs(hi),
                     np.where((lo <= 0) & (hi >= 0), 0.0, np.inf)])
    floor = float(ends.min(axis=0).sum())
    if floor > p.budget:
        raise ConfigError("hedge.budget", p.budget,
                          f"at least {floor:g}, the least net cash the limits allow")
    # The multiplier is ES (or variance, or margin) per unit of cash: start small.
    lam_lo, q_lo, lam_hi = 0.0, q, 1e-2
    q_hi = _continuous(p, lo, hi, lam_hi)
    while _cash(p, q_hi) > p.budget:
        lam_lo, q_lo, lam_hi = lam_hi, q_hi, 2.0 * lam_hi
        if lam_hi > 1e12:
            raise ConfigError("hedge.budget", p.budget, "a budget the optimiser can meet "
                              "(the cash did not fall below it)")
        q_hi = _continuous(p, lo, hi, lam_hi)
    for _ in range(_BISECT):
        if lam_hi - lam_lo <= 1e-3 * lam_hi:
            break
        mid = 0.5 * (lam_lo + lam_hi)
        qm = _continuous(p, lo, hi, mid)
        if _cash(p, qm) > p.budget:
            lam_lo, q_lo = mid, qm
        else:
            lam_hi, q_hi = mid, qm
    # The cash is convex along the segment from q_hi (within budget) to q_lo (above it):
    # the last point within budget is found by bisection on the mixture weight.
    a, b = 0.0, 1.0
    for _ in range(60):
        t = 0.5 * (a + b)
        a, b = (t, b) if _cash(p, (1 - t) * q_hi + t * q_lo) <= p.budget else (a, t)
    return (1 - a) * q_hi + a * q_lo, lam_hi


def _continuous(p: HedgeProblem, lo: np.ndarray, hi: np.ndarray, lam: float) -> np.ndarray:
    """Minimum of objective + (1 + lam) costs . |q| + lam prices . q over the box."""
    c = (1.0 + lam) * p.costs
    lin = lam * p.prices
    if p.objective == "es":
        s = p.scenarios
        return _cvar(s.book, s.units + lin, p.level, lo, hi, c)
    if p.objective == "variance":
        return _variance(p.scenarios, lo, hi, c, lin)
    return _smooth_max(p.grid, lo, hi, c, lin)


def _cvar(book, units, level, lo, hi, c) -> np.ndarray:
    """ES + costs over the box: passes of `minimise_cvar`, each recentred on the best point.

    Hedges cancel: a perpetual and a put on one asset are nearly collinear in the
    scenarios, and the solver's diagonal scaling crawls along such directions (ES 150
    after five passes where the LP optimum is 89, on the tests' option book). The first
    pass therefore runs in whitened coordinates ``y = R q`` (``R' R`` the instruments' loss
    covariance) around the variance hedge, without the box (quantities are clipped to it
    afterwards) and with each cost linear in the sign of its start; the passes after it, in
    the instruments' own coordinates, honour box and costs exactly (a coordinate at 0 is
    split there, one away from 0 is kept on its side, where its cost is linear).
    """
    def total(x):
        return es(book + units @ x, level) + float(c @ np.abs(x))

    s = Scenarios(book, units, 0)
    h = units - units.mean(axis=0)
    cov = h.T @ h / len(h)
    inv = np.linalg.inv(np.linalg.cholesky(cov + 1e-12 * np.diag(np.diag(cov))).T)
    wide = _WIDE * max(float(book.std()), 1e-12)
    # Two starts: the variance hedge (near the optimum when ES is what the cash buys) and
    # no hedge (near it when a budget's multiplier makes the hedge's premium dear).
    cands = []
    for x in (np.clip(_variance(s, lo, hi, np.zeros_like(c), np.zeros_like(c)), lo, hi),
              np.clip(np.zeros_like(c), lo, hi)):
        base = book + units @ x
        y = minimise_cvar(make_problem(base, (units + np.sign(x) * c) @ inv, level,
                                       lower=-wide, upper=wide, budget=None,
                                       path="hedge")).x[0]
        cands += [x, np.clip(x + inv @ y, lo, hi)]
    x = min(cands, key=total)
    for _ in range(2):
        pos, neg = x > 0, x < 0
        d_lo = np.where(pos, np.maximum(lo, 0.0), lo) - x
        d_hi = np.where(neg, np.minimum(hi, 0.0), hi) - x
        lin = np.where(pos, c, np.where(neg, -c, 0.0))
        prob = make_problem(book + units @ x, units + lin, level, lower=d_lo, upper=d_hi,
                            budget=None, costs=np.where(pos | neg, 0.0, c), path="hedge")
        nxt = np.clip(x + minimise_cvar(prob).x[0], lo, hi)
        if total(nxt) >= total(x):
            break
        x = nxt
    return x


def _variance(s: Scenarios, lo, hi, c, lin) -> np.ndarray:
    """Box-constrained QP on the split q = u - v, scaled to unit column variance."""
    from scipy.optimize import minimize

    h = s.units - s.units.mean(axis=0)
    b = s.book - s.book.mean()
    n = b.size
    cov = h.T @ h / n
    cross = h.T @ b / n
    d = 1.0 / np.sqrt(np.diag(cov))
    cs, xs = cov * np.outer(d, d), cross * d
    scale = max(float(b @ b / n), 1e-300)
    m = lo.size

    def f(z):
        x = z[:m] - z[m:]
        g = 2.0 * (cs @ x + xs) + lin * d
        val = x @ cs @ x + 2.0 * xs @ x + lin * d @ x + (c * d) @ (z[:m] + z[m:])
        return val / scale, np.concatenate([g + c * d, -g + c * d]) / scale

    bounds = ([(max(a, 0.0) / dj, max(e, 0.0) / dj) for a, e, dj in zip(lo, hi, d)]
              + [(max(-e, 0.0) / dj, max(-a, 0.0) / dj) for a, e, dj in zip(lo, hi, d)])
    z0 = np.array([np.clip(0.0, a, e) for a, e in bounds])
    r = minimize(f, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                 options={"maxiter": 20_000, "ftol": 1e-16, "gtol": 1e-13, "maxcor": 30})
    check_finite(r.x, "hedge.q", "the variance QP's solution")
    return (r.x[:m] - r.x[m:]) * d


def _smooth_max(g: Grid, lo, hi, c, lin) -> np.ndarray:
    """Minimise the requirement: the sum over the grid's scans (one in joint mode, one per
    asset in per_asset mode) of each scan's largest weighted point loss, floored at 0."""
    a = g.weights[:, None] * g.units
    l0 = g.weights * g.book
    owner = g.points.asset
    member = np.stack([owner == k for k in np.unique(owner)])  # (scans, points)
    col = np.abs(a).max(axis=0)
    col = np.maximum(col, 1e-12 * max(col.max(), 1e-300))
    spread = max(float(np.abs(l0).max()), float(col.max()) * 1e-6, 1e-300)
    d = spread / col
    dtype = jax.dtypes.canonicalize_dtype(np.float64)
    f = lambda v: jnp.asarray(v, dtype)  # noqa: E731
    z = _smooth_max_kernel(_SmoothSpec(), f(l0 / spread), f(a * d / spread), f(member),
                           f(np.maximum(lo, 0.0) / d), f(np.maximum(hi, 0.0) / d),
                           f(np.maximum(-hi, 0.0) / d), f(np.maximum(-lo, 0.0) / d),
                           f(c * d / spread), f(lin * d / spread))
    check_finite(np.asarray(z), "hedge.q", "the margin optimiser diverged")
    m = lo.size
    z = np.asarray(z, np.float64)
    return (z[:m] - z[m:]) * d


class _SmoothSpec(NamedTuple):
    n_stages: int = 20
    n_iter: int = 2000
    ratio: float = 0.5


@partial(jax.jit, static_argnames=("spec",))
def _smooth_max_kernel(spec: _SmoothSpec, l0: Array, a: Array, member: Array, u_lo: Array,
                       u_hi: Array, v_lo: Array, v_hi: Array, cost: Array,
                       lin: Array) -> Array:
    """Scaled per-asset problem -> the split coordinates ``[u, v]`` of its minimiser."""
    n_scans = member.shape[0]
    lo, hi = jnp.concatenate([u_lo, v_lo]), jnp.concatenate([u_hi, v_hi])
    split = jnp.concatenate([a, -a], axis=1)
    lin2 = jnp.concatenate([lin + cost, -lin + cost])
    # tau * logsumexp(A z / tau) has Hessian A' diag(p) A / tau <= max_j |a_j|^2 / tau (the
    # softmax weights p sum to at most 1): one such bound per scan, summed.
    norms = jnp.sum(split ** 2, axis=1)
    curvature = jnp.sum(jnp.max(jnp.where(member > 0, norms[None, :], 0.0), axis=1))
    tau0 = jnp.asarray(0.5, a.dtype)
    schedule = optax.exponential_decay(1.0, spec.n_iter, spec.ratio, staircase=True)
    opt = optax.sgd(schedule, momentum=_MOMENTUM, nesterov=True)

    def loss(z, tau):
        x = l0 + split @ z
        scaled = jnp.where(member > 0, x[None, :] / tau, -jnp.inf)
        full = jnp.concatenate([scaled, jnp.zeros((n_scans, 1), x.dtype)], axis=1)
        return tau * jnp.sum(jax.nn.logsumexp(full, axis=1)) + lin2 @ z

    def step(carry, i):
        z, state = carry
        tau = tau0 * spec.ratio ** (i // spec.n_iter).astype(z.dtype)
        grad = jax.grad(loss)(z, tau) * (tau0 / curvature)
        updates, state = opt.update(grad, state, z)
        return (jnp.clip(optax.apply_updates(z, updates), lo, hi), state), None

    z0 = jnp.clip(jnp.zeros_like(lo), lo, hi)
    (z, _), _ = jax.lax.scan(step, (z0, opt.init(z0)), jnp.arange(spec.n_stages * spec.n_iter))
    return z


__all__ = ["HedgeProblem", "HedgeSolution", "objective_value", "requirement", "solve", "tail"]
