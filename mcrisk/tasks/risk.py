"""task=risk: horizon VaR/ES with intervals, attribution, stress and margin."""

from __future__ import annotations

from mcrisk.report.text import fmt, points


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
