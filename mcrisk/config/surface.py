"""Validation of `market.surface`: SSVI implied-vol surfaces the closed forms mark at.

Either quotes to fit at build time (`mcrisk.vol.surface.fit_surface`; JAX is imported only
then, so `--help` and `--cfg` stay light):

    surface: {quotes: chain.csv, underlyings: {BTC: BTC}, method: ssvi,
              valuation_date: ..., rate: ..., dynamics: sticky_strike}

or a file of fitted surfaces: the ``results.json`` of ``task=calibrate`` (its ``surface``
section), or a YAML/JSON mapping of underlying to ``{rho, eta, gamma, expiries, thetas}``
(optionally under a ``surface`` key):

    surface: {file: results.json, dynamics: sticky_moneyness}

``underlyings`` maps market assets to the file's underlyings (default: each asset's own
name, case-insensitive); assets the file has no surface for keep their flat `market.vol`,
with a note. Only SSVI surfaces are supported (one arbitrage-free surface per asset, whose
interpolation in expiry the kernels evaluate). See `mcrisk.riskengine.surfvol`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from mcrisk import errors as E
from mcrisk.errors import ConfigError
from mcrisk.problem import Market, Model, SurfaceSet

DYNAMICS = ("sticky_strike", "sticky_moneyness")
KEYS = ("quotes", "file", "underlyings", "method", "valuation_date", "rate", "dynamics",
        "price_unit", "iv_unit", "vega_buckets")
F = "market.surface"


def build_surface(raw: Any, market: Market, model: Model, notes: list[str]) -> SurfaceSet | None:
    """Validate `market.surface` and return the surfaces per asset (None when not set)."""
    if raw is None:
        return None
    raw = E.mapping(F, raw)
    E.only_keys(F, raw, KEYS)
    if (raw.get("quotes") is None) == (raw.get("file") is None):
        raise ConfigError(F, sorted(raw), "either 'quotes' (an option chain to fit) or 'file' "
                          "(fitted surfaces), not both")
    if model.name != "gbm":
        raise ConfigError("model.name", model.name, "gbm with market.surface (the surface marks "
                          "the Black-Scholes closed forms; other models price their own smile)")
    dynamics = E.choice(f"{F}.dynamics", raw.get("dynamics", DYNAMICS[0]), DYNAMICS)
    method = E.choice(f"{F}.method", raw.get("method", "ssvi"), ("ssvi",))
    names = _underlyings(raw.get("underlyings"), market)
    edges = tuple(E.number(f"{F}.vega_buckets[{i}]", x, lo=0.0, lo_open=True)
                  for i, x in enumerate(E.sequence(f"{F}.vega_buckets",
                                                   raw.get("vega_buckets", [7, 30, 90, 180]),
                                                   min_length=1, what="a list of days")))
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ConfigError(f"{F}.vega_buckets", list(edges), "strictly increasing days")
    if raw.get("quotes") is not None:
        found = _fit(raw, names, method, notes)
    else:
        if raw.get("file") is not None and any(raw.get(k) is not None for k in (
                "valuation_date", "rate", "price_unit", "iv_unit")):
            raise ConfigError(F, sorted(raw), "valuation_date, rate, price_unit and iv_unit "
                              "only with 'quotes' (a file's surfaces are already fitted)")
        found = _read(E.string(f"{F}.file", raw["file"]), names)
    n = market.n_assets
    if not found:
        raise ConfigError(f"{F}.underlyings", names, "at least one asset with a surface")
    knots = max(len(t) for _, _, _, t, _ in found.values())
    has = np.zeros(n, bool)
    rho, eta, gamma = np.zeros(n), np.zeros(n), np.full(n, 0.25)
    ts, ths = np.zeros((n, knots)), np.zeros((n, knots))
    for a in range(n):
        if a in found:
            has[a] = True
            rho[a], eta[a], gamma[a], t, th = found[a]
        else:  # flat at market.vol; never read (the kernels take the flat vol), but finite
            t, th = np.ones(1), np.full(1, market.vols[a] ** 2)
            notes.append(f"{F}: no surface for {market.assets[a]}; it keeps its flat "
                         f"market.vol {market.vols[a]:g}")
        # Padding along the flat-ATM-vol ray leaves theta(T) unchanged.
        grow = 2.0 ** np.arange(1, knots - len(t) + 1)
        ts[a] = np.concatenate([t, t[-1] * grow])
        ths[a] = np.concatenate([th, th[-1] * grow])
    notes.append(f"{F}: closed forms mark each contract at its own strike and expiry "
                 f"({dynamics}); Monte Carlo-valued positions keep the flat market.vol")
    return SurfaceSet(dynamics=dynamics, has=has, rho=rho, eta=eta, gamma=gamma,
                      expiries=ts, thetas=ths, vega_buckets=edges)


def _underlyings(raw: Any, market: Market) -> dict[int, str]:
    if raw is None:
        return {a: name for a, name in enumerate(market.assets)}
    raw = E.mapping(f"{F}.underlyings", raw)
    out = {}
    for asset, und in raw.items():
        if asset not in market.assets:
            raise ConfigError(f"{F}.underlyings.{asset}", und, "a market asset (one of "
                              + ", ".join(market.assets) + ")")
        out[market.index(asset)] = E.string(f"{F}.underlyings.{asset}", und)
    return out


def _fit(raw: dict, names: dict[int, str], method: str, notes: list[str]) -> dict:
    from mcrisk.vol.quotes import read_chain
    from mcrisk.vol.surface import fit_surface

    path = E.string(f"{F}.quotes", raw["quotes"])
    chain = read_chain(path, valuation_date=raw.get("valuation_date"), rate=raw.get("rate"),
                       price_unit=raw.get("price_unit", "auto"),
                       iv_unit=raw.get("iv_unit", "auto"), field=F)
    have = {u.upper() for u in chain.underlying.tolist()}
    out = {}
    for a, und in names.items():
        if und.upper() not in have:
            continue
        s = fit_surface(chain, und, method=method, field=F)
        p = s.params
        out[a] = _checked(f"{F}.quotes[{und}]", float(p.rho), float(p.eta), float(p.gamma),
                          np.asarray(p.expiries).tolist(), np.asarray(p.thetas).tolist())
        rmse = np.asarray(s.rmse_vol_points)
        notes.append(f"{F}: {und} fitted ({method}) to {int(np.sum(s.n_quotes))} quotes of "
                     f"{path} over {len(s.expiries)} expiries, RMSE {rmse.min():.3g}-"
                     f"{rmse.max():.3g} vol points per expiry")
        notes.extend(s.notes)
    return out


def _read(path: str, names: dict[int, str]) -> dict:
    if not os.path.isfile(path):
        raise ConfigError(f"{F}.file", path, "an existing results.json of task=calibrate or a "
                          "YAML/JSON file of SSVI parameters per underlying")
    try:
        with open(path, encoding="utf-8") as fh:
            if path.endswith(".json"):
                data = json.load(fh)
            else:
                import yaml

                data = yaml.safe_load(fh)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{F}.file", path, f"a readable JSON/YAML file ({exc})") from None
    data = E.mapping(f"{F}.file", data)
    data = E.mapping(f"{F}.file[surface]", data["surface"]) if "surface" in data else data
    by_upper = {str(k).upper(): k for k in data}
    out = {}
    for a, und in names.items():
        key = by_upper.get(und.upper())
        if key is None:
            continue
        where = f"{F}.file[{key}]"
        s = E.mapping(where, data[key])
        if "params" in s:  # a task=calibrate surface section
            if s.get("method") != "ssvi":
                raise ConfigError(f"{where}.method", s.get("method"), "ssvi")
            p = E.mapping(f"{where}.params", s["params"])
            exp = [E.mapping(f"{where}.expiries[{i}]", e).get("years")
                   for i, e in enumerate(E.sequence(f"{where}.expiries", s.get("expiries"),
                                                    min_length=1))]
            vals = (p.get("rho"), p.get("eta"), p.get("gamma"), exp, p.get("thetas"))
        else:
            E.only_keys(where, s, ("rho", "eta", "gamma", "expiries", "thetas"))
            vals = tuple(E.required(where, s, k) for k in ("rho", "eta", "gamma", "expiries",
                                                           "thetas"))
        out[a] = _checked(where, *vals)
    return out


def _checked(where: str, rho, eta, gamma, expiries, thetas) -> tuple:
    """SSVI parameters that make an arbitrage-free surface (`mcrisk.vol.ssvi`), as floats."""
    rho = E.number(f"{where}.rho", rho, lo=-1.0, hi=1.0, lo_open=True,
                   hi_open=True)
    eta = E.number(f"{where}.eta", eta, lo=0.0)
    gamma = E.number(f"{where}.gamma", gamma, lo=0.0, hi=0.5, lo_open=True)
    if eta * (1.0 + abs(rho)) > 2.0 + 1e-12:
        raise ConfigError(f"{where}.eta", eta, f"eta (1 + |rho|) <= 2 (no butterfly arbitrage;"
                          f" rho is {rho:g})")
    t = np.array([E.number(f"{where}.expiries[{i}]", x, lo=0.0, lo_open=True)
                  for i, x in enumerate(E.sequence(f"{where}.expiries", expiries,
                                                   min_length=1))])
    th = np.array([E.number(f"{where}.thetas[{i}]", x, lo=0.0, lo_open=True)
                   for i, x in enumerate(E.sequence(f"{where}.thetas", thetas,
                                                    length=len(t)))])
    if np.any(np.diff(t) <= 0):
        raise ConfigError(f"{where}.expiries", t.tolist(), "strictly increasing year fractions")
    if np.any(np.diff(th) < 0):
        raise ConfigError(f"{where}.thetas", th.tolist(), "ATM total variances non-decreasing "
                          "in expiry (no calendar arbitrage)")
    return rho, eta, gamma, t, th
