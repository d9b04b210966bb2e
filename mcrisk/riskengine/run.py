"""The risk and stress cores: `simulate_risk(problem)` (horizon loss distribution by full
revaluation, tail metrics with intervals, attribution, exposure profile, stress scenarios and
the portfolio-margin grid) and `simulate_stress(problem)`, returning the typed results of
`results.py`; `mcrisk.tasks.risk` turns them into the results dict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import jax
import numpy as np

from mcrisk.engine import prepare, use_dtype
from mcrisk.problem import MIN_VOL, Problem
from mcrisk.progress import Tracker
from mcrisk.riskengine import attribution, historical, stress
from mcrisk.riskengine.deltagamma import delta_gamma_losses
from mcrisk.riskengine.exposure import Profile
from mcrisk.riskengine.jackknife import jackknife, nested_correction
from mcrisk.riskengine.metrics import Tail
from mcrisk.riskengine.results import (DeltaGamma, RiskResult, ScenarioSource, StressResult,
                                      Today)
from mcrisk.riskengine.revalue import closed_kind, shocked_vols
from mcrisk.riskengine.scenarios import make_kernel, plans_for, prepare_outer, save_mask
from mcrisk.riskengine.stream import stream_losses
from mcrisk.riskengine.scans import (margin_notes, require_finite, stress_and_margin,
                                     stress_paths)
from mcrisk.sharding import chunk_samples


def simulate_risk(problem: Problem, *, progress: Tracker | None = None,
                  sink: Callable[..., None] | None = None) -> RiskResult:
    """Risk of a built `Problem`'s book over `risk.horizon`; the typed core of
    `mcrisk.tasks.risk.risk`.

    Args:
        problem: the built problem (`mcrisk.config.build`), with its `risk` section.
        progress: a `mcrisk.progress.Tracker` shown each phase (pricing, Greeks, today's
            values, scenarios, stress, margin); None shows nothing.
        sink: optional callback ``(scenario_index, position_losses, spots)`` per chunk, with
            arrays of shape (chunk,), (chunk, positions) and (chunk, dates, assets): how
            scenarios reach a file (Parquet) without ever being held in memory together.

    Returns:
        A `RiskResult`: tail metrics per level (intervals None where not estimable, with a
        note), moments, histogram, contributions, worst scenarios, today's values, stress,
        margin, and with their options the exposure profile and the delta-gamma comparison.
    """
    from mcrisk.pricing import simulate_prices

    use_dtype(problem.sim.dtype)
    progress = progress or Tracker()
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
    tail = Tail(n, len(names), rk.levels, rk.ci_level, rk.histogram_bins, rows=not fast,
                loo=rk.attribution)
    # Losses with the nested positions revalued from each half of the inner paths.
    half_tails = ([Tail(n, len(names), rk.levels, rk.ci_level, rk.histogram_bins,
                        loo=rk.attribution) for _ in range(2)] if nested_h else [])
    dg_tail = (Tail(n, len(names), rk.levels, rk.ci_level, rk.histogram_bins, loo=False)
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
            progress, var_shift, attribution=rk.attribution)
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

    tail_res = tail.result()
    nested_error = None
    if nested_h:
        tail_res, nested_error = nested_correction(
            tail_res, [t.result() for t in half_tails], rk.inner_paths)
    groups = [attribution.group_of(p, m.assets) for p in problem.positions]
    contrib = attribution.contributions(tail, groups) if rk.attribution else ()
    if half_tails and rk.attribution:
        # Contributions are means over tail scenarios, linear like ES: the same jackknife
        # keeps component ES summing to the corrected ES.
        contrib = jackknife(contrib, *(attribution.contributions(t, groups)
                                       for t in half_tails))
    prof = None
    if profile is not None:
        prof = profile.result()
        if half_profiles:
            prof = jackknife(prof, *(pr.result() for pr in half_profiles))
            liq = prof.liquidation
            if liq is not None:  # probabilities stay probabilities
                prof = prof._replace(liquidation=liq._replace(
                    probability=min(max(liq.probability, 0.0), 1.0),
                    probability_by_date=np.clip(liq.probability_by_date, 0, 1)))
            prof = prof._replace(nested_bias_corrected=True)
    dg = None
    if dg_tail is not None:
        d = dg_tail.result()
        dg = DeltaGamma(
            d.metrics, d.stats._replace(mean_stderr=None),
            np.array([x.var - y.var for x, y in zip(d.metrics, tail_res.metrics)]),
            np.array([x.es - y.es for x, y in zip(d.metrics, tail_res.metrics)]),
            "delta-gamma-vega from the pricing Greeks (own gammas only, no theta), "
            "on the same scenarios as full revaluation")
    st, margin = stress_and_margin(problem, base_prep, base, q, names, progress)
    return RiskResult(
        tail=tail_res, nested_error=nested_error, contributions=contrib,
        worst_scenarios=attribution.worst_scenarios(tail, rows=rk.attribution or not fast),
        today=_today(problem, q, v0, v0_se, closed, own),
        methods_at_horizon=_methods(problem, plans[h_idx]), scenario_source=None,
        vega_by_expiry=_vega_by_expiry(problem), profile=prof, delta_gamma=dg, stress=st,
        margin=margin, names=tuple(names), assets=tuple(m.assets), dates=dates, horizon=rk.horizon,
        levels=tuple(rk.levels), n_paths=n, model=problem.model.name,
        dtype=problem.sim.dtype, seed=problem.sim.seed, method=rk.method,
        inner_paths=rk.inner_paths if nested else None,
        measure="real-world (market.drift)" if m.drift is not None else "risk-neutral",
        vol_dynamics=rk.vol_dynamics,
        notes=tuple(list(problem.notes) + list(tail_res.notes) + margin_notes(margin)
                    + _floor_notes(n_floored, dates, n)))


def _today(problem: Problem, q, v0, v0_se, closed, own) -> Today:
    # + 0.0: a short position worth 0 reports 0, not -0.
    return Today(float(q @ v0) + 0.0, q * v0 + 0.0, np.abs(q) * v0_se,  # v0_se per unit
                 tuple("closed form" if c else
                       f"monte carlo ({problem.sim.n_paths} paths, pricing engine; "
                       "losses use each scenario's own nested estimate"
                       if o else f"monte carlo ({problem.sim.n_paths} paths, "
                       "pricing engine)" for c, o in zip(closed, own)))


def _from_history(problem: Problem, prep, base, q, names, v0, v0_se, closed,
                  progress: Tracker) -> RiskResult:
    """`simulate_risk` with risk.scenarios.source historical or filtered_historical."""
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
    tail, contrib, worst = (
        historical.equal_tail(problem, pos_loss, groups) if src.age_weighting is None
        else historical.age_weighted_tail(problem, pos_loss, sc.weights, groups))
    source = ScenarioSource(
        source=src.source, prices=src.path, window=src.window,
        horizon_days=src.horizon_days, n_scenarios=len(sc.moves),
        overlapping=src.overlapping if src.source == "historical" else None,
        age_weighting=src.age_weighting,
        filter=src.filter if src.source == "filtered_historical" else None)
    st, margin = stress_and_margin(problem, prep, base, q, names, progress)
    return RiskResult(
        tail=tail, nested_error=None, contributions=contrib, worst_scenarios=worst,
        today=_today(problem, q, v0, v0_se, closed, np.zeros(len(names), bool)),
        methods_at_horizon=None, scenario_source=source,
        vega_by_expiry=_vega_by_expiry(problem), profile=None, delta_gamma=None, stress=st,
        margin=margin, names=tuple(names), assets=tuple(m.assets), dates=[rk.horizon], horizon=rk.horizon,
        levels=tuple(rk.levels), n_paths=len(sc.moves), model=problem.model.name,
        dtype=problem.sim.dtype, seed=problem.sim.seed, method=rk.method, inner_paths=None,
        measure=f"history ({src.source})", vol_dynamics=rk.vol_dynamics,
        notes=tuple(list(problem.notes) + list(tail.notes) + list(sc.notes)
                    + ["scenarios revalued in full at the historical spot moves with implied "
                       f"vols held at today's, rolled forward risk.horizon = {rk.horizon:g} "
                       "years"] + margin_notes(margin)))


def simulate_stress(problem: Problem, *, progress: Tracker | None = None) -> StressResult:
    """Today's values, the configured stress scenarios and the margin grid of a built
    `Problem`, all revalued in full; no scenario simulation. The typed core of
    `mcrisk.tasks.risk.stress_test`; `progress` as in `simulate_risk`."""
    use_dtype(problem.sim.dtype)
    progress = progress or Tracker()
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
    now = Today(float(q @ base) + 0.0, q * base + 0.0, np.abs(q) * today.stderr[0],
                tuple(f"monte carlo ({paths} paths, risk.stress_paths)" if n else "closed form"
                      for n in today.nested))
    st, margin = stress_and_margin(problem, prep, base, q, names, progress)
    return StressResult(now, st, margin, _vega_by_expiry(problem), tuple(names),
                        tuple(problem.market.assets),
                        problem.model.name, problem.sim.dtype, problem.sim.seed,
                        problem.sim.n_paths, tuple(list(problem.notes) + margin_notes(margin)))


def _vega_by_expiry(problem: Problem) -> dict | None:
    """Vega by expiry with a surface (`mcrisk.riskengine.vega`), else None."""
    if problem.surface is None:
        return None
    from mcrisk.riskengine.vega import surface_vega

    return surface_vega(problem)


def _at_scenario(start: int, j: int, dates, xs, assets):
    """`require_finite`'s `where` for scenario start + i at dates[j] (xs: log spots)."""
    return lambda i: (f"scenarios[{start + i}].dates[{j}]",
                      f"revaluation of scenario {start + i} at t = {dates[j]:g} years (spots "
                      + ", ".join(f"{a}={v:.6g}" for a, v in zip(
                          assets, np.exp(np.asarray(xs[i, j], np.float64)))) + ")")


def _methods(problem: Problem, dp) -> tuple[str, ...]:
    kinds = {int(i): k for k, g in dp.groups.items() for i in g["idx"]}
    return tuple("expired: realised payoff" if dp.expired[i] else
                 f"closed form ({kinds[i]})" if i in kinds else "nested monte carlo"
                 for i in range(len(problem.positions)))


def _floor_notes(n_floored: np.ndarray, dates: list[float], n: int) -> list[str]:
    return [f"risk.vol_shock: the shifted vol sqrt(v) + shock fell below {MIN_VOL:g} in "
            f"{int(k)} of {n} scenarios at t = {d:g}; revalued at vol {MIN_VOL:g} there"
            for k, d in zip(n_floored, dates) if k]

