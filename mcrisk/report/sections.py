"""The Results section of `report.md`, task by task: tables, each followed by its plot.

A task's builder returns `Block`s in reading order. Builders read every optional key with
`.get`, so a result without Greeks, margin or profile simply yields fewer blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import NamedTuple

from mcrisk import units
from mcrisk.report import backtestplots, hedgeplots, plots, riskplots
from mcrisk.report.text import (DASH, highest, interval, key_values, level, num, pct,
                                plus_minus, points, sig, sorted_levels, table, years)

TOP_CONTRIBUTORS = 10


class Block(NamedTuple):
    """Markdown for one result, and optionally the plot inlined right after it.

    `draw(path)` writes the PNG and returns False when the data hold nothing to draw, in
    which case the image link is left out.
    """

    text: str
    draw: Callable[[Path], bool] | None = None
    file: str = ""
    title: str = ""


def price(r: Mapping) -> list[Block]:
    pos = r.get("positions") or []
    book = r.get("book") or {}
    rows = [(p.get("name", DASH), p.get("type", DASH), p.get("assets") or DASH,
             sig(p.get("quantity")), num(p.get("unit_price")), num(p.get("value")),
             num(p.get("stderr")), interval(p.get("ci95"))) for p in pos]
    if book:
        rows.append(("**book**", "", "", "", "", f"**{num(book.get('value'))}**",
                     num(book.get("stderr")), interval(book.get("ci95"))))
    out = [Block("### Positions\n\n" + table(
        ("position", "type", "assets", "quantity", "unit price", "value", "s.e.", "95% CI"),
        rows, align="lllrrrrr"), partial(plots.values, pos), "values.png",
        "Position values with 95% intervals")]
    g = book.get("greeks") or {}
    if isinstance(g.get("delta"), Mapping):
        head = ("asset", "delta", "gamma", "vega")
        text = ("### Book Greeks (± 1 s.e.)\n\n" + _units_line(r) + "\n\n"
                + table(head, _greek_rows(g)))
        if g.get("rho") is not None:
            text += f"\n\nBook rho: {plus_minus(g['rho'], g.get('rho_stderr'))}."
        if g.get("cross_gamma"):
            text += "\n\nBook cross gammas (d² value / d spot_i d spot_j): " + "; ".join(
                f"{a}×{b} {plus_minus(v, g['cross_gamma_stderr'][a][b])}"
                for a, row in g["cross_gamma"].items() for b, v in row.items()) + "."
        out.append(Block(text, partial(plots.greeks, g), "greeks.png", "Book Greeks per asset"))
    rows = [(p.get("name", DASH), *row) for p in pos if p.get("greeks")
            for row in _greek_rows(p["greeks"])]
    if rows:
        out.append(Block("### Position Greeks (± 1 s.e.)\n\n" + table(
            ("position", "asset", "delta", "gamma", "vega"), rows, align="llrrr")))
    return out


def _units_line(r: Mapping) -> str:
    u = {**units.GREEKS, **(r.get("units") or {})}
    return "Units: " + "; ".join(f"{k} {u[k]}" for k in ("delta", "gamma", "vega", "rho")) + "."


def _greek_rows(g: Mapping) -> list[tuple]:
    return [(a, *(plus_minus((g.get(k) or {}).get(a), (g.get(f"{k}_stderr") or {}).get(a))
                  for k in ("delta", "gamma", "vega"))) for a in g.get("delta") or {}]


def risk(r: Mapping) -> list[Block]:
    out = [_tail(r)]
    if r.get("delta_gamma"):
        out.append(_delta_gamma(r["delta_gamma"]))
    if r.get("contributions"):
        out.append(_contributions(r["contributions"], r.get("es") or {}))
    return out + stress(r, today=False) + _profile(r.get("profile"))


def stress(r: Mapping, today: bool = True) -> list[Block]:
    out = []
    book_today = (r.get("today") or {}).get("book")
    if today and book_today is not None:
        out.append(Block(f"Book value today: **{num(book_today)}**."))
    if r.get("stress"):
        out.append(_stress(r["stress"]))
    if r.get("margin"):
        out.append(_margin(r["margin"]))
    return out


def _tail(r: Mapping) -> Block:
    var, es = r.get("var") or {}, r.get("es") or {}
    var_ci, es_ci = r.get("var_ci") or {}, r.get("es_ci") or {}
    lines = ["### Loss over the horizon",
             "Losses are positive (a gain is a negative loss)"
             + (f"; book value today {num(r['today']['book'])}."
                if (r.get("today") or {}).get("book") is not None else ".")]
    keys = sorted_levels(set(var) | set(es))
    if keys:
        lines.append(table(("level", "VaR", "VaR CI", "ES", "ES CI"),
                           [(level(k), num(var.get(k)), interval(var_ci.get(k)),
                             num(es.get(k)), interval(es_ci.get(k))) for k in keys]))
    s = r.get("stats") or {}
    labels = (("n_scenarios", "scenarios", num), ("mean", "mean loss", num),
              ("stdev", "st. dev.", num), ("skew", "skewness", sig),
              ("excess_kurtosis", "excess kurtosis", sig), ("worst_loss", "worst loss", num),
              ("prob_loss", "P(loss > 0)", pct))
    stats = [(label, f(s[k])) for k, label, f in labels if k in s]
    if stats:
        lines.append(key_values(stats, ("statistic", "value"), "lr"))
    return Block("\n\n".join(lines), partial(riskplots.loss_histogram, r),
                 "loss_histogram.png", "Loss distribution with VaR and ES")


def _delta_gamma(dg: Mapping) -> Block:
    var, es = dg.get("var") or {}, dg.get("es") or {}
    ve, ee = dg.get("var_error") or {}, dg.get("es_error") or {}
    rows = [(level(k), num(var.get(k)), num(ve.get(k)), num(es.get(k)), num(ee.get(k)))
            for k in sorted_levels(set(var) | set(es))]
    text = ("### Delta–gamma approximation\n\nErrors are approximation minus full "
            "revaluation on the same scenarios.\n\n"
            + table(("level", "VaR", "VaR error", "ES", "ES error"), rows))
    if dg.get("note"):
        text += f"\n\n{dg['note']}."
    return Block(text)


def _contributions(contrib: Mapping, es: Mapping) -> Block:
    top = highest(contrib)
    c = contrib[top] or {}
    comp = c.get("component_es") or {}
    total = es.get(top) if es.get(top) is not None else sum(comp.values())
    names = sorted(comp, key=lambda k: -abs(comp[k]))[:TOP_CONTRIBUTORS]
    cv, inc = c.get("component_var") or {}, c.get("incremental_es") or {}
    rows = [(k, num(comp[k]), pct(comp[k] / total) if total else DASH, num(cv.get(k)),
             num(inc.get(k))) for k in names]
    lines = [f"### Tail contributions at {level(top)}",
             "Component ES sums to ES; incremental ES is ES minus the ES of the book "
             "without the position."
             + (f" Largest {len(names)} of {len(comp)} positions." if len(comp) > len(names)
                else "")]
    if rows:
        lines.append(table(("position", "component ES", "share of ES", "component VaR",
                            "incremental ES"), rows))
    by_asset = c.get("es_by_asset") or {}
    if by_asset:
        lines.append(table(("assets", "ES contribution"),
                           sorted(by_asset.items(), key=lambda kv: -kv[1])))
    return Block("\n\n".join(lines), partial(riskplots.component_es, contrib),
                 "component_es.png", f"Component and incremental ES at {level(top)}")


def _shocks(shocks: Mapping | None, unit: str) -> str:
    moved = [f"{a} {v:+.4g}{unit}" for a, v in (shocks or {}).items() if v]
    return ", ".join(moved) or "none"


def _stress(scenarios: list) -> Block:
    rows = []
    for s in scenarios:
        by_pos = s.get("by_position") or {}
        worst = max(by_pos, key=by_pos.get) if by_pos else None
        rows.append((s.get("name", DASH), _shocks(s.get("spot_shock_pct"), "%"),
                     _shocks(s.get("vol_shock_pts"), " pts"),
                     years(s.get("horizon")) if s.get("horizon") else "instant",
                     num(s.get("loss")),
                     f"{worst} ({num(by_pos[worst])})" if worst is not None else DASH))
    text = "### Stress scenarios\n\n" + table(
        ("scenario", "spot shocks", "vol shocks", "horizon", "book loss",
         "largest position loss"), rows, align="lllrrl")
    return Block(text, partial(plots.stress, scenarios), "stress.png", "Stress losses")


def _margin(m: Mapping) -> Block:
    g = m.get("grid") or {}
    lines = ["### Portfolio margin",
             f"Requirement: **{num(m.get('requirement'))}**"
             + (f" ({g['mode']} scan)." if g.get("mode") else ".")]
    w = m.get("worst_point") or {}
    if w:
        where = f" of {w['asset']}" if w.get("asset") else ""
        lines.append(f"Worst point: spot move {pct(w.get('spot'), signed=True)}{where}, "
                     f"vol shift {points(w.get('vol') or 0)}, loss {num(w.get('loss'))}"
                     f" (weight {sig(w.get('weight'))}).")
    venues = m.get("per_venue") or {}
    if venues:
        rows = list(venues.items())
        if m.get("sum_of_venues") is not None:
            rows.append(("sum of venues", m["sum_of_venues"]))
        if m.get("cross_venue_saving") is not None:
            rows.append(("cross-venue saving", m["cross_venue_saving"]))
        lines.append(table(("venue", "requirement"), rows))
    if g:
        fmt = {"spot_range": pct, "vol_shift": points,
               "extreme_weight": pct}
        lines.append(key_values([(k, fmt.get(k, str)(v)) for k, v in g.items()],
                                ("grid", "setting")))
    return Block("\n\n".join(lines), partial(riskplots.margin_grid, m), "margin_grid.png",
                 "Margin scan: loss over spot move and vol shift")


def _profile(p: Mapping | None) -> list[Block]:
    if not p or not p.get("dates"):
        return []
    cols = [("expected_exposure", "EE"), ("expected_negative_exposure", "ENE"),
            ("mean_value", "mean value"),
            ("pfe", f"PFE {pct(p['pfe_level'])}" if p.get("pfe_level") else "PFE")]
    cols = [(k, h) for k, h in cols if len(p.get(k) or []) == len(p["dates"])]
    liq = p.get("liquidation") or {}
    by_date = liq.get("probability_by_date") or []
    head = ["date (days)"] + [h for _, h in cols]
    if len(by_date) == len(p["dates"]):
        head.append("P(liquidated by date)")
    rows = [(f"{d * 365:.4g}", *(num(p[k][i]) for k, _ in cols),
             *([pct(by_date[i])] if len(head) > len(cols) + 1 else []))
            for i, d in enumerate(p["dates"])]
    lines = ["### Exposure profile", table(head, rows)]
    dd = p.get("max_drawdown") or {}
    if dd:
        lines.append(key_values([(f"max drawdown {k}", num(v)) for k, v in dd.items()],
                                ("statistic", "value"), "lr"))
    if liq:
        t = liq.get("expected_time_given_liquidation")
        lines.append(key_values([
            ("collateral", num(liq.get("collateral"))),
            ("maintenance margin", num(liq.get("maintenance_margin"))),
            ("P(liquidation)", pct(liq.get("probability"))),
            ("expected time, if liquidated", DASH if t is None else f"{t * 365:.4g} days")],
            ("liquidation", "value"), "lr"))
    return [Block("\n\n".join(lines), partial(riskplots.profile, p), "profile.png",
                  "Exposure profile")]


def convergence(r: Mapping) -> list[Block]:
    rows = sorted(r.get("rows") or [], key=lambda x: x.get("n_paths") or 0)
    top = highest({k for x in rows for m in ("var", "es") for k in (x.get(m) or {})})
    head = ["paths", "book value", "s.e.", "95% CI"]
    if top is not None:
        head += [f"VaR {level(top)}", "VaR CI", f"ES {level(top)}", "ES CI"]
    body = [(num(x.get("n_paths")), num(x.get("book_value")), num(x.get("book_stderr")),
             interval(x.get("book_ci95")),
             *([num((x.get("var") or {}).get(top)), interval((x.get("var_ci") or {}).get(top)),
                num((x.get("es") or {}).get(top)), interval((x.get("es_ci") or {}).get(top))]
               if top is not None else [])) for x in rows]
    return [Block("### Convergence in the number of paths\n\n"
                  + table(head, body, align="r" * len(head)),
                  partial(plots.convergence, rows), "convergence.png",
                  "Convergence of price, VaR and ES")]


def model_risk(r: Mapping) -> list[Block]:
    models = r.get("models") or {}
    top = highest({k for m in models.values() for t in ("var", "es") for k in (m.get(t) or {})})
    head = ["model", "book value", "s.e."]
    if top is not None:
        head += [f"VaR {level(top)}", f"ES {level(top)}"]
    body = [(name, num(m.get("book_value")), num(m.get("book_stderr")),
             *([num((m.get("var") or {}).get(top)), num((m.get("es") or {}).get(top))]
               if top is not None else [])) for name, m in models.items()]
    return [Block("### The book under each model\n\n" + table(head, body),
                  partial(plots.model_risk, models), "model_risk.png",
                  "Book value, VaR and ES per model")]


def calibrate(r: Mapping) -> list[Block]:
    from mcrisk.report import volplots

    q = r.get("quotes") or {}
    out = [Block(f"### Quotes\n\n`{q.get('path')}`: {q.get('n_accepted')} quotes accepted, "
                 f"{q.get('n_rejected')} rows rejected.\n\n"
                 + (table(("rejected because", "rows"),
                          list((q.get("rejected_by_reason") or {}).items()))
                    if q.get("rejected") else ""))]
    if q.get("rejected"):
        out.append(Block("#### Rejected rows\n\n" + table(
            ("row", "instrument", "reason"),
            [(x["row"], x["instrument"], x["reason"]) for x in q["rejected"]], align="rll")))
    for und, s in (r.get("surface") or {}).items():
        params = ", ".join(f"{k} {sig(v)}" for k, v in s["params"].items()
                           if not isinstance(v, list))
        rows = [((e["expiry"] or "")[:10], years(e["years"]), num(e["forward"]), e["n_quotes"],
                 pct(e["atm_vol"]), f"{e['rmse_vol_points']:.3f}",
                 pct(e["inside_bid_ask"]), f"{e['butterfly_min_g']:.3g}",
                 "yes" if e["butterfly_ok"] else "**no**") for e in s["expiries"]]
        cal = [c for c in s.get("calendar") or [] if not c["ok"]]
        text = (f"### {und}: {s['method'].upper()} surface\n\n"
                + (f"Parameters: {params}.\n\n" if params else "")
                + table(("expiry", "time", "forward", "quotes", "ATM vol", "RMSE (vol pts)",
                         "inside bid/ask", "min g", "no butterfly"), rows, align="lrrrrrrrr")
                + "\n\nCalendar: " + ("no arbitrage between consecutive expiries." if not cal
                                       else "; ".join(f"arbitrage from {years(c['from_years'])} "
                                                      f"to {years(c['to_years'])} (min dw "
                                                      f"{c['min_dw']:.3g})" for c in cal) + "."))
        out.append(Block(text, partial(volplots.smiles, und, s), f"smiles_{und}.png",
                         f"{und} smiles: market bid/ask and the fit"))
        out.append(Block("", partial(volplots.residuals, und, s), f"residuals_{und}.png",
                         f"{und} fit residuals"))
        out.append(Block("", partial(volplots.densities, und, s), f"density_{und}.png",
                         f"{und} implied densities"))
    for und, per in (r.get("models") or {}).items():
        rows = []
        for m, c in per.items():
            feller = ("" if c["feller_ratio"] is None else
                      f"{c['feller_ratio']:.3g}" + ("" if c["feller_holds"] else " (violated)"))
            rows.append((m, c["n_quotes"], f"{c['rmse_vol_points']:.3f}", c["iterations"],
                         f"{c['seconds']:.1f}", feller,
                         ", ".join(f"{k} {sig(v)}" for k, v in c["params"].items())))
        worst = {m: max(c["rmse_by_expiry"], key=lambda e: e["rmse_vol_points"])
                 for m, c in per.items()}
        out.append(Block(
            f"### {und}: models calibrated to the quotes\n\n"
            + table(("model", "quotes", "RMSE (vol pts)", "steps", "seconds", "Feller",
                     "parameters"), rows, align="lrrrrrl")
            + "\n\nWorst expiry: " + "; ".join(
                f"{m} {years(e['years'])} ({e['rmse_vol_points']:.2f} vol pts)"
                for m, e in worst.items()) + "."))
    for m, block in (r.get("model_blocks") or {}).items():
        import yaml

        out.append(Block(f"`model_{m}.yaml`:\n\n```yaml\n"
                         + yaml.safe_dump({"model": block}, sort_keys=False) + "```"))
    return out


def allocate(r: Mapping) -> list[Block]:
    from mcrisk.report import allocplots

    names = [a["name"] for a in r.get("assets") or []]
    lvl = f"{r['level']:.4g}"
    assets = table(("asset", "mean return", "stdev", f"CVaR {lvl}"),
                   [(a["name"], pct(a["mean"]), pct(a["stdev"]), pct(a["cvar"]))
                    for a in r.get("assets") or []], align="lrrr")
    cash = ("cash",) if r.get("cash") else ()
    rows = [(pct(p["mean"]), pct(p["cvar"]), pct(p["var"]),
             *(pct(p["weights"][n]) for n in names), *((pct(p["cash"]),) if cash else ()))
            for p in r.get("frontier") or []]
    text = (f"### Assets over {r['horizon'] * 365:.4g} days ({r['n_scenarios']} scenarios)"
            f"\n\n{assets}\n\n### Efficient frontier\n\n"
            + table(("mean return", f"CVaR {lvl}", f"VaR {lvl}", *names, *cash), rows,
                    align="r" * (3 + len(names) + len(cash))))
    b = r.get("best")
    if b:
        text += (f"\n\n**Best mean return with CVaR {lvl} at most {pct(b['cvar_cap'])}:** "
                 f"{pct(b['mean'])} (CVaR {pct(b['cvar'])}, VaR {pct(b['var'])}); weights "
                 + ", ".join(f"{n} {pct(b['weights'][n])}" for n in names)
                 + (f", cash {pct(b['cash'])}" if cash else "") + ".")
    return [Block(text, partial(allocplots.frontier, r), "frontier.png",
                  "mean-CVaR frontier and weights")]


def dynamic_hedge(r: Mapping) -> list[Block]:
    s = r.get("setup") or {}
    rows = [(x["rule"], num(x["cost"]), num(x["mean_se"]), num(x["stdev"]), num(x["es"]),
             interval(x.get("es_ci")), sig(x["trades"]), num(x["fees"]))
            for x in r.get("rows") or []]
    text = (f"### Cost of hedging against the rebalancing rule\n\n{s.get('paths')} paths, "
            f"true vol {sig(s.get('vol'))}, hedge vol {sig(s.get('hedge_vol'))}, "
            f"{s.get('instrument')} hedge, costs {sig(s.get('proportional'))} of notional + "
            f"{sig(s.get('fixed'))} per rebalance. Cost = -mean P&L; ES of the loss at "
            f"{level(s.get('level'))}.\n\n"
            + table(("rule", "cost", "± s.e.", "stdev", "ES", "ES 95% CI", "trades", "fees"),
                    rows, align="lrrrrrrr"))
    for x in r.get("rows") or []:
        d = x.get("deep")
        if d:
            text += (f"\n\n**{x['rule']}:** trained for {d['iterations']} steps of "
                     f"{d['batch']} fresh paths ({sig(d['seconds_train'])} s), without the "
                     f"fixed fees; out of sample its {d['measure']} risk is {num(d['risk'])} "
                     f"and its indifference price {num(d['indifference_price'])} (premium "
                     f"{num(d['premium'])}).")
    return [Block(text, partial(hedgeplots.frontier, r.get("rows") or []), "frontier.png",
                  "Cost–risk frontier")]


def backtest(r: Mapping) -> list[Block]:
    s = r.get("setup") or {}
    dates = r.get("dates") or []
    rows = []
    for md, m in (r.get("models") or {}).items():
        for key in sorted_levels(m["levels"]):
            x = m["levels"][key]
            tl, z2 = x["traffic_light"], x["es_test"]
            rows.append((md, level(key), x["exceptions"], sig(x["expected"]),
                         sig(x["kupiec"]["p_value"]), sig(x["christoffersen"]["p_ind"]),
                         sig(x["christoffersen"]["p_cc"]), tl["last"]["zone"],
                         f"{tl['worst']['zone']} ({tl['worst']['start']})",
                         sig(z2["z2"]) if z2["z2"] is not None else DASH,
                         sig(z2["p_value"]) if z2["p_value"] is not None else DASH,
                         num(x["mean_var"]), sig(m["seconds_per_day"])))
    text = (f"### Backtest of {len(dates)} days"
            + (f" ({dates[0]} to {dates[-1]})" if dates else "")
            + f"\n\nPrices {s.get('source')}, {s.get('window_type')} window of "
            f"{s.get('window')} returns, horizon {s.get('horizon_days')} day(s), options "
            f"marked at the {'window' if s.get('marking') == 'model' else 'implied'} vol; "
            f"{sig(r.get('seconds_per_day'))} s per backtested day in all. Traffic light: "
            f"zone of the last {min(250, len(dates))} days and the worst window of that "
            "length (its first day).\n\n"
            + table(("model", "level", "exceptions", "expected", "Kupiec p", "indep. p",
                     "cond. cov. p", "zone", "worst zone", "Z2", "Z2 p", "mean VaR",
                     "s/day"), rows, align="llrrrrrllrrrr"))
    return [Block(text, partial(backtestplots.pnl_var, r), "backtest_pnl.png",
                  "P&L, VaR and exceptions"),
            Block("", partial(backtestplots.exceptions, r), "backtest_exceptions.png",
                  "Exceptions over time")]


def hedge(r: Mapping) -> list[Block]:
    from mcrisk.report import hedgeplots

    keys = list(r.get("hedges") or {})
    names = [x["name"] for x in r.get("instruments") or []]
    lvl = f"{r['level']:.4g}"
    h = r.get("hedges") or {}
    rows = [(n, *(sig(h[k]["quantities"][n]) for k in keys)) for n in names]
    for label, get in ((f"ES {lvl}", lambda e: e["in_sample"]["es"]),
                       (f"ES {lvl} out of sample", lambda e: e["out_of_sample"]["es"]),
                       (f"VaR {lvl}", lambda e: e["in_sample"]["var"]),
                       ("stdev", lambda e: e["in_sample"]["stdev"]),
                       ("margin", lambda e: e["margin"]), ("costs", lambda e: e["cost"]),
                       ("fees", lambda e: e["fees"]), ("net cash paid", lambda e: e["cash"])):
        rows.append((f"**{label}**", *(num(get(h[k])) for k in keys)))
    text = (f"### Hedges (objective {r['objective']}, {r['n_scenarios']} scenarios over "
            f"{r['horizon'] * 365:.4g} days)\n\n"
            + table(("", *keys), rows, align="l" + "r" * len(keys)))
    if r.get("budget") is not None:
        text += (f"\n\nBudget {num(r['budget'])} on the net cash paid; multiplier "
                 f"{sig(r['multiplier'])}.")
    if r.get("dropped"):
        text += "\n\nLeft out to save their fee: " + ", ".join(r["dropped"]) + "."
    return [Block(text, partial(hedgeplots.hedges, r), "hedges.png",
                  "ES and margin of each hedge")]


TASKS: dict[str, Callable[[Mapping], list[Block]]] = {
    "price": price, "risk": risk, "stress": stress, "convergence": convergence,
    "model_risk": model_risk, "calibrate": calibrate, "allocate": allocate,
    "dynamic_hedge": dynamic_hedge, "backtest": backtest, "hedge": hedge}
