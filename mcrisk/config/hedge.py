"""The ``hedge`` section of task=hedge, checked on the host before anything is compiled.

Every field is checked with its path (``hedge.instruments[2].strike``) and unknown keys
are rejected; the defaults are those of `mcrisk.config.schema.HedgeConf`. Instruments are
checked as positions of the book's market (`mcrisk.config.positions.build_position`), so a
bad strike or an unknown type names the hedge field, not the combined book built later.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, NamedTuple

import numpy as np

from mcrisk import errors as E
from mcrisk.config.positions import build_position
from mcrisk.errors import ConfigError

FIELD = "hedge"
OBJECTIVES = ("es", "variance", "margin")
# Keys of an instrument that are hedge terms, not contract terms.
HEDGE_KEYS = ("min", "max", "cost", "fee")
PREFIX = "hedge:"  # instrument names in the combined book: no clash with the book's names
LINEAR = ("spot", "perpetual", "forward")


class Instrument(NamedTuple):
    """One candidate: its contract (a position mapping, quantity 1) and its hedge terms."""

    name: str
    type: str
    asset: int | None  # the single underlying's index; None for multi-asset payoffs
    position: dict
    lower: float  # -inf: no limit
    upper: float  # inf: no limit
    cost: float  # fraction of the traded notional
    fee: float


class HedgeOptions(NamedTuple):
    """The checked section: see `HedgeConf` for the meaning of each field."""

    instruments: tuple[Instrument, ...]
    objective: str
    level: float
    budget: float | None
    oos_seed: int


def hedge_options(cfg: dict, market, seed: int) -> HedgeOptions:
    """The checked ``hedge`` section of a plain-dict config, defaults filled in.

    Args:
      cfg: the whole plain-dict config.
      market: the book's built `Market` (instrument assets are checked against it).
      seed: ``sim.seed`` (the out-of-sample seed defaults to the next one).

    Raises:
      ConfigError: naming the field, the value and what was expected.
    """
    from mcrisk.config.schema import HedgeConf

    raw = dict(E.mapping(FIELD, cfg.get(FIELD) or {}))
    keys = [f.name for f in fields(HedgeConf)]
    E.only_keys(FIELD, raw, keys)
    d = HedgeConf()
    o = {k: raw[k] if raw.get(k) is not None else getattr(d, k) for k in keys}
    objective = E.choice(f"{FIELD}.objective", o["objective"], OBJECTIVES)
    level = E.number(f"{FIELD}.level", o["level"], lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    cost = E.number(f"{FIELD}.cost", o["cost"], lo=0.0, hi=1.0)
    fee = E.number(f"{FIELD}.fee", o["fee"], lo=0.0)
    budget = None if o["budget"] is None else E.number(f"{FIELD}.budget", o["budget"])
    oos = seed + 1 if o["oos_seed"] is None else E.integer(f"{FIELD}.oos_seed", o["oos_seed"],
                                                           lo=0)
    if oos == seed:
        raise ConfigError(f"{FIELD}.oos_seed", oos, f"a seed other than sim.seed = {seed} "
                          "(out-of-sample scenarios must be fresh)")
    items = E.sequence(f"{FIELD}.instruments", o["instruments"], min_length=0,
                       what="a list of candidate hedge instruments (position mappings)")
    out = [_instrument(f"{FIELD}.instruments[{i}]", x, market, i, cost, fee)
           for i, x in enumerate(items)]
    for j, chain in enumerate(E.sequence(f"{FIELD}.listed", o["listed"], min_length=0,
                                         what="a list of option chains")):
        for raw, path in _listed(f"{FIELD}.listed[{j}]", chain):
            out.append(_instrument(path, raw, market, len(out), cost, fee))
    if E.boolean(f"{FIELD}.from_book", o["from_book"]):
        for raw, path in _book_contracts(cfg):
            out.append(_instrument(path, raw, market, len(out), cost, fee))
    if not out:
        raise ConfigError(f"{FIELD}.instruments", list(items),
                          "at least one candidate: instruments, listed or from_book: true")
    out = tuple(out)
    names = [x.name for x in out]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise ConfigError(f"{FIELD}.instruments[{i}].name", n[len(PREFIX):],
                              "a name not used by another instrument")
    return HedgeOptions(out, objective, level, budget, oos)


def _listed(path: str, raw: Any) -> list[tuple[dict, str]]:
    """The european candidates of one ``listed`` chain, each with the path it came from."""
    raw = dict(E.mapping(path, raw))
    E.only_keys(path, raw, ("asset", "strikes", "expiries", "options") + HEDGE_KEYS)
    asset = E.string(f"{path}.asset", raw.get("asset"))
    strikes = [E.number(f"{path}.strikes[{i}]", k, lo=0.0, lo_open=True) for i, k in
               enumerate(E.sequence(f"{path}.strikes", raw.get("strikes"), min_length=1,
                                    what="a list of strikes"))]
    expiries = [E.number(f"{path}.expiries[{i}]", t, lo=0.0, lo_open=True) for i, t in
                enumerate(E.sequence(f"{path}.expiries", raw.get("expiries"), min_length=1,
                                     what="a list of expiries (years)"))]
    options = [E.choice(f"{path}.options[{i}]", x, ("call", "put")) for i, x in
               enumerate(E.sequence(f"{path}.options", raw.get("options", ["call", "put"]),
                                    min_length=1, what="a list of call/put"))]
    extra = {k: raw[k] for k in HEDGE_KEYS if raw.get(k) is not None}
    return [(dict(extra, name=f"{asset}_{t:g}y_{k:g}_{o}", type="european", asset=asset,
                  option=o, strike=k, expiry=t), f"{path}.strikes[{a}]")
            for t in expiries for a, k in enumerate(strikes) for o in options]


def _book_contracts(cfg: dict) -> list[tuple[dict, str]]:
    """The book's single-asset europeans as candidates (their contract terms only)."""
    positions = ((cfg.get("portfolio") or {}).get("positions")) or []
    out = []
    for i, p in enumerate(positions):
        if isinstance(p, dict) and p.get("type") == "european" and "asset" in p:
            terms = {k: p[k] for k in ("type", "asset", "option", "strike", "expiry")
                     if k in p}
            out.append((dict(terms, name="book_" + str(p.get("name") or i)),
                        f"portfolio.positions[{i}]"))
    return out


def _instrument(path: str, raw: Any, market, index: int, cost: float, fee: float) -> Instrument:
    raw = dict(E.mapping(path, raw))
    if "quantity" in raw:
        raise ConfigError(f"{path}.quantity", raw["quantity"],
                          "no quantity: the hedge quantity is what the optimiser finds "
                          "(limit it with min/max)")
    terms = {k: raw.pop(k) for k in HEDGE_KEYS if k in raw}
    pos = build_position(path, raw, market, index)
    lo = -math.inf if terms.get("min") is None else E.number(f"{path}.min", terms["min"])
    hi = math.inf if terms.get("max") is None else E.number(f"{path}.max", terms["max"])
    if lo > hi:
        raise ConfigError(f"{path}.max", hi, f"a limit >= min = {lo:g}")
    c = cost if terms.get("cost") is None else E.number(f"{path}.cost", terms["cost"],
                                                        lo=0.0, hi=1.0)
    f = fee if terms.get("fee") is None else E.number(f"{path}.fee", terms["fee"], lo=0.0)
    name = PREFIX + (raw.get("name") or f"{index}:{pos.type}")
    position = dict(raw, name=name, quantity=1.0)
    return Instrument(name, pos.type, pos.assets[0] if len(pos.assets) == 1 else None,
                      position, lo, hi, c, f)


def limits(opts: HedgeOptions) -> tuple[np.ndarray, np.ndarray]:
    """(m,) lower and upper quantity limits (infinite where none is set)."""
    return (np.array([x.lower for x in opts.instruments]),
            np.array([x.upper for x in opts.instruments]))
