r"""Dynamic hedging of a European book along simulated paths: the cost of gamma.

A book of European calls, puts and forwards on one underlying is bought (signed quantities)
at its Black–Scholes value at the *pricing vol* and hedged until the horizon with spot
(financed at the rate r) or a perpetual (mark = spot, funding paid on the notional), with the
Black–Scholes delta at a *hedge vol* that may differ from the vol the paths are drawn with
(model risk); optionally delta–gamma with one listed option. The hedge is rebalanced every
`every` fine steps, or when the target hedge leaves a band around the held one (a fixed width,
or Whalley–Wilmott's H = (3/2 e^{-r(T-t)} λ S Γ² / γ)^{1/3} with T the horizon and Γ the book's
gamma). Each rebalance that trades pays a proportional cost λ on the traded notional and a
fixed fee. Per path, in time-0 money:

    P&L = -V_0 + Σ_i q_i e^{-r T_i} payoff_i(S_{T_i}) + hedge gains - costs - funding,

where the hedge is closed at the horizon (that trade pays costs too). The spot paths come from
the `mcrisk.models` step functions (gbm, merton, heston), keyed by global path index, so every
path is the same for any chunk size.

References: Leland (1985), J. Finance 40(5); Boyle & Emanuel (1980), J. Fin. Econ. 8;
Whalley & Wilmott (1997), Math. Finance 7(3); Kamal & Derman (1999), Risk 12(4).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.config.dynamic_hedge import HedgeSetup
from mcrisk.hedge.greeks import KIND_CODE, greeks, payoff
from mcrisk.models import REGISTRY
from mcrisk.models.base import Params
from mcrisk.random import BLOCK, DrawLayout, index_keys, n_normals, next_normals, step_draws


class HedgeSpec(NamedTuple):
    """Everything static about the kernel: one compilation per distinct spec and shapes."""

    steps: int
    model: str
    instrument: str  # "spot" | "perpetual"
    rebalance: str  # "time" | "band" | "whalley_wilmott"
    gamma: bool  # delta–gamma with one listed option
    to_edge: bool  # band hedges trade to the band's nearest edge, not to the target
    chunk: int  # paths per vmapped batch: sets the memory
    dtype: str


class HedgeArrays(NamedTuple):
    """The numbers: scalars, and (positions,) arrays for the book."""

    spot: jax.Array
    rate: jax.Array
    drift: jax.Array
    vol: jax.Array
    model: tuple  # the model's own parameter pytree, (1,) arrays
    horizon: jax.Array
    pricing_vol: jax.Array
    hedge_vol: jax.Array
    funding: jax.Array
    strikes: jax.Array
    kinds: jax.Array  # int32 codes of `greeks.KIND_CODE`
    quantities: jax.Array
    expiry_steps: jax.Array  # int32 fine-step index of each expiry
    g_strike: jax.Array  # gamma-hedge option (ignored unless spec.gamma)
    g_expiry: jax.Array
    g_kind: jax.Array
    every: jax.Array  # int32
    width: jax.Array
    risk_aversion: jax.Array
    proportional: jax.Array
    fixed: jax.Array


class PathResult(NamedTuple):
    """Per path, time-0 money: hedged P&L, trades (rebalances that traded, the initial trade and
    the closing one included), costs paid (proportional + fixed), and the part of those costs
    paid by the initial trade and the closing one."""

    pnl: jax.Array
    trades: jax.Array
    fees: jax.Array
    edge_fees: jax.Array


class _Hedge(NamedTuple):
    h: jax.Array  # units of spot (or perpetual) held
    g: jax.Array  # units of the gamma-hedge option held
    pnl: jax.Array
    trades: jax.Array
    fees: jax.Array
    edge: jax.Array


def make(setup: HedgeSetup) -> tuple[HedgeSpec, HedgeArrays]:
    """A checked setup -> the kernel's static spec and array arguments."""
    dt = setup.dtype
    f = lambda x: jnp.asarray(np.asarray(x, np.float64), dt)  # noqa: E731
    i32 = lambda x: jnp.asarray(np.asarray(x), jnp.int32)  # noqa: E731
    go = setup.gamma_hedge
    spec = HedgeSpec(steps=setup.steps, model=setup.model, instrument=setup.instrument,
                     rebalance=setup.rebalance, gamma=go is not None, to_edge=setup.to_edge,
                     chunk=min(setup.chunk, setup.paths), dtype=dt)
    arrays = HedgeArrays(
        spot=f(setup.spot), rate=f(setup.rate), drift=f(setup.drift), vol=f(setup.vol),
        model=REGISTRY[setup.model].make_params({k: [v] for k, v in setup.model_params.items()},
                                                f),
        horizon=f(setup.horizon), pricing_vol=f(setup.pricing_vol), hedge_vol=f(setup.hedge_vol),
        funding=f(setup.funding), strikes=f([o.strike for o in setup.book]),
        kinds=i32([KIND_CODE[o.kind] for o in setup.book]),
        quantities=f([o.quantity for o in setup.book]), expiry_steps=i32(setup.expiry_steps),
        g_strike=f(go.strike if go else 1.0), g_expiry=f(go.expiry if go else 1.0),
        g_kind=i32(KIND_CODE[go.kind] if go else 0), every=i32(setup.every),
        width=f(setup.width), risk_aversion=f(setup.risk_aversion),
        proportional=f(setup.proportional), fixed=f(setup.fixed))
    return spec, arrays


def _params(a: HedgeArrays) -> Params:
    one = jnp.ones((1,), a.spot.dtype)
    return Params(spots=a.spot * one, vols=a.vol * one, dividends=0 * one, rate=a.rate,
                  chol=one[:, None], model=a.model, growth=a.drift * one)


def _option_mark(spec: HedgeSpec, a: HedgeArrays, t: jax.Array, s: jax.Array) -> jax.Array:
    """The gamma-hedge option's value at the pricing vol (zero without one)."""
    if not spec.gamma:
        return jnp.zeros((), a.spot.dtype)
    return greeks(s, a.g_strike[None], (a.g_expiry - t)[None], a.pricing_vol, a.rate,
                  a.g_kind[None]).value[0]


def _targets(spec: HedgeSpec, a: HedgeArrays, k: jax.Array, s: jax.Array, dt: jax.Array):
    """Target spot and option holdings at step k, and the book's gamma (hedge vol)."""
    taus = (a.expiry_steps - k).astype(dt.dtype) * dt
    b = greeks(s, a.strikes, taus, a.hedge_vol, a.rate, a.kinds)
    delta, gamma = jnp.sum(a.quantities * b.delta), jnp.sum(a.quantities * b.gamma)
    if not spec.gamma:
        return -delta, jnp.zeros_like(delta), gamma
    t = k.astype(dt.dtype) * dt
    o = greeks(s, a.g_strike[None], (a.g_expiry - t)[None], a.hedge_vol, a.rate, a.g_kind[None])
    og, od = o.gamma[0], o.delta[0]
    # Far out of the money the option's gamma underflows: it can hedge no gamma there.
    ok = og > jnp.finfo(og.dtype).tiny
    g = jnp.where(ok, -gamma / jnp.where(ok, og, 1.0), 0.0)
    return -(delta + g * od), g, gamma


def _hedge_step(spec: HedgeSpec, a: HedgeArrays, c: _Hedge, k: jax.Array, s: jax.Array,
                s1: jax.Array, dt: jax.Array):
    """Rebalance at t_k = k dt with spot `s`, then carry the position to t_{k+1} (spot `s1`)."""
    t = k.astype(dt.dtype) * dt
    h_star, g_star, gamma = _targets(spec, a, k, s, dt)
    gap = h_star - c.h
    if spec.rebalance == "time":
        reb, band = k % a.every == 0, jnp.zeros_like(gap)
    else:
        if spec.rebalance == "band":
            band = a.width
        else:
            band = jnp.cbrt(1.5 * jnp.exp(-a.rate * (a.horizon - t)) * a.proportional * s
                            * gamma ** 2 / a.risk_aversion)
        reb = jnp.abs(gap) > band
    h = jnp.where(reb, h_star - jnp.sign(gap) * band if spec.to_edge else h_star, c.h)
    g = jnp.where(reb, g_star, c.g)
    return trade(spec, a, c, k, s, s1, dt, h, g, reb)


def trade(spec: HedgeSpec, a: HedgeArrays, c: _Hedge, k: jax.Array, s: jax.Array,
          s1: jax.Array, dt: jax.Array, h: jax.Array, g: jax.Array, reb: jax.Array):
    """Move the holdings to (h, g) at t_k, paying costs (a fixed fee where `reb` and something
    changed), then carry them to t_{k+1}, settling the positions expiring there.

    Shared by every hedging rule (the deep hedge's policy included), so all of them book
    premium, costs, funding and settlements the same way.

    Returns:
        (the new carry, (h, whether a trade happened)).
    """
    t = k.astype(dt.dtype) * dt
    dh, dg = h - c.h, g - c.g
    disc, disc1 = jnp.exp(-a.rate * t), jnp.exp(-a.rate * (t + dt))
    mark, mark1 = _option_mark(spec, a, t, s), _option_mark(spec, a, t + dt, s1)
    traded = reb & ((dh != 0) | (dg != 0))
    cost = disc * (a.proportional * (jnp.abs(dh) * s + jnp.abs(dg) * mark)
                   + jnp.where(traded, a.fixed, 0.0))
    if spec.instrument == "spot":
        gain = h * (s1 * disc1 - s * disc)
    else:
        gain = h * (s1 - s) * disc1 - a.funding * h * s * dt * disc
    gain = gain + g * (mark1 * disc1 - mark * disc)
    settled = jnp.sum(jnp.where(a.expiry_steps == k + 1,
                                a.quantities * payoff(s1, a.strikes, a.kinds), 0.0)) * disc1
    c = _Hedge(h=h, g=g, pnl=c.pnl + gain + settled - cost,
               trades=c.trades + traded.astype(c.trades.dtype), fees=c.fees + cost,
               edge=c.edge + jnp.where(k == 0, cost, 0.0))
    return c, (h, traded)


def close(spec: HedgeSpec, a: HedgeArrays, c: _Hedge, s: jax.Array) -> PathResult:
    """Close the hedge at the horizon, paying costs on that trade too."""
    disc = jnp.exp(-a.rate * a.horizon)
    mark = _option_mark(spec, a, a.horizon, s)
    traded = (c.h != 0) | (c.g != 0)
    cost = disc * (a.proportional * (jnp.abs(c.h) * s + jnp.abs(c.g) * mark)
                   + jnp.where(traded, a.fixed, 0.0))
    return PathResult(pnl=c.pnl - cost, trades=c.trades + traded.astype(c.trades.dtype),
                      fees=c.fees + cost, edge_fees=c.edge + cost)


def start(a: HedgeArrays) -> _Hedge:
    zero = jnp.zeros((), a.spot.dtype)
    return _Hedge(h=zero, g=zero, pnl=zero, trades=zero, fees=zero, edge=zero)


def premium(spec: HedgeSpec, a: HedgeArrays) -> jax.Array:
    """Time-0 value of the book at the pricing vol (what buying it costs)."""
    taus = a.expiry_steps.astype(a.spot.dtype) * (a.horizon / spec.steps)
    b = greeks(a.spot, a.strikes, taus, a.pricing_vol, a.rate, a.kinds)
    return jnp.sum(a.quantities * b.value)


def spots(model: str, dtype: str, steps: int, a: HedgeArrays, root: jax.Array,
          index: jax.Array) -> jax.Array:
    """The (steps + 1,) spot path with global index `index` (uint32 scalar) under `root`.

    Every hedging rule reads its paths here, so rules run with one root key see the same
    spots path by path, whatever the chunking.
    """
    m = REGISTRY[model]
    params = _params(a)
    layout = DrawLayout(n_assets=1, variance=m.VARIANCE, jumps=m.JUMPS, bridge=False)
    key = index_keys(root, index[None])[0]
    dt = a.horizon / steps
    rates = m.jump_intensity(params) * dt

    def body(carry, k):
        state, buf = carry
        normals, buf = next_normals(key, k, jnp.int32(0), buf, layout)
        draws = step_draws(key, k, layout, jnp.asarray(False), rates, jnp.dtype(dtype), normals)
        new = m.step(params, state, dt, draws)
        return (new, buf), jnp.exp(new.x[0])

    state0 = m.init(params)
    buf0 = jnp.zeros((BLOCK, n_normals(layout)), jnp.dtype(dtype))
    _, path = jax.lax.scan(body, (state0, buf0), jnp.arange(steps, dtype=jnp.int32))
    return jnp.concatenate([jnp.exp(state0.x[:1]), path])


def _along(spec: HedgeSpec, a: HedgeArrays, path: jax.Array):
    dt = a.horizon / spec.steps

    def body(hedge, x):
        k, s, s1 = x
        return _hedge_step(spec, a, hedge, k, s, s1, dt)

    begin = start(a)._replace(pnl=-premium(spec, a))
    xs = (jnp.arange(spec.steps, dtype=jnp.int32), path[:-1], path[1:])
    hedge, (held, traded) = jax.lax.scan(body, begin, xs)
    return close(spec, a, hedge, path[-1]), held, traded


def _path(spec: HedgeSpec, a: HedgeArrays, root: jax.Array, index: jax.Array) -> PathResult:
    return _along(spec, a, spots(spec.model, spec.dtype, spec.steps, a, root, index))[0]


@partial(jax.jit, static_argnums=0)
def simulate(spec: HedgeSpec, arrays: HedgeArrays, key: jax.Array,
             index: jax.Array) -> PathResult:
    """Hedge the paths with global indices `index` ((paths,) uint32), `spec.chunk` at a time.

    Args:
        spec: static description.
        arrays: the numbers.
        key: the root key (`jax.random.key(seed)`).
        index: (paths,) uint32 global path indices: path i is the same in any call.

    Returns:
        `PathResult` of (paths,) arrays in `spec.dtype`.
    """
    return jax.lax.map(lambda i: _path(spec, arrays, key, i), index, batch_size=spec.chunk)


@partial(jax.jit, static_argnums=0)
def hedge_along(spec: HedgeSpec, arrays: HedgeArrays, spots: jax.Array):
    """Hedge along one given spot path (for checking the hedging rules by hand).

    Args:
        spots: (steps + 1,) spots at t_0 = 0 .. t_steps = horizon; spots[0] should equal
            `arrays.spot` (the premium is priced there).

    Returns:
        (`PathResult` of scalars, holdings after each step's rebalance (steps,), whether each
        step traded (steps,) bool).
    """
    return _along(spec, arrays, spots)


def path_indices(n: int) -> jax.Array:
    return jnp.arange(n, dtype=jnp.uint32)


__all__ = ["HedgeSpec", "HedgeArrays", "PathResult", "make", "simulate", "hedge_along",
           "path_indices"]
