"""task=price: value, standard error, CI and Greeks per position and for the book."""

from __future__ import annotations



def table(result: dict) -> str:
    """Plain-text summary: one row per position, then the book."""
    head = f"{'position':<18} {'type':<10} {'qty':>9} {'value':>14} {'s.e.':>11} {'delta':>22}"
    lines = [head, "-" * len(head)]

    def fmt_delta(g):
        if not g:
            return ""
        return " ".join(f"{a}:{v:.4g}" for a, v in g["delta"].items())

    for p in result["positions"]:
        lines.append(f"{p['name'][:18]:<18} {p['type']:<10} {p['quantity']:>9.4g} "
                     f"{p['value']:>14.2f} {p['stderr']:>11.2f} "
                     f"{fmt_delta(p.get('greeks')):>22}")
    b = result["book"]
    lines.append("-" * len(head))
    lines.append(f"{'BOOK':<18} {'':<10} {'':>9} {b['value']:>14.2f} {b['stderr']:>11.2f} "
                 f"{fmt_delta(b.get('greeks')):>22}")
    lines.append(f"95% CI [{b['ci95'][0]:.2f}, {b['ci95'][1]:.2f}]   model={result['model']} "
                 f"dtype={result['dtype']} paths={result['n_paths']} steps={result['n_steps']} "
                 f"seed={result['seed']}")
    if b.get("greeks"):
        g = b["greeks"]
        for key in ("delta", "gamma", "vega"):
            lines.append(f"book {key:<5} " + "  ".join(
                f"{a}: {g[key][a]:.6g} ± {g[key + '_stderr'][a]:.2g}" for a in g[key]))
        lines.append(f"book rho   {g['rho']:.6g} ± {g['rho_stderr']:.2g}")
    return "\n".join(lines)
