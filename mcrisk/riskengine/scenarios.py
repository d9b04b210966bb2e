"""Outer scenarios: paths from today to the revaluation dates under the real-world measure,
with the state and running statistics saved at each date, then revalued in the same kernel.

Scenarios are independent paths (no antithetic pairing: order-statistic intervals need iid
losses). Scenario i's key is fold_in(fold_in(root, STREAM_PATHS), i). Its nested paths use
fold_in(fold_in(root, STREAM_INNER), i): inner draws independent across scenarios (Gordy and
Juneja, "Nested simulation in portfolio risk measurement", Management Science 2010), shared
by the dates of one scenario and by the scenario's own estimate of today's value of the
nested positions, whose inner paths start today and draw the same normals for every
calendar interval after the date (keyed by the step index of one valuation grid). A
scenario's nested loss is then an unbiased estimate whose inner error is independent across
scenarios (it averages out of the mean, no offset is shared by all losses) and small (today's
and the scenario's inner paths share every increment after the date). What inner noise is
left widens the tail by O(1/inner_paths); the caller removes it by comparing the tail of
losses revalued with each half of the inner paths.
Results depend on the seed and n_paths only, never on the chunk size or device count: a
chunk's scenarios are split over the local devices by their global indices
(`mcrisk.sharding`), each scenario's numbers the same on any device.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.engine import Prepared, prepare
from mcrisk.instruments import BY_NAME
from mcrisk.instruments.book import init_obs, payoffs, update_obs
from mcrisk.kernel import kernel
from mcrisk.models import REGISTRY
from mcrisk.models.base import Params
from mcrisk.problem import Problem
from mcrisk.random import BLOCK, STREAM_INNER, index_keys, n_normals, next_normals, step_draws
from mcrisk.riskengine.dateval import DateSpec, date_inputs, value_at
from mcrisk.riskengine.revalue import (DatePlan, ScenarioState, plan_date, shocked_vols,
                                      valuation_grid)
from mcrisk.sharding import over_indices
from mcrisk.simulate import KernelSpec

# Step index reserved for the draws that settle path probabilities, e.g. a barrier's knock
# (never a real step index).
_ALIVE_STEP = 2 ** 30


def prepare_outer(problem: Problem, dates: list[float]) -> Prepared:
    """The scenario grid: the book's events plus every revaluation date, exactly."""
    end = max(dates)
    t_book = max([p.terms.get("expiry", 0.0) for p in problem.positions] + [end])
    # Keep the book's step density (sim.n_steps over its longest expiry) up to the last date.
    steps = max(1, math.ceil(problem.sim.n_steps * end / t_book - 1e-9))
    sim = replace(problem.sim, antithetic=False, n_steps=steps)
    return prepare(replace(problem, sim=sim), extra_dates=dates, until=end)


def real_world(params: Params, problem: Problem) -> Params:
    drift = problem.market.drift
    if drift is None:
        return params
    return params._replace(growth=jnp.asarray(drift, params.spots.dtype))


class ScenarioSpec(NamedTuple):
    """Everything static about a scenario kernel: one compilation per spec and shapes.

    Attributes:
        outer: kernel spec of the scenario paths (its `samples` is the chunk's).
        dates: structure of each revaluation date.
        today: structure of each scenario's own estimate of today's values of the
            positions nested at the horizon (None when nothing is).
        shift: heston/bates: each scenario's vol is shifted before revaluation.
        devices: local devices a chunk is split over (`outer.samples` is a multiple).
    """

    outer: KernelSpec
    dates: tuple[DateSpec, ...]
    today: DateSpec | None
    shift: bool
    devices: int = 1


def scenario_path(spec: KernelSpec, terms: dict, xs: dict, params: Params, save: jax.Array,
                  key: jax.Array, realized: bool = True):
    """Simulate one scenario; return (states at each date, realised payoffs discounted to 0;
    None without `realized`: no position expires by the last date).

    save: (steps, dates) bool, True where step k ends on date j.
    """
    model = REGISTRY[spec.model]
    dtype = jnp.dtype(spec.dtype)
    tiny = jnp.finfo(dtype).tiny
    n_dates = save.shape[1]
    state0 = model.init(params)
    obs0 = init_obs(spec.book, terms, state0.x)
    saved0 = (jnp.zeros((n_dates,) + state0.x.shape, dtype),
              jnp.zeros((n_dates,) + state0.v.shape, dtype),
              jax.tree_util.tree_map(lambda a: jnp.zeros((n_dates,) + a.shape, a.dtype), obs0),
              jnp.zeros((n_dates,) + state0.x.shape, dtype))

    first = xs["k"][0]
    n_steps = xs["k"].shape[0]

    def body(carry, inp):
        state, obs, funding, saved, buf = carry
        x = inp["step"]
        normals, buf = next_normals(key, x["k"], first, buf, spec.layout, n_steps)
        draws = step_draws(key, x["k"], spec.layout, jnp.asarray(False),
                           model.jump_intensity(params) * x["dt"], dtype, normals)
        new = model.step(params, state, x["dt"], draws)
        var = jnp.maximum(state.v * x["dt"], tiny)
        obs = update_obs(obs, terms, x["masks"], state.x, new.x, var, draws)
        funding = funding + 0.5 * (jnp.exp(state.x) + jnp.exp(new.x)) * x["dt"]
        hit = inp["save"]

        def put(buf, val):
            m = hit.reshape((-1,) + (1,) * val.ndim)
            return jnp.where(m, val[None], buf)

        saved = (put(saved[0], new.x), put(saved[1], new.v),
                 jax.tree_util.tree_map(put, saved[2], obs), put(saved[3], funding))
        return (new, obs, funding, saved, buf), None

    carry0 = (state0, obs0, jnp.zeros_like(state0.x), saved0,
              jnp.zeros((BLOCK, n_normals(spec.layout)), dtype))
    (_, obs, _, saved, _), _ = jax.lax.scan(body, carry0, dict(step=xs, save=save))
    # Probabilities in the statistics (a barrier's survival) become one outcome per
    # scenario, the same at every date (`realise` of the family).
    settle_key = jax.random.fold_in(key, _ALIVE_STEP)

    def realise(o):
        return o._replace(stats={n: (BY_NAME[n].realise(st, settle_key)
                                     if hasattr(BY_NAME[n], "realise") else st)
                                 for n, st in o.stats.items()})

    paid = payoffs(realise(obs), terms, params.spots, params.rate) if realized else None
    states = ScenarioState(x=saved[0], v=saved[1], obs=realise(saved[2]), funding=saved[3])
    return states, paid


def make_kernel(problem: Problem, prep: Prepared, date_plans: list[DatePlan],
                save: np.ndarray, vols: np.ndarray, samples: int, h_idx: int,
                dates: list[float], vol_shift: np.ndarray | None = None):
    """Chunk kernel: (start, n_valid) -> values (samples, dates, positions), log spots
    at every date (samples, dates, assets), the scenario variances before any shock
    (samples, dates, assets), the valid mask, the values from each half of the inner paths
    (samples, dates, 2, positions; None where no date nests anything) and each
    scenario's own estimate of today's values of the positions nested at the horizon
    (samples, 3, positions: all inner paths, first half, second half; other entries are not
    computed and are zero; None where nothing is nested at the horizon). The kernel
    carries its `spec` and `inputs` for `scenario_losses`.

    `vols` are the revaluation vols of gbm/merton. `vol_shift` (heston/bates only) shifts
    each scenario's vol sqrt(v) at every date before revaluation, through `shocked_vols`.
    The kernel is `scenario_chunk`, compiled once per structure and shapes: every number
    of the problem goes in as an array."""
    dtype = prep.spec.dtype
    n_pos = len(problem.positions)
    inv = np.empty(n_pos, np.int64)
    inv[prep.plan.order] = np.arange(n_pos)
    root = jax.random.key(problem.sim.seed)
    split = [date_inputs(dp, dtype) for dp in date_plans]
    today, st0 = today_plan(problem, prep, date_plans[h_idx], dates)
    today_spec, today_in = date_inputs(today, dtype) if today is not None else (None, None)
    spec = ScenarioSpec(outer=prep.spec._replace(samples=samples),
                        dates=tuple(sp for sp, _ in split), today=today_spec,
                        shift=vol_shift is not None, devices=prep.devices)
    inputs = dict(p_rn=prep.params, p_rw=real_world(prep.params, problem), terms=prep.terms,
                  xs=prep.xs, save=jnp.asarray(save), vols=jnp.asarray(vols, dtype),
                  inv=jnp.asarray(inv), root=root,
                  inner_root=jax.random.fold_in(root, STREAM_INNER),
                  dates=[a for _, a in split], today=today_in, st0=st0,
                  vols0=jnp.asarray(problem.market.vols, dtype),
                  shift=None if vol_shift is None else jnp.asarray(vol_shift, dtype))

    def kernel(start, n_valid):
        index = np.uint32(start) + np.arange(samples, dtype=np.uint32)
        return scenario_chunk(spec, inputs, index, np.int32(n_valid))

    kernel.spec, kernel.inputs = spec, inputs
    return kernel


def _scenario(spec: ScenarioSpec, a: dict, key: jax.Array, index: jax.Array,
              halves: bool = True):
    """One scenario: (values (dates, positions), log spots (dates, assets), variances
    (dates, assets), values from each half of the inner paths (dates, 2, positions) or
    None, own estimate of today's nested values (3, positions) or None)."""
    expired = any(ds.expired for ds in spec.dates)
    states, realized = scenario_path(spec.outer, a["terms"], a["xs"], a["p_rw"], a["save"], key,
                                     realized=expired)
    n_pos = a["inv"].shape[0]
    dtype = states.x.dtype
    realized = realized[a["inv"]] if expired else jnp.zeros((n_pos,), dtype)
    k_inner = inner_key(a["inner_root"], index)
    values, parts = [], []
    for j, (ds, d) in enumerate(zip(spec.dates, a["dates"])):
        st = jax.tree_util.tree_map(lambda x, j=j: x[j], states)
        if spec.shift:
            vol, _ = shocked_vols(jnp.sqrt(jnp.maximum(st.v, 0.0)), a["shift"])
            st = st._replace(v=vol ** 2)
        v = value_at(ds, d, st, a["p_rn"], a["vols"], realized, k_inner, halves=halves)
        values.append(v[0] if halves else v)
        parts.append(v[1:] if halves else None)
    v0 = None
    if spec.today is not None:
        v0 = value_at(spec.today, a["today"], a["st0"], a["p_rn"], a["vols0"],
                      jnp.zeros_like(values[0]), k_inner, halves=True)
    # Halves differ from the values only where something is nested: otherwise not output.
    nested = halves and any(ds.nested is not None for ds in spec.dates)
    return (jnp.stack(values), states.x, states.v, jnp.stack(parts) if nested else None, v0)


@partial(jax.jit, static_argnames=("spec",))
def scenario_chunk(spec: ScenarioSpec, inputs: dict, index: jax.Array, n_valid: jax.Array):
    """Scenarios `index` (samples,) uint32, revalued at every date (outputs: see
    `make_kernel`); entries at positions >= n_valid are padding."""
    def share(idx):
        return jax.vmap(lambda k, i: _scenario(spec, inputs, k, i))(
            index_keys(inputs["root"], idx), idx)

    vals, x, v, halves, v0 = over_indices(share, index, spec.devices)
    valid = jnp.arange(index.shape[0], dtype=jnp.int32) < n_valid
    return vals, x, v, valid, halves, v0


@kernel(static_argnames=("spec",))
def scenario_losses(spec: ScenarioSpec, inputs: dict, index: jax.Array, n_valid: jax.Array,
                    book: dict):
    """Horizon losses of scenarios `index` for a book that nothing nests (the streamed
    risk run's kernel): what the tail and moments need, reduced on the device.

    Args:
        spec, inputs, index, n_valid: as `scenario_chunk` (one date: the horizon).
        book: q (positions,) quantities; v0_hi, v0_lo (positions,) today's values as a
            sum of two floats (the float64 value to ~1e-14); loo_thr (positions,) float32
            lower bounds of the leave-one-out losses kept so far, or no such key: a run
            without attribution, whose kernel computes no flags.

    Returns:
        dict with loss_hi, loss_lo (samples,): the book loss as an unevaluated float pair
        (its float64 sum is the exact sum of `pos`'s float32 entries to ~1e-14); pos
        (positions, samples) float32 position losses; ok (samples,) all finite; loo
        (positions, samples) True where the leave-one-out loss may reach loo_thr (only
        with loo_thr); x (samples, 1, assets) log spots and v variances at the horizon;
        valid.

    `pos` is returned even where the host reads only the book losses: as an output it is
    written once by the closed forms' fusion, while without it XLA fused the formulas into
    its consumers and the 100-option book's chunk took 30 against 18 ms.
    """
    def share(idx):
        vals, x, v, _, _ = jax.vmap(lambda k, i: _scenario(spec, inputs, k, i, halves=False))(
            index_keys(inputs["root"], idx), idx)
        # Positions by scenarios, scenarios innermost: the layout XLA gives the closed forms
        # (one vector loop per position), kept by everything after them. Per scenario
        # (positions innermost), the sums over positions and the flags took 3x the
        # formulas' time, most of it transposing and striding.
        vals = vals[:, 0].T
        col = (lambda a: a[:, None])
        pos = col(book["q"]) * ((col(book["v0_hi"]) - vals) + col(book["v0_lo"]))
        hi, lo = _two_sum_columns(pos)
        # A non-finite value makes its scenario's sum non-finite (inf - inf is NaN); so does
        # only an overflow of the sum itself. Read off the sum, the values have one consumer
        # and XLA writes the position losses from the closed forms' own loop.
        ok = jnp.isfinite(hi)
        out = dict(loss_hi=hi, loss_lo=lo, pos=pos, ok=ok, x=x, v=v)
        if "loo_thr" not in book:
            return out
        # Conservative: the float32 leave-one-out loss is within a few ulps of the exact one;
        # the host applies the exact threshold to the scenarios flagged here.
        approx = (hi - pos) + lo
        slack = 8 * jnp.finfo(pos.dtype).eps * (jnp.abs(hi) + jnp.abs(pos))
        return dict(out, loo=approx + slack >= col(book["loo_thr"]))

    axes = dict(loss_hi=0, loss_lo=0, pos=1, ok=0, x=0, v=0)
    if "loo_thr" in book:
        axes["loo"] = 1
    out = over_indices(share, index, spec.devices, out_axes=axes)
    out["valid"] = jnp.arange(index.shape[0], dtype=jnp.int32) < n_valid
    return out


def _two_sum_columns(x: jax.Array):
    """Column sums of x (rows, cols) as float pairs (hi, lo), hi + lo = the exact sum to a
    few ulps of float64: row after row, with Knuth's two-sum error of every addition
    carried. A scan over the rows reads x once, its carry (two columns) stays in cache:
    a pairwise tree over halves of the rows took 73 against 45 ms for the 100-option
    book's 65,536-scenario chunk (XLA fused each level's sums into every consumer), a
    variadic `lax.reduce` 60 ms, the scan unrolled by 4 65 ms."""
    def add(carry, row):
        hi, lo = carry
        s = hi + row
        bb = s - hi
        return (s, lo + ((hi - (s - bb)) + (row - bb))), None

    zero = jnp.zeros(x.shape[1:], x.dtype)
    return jax.lax.scan(add, (zero, zero), x)[0]


def today_plan(problem: Problem, prep: Prepared, horizon_plan: DatePlan, dates: list[float]):
    """Plan and state for each scenario's own nested estimate of today's values of the
    positions nested at the horizon (None when nothing is)."""
    if horizon_plan.nested is None:
        return None, None
    dp = plan_date(problem, prep, 0.0, problem.risk.inner_paths,
                   valuation_grid(problem, dates), only_nested=horizon_plan.nested_idx)
    p = prep.params
    state = REGISTRY[prep.spec.model].init(p)
    st0 = ScenarioState(x=state.x, v=state.v, obs=init_obs(prep.spec.book, prep.terms, state.x),
                        funding=jnp.zeros_like(state.x))
    return dp, st0


def inner_key(inner_root: jax.Array, index: jax.Array) -> jax.Array:
    """Key of scenario `index`'s nested paths: independent across scenarios, shared by the
    revaluation dates of one scenario (its exposure profile does not jump between dates)."""
    return jax.random.fold_in(inner_root, index)


def plans_for(problem: Problem, prep: Prepared, dates: list[float], inner_paths: int
              ) -> list[DatePlan]:
    val_grid = valuation_grid(problem, dates)
    return [plan_date(problem, prep, d, inner_paths, val_grid) for d in dates]


def save_mask(prep: Prepared, dates: list[float]) -> np.ndarray:
    times = prep.grid.times
    mask = np.zeros((len(times) - 1, len(dates)), bool)
    for j, d in enumerate(dates):
        mask[prep.grid.index_of(d) - 1, j] = True
    return mask
