"""Position types: their fields, defaults and checks (the user-facing contract)."""

from __future__ import annotations

from typing import Any

from mcrisk import errors as E
from mcrisk.errors import ConfigError
from mcrisk.problem import Market, Position

OPTION = ("call", "put")
BARRIER_TYPES = ("down-and-out", "down-and-in", "up-and-out", "up-and-in")
AVERAGES = ("arithmetic", "geometric")

COMMON = ("type", "name", "quantity", "venue")
# type -> fields besides COMMON. Fields with a default are optional.
FIELDS: dict[str, dict[str, Any]] = {
    "spot": {"asset": None},
    "perpetual": {"asset": None, "entry_price": "spot", "funding_rate": 0.0},
    "forward": {"asset": None, "strike": None, "expiry": None},
    "european": {"asset": None, "option": None, "strike": None, "expiry": None},
    "digital": {"asset": None, "option": None, "strike": None, "expiry": None, "cash": 1.0},
    "barrier": {"asset": None, "option": None, "strike": None, "expiry": None,
                "barrier": None, "barrier_type": None},
    "asian": {"asset": None, "option": None, "strike": None, "expiry": None,
              "fixings": None, "average": "arithmetic"},
    "lookback": {"asset": None, "option": None, "expiry": None},
    "basket": {"assets": None, "weights": None, "option": None, "strike": None, "expiry": None},
    "spread": {"assets": None, "option": None, "strike": None, "expiry": None},
    "exchange": {"assets": None, "expiry": None},
    "best_of": {"assets": None, "option": None, "strike": None, "expiry": None},
    "worst_of": {"assets": None, "option": None, "strike": None, "expiry": None},
}
POSITION_TYPES = tuple(FIELDS)


def _asset(path: str, name: Any, market: Market | None) -> int:
    if market is None:  # a book checked on its own (load_portfolio): any asset name
        E.string(path, name)
        return hash(name)
    if not isinstance(name, str) or name not in market.assets:
        raise ConfigError(path, name, "one of the market assets " + ", ".join(market.assets))
    return market.index(name)


def build_position(path: str, raw: Any, market: Market | None, index: int) -> Position:
    """Validate one position mapping and return a `Position` with resolved asset indices.

    With ``market=None`` (a book file checked on its own) the checks that need the market
    (asset names exist, a barrier on the right side of its spot, the default perpetual
    entry price) are skipped and the returned asset indices are meaningless.
    """
    raw = E.mapping(path, raw)
    ptype = E.choice(f"{path}.type", E.required(path, raw, "type"), POSITION_TYPES)
    spec = FIELDS[ptype]
    E.only_keys(path, raw, COMMON + tuple(spec))
    for key, default in spec.items():
        if default is None:
            E.required(path, raw, key)

    def get(key: str) -> Any:
        return raw[key] if raw.get(key) is not None else spec[key]

    quantity = E.number(f"{path}.quantity", raw.get("quantity", 1.0))
    name = raw.get("name") or f"{index}:{ptype}"
    if not isinstance(name, str):
        raise ConfigError(f"{path}.name", name, "a string")
    venue = raw.get("venue")
    if venue is not None and not isinstance(venue, str):
        raise ConfigError(f"{path}.venue", venue, "a string")

    terms: dict[str, Any] = {}
    if "asset" in spec:
        assets = (_asset(f"{path}.asset", raw["asset"], market),)
    else:
        names = E.sequence(f"{path}.assets", raw["assets"], min_length=2,
                           what="a list of asset names")
        if ptype in ("spread", "exchange") and len(names) != 2:
            raise ConfigError(f"{path}.assets", names, "exactly two asset names")
        assets = tuple(_asset(f"{path}.assets[{i}]", a, market) for i, a in enumerate(names))
        if len(set(assets)) != len(assets):
            raise ConfigError(f"{path}.assets", names, "distinct asset names")

    if "option" in spec:
        terms["option"] = E.choice(f"{path}.option", raw["option"], OPTION)
    if "strike" in spec:
        # Spreads may legitimately be struck at zero or below, and a forward at zero (a
        # prepaid forward); everything else needs K > 0.
        if ptype == "spread":
            terms["strike"] = E.number(f"{path}.strike", raw["strike"])
        elif ptype == "forward":
            terms["strike"] = E.number(f"{path}.strike", raw["strike"], lo=0.0)
        else:
            terms["strike"] = E.number(f"{path}.strike", raw["strike"], lo=0.0, lo_open=True)
    if "expiry" in spec:
        terms["expiry"] = E.number(f"{path}.expiry", raw["expiry"], lo=0.0, lo_open=True,
                                   what="an expiry in years > 0")

    if ptype == "perpetual":
        entry = get("entry_price")
        if entry != "spot":
            terms["entry_price"] = E.number(f"{path}.entry_price", entry, lo=0.0, lo_open=True)
        elif market is not None:
            terms["entry_price"] = float(market.spots[assets[0]])
        terms["funding_rate"] = E.number(f"{path}.funding_rate", get("funding_rate"))
    elif ptype == "digital":
        terms["cash"] = E.number(f"{path}.cash", get("cash"))
    elif ptype == "barrier":
        bt = E.choice(f"{path}.barrier_type", raw["barrier_type"], BARRIER_TYPES)
        level = E.number(f"{path}.barrier", raw["barrier"], lo=0.0, lo_open=True)
        up = bt.startswith("up")
        spot = float(market.spots[assets[0]]) if market is not None else None
        if spot is not None and ((up and level <= spot) or (not up and level >= spot)):
            side = "above" if up else "below"
            raise ConfigError(f"{path}.barrier", raw["barrier"],
                              f"a level {side} today's spot {spot:g} for "
                              f"{'an' if up else 'a'} {bt} barrier "
                              "(it would already be triggered)")
        terms.update(barrier=level, up=up, knock_in=bt.endswith("-in"))
    elif ptype == "asian":
        terms["fixings"] = E.integer(f"{path}.fixings", raw["fixings"], lo=1)
        terms["average"] = E.choice(f"{path}.average", get("average"), AVERAGES)
    elif ptype == "basket":
        w = E.sequence(f"{path}.weights", raw["weights"], length=len(assets),
                       what="a list with one weight per basket asset")
        terms["weights"] = tuple(E.number(f"{path}.weights[{i}]", x) for i, x in enumerate(w))
        if all(x == 0 for x in terms["weights"]):
            raise ConfigError(f"{path}.weights", w, "at least one non-zero weight")
    elif ptype == "exchange":
        terms.update(option="call", strike=0.0)
    return Position(type=ptype, name=name, quantity=quantity, assets=assets,
                    terms=terms, venue=venue)


def check_unique_names(positions, where: str = "portfolio.positions") -> None:
    """Position names key every per-position result, so two positions may not share one."""
    seen: dict[str, int] = {}
    for i, p in enumerate(positions):
        if p.name in seen:
            raise ConfigError(f"{where}[{i}].name", p.name,
                              f"a unique name (positions[{seen[p.name]}] has it already)")
        seen[p.name] = i


# Positions whose payoff depends on the path between event dates (or whose fixings do), so their
# bias falls with the number of steps over their life: `sim.min_steps` applies to them.
PATH_DEPENDENT = ("barrier", "asian", "lookback")
# A lookback's bridge extreme (exact only for constant variance within a step) converges more
# slowly than a barrier's crossing: under Heston (xi 1.5) it is 2.1 s.e. of a 10^6-path run low
# at 256 steps and 0.8 at 1024, where the barrier is within 0.3 at 256 (README, `sim`). It gets
# this many times `sim.min_steps`.
LOOKBACK_STEPS_FACTOR = 4


def path_expiries(positions) -> list[tuple[float, int]]:
    """(expiry in years, multiple of `sim.min_steps` it needs) of each path-dependent position:
    the ends of the `min_steps` spans and their densities."""
    return [(p.terms["expiry"], LOOKBACK_STEPS_FACTOR if p.type == "lookback" else 1)
            for p in positions if p.type in PATH_DEPENDENT]


def event_times(position: Position) -> list[float]:
    """Dates (years) the payoff observes; they are placed exactly on the time grid."""
    t = position.terms.get("expiry")
    if t is None:
        return []
    if position.type == "asian":
        from mcrisk.instruments.asian import fixing_dates

        return fixing_dates(position)
    return [t]
