"""The optax loop of the calibrations: L-BFGS or Adam, stopping once the gradient vanishes.

Unlike `mcrisk.vol.fit.minimise` (a fixed-length scan) the loop is a ``lax.while_loop``: a
calibration's loss is costly and L-BFGS usually converges in a fraction of ``n_iter`` steps.
Under ``vmap`` over starting points it runs until the last start has stopped. The loss returns
auxiliary output (the per-quote errors), and the last evaluation is always at the final
point, so the kernel needs no extra evaluation (and no extra compiled copy of the pricer) to
report the fit.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from mcrisk.vol.fit import FitSpec, optimizer, optimizer_step

__all__ = ["Minimum", "minimise"]


class Minimum(NamedTuple):
    """Result of `minimise`.

    Attributes:
      x: the final point.
      value: the loss at `x`.
      aux: the loss's auxiliary output at `x`.
      history: ``(n_iter + 1,)`` the loss at each evaluated point; entries after the last
        evaluation repeat the final value.
      steps: the number of optimizer steps taken (<= n_iter).
    """

    x: Array
    value: Array
    aux: object
    history: Array
    steps: Array


def minimise(loss: Callable[[Array], tuple[Array, object]], x0: Array, spec: FitSpec,
             rel_tol: float = 0.0) -> Minimum:
    """Minimise ``loss(x)[0]`` from `x0` with the optimizer of `spec`.

    A step is taken while the gradient norm exceeds ``spec.grad_tol``, fewer than
    ``spec.n_iter`` steps were taken, the new point is finite and (L-BFGS only) the last step
    lowered the loss by more than ``rel_tol`` times its value; the first point that fails
    this is the final one. Adam's loss is not monotone, so it only stops on the gradient.
    """
    lbfgs = spec.optimizer == "lbfgs"
    opt = optimizer(spec)
    value_and_grad = jax.value_and_grad(loss, has_aux=True)
    value_only = lambda x: loss(x)[0]  # noqa: E731
    (v0, aux0), _ = jax.eval_shape(value_and_grad, x0)
    history0 = jnp.zeros(spec.n_iter + 1, v0.dtype)

    def body(carry):
        x, state, i, _, history, previous, _ = carry
        (value, aux), grad = value_and_grad(x)
        # The backtracking line search only accepts decreasing steps: a stalled decrease is
        # convergence to a minimum whose loss is not 0 (a model that cannot fit the quotes).
        moving = (i == 0) | (previous - value > rel_tol * jnp.abs(value)) if lbfgs else True
        new_x, new_state = optimizer_step(opt, spec, x, state, value, grad, value_only)
        go = ((jnp.linalg.norm(grad) > spec.grad_tol) & (i < spec.n_iter)
              & jnp.all(jnp.isfinite(new_x)) & jnp.isfinite(value) & moving)
        keep = lambda new, old: jnp.where(go, new, old)  # noqa: E731
        history = history.at[i].set(value)
        return (keep(new_x, x), jax.tree_util.tree_map(keep, new_state, state),
                i + go.astype(i.dtype), go, history, value, aux)

    aux_init = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), aux0)
    init = (x0, opt.init(x0), jnp.int32(0), jnp.bool_(True), history0,
            jnp.zeros((), v0.dtype), aux_init)
    x, _, steps, _, history, value, aux = jax.lax.while_loop(lambda c: c[3], body, init)
    history = jnp.where(jnp.arange(spec.n_iter + 1, dtype=steps.dtype) > steps, value, history)
    return Minimum(x, value, aux, history, steps)
