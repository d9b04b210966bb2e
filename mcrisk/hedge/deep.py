r"""Deep hedging: a neural hedging policy trained to minimise a convex risk measure of the
hedged P&L (Buehler, Gonon, Teichmann & Wood, "Deep hedging", Quantitative Finance 19(8),
2019).

One small MLP, shared by every rebalancing date, maps the features

    ( (T - t) / T,  log(S_t / K_i) / (σ_h √T) for each book strike K_i,  h_{t-} / Q
      [, -Σ q_i Δ_i(t, S_t; σ_h) / Q] )

to the new holding h_t = Q · mlp(features), with Q = Σ |q_i| (the largest delta the book can
have), σ_h the hedge vol and h_{t-} the holding before the trade: the previous holding is what
lets the policy learn not to trade when a trade costs more than it removes in risk (the
paper's recurrent structure). The Black–Scholes delta of the book at the hedge vol is an
optional feature, on by default: without costs the optimal policy is close to that delta, so
the network only has to learn a near-identity of one input rather than the delta's shape from
moneyness and time, which a network of a few hundred weights trained for a few hundred steps
does only roughly; with costs it learns a no-trade band around it.

The P&L is the one of `mcrisk.hedge.dynamic`, booked by the same `dynamic.trade` on paths from
the same `dynamic.spots`: premium paid at the pricing vol, hedge gains, proportional costs,
funding, settlements, the hedge closed at the horizon; it trades on the time schedule
`every`. Fixed fees per trade make the objective piecewise constant in the policy (no
gradient), so training leaves them out; evaluation charges them (the policy moves its holding
at every date, so it pays the fee at each).

The risk measure ρ of the hedged P&L X is

* ES at level β in the Rockafellar–Uryasev form min_w w + E[(-X - w)^+] / (1 - β), with the
  auxiliary w trained jointly with the network (at the optimum w is the VaR), or
* entropic, (1/λ) log E[exp(-λ X)] (λ per unit of money), evaluated with logsumexp.

Both are cash-invariant, so the optimal risk gives the paper's indifference price of the book,
p = V_0 - ρ(X) (V_0 the premium at the pricing vol, X the P&L with V_0 paid): the price at
which holding the hedged book carries zero risk.

Training takes Adam steps (optax) with a cosine-decayed learning rate on minibatches of fresh
paths: minibatch e uses the paths with global indices 0..batch-1 under the key
fold_in(fold_in(key(seed), STREAM_DEEP), e), so a run is reproducible from the seed and never
sees the evaluation paths (the dynamic hedge's stream).
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mcrisk.config.deep_hedge import DeepSetup
from mcrisk.config.dynamic_hedge import HedgeSetup
from mcrisk.engine import require_dtype
from mcrisk.errors import NonFiniteError, check_finite
from mcrisk.hedge import dynamic
from mcrisk.hedge.greeks import greeks
from mcrisk.hedge.summary import summarize
from mcrisk.random import STREAM_DEEP

_FLOOR = 0.05  # the cosine schedule ends at this fraction of the first learning rate


class DeepSpec(NamedTuple):
    """Everything static: one compilation per distinct spec and shapes."""

    hedge: dynamic.HedgeSpec
    hidden: tuple[int, ...]
    measure: str  # "es" | "entropic"
    delta_feature: bool
    batch: int


class DeepArrays(NamedTuple):
    """The numbers: the dynamic hedge's arrays and the training's scalars."""

    hedge: dynamic.HedgeArrays
    level: jax.Array
    risk_aversion: jax.Array
    learning_rate: jax.Array
    iterations: jax.Array
    scale: jax.Array  # money scale of the ES auxiliary: S_0 σ_h √T Q


class Policy(NamedTuple):
    """The trained parameters: MLP layers ((W, b) per layer) and the ES auxiliary w in units
    of `DeepArrays.scale` (unused by the entropic measure)."""

    layers: tuple
    alpha: jax.Array


def make(setup: HedgeSetup, deep: DeepSetup) -> tuple[DeepSpec, DeepArrays]:
    """A checked setup and deep section -> the kernels' static spec and array arguments."""
    hspec, harrays = dynamic.make(setup)
    hspec = hspec._replace(rebalance="time", gamma=False)
    if setup.rebalance != "time":
        harrays = harrays._replace(every=jnp.asarray(1, jnp.int32))
    f = lambda x: jnp.asarray(np.float64(x), setup.dtype)  # noqa: E731
    q = sum(abs(o.quantity) for o in setup.book)
    spec = DeepSpec(hedge=hspec, hidden=deep.hidden, measure=deep.measure,
                    delta_feature=deep.delta_feature, batch=deep.batch)
    arrays = DeepArrays(hedge=harrays, level=f(deep.level), risk_aversion=f(deep.risk_aversion),
                        learning_rate=f(deep.learning_rate), iterations=f(deep.iterations),
                        scale=f(setup.spot * setup.hedge_vol * math.sqrt(setup.horizon) * q))
    return spec, arrays


def _n_features(spec: DeepSpec, n_positions: int) -> int:
    return 2 + n_positions + spec.delta_feature


def init(spec: DeepSpec, a: DeepArrays, key: jax.Array) -> Policy:
    """Glorot-uniform weights, zero biases, w = 0."""
    dtype = jnp.dtype(spec.hedge.dtype)
    sizes = (_n_features(spec, a.hedge.strikes.shape[0]),) + spec.hidden + (1,)
    layers = []
    for i, (n, m) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = math.sqrt(6.0 / (n + m))
        w = jax.random.uniform(jax.random.fold_in(key, i), (n, m), dtype, -bound, bound)
        layers.append((w, jnp.zeros((m,), dtype)))
    return Policy(layers=tuple(layers), alpha=jnp.zeros((), dtype))


def _hedge(spec: DeepSpec, a: dynamic.HedgeArrays, layers: tuple, t: jax.Array, s: jax.Array,
           held: jax.Array) -> jax.Array:
    """The policy's holding at time t, spot s, holding `held` before the trade."""
    q = jnp.sum(jnp.abs(a.quantities))
    feats = [jnp.reshape(1 - t / a.horizon, (1,)),
             jnp.log(s / a.strikes) / (a.hedge_vol * jnp.sqrt(a.horizon)),
             jnp.reshape(held / q, (1,))]
    if spec.delta_feature:
        taus = a.expiry_steps.astype(t.dtype) * (a.horizon / spec.hedge.steps) - t
        delta = jnp.sum(a.quantities * greeks(s, a.strikes, taus, a.hedge_vol, a.rate,
                                              a.kinds).delta)
        feats.append(jnp.reshape(-delta / q, (1,)))
    x = jnp.concatenate(feats)
    for w, b in layers[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = layers[-1]
    return q * (x @ w + b)[0]


def _along(spec: DeepSpec, a: dynamic.HedgeArrays, layers: tuple,
           path: jax.Array) -> dynamic.PathResult:
    """The policy's hedged P&L along one (steps + 1,) spot path."""
    hs = spec.hedge
    dt = a.horizon / hs.steps
    zero = jnp.zeros((), a.spot.dtype)

    def body(c, x):
        k, s, s1 = x
        reb = k % a.every == 0
        h = jnp.where(reb, _hedge(spec, a, layers, k.astype(dt.dtype) * dt, s, c.h), c.h)
        return dynamic.trade(hs, a, c, k, s, s1, dt, h, zero, reb)

    begin = dynamic.start(a)._replace(pnl=-dynamic.premium(hs, a))
    xs = (jnp.arange(hs.steps, dtype=jnp.int32), path[:-1], path[1:])
    c, _ = jax.lax.scan(body, begin, xs)
    return dynamic.close(hs, a, c, path[-1])


def _risk(spec: DeepSpec, a: DeepArrays, pnl: jax.Array, alpha: jax.Array) -> jax.Array:
    """The risk measure of the P&L sample, in money (ES: its Rockafellar–Uryasev upper bound,
    exact at the optimal w)."""
    if spec.measure == "es":
        w = alpha * a.scale
        return w + jnp.mean(jax.nn.relu(-pnl - w)) / (1 - a.level)
    lam = a.risk_aversion
    return (jax.nn.logsumexp(-lam * pnl) - jnp.log(jnp.asarray(pnl.shape[0], pnl.dtype))) / lam


def _optimizer(a: DeepArrays) -> optax.GradientTransformation:
    def schedule(count):
        frac = jnp.minimum(count.astype(a.learning_rate.dtype) / a.iterations, 1.0)
        return a.learning_rate * (_FLOOR + (1 - _FLOOR) * 0.5 * (1 + jnp.cos(jnp.pi * frac)))

    return optax.chain(optax.scale_by_adam(), optax.scale_by_learning_rate(schedule))


def _batch(spec: DeepSpec, a: dynamic.HedgeArrays, root: jax.Array) -> jax.Array:
    hs = spec.hedge
    index = jnp.arange(spec.batch, dtype=jnp.uint32)
    return jax.vmap(lambda i: dynamic.spots(hs.model, hs.dtype, hs.steps, a, root, i))(index)


@partial(jax.jit, static_argnums=0)
def train_step(spec: DeepSpec, a: DeepArrays, params: Policy, state: optax.OptState,
               key: jax.Array, epoch: jax.Array) -> tuple[Policy, optax.OptState, jax.Array]:
    """One Adam step on minibatch `epoch` ((), uint32) of fresh paths under `key`.

    Returns:
        (new parameters, new optimizer state, the minibatch's risk before the step).
    """
    paths = _batch(spec, a.hedge, jax.random.fold_in(key, epoch))
    # Fixed fees have no gradient (a step function of whether a trade happens): not trained.
    train = a.hedge._replace(fixed=jnp.zeros_like(a.hedge.fixed))

    def objective(p: Policy) -> jax.Array:
        pnl = jax.vmap(lambda x: _along(spec, train, p.layers, x).pnl)(paths)
        return _risk(spec, a, pnl, p.alpha)

    value, grads = jax.value_and_grad(objective)(params)
    # optax mixes int32 counters with float64 under x64; strict promotion rejects that.
    with jax.numpy_dtype_promotion("standard"):
        updates, state = _optimizer(a).update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params, state, value


@partial(jax.jit, static_argnums=0)
def evaluate(spec: DeepSpec, a: DeepArrays, params: Policy, key: jax.Array,
             index: jax.Array) -> dynamic.PathResult:
    """The policy's hedged paths with global indices `index` ((paths,) uint32) under `key`:
    the same paths as `dynamic.simulate` with that key, fixed fees charged."""
    hs = spec.hedge
    one = lambda i: _along(spec, a.hedge, params.layers,  # noqa: E731
                           dynamic.spots(hs.model, hs.dtype, hs.steps, a.hedge, key, i))
    return jax.lax.map(one, index, batch_size=hs.chunk)


@partial(jax.jit, static_argnums=0)
def hedge_ratio(spec: DeepSpec, a: DeepArrays, params: Policy, t: jax.Array, spot: jax.Array,
                held: jax.Array) -> jax.Array:
    """The policy's holding (units of the underlying) at time t (years), spot `spot`,
    holding `held` before the trade; all scalars."""
    return _hedge(spec, a.hedge, params.layers, t, spot, held)


class Trained(NamedTuple):
    """A trained policy and how training went."""

    params: Policy
    history: np.ndarray  # (iterations,) minibatch risk before each step, money
    seconds: float  # wall time of training, compilation included


def train(spec: DeepSpec, a: DeepArrays, seed: int, iterations: int) -> Trained:
    """Train from Glorot initial weights drawn from `seed`'s deep stream.

    Raises:
        NonFiniteError: if a minibatch's risk is not finite (the weights diverged).
    """
    t0 = time.perf_counter()
    root = jax.random.fold_in(jax.random.key(seed), STREAM_DEEP)
    params = init(spec, a, jax.random.fold_in(root, 2 ** 32 - 1))
    state = _optimizer(a).init(params)
    values = []
    for e in range(iterations):
        params, state, value = train_step(spec, a, params, state, root, jnp.uint32(e))
        values.append(value)
    history = np.asarray(jnp.stack(values), np.float64)
    bad = np.flatnonzero(~np.isfinite(history))
    if bad.size:
        raise NonFiniteError(f"dynamic_hedge.deep.history[{bad[0]}]", history[bad[0]],
                             "training diverged: lower dynamic_hedge.deep.learning_rate")
    jax.block_until_ready(params)
    return Trained(params, history, time.perf_counter() - t0)


def risk(measure: str, pnl: np.ndarray, level: float, risk_aversion: float) -> float:
    """The risk measure of a P&L sample on the host: ES of the loss at `level` (the risk
    engine's estimator) or the entropic measure."""
    if measure == "es":
        from mcrisk.riskengine import metrics

        return float(metrics.es(-pnl, level))
    z = -risk_aversion * np.asarray(pnl, np.float64)
    top = z.max()
    return float((top + math.log(np.mean(np.exp(z - top)))) / risk_aversion)


def run(setup: HedgeSetup, deep: DeepSetup) -> tuple[dict, dynamic.PathResult, Trained]:
    """Train on fresh paths, then hedge the setup's own paths (its seed: the delta-hedge rows'
    paths) with the trained policy.

    Returns:
        (the summary of `summarize` plus the training's record under ``deep``, the evaluated
        paths, the trained policy).
    """
    require_dtype(setup.dtype)
    spec, arrays = make(setup, deep)
    trained = train(spec, arrays, deep.seed, deep.iterations)
    paths = evaluate(spec, arrays, trained.params, jax.random.key(setup.seed),
                     dynamic.path_indices(setup.paths))
    paths = jax.tree_util.tree_map(np.asarray, paths)
    out = summarize(paths, setup.level)
    v0 = float(dynamic.premium(spec.hedge, arrays.hedge))
    rho = risk(deep.measure, np.asarray(paths.pnl, np.float64), deep.level, deep.risk_aversion)
    out["deep"] = check_finite(dict(
        measure=deep.measure, risk=rho, premium=v0, indifference_price=v0 - rho,
        alpha=float(trained.params.alpha * arrays.scale), iterations=deep.iterations,
        batch=deep.batch, risk_first=float(trained.history[0]),
        risk_last=float(trained.history[-1]), seconds_train=trained.seconds),
        "dynamic_hedge.deep")
    return out, paths, trained


__all__ = ["DeepSpec", "DeepArrays", "Policy", "Trained", "make", "init", "train_step",
           "train", "evaluate", "hedge_ratio", "risk", "run"]
