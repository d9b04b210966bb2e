"""Results of the stress scenarios and the portfolio-margin grid (the `stress` and
`margin` sections of `risk` and `task=stress`), and the finiteness check they share."""

from __future__ import annotations

import numpy as np

from mcrisk.errors import NonFiniteError
from mcrisk.problem import MIN_VOL, Problem
from mcrisk.progress import Tracker
from mcrisk.riskengine import stress
from mcrisk.riskengine.results import Margin, MarginPoint, StressLoss

STRESS_PATHS = 20_000


def stress_and_margin(problem: Problem, prep, base, q, names, progress: Tracker
                      ) -> tuple[tuple[StressLoss, ...], Margin | None]:
    """The configured stress scenarios and (with `risk.margin`) the margin grid."""
    return (_stress(problem, prep, base, q, names, progress),
            _margin(problem, prep, base, q, progress) if problem.risk.margin is not None
            else None)


def _stress(problem: Problem, prep, base, q, names, progress: Tracker
            ) -> tuple[StressLoss, ...]:
    scenarios = problem.risk.stress
    # One revaluation call (one compilation) per distinct horizon, not per scenario.
    got: dict[int, tuple] = {}
    horizons = sorted({s.horizon for s in scenarios})
    if horizons:
        progress.start("stress", len(horizons), "scenarios")
    for k_h, h in enumerate(horizons):
        idx = [i for i, s in enumerate(scenarios) if s.horizon == h]
        r = stress.revalue_shocked(problem, prep, np.stack([scenarios[i].spot for i in idx]),
                                   np.stack([scenarios[i].vol for i in idx]), h,
                                   stress_paths(problem), books=q[None],
                                   moves=stress.scenario_moves(problem, [scenarios[i]
                                                                         for i in idx]))
        stress.check_surface_floor(r, idx, scenarios)
        losses = r.unit_losses(base)
        for k, i in enumerate(idx):
            got[i] = (r.values[k], losses[k], r.loss_stderr[k], r.book_loss_stderr[k, 0])
        progress.update(k_h + 1, len(got))
    for i, s in enumerate(scenarios):
        require_finite(got[i][0][None], names, lambda _, i=i, s=s: (
            f"stress[{i}]", f"stress scenario '{s.name}'"))
    out = []
    for i, s in enumerate(scenarios):
        vals, unit_loss, loss_se, book_se = got[i]
        pos = q * unit_loss
        out.append(StressLoss(s.name, s.spot, s.vol, s.horizon, float(pos.sum()),
                              float(book_se), np.asarray(pos, np.float64),
                              np.abs(q) * loss_se))
    return tuple(out)


def stress_paths(problem: Problem) -> int:
    """Paths of the Monte Carlo revaluations of stress and margin points."""
    # At least two antithetic pairs: a standard error needs two samples.
    return problem.risk.stress_paths or max(4, min(problem.sim.n_paths - problem.sim.n_paths % 2,
                                                   STRESS_PATHS))


def margin_notes(margin: Margin | None) -> list[str]:
    return list(margin.notes) if margin is not None else []


def _margin(problem: Problem, prep, base, q, progress: Tracker) -> Margin:
    grid = problem.risk.margin
    m = problem.market
    progress.start("margin", 1, "points")
    venues = [p.venue or "default" for p in problem.positions]
    venue_names = sorted(set(venues))
    sel = np.array([[x == v for x in venues] for v in venue_names])
    r, pts = stress.margin_grid(problem, prep, base, stress_paths(problem),
                                books=np.vstack([q[None], q * sel]))
    progress.update(1, len(pts.weight))
    vals = r.values
    names = [p.name for p in problem.positions]
    require_finite(vals, names, lambda i: (
        f"margin.points[{i}]", "margin grid point " + pts.label(i, m.assets)))
    pos_loss = q * r.unit_losses(base)  # (points, positions)
    book_loss = pos_loss.sum(axis=1) + 0.0  # never -0.0
    req, worst = stress.margin_requirement(book_loss, pts, grid.mode)
    req_se = stress.requirement_stderr(book_loss, r.book_loss_stderr[:, 0], pts, grid.mode)
    per_venue, per_venue_se = {}, {}
    for b, v in enumerate(venue_names):
        loss_v = pos_loss[:, sel[b]].sum(axis=1)
        per_venue[v], _ = stress.margin_requirement(loss_v, pts, grid.mode)
        per_venue_se[v] = stress.requirement_stderr(loss_v, r.book_loss_stderr[:, 1 + b],
                                                    pts, grid.mode)
    points = tuple(MarginPoint(None if a < 0 else m.assets[a], float(mv), float(dv), float(w),
                               float(l), float(e))
                   for a, mv, dv, w, l, e in zip(pts.asset, pts.move, pts.shift, pts.weight,
                                                 book_loss, r.book_loss_stderr[:, 0]))
    floored = stress.floored_points(problem, pts.vol)
    notes = []
    any_floored = floored.any(axis=1) | stress.surface_floor_notes(r, notes)
    for a in np.flatnonzero(floored.any(axis=0)):
        idx = np.flatnonzero(floored[:, a]).tolist()
        notes.append(f"margin: the vol shift leaves {m.assets[a]}'s vol "
                     f"({problem.model.base_vols(m)[a]:g}) below {MIN_VOL:g} at grid points "
                     f"{idx}; those points are revalued at vol {MIN_VOL:g}")
    return Margin(req, req_se, stress_paths(problem) if r.nested.any() else None, int(worst),
                  points,
                  tuple(np.flatnonzero(any_floored).tolist()), tuple(notes), per_venue,
                  per_venue_se, grid)


def require_finite(values: np.ndarray, names: list[str], where) -> None:
    """Raise NonFiniteError at the first NaN/inf in `values` (points, positions).

    `where(i)` returns (path, description) of point i: the error names the point, the
    position and how that position was revalued.
    """
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        i, j = (int(x) for x in bad[0])
        path, what = where(i)
        raise NonFiniteError(f"{path}.{names[j]}", float(values[i, j]),
                             f"position '{names[j]}' in {what}")
