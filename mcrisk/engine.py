"""Chunk driver: one jitted kernel per problem shape, reused for every chunk and call.

A chunk is a fixed number of samples (paths, or antithetic pairs). Its keys come from the
global sample index, the last chunk is padded and masked, and each chunk returns only
moments, merged on the host in float64. A chunk's samples are split over the local devices
(`mcrisk.sharding`), each returning its own moments. So results depend on the seed and
n_paths only; the chunk size and device count change sums by rounding alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk import stats
from mcrisk.config.positions import event_times, path_expiries
from mcrisk.grid import TimeGrid, make_grid
from mcrisk.instruments.book import BookPlan, plan_book
from mcrisk.kernel import kernel
from mcrisk.models.base import Params
from mcrisk.problem import Problem, min_steps_of
from mcrisk.progress import Tracker
from mcrisk.sharding import chunk_samples, local_device_count, sharded_moments
from mcrisk.simulate import (KernelSpec, chunk_greeks, chunk_payoffs, make_layout, make_params,
                             row_assets, scan_inputs)


@dataclass(frozen=True)
class Prepared:
    """A problem turned into kernel inputs."""

    problem: Problem
    grid: TimeGrid
    plan: BookPlan
    spec: KernelSpec
    params: Params
    terms: dict
    xs: dict
    quantities: jax.Array  # (positions,) in family order
    n_samples: int
    devices: int  # each chunk is split over this many local devices


def use_dtype(dtype: str) -> None:
    """Enable x64 for a float64 run. Process-wide, so only the edges call it: the command
    line (through `hardware.configure`) and the public `price`/`risk`/`stress` functions,
    before anything is traced; `results.json` records the setting (`provenance.x64`)."""
    if dtype == "float64" and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)


def require_dtype(dtype: str) -> None:
    """Refuse float64 kernels without x64, which would silently compute in float32."""
    if dtype == "float64" and not jax.config.jax_enable_x64:
        raise RuntimeError("sim.dtype float64 needs JAX's x64 mode: call "
                           "mcrisk.engine.use_dtype('float64') (the public mcrisk.price, "
                           "risk and stress do) or set jax_enable_x64 before tracing")


def prepare(problem: Problem, *, greeks: bool = False, horizon: float | None = None,
            extra_dates: list[float] | tuple[float, ...] = (),
            until: float | None = None, grid: TimeGrid | None = None,
            step_offset: int = 0, devices: int | None = None) -> Prepared:
    """Grid, book plan, parameters and kernel spec of a problem (host side, no tracing).

    `greeks` builds the Greeks kernel's spec (under gbm, terminal payoffs are conditioned
    on the last step). `horizon` and `extra_dates` add grid dates that no payoff observes
    (risk dates); `until` ends the grid there, dropping later events (scenario paths to a horizon).
    `grid` imposes the nodes and `step_offset` shifts the step index the draws are keyed by:
    nested paths from a later date reuse the draws of the same calendar intervals.
    `devices` (default: every local device) split each chunk, whose size is rounded up to
    a multiple of it.
    """
    sim = problem.sim
    require_dtype(sim.dtype)
    dates = [t for p in problem.positions for t in event_times(p)]
    if until is not None:
        dates = [t for t in dates if t <= until * (1 + 1e-12)]
    dates += list(extra_dates)
    if not dates and horizon is None:
        dates = [1.0 / 365.0]  # a book of spot/perps only: one nominal step, nothing observed
    if grid is None:
        grid = make_grid(dates, sim.n_steps, horizon=horizon, steps_per_year=sim.steps_per_year,
                         min_steps=min_steps_of(sim, problem.model.name), path_expiries=path_expiries(problem.positions))
    plan = plan_book(problem, grid, problem.greeks.smoothing)
    per_sample = 2 if sim.antithetic else 1
    n_samples = sim.n_paths // per_sample
    devices = local_device_count() if devices is None else devices
    samples = chunk_samples(max(1, min(sim.chunk_size // per_sample, n_samples)), devices)
    spec = KernelSpec(model=problem.model.name, book=plan.shape,
                      layout=make_layout(problem, plan.shape), antithetic=sim.antithetic,
                      samples=samples, dtype=sim.dtype, greeks=greeks,
                      row_assets=row_assets(problem, plan.order) if greeks else ())
    dtype = sim.dtype

    def cast(a: np.ndarray):
        if a.dtype == np.float64:
            return jnp.asarray(a, dtype)
        return jnp.asarray(a)

    terms = jax.tree_util.tree_map(cast, plan.terms)
    q = np.array([problem.positions[i].quantity for i in plan.order])
    return Prepared(problem=problem, grid=grid, plan=plan, spec=spec,
                    params=make_params(problem, dtype), terms=terms,
                    xs=scan_inputs(grid, plan, dtype, step_offset),
                    quantities=jnp.asarray(q, dtype),
                    n_samples=n_samples, devices=devices)


@kernel(static_argnames=("spec", "devices"))
def price_chunk(spec: KernelSpec, params: Params, terms: dict, xs: dict, q: jax.Array,
                root: jax.Array, start: jax.Array, n_valid: jax.Array, devices: int = 1):
    """Moments of (per-position payoffs, book payoff) over one chunk of samples, one row
    per device (see `sharding.sharded_moments`)."""
    def values(keys):
        vals = chunk_payoffs(spec, params, terms, xs, keys)
        return jnp.concatenate([vals, jnp.sum(vals * q, axis=-1, keepdims=True)], axis=-1)

    return sharded_moments(values, root, start, n_valid, spec.samples, devices)


def spot_pairs(n: int, cross: bool) -> tuple[np.ndarray, np.ndarray]:
    """Spot direction pairs of the second derivatives: (i, i) for every asset, then (i, j) for
    i < j when `cross` (row order of the cross gammas in `greeks_chunk`)."""
    i, j = np.arange(n), np.arange(n)
    if cross:
        a, b = np.triu_indices(n, 1)
        i, j = np.concatenate([i, a]), np.concatenate([j, b])
    return i, j


@kernel(static_argnames=("spec", "cross", "devices"))
def greeks_chunk(spec: KernelSpec, params: Params, terms: dict, xs: dict, q: jax.Array,
                 root: jax.Array, start: jax.Array, n_valid: jax.Array, cross: bool = False,
                 devices: int = 1):
    """Moments of pathwise Greeks over one chunk (payoff treatment: `instruments.smooth`),
    one row per device (see `sharding.sharded_moments`).

    Rows: delta per asset, gamma per asset (own second derivative), vega per asset, rho,
    then with `cross` d2V/dS_i dS_j for each pair i < j (order of `spot_pairs`). Columns:
    positions (family order) then the book. Forward mode, nothing stored per time step:
    the scan carries four tangent streams whatever the number of assets or positions
    (all spots at once to second order, all vols, the rate), split per asset at the payoff
    (`simulate.path_greeks`).
    """
    gate = n_valid > 0  # a predicate XLA cannot fold (see `simulate.path_greeks`)

    def rows(keys):
        return tuple(jnp.concatenate([g, jnp.sum(g * q, axis=-1, keepdims=True)], axis=-1)
                     for g in chunk_greeks(spec, params, terms, xs, keys, cross, gate)
                     if g.shape[1])

    return sharded_moments(rows, root, start, n_valid, spec.samples, devices)


def run_chunks(prep: Prepared, kernel: Callable, params: Params | None = None,
               progress: Tracker | None = None, label: str = "pricing") -> stats.Moments:
    """Drive `kernel` over all chunks; merge moments on the host in chunk order, and
    within a chunk in device order.

    `progress` (see `mcrisk.progress`) hears of each chunk as the phase `label`.
    """
    root = jax.random.key(prep.problem.sim.seed)
    acc = None
    per = prep.spec.samples
    n_chunks = -(-prep.n_samples // per)
    if progress is not None:
        progress.start(label, n_chunks, "paths")
    for c in range(n_chunks):
        start = c * per
        n_valid = min(per, prep.n_samples - start)
        out = kernel(prep.spec, params if params is not None else prep.params, prep.terms,
                     prep.xs, prep.quantities, root, jnp.asarray(start, jnp.uint32),
                     jnp.asarray(n_valid, jnp.int32), devices=prep.devices)
        n, mean, m2 = jax.device_get(out)
        for d in range(prep.devices):
            acc = stats.update(acc if acc is not None else stats.init(mean.shape[1:]),
                               n[d], mean[d], m2[d])
        if progress is not None:
            progress.update(c + 1, min((c + 1) * per, prep.n_samples)
                            * (2 if prep.spec.antithetic else 1))
    return acc
