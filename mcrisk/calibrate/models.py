"""Heston, Bates and Merton calibrated to implied-vol quotes with optax.

The model prices come from the characteristic-function pricers of `mcrisk.analytic.heston`
(`european`, `bates_european`) and the Poisson series of `mcrisk.analytic.merton`, each quote
priced off its own forward (the spot set to the forward and the carry to zero), so a chain
with a basis per expiry needs no dividend curve. Two losses, both in vol points squared:

* ``"vol"``: model prices -> Black implied vols (`mcrisk.vol.implied.implied_vol`, whose
  derivative comes from the implicit function theorem), weighted squared error;
* ``"price"``: ``((model - market) / vega)^2`` weighted, vega at the market vol: the first
  order of the vol error, with no inversion.

A model price outside the no-arbitrage bounds has no implied vol; the vol loss uses the price
form for that quote, so the loss stays finite and differentiable everywhere the optimizer goes.

The parameters are optimised in an unconstrained space (`mcrisk.calibrate.params`) by optax
L-BFGS or Adam (`mcrisk.calibrate.optim.minimise`) from several starting points at once (``vmap``);
the start with the lowest final loss wins. Everything runs in one kernel jitted on a static
spec, and the quotes are padded to a multiple of 16, so a second calibration with new numbers
and the same padded size compiles nothing. Calibration runs in float64.
"""

from __future__ import annotations

import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from mcrisk import errors as E
from mcrisk.analytic import heston as heston_cf
from mcrisk.analytic import merton as merton_series
from mcrisk.calibrate.optim import minimise
from mcrisk.calibrate.params import JUMPS, PARAMS, initial_guess, starting_points, unpack
from mcrisk.calibrate.quotes import CalibrationQuotes, prepare
from mcrisk.vol.fit import FitSpec, make_spec
from mcrisk.vol.implied import black_price, implied_vol

__all__ = ["Calibration", "calibrate", "model_block", "MODELS", "LOSSES"]

MODELS = tuple(PARAMS)
LOSSES = ("vol", "price")
_DEFAULT_ITER = {"lbfgs": 100, "adam": 1000}


class Spec(NamedTuple):
    """Static options of the calibration kernel (one compiled kernel per distinct spec).

    Heston and Bates share the ``"stochvol"`` family: Heston is Bates with the jump intensity
    multiplied by a (traced) 0, so both compile one kernel.
    """

    family: str
    loss: str
    fit: FitSpec
    n_points: int
    rel_tol: float


class Calibration(NamedTuple):
    """Result of `calibrate`.

    Attributes:
      model: ``"heston"``, ``"bates"`` or ``"merton"``.
      params: name -> fitted value (`mcrisk.calibrate.params.PARAMS` order); Merton's
        diffusive vol is ``"vol"``.
      loss: the best start's final loss, in vol points squared (weighted mean).
      rmse_vol_points: weighted RMSE of the model implied vols, in vol points (100 x vol).
      rmse_by_expiry: expiry (years) -> weighted RMSE of its quotes, in vol points.
      loss_history: ``(n_iter,)`` the best start's loss before each optimizer step.
      starts: per start, (initial params, final params, final loss).
      feller_ratio: ``2 kappa theta / xi^2`` (Heston, Bates; None for Merton). Below 1 the
        variance can reach 0; reported, not imposed.
      seconds: wall time of the calibration, compilation included.
      n_quotes: the number of quotes (before padding).
      iterations: optimizer steps the best start took before its gradient vanished.
    """

    model: str
    params: dict
    loss: float
    rmse_vol_points: float
    rmse_by_expiry: dict
    loss_history: np.ndarray
    starts: list
    feller_ratio: float | None
    seconds: float
    n_quotes: int
    iterations: int

    @property
    def feller_holds(self) -> bool | None:
        """Whether ``2 kappa theta >= xi^2`` (None for Merton)."""
        return None if self.feller_ratio is None else self.feller_ratio >= 1.0


def _family(model: str) -> str:
    return "merton" if model == "merton" else "stochvol"


def _prices(spec: Spec, p: dict[str, Array], f, k, t, call, d) -> Array:
    """Model prices of every quote; the spot is the forward and the carry 0 (rate = dividend)."""
    r = -jnp.log(d) / t
    jumps = {n: p[n] for n in ("jump_intensity", "jump_mean", "jump_std")}
    if spec.family == "merton":
        return merton_series.european(spots=f, strikes=k, expiries=t, vols=p["vol"], rates=r,
                                      dividends=r, is_call=call, **jumps)
    return heston_cf.bates_european(spots=f, strikes=k, expiries=t, rates=r, dividends=r,
                                    v0=p["v0"], kappa=p["kappa"], theta=p["theta"], xi=p["xi"],
                                    rho=p["rho"], is_call=call, n_points=spec.n_points, **jumps)


def _errors(spec: Spec, p: dict[str, Array], q: tuple) -> tuple[Array, Array]:
    """Per quote, in vol units: the model-minus-market implied vol (its first order where the
    model price has no implied vol) and the vega-scaled price error."""
    f, k, t, call, d, vols = q
    market = black_price(f, k, t, vols, call, d)
    s = vols * jnp.sqrt(t)
    d1 = jnp.log(f / k) / s + 0.5 * s
    vega = d * f * jnp.sqrt(t) * jnp.exp(-0.5 * d1 * d1) / jnp.sqrt(2.0 * jnp.pi)
    model = _prices(spec, p, f, k, t, call, d)
    by_price = (model - market) / vega
    undiscounted = model / d
    intrinsic = jnp.maximum(jnp.where(call, f - k, k - f), 0.0)
    upper = jnp.where(call, f, k)
    # A relative margin keeps the inversion away from prices its rounding cannot resolve;
    # the market price stands in outside, so no NaN reaches the gradient.
    inside = (undiscounted - intrinsic > 1e-12 * f) & (undiscounted < upper * (1.0 - 1e-12))
    iv = implied_vol(jnp.where(inside, model, market), f, k, t, call, d).vol
    return jnp.where(inside, iv - vols, by_price), by_price


@partial(jax.jit, static_argnames=("spec",))
def _kernel(spec: Spec, x0s: Array, jumps: Array, f, k, t, call, d, vols, w):
    """All starts at once; returns their parameters, final losses, loss histories, step
    counts and the per-quote vol errors of each."""
    q = (f, k, t, call, d, vols)
    model = "merton" if spec.family == "merton" else "bates"
    total = jnp.sum(w)

    def params(x):
        p = unpack(model, x)
        if spec.family == "stochvol":
            p["jump_intensity"] = jumps * p["jump_intensity"]
        return p

    def loss(x):
        vol_err, price_err = _errors(spec, params(x), q)
        err = vol_err if spec.loss == "vol" else price_err
        return jnp.sum(w * (100.0 * err) ** 2) / total, vol_err

    out = jax.vmap(lambda x0: minimise(loss, x0, spec.fit, spec.rel_tol))(x0s)
    return jax.vmap(params)(out.x), out.value, out.history, out.steps, out.aux


def calibrate(model: str, quotes: CalibrationQuotes, *, optimizer: str = "lbfgs",
              starts: int = 4, n_iter: int | None = None, loss: str = "vol", seed: int = 0,
              learning_rate: float = 0.02, grad_tol: float = 1e-10, rel_tol: float = 1e-10,
              n_points: int = 128) -> Calibration:
    """Fit a model's parameters to one underlying's implied-vol quotes.

    Args:
      model: ``"heston"``, ``"bates"`` or ``"merton"``.
      quotes: the quotes (`CalibrationQuotes`, e.g. from `quotes_from_chain`).
      optimizer: ``"lbfgs"`` (backtracking line search) or ``"adam"``.
      starts: number of starting points (the moment-based guess and ``starts - 1``
        perturbations of it); the best final loss wins.
      n_iter: optimizer steps per start; default 100 for L-BFGS, 1000 for Adam.
      loss: ``"vol"`` (implied-vol error) or ``"price"`` (vega-scaled price error).
      seed: seed of the start perturbations.
      learning_rate: Adam's step size on the unconstrained parameters (unused by L-BFGS).
      grad_tol: a start stops once its gradient norm is at most this.
      rel_tol: an L-BFGS start also stops once a step lowers its loss by at most this
        fraction of the loss.
      n_points: Gauss-Legendre nodes of the Heston/Bates pricer (static; a multiple of 128).

    Returns:
      A `Calibration`; its ``model_block`` form for a config comes from `model_block`.

    Raises:
      ConfigError: bad model, loss, optimizer, counts or quotes, before anything compiles.
      NonFiniteError: the best fit produced a non-finite number (which field).
    """
    start_time = time.perf_counter()
    model = E.choice("model", model, MODELS)
    loss = E.choice("loss", loss, LOSSES)
    optimizer = E.choice("optimizer", optimizer, ("lbfgs", "adam"))
    starts = E.integer("starts", starts, lo=1)
    seed = E.integer("seed", seed, lo=0)
    n_iter = _DEFAULT_ITER[optimizer] if n_iter is None else n_iter
    n_points = E.integer("n_points", n_points, lo=128, multiple_of=128,
                         why="the pricer integrates in panels of 128 nodes")
    fit = make_spec(n_iter, optimizer, learning_rate, grad_tol)
    q = prepare(quotes)
    live = q.weights > 0
    guess = initial_guess(model, np.log(q.strikes / q.forwards)[live], q.expiries[live],
                          q.vols[live], q.weights[live])
    x0s, initial = starting_points(model, guess, starts, seed)
    if model == "heston":  # the Bates kernel with the jumps switched off
        x0s = np.concatenate([x0s, np.zeros((starts, len(JUMPS)))], axis=1)
    if not jax.config.jax_enable_x64:
        # float64 needs x64; switch it on rather than silently calibrating in float32.
        jax.config.update("jax_enable_x64", True)
    arrays = [jnp.asarray(a) for a in (q.forwards, q.strikes, q.expiries, q.is_call,
                                       q.discounts, q.vols, q.weights)]
    rel_tol = E.number("rel_tol", rel_tol, lo=0.0)
    spec = Spec(_family(model), loss, fit, n_points, rel_tol)
    jumps = jnp.asarray(0.0 if model == "heston" else 1.0, jnp.float64)
    out = jax.device_get(_kernel(spec, jnp.asarray(x0s, jnp.float64), jumps, *arrays))
    params, final, history, steps, errors = out
    names = PARAMS[model]
    finals = [{n: float(params[n][i]) for n in names} for i in range(starts)]
    final = np.where(np.isfinite(final), final, np.inf)
    best = int(np.argmin(final))
    where = f"{model} calibration, best of {starts} starts"
    E.check_finite(finals[best], "calibration.params", where)
    E.check_finite(final[best], "calibration.loss", where + "; check the quotes")
    errors, w = errors[best, :q.n], q.weights[:q.n]
    E.check_finite(errors, "calibration.vol_errors", where + "; check the quotes")

    def rmse(m: np.ndarray) -> float:
        return float(100.0 * np.sqrt(np.sum(w[m] * errors[m] ** 2) / np.sum(w[m])))

    t = q.expiries[:q.n]
    by_expiry = {float(e): rmse(t == e) for e in np.unique(t[w > 0])}
    p = finals[best]
    feller = (2.0 * p["kappa"] * p["theta"] / p["xi"] ** 2) if "kappa" in p else None
    return Calibration(
        model=model, params=p, loss=float(final[best]), rmse_vol_points=rmse(w > 0),
        rmse_by_expiry=by_expiry, loss_history=np.asarray(history[best, :steps[best] + 1]),
        starts=[(initial[i], finals[i], float(final[i])) for i in range(starts)],
        feller_ratio=feller, seconds=time.perf_counter() - start_time, n_quotes=q.n,
        iterations=int(steps[best]))


def model_block(calibrations: dict) -> dict:
    """The ``model:`` block of a config from one calibration per asset.

    Args:
      calibrations: asset name -> `Calibration`, in the order of the config's
        ``market.assets``; all of one model.

    Returns:
      ``{"name": model, param: [one float per asset], ...}`` with exactly the keys the config
      accepts (Merton's diffusive vols belong in ``market.vol``: take ``params["vol"]``).

    Raises:
      ConfigError: no calibrations, or calibrations of different models.
    """
    E.mapping("calibrations", calibrations)
    if not calibrations:
        raise E.ConfigError("calibrations", {}, "at least one asset's Calibration")
    models = {a: c.model for a, c in calibrations.items()}
    name = next(iter(models.values()))
    for asset, m in models.items():
        if m != name:
            raise E.ConfigError(f"calibrations.{asset}.model", m, f"{name!r}, the model of "
                                "the first asset (one model for every asset)")
    keys = [n for n in PARAMS[name] if n != "vol"]
    return {"name": name, **{n: [float(c.params[n]) for c in calibrations.values()]
                             for n in keys}}
