"""task=calibrate quotes=<chain.csv>: read an option chain and fit it, section by section.

The result holds ``quotes`` (what was read, what was rejected and why), ``surface`` (an
implied-vol surface per underlying, `mcrisk.vol.surface.fit_surface`) and, with
``quotes.models``, ``models`` (heston, bates or merton calibrated to each underlying's quotes,
`mcrisk.calibrate.models.calibrate`) and ``model_blocks`` (the fitted ``model:`` block of each
model, one value per underlying, written next to results.json as ``model_<name>.yaml``).
Each part is one function from the chain to its section.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from mcrisk import errors as E
from mcrisk.errors import ConfigError

FIELD = "quotes"
KEYS = ("path", "underlyings", "valuation_date", "rate", "price_unit", "iv_unit", "method",
        "models", "optimizer", "starts", "loss")
MODELS = ("heston", "bates", "merton")
CURVE_POINTS = 81

_Q, _S, _E = "quotes.", "surface.<underlying>.", "surface.<underlying>.expiries[]."
# What each key of its results.json means (docs/results.md is rendered from this).
FIELDS = [
    ("task", "`calibrate`"),
    (_Q + "path", "the chain file read"),
    (_Q + "n_accepted", "quotes accepted"), (_Q + "n_rejected", "rows rejected"),
    (_Q + "rejected_by_reason.<reason>", "rejected rows per kind of problem (a row's first "
                                         "problem decides)"),
    (_Q + "rejected[].row", "0-based data row of a rejected row"),
    (_Q + "rejected[].instrument", "its instrument"),
    (_Q + "rejected[].reason", "every problem of the row, naming the column and value"),
    (_Q + "notes", "how the file was read: columns, units, counts"),
    (_S + "method", "`ssvi` or `svi`"),
    (_S + "params.<name>", "fitted parameters: SSVI `rho`, `eta`, `gamma`, `thetas` (ATM "
                           "total variance per expiry), or SVI `a`, `b`, `rho`, `m`, `sigma` "
                           "(one per expiry)"),
    (_E + "expiry", "ISO expiry time (UTC), null where the file gave years"),
    (_E + "years", "time to expiry (ACT/365)"),
    (_E + "forward", "median forward of the expiry's quotes"),
    (_E + "n_quotes", "quotes fitted"),
    (_E + "rmse_vol_points", "weighted RMSE of the fitted vols, vol points"),
    (_E + "atm_vol", "fitted vol at k = 0"),
    (_E + "inside_bid_ask", "share of the quotes with a bid or ask vol whose fitted vol lies "
                            "within them (null if none has)"),
    (_E + "svi.<name>", "the raw SVI slice `a`, `b`, `rho`, `m`, `sigma`"),
    (_E + "butterfly_min_g", "minimum of Durrleman's g on the report grid"),
    (_E + "butterfly_ok", "no butterfly arbitrage (g >= 0)"),
    (_E + "curve.<name>", "`k` grid over the quoted range, fitted `vol` and `density` of "
                          "ln(S_T/F) on it"),
    (_S + "calendar[].<name>", "consecutive expiries `from_years`, `to_years`, `min_dw` (least "
                               "total-variance increase) and `ok`"),
    (_S + "arbitrage_free", "no butterfly or calendar arbitrage on the report grid"),
    (_S + "arbitrage", "the arbitrage report, one line per expiry and pair"),
    (_S + "residuals[].<name>", "per quote: `instrument`, `years`, `strike`, `k`, "
                                "`market_vol`, `bid_vol`/`ask_vol` (null: no such side), "
                                "`model_vol`, `residual` (model - market), `inside` (null: no "
                                "bid or ask vol), `weight`"),
    (_S + "notes", "where the market vols came from; expiries left out"),
    ("models.<underlying>.<model>.params.<name>", "fitted parameters (merton's `vol` is the "
                                                   "diffusive vol: market.vol of a config)"),
    ("models.<underlying>.<model>.rmse_vol_points", "weighted RMSE of the model's implied "
                                                     "vols against the quotes, vol points"),
    ("models.<underlying>.<model>.rmse_by_expiry[].years", "an expiry of the chain, years"),
    ("models.<underlying>.<model>.rmse_by_expiry[].rmse_vol_points", "the weighted RMSE of "
                                                                     "its quotes, vol points"),
    ("models.<underlying>.<model>.loss", "final loss of the best start (vol points squared)"),
    ("models.<underlying>.<model>.loss_history", "the best start's loss per optimizer step"),
    ("models.<underlying>.<model>.starts[].initial.<name>", "a start's initial parameters"),
    ("models.<underlying>.<model>.starts[].final.<name>", "its fitted parameters"),
    ("models.<underlying>.<model>.starts[].loss", "its final loss (vol points squared)"),
    ("models.<underlying>.<model>.feller_ratio", "2 kappa theta / xi^2 (heston, bates; below 1 "
                                                  "the variance reaches 0), null for merton"),
    ("models.<underlying>.<model>.feller_holds", "feller_ratio >= 1 (null for merton)"),
    ("models.<underlying>.<model>.iterations", "optimizer steps the best start took"),
    ("models.<underlying>.<model>.seconds", "wall time of the fit, compilation included"),
    ("models.<underlying>.<model>.n_quotes", "out-of-the-money quotes fitted"),
    ("model_blocks.<model>.<name>", "the `model:` block for a config whose market.assets are the "
                             "fitted underlyings in this order; also model_<model>.yaml"),
]


def quotes_options(cfg: dict) -> dict:
    """The checked ``quotes`` section, with defaults filled in; nothing imported or read."""
    from mcrisk.config.schema import QuotesConf

    raw = dict(E.mapping(FIELD, cfg.get(FIELD) or {}))
    E.only_keys(FIELD, raw, KEYS)
    d = QuotesConf()
    opts = {k: raw.get(k, getattr(d, k)) for k in KEYS}
    path = opts["path"]
    if path is None or path == "???":
        raise ConfigError(f"{FIELD}.path", path, "the path of an option-chain file (.csv or "
                          ".parquet): quotes=<file> or quotes.path=<file>")
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise ConfigError(f"{FIELD}.path", path, "an existing option-chain file (.csv or "
                          f".parquet; relative paths start at {os.getcwd()})")
    und = opts["underlyings"]
    if und is not None:
        und = E.sequence(f"{FIELD}.underlyings", und, min_length=1, what="a list of names")
        for i, u in enumerate(und):
            E.string(f"{FIELD}.underlyings[{i}]", u)
        opts["underlyings"] = und
    if opts["rate"] is not None:
        opts["rate"] = E.number(f"{FIELD}.rate", opts["rate"])
    from mcrisk.vol.quotes import IV_UNITS, PRICE_UNITS

    E.choice(f"{FIELD}.price_unit", opts["price_unit"], PRICE_UNITS)
    E.choice(f"{FIELD}.iv_unit", opts["iv_unit"], IV_UNITS)
    E.choice(f"{FIELD}.method", opts["method"], ("ssvi", "svi"))
    models = E.sequence(f"{FIELD}.models", opts["models"] or [], what="a list of model names")
    for i, m in enumerate(models):
        E.choice(f"{FIELD}.models[{i}]", m, MODELS)
    opts["models"] = list(models)
    E.choice(f"{FIELD}.optimizer", opts["optimizer"], ("lbfgs", "adam"))
    E.choice(f"{FIELD}.loss", opts["loss"], ("vol", "price"))
    opts["starts"] = E.integer(f"{FIELD}.starts", opts["starts"], lo=1)
    return opts


def calibrate(cfg: dict, progress: Any = None) -> dict:
    """Run task=calibrate on a plain-dict config; see the module docstring.

    Raises:
        ConfigError: a bad ``quotes`` section, an unreadable chain, an underlying not in it.
        NonFiniteError: a fit produced a non-finite number.
    """
    opts = quotes_options(cfg)
    from mcrisk.vol.quotes import read_chain

    chain = read_chain(opts["path"], valuation_date=opts["valuation_date"], rate=opts["rate"],
                       price_unit=opts["price_unit"], iv_unit=opts["iv_unit"], field=FIELD)
    names = sorted(set(chain.underlying.tolist()))
    wanted = opts["underlyings"] or names
    upper = {n.upper(): n for n in names}
    for i, u in enumerate(wanted):
        if u.upper() not in upper:
            raise ConfigError(f"{FIELD}.underlyings[{i}]", u, "an underlying of the chain: "
                              + ", ".join(names))
    result = {"task": "calibrate", "quotes": quotes_section(chain)}
    result["surface"] = {upper[u.upper()]: surface_section(chain, upper[u.upper()],
                                                           opts["method"]) for u in wanted}
    notes = [f"{len(chain)} quotes accepted, {len(chain.rejected)} rows rejected"
             + "".join(f"; {k}: {n}" for k, n in result["quotes"]["rejected_by_reason"].items())]
    for und, s in result["surface"].items():
        notes += s["notes"]
        if not s["arbitrage_free"]:
            notes.append(f"{und}: the fitted {s['method']} slices have static arbitrage "
                         "(see surface." + und + ".arbitrage)")
    if opts["models"]:
        fits = {m: {upper[u.upper()]: calibrate_model(chain, upper[u.upper()], m, opts)
                    for u in wanted} for m in opts["models"]}
        result["models"] = {und: {m: model_section(fits[m][und]) for m in opts["models"]}
                            for und in result["surface"]}
        from mcrisk.calibrate.models import model_block

        result["model_blocks"] = {m: model_block(f) for m, f in fits.items()}
        for und, per in result["models"].items():
            for m, sec in per.items():
                if sec["feller_holds"] is False:
                    notes.append(f"{und} {m}: Feller condition violated (2 kappa theta / xi^2 = "
                                 f"{sec['feller_ratio']:.3g}): the variance reaches 0")
    result["notes"] = notes
    return E.check_finite(result, "", "check the quotes")


def calibrate_model(chain, underlying: str, model: str, opts: dict):
    """One model calibrated to one underlying's out-of-the-money quotes."""
    from mcrisk.calibrate.models import calibrate as fit
    from mcrisk.calibrate.quotes import quotes_from_chain

    return fit(model, quotes_from_chain(chain, underlying), optimizer=opts["optimizer"],
               starts=opts["starts"], loss=opts["loss"])


def model_section(c) -> dict:
    """A `Calibration` as JSON."""
    return {"params": {k: fl(v) for k, v in c.params.items()},
            "rmse_vol_points": fl(c.rmse_vol_points),
            "rmse_by_expiry": [{"years": fl(t), "rmse_vol_points": fl(e)}
                               for t, e in sorted(c.rmse_by_expiry.items())],
            "loss": fl(c.loss), "loss_history": [fl(x) for x in c.loss_history],
            "starts": [{"initial": {k: fl(v) for k, v in a.items()},
                        "final": {k: fl(v) for k, v in b.items()}, "loss": fl(x)}
                       for a, b, x in c.starts],
            "feller_ratio": None if c.feller_ratio is None else fl(c.feller_ratio),
            "feller_holds": c.feller_holds, "iterations": int(c.iterations),
            "seconds": fl(c.seconds), "n_quotes": int(c.n_quotes)}


def write_model_files(result: dict, out_dir: str | os.PathLike) -> list[Path]:
    """Each fitted ``model:`` block as ``model_<name>.yaml`` in `out_dir`, ready to merge
    into a config (``model=...`` or pasted under ``model:``)."""
    import yaml

    from mcrisk import atomic

    written = []
    for name, block in (result.get("model_blocks") or {}).items():
        path = Path(out_dir) / f"model_{name}.yaml"
        unds = ", ".join(result.get("models") or {})
        atomic.write_text(path, f"# Calibrated to {result['quotes']['path']} ({unds}: one value "
                                "per underlying, in this order)\n"
                          + yaml.safe_dump({"model": block}, sort_keys=False))
        written.append(path)
    return written


def quotes_section(chain) -> dict:
    """What was read: the file, the counts, every rejected row with its reason, the notes."""
    return {"path": chain.source, "n_accepted": len(chain), "n_rejected": len(chain.rejected),
            "rejected_by_reason": chain.rejection_counts(),
            "rejected": [{"row": r.row, "instrument": r.instrument, "reason": r.reason}
                         for r in chain.rejected],
            "notes": list(chain.notes)}


def surface_section(chain, underlying: str, method: str) -> dict:
    """The fitted surface of one underlying as JSON: parameters, per-expiry fit quality,
    arbitrage checks, residuals per quote, and the fitted smile and density on a grid."""
    import numpy as np

    from mcrisk.vol import svi
    from mcrisk.vol.surface import curve, fit_surface

    s = fit_surface(chain, underlying, method=method, field=FIELD)
    rep, r = s.arbitrage, s.residuals
    params = {k: np.asarray(v).tolist() for k, v in s.params._asdict().items()
              if k != "expiries"}
    expiries = []
    for j, t in enumerate(s.expiries):
        k, vol = curve(s, j, CURVE_POINTS)
        p = {f: fl(np.asarray(v)[j]) for f, v in s.slices._asdict().items()}
        dens = np.asarray(svi.density(svi.SviParams(*map(np.asarray, p.values())), k))
        mine = r.expiry == t
        expiries.append({
            "expiry": None if np.isnat(s.expiry_dates[j]) else str(s.expiry_dates[j]) + "Z",
            "years": fl(t), "forward": fl(s.forwards[j]), "n_quotes": int(s.n_quotes[j]),
            "rmse_vol_points": fl(s.rmse_vol_points[j]),
            "atm_vol": fl(math.sqrt(svi_w(p, 0.0) / t)),
            "inside_bid_ask": fl(np.mean(r.inside[mine & r.quoted])) if (mine & r.quoted).any()
            else None,
            "svi": p, "butterfly_min_g": fl(rep.g_min[j]),
            "butterfly_ok": bool(rep.butterfly_ok[j]),
            "curve": {"k": k.tolist(), "vol": vol.tolist(), "density": dens.tolist()}})
    calendar = [{"from_years": fl(s.expiries[i]), "to_years": fl(s.expiries[i + 1]),
                 "min_dw": fl(rep.calendar_min[i]), "ok": bool(rep.calendar_ok[i])}
                for i in range(len(s.expiries) - 1)]
    residuals = [{"instrument": str(r.instrument[i]), "years": fl(r.expiry[i]),
                  "strike": fl(r.strike[i]), "k": fl(r.k[i]), "market_vol": fl(r.market_vol[i]),
                  "bid_vol": opt(r.bid_vol[i]), "ask_vol": opt(r.ask_vol[i]),
                  "model_vol": fl(r.model_vol[i]), "residual": fl(r.residual[i]),
                  "inside": bool(r.inside[i]) if r.quoted[i] else None,
                  "weight": fl(r.weight[i])} for i in range(len(r.k))]
    return {"method": s.method, "params": params, "expiries": expiries, "calendar": calendar,
            "arbitrage_free": bool(rep.ok), "arbitrage": rep.lines(),
            "residuals": residuals, "notes": list(s.notes)}


def fl(x: Any) -> float:
    """A NumPy/JAX scalar as a JSON number."""
    return float(x)


def opt(x: Any) -> float | None:
    """A bid or ask vol as a JSON number, None where the quote has no such side."""
    return None if math.isnan(x) else float(x)


def svi_w(p: dict, k: float) -> float:
    """Raw SVI total variance of one slice given as a dict, in plain Python."""
    x = k - p["m"]
    return p["a"] + p["b"] * (p["rho"] * x + math.sqrt(x * x + p["sigma"] ** 2))


def calibrate_surface(cfg: Any, out_dir: str | os.PathLike | None = None) -> dict:
    """task=calibrate from Python: the result dict, and with `out_dir` also its results.json,
    report.md and plots there (as the command line writes them into its run folder)."""
    from mcrisk.config.build import to_plain

    plain = dict(E.mapping("config", to_plain(cfg)))
    plain["task"] = "calibrate"
    result = calibrate(plain)
    if out_dir is not None:
        from mcrisk import atomic
        from mcrisk.report import write_report

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_json(out / "results.json", result)
        write_model_files(result, out)
        write_report(result, out)
    return result


def table(result: dict) -> str:
    """Plain-text summary: rejected rows, then per underlying and expiry the fit quality."""
    q = result["quotes"]
    lines = [f"{q['path']}: {q['n_accepted']} quotes, {q['n_rejected']} rows rejected"
             + "".join(f"; {k} {n}" for k, n in q["rejected_by_reason"].items())]
    head = (f"{'underlying':<10} {'expiry':<11} {'years':>8} {'forward':>12} {'quotes':>6} "
            f"{'ATM vol':>8} {'RMSE pts':>8} {'in b/a':>7} {'butterfly':>9}")
    lines += [head, "-" * len(head)]
    for und, s in result["surface"].items():
        for e in s["expiries"]:
            inside = "" if e["inside_bid_ask"] is None else f"{e['inside_bid_ask']:.0%}"
            lines.append(f"{und:<10} {(e['expiry'] or '')[:10]:<11} {e['years']:>8.4f} "
                         f"{e['forward']:>12.2f} {e['n_quotes']:>6} {e['atm_vol']:>8.2%} "
                         f"{e['rmse_vol_points']:>8.3f} {inside:>7} "
                         f"{'ok' if e['butterfly_ok'] else 'ARBITRAGE':>9}")
        cal = all(c["ok"] for c in s["calendar"])
        lines.append(f"{und}: {s['method']} surface, calendar {'ok' if cal else 'ARBITRAGE'}, "
                     + ("free of static arbitrage" if s["arbitrage_free"]
                        else "static arbitrage found"))
    for und, per in (result.get("models") or {}).items():
        for m, sec in per.items():
            feller = ("" if sec["feller_ratio"] is None else
                      f", Feller {sec['feller_ratio']:.3g}"
                      + ("" if sec["feller_holds"] else " (violated)"))
            lines.append(f"{und} {m}: RMSE {sec['rmse_vol_points']:.3f} vol pts over "
                         f"{sec['n_quotes']} quotes, {sec['iterations']} steps, "
                         f"{sec['seconds']:.1f} s{feller}; "
                         + ", ".join(f"{k} {v:.4g}" for k, v in sec["params"].items()))
    return "\n".join(lines)
