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
from mcrisk.errors import check_finite
from mcrisk.problem import MIN_VOL, Problem
from mcrisk.progress import Tracker, resolve
from mcrisk.riskengine import attribution, historical, stress
from mcrisk.riskengine.deltagamma import delta_gamma_losses
from mcrisk.riskengine.exposure import Profile
from mcrisk.riskengine.jackknife import jackknife, nested_correction
from mcrisk.riskengine.metrics import Tail
from mcrisk.riskengine.revalue import closed_kind, shocked_vols
from mcrisk.riskengine.scenarios import make_kernel, plans_for, prepare_outer, save_mask
from mcrisk.riskengine.stream import stream_losses
from mcrisk.riskengine.scans import (margin_notes, require_finite, stress_and_margin,
                                     stress_paths)
from mcrisk.sharding import chunk_samples

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

    if rk.scenarios.source != "model":
        return _from_history(problem, base_prep, base, q, names, v0, v0_se, closed, progress)
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
    out["today"] = _today(problem, names, q, v0, v0_se, closed, own)
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
    out.update(stress_and_margin(problem, base_prep, base, q, names, progress))
    out.update(task="risk", dates=dates, horizon=rk.horizon, levels=list(rk.levels), n_paths=n,
               model=problem.model.name, dtype=problem.sim.dtype, seed=problem.sim.seed,
               method=rk.method, inner_paths=rk.inner_paths if nested else None,
               measure="real-world (market.drift)" if m.drift is not None else "risk-neutral",
               vol_dynamics=rk.vol_dynamics, units=dict(units.RISK),
               notes=list(problem.notes) + out["notes"]
               + margin_notes(out) + _floor_notes(n_floored, dates, n))
    return check_finite(out)


def _today(problem: Problem, names, q, v0, v0_se, closed, own) -> dict:
    # + 0.0: a short position worth 0 reports 0, not -0.
    return {"book": float(q @ v0) + 0.0,
            "positions": dict(zip(names, map(float, q * v0 + 0.0))),
            "stderr": dict(zip(names, map(float, np.abs(q) * v0_se))),  # v0_se per unit
            "method": {nm: ("closed form" if c else
                            f"monte carlo ({problem.sim.n_paths} paths, pricing engine; "
                            "losses use each scenario's own nested estimate"
                            if o else f"monte carlo ({problem.sim.n_paths} paths, "
                            "pricing engine)")
                       for nm, c, o in zip(names, closed, own)}}


def _from_history(problem: Problem, prep, base, q, names, v0, v0_se, closed,
                  progress: Tracker) -> dict:
    """`risk` with risk.scenarios.source historical or filtered_historical."""
    rk, m = problem.risk, problem.market
    src = rk.scenarios
    sc = historical.history_scenarios(problem)

    def check(values, start):
        require_finite(values, names, lambda i: (
            f"scenarios[{start + i}]", f"revaluation of historical scenario {start + i} "
            "(spot moves " + ", ".join(f"{a} {100 * x:+.4g}%" for a, x in zip(
                m.assets, sc.moves[start + i])) + ")"))

    pos_loss = historical.history_losses(problem, prep, base, q, sc.moves,
                                         stress_paths(problem), check, progress)
    groups = [attribution.group_of(p, m.assets) for p in problem.positions]
    out = (historical.equal_tail(problem, pos_loss, names, groups) if src.age_weighting is None
           else historical.age_weighted_tail(problem, pos_loss, sc.weights, names, groups))
    out["today"] = _today(problem, names, q, v0, v0_se, closed, np.zeros(len(names), bool))
    out["scenario_source"] = {
        "source": src.source, "prices": src.path, "window": src.window,
        "horizon_days": src.horizon_days, "n_scenarios": len(sc.moves),
        "overlapping": src.overlapping if src.source == "historical" else None,
        "age_weighting": src.age_weighting,
        "filter": src.filter if src.source == "filtered_historical" else None}
    out.update(_vega_by_expiry(problem))
    out.update(stress_and_margin(problem, prep, base, q, names, progress))
    out.update(task="risk", dates=[rk.horizon], horizon=rk.horizon, levels=list(rk.levels),
               n_paths=len(sc.moves), model=problem.model.name, dtype=problem.sim.dtype,
               seed=problem.sim.seed, method=rk.method, inner_paths=None,
               measure=f"history ({src.source})", vol_dynamics=rk.vol_dynamics,
               units=dict(units.RISK), nested_error=None,
               notes=list(problem.notes) + out["notes"] + list(sc.notes)
               + ["scenarios revalued in full at the historical spot moves with implied vols "
                  f"held at today's, rolled forward risk.horizon = {rk.horizon:g} years"]
               + margin_notes(out))
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
    out.update(stress_and_margin(problem, prep, base, q, names, progress))
    out.update(_vega_by_expiry(problem))
    out.update(model=problem.model.name, dtype=problem.sim.dtype, seed=problem.sim.seed,
               n_paths=problem.sim.n_paths, units=dict(units.RISK),
               notes=list(problem.notes) + margin_notes(out))
    return check_finite(out)


def _vega_by_expiry(problem: Problem) -> dict:
    """``{"vega_by_expiry": ...}`` with a surface (`mcrisk.riskengine.vega`), else ``{}``."""
    if problem.surface is None:
        return {}
    from mcrisk.riskengine.vega import surface_vega

    return {"vega_by_expiry": surface_vega(problem)}


def _at_scenario(start: int, j: int, dates, xs, assets):
    """`require_finite`'s `where` for scenario start + i at dates[j] (xs: log spots)."""
    return lambda i: (f"scenarios[{start + i}].dates[{j}]",
                      f"revaluation of scenario {start + i} at t = {dates[j]:g} years (spots "
                      + ", ".join(f"{a}={v:.6g}" for a, v in zip(
                          assets, np.exp(np.asarray(xs[i, j], np.float64)))) + ")")


def _methods(problem: Problem, dp) -> dict:
    out = {}
    kinds = {int(i): k for k, g in dp.groups.items() for i in g["idx"]}
    for i, p in enumerate(problem.positions):
        out[p.name] = ("expired: realised payoff" if dp.expired[i] else
                       f"closed form ({kinds[i]})" if i in kinds else "nested monte carlo")
    return out


def _floor_notes(n_floored: np.ndarray, dates: list[float], n: int) -> list[str]:
    return [f"risk.vol_shock: the shifted vol sqrt(v) + shock fell below {MIN_VOL:g} in "
            f"{int(k)} of {n} scenarios at t = {d:g}; revalued at vol {MIN_VOL:g} there"
            for k, d in zip(n_floored, dates) if k]

