"""Minimising CVaR (expected shortfall) over scenarios: Rockafellar and Uryasev (2000).

Scenario losses are linear in the decision vector x (portfolio weights, or hedge quantities):
``L = losses0 + exposures @ x``, an ``(n,)`` vector for ``n`` scenarios. The CVaR at level
beta of the empirical distribution of L is

    CVaR_beta(x) = min_alpha  alpha + 1 / ((1 - beta) n) * sum_i max(0, L_i(x) - alpha),

jointly convex in (x, alpha) (Rockafellar and Uryasev, "Optimization of conditional
value-at-risk", J. Risk 2, 2000), so min_x CVaR over a convex feasible set is one convex
problem in (x, alpha). The feasible set is a box ``lower <= x <= upper``, optionally a budget
``sum x = budget`` (or ``<=``, the rest held as a zero-loss cash position), and optionally a
floor on the expected P&L, ``-mean(L(x)) >= target``. Proportional costs ``costs . |x|`` are
added to the objective exactly: a coordinate that may change sign is split as
``x = x+ - x-`` with both parts >= 0, on which the cost is linear.

The hinge is smoothed, ``tau * softplus(z / tau)``, with the temperature lowered
geometrically over stages towards 0 (where the smoothed problem is the exact one). Each
stage takes projected gradient steps with Nesterov momentum (`optax.sgd`), of size 1 over
the smoothed Hessian's bound ``A~'A~ / (4 tau (1 - beta) n)`` (so the step shrinks with the
temperature), each followed by the exact Euclidean projection onto the feasible set (box and
budget: the shift of a capped simplex found from its sorted breakpoints; the expected-P&L
floor: a Lagrange multiplier found by bisection; `mcrisk.optimize.projection`). Losses are
divided by their spread and each coordinate by the quantity that moves the loss by that
spread, so one set of step sizes serves weights of order 1 and hedge quantities of order
10^4 alike; a second annealing pass from the first pass's solution takes its temperatures
relative to that solution's spread, which can be 100 times smaller than the start's (a
stablecoin portfolio against equal weights in tokens). Adam was tried first and fails here:
its per-coordinate sign-like steps are cancelled by the budget projection.

The objective of the smoothed problem is never reported: the result carries the exact
empirical CVaR of the returned x, with the risk engine's estimator
(`mcrisk.riskengine.metrics.es`, the mean of the ``ceil(n (1 - beta))`` largest losses).
Where ``n (1 - beta)`` is an integer this equals the Rockafellar-Uryasev minimum over alpha
exactly; otherwise the two differ by less than one scenario's share of the tail.

One compiled kernel serves every problem with the same numbers of scenarios, coordinates
and targets, and the same `CvarSpec`: the level, bounds, budget, costs and targets are
array arguments.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

from mcrisk.errors import ConfigError, NonFiniteError, check_finite, choice, integer, number
from mcrisk.optimize.projection import project
from mcrisk.riskengine.metrics import es, var

__all__ = ["CvarProblem", "CvarSolution", "CvarSpec", "make_problem", "max_mean",
           "minimise_cvar"]

BUDGETS = ("none", "equal", "at_most")
_TAU0 = 0.1       # first temperature, in units of the loss scale
_MOMENTUM = 0.9   # Nesterov momentum of the projected gradient steps


class CvarSpec(NamedTuple):
    """Static options of the kernel (hashable: one compilation per spec and shapes).

    Attributes:
      budget: ``"none"`` (box only), ``"equal"`` (sum x = budget) or ``"at_most"``.
      n_stages: temperature stages; each divides the temperature and step size by `ratio`.
      n_iter: gradient steps per stage (and per pass: the kernel runs two).
      ratio: factor between consecutive stages' temperatures (and step sizes), in (0, 1).
    """

    budget: str = "equal"
    n_stages: int = 8
    n_iter: int = 150
    ratio: float = 0.4


class CvarProblem(NamedTuple):
    """A checked problem: losses ``losses0 + exposures @ x`` with ``m`` coordinates.

    Attributes:
      losses0: ``(n,)`` loss without any position (0 for an allocation), loss units.
      exposures: ``(n, m)`` loss per unit of each coordinate in each scenario.
      level: CVaR level beta in (0, 1).
      lower, upper: ``(m,)`` bounds of x (upper may be inf without a budget only).
      budget: the budget's total (ignored when `mode` is ``"none"``).
      mode: one of `BUDGETS`.
      costs: ``(m,)`` cost per unit of |x|, loss units, >= 0.
      names: labels of the coordinates, for messages.
    """

    losses0: np.ndarray
    exposures: np.ndarray
    level: float
    lower: np.ndarray
    upper: np.ndarray
    budget: float
    mode: str
    costs: np.ndarray
    names: tuple[str, ...]


class CvarSolution(NamedTuple):
    """Result of `minimise_cvar`, one row per target (``k`` targets, ``m`` coordinates).

    Attributes:
      x: ``(k, m)`` the optimised coordinates.
      cvar: ``(k,)`` exact empirical CVaR (ES) of ``losses0 + exposures @ x``, loss units.
      var: ``(k,)`` the matching VaR (the ``ceil(n (1 - beta))``-th largest loss).
      mean_pnl: ``(k,)`` expected P&L, ``-mean(L)``.
      cost: ``(k,)`` proportional costs ``costs . |x|``.
      objective: ``(k,)`` ``cvar + cost``, the quantity minimised.
    """

    x: np.ndarray
    cvar: np.ndarray
    var: np.ndarray
    mean_pnl: np.ndarray
    cost: np.ndarray
    objective: np.ndarray


def make_problem(losses0, exposures, level: float, *, lower=0.0, upper=math.inf,
                 budget: float | None = 1.0, cash: bool = False, costs=0.0,
                 names=None, path: str = "cvar") -> CvarProblem:
    """Check a CVaR problem on the host, before anything is compiled.

    Args:
      losses0: ``(n,)`` base losses (a scalar 0 broadcasts), loss units.
      exposures: ``(n, m)`` loss per unit of each coordinate per scenario; for an allocation
        of returns R it is ``-R``.
      level: beta in (0, 1), e.g. 0.99.
      lower, upper: bounds of each coordinate (a number or one per coordinate).
      budget: ``sum x`` equals it (or is at most it with ``cash=True``); None: no budget.
      cash: the budget is an upper limit, the rest held as cash with zero loss.
      costs: proportional cost per unit of |x| (a number or one per coordinate).
      names: labels of the coordinates; default ``x0, x1, ...``.
      path: config path that prefixes the fields in error messages.

    Raises:
      ConfigError: naming the field, the value and what was expected.
    """
    a = np.asarray(exposures)
    if a.ndim != 2 or a.dtype.kind not in "fiu" or a.shape[0] < 2 or a.shape[1] < 1:
        raise ConfigError(f"{path}.scenarios", f"an array of shape {a.shape}",
                          "a 2-D array of numbers, scenarios x assets, with at least 2 rows")
    n, m = a.shape
    a = a.astype(np.float64)
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        i, j = map(int, bad[0])
        raise ConfigError(f"{path}.scenarios[{i}][{j}]", float(a[i, j]), "a finite number")
    l0 = np.asarray(losses0, np.float64)
    if l0.ndim == 0:
        l0 = np.full(n, float(l0))
    if l0.shape != (n,):
        raise ConfigError(f"{path}.losses0", f"shape {l0.shape}",
                          f"shape ({n},), one loss per scenario (as the scenario rows)")
    if not np.all(np.isfinite(l0)):
        i = int(np.flatnonzero(~np.isfinite(l0))[0])
        raise ConfigError(f"{path}.losses0[{i}]", float(l0[i]), "a finite number")
    level = number(f"{path}.level", level, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    names = tuple(f"x{j}" for j in range(m)) if names is None else tuple(map(str, names))
    if len(names) != m:
        raise ConfigError(f"{path}.names", list(names), f"{m} names, one per column")
    lo = _per_column(f"{path}.lower", lower, m, allow_inf=False)
    hi = _per_column(f"{path}.upper", upper, m, allow_inf=True)
    for j in range(m):
        if not lo[j] <= hi[j]:
            raise ConfigError(f"{path}.upper[{j}]", float(hi[j]),
                              f"a number >= lower[{j}] = {lo[j]:g}")
    c = _per_column(f"{path}.costs", costs, m, allow_inf=False)
    for j in np.flatnonzero(c < 0):
        raise ConfigError(f"{path}.costs[{j}]", float(c[j]), "a cost >= 0")
    if budget is None:
        mode, total = "none", 0.0
    else:
        mode = "at_most" if cash else "equal"
        total = number(f"{path}.budget", budget)
        if lo.sum() > total:
            raise ConfigError(f"{path}.budget", total,
                              f"at least the sum of the lower bounds, {lo.sum():g}")
        if mode == "equal" and hi.sum() < total:
            raise ConfigError(f"{path}.budget", total,
                              f"at most the sum of the upper bounds, {hi.sum():g}")
        if np.any((c > 0) & (lo < 0)):
            j = int(np.flatnonzero((c > 0) & (lo < 0))[0])
            raise ConfigError(f"{path}.lower[{j}]", float(lo[j]),
                              ">= 0 where a budget and costs apply (short positions with "
                              "costs are supported without a budget)")
    if mode == "none" and np.any((c > 0) & ((lo > 0) | (hi < 0))):
        j = int(np.flatnonzero((c > 0) & ((lo > 0) | (hi < 0)))[0])
        raise ConfigError(f"{path}.lower[{j}]", float(lo[j]),
                          "bounds with lower <= 0 <= upper where a cost applies")
    return CvarProblem(l0, a, level, lo, hi, total, mode, c, names)


def _per_column(path: str, x, m: int, *, allow_inf: bool) -> np.ndarray:
    v = np.asarray(x, np.float64) if np.ndim(x) else np.full(m, x, np.float64)
    if v.shape != (m,):
        raise ConfigError(path, x, f"a number or a list of {m} numbers, one per column")
    ok = ~np.isnan(v) & (np.isfinite(v) | (allow_inf and v > 0) | np.isposinf(v) & allow_inf)
    if not np.all(ok):
        j = int(np.flatnonzero(~ok)[0])
        raise ConfigError(f"{path}[{j}]", float(v[j]),
                          "a finite number" + (" or inf" if allow_inf else ""))
    return v


def max_mean(p: CvarProblem) -> float:
    """The largest expected P&L ``-mean(L)`` over the feasible set (a greedy fill).

    Raises:
      ConfigError: without a budget and with an unbounded coordinate of positive mean P&L.
    """
    mu = -p.exposures.mean(axis=0)
    base = -p.losses0.mean()
    gain = mu - p.costs
    x = p.lower.copy()
    if p.mode == "none":
        up = gain > 0
        if np.any(up & ~np.isfinite(p.upper)):
            j = int(np.flatnonzero(up & ~np.isfinite(p.upper))[0])
            raise ConfigError("cvar.upper", math.inf,
                              f"a finite bound for {p.names[j]}, whose expected P&L is positive")
        x = np.where(up, p.upper, np.minimum(np.maximum(0.0, p.lower), p.upper))
        return float(base + mu @ x)
    room = p.budget - x.sum()
    for j in np.argsort(-mu, kind="stable"):
        if p.mode == "at_most" and mu[j] <= 0:
            break
        step = min(p.upper[j] - x[j], room)
        x[j] += step
        room -= step
    return float(base + mu @ x)


def minimise_cvar(p: CvarProblem, targets=None, spec: CvarSpec | None = None) -> CvarSolution:
    """Minimise CVaR plus costs, once per expected-P&L floor in `targets`.

    Args:
      p: a problem from `make_problem`.
      targets: floors on the expected P&L ``-mean(L)`` (loss units: for an allocation, the
        mean return); None: a single unconstrained minimum.
      spec: solver options (the budget field is taken from `p`).

    Returns:
      A `CvarSolution` with one row per target.

    Raises:
      ConfigError: a target above the feasible maximum expected P&L, or bad options.
      NonFiniteError: the solver produced a non-finite number.
    """
    spec = (spec or CvarSpec())._replace(budget=p.mode)
    spec = CvarSpec(choice("budget", spec.budget, BUDGETS),
                    integer("n_stages", spec.n_stages, lo=1), integer("n_iter", spec.n_iter, lo=1),
                    number("ratio", spec.ratio, lo=0.0, hi=1.0, lo_open=True, hi_open=True))
    top = max_mean(p) if targets is not None else math.inf
    if targets is None:
        r = np.array([-np.inf])
    else:
        r = np.atleast_1d(np.asarray(targets, np.float64))
        for i, t in enumerate(r):
            number(f"targets[{i}]", float(t))
            if t > top + 1e-12 * max(1.0, abs(top)):
                raise ConfigError(f"targets[{i}]", float(t),
                                  f"an expected P&L the constraints allow: at most {top:g}")
        r = np.minimum(r, top)
    a, lo, hi, c, owner, sign = _split(p)
    # Scales: losses by their spread at the starting point, each coordinate by the quantity
    # that moves the loss by that spread, so that temperatures and steps are relative.
    col = a.std(axis=0)
    col = np.maximum(col, 1e-4 * col.max()) if col.max() > 0 else np.ones_like(col)
    spread = float(np.std(p.losses0 + a @ _start(p, lo, hi)))
    spread = spread if spread > 0 else float(col.max())
    d = spread / col
    if p.mode != "none":
        # Under a budget each coordinate is bounded by the budget left by the others.
        hi = np.minimum(hi, p.budget - (lo.sum() - lo))
    mu = -a.mean(axis=0)
    floor = r + p.losses0.mean()  # floor on mu . x
    dtype = jax.dtypes.canonicalize_dtype(np.float64)
    f = lambda v: jnp.asarray(v, dtype)  # noqa: E731
    # No floor: the dtype's lowest number (-1e300 overflowed float32 with a warning).
    z, _ = _kernel(spec, f(p.losses0 / spread), f(a * d / spread), f(lo / d), f(hi / d),
                       f(d), f(p.budget), f(mu * d), f(np.where(np.isfinite(floor), floor,
                                                                np.finfo(dtype).min)),
                       f(c * d / spread), f(p.level))
    check_finite(np.asarray(z), "cvar.x", "the CVaR solver diverged; check the scenarios' scale")
    x = np.asarray(z, np.float64) * d
    x = _merge(x, owner, sign, p.lower.size)
    return _evaluate(p, x)


def _start(p: CvarProblem, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A feasible point near the middle: equal budget shares, or 0 clipped to the box."""
    if p.mode == "none":
        return np.clip(0.0, lo, hi)
    share = np.full(lo.size, p.budget / lo.size)
    return np.clip(share, lo, np.where(np.isfinite(hi), hi, share))


def _split(p: CvarProblem):
    """Columns whose cost applies on both sides of 0 become x+ and x- (both >= 0).

    Returns the exposures, bounds and costs of the split columns, and for each split column
    the original column it belongs to and its sign there.
    """
    m = p.lower.size
    both = (p.costs > 0) & (p.lower < 0) & (p.upper > 0)
    j = np.flatnonzero(both)
    a = np.concatenate([p.exposures, -p.exposures[:, j]], axis=1)
    lo = np.concatenate([np.where(both, 0.0, p.lower), np.zeros(j.size)])
    hi = np.concatenate([p.upper, -p.lower[j]])
    c = np.concatenate([p.costs, p.costs[j]])
    owner = np.concatenate([np.arange(m), j])
    sign = np.concatenate([np.ones(m), -np.ones(j.size)])
    return a, lo, hi, c, owner, sign


def _merge(x: np.ndarray, owner: np.ndarray, sign: np.ndarray, m: int) -> np.ndarray:
    out = np.zeros((x.shape[0], m))
    np.add.at(out.T, owner, (sign[:, None] * x.T))
    return out


def _evaluate(p: CvarProblem, x: np.ndarray) -> CvarSolution:
    """Exact CVaR, VaR, mean P&L and cost of each row of `x`, with the risk engine's ES."""
    losses = p.losses0[None, :] + x @ p.exposures.T
    cvar = np.array([es(row, p.level) for row in losses])
    v = np.array([var(row, p.level) for row in losses])
    cost = np.abs(x) @ p.costs
    out = CvarSolution(x, cvar, v, -losses.mean(axis=1), cost, cvar + cost)
    for name, value in out._asdict().items():
        if not np.all(np.isfinite(value)):
            raise NonFiniteError(f"cvar.{name}", value, "the CVaR solver's result")
    return out


@partial(jax.jit, static_argnames=("spec",))
def _kernel(spec: CvarSpec, l0: Array, a: Array, lo: Array, hi: Array, w: Array, b: Array,
            g: Array, floors: Array, cost: Array, level: Array) -> tuple[Array, Array]:
    """Scaled problem -> ``(k, m)`` coordinates and ``(k,)`` alphas, one per floor."""
    n = l0.shape[0]
    weight = 1.0 / ((1.0 - level) * n)
    # The smoothed objective's Hessian is at most weight / (4 tau) * A~'A~ with A~ = [a, -1]:
    # a step of 1 / that bound never overshoots, so the step falls with the temperature.
    full = jnp.concatenate([a, -jnp.ones((n, 1), a.dtype)], axis=1)
    curvature = weight * jnp.linalg.eigvalsh(full.T @ full)[-1] / 4.0
    schedule = optax.exponential_decay(1.0, spec.n_iter, spec.ratio, staircase=True)
    opt = optax.sgd(schedule, momentum=_MOMENTUM, nesterov=True)
    proj = lambda z, floor: project(spec.budget, z, lo, hi, w, b, g, floor)  # noqa: E731

    def loss(x, tau):
        z, alpha = x[:-1], x[-1]
        excess = l0 + a @ z - alpha
        return alpha + weight * jnp.sum(tau * jax.nn.softplus(excess / tau)) + cost @ z

    def anneal(x0, tau0, floor):
        def step(carry, i):
            x, state = carry
            tau = tau0 * spec.ratio ** (i // spec.n_iter).astype(x.dtype)
            grad = jax.grad(loss)(x, tau) * (tau0 / curvature)
            with jax.numpy_dtype_promotion("standard"):
                updates, state = opt.update(grad, state, x)
            x = optax.apply_updates(x, updates)
            return (jnp.concatenate([proj(x[:-1], floor), x[-1:]]), state), None

        (x, _), _ = jax.lax.scan(step, (x0, opt.init(x0)),
                                 jnp.arange(spec.n_stages * spec.n_iter))
        return x

    def one(floor):
        z0 = proj(jnp.clip(jnp.full(lo.shape, b / jnp.sum(w)), lo, hi), floor)
        x0 = jnp.concatenate([z0, jnp.quantile(l0 + a @ z0, level)[None]])
        x1 = anneal(x0, jnp.asarray(_TAU0, a.dtype), floor)
        # The optimum's losses may spread far less than the starting point's (a portfolio
        # of stablecoins against one of tokens): a second pass from there with temperatures
        # relative to that spread resolves its tail as finely as the first pass did.
        spread = jnp.std(l0 + a @ x1[:-1])
        x = anneal(x1, _TAU0 * jnp.clip(spread, 1e-6, 1.0), floor)
        return x[:-1], x[-1]

    return jax.vmap(one)(floors)
