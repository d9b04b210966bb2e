"""Per-path simulation: one `lax.scan` over the time grid whose carry is the model state and
the path statistics the book needs; the output is the discounted payoff of every position.

Written for one path (vmap over paths happens in the engine). No paths x steps x assets
array is ever built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk import corr as corrlib
from mcrisk.grid import TimeGrid
from mcrisk.instruments import conditional
from mcrisk.instruments.book import (BookPlan, BookShape, Obs, init_obs, init_records, lr_gammas,
                                     payoffs, record_families, update_obs)
from mcrisk.models import REGISTRY
from mcrisk.models.base import Params, State
from mcrisk.problem import Problem
from mcrisk.random import BLOCK, DrawLayout, n_normals, next_normals, step_draws


class KernelSpec(NamedTuple):
    """Everything static about a kernel: one compilation per distinct spec and shapes."""

    model: str
    book: BookShape
    layout: DrawLayout
    antithetic: bool
    samples: int  # samples (paths, or antithetic pairs) per chunk
    dtype: str
    greeks: bool  # Greeks kernel: under gbm, terminal payoffs conditioned on the last step
    # Greeks kernel: the asset each output row's payoff depends on (family order), -1 for
    # none, -2 for several (those rows alone are differentiated asset by asset).
    row_assets: tuple[int, ...] = ()


def make_params(problem: Problem, dtype: str) -> Params:
    """Problem -> JAX parameter pytree in the simulation dtype."""
    m, mod = problem.market, problem.model
    f = lambda a: jnp.asarray(np.asarray(a, np.float64), dtype)  # noqa: E731
    return Params(spots=f(m.spots), vols=f(mod.base_vols(m)), dividends=f(m.dividends),
                  rate=f(m.rate), chol=f(corrlib.factor(m.corr)),
                  model=REGISTRY[mod.name].make_params(mod.params, f))


def row_assets(problem: Problem, order: np.ndarray) -> tuple[int, ...]:
    """Per output row (positions in `order`): its one asset, -1 for none, -2 for several."""
    out = []
    for i in order:
        a = set(problem.positions[int(i)].assets)
        out.append(a.pop() if len(a) == 1 else (-1 if not a else -2))
    return tuple(int(a) for a in out)


def make_layout(problem: Problem, shape: BookShape) -> DrawLayout:
    return DrawLayout(n_assets=problem.market.n_assets, variance=problem.model.has_variance,
                      jumps=problem.model.has_jumps, bridge=shape.bridge)


def scan_inputs(grid: TimeGrid, plan: BookPlan, dtype: str, step_offset: int = 0) -> dict:
    """Per-step arrays the scan walks over: step index (the draws' key), dt, step masks."""
    return dict(k=step_offset + jnp.arange(grid.n_steps, dtype=jnp.int32),
                dt=jnp.asarray(grid.dt, dtype),
                masks=jax.tree_util.tree_map(jnp.asarray, plan.step_masks))


def _start(spec: KernelSpec, params: Params, terms: dict) -> tuple:
    """Today's state, empty statistics and (Greeks kernel) empty records, as one carry."""
    model = REGISTRY[spec.model]
    state0 = model.init(params)
    obs0 = init_obs(spec.book, terms, state0.x)
    if not spec.greeks:
        return state0, obs0, (), None
    b = spec.book
    dtype = jnp.dtype(spec.dtype)
    n_sv = terms["terminal"]["sv_row"].shape[0] if "terminal" in terms else 0
    sv = conditional.sv_matrices(params, terms["terminal"]) if n_sv else None
    cond0 = conditional.init(b.n_snap, b.n_assets, n_sv, dtype, init_records(b, dtype))
    return state0, obs0, cond0, sv


def _step(spec: KernelSpec, params: Params, terms: dict, x: dict, draws, carry: tuple) -> tuple:
    """One step of one path: the model state, the statistics and (Greeks kernel) the
    last-step records. A function of the parameters and the carry alone (the draws are
    given), so the Greeks kernel can differentiate it step by step."""
    model = REGISTRY[spec.model]
    tiny = jnp.finfo(jnp.dtype(spec.dtype)).tiny
    state, obs, cond, sv = carry
    new = model.step(params, state, x["dt"], draws)
    var = jnp.maximum(state.v * x["dt"], tiny)
    if spec.greeks:
        rec, acc = cond
        if sv is not None:
            _, var_sv = model.last_step(params, state, x["dt"], draws)
            acc = conditional.accumulate(acc, params, terms, x["dt"], draws,
                                         jnp.maximum(var_sv, tiny), sv)
        else:
            acc = conditional.accumulate(acc, params, terms, x["dt"], draws)

        def keep(rec):
            mean, var_end = model.last_step(params, state, x["dt"], draws)
            var_end = jnp.maximum(var_end, tiny)
            rec = conditional.record(rec, acc, terms, x["masks"], state.x, state.v,
                                     mean, var_end, var, sv)
            # The families record from the statistics before the step (the last
            # fixing's and the expiry step's own contributions are what the
            # conditioning integrates).
            return rec._replace(family=record_families(rec.family, obs, terms,
                                                       x["masks"], mean, var_end))

        new_obs = update_obs(obs, terms, x["masks"], state.x, new.x, var, draws)
        # Records change only on the few steps that end a date some payoff conditions
        # on; elsewhere the branch (and its tangents) is skipped, not selected away. It
        # comes last: what follows a cond sees its tangents as new values, and the Greeks
        # kernel's equal first-order streams are shared only before it.
        cond = (jax.lax.cond(conditional.record_step(x["masks"], rec.family), keep,
                             lambda r: r, rec),
                acc)
        return new, new_obs, cond, sv
    obs = update_obs(obs, terms, x["masks"], state.x, new.x, var, draws)
    return new, obs, cond, sv


def _finish(spec: KernelSpec, params: Params, terms: dict, carry: tuple,
            families: tuple[str, ...] | None = None, lr_term: bool = True) -> jax.Array:
    _, obs, cond, _ = carry
    return payoffs(obs, terms, params.spots, params.rate, cond[0] if spec.greeks else None,
                   families, lr_term)


def _draws(spec: KernelSpec, params: Params, key: jax.Array, mirror: jax.Array, first,
           n_steps: int):
    """The scan's draws, step by step: (x, buffer) -> (draws, buffer)."""
    model = REGISTRY[spec.model]
    dtype = jnp.dtype(spec.dtype)

    def draw(x, buf):
        normals, buf = next_normals(key, x["k"], first, buf, spec.layout, n_steps)
        return step_draws(key, x["k"], spec.layout, mirror,
                          model.jump_intensity(params) * x["dt"], dtype, normals), buf

    return draw, jnp.zeros((BLOCK, n_normals(spec.layout)), dtype)


def path_payoffs(spec: KernelSpec, params: Params, terms: dict, xs: dict, key: jax.Array,
                 mirror: jax.Array, start: tuple[State, Obs] | None = None) -> jax.Array:
    """Discounted payoffs, shape (positions,) in family order, of one path.

    `start` replaces today's state and empty statistics (nested revaluation from a scenario).
    The Greeks kernel (`spec.greeks`) conditions on each asset's last step, normal given its
    start (and, by model, the variance driver and jumps): `model.last_step` gives that law.
    """
    carry0 = _start(spec, params, terms)
    if start is not None:
        carry0 = (start[0], start[1]) + carry0[2:]
    draw, buf0 = _draws(spec, params, key, mirror, xs["k"][0], xs["k"].shape[0])

    def body(carry, x):
        c, buf = carry
        draws, buf = draw(x, buf)
        return (_step(spec, params, terms, x, draws, c), buf), None

    (c, _), _ = jax.lax.scan(body, (carry0, buf0), xs)
    return _finish(spec, params, terms, c)


def _with(params: Params, theta: tuple) -> Params:
    return params._replace(spots=theta[0], vols=theta[1], rate=theta[2])


def _second(f, primals: tuple, inner: tuple, outer: tuple, second: tuple):
    """f's value, its derivative along `inner`, and its second derivative along `inner`
    then `outer` (`second`: the inputs' second-order tangent)."""
    def d1(*args):
        k = len(primals)
        return jax.jvp(f, args[:k], args[k:])

    (y, dy), (_, d2y) = jax.jvp(d1, primals + inner, outer + second)
    return y, dy, d2y


def owners(spec: KernelSpec, terms: dict, carry: tuple) -> tuple:
    """The asset each entry of a Greeks path carry is a function of (-1: of no asset's spot
    or vol, or read only under `stop_gradient`), same structure as the carry.

    Log spots, variances, snapshots and the last-step records are per asset (last axis);
    a path family's statistics and records are per row, each row one asset's
    (`terms[family]["asset"]`, `mcrisk.instruments.base`). Under every model an asset's
    path depends on its own spot and vol alone (the correlated normals are given).
    """
    n = spec.book.n_assets
    col = lambda a: jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), a.shape)  # noqa: E731
    none = lambda a: jnp.full(a.shape, -1, jnp.int32)  # noqa: E731

    def rows(name):
        def of(a):
            asset = jnp.asarray(terms[name]["asset"], jnp.int32)
            return jnp.broadcast_to(asset.reshape(asset.shape + (1,) * (a.ndim - 1)), a.shape)
        return of

    state, obs, cond, sv = carry
    o_state = jax.tree_util.tree_map(col, state)
    o_obs = Obs(snap=col(obs.snap), stats={k: jax.tree_util.tree_map(rows(k), st)
                                           for k, st in obs.stats.items()})
    o_cond = ()
    if spec.greeks:
        rec, acc = cond
        # elapsed: time alone; sv_cov: read under stop_gradient only (likelihood ratios).
        o_rec = rec._replace(start=col(rec.start), mean=col(rec.mean), var=col(rec.var),
                             bridge=col(rec.bridge), noise=col(rec.noise),
                             elapsed=none(rec.elapsed), vol=col(rec.vol),
                             sv_noise=col(rec.sv_noise), sv_cov=none(rec.sv_cov),
                             family={k: jax.tree_util.tree_map(rows(k), r)
                                     for k, r in rec.family.items()})
        o_cond = (o_rec, (col(acc[0]), none(acc[1]), col(acc[2]), none(acc[3])))
    return o_state, o_obs, o_cond, jax.tree_util.tree_map(none, sv)


def _depends(fn, args: tuple) -> list[bool]:
    """Which flat outputs of ``fn(*args)`` depend on its inputs, from its jaxpr: an output
    tangent that depends on no input tangent is zero."""
    closed = jax.make_jaxpr(fn)(*args)
    return _dependent(closed.jaxpr, [True] * len(closed.jaxpr.invars))


def _dependent(jaxpr, inputs: list[bool]) -> list[bool]:
    """Outputs of `jaxpr` reachable from its inputs flagged in `inputs`. Calls (jit,
    custom derivatives) and the branches of a cond are followed input by input; any other
    equation with a dependent input makes all its outputs dependent (safe: a tangent
    thought nonzero is only carried, never wrong)."""
    dep = {id(v) for v, d in zip(jaxpr.invars, inputs) if d}
    for eqn in jaxpr.eqns:
        ins = [id(v) in dep for v in eqn.invars]
        if not any(ins):
            continue
        sub = eqn.params.get("jaxpr", eqn.params.get("call_jaxpr"))
        sub = getattr(sub, "jaxpr", sub)
        if eqn.primitive.name == "cond" and not ins[0]:
            outs = [False] * len(eqn.outvars)
            for branch in eqn.params["branches"]:
                outs = [o or b for o, b in zip(outs, _dependent(branch.jaxpr, ins[1:]))]
        elif (eqn.primitive.name in ("pjit", "jit", "closed_call", "custom_jvp_call",
                                     "custom_vjp_call") and sub is not None
              and len(sub.invars) == len(ins)):
            outs = _dependent(sub, ins)
        else:
            outs = [True] * len(eqn.outvars)
        dep.update(id(v) for v, o in zip(eqn.outvars, outs) if o)
    return [id(v) in dep for v in jaxpr.outvars]


class _Stream:
    """One direction of the parameters (theta = spots, vols, rate) through the carry, with
    tangents only for the carry leaves that can depend on it (`active`); the others are
    closed over, so their tangents are symbolic zeros: nothing is differentiated through
    them (a square root at a variance of exactly 0 is not a 0 * inf)."""

    def __init__(self, params: Params, treedef, active):
        self.params = params
        self.treedef, self.active = treedef, tuple(active)
        self.pos = [k for k, a in enumerate(self.active) if a]

    def restrict(self, fn, c):
        """fn as a function of (theta, the active leaves of `c`), and those leaves."""
        leaves = jax.tree_util.tree_leaves(c)

        def f(th, act):
            full = list(leaves)
            for k, a in zip(self.pos, act):
                full[k] = a
            return fn(_with(self.params, th), jax.tree_util.tree_unflatten(self.treedef, full))

        return f, tuple(leaves[k] for k in self.pos)

    def pick(self, carry) -> list:
        leaves = jax.tree_util.tree_leaves(carry)
        return [leaves[k] for k in self.pos]


def _active_leaves(params: Params, theta: tuple, k: int, d_theta: tuple, start, step,
                   c0) -> list:
    """Carry leaves whose tangent along `d_theta` can be nonzero: those `start` makes depend
    on it, closed under `step` (the fixpoint `jax.jvp` of a scan finds). `d_theta` moves
    only theta's part `k` (0 spots, 1 vols, 2 rate): that part alone counts as an input."""
    treedef = jax.tree_util.tree_structure(c0)
    with_d = lambda d: tuple(d if j == k else d_theta[j] for j in range(3))  # noqa: E731

    def of(d):
        return jax.tree_util.tree_leaves(jax.jvp(lambda th: start(_with(params, th)),
                                                 (theta,), (with_d(d),))[1])

    active = _depends(of, (d_theta[k],))
    while True:
        f, c_act = _Stream(params, treedef, active).restrict(step, c0)

        def tangent(d, t_act, f=f, c_act=c_act):
            return jax.tree_util.tree_leaves(jax.jvp(f, (theta, c_act), (with_d(d), t_act))[1])

        out = _depends(tangent, (d_theta[k], c_act))
        grown = [a or o for a, o in zip(active, out)]
        if grown == active:
            return active
        active = grown


def path_greeks(spec: KernelSpec, params: Params, terms: dict, xs: dict, key: jax.Array,
                mirror: jax.Array, cross: bool,
                gate: jax.Array | None = None) -> tuple[jax.Array, ...]:
    """Pathwise Greeks of one path: (delta, gamma, vega, rho, cross gamma) rows, each rows x
    positions (their concatenation is `engine.greeks_chunk`'s rows).

    Forward mode, written step by step rather than as the jvp of the whole scan. Every
    entry of the carry is a function of one asset's spot and vol (`owners`), so one
    direction that moves every spot at once carries, entry by entry, each entry's
    derivative along its own asset's spot; likewise one direction for all the vols, and one
    for the rate. The scan carries four tangent streams whatever the number of assets
    (spot first and second order, vol, rate), each only for the carry leaves that can
    depend on it (`_active_leaves`). At the end of the path, a row on one asset takes its
    Greeks from the streams as they are; a row on several assets (baskets, spreads) is
    differentiated along each asset, the streams masked by owner, once per path. All
    streams share one primal step and one draw of the normals, and the spot stream's
    nested jvp gets the same tangent as its inner and outer direction, so its two equal
    first-order streams are one computation (XLA's common subexpressions), not two carries.

    `gate`: a traced boolean true at run time that XLA cannot fold (the kernel passes
    ``n_valid > 0``); the payoff's Greeks are then computed as branches of a conditional on
    it, which materialises them (see `materialise` below). None: inline.
    """
    n = spec.book.n_assets
    dtype = params.spots.dtype
    theta = (params.spots, params.vols, params.rate)
    zn, one, z0 = jnp.zeros((n,), dtype), jnp.ones((n,), dtype), jnp.zeros((), dtype)
    zero_t = (zn, zn, z0)
    dirs = {"spot": (one, zn, z0), "vol": (zn, one, z0), "rate": (zn, zn, jnp.ones((), dtype))}

    draw, buf0 = _draws(spec, params, key, mirror, xs["k"][0], xs["k"].shape[0])
    start = lambda p: _start(spec, p, terms)  # noqa: E731
    c0 = start(params)
    treedef = jax.tree_util.tree_structure(c0)
    x0 = jax.tree_util.tree_map(lambda a: a[0], xs)
    draws0, _ = draw(x0, buf0)
    step0 = lambda p, c: _step(spec, p, terms, x0, draws0, c)  # noqa: E731
    st = {name: _Stream(params, treedef, _active_leaves(params, theta, k, d, start, step0, c0))
          for k, (name, d) in enumerate(dirs.items())}

    def streams(fn, c, tangents, carry_out):
        """fn(params, c) and its derivatives (spot first and second order, vol, rate); of a
        carry (`carry_out`), each stream's active leaves."""
        t1, t2, tv, tr = tangents
        keep = (lambda k, t: tuple(st[k].pick(t))) if carry_out else (lambda k, t: t)
        f, ca = st["spot"].restrict(fn, c)
        y, d1, d2 = _second(f, (theta, ca), (dirs["spot"], t1), (dirs["spot"], t1),
                            (zero_t, t2))
        f, ca = st["vol"].restrict(fn, c)
        dv = jax.jvp(f, (theta, ca), (dirs["vol"], tv))[1]
        f, ca = st["rate"].restrict(fn, c)
        dr = jax.jvp(f, (theta, ca), (dirs["rate"], tr))[1]
        return y, (keep("spot", d1), keep("spot", d2), keep("vol", dv), keep("rate", dr))

    # Today's carry and its tangents (start reads no carry: every stream's input is empty).
    t_start = []
    for k in ("spot", "vol", "rate"):
        _, t = jax.jvp(lambda th: start(_with(params, th)), (theta,), (dirs[k],))
        t_start.append(tuple(st[k].pick(t)))
    t2_start = tuple(st["spot"].pick(jax.jvp(
        lambda th: jax.jvp(lambda u: start(_with(params, u)), (th,), (dirs["spot"],))[1],
        (theta,), (dirs["spot"],))[1]))
    tangents0 = (t_start[0], t2_start, t_start[1], t_start[2])

    def body(carry, x):
        c, tangents, buf = carry
        draws, buf = draw(x, buf)
        step = lambda p, cc: _step(spec, p, terms, x, draws, cc)  # noqa: E731
        new, tangents = streams(step, c, tangents, carry_out=True)
        return (new, tangents, buf), None

    (c, tangents, _), _ = jax.lax.scan(body, (c0, tangents0, buf0), xs)

    def materialise(fn, *args):
        # A payoff's Greeks are a few formulas of shared intermediates (one primal and its
        # tangents). Fused into what consumes them (the per-asset rows, the book's sum,
        # the moments) XLA evaluates the shared part once per consumer; computed as a
        # branch of a conditional they are materialised first (measured: a 1-asset
        # barrier book's Greeks chunk, 37 -> 28 ms).
        if gate is None:
            return fn(*args)
        fn = jax.jit(fn)  # traced once: by eval_shape, then reused by the branch
        shapes = jax.eval_shape(fn, *args)
        return jax.lax.cond(gate, fn, lambda *_: jax.tree_util.tree_map(
            lambda x: jnp.zeros(x.shape, x.dtype), shapes), *args)

    # Multi-asset rows' Greeks come from `_multi_greeks` (rho aside, which their
    # zero-valued likelihood-ratio term does not touch): leave that term out here.
    finish = lambda p, cc: _finish(spec, p, terms, cc, lr_term=False)  # noqa: E731
    d1, d2, dv, dr = materialise(
        lambda c, t: streams(finish, c, t, carry_out=False)[1], c, tangents)

    # A row on one asset: its Greeks along that asset are the streams'; others are zero.
    ra = np.asarray(spec.row_assets, np.int64).reshape(-1)
    if ra.size != d1.shape[0]:
        raise ValueError(f"KernelSpec.row_assets has {ra.size} rows, the book {d1.shape[0]}: "
                         "build the Greeks kernel's spec with engine.prepare(greeks=True)")
    on = jnp.asarray(ra[None, :] == np.arange(n)[:, None])  # (assets, rows)
    pick = lambda d: jnp.where(on, d[None, :], jnp.zeros_like(d)[None, :])  # noqa: E731
    delta, gamma, vegas, rho = pick(d1), pick(d2), pick(dv), dr
    n_cross = n * (n - 1) // 2 if cross else 0
    cross_rows = jnp.zeros((n_cross, ra.size), dtype)
    multi = np.flatnonzero(ra == -2)
    if multi.size:
        g1, g2, gv, gc = materialise(
            lambda c, t: _multi_greeks(spec, params, terms, st, c, t, multi, cross), c, tangents)
        delta = delta.at[:, multi].set(g1)
        gamma = gamma.at[:, multi].set(g2)
        vegas = vegas.at[:, multi].set(gv)
        if cross:
            cross_rows = cross_rows.at[:, multi].set(gc)
    return delta, gamma, vegas, rho[None], cross_rows


def _multi_greeks(spec: KernelSpec, params: Params, terms: dict, st: dict, c: tuple,
                  tangents: tuple, multi: np.ndarray, cross: bool) -> tuple:
    """Greeks of the rows `multi` (on several assets), asset by asset: the streams masked by
    each carry entry's owner, plus the likelihood-ratio (cross) gammas read directly
    (`book.lr_gammas`). ``(delta, gamma, vega, cross gamma)``, each (assets or pairs, rows);
    cross gamma empty without `cross`."""
    n = spec.book.n_assets
    theta = (params.spots, params.vols, params.rate)
    dtype = theta[0].dtype
    zn, z0 = jnp.zeros((n,), dtype), jnp.zeros((), dtype)
    zero_t = (zn, zn, z0)
    own = owners(spec, terms, c)
    t1, t2, tv, _ = tangents
    eye = jnp.eye(n, dtype=dtype)
    # Only the families holding such rows: differentiated n times, the others would cost
    # n times their own Greeks for rows thrown away.
    fams = tuple(f for f in spec.book.present
                 if np.any((multi >= spec.book.rows(f).start) & (multi < spec.book.rows(f).stop)))
    local = np.concatenate([np.arange(spec.book.rows(f).start, spec.book.rows(f).stop)
                            for f in fams])
    at = np.searchsorted(local, multi)
    fm = lambda p, cc: _finish(spec, p, terms, cc, fams, lr_term=False)[at]  # noqa: E731
    _, obs, cond, _ = c
    lr = lr_gammas(spec.book, obs, terms, params.spots, params.rate, cond[0], fams)[at]
    fs, cs = st["spot"].restrict(fm, c)
    fv, cv = st["vol"].restrict(fm, c)

    def mask(t, stream, i):
        return tuple(jnp.where(o == i, a, jnp.zeros_like(a))
                     for a, o in zip(t, stream.pick(own)))

    def own_gamma(i):
        d = (eye[i], zn, z0)
        t = mask(t1, st["spot"], i)
        _, g1, g2 = _second(fs, (theta, cs), (d, t), (d, t), (zero_t, mask(t2, st["spot"], i)))
        return g1, g2

    def vega(i):
        return jax.jvp(fv, (theta, cv), ((zn, eye[i], z0), mask(tv, st["vol"], i)))[1]

    idx = jnp.arange(n, dtype=jnp.int32)
    g1, g2 = jax.vmap(own_gamma)(idx)
    g2 = g2 + jnp.diagonal(lr, axis1=1, axis2=2).T
    gv = jax.vmap(vega)(idx)
    if not cross:
        return g1, g2, gv, jnp.zeros((0, multi.size), dtype)
    pi, pj = np.triu_indices(n, 1)
    zc = tuple(jnp.zeros_like(a) for a in cs)

    def cross_gamma(i, j):
        # No entry depends on two assets: the carry's second-order cross tangent is 0.
        return _second(fs, (theta, cs), ((eye[i], zn, z0), mask(t1, st["spot"], i)),
                       ((eye[j], zn, z0), mask(t1, st["spot"], j)), (zero_t, zc))[2]

    return g1, g2, gv, lr[:, pi, pj].T + jax.vmap(cross_gamma)(jnp.asarray(pi, jnp.int32),
                                                                jnp.asarray(pj, jnp.int32))


def _pairs(fn: Callable, keys: jax.Array, antithetic: bool):
    """``fn(keys, mirror)`` over both draws of each antithetic sample, averaged per sample,
    pytrees of (k, ...) arrays; without antithetics, the plain draws.

    The mirror is the outer batch axis: an inner axis of 2 becomes the innermost of every
    per-path array, and XLA's CPU loops vectorise along the innermost axis (measured: a
    barrier payoff's Greeks on (8192, 2) took 7.7x their time on (2, 8192)).
    """
    if not antithetic:
        return fn(keys, jnp.asarray(False))
    both = jax.vmap(lambda m: fn(keys, m))(jnp.array([False, True]))
    return jax.tree_util.tree_map(lambda b: 0.5 * (b[0] + b[1]), both)


def chunk_greeks(spec: KernelSpec, params: Params, terms: dict, xs: dict, keys: jax.Array,
                 cross: bool, gate: jax.Array | None = None) -> tuple[jax.Array, ...]:
    """Greeks rows (as `path_greeks`, with a leading samples axis) of the samples `keys`:
    paths, or the means over antithetic pairs."""
    return _pairs(lambda ks, m: jax.vmap(
        lambda k: path_greeks(spec, params, terms, xs, k, m, cross, gate))(ks),
        keys, spec.antithetic)


def chunk_payoffs(spec: KernelSpec, params: Params, terms: dict, xs: dict, keys: jax.Array,
                  start: tuple[State, Obs] | None = None) -> jax.Array:
    """Payoffs (samples, positions) of the samples `keys`: paths, or the means over
    antithetic pairs."""
    return _pairs(lambda ks, m: jax.vmap(
        lambda k: path_payoffs(spec, params, terms, xs, k, m, start))(ks),
        keys, spec.antithetic)


def sample_greeks(spec: KernelSpec, params: Params, terms: dict, xs: dict, key: jax.Array,
                  cross: bool) -> tuple[jax.Array, ...]:
    """Greeks rows of one sample (as `path_greeks`)."""
    return tuple(g[0] for g in chunk_greeks(spec, params, terms, xs, key[None], cross))


def sample_payoffs(spec: KernelSpec, params: Params, terms: dict, xs: dict,
                   key: jax.Array, start: tuple[State, Obs] | None = None) -> jax.Array:
    """Payoffs of one sample: a path, or the mean over an antithetic pair."""
    return chunk_payoffs(spec, params, terms, xs, key[None], start)[0]
