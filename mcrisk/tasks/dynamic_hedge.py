"""task=dynamic_hedge: the cost of delta hedging a book against rebalancing frequency and band.

One row per rebalancing rule of ``dynamic_hedge.sweep`` (time schedules, fixed bands, Whalley–Wilmott
bands), all on the same paths (keyed by path index): the mean cost of hedging, the P&L's
stdev and ES, trades and fees, each with its standard error; with ``dynamic_hedge.deep``, one
more row for a deep hedge trained on other paths and evaluated on those. The report plots the
cost–risk frontier. See `mcrisk.hedge.dynamic` and `mcrisk.hedge.deep`.
"""

from __future__ import annotations

import time
from typing import Any

from mcrisk import errors as E
from mcrisk.config import deep_hedge
from mcrisk.config.dynamic_hedge import describe, parse, sweep

# hedge.<key> that follow sim.<key> when not given.
FROM_SIM = (("paths", "n_paths"), ("chunk", "chunk_size"), ("seed", "seed"), ("dtype", "dtype"))

_R = "rows[]."
FIELDS = [
    ("task", "`dynamic_hedge`"),
    ("setup.<name>", "the checked inputs: `spot`, `rate`, `drift`, `horizon` (years), `steps` "
                     "(fine grid), `instrument`, `funding`, `pricing_vol`, `hedge_vol`, "
                     "`level`, `paths`, `chunk`, `seed`, `dtype`, `model`, `vol` (the true "
                     "vol), `proportional` (one-way cost fraction), `fixed` (fee per "
                     "rebalance), `gamma_hedge` (null: delta only)"),
    ("setup.model_params", "the model's own parameters (empty for gbm)"),
    ("setup.model_params.<name>", "one of them"),
    ("setup.gamma_hedge.<name>", "the gamma-hedge option's `type`, `strike`, `expiry`"),
    ("setup.book[].<name>", "each position's `type`, `strike`, `expiry`, `quantity`"),
    ("setup.deep", "the checked `dynamic_hedge.deep` section (null without a deep hedge): "
                   "`hidden` (layer widths), `measure` (`es` or `entropic`), `level`, "
                   "`risk_aversion`, `delta_feature`, `learning_rate`, `iterations`, `batch`, "
                   "`seed` (of the training paths and initial weights)"),
    ("setup.deep.<name>", "one of them"),
    (_R + "rule", "the rebalancing rule in words"),
    (_R + "kind", "`time`, `band`, `whalley_wilmott` or `deep`"),
    (_R + "every", "time schedule and deep hedge: fine steps between rebalances (null for "
                   "bands)"),
    (_R + "rebalances", "time schedule and deep hedge: rebalances over the horizon (null for "
                        "bands)"),
    (_R + "width", "fixed band: half-width in delta units (null otherwise)"),
    (_R + "risk_aversion", "Whalley–Wilmott band: the risk aversion γ (null otherwise)"),
    (_R + "paths", "paths simulated"),
    (_R + "mean", "mean hedged P&L in time-0 money (premium, hedge gains, costs, funding)"),
    (_R + "mean_se", "its standard error"),
    (_R + "cost", "cost of hedging: -mean"),
    (_R + "stdev", "stdev of the hedged P&L"),
    (_R + "stdev_se", "its standard error (delta method, fourth moment)"),
    (_R + "level", "VaR/ES level"),
    (_R + "var", "VaR of the loss -P&L at `level`"),
    (_R + "es", "ES of the loss -P&L at `level`"),
    (_R + "var_ci", "95% interval of `var` (order statistics)"),
    (_R + "es_ci", "95% interval of `es` (null below 20 tail paths)"),
    (_R + "trades", "mean number of trades per path (opening and closing trades included)"),
    (_R + "trades_se", "its standard error"),
    (_R + "fees", "mean costs paid per path, proportional plus fixed, time-0 money"),
    (_R + "fees_se", "its standard error"),
    (_R + "edge_fees", "the part of `fees` paid by the opening and the closing trade"),
    (_R + "edge_fees_se", "its standard error"),
    (_R + "deep", "deep-hedge row only: its training and risk measure"),
    (_R + "deep.measure", "`es` or `entropic`"),
    (_R + "deep.risk", "the measure of this row's P&L (out of sample: the evaluation paths)"),
    (_R + "deep.premium", "the book's value at `pricing_vol`, paid at t = 0 (signed)"),
    (_R + "deep.indifference_price", "`premium - risk`: the price at which the hedged book "
                                     "carries zero risk (Buehler et al. 2019)"),
    (_R + "deep.alpha", "es: the trained Rockafellar–Uryasev variable (the VaR of the "
                        "training loss at the optimum); entropic: unused"),
    (_R + "deep.iterations", "Adam steps taken"),
    (_R + "deep.batch", "fresh paths per step"),
    (_R + "deep.risk_first", "the measure on the first minibatch (initial weights)"),
    (_R + "deep.risk_last", "the measure on the last minibatch (fixed fees left out)"),
    (_R + "deep.seconds_train", "wall time of training, compilation included"),
    ("seconds_kernel", "wall time of the simulations, compilation included"),
    ("notes", "what the rows assume"),
]


def _rule(s, deep=None) -> dict:
    if deep is not None:
        every = s.every if s.rebalance == "time" else 1
        what = (f"ES {deep.level:g}" if deep.measure == "es"
                else f"entropic λ={deep.risk_aversion:g}")
        return dict(rule=f"deep, {what} ({s.steps // every} rebalances)", kind="deep",
                    every=every, rebalances=s.steps // every, width=None, risk_aversion=None)
    if s.rebalance == "time":
        return dict(rule=f"every {s.every} step{'s' if s.every > 1 else ''} "
                         f"({s.steps // s.every} rebalances)", kind="time", every=s.every,
                    rebalances=s.steps // s.every, width=None, risk_aversion=None)
    if s.rebalance == "band":
        return dict(rule=f"band ±{s.width:g} delta", kind="band", every=None, rebalances=None,
                    width=s.width, risk_aversion=None)
    return dict(rule=f"Whalley–Wilmott γ={s.risk_aversion:g}", kind="whalley_wilmott",
                every=None, rebalances=None, width=None, risk_aversion=s.risk_aversion)


def dynamic_hedge(cfg: dict, progress: Any = None) -> dict:
    """Run every rebalancing rule of ``cfg["dynamic_hedge"]`` on the same paths.

    Returns:
        The result dict (`FIELDS` documents each key).
    """
    section = dict(E.mapping("dynamic_hedge", cfg.get("dynamic_hedge") or {}))
    sim = cfg.get("sim") or {}
    for key, sim_key in FROM_SIM:
        if section.get(key) is None and sim.get(sim_key) is not None:
            section[key] = sim[sim_key]
    setup = parse(section)
    setups = sweep(setup, section.get("sweep"))  # every input checked before any compile
    deep = (deep_hedge.parse(section["deep"], setup) if section.get("deep") is not None
            else None)

    from mcrisk.engine import use_dtype
    from mcrisk.hedge import deep as deep_run
    from mcrisk.hedge import run

    use_dtype(setup.dtype)

    t0 = time.perf_counter()
    rows = []
    for s in setups:
        summary, _ = run(s)
        rows.append({**_rule(s), **summary})
    if deep is not None:
        summary, _, _ = deep_run.run(setup, deep)
        rows.append({**_rule(setup, deep), **summary})
    notes = ["P&L in time-0 money: premium at pricing_vol, hedge gains, costs and funding; "
             "the hedge is opened at t = 0 and closed at the horizon, both trades paying costs",
             "every row uses the same paths (keyed by path index)"]
    if deep is not None:
        notes.append("the deep hedge is trained on other paths (its own seed stream) without "
                     "the fixed fees, which make the objective flat in the policy; its row "
                     "charges them, at every rebalance, as its holding moves at each")
    described = describe(setup)
    described["deep"] = deep_hedge.describe(deep) if deep is not None else None
    return {"task": "dynamic_hedge", "setup": described, "rows": rows,
            "seconds_kernel": time.perf_counter() - t0, "notes": notes}


def table(result: dict) -> str:
    """Plain-text table: one line per rebalancing rule."""
    from mcrisk.tasks.risk import money

    s = result["setup"]
    lines = [f"dynamic hedge: {len(s['book'])} position(s), spot {money(s['spot'])}, true vol "
             f"{s['vol']:.4g}, hedge vol {s['hedge_vol']:.4g}, {s['instrument']}, "
             f"{s['paths']} paths, ES level {s['level']:g}"]
    head = (f"{'rule':<32} {'cost':>14} {'± s.e.':>10} {'stdev':>14} {'ES':>14} "
            f"{'trades':>8} {'fees':>14}")
    lines += [head, "-" * len(head)]
    for r in result["rows"]:
        lines.append(f"{r['rule']:<32} {money(r['cost']):>14} {money(r['mean_se']):>10} "
                     f"{money(r['stdev']):>14} {money(r['es']):>14} {r['trades']:>8.1f} "
                     f"{money(r['fees']):>14}")
    return "\n".join(lines)
