"""task=risk: horizon VaR/ES with intervals, attribution, stress and margin."""

from __future__ import annotations



def table(result: dict) -> str:
    """Plain-text summary: tail metrics, top contributors, stress, margin."""
    lines = [f"horizon {result['horizon'] * 365:.4g} days  scenarios {result['n_paths']}  "
             f"model {result['model']}  measure {result['measure']}  dtype {result['dtype']}",
             f"book value today {result['today']['book']:,.2f}", ""]
    lines.append(f"{'level':>7} {'VaR':>14} {'VaR 95% CI':>29} {'ES':>14} {'ES 95% CI':>29}")
    for k in result["var"]:
        v, e = result["var_ci"][k], result["es_ci"][k]
        e_txt = (f"[{e[0]:>12,.2f}, {e[1]:>12,.2f}]" if e is not None
                 else f"{'not estimable':>29}")
        lines.append(f"{k:>7} {result['var'][k]:>14,.2f} [{v[0]:>12,.2f}, {v[1]:>12,.2f}] "
                     f"{result['es'][k]:>14,.2f} {e_txt}")
    s = result["stats"]
    lines.append(f"mean loss {s['mean']:,.2f} ± {s['mean_stderr']:,.2f}  stdev {s['stdev']:,.2f}  "
                 f"skew {s['skew']:.3f}  "
                 f"excess kurtosis {s['excess_kurtosis']:.3f}  worst {s['worst_loss']:,.2f}  "
                 f"P(loss) {s['prob_loss']:.3f}")
    ne = result.get("nested_error")
    if ne:
        lines.append(f"nested revaluation ({ne['inner_paths']} inner paths): inner-noise bias "
                     "removed from VaR " + ", ".join(
                         f"{k}: {v:+,.2f}" for k, v in ne["var_bias_removed"].items())
                     + " (also added to the intervals)")
    top = max(result["contributions"], key=float)
    c = result["contributions"][top]
    lines += ["", f"contributions at {top}: {'position':<20} {'component ES':>14} "
                  f"{'incremental ES':>15}"]
    for name, v in sorted(c["component_es"].items(), key=lambda kv: -kv[1]):
        lines.append(f"{'':<20} {name:<20} {v:>14,.2f} {c['incremental_es'][name]:>15,.2f}")
    for st in result.get("stress") or []:
        err = f" ± {st['loss_stderr']:,.2f}" if st.get("loss_stderr") else ""
        lines.append(f"stress {st['name']:<20} loss {st['loss']:,.2f}{err}")
    m = result.get("margin")
    if m:
        w = m["worst_point"]
        err = f" ± {m['requirement_stderr']:,.2f}" if m.get("requirement_stderr") else ""
        lines.append(f"margin requirement {m['requirement']:,.2f}{err} "
                     f"(worst: spot {w['spot']:+.0%}, "
                     f"vol {w['vol']:+.2f}); per venue "
                     + ", ".join(f"{k} {v:,.2f}" for k, v in m["per_venue"].items())
                     + f"; cross-venue saving {m['cross_venue_saving']:,.2f}")
    if "delta_gamma" in result:
        dg = result["delta_gamma"]
        lines.append("delta-gamma VaR error " + ", ".join(
            f"{k}: {v:+,.2f}" for k, v in dg["var_error"].items()))
    return "\n".join(lines)
