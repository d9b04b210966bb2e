"""`risk(cfg)`: horizon loss distribution by full revaluation, tail metrics with intervals,
attribution, exposure profile, stress scenarios and the portfolio-margin grid."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import jax
import numpy as np

from mcrisk import units
from mcrisk.config import build
from mcrisk.engine import prepare, use_dtype
from mcrisk.errors import NonFiniteError, check_finite
from mcrisk.problem import MIN_VOL, Problem
from mcrisk.progress import Tracker, resolve
from mcrisk.riskengine import attribution, stress
from mcrisk.riskengine.deltagamma import delta_gamma_losses
from mcrisk.riskengine.exposure import Profile
from mcrisk.riskengine.jackknife import jackknife, nested_correction
from mcrisk.riskengine.metrics import Tail
from mcrisk.riskengine.revalue import closed_kind, shocked_vols
from mcrisk.riskengine.scenarios import make_kernel, plans_for, prepare_outer, save_mask
from mcrisk.riskengine.stream import stream_losses
from mcrisk.sharding import chunk_samples

STRESS_PATHS = 20_000


def risk(cfg: Any, *, progress: Any = None,
         sink: Callable[..., None] | None = None) -> dict:
    """Risk of a book over `risk.horizon`.

    Args:
        cfg: dict, DictConfig or Problem with a `risk` section.
        progress: True to show each phase (pricing, Greeks, today's values, scenarios,
            stress, margin) with its ETA on stderr, a function ``(chunks_done, n_chunks,
            seconds, items_done)`` or a `mcrisk.progress.Tracker`; default: the config's
            ``progress`` key, else nothing is shown.
        sink: optional callback ``(scenario_index, position_losses, spots)`` per chunk, with
            arrays of shape (chunk,), (chunk, positions) and (chunk, dates, assets): how
            scenarios reach a file (Parquet) without ever being held in memory together.

    Returns:
        JSON-serialisable dict with ``var``, ``es`` (keyed by level as a string, e.g.
        "0.99"), ``var_ci``, ``es_ci`` (None at a level whose tail holds fewer than
        `metrics.MIN_TAIL` scenarios, with a line in ``notes``), ``stats``, ``histogram``,
        ``contributions``, ``stress``, ``margin``, ``profile`` (when ``risk.dates`` is
        given), ``today`` (value per position), ``delta_gamma`` (with
        ``risk.method: delta_gamma``).
    """
    from mcrisk.pricing import simulate_prices

    problem = build(cfg)
    use_dtype(problem.sim.dtype)
    progress = resolve(progress, cfg) or Tracker()
    rk = problem.risk
    names = [p.name for p in problem.positions]
    q = np.array([p.quantity for p in problem.positions])
    m = problem.market

    want_greeks = rk.method == "delta_gamma"
    base_prep = prepare(problem)
    n_a = m.n_assets
    zero = np.zeros((1, n_a))
    progress.start("today's values", 1, "points")
    base = stress.revalue_shocked(problem, base_prep, zero, zero, 0.0,
                                  stress_paths(problem)).values[0]
    progress.update(1, 1)
    require_finite(base[None], names, lambda i: ("today", "today's revaluation"))
    closed = np.array([closed_kind(p, problem.model.name) is not None for p in problem.positions])
    # Today's value: the closed form, else the pricing engine's estimate. Losses of the
    # positions nested at the horizon use each scenario's own nested estimate instead
    # (see scenarios.py), so no estimation error is shared by every loss.
    v0, v0_se = base.copy(), np.zeros(len(names))
    greeks = None
    if want_greeks:  # delta-gamma needs every position's Greeks: the whole book
        priced = simulate_prices(replace(problem, greeks=replace(problem.greeks, enabled=True)),
                                 progress=progress)
        greeks = q * priced.greeks[:, :len(names)]
        mc = ~closed
        v0[mc], v0_se[mc] = priced.unit[mc], priced.unit_stderr[mc]
    elif not closed.all():  # only what no closed form values
        mc = np.flatnonzero(~closed)
        sub = replace(problem, positions=tuple(problem.positions[i] for i in mc),
                      greeks=replace(problem.greeks, enabled=False))
        priced = simulate_prices(sub, progress=progress)
        v0[mc], v0_se[mc] = priced.unit, priced.unit_stderr

    dates = sorted(set(rk.dates) | {rk.horizon})
    h_idx = dates.index(rk.horizon)
    prep = prepare_outer(problem, dates)
    plans = plans_for(problem, prep, dates, rk.inner_paths)
    nested_h = len(plans[h_idx].nested_idx) > 0
    shock = rk.vol_shock if rk.vol_dynamics == "shock" else np.zeros(n_a)
    # gbm/merton: shifted market vols (config checks keep them >= MIN_VOL). heston/bates:
    # each scenario's own vol sqrt(v) is shifted, floored where it would fall below MIN_VOL.
    vols = shocked_vols(m.vols, shock)[0]
    var_shift = shock if problem.model.has_variance and rk.vol_dynamics == "shock" else None
    n_floored = np.zeros(len(dates), np.int64)
    nested = any(dp.nested is not None for dp in plans)
    n = problem.sim.n_paths
    samples = (max(1, problem.sim.chunk_size // rk.inner_paths) if nested
               else problem.sim.chunk_size)
    samples = chunk_samples(min(samples, n), prep.devices)
    kernel = make_kernel(problem, prep, plans, save_mask(prep, dates), vols, samples, h_idx,
                         dates, var_shift)
    own = np.isin(np.arange(len(names)), plans[h_idx].nested_idx)

    # Nothing nested, no profile, no delta-gamma, no sink: losses reduced on the device and
    # a tail of (loss, index) filled in by a second pass (stream.py).
    fast = not nested and not rk.dates and not want_greeks and sink is None
    tail = Tail(n, len(names), rk.levels, rk.ci_level, rk.histogram_bins, rows=not fast)
    # Losses with the nested positions revalued from each half of the inner paths.
    half_tails = ([Tail(n, len(names), rk.levels, rk.ci_level, rk.histogram_bins)
                   for _ in range(2)] if nested_h else [])
    dg_tail = (Tail(n, len(names), rk.levels, rk.ci_level, rk.histogram_bins)
               if want_greeks else None)
    profile_dates = [dates.index(d) for d in rk.dates]
    profile = (Profile(n, rk.dates, float(q @ v0), rk.pfe_level, rk.collateral,
                       rk.maintenance_margin) if rk.dates else None)
    # The profile's exposures (convex in the value) and quantiles carry the inner-noise bias
    # too: the same half-sample jackknife removes it.
    half_profiles = ([Profile(n, rk.dates, float(q @ v0), rk.pfe_level, rk.collateral,
                              rk.maintenance_margin) for _ in range(2)]
                     if rk.dates and any(plans[j].nested is not None for j in profile_dates)
                     else [])
    n_chunks = -(-n // samples)
    progress.start("scenarios", n_chunks, "scenarios")
    if fast:
        n_floored += stream_losses(kernel, tail, q, v0, n, samples, lambda start, pos, xs: (
            require_finite(pos, names, _at_scenario(start, 0, dates, xs, m.assets))),
            progress, var_shift)
    for c in range(0 if fast else n_chunks):
        start = c * samples
        n_valid = min(samples, n - start)
        vals, xs, v_all, _, halves, today = jax.device_get(
            kernel(np.uint32(start), np.int32(n_valid)))
        v_h = v_all[:, h_idx]
        if var_shift is not None:
            floored = shocked_vols(np.sqrt(np.maximum(v_all[:n_valid], 0.0)), var_shift)[1]
            n_floored += floored.any(axis=-1).sum(axis=0)
            v_h = shocked_vols(np.sqrt(np.maximum(v_h, 0.0)), var_shift)[0] ** 2
        vals = np.asarray(vals[:n_valid], np.float64)
        for j in range(len(dates)):
            require_finite(vals[:, j, :], names, _at_scenario(start, j, dates, xs, m.assets))
        x_h = xs[:, h_idx]
        idx = np.arange(start, start + n_valid, dtype=np.int64)
        ref = (np.broadcast_to(v0, (n_valid, 3, len(names))) if today is None else
               np.where(own, np.asarray(today[:n_valid], np.float64), v0))  # (chunk, 3, pos)
        pos_loss = q * (ref[:, 0] - vals[:, h_idx, :])
        tail.update(pos_loss, idx)
        for k, t in enumerate(half_tails):
            t.update(q * (ref[:, 1 + k] - np.asarray(halves[:n_valid, h_idx, k], np.float64)),
                     idx)
        if sink is not None:
            sink(idx, pos_loss, np.exp(np.asarray(xs[:n_valid], np.float64)))
        if profile is not None:
            profile.update(vals[:, profile_dates, :] @ q, ref[:, 0] @ q)
        for k, pr in enumerate(half_profiles):
            pr.update(np.asarray(halves[:n_valid][:, profile_dates, k], np.float64) @ q,
                      ref[:, 1 + k] @ q)
        if dg_tail is not None:
            dg_tail.update(delta_gamma_losses(problem, greeks, np.asarray(x_h[:n_valid]),
                                               np.asarray(v_h[:n_valid]), rk), idx)
        progress.update(c + 1, start + n_valid)

    out = tail.result()
    out["stats"]["mean_stderr"] = out["stats"]["stdev"] / float(np.sqrt(n))
    out["nested_error"] = (nested_correction(out, [t.result() for t in half_tails],
                                             rk.inner_paths) if nested_h else None)
    groups = [attribution.group_of(p, m.assets) for p in problem.positions]
    out["contributions"] = attribution.contributions(tail, names, groups)
    if half_tails:
        # Contributions are means over tail scenarios, linear like ES: the same jackknife
        # keeps component ES summing to the corrected ES.
        out["contributions"] = jackknife(
            out["contributions"], *(attribution.contributions(t, names, groups)
                                    for t in half_tails))
    out["worst_scenarios"] = attribution.worst_scenarios(tail, names)
    # + 0.0: a short position worth 0 reports 0, not -0.
    out["today"] = {"book": float(q @ v0) + 0.0,
                    "positions": dict(zip(names, map(float, q * v0 + 0.0))),
                    "stderr": dict(zip(names, map(float, np.abs(q) * v0_se))),  # v0_se per unit
                    "method": {nm: ("closed form" if c else
                                    f"monte carlo ({problem.sim.n_paths} paths, pricing engine; "
                                    "losses use each scenario's own nested estimate"
                                    if o else f"monte carlo ({problem.sim.n_paths} paths, "
                                    "pricing engine)")
                               for nm, c, o in zip(names, closed, own)}}
    out["methods_at_horizon"] = _methods(problem, plans[h_idx])
    out.update(_vega_by_expiry(problem))
    if profile is not None:
        out["profile"] = profile.result()
        if half_profiles:
            out["profile"] = jackknife(out["profile"], *(pr.result() for pr in half_profiles))
            liq = out["profile"].get("liquidation")
            if liq is not None:  # probabilities stay probabilities
                liq["probability"] = min(max(liq["probability"], 0.0), 1.0)
                liq["probability_by_date"] = np.clip(liq["probability_by_date"], 0, 1).tolist()
            out["profile"]["nested_bias_corrected"] = True
    if dg_tail is not None:
        dg = dg_tail.result()
        out["delta_gamma"] = {
            "var": dg["var"], "es": dg["es"], "stats": dg["stats"],
            "var_error": {k: dg["var"][k] - out["var"][k] for k in out["var"]},
            "es_error": {k: dg["es"][k] - out["es"][k] for k in out["es"]},
            "note": "delta-gamma-vega from the pricing Greeks (own gammas only, no theta), "
                    "on the same scenarios as full revaluation"}
    out.update(_stress_and_margin(problem, base_prep, base, q, names, progress))
    out.update(task="risk", dates=dates, horizon=rk.horizon, levels=list(rk.levels), n_paths=n,
               model=problem.model.name, dtype=problem.sim.dtype, seed=problem.sim.seed,
               method=rk.method, inner_paths=rk.inner_paths if nested else None,
               measure="real-world (market.drift)" if m.drift is not None else "risk-neutral",
               vol_dynamics=rk.vol_dynamics, units=dict(units.RISK),
               notes=list(problem.notes) + out["notes"]
               + _margin_notes(out) + _floor_notes(n_floored, dates, n))
    return check_finite(out)


def stress_test(cfg: Any, *, progress: Any = None) -> dict:
    """task=stress: today's values, the configured stress scenarios and the margin grid,
    all revalued in full; no scenario simulation. `progress` as in `risk`."""
    problem = build(cfg)
    use_dtype(problem.sim.dtype)
    progress = resolve(progress, cfg) or Tracker()
    prep = prepare(problem)
    zero = np.zeros((1, problem.market.n_assets))
    paths = stress_paths(problem)
    progress.start("today's values", 1, "points")
    today = stress.revalue_shocked(problem, prep, zero, zero, 0.0, paths)
    progress.update(1, 1)
    base = today.values[0]
    q = np.array([p.quantity for p in problem.positions])
    names = [p.name for p in problem.positions]
    require_finite(base[None], names, lambda i: ("today", "today's revaluation"))
    se = np.abs(q) * today.stderr[0]
    out = {"task": "stress", "today": {
        "book": float(q @ base) + 0.0,
        "positions": dict(zip(names, map(float, q * base + 0.0))),
        "stderr": dict(zip(names, map(float, se))),
        "method": {nm: f"monte carlo ({paths} paths, risk.stress_paths)" if n else "closed form"
                   for nm, n in zip(names, today.nested)}}}
    out.update(_stress_and_margin(problem, prep, base, q, names, progress))
    out.update(_vega_by_expiry(problem))
    out.update(model=problem.model.name, dtype=problem.sim.dtype, seed=problem.sim.seed,
               n_paths=problem.sim.n_paths, units=dict(units.RISK),
               notes=list(problem.notes) + _margin_notes(out))
    return check_finite(out)


def _vega_by_expiry(problem: Problem) -> dict:
    """``{"vega_by_expiry": ...}`` with a surface (`mcrisk.riskengine.vega`), else ``{}``."""
    if problem.surface is None:
        return {}
    from mcrisk.riskengine.vega import surface_vega

    return {"vega_by_expiry": surface_vega(problem)}


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


def _at_scenario(start: int, j: int, dates, xs, assets):
    """`require_finite`'s `where` for scenario start + i at dates[j] (xs: log spots)."""
    return lambda i: (f"scenarios[{start + i}].dates[{j}]",
                      f"revaluation of scenario {start + i} at t = {dates[j]:g} years (spots "
                      + ", ".join(f"{a}={v:.6g}" for a, v in zip(
                          assets, np.exp(np.asarray(xs[i, j], np.float64)))) + ")")


def _stress_and_margin(problem: Problem, prep, base, q, names, progress: Tracker) -> dict:
    return {"stress": _stress(problem, prep, base, q, names, progress),
            "margin": (_margin(problem, prep, base, q, progress)
                       if problem.risk.margin is not None else None)}


def _methods(problem: Problem, dp) -> dict:
    out = {}
    kinds = {int(i): k for k, g in dp.groups.items() for i in g["idx"]}
    for i, p in enumerate(problem.positions):
        out[p.name] = ("expired: realised payoff" if dp.expired[i] else
                       f"closed form ({kinds[i]})" if i in kinds else "nested monte carlo")
    return out


def _stress(problem: Problem, prep, base, q, names, progress: Tracker) -> list[dict]:
    m = problem.market
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
        out.append({"name": s.name, "spot_shock_pct": dict(zip(m.assets, (s.spot * 100).tolist())),
                    "vol_shock_pts": dict(zip(m.assets, (s.vol * 100).tolist())),
                    "horizon": s.horizon, "loss": float(pos.sum()), "loss_stderr": float(book_se),
                    "by_position": dict(zip(names, map(float, pos))),
                    "by_position_stderr": dict(zip(names, map(float, np.abs(q) * loss_se)))})
    return out


def stress_paths(problem: Problem) -> int:
    """Paths of the Monte Carlo revaluations of stress and margin points."""
    # At least two antithetic pairs: a standard error needs two samples.
    return problem.risk.stress_paths or max(4, min(problem.sim.n_paths - problem.sim.n_paths % 2,
                                                   STRESS_PATHS))


def _floor_notes(n_floored: np.ndarray, dates: list[float], n: int) -> list[str]:
    return [f"risk.vol_shock: the shifted vol sqrt(v) + shock fell below {MIN_VOL:g} in "
            f"{int(k)} of {n} scenarios at t = {d:g}; revalued at vol {MIN_VOL:g} there"
            for k, d in zip(n_floored, dates) if k]


def _margin_notes(out: dict) -> list[str]:
    return list(out["margin"]["notes"]) if out.get("margin") else []


def _label(lab: dict, assets) -> str:
    who = "every asset" if lab["asset"] is None else assets[lab["asset"]]
    return f"(spot {lab['spot']:+.4g}, vol {lab['vol'] * 100:+.4g} pts on {who})"


def _margin(problem: Problem, prep, base, q, progress: Tracker) -> dict:
    grid = problem.risk.margin
    m = problem.market
    progress.start("margin", 1, "points")
    venues = [p.venue or "default" for p in problem.positions]
    venue_names = sorted(set(venues))
    sel = np.array([[x == v for x in venues] for v in venue_names])
    r, vol, weight, labels = stress.margin_grid(problem, prep, base, stress_paths(problem),
                                                books=np.vstack([q[None], q * sel]))
    progress.update(1, len(labels))
    vals = r.values
    names = [p.name for p in problem.positions]
    require_finite(vals, names, lambda i: (
        f"margin.points[{i}]", "margin grid point " + _label(labels[i], m.assets)))
    pos_loss = q * r.unit_losses(base)  # (points, positions)
    book_loss = pos_loss.sum(axis=1) + 0.0  # never -0.0
    req, worst = stress.margin_requirement(book_loss, weight, labels, grid.mode, m.n_assets)
    req_se = stress.requirement_stderr(book_loss, r.book_loss_stderr[:, 0], weight, labels,
                                       grid.mode, m.n_assets)
    per_venue, per_venue_se = {}, {}
    for b, v in enumerate(venue_names):
        loss_v = pos_loss[:, sel[b]].sum(axis=1)
        per_venue[v], _ = stress.margin_requirement(loss_v, weight, labels, grid.mode,
                                                    m.n_assets)
        per_venue_se[v] = stress.requirement_stderr(loss_v, r.book_loss_stderr[:, 1 + b],
                                                    weight, labels, grid.mode, m.n_assets)
    points = [dict(lab, asset=None if lab["asset"] is None else m.assets[lab["asset"]],
                   loss=float(l), loss_stderr=float(e))
              for lab, l, e in zip(labels, book_loss, r.book_loss_stderr[:, 0])]
    floored = stress.floored_points(problem, vol)
    notes = []
    any_floored = floored.any(axis=1) | stress.surface_floor_notes(r, notes)
    for a in np.flatnonzero(floored.any(axis=0)):
        idx = np.flatnonzero(floored[:, a]).tolist()
        notes.append(f"margin: the vol shift leaves {m.assets[a]}'s vol "
                     f"({problem.model.base_vols(m)[a]:g}) below {MIN_VOL:g} at grid points "
                     f"{idx}; those points are revalued at vol {MIN_VOL:g}")
    return {"requirement": req, "requirement_stderr": req_se,
            "revaluation_paths": stress_paths(problem) if r.nested.any() else None,
            "worst_point": points[worst], "points": points,
            "vol_floored_points": np.flatnonzero(any_floored).tolist(), "notes": notes,
            "per_venue": per_venue, "per_venue_stderr": per_venue_se,
            "sum_of_venues": float(sum(per_venue.values())),
            "cross_venue_saving": float(sum(per_venue.values()) - req),
            "grid": {"spot_range": grid.spot_range, "spot_steps": grid.spot_steps,
                     "vol_shift": grid.vol_shift, "extreme_multiple": grid.extreme_multiple,
                     "extreme_weight": grid.extreme_weight, "mode": grid.mode,
                     "vol_expiry_power": grid.vol_expiry_power}}
