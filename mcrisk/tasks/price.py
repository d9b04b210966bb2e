"""task=price: value, standard error, CI and Greeks per position and for the book."""

from __future__ import annotations

from mcrisk.report.text import fmt
from mcrisk.units import GREEKS_LINE


def table(result: dict) -> str:
    """Plain-text summary: one row per position, then the book, its Greeks and their units."""
    head = f"{'position':<18} {'type':<10} {'qty':>9} {'value':>14} {'s.e.':>11} {'delta':>22}"
    lines = [head, "-" * len(head)]

    def fmt_delta(g):
        if not g:
            return ""
        return " ".join(f"{a}:{fmt(v, '.4g')}" for a, v in g["delta"].items())

    for p in result["positions"]:
        lines.append(f"{p['name'][:18]:<18} {p['type']:<10} {fmt(p['quantity'], '.4g'):>9} "
                     f"{fmt(p['value'], '.2f'):>14} {fmt(p['stderr'], '.2f'):>11} "
                     f"{fmt_delta(p.get('greeks')):>22}")
    b = result["book"]
    lines.append("-" * len(head))
    lines.append(f"{'BOOK':<18} {'':<10} {'':>9} {fmt(b['value'], '.2f'):>14} "
                 f"{fmt(b['stderr'], '.2f'):>11} {fmt_delta(b.get('greeks')):>22}")
    lines.append(f"95% CI [{fmt(b['ci95'][0], '.2f')}, {fmt(b['ci95'][1], '.2f')}]   "
                 f"model={result['model']} dtype={result['dtype']} paths={result['n_paths']} "
                 f"steps={result['n_steps']} seed={result['seed']}")
    if b.get("greeks"):
        g = b["greeks"]
        for key in ("delta", "gamma", "vega"):
            lines.append(f"book {key:<5} " + "  ".join(
                f"{a}: {fmt(g[key][a], '.6g')} ± {fmt(g[key + '_stderr'][a], '.2g')}"
                for a in g[key]))
        lines.append(f"book rho   {fmt(g['rho'], '.6g')} ± {fmt(g['rho_stderr'], '.2g')}")
        if g.get("cross_gamma"):
            lines.append("book cross gamma " + "  ".join(
                f"{a}x{b}: {fmt(v, '.6g')} ± {fmt(g['cross_gamma_stderr'][a][b], '.2g')}"
                for a, row in g["cross_gamma"].items() for b, v in row.items()))
        lines.append(GREEKS_LINE)
    return "\n".join(lines)
