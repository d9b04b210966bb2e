"""The ``dynamic_hedge:`` section: a dynamic-hedging experiment, checked once and typed.

Pure Python (no JAX): every field is checked on concrete values and a bad one raises
`ConfigError` naming its path (``dynamic_hedge.book[1].expiry``), the value and what was expected,
before anything is compiled. `DEFAULTS` is the one source of the defaults;
``conf/hedge/default.yaml`` repeats them for the command line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcrisk.errors import (ConfigError, boolean, choice, integer, mapping, number, only_keys,
                           sequence)

KINDS = ("call", "put", "forward")
INSTRUMENTS = ("spot", "perpetual")
REBALANCE = ("time", "band", "whalley_wilmott")
MODELS = {"gbm": (), "merton": ("jump_intensity", "jump_mean", "jump_std"),
          "heston": ("kappa", "theta", "xi", "rho")}
DTYPES = ("float32", "float64")

DEFAULTS: dict[str, Any] = dict(
    spot=100.0, rate=0.0, drift=None, horizon=0.25, steps=100, instrument="spot", funding=0.0,
    pricing_vol=None, hedge_vol=None, gamma_hedge=None, paths=10_000, chunk=1_000, seed=0,
    level=0.99, dtype="float64",
    model=dict(name="gbm", vol=0.2),
    book=[dict(type="call", strike=100.0, expiry=0.25, quantity=-1.0)],
    rebalance=dict(kind="time", every=1, width=0.0, risk_aversion=1.0, to_edge=False),
    costs=dict(proportional=0.0, fixed=0.0),
)


@dataclass(frozen=True)
class Option:
    """A European call, put or forward: `quantity` signed (negative = sold)."""

    kind: str
    strike: float
    expiry: float  # years
    quantity: float = 1.0


@dataclass(frozen=True)
class HedgeSetup:
    """A checked dynamic-hedging experiment (see `parse` for the meaning of each field).

    Expiries are also given as fine-grid step indices (`expiry_steps`), exact by construction.
    """

    spot: float
    rate: float
    drift: float  # growth rate of the spot under the simulated ("true") law, per year
    model: str
    vol: float  # true vol (heston: sqrt(v0))
    model_params: dict = field(hash=False)
    horizon: float
    steps: int
    book: tuple[Option, ...]
    expiry_steps: tuple[int, ...]
    pricing_vol: float
    hedge_vol: float
    instrument: str
    funding: float
    gamma_hedge: Option | None
    rebalance: str
    every: int
    width: float
    risk_aversion: float
    to_edge: bool
    proportional: float
    fixed: float
    paths: int
    chunk: int
    seed: int
    level: float
    dtype: str


def _merged(section: Mapping, key: str) -> dict:
    base = dict(DEFAULTS[key])
    base.update(section.get(key) or {})
    return base


def _option(path: str, x: Any, *, quantity: bool) -> Option:
    m = mapping(path, x)
    allowed = ("type", "strike", "expiry") + (("quantity",) if quantity else ())
    only_keys(path, m, allowed)
    for k in allowed:
        if k not in m and k != "quantity":
            raise ConfigError(f"{path}.{k}", None, "a value (this field is required)")
    kind = choice(f"{path}.type", m["type"], KINDS)
    return Option(kind=kind, strike=number(f"{path}.strike", m["strike"], lo=0, lo_open=True),
                  expiry=number(f"{path}.expiry", m["expiry"], lo=0, lo_open=True),
                  quantity=number(f"{path}.quantity", m.get("quantity", 1.0)) if quantity else 1.0)


def _on_grid(path: str, expiry: float, horizon: float, steps: int) -> int:
    """Step index of an expiry that must fall on the fine grid: no silent rounding."""
    k = expiry / horizon * steps
    if expiry > horizon * (1 + 1e-12) or abs(k - round(k)) > 1e-6:
        raise ConfigError(path, expiry, f"an expiry <= dynamic_hedge.horizon ({horizon:g}) on the grid of "
                          f"{steps} steps (a multiple of {horizon / steps:g} years)")
    return max(1, int(round(k)))


def parse(section: Mapping | None, path: str = "dynamic_hedge") -> HedgeSetup:
    """Check a ``dynamic_hedge:`` mapping and build a `HedgeSetup`.

    Fields: ``spot``; ``rate`` (cash and discounting, continuously compounded per year);
    ``drift`` (the spot's growth under the simulated law; default = rate); ``model``
    (``name``: gbm | merton | heston, ``vol`` the true vol, plus the model's parameters);
    ``horizon`` (years) split into ``steps`` fine steps; ``book`` (list of ``type``,
    ``strike``, ``expiry`` <= horizon on the grid, signed ``quantity``); ``pricing_vol`` (the
    premium's vol; default = model.vol), ``hedge_vol`` (the Black–Scholes vol of the hedge
    delta; default = pricing_vol); ``instrument`` spot | perpetual, with ``funding`` per year
    on the perpetual's notional (longs pay); ``gamma_hedge`` (an option expiring after the
    horizon, or null); ``rebalance`` (``kind`` time | band | whalley_wilmott, ``every`` fine
    steps, band ``width`` in delta units, ``risk_aversion``, ``to_edge``: trade to the band's
    nearest edge rather than to the target); ``costs`` (``proportional`` one-way fraction of
    traded notional, ``fixed`` fee per rebalance); ``paths``, ``chunk``, ``seed``, ``level``
    (VaR/ES), ``dtype``. ``sweep`` and ``deep`` are checked by `sweep` and
    `mcrisk.config.deep_hedge.parse`.

    Raises:
        ConfigError: naming the first bad field.
    """
    s = dict(mapping(path, section if section is not None else {}))
    only_keys(path, s, tuple(DEFAULTS) + ("sweep", "deep"))
    g = {k: (s[k] if s.get(k) is not None else DEFAULTS[k]) for k in DEFAULTS}
    p = lambda k: f"{path}.{k}"  # noqa: E731

    model = _merged(s, "model")
    name = choice(p("model.name"), model.get("name"), tuple(MODELS))
    only_keys(p("model"), model, ("name", "vol") + MODELS[name])
    vol = number(p("model.vol"), model.get("vol"), lo=0, lo_open=True, hi=5)
    params = {}
    for k in MODELS[name]:
        if model.get(k) is None:
            raise ConfigError(p(f"model.{k}"), None, f"a value (the {name} model needs it)")
        lo = -1 if k in ("rho", "jump_mean") else 0
        hi = 1 if k == "rho" else None
        params[k] = number(p(f"model.{k}"), model[k], lo=lo, hi=hi)

    rate = number(p("rate"), g["rate"], lo=-1, hi=1)
    horizon = number(p("horizon"), g["horizon"], lo=0, lo_open=True, hi=30)
    steps = integer(p("steps"), g["steps"], lo=1)
    book_items = sequence(p("book"), g["book"], min_length=1, what="a list of positions")
    book = tuple(_option(f"{path}.book[{i}]", b, quantity=True) for i, b in enumerate(book_items))
    expiry_steps = tuple(_on_grid(f"{path}.book[{i}].expiry", o.expiry, horizon, steps)
                         for i, o in enumerate(book))
    gamma = None
    if g["gamma_hedge"] is not None:
        gamma = _option(p("gamma_hedge"), g["gamma_hedge"], quantity=False)
        if gamma.kind == "forward" or gamma.expiry <= horizon:
            raise ConfigError(p("gamma_hedge"), dict(g["gamma_hedge"]),
                              f"a call or put expiring after dynamic_hedge.horizon ({horizon:g}), so its "
                              "gamma never vanishes")

    pricing_vol = number(p("pricing_vol"), g["pricing_vol"] if g["pricing_vol"] is not None
                         else vol, lo=0, lo_open=True, hi=5)
    hedge_vol = number(p("hedge_vol"), g["hedge_vol"] if g["hedge_vol"] is not None
                       else pricing_vol, lo=0, lo_open=True, hi=5)
    reb = _merged(s, "rebalance")
    only_keys(p("rebalance"), reb, tuple(DEFAULTS["rebalance"]))
    kind = choice(p("rebalance.kind"), reb["kind"], REBALANCE)
    every = integer(p("rebalance.every"), reb["every"], lo=1)
    if kind == "time" and steps % every:
        raise ConfigError(p("rebalance.every"), every,
                          f"a divisor of dynamic_hedge.steps ({steps}) so the last rebalance lands on the grid")
    width = number(p("rebalance.width"), reb["width"], lo=0)
    if kind == "band" and width <= 0:
        raise ConfigError(p("rebalance.width"), width, "a band width > 0 (delta units)")
    costs = _merged(s, "costs")
    only_keys(p("costs"), costs, tuple(DEFAULTS["costs"]))
    proportional = number(p("costs.proportional"), costs["proportional"], lo=0, hi=0.5)
    if kind == "whalley_wilmott" and proportional <= 0:
        raise ConfigError(p("costs.proportional"), proportional,
                          "a cost > 0: the Whalley–Wilmott band is set by it")
    level = number(p("level"), g["level"], lo=0.5, hi=1, hi_open=True)
    paths = integer(p("paths"), g["paths"], lo=2)
    if math.ceil(paths * (1 - level)) < 1:
        raise ConfigError(p("paths"), paths, f"enough paths for a tail at level {level:g}")
    return HedgeSetup(
        spot=number(p("spot"), g["spot"], lo=0, lo_open=True), rate=rate,
        drift=number(p("drift"), g["drift"] if g["drift"] is not None else rate, lo=-5, hi=5),
        model=name, vol=vol, model_params=params, horizon=horizon, steps=steps, book=book,
        expiry_steps=expiry_steps, pricing_vol=pricing_vol, hedge_vol=hedge_vol,
        instrument=choice(p("instrument"), g["instrument"], INSTRUMENTS),
        funding=number(p("funding"), g["funding"], lo=-5, hi=5), gamma_hedge=gamma,
        rebalance=kind, every=every, width=width,
        risk_aversion=number(p("rebalance.risk_aversion"), reb["risk_aversion"], lo=0,
                             lo_open=True),
        to_edge=boolean(p("rebalance.to_edge"), reb["to_edge"]),
        proportional=proportional, fixed=number(p("costs.fixed"), costs["fixed"], lo=0),
        paths=paths, chunk=integer(p("chunk"), g["chunk"], lo=1),
        seed=integer(p("seed"), g["seed"], lo=0), level=level,
        dtype=choice(p("dtype"), g["dtype"], DTYPES))


SWEEP = {"every": "time", "width": "band", "risk_aversion": "whalley_wilmott"}


def sweep(setup: HedgeSetup, section: Mapping | None, path: str = "dynamic_hedge.sweep"
          ) -> list[HedgeSetup]:
    """The setups of a ``sweep:`` (``every``: time schedules, ``width``: fixed bands,
    ``risk_aversion``: Whalley–Wilmott bands, each a list), in that order; without one, the
    setup itself. Each value is checked as its ``rebalance`` field would be."""
    if not section:
        return [setup]
    m = mapping(path, section)
    only_keys(path, m, tuple(SWEEP))
    out = []
    for key, kind in SWEEP.items():
        for i, v in enumerate(sequence(f"{path}.{key}", m.get(key) or [], what="a list")):
            reb = {"kind": kind, key: v, "to_edge": setup.to_edge}
            try:
                one = parse({**_plain(setup), "rebalance": reb}, path)
            except ConfigError as err:
                raise ConfigError(f"{path}.{key}[{i}]", v, err.expected) from None
            out.append(one)
    if not out:
        raise ConfigError(path, dict(m), "at least one value in every, width or risk_aversion")
    return out


def _plain(setup: HedgeSetup) -> dict:
    """A setup as the ``dynamic_hedge:`` mapping it came from (rebalance left to the caller)."""
    opt = lambda o: dict(type=o.kind, strike=o.strike, expiry=o.expiry)  # noqa: E731
    return dict(
        spot=setup.spot, rate=setup.rate, drift=setup.drift, horizon=setup.horizon,
        steps=setup.steps, instrument=setup.instrument, funding=setup.funding,
        pricing_vol=setup.pricing_vol, hedge_vol=setup.hedge_vol, level=setup.level,
        paths=setup.paths, chunk=setup.chunk, seed=setup.seed, dtype=setup.dtype,
        model=dict(name=setup.model, vol=setup.vol, **setup.model_params),
        book=[dict(opt(o), quantity=o.quantity) for o in setup.book],
        gamma_hedge=opt(setup.gamma_hedge) if setup.gamma_hedge else None,
        costs=dict(proportional=setup.proportional, fixed=setup.fixed))


def describe(setup: HedgeSetup) -> dict:
    """The setup as plain values for results.json."""
    d = _plain(setup)
    d["model_params"] = d["model"]
    d["model"] = d["model_params"].pop("name")
    d["vol"] = d["model_params"].pop("vol")
    d.update(d.pop("costs"))
    return d
