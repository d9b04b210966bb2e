"""task=risk and task=stress: horizon VaR/ES with intervals, attribution, stress and
margin. `risk(cfg)` and `stress_test(cfg)` run the typed cores (`mcrisk.riskengine.run`)
and turn their results into the results dict (`risk_dict`, `stress_dict`: the one place
the JSON shape is made); `table` prints a summary of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mcrisk import units
from mcrisk.errors import check_finite
from mcrisk.report.text import fmt, points
from mcrisk.riskengine.results import (BucketVega, Contribution, LossStats, Margin, RiskResult,
                                       StressLoss, StressResult, TailResult, Today)


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
    from mcrisk.config import build
    from mcrisk.progress import resolve
    from mcrisk.riskengine.run import simulate_risk

    problem = build(cfg)
    return risk_dict(simulate_risk(problem, progress=resolve(progress, cfg), sink=sink))


def stress_test(cfg: Any, *, progress: Any = None) -> dict:
    """task=stress: today's values, the configured stress scenarios and the margin grid,
    all revalued in full; no scenario simulation. `progress` as in `risk`."""
    from mcrisk.config import build
    from mcrisk.progress import resolve
    from mcrisk.riskengine.run import simulate_stress

    problem = build(cfg)
    return stress_dict(simulate_stress(problem, progress=resolve(progress, cfg)))


def key(level: float) -> str:
    """A level as a results key ("0.99")."""
    return repr(float(level))


def tail_dicts(tail: TailResult) -> dict:
    """``var``, ``es``, ``var_ci``, ``es_ci`` keyed by level (the studies' rows)."""
    ci = lambda x: None if x is None else [float(v) for v in x]  # noqa: E731
    return {"var": {key(t.level): t.var for t in tail.metrics},
            "es": {key(t.level): t.es for t in tail.metrics},
            "var_ci": {key(t.level): ci(t.var_ci) for t in tail.metrics},
            "es_ci": {key(t.level): ci(t.es_ci) for t in tail.metrics}}


def _stats(s: LossStats, weighted: bool = False) -> dict:
    out = {"n_scenarios": s.n_scenarios, "mean": s.mean, "stdev": s.stdev, "skew": s.skew,
           "excess_kurtosis": s.excess_kurtosis}
    if weighted:  # the age-weighted tail's own key order
        out.update(mean_stderr=s.mean_stderr, worst_loss=s.worst_loss, prob_loss=s.prob_loss,
                   effective_scenarios=s.effective_scenarios)
        return out
    out.update(worst_loss=s.worst_loss, prob_loss=s.prob_loss)
    if s.mean_stderr is not None:
        out["mean_stderr"] = s.mean_stderr
    return out


def _per(names, values) -> dict:
    return dict(zip(names, map(float, values)))


def _contributions(contrib: tuple[Contribution, ...], names) -> dict:
    out = {}
    for c in contrib:
        d = {"component_es": _per(names, c.component_es)}
        if c.component_var is not None:
            d.update(component_var=_per(names, c.component_var),
                     var_window_sum=c.var_window_sum)
        d.update(incremental_es=_per(names, c.incremental_es), es_by_asset=dict(c.es_by_asset))
        out[key(c.level)] = d
    return out


def vega_dict(v: BucketVega) -> dict:
    """``{"buckets": labels, "book": {label: vega}, "positions": {name: {label: vega}},
    "not_marked": [names]}``."""
    return {"buckets": list(v.buckets), "book": _per(v.buckets, v.book),
            "positions": {n: _per(v.buckets, row) for n, row in zip(v.marked, v.positions)},
            "not_marked": list(v.not_marked)}


def _today(t: Today, names) -> dict:
    return {"book": t.book, "positions": _per(names, t.positions),
            "stderr": _per(names, t.stderr), "method": dict(zip(names, t.method))}


def _stress(st: tuple[StressLoss, ...], names, assets) -> list[dict]:
    return [{"name": s.name, "spot_shock_pct": dict(zip(assets, (s.spot_shock * 100).tolist())),
             "vol_shock_pts": dict(zip(assets, (s.vol_shock * 100).tolist())),
             "horizon": s.horizon, "loss": s.loss, "loss_stderr": s.loss_stderr,
             "by_position": _per(names, s.by_position),
             "by_position_stderr": _per(names, s.by_position_stderr)} for s in st]


def _margin(m: Margin | None) -> dict | None:
    if m is None:
        return None
    points = [p._asdict() for p in m.points]
    g = m.grid
    return {"requirement": m.requirement, "requirement_stderr": m.requirement_stderr,
            "revaluation_paths": m.revaluation_paths, "worst_point": points[m.worst],
            "points": points, "vol_floored_points": list(m.vol_floored_points),
            "notes": list(m.notes), "per_venue": dict(m.per_venue),
            "per_venue_stderr": dict(m.per_venue_stderr),
            "sum_of_venues": float(sum(m.per_venue.values())),
            "cross_venue_saving": float(sum(m.per_venue.values()) - m.requirement),
            "grid": {"spot_range": g.spot_range, "spot_steps": g.spot_steps,
                     "vol_shift": g.vol_shift, "extreme_multiple": g.extreme_multiple,
                     "extreme_weight": g.extreme_weight, "mode": g.mode,
                     "vol_expiry_power": g.vol_expiry_power}}


def _profile(p) -> dict:
    out = {"dates": p.dates.tolist(), "expected_exposure": p.expected_exposure.tolist(),
           "expected_negative_exposure": p.expected_negative_exposure.tolist(),
           "mean_value": p.mean_value.tolist(), "pfe_level": p.pfe_level,
           "pfe": p.pfe.tolist(), "max_drawdown": p.max_drawdown._asdict()}
    if p.liquidation is not None:
        liq = p.liquidation
        out["liquidation"] = dict(liq._asdict(),
                                  probability_by_date=liq.probability_by_date.tolist())
    if p.nested_bias_corrected:
        out["nested_bias_corrected"] = True
    return out


def _stress_and_margin(r, names) -> dict:
    return {"stress": _stress(r.stress, names, r.assets), "margin": _margin(r.margin)}


def risk_dict(r: RiskResult) -> dict:
    """The results dict of task=risk (key order as documented in docs/results.md)."""
    names = r.names
    tail = tail_dicts(r.tail)
    history = r.scenario_source is not None
    weighted = history and r.tail.stats.effective_scenarios is not None
    out: dict = dict(tail)
    if not weighted:
        out["notes"] = None  # placeholder: the notes keep their place after the intervals
    out.update(stats=_stats(r.tail.stats, weighted),
               histogram={"edges": np.asarray(r.tail.histogram.edges).tolist(),
                          "counts": np.asarray(r.tail.histogram.counts).tolist(),
                          "below": int(r.tail.histogram.below),
                          "above": int(r.tail.histogram.above)})
    if not history:
        ne = r.nested_error
        out["nested_error"] = None if ne is None else {
            "inner_paths": ne.inner_paths,
            "var_bias_removed": {key(a): float(b) for a, b in zip(r.levels, ne.var_bias)},
            "es_bias_removed": {key(a): float(b) for a, b in zip(r.levels, ne.es_bias)},
            "method": ne.method}
    out["contributions"] = _contributions(r.contributions, names)
    out["worst_scenarios"] = [{"scenario": w.scenario, "loss": w.loss,
                               "by_position": (None if w.by_position is None
                                               else _per(names, w.by_position))}
                              for w in r.worst_scenarios]
    if weighted:
        out["notes"] = None
    out["today"] = _today(r.today, names)
    if history:
        out["scenario_source"] = r.scenario_source._asdict()
    else:
        out["methods_at_horizon"] = dict(zip(names, r.methods_at_horizon))
    if r.vega_by_expiry is not None:
        out["vega_by_expiry"] = vega_dict(r.vega_by_expiry)
    if r.profile is not None:
        out["profile"] = _profile(r.profile)
    if r.delta_gamma is not None:
        dg = r.delta_gamma
        out["delta_gamma"] = {
            "var": {key(t.level): t.var for t in dg.metrics},
            "es": {key(t.level): t.es for t in dg.metrics},
            "stats": _stats(dg.stats),
            "var_error": {key(a): float(e) for a, e in zip(r.levels, dg.var_error)},
            "es_error": {key(a): float(e) for a, e in zip(r.levels, dg.es_error)},
            "note": dg.note}
    out.update(_stress_and_margin(r, names))
    out.update(task="risk", dates=list(r.dates), horizon=r.horizon, levels=list(r.levels),
               n_paths=r.n_paths, model=r.model, dtype=r.dtype, seed=r.seed, method=r.method,
               inner_paths=r.inner_paths, measure=r.measure, vol_dynamics=r.vol_dynamics,
               units=dict(units.RISK))
    if history:
        out["nested_error"] = None
    out["notes"] = list(r.notes)
    return check_finite(out)


def stress_dict(r: StressResult) -> dict:
    """The results dict of task=stress."""
    out = {"task": "stress", "today": _today(r.today, r.names)}
    out.update(_stress_and_margin(r, r.names))
    if r.vega_by_expiry is not None:
        out["vega_by_expiry"] = vega_dict(r.vega_by_expiry)
    out.update(model=r.model, dtype=r.dtype, seed=r.seed, n_paths=r.n_paths,
               units=dict(units.RISK), notes=list(r.notes))
    return check_finite(out)


def money(x) -> str:
    """An amount with thousands separators and cents (never "-0.00")."""
    return fmt(x, ",.2f")


def table(result: dict) -> str:
    """Plain-text summary: tail metrics, top contributors, stress, margin."""
    lines = [f"horizon {fmt(result['horizon'] * 365, '.4g')} days  scenarios "
             f"{result['n_paths']}  model {result['model']}  measure {result['measure']}  "
             f"dtype {result['dtype']}",
             f"book value today {money(result['today']['book'])}", ""]
    lines.append(f"{'level':>7} {'VaR':>14} {'VaR 95% CI':>29} {'ES':>14} {'ES 95% CI':>29}")
    for k in result["var"]:
        v, e = result["var_ci"][k], result["es_ci"][k]
        v_txt, e_txt = (f"[{money(x[0]):>12}, {money(x[1]):>12}]" if x is not None
                        else f"{'not estimable':>29}" for x in (v, e))
        lines.append(f"{k:>7} {money(result['var'][k]):>14} {v_txt} "
                     f"{money(result['es'][k]):>14} {e_txt}")
    s = result["stats"]
    lines.append(f"mean loss {money(s['mean'])} ± {money(s['mean_stderr'])}  stdev "
                 f"{money(s['stdev'])}  skew {fmt(s['skew'], '.3f')}  excess kurtosis "
                 f"{fmt(s['excess_kurtosis'], '.3f')}  worst {money(s['worst_loss'])}  "
                 f"P(loss) {fmt(s['prob_loss'], '.3f')}")
    ne = result.get("nested_error")
    if ne:
        lines.append(f"nested revaluation ({ne['inner_paths']} inner paths): inner-noise bias "
                     "removed from VaR " + ", ".join(
                         f"{k}: {fmt(v, '+,.2f')}" for k, v in ne["var_bias_removed"].items())
                     + " (also added to the intervals)")
    if result["contributions"]:  # empty with risk.attribution: false
        top = max(result["contributions"], key=float)
        c = result["contributions"][top]
        lines += ["", f"contributions at {top}: {'position':<20} {'component ES':>14} "
                      f"{'incremental ES':>15}"]
        for name, v in sorted(c["component_es"].items(), key=lambda kv: -kv[1]):
            lines.append(f"{'':<20} {name:<20} {money(v):>14} "
                         f"{money(c['incremental_es'][name]):>15}")
    for st in result.get("stress") or []:
        err = f" ± {money(st['loss_stderr'])}" if st.get("loss_stderr") else ""
        lines.append(f"stress {st['name']:<20} loss {money(st['loss'])}{err}")
    m = result.get("margin")
    if m:
        w = m["worst_point"]
        err = f" ± {money(m['requirement_stderr'])}" if m.get("requirement_stderr") else ""
        lines.append(f"margin requirement {money(m['requirement'])}{err} "
                     f"(worst: spot {w['spot']:+.0%}, vol {points(w['vol'])}); per venue "
                     + ", ".join(f"{k} {money(v)}" for k, v in m["per_venue"].items())
                     + f"; cross-venue saving {money(m['cross_venue_saving'])}")
    if "delta_gamma" in result:
        dg = result["delta_gamma"]
        lines.append("delta-gamma VaR error " + ", ".join(
            f"{k}: {fmt(v, '+,.2f')}" for k, v in dg["var_error"].items()))
    return "\n".join(lines)
