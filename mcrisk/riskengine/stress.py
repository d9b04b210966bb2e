"""Deterministic stress scenarios and the portfolio-margin grid, revalued in full.

A stress moves spots by relative shocks and vols by absolute shifts, instantly (then rolls
forward `horizon` years with the spot held at its shocked level: fixings in between fix at
it, options expiring in between pay their intrinsic value at it). Every position is
revalued as at a risk date: closed forms where they exist, otherwise Monte Carlo with
`risk.stress_paths` paths whose keys are the same at every grid point (common random
numbers, so grid losses are smooth in the shocks and the unshocked point revalues to the
base). The Monte Carlo values come with their standard errors, and losses with the
standard error of the difference to today's value estimated on the same inner paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.engine import Prepared
from mcrisk.errors import ConfigError, finite_max
from mcrisk.instruments import BY_NAME
from mcrisk.instruments.book import BookShape, Obs, init_obs, payoffs
from mcrisk.models import REGISTRY
from mcrisk.problem import MIN_VOL, MarginGrid, Problem
from mcrisk.random import STREAM_BOOTSTRAP
from mcrisk.riskengine import surfvol
from mcrisk.riskengine.dateval import DateSpec, date_inputs, value_samples
from mcrisk.riskengine.revalue import ScenarioState, plan_date, shocked_vols, valuation_grid

STREAM_STRESS = STREAM_BOOTSTRAP + 10


class Revalued(NamedTuple):
    """Unit values at shocked points and their Monte Carlo errors (NumPy, float64).

    `nested` marks the positions revalued by Monte Carlo at the points; their loss is taken
    against `ref`, today's value on the same inner paths (for the others `ref` is zero and
    the caller's exact value of today applies). Closed forms have zero errors.
    """

    values: np.ndarray  # (points, positions)
    stderr: np.ndarray  # (points, positions)
    nested: np.ndarray  # (positions,) bool
    ref: np.ndarray  # (positions,)
    nested_loss: np.ndarray  # (points, positions): ref - value, as the mean of path differences
    loss_stderr: np.ndarray  # (points, positions): of ref - value
    book_loss_stderr: np.ndarray  # (points, books): of books @ (ref - value)
    # (points,) bool: some surface-marked contract's shifted vol fell below MIN_VOL there
    # (revalued at it); None without a surface.
    surface_floored: np.ndarray | None = None

    def unit_losses(self, base: np.ndarray) -> np.ndarray:
        """(points, positions) loss per unit: against `base` (today's exact values) for the
        closed forms, against today's value on the same inner paths for the nested ones."""
        return np.where(self.nested, self.nested_loss, base - self.values)


class StressSpec(NamedTuple):
    """Everything static about a stress kernel: one compilation per spec and shapes.

    Attributes:
        model: model name (today's state of the inner paths).
        book: the outer book's shape (the running statistics at the shocked points).
        date: structure of the revaluation at the horizon.
        today: structure of today's revaluation of the nested positions (None when nothing
            is nested).
    """

    model: str
    book: BookShape
    date: DateSpec
    today: DateSpec | None


def revalue_shocked(problem: Problem, prep: Prepared, spot_shocks: np.ndarray,
                    vol_shocks: np.ndarray, horizon: float, paths: int,
                    books: np.ndarray | None = None,
                    moves: np.ndarray | None = None) -> Revalued:
    """Revalue every position at each shock pair.

    spot_shocks, vol_shocks: (points, assets) relative spot moves and absolute vol shifts;
    shifted vols below `MIN_VOL` are revalued at it by every method (`floored_points` says
    which). books: (books, positions) quantities of the sub-books whose loss errors are
    wanted (default: none). moves: (points, assets, `surfvol.N_MOVES`) surface moves of the
    contracts marked on `market.surface` (default: the parallel `vol_shocks` alone); unused
    without a surface.
    """
    m = problem.market
    grid = valuation_grid(problem, [horizon])
    dp = plan_date(problem, prep, horizon, paths, grid)
    dtype = prep.spec.dtype
    shape = prep.plan.shape
    n_pos = len(problem.positions)
    books = np.zeros((0, n_pos)) if books is None else np.asarray(books, np.float64)
    inv = np.empty(n_pos, np.int64)
    inv[prep.plan.order] = np.arange(n_pos)
    aux = {n: BY_NAME[n].shock_aux([problem.positions[i]
                                    for i in prep.plan.order[shape.rows(n)]], horizon)
           for n in shape.present}
    nested_idx = (dp.nested_idx[dp.nested.plan.order] if dp.nested is not None
                  else np.zeros(0, np.int64))
    # Today's value of the same positions on the same inner paths (common random numbers
    # by calendar interval on one grid), for losses and their errors.
    dp0 = (plan_date(problem, prep, 0.0, paths, grid, only_nested=dp.nested_idx)
           if dp.nested is not None else None)
    date_spec, date_in = date_inputs(dp, dtype)
    today_spec, today_in = date_inputs(dp0, dtype) if dp0 is not None else (None, None)
    spec = StressSpec(model=prep.spec.model, book=shape, date=date_spec, today=today_spec)
    inputs = dict(p=prep.params, terms=prep.terms, inv=jnp.asarray(inv),
                  base_vol=jnp.asarray(problem.model.base_vols(m), dtype),
                  aux=jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), aux),
                  horizon=jnp.asarray(horizon, dtype),
                  key=jax.random.fold_in(jax.random.key(problem.sim.seed), STREAM_STRESS),
                  nested_idx=jnp.asarray(nested_idx), date=date_in, today=today_in)
    if problem.surface is None:
        moves = None
    elif moves is None:
        moves = surfvol.point_moves(vol_shocks)
    out = stress_kernel(spec, inputs, jnp.asarray(spot_shocks, dtype),
                        jnp.asarray(vol_shocks, dtype), jnp.asarray(books, dtype),
                        None if moves is None else jnp.asarray(moves, dtype))
    values, stderr, ref, loss, loss_se, book_se = (np.array(a, np.float64)
                                                   for a in jax.device_get(out))
    exact, linear = linear_values(problem, np.asarray(spot_shocks, np.float64), horizon)
    values[:, linear] = exact[:, linear]
    floored = None
    if moves is not None:
        floored = np.zeros(len(values), bool)
        for g in date_in["groups"].values():
            if surfvol.marked(g):
                floored |= np.asarray(surfvol.floored_points(
                    g, prep.params, jnp.asarray(spot_shocks, dtype), jnp.asarray(moves, dtype)))
    return Revalued(values=values, stderr=stderr, nested=np.isin(np.arange(n_pos), nested_idx),
                    ref=ref, nested_loss=loss, loss_stderr=loss_se,
                    book_loss_stderr=book_se, surface_floored=floored)


@partial(jax.jit, static_argnames=("spec",))
def stress_kernel(spec: StressSpec, inputs: dict, spot_shocks: jax.Array,
                  vol_shocks: jax.Array, qb: jax.Array, moves: jax.Array | None = None):
    """Values, errors, today's reference and losses at each shock pair (see `Revalued`);
    `moves`: each point's surface moves (None without a surface)."""
    a = inputs
    p, terms, shape = a["p"], a["terms"], spec.book
    dtype = p.spots.dtype
    n_pos = a["inv"].shape[0]
    nested_idx = a["nested_idx"]

    def one(spot_shock, vol_shock, mv):
        s = p.spots * (1.0 + spot_shock)
        x = jnp.log(s)
        vols, _ = shocked_vols(a["base_vol"], vol_shock)
        v = vols ** 2
        obs = Obs(snap=jnp.broadcast_to(s, (shape.n_snap, shape.n_assets)),
                  stats={n: BY_NAME[n].at_shock(terms[n], a["aux"][n], s, x, p.spots)
                         for n in shape.present})
        realized = payoffs(obs, terms, p.spots, p.rate)[a["inv"]]
        st = ScenarioState(x=x, v=v, obs=obs, funding=s * a["horizon"], moves=mv)
        return value_samples(spec.date, a["date"], st, p, vols, realized, a["key"])

    def today_samples():
        state = REGISTRY[spec.model].init(p)
        st0 = ScenarioState(x=state.x, v=state.v, obs=init_obs(shape, terms, state.x),
                            funding=jnp.zeros_like(state.x))
        return value_samples(spec.today, a["today"], st0, p, a["base_vol"],
                             jnp.zeros((n_pos,), dtype), a["key"])[1]

    exact, samples = jax.vmap(one)(spot_shocks, vol_shocks, moves)
    zeros = jnp.zeros_like(exact)
    if samples is None:
        return exact, zeros, jnp.zeros((n_pos,), dtype), zeros, zeros, jnp.zeros(
            (exact.shape[0], qb.shape[0]), dtype)
    k = samples.shape[1]
    s0 = today_samples()
    diff = s0[None] - samples  # (points, pairs, nested): unit losses pair by pair

    def se(x):
        return jnp.std(x, axis=1, ddof=1) / jnp.sqrt(k)

    values = exact.at[:, nested_idx].set(jnp.mean(samples, axis=1))
    stderr = zeros.at[:, nested_idx].set(se(samples))
    ref = jnp.zeros((n_pos,), dtype).at[nested_idx].set(jnp.mean(s0, axis=0))
    # The mean of the differences, not the difference of the means (two reductions that
    # round differently): a point whose paths match today's loses exactly nothing.
    loss = zeros.at[:, nested_idx].set(jnp.mean(diff, axis=1))
    loss_se = zeros.at[:, nested_idx].set(se(diff))
    book_se = se(jnp.einsum("pkn,bn->pkb", diff, qb[:, nested_idx]))
    return values, stderr, ref, loss, loss_se, book_se


def linear_values(problem: Problem, spot_shocks: np.ndarray,
                  horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact values of the linear positions at shocked spots, in float64 on the host.

    In the kernel a spot goes through exp(log(s)) in the simulation dtype: in float32,
    15,000 ETH at 3,000 came out 7.32 above 45,000,000, and a stablecoin depeg loss 0.29
    off. Linear positions need no simulation, so they are priced here exactly.

    Args:
        problem: the book.
        spot_shocks: (points, assets) relative spot moves.
        horizon: years rolled forward (perpetual funding accrues over it at the shocked spot).

    Returns:
        (values, mask): (points, positions) unit values, and the (positions,) bool mask of
        the spot, perpetual and unexpired forward positions they hold.
    """
    m = problem.market
    s = m.spots * (1.0 + spot_shocks)
    values = np.zeros((len(s), len(problem.positions)))
    mask = np.zeros(len(problem.positions), bool)
    for i, p in enumerate(problem.positions):
        a = p.assets[0]
        if p.type == "spot":
            values[:, i] = s[:, a]
        elif p.type == "perpetual":
            values[:, i] = (s[:, a] - p.terms["entry_price"]
                            - p.terms["funding_rate"] * s[:, a] * horizon)
        elif p.type == "forward" and p.terms["expiry"] > horizon * (1 + 1e-12):
            tau = p.terms["expiry"] - horizon
            values[:, i] = (s[:, a] * np.exp(-m.dividends[a] * tau)
                            - p.terms["strike"] * np.exp(-m.rate * tau))
        else:
            continue
        mask[i] = True
    return values, mask


def scenario_moves(problem: Problem, scenarios) -> np.ndarray | None:
    """(points, assets, N_MOVES) surface moves of stress scenarios (None without a surface)."""
    if problem.surface is None:
        return None
    return np.stack([surfvol.point_moves(s.vol, s.skew, s.term) for s in scenarios])


def margin_moves(problem: Problem, vol_shocks: np.ndarray) -> np.ndarray | None:
    """(points, assets, N_MOVES) surface moves of the margin grid's points: each vol move
    scaled by expiry with the grid's `vol_expiry_power` (None without a surface)."""
    if problem.surface is None:
        return None
    return surfvol.point_moves(vol_shocks, power=problem.risk.margin.vol_expiry_power)


def check_surface_floor(r: Revalued, idx: list[int], scenarios) -> None:
    """Raise ConfigError naming the first stress scenario (of `idx`, the points of `r`)
    whose surface moves take a surface-marked contract's vol below `MIN_VOL`: like a flat
    vol shift, a stress must stay above the floor."""
    if r.surface_floored is not None and r.surface_floored.any():
        i = idx[int(np.argmax(r.surface_floored))]
        raise ConfigError(f"risk.stress[{i}]", scenarios[i].name, "surface moves leaving "
                          f"every surface-marked contract's vol >= {MIN_VOL:g}")


def surface_floor_notes(r: Revalued, notes: list[str]) -> np.ndarray:
    """(points,) bool: margin points where a surface-marked contract's vol was floored at
    `MIN_VOL`, with a line added to `notes` when there are any."""
    if r.surface_floored is None:
        return np.zeros(len(r.values), bool)
    if r.surface_floored.any():
        notes.append(f"margin: the vol moves leave some surface-marked contract's vol below "
                     f"{MIN_VOL:g} at grid points {np.flatnonzero(r.surface_floored).tolist()}"
                     f"; revalued at vol {MIN_VOL:g} there")
    return r.surface_floored


def floored_points(problem: Problem, vol_shocks: np.ndarray) -> np.ndarray:
    """(points, assets) bool: where `revalue_shocked` floors the shifted vol at MIN_VOL."""
    return shocked_vols(problem.model.base_vols(problem.market), vol_shocks)[1]


class GridPoints(NamedTuple):
    """A margin grid's scan points, one row each.

    Attributes:
      spot: ``(points, assets)`` relative spot shocks.
      vol: ``(points, assets)`` vol shifts (absolute, 0.1 = 10 vol points).
      weight: ``(points,)`` loss weights (extreme points are weighted down).
      asset: ``(points,)`` int, the asset a per-asset scan moves; -1 where every asset moves
        (joint mode).
      move: ``(points,)`` the point's spot move (the shock of each asset it moves).
      shift: ``(points,)`` its vol shift.
    """

    spot: np.ndarray
    vol: np.ndarray
    weight: np.ndarray
    asset: np.ndarray
    move: np.ndarray
    shift: np.ndarray

    def label(self, i: int, assets: Sequence[str] | None = None) -> str:
        """Point `i` in words, for messages."""
        a = int(self.asset[i])
        who = ("every asset" if a < 0 else
               (assets[a] if assets is not None else f"asset {a}"))
        return f"(spot {self.move[i]:+.4g}, vol {self.shift[i] * 100:+.4g} pts on {who})"

    def scans(self) -> list[np.ndarray]:
        """Indices of each scan's points: one scan in joint mode, one per asset otherwise."""
        return [np.flatnonzero(self.asset == a) for a in np.unique(self.asset)]


def margin_points(grid: MarginGrid, n_assets: int) -> GridPoints:
    """The scan points of `grid` on a market of `n_assets` assets."""
    half = (grid.spot_steps - 1) // 2
    moves = grid.spot_range * np.arange(-half, half + 1) / half
    vols = [-grid.vol_shift, 0.0, grid.vol_shift] if grid.vol_shift > 0 else [0.0]
    extremes = grid.extreme_multiple * grid.spot_range * np.array([-1.0, 1.0])
    scans = list(range(n_assets)) if grid.mode == "per_asset" else [-1]
    rows = []  # (asset, move, shift, weight)
    for a in scans:
        rows += [(a, mv, dv, 1.0) for mv in moves for dv in vols]
        if grid.extreme_multiple > 0 and grid.extreme_weight > 0:
            rows += [(a, mv, 0.0, grid.extreme_weight) for mv in extremes]
    asset, move, shift, weight = (np.array(c) for c in zip(*rows))
    asset = asset.astype(np.int64)
    mask = np.where(asset[:, None] < 0, 1.0,
                    (asset[:, None] == np.arange(n_assets)).astype(np.float64))
    return GridPoints(move[:, None] * mask, shift[:, None] * mask, weight.astype(np.float64),
                      asset, move.astype(np.float64), shift.astype(np.float64))


def margin_grid(problem: Problem, prep: Prepared, base: np.ndarray, paths: int,
                books: np.ndarray | None = None) -> tuple[Revalued, GridPoints]:
    """Revalue every position at the points of `problem.risk.margin`'s grid.

    Args:
        problem: the book, with a margin grid.
        prep: its prepared engine inputs.
        base: (positions,) today's unit values (the losses of closed forms are taken
            against them; see `Revalued.unit_losses`).
        paths: inner paths of Monte Carlo revaluations.
        books: (books, positions) sub-books whose loss errors are wanted.

    Returns:
        The revaluation (``r.unit_losses(base)``: (points, positions) loss per unit) and
        the grid's points.
    """
    pts = margin_points(problem.risk.margin, problem.market.n_assets)
    spot, vol = pts.spot, pts.vol
    r = revalue_shocked(problem, prep, spot, vol, 0.0, paths, books=books,
                        moves=margin_moves(problem, vol))
    # An unshocked point is today's book. Revalued in the grid's own call, its float32
    # closed forms round differently from today's (another batch size, another position in
    # the vectorised loop): the (0%, 0 pts) point lost 0.02 instead of 0.
    unshocked = ((spot == 0) & (vol == 0)).all(axis=1)
    return r._replace(values=np.where(unshocked[:, None], base, r.values)), pts


def margin_requirement(losses: np.ndarray, points: GridPoints,
                       mode: str) -> tuple[float, int]:
    """Requirement and the index of the worst point, for one sub-book's point losses."""
    w = losses * points.weight
    # A NaN loss must raise, never read as "no loss" through max(0, nan) == 0.
    worst = finite_max(w, "margin.points", [f"weighted loss of grid point {points.label(i)}"
                                            for i in range(len(w))])
    if mode == "joint":
        return max(0.0, float(w[worst])), worst
    total, worst, worst_val = 0.0, 0, -np.inf
    for idx in points.scans():
        j = idx[int(np.argmax(w[idx]))]
        total += max(0.0, float(w[j]))
        if w[j] > worst_val:
            worst, worst_val = int(j), w[j]
    return total, worst


def requirement_stderr(losses: np.ndarray, stderr: np.ndarray, points: GridPoints,
                       mode: str) -> float:
    """Monte Carlo standard error of `margin_requirement`: that of the weighted loss of the
    point(s) it takes (per_asset: their sum, a bound, as the points share inner paths)."""
    weights = points.weight
    w = losses * weights
    if mode == "joint":
        j = int(np.argmax(w))
        return float(weights[j] * stderr[j]) if w[j] > 0 else 0.0
    total = 0.0
    for idx in points.scans():
        j = idx[int(np.argmax(w[idx]))]
        total += float(weights[j] * stderr[j]) if w[j] > 0 else 0.0
    return total
