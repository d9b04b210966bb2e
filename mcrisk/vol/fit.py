"""Fitting raw SVI slices to implied-vol quotes with optax, one slice per expiry.

`fit_svi` takes flat per-quote arrays, groups them by expiry on the host, pads the slices to
one shape (padding carries weight 0) and fits all slices at once in one jitted kernel
(``vmap`` over slices, ``lax.scan`` over optimizer steps), so a second fit with the same
numbers of expiries and quotes per slice compiles nothing.

The loss per slice is the weighted mean squared error in implied vol (vol units, not total
variance: quotes are compared where traders read them) plus ``penalty`` times the mean of
``min(g, 0)^2`` of Durrleman's g on a 201-point grid, which drives the fit away from butterfly
arbitrage without forbidding it. Calendar arbitrage between independently fitted slices is
reported, not prevented; `mcrisk.vol.ssvi` gives a surface free of both by construction.

The starting point is a coarse grid on ``(m, sigma)`` with the weighted linear least squares
for ``(a, b rho, b)`` at each node (the Zeliade quasi-explicit reduction), projected into the
admissible region; optax L-BFGS with a backtracking line search (or Adam) then refines all
five parameters in an unconstrained space (softplus/tanh maps).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array
from jax.typing import ArrayLike

from mcrisk.errors import ConfigError, check_finite, choice, integer, number
from mcrisk.vol.svi import ArbitrageReport, SviParams, arbitrage_report, durrleman_g, total_variance

__all__ = ["SviFit", "fit_svi"]

OPTIMIZERS = ("lbfgs", "adam")
_PENALTY_POINTS = 201


class SviFit(NamedTuple):
    """Result of `fit_svi`; ``n`` is the number of distinct expiries.

    Attributes:
      params: `SviParams` of ``(n,)`` arrays, sorted by expiry.
      expiries: ``(n,)`` year fractions.
      rmse_vol_points: ``(n,)`` weighted RMSE of the fitted implied vols, in vol points
        (100 x vol, so 0.05 means 0.0005 in vol).
      iterations: ``(n,)`` optimizer steps taken before the gradient vanished (or ``n_iter``).
      loss_history: ``(n, n_iter)`` loss before each step (vol^2 units, penalty included).
      arbitrage: `ArbitrageReport` of the fitted slices.
    """

    params: SviParams
    expiries: Array
    rmse_vol_points: Array
    iterations: Array
    loss_history: Array
    arbitrage: ArbitrageReport


class FitSpec(NamedTuple):
    """Static options of the optax loop (hashable: one compiled kernel per distinct spec)."""

    n_iter: int
    optimizer: str
    learning_rate: float
    grad_tol: float


class Quotes(NamedTuple):
    """Quotes grouped by expiry and padded: ``(n,)`` expiries and ``(n, n_max)`` the rest."""

    expiries: np.ndarray
    k: np.ndarray
    vols: np.ndarray
    weights: np.ndarray
    counts: np.ndarray


def group_quotes(k: ArrayLike, expiries: ArrayLike, vols: ArrayLike,
                 weights: ArrayLike | None, min_per_expiry: int) -> Quotes:
    """Check quote arrays on the host and group them by expiry (shared by the SVI and SSVI fits).

    Raises:
      ConfigError: naming the argument, the first bad entry and what was expected.
    """
    vols_in = np.asarray(vols)
    dtype = (vols_in.dtype if vols_in.dtype.kind == "f"
             else jax.dtypes.canonicalize_dtype(np.float64))
    arrays = {}
    for name, x in (("k", k), ("expiries", expiries), ("vols", vols),
                    ("weights", np.ones_like(vols_in, dtype) if weights is None else weights)):
        a = np.asarray(x)
        if a.ndim != 1 or a.dtype.kind not in "fiu":
            raise ConfigError(name, x, "a 1-D array of numbers, one per quote")
        arrays[name] = a.astype(dtype)
    n = arrays["k"].size
    for name, a in arrays.items():
        if a.size != n:
            raise ConfigError(name, f"{a.size} entries", f"{n} entries, one per quote (as k)")
    checks = (("k", np.isfinite, "a finite log-moneyness ln(K/F)"),
              ("expiries", lambda a: np.isfinite(a) & (a > 0), "a positive year fraction"),
              ("vols", lambda a: np.isfinite(a) & (a > 0), "a positive implied vol"),
              ("weights", lambda a: np.isfinite(a) & (a >= 0), "a finite weight >= 0"))
    for name, good, what in checks:
        bad = np.flatnonzero(~good(arrays[name]))
        if bad.size:
            i = int(bad[0])
            raise ConfigError(f"{name}[{i}]", arrays[name][i], what)
    t, inv = np.unique(arrays["expiries"], return_inverse=True)
    counts = np.bincount(inv, weights=(arrays["weights"] > 0).astype(float)).astype(int)
    if np.any(counts < min_per_expiry):
        i = int(np.argmin(counts))
        raise ConfigError("expiries", float(t[i]),
                          f"at least {min_per_expiry} quotes with weight > 0 per expiry "
                          f"(this expiry has {counts[i]})")
    n_max = int(np.bincount(inv).max())
    out = {name: np.zeros((t.size, n_max), dtype) for name in ("k", "vols", "weights")}
    for j in range(t.size):
        rows = np.flatnonzero(inv == j)
        for name in out:
            out[name][j, :rows.size] = arrays[name][rows]
        out["vols"][j, rows.size:] = arrays["vols"][rows[0]]  # finite filler; its weight is 0
    return Quotes(t.astype(dtype), out["k"], out["vols"], out["weights"], np.bincount(inv))


def make_spec(n_iter: int, optimizer: str, learning_rate: float, grad_tol: float) -> FitSpec:
    """Check the optimizer options on the host."""
    return FitSpec(integer("n_iter", n_iter, lo=1), choice("optimizer", optimizer, OPTIMIZERS),
                   number("learning_rate", learning_rate, lo=0.0, lo_open=True),
                   number("grad_tol", grad_tol, lo=0.0))


def optimizer(spec: FitSpec) -> optax.GradientTransformationExtraArgs:
    """The optax optimizer of `spec`.

    L-BFGS uses a backtracking line search: it compiles in about half the time of optax's
    default zoom line search, and without its stored gradient it also runs on float32 under
    x64 (the stored-gradient path transposes with a Python-float cotangent, which float32
    outputs reject).
    """
    if spec.optimizer == "lbfgs":
        return optax.lbfgs(
            linesearch=optax.scale_by_backtracking_linesearch(max_backtracking_steps=30))
    return optax.adam(spec.learning_rate)


def optimizer_step(opt, spec: FitSpec, x: Array, state, value: Array, grad: Array,
                   value_fn: Callable[[Array], Array]) -> tuple[Array, object]:
    """One optax step from `x` (loss `value`, gradient `grad`): the new point and state."""
    # optax mixes int32 counters with int64 or Python scalars under x64, which strict
    # promotion (the test suite's setting) rejects; the promotions are harmless there.
    with jax.numpy_dtype_promotion("standard"):
        if spec.optimizer == "lbfgs":
            updates, new_state = opt.update(grad, state, x, value=value, grad=grad,
                                            value_fn=value_fn)
        else:
            updates, new_state = opt.update(grad, state, x)
    return optax.apply_updates(x, updates), new_state


def minimise(loss: Callable[[Array], Array], x0: Array, spec: FitSpec
             ) -> tuple[Array, Array, Array]:
    """Run ``spec.n_iter`` optax steps on a flat parameter vector inside ``lax.scan``.

    A step is kept only while the gradient norm exceeds ``spec.grad_tol`` and the new point is
    finite: L-BFGS at an exact optimum would otherwise divide by a zero curvature pair.

    Returns:
      The final point, the ``(n_iter,)`` loss before each step and the number of steps kept.
    """
    opt = optimizer(spec)
    value_and_grad = jax.value_and_grad(loss)

    def step(carry, _):
        x, state, kept = carry
        value, grad = value_and_grad(x)
        new_x, new_state = optimizer_step(opt, spec, x, state, value, grad, loss)
        go = (jnp.linalg.norm(grad) > spec.grad_tol) & jnp.all(jnp.isfinite(new_x))
        keep = lambda new, old: jnp.where(go, new, old)
        return (keep(new_x, x), jax.tree_util.tree_map(keep, new_state, state),
                kept + go.astype(jnp.int32)), value

    (x, _, kept), history = jax.lax.scan(step, (x0, opt.init(x0), jnp.int32(0)), None,
                                         length=spec.n_iter)
    return x, history, kept


def softplus_inv(y: Array) -> Array:
    y = jnp.maximum(y, jnp.finfo(y.dtype).tiny ** 0.5)
    return y + jnp.log(-jnp.expm1(-y))


def _unpack(x: Array) -> SviParams:
    """Unconstrained ``(5,)`` vector -> raw SVI with b >= 0, |rho| < 1, sigma > 0, min w > 0."""
    b, rho, sigma = jax.nn.softplus(x[1]), jnp.tanh(x[2]), jax.nn.softplus(x[4])
    a = jax.nn.softplus(x[0]) - b * sigma * jnp.sqrt(1.0 - rho * rho)
    return SviParams(a, b, rho, x[3], sigma)


def _pack(p: SviParams) -> Array:
    floor = p.b * p.sigma * jnp.sqrt(1.0 - p.rho * p.rho)
    return jnp.stack([softplus_inv(p.a + floor), softplus_inv(p.b), jnp.arctanh(p.rho), p.m,
                      softplus_inv(p.sigma)])


def _initial_guess(k: Array, t: Array, vols: Array, weights: Array) -> SviParams:
    """Best admissible node of an ``(m, sigma)`` grid, each solved linearly for (a, b rho, b)."""
    target = vols * vols * t
    # Weights in total variance that make its squared error read as a squared vol error.
    wv = weights / (2.0 * vols * t) ** 2
    live = weights > 0
    lo, hi = jnp.min(jnp.where(live, k, jnp.inf)), jnp.max(jnp.where(live, k, -jnp.inf))
    span = jnp.maximum(hi - lo, 1e-3)
    ms = jnp.linspace(lo - 0.25 * span, hi + 0.25 * span, 21, dtype=k.dtype)
    sigmas = span * jnp.geomspace(1e-3, 2.0, 21, dtype=k.dtype)
    one = jnp.ones((), k.dtype)

    def node(m, s):
        r = jnp.sqrt((k - m) ** 2 + s * s)
        x = jnp.stack([jnp.ones_like(k), k - m, r], axis=-1)
        xtw = x.T * wv
        # A tiny ridge keeps the 3x3 system solvable for nodes far from the quotes.
        gram = xtw @ x + 1e-12 * jnp.trace(xtw @ x) * jnp.eye(3, dtype=k.dtype)
        a, c, d = jnp.linalg.solve(gram, xtw @ target)
        d = jnp.maximum(d, 1e-6 * one)
        rho = jnp.clip(c / d, -0.999, 0.999)
        a = jnp.maximum(a, -d * s * jnp.sqrt(1.0 - rho * rho) + 1e-6 * jnp.max(target))
        p = SviParams(a, d, rho, m, s)
        w = total_variance(p, k)
        err = jnp.sum(weights * (jnp.sqrt(w / t) - vols) ** 2)
        return p, jnp.where(jnp.isfinite(err), err, jnp.inf)

    ps, errs = jax.vmap(lambda m: jax.vmap(lambda s: node(m, s))(sigmas))(ms)
    i = jnp.argmin(errs.ravel())
    return jax.tree_util.tree_map(lambda x: x.ravel()[i], ps)


@partial(jax.jit, static_argnames=("spec",))
def _fit_kernel(spec: FitSpec, k: Array, t: Array, vols: Array, weights: Array, grid: Array,
                penalty: Array):
    def one(k, t, vols, weights, grid):
        def loss(x):
            p = _unpack(x)
            err = jnp.sum(weights * (jnp.sqrt(total_variance(p, k) / t) - vols) ** 2)
            g = durrleman_g(p, grid)
            return err / jnp.sum(weights) + penalty * jnp.mean(jnp.minimum(g, 0.0) ** 2)

        x, history, kept = minimise(loss, _pack(_initial_guess(k, t, vols, weights)), spec)
        p = _unpack(x)
        mse = jnp.sum(weights * (jnp.sqrt(total_variance(p, k) / t) - vols) ** 2) / jnp.sum(weights)
        return p, 100.0 * jnp.sqrt(mse), kept, history

    return jax.vmap(one)(k, t, vols, weights, grid)


def fit_svi(k: ArrayLike, expiries: ArrayLike, vols: ArrayLike, weights: ArrayLike | None = None,
            *, penalty: float = 1e3, optimizer: str = "lbfgs", n_iter: int = 300,
            learning_rate: float = 1e-2, grad_tol: float = 1e-13, n_grid: int = 2001,
            tol: float = 0.0) -> SviFit:
    """Fit one raw SVI slice per expiry to implied-vol quotes.

    Args:
      k: ``(n_quotes,)`` log-moneyness ``ln(K/F)`` of each quote.
      expiries: ``(n_quotes,)`` year fractions (ACT/365); equal values form one slice.
      vols: ``(n_quotes,)`` implied vols (annualised, decimal); their dtype is the fit's dtype.
      weights: ``(n_quotes,)`` weights >= 0, e.g. ``1 / (ask_iv - bid_iv)`` or vega; default 1.
      penalty: weight of the butterfly penalty (0 switches it off).
      optimizer: ``"lbfgs"`` or ``"adam"``.
      n_iter: optimizer steps per slice.
      learning_rate: Adam's step size (unused by L-BFGS, which line-searches).
      grad_tol: steps stop once the gradient norm is at most this.
      n_grid: points per slice of the reported arbitrage grid.
      tol: the report flags arbitrage where g (or a calendar difference) is below ``-tol``; the
        penalty leaves g slightly negative (about -1e-4 at the default weight on Vogt's slice).

    Returns:
      An `SviFit`; its arbitrage grid spans ``max(1.5 sqrt(T), max |k|)`` per slice.

    Raises:
      ConfigError: bad quotes or options, or fewer than 5 weighted quotes for an expiry.
      NonFiniteError: the fit produced a non-finite number (which slice, which field).
    """
    q = group_quotes(k, expiries, vols, weights, min_per_expiry=5)
    spec = make_spec(n_iter, optimizer, learning_rate, grad_tol)
    penalty = number("penalty", penalty, lo=0.0)
    half = np.maximum(1.5 * np.sqrt(q.expiries), np.max(np.abs(q.k), axis=1)).astype(q.k.dtype)
    grid = half[:, None] * np.linspace(-1.0, 1.0, _PENALTY_POINTS, dtype=q.k.dtype)
    p, rmse, kept, history = _fit_kernel(spec, *map(jnp.asarray, (q.k, q.expiries, q.vols,
                                                                  q.weights, grid)),
                                         jnp.asarray(penalty, q.k.dtype))
    t = jnp.asarray(q.expiries)
    where = ", ".join(f"T={x:g}" for x in q.expiries)
    check_finite(p._asdict(), "fit_svi.params", f"slices {where}; check the quotes")
    check_finite(rmse, "fit_svi.rmse_vol_points", f"slices {where}")
    check_finite(history, "fit_svi.loss_history", f"slices {where}")
    report = arbitrage_report(p, t, half_widths=half, n_grid=n_grid, tol=tol)
    return SviFit(p, t, rmse, kept, history, report)

