"""Per-row checks of an option-chain file: identity, numbers, quotes, bounds, duplicates.

Used by `mcrisk.vol.quotes.read_chain`, which documents the rules; each problem becomes a
reason string naming the file's column and the value as written in the file.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from mcrisk import errors as E
from mcrisk.vol import deribit
from mcrisk.vol.chain import Rejection

PRICES = ("bid", "ask", "mid")
VOLS = ("bid_iv", "ask_iv", "mark_iv")
_MISSING = ("", "nan", "na", "n/a", "null", "none")
_TYPES = {"c": True, "call": True, "p": False, "put": False}


def is_date(v: Any) -> bool:
    """Whether an expiry cell is a date/time (rather than years, empty or garbage)."""
    if isinstance(v, str):
        try:
            number(v)
        except ValueError:
            try:
                deribit.parse_time(v)
            except ValueError:
                return False
            return True
        return False
    return isinstance(v, (date, np.datetime64))


def number(v: Any) -> float | None:
    """A cell as a float, None if empty/NaN; ValueError if it is not a number."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, str):
        s = v.strip()
        return None if s.lower() in _MISSING else float(s)
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
        x = float(v)
        return None if math.isnan(x) else x
    raise ValueError(v)


def _cell(ctx: dict, f: str, i: int, problems: list[str], *, required: bool = False,
          positive: bool = False) -> float | None:
    """Field `f` of row `i` as a finite float or None, appending any problem."""
    if f not in ctx["cols"]:
        return None
    name, cells = ctx["cols"][f]
    try:
        x = number(cells[i])
    except ValueError:
        problems.append(f"{name}: {E.show(cells[i])} is not a number")
        return None
    if x is None:
        if required:
            problems.append(f"{name}: missing")
        return None
    if not math.isfinite(x):
        problems.append(f"{name}: {x!r} is not finite")
        return None
    if positive and x <= 0:
        problems.append(f"{name}: {x:g} is not > 0")
        return None
    return x


def _identity(i: int, ctx: dict, problems: list[str]) -> tuple | None:
    """(underlying, instrument, expiry datetime or None, expiry years or None, strike,
    is_call, linear) of row `i`; None, with problems, when it does not parse."""
    cols = ctx["cols"]
    if ctx["deribit"]:
        name = cols["instrument"][1][i]
        try:
            inst = deribit.parse_instrument(name)
        except ValueError as exc:
            problems.append(str(exc))
            return None
        return (inst.underlying, name.strip().upper(), deribit.expiry_time(inst.expiry), None,
                inst.strike, inst.is_call, inst.linear)
    und = cols["underlying"][1][i]
    und = und.strip() if isinstance(und, str) else ""
    if not und:
        problems.append(f"underlying: {E.show(cols['underlying'][1][i])} is not a name")
    strike = _cell(ctx, "strike", i, problems, required=True, positive=True)
    kind = cols["option_type"][1][i]
    is_call = _TYPES.get(kind.strip().lower()) if isinstance(kind, str) else None
    if is_call is None:
        problems.append(f"option_type: {E.show(kind)} is not C, P, call or put")
    raw = cols["expiry"][1][i]
    when = years = None
    try:
        years = number(raw)
        if years is None:
            problems.append("expiry: missing")
    except ValueError:
        try:
            text = str(raw).strip()
            when = (deribit.expiry_time(date.fromisoformat(text)) if len(text) == 10
                    else deribit.parse_time(raw))
        except ValueError:
            problems.append(f"expiry: {E.show(raw)} is neither years nor an ISO date")
    if years is not None and not math.isfinite(years):
        problems.append(f"expiry: {years!r} is not finite")
    if problems:
        return None
    label = when.date().isoformat() if when is not None else f"{years:g}y"
    name = f"{und} {label} {strike:g} {'C' if is_call else 'P'}"
    return und, name, when, years, strike, is_call, False


def check_row(i: int, ctx: dict) -> tuple[dict | None, str, list[str]]:
    """Check row `i`: ``(record or None, instrument label, problems)``.

    The record holds the `Chain` fields of the row, converted to the quote currency and to
    fractional vols; it is None when there is any problem.
    """
    problems: list[str] = []
    ident = _identity(i, ctx, problems)
    if ident is None:
        if ctx["deribit"]:
            return None, str(ctx["cols"]["instrument"][1][i]), problems
        cells = (ctx["cols"][f][1][i] for f in ("underlying", "expiry", "strike", "option_type"))
        return None, " ".join(str(c).strip() for c in cells), problems
    und, name, when, years, strike, is_call, linear = ident
    now = None
    if years is None:
        now = ctx["valuation"]
        if now is None:
            tname, tcells = ctx["cols"]["time"]
            try:
                now = deribit.parse_time(tcells[i])
            except ValueError as exc:
                problems.append(f"{tname}: {exc}")
                return None, name, problems
        years = deribit.year_fraction(now, when)
        if years <= 0:
            problems.append(f"expiry {when.isoformat()}: expired at the valuation time "
                            f"{now.isoformat()}")
    elif years <= 0:
        problems.append(f"expiry: {years:g} years is not > 0")
    forward = _cell(ctx, "forward", i, problems, required=True, positive=True)
    rate = ctx["rate"] if ctx["rate"] is not None else _cell(ctx, "rate", i, problems,
                                                             required=True)
    raw = {f: _cell(ctx, f, i, problems) for f in PRICES + VOLS}
    if problems:
        return None, name, problems
    coin = ctx["price_unit"] == "coin" or (ctx["price_unit"] == "auto" and ctx["deribit"]
                                           and not linear)
    expiry_date = (np.datetime64(when.replace(tzinfo=None), "s") if when is not None
                   else np.datetime64("NaT", "s"))
    rec = dict(underlying=und, instrument=name, expiry=years, expiry_date=expiry_date,
               strike=strike, is_call=is_call, forward=forward, rate=rate,
               discount=math.exp(-rate * years), row=i,
               valued_at=None if ctx["valuation"] else now)
    for f in PRICES + VOLS:
        x, col = raw[f], ctx["cols"].get(f, ("",))[0]
        if x is not None and x < 0:
            problems.append(f"{col}: {x:g} is negative")
        elif x == 0 and f in ("bid", "bid_iv"):
            ctx["zero_bids"][f] += 1
            x = raw[f] = None
        elif x == 0:
            problems.append(f"{col}: 0 is not > 0")
        scale = (forward if coin else 1.0) if f in PRICES else ctx["iv_scale"]
        rec[f] = math.nan if x is None else x * scale
    if coin:
        ctx["coin"].add(und)
    if all(math.isnan(rec[f]) for f in PRICES + VOLS) and not problems:
        problems.append("no price and no implied vol (need a bid, ask, mid/mark price or iv)")
    _check_quotes(rec, raw, coin, ctx, problems)
    return (None if problems else rec), name, problems


def _check_quotes(rec: dict, raw: dict, coin: bool, ctx: dict, problems: list[str]) -> None:
    """Crossed or inconsistent bid/mid/ask, and prices outside the no-arbitrage bounds.

    Compares the converted values in `rec` and quotes the file's values from `raw`.
    """
    if problems:
        return
    col = {f: ctx["cols"][f][0] for f in PRICES + VOLS if f in ctx["cols"]}
    for lo, mid, hi in (("bid", "mid", "ask"), ("bid_iv", "mark_iv", "ask_iv")):
        b, m, a = rec[lo], rec[mid], rec[hi]
        if b > a:
            problems.append(f"{col[lo]} {raw[lo]:g} > {col[hi]} {raw[hi]:g}: crossed quote")
        elif m < b or m > a:
            problems.append(f"{col[mid]} {raw[mid]:g} outside [{col[lo]}, {col[hi]}] = ["
                            + ", ".join("-" if raw[g] is None else f"{raw[g]:g}" for g in (lo, hi))
                            + "]")
    f, k, d = rec["forward"], rec["strike"], rec["discount"]
    lower = d * max(f - k, 0.0) if rec["is_call"] else d * max(k - f, 0.0)
    upper = d * (f if rec["is_call"] else k)
    eps = 1e-12 * max(f, k)  # rounding of coin prices times the forward
    for p in PRICES:
        x = rec[p]
        if x <= lower + eps:
            problems.append(f"{_shown(col[p], raw[p], x, coin)} at or below the no-arbitrage "
                            f"lower bound {lower:.10g}: no time value, so no implied vol")
        elif x > upper + eps:
            problems.append(f"{_shown(col[p], raw[p], x, coin)} above the no-arbitrage upper "
                            f"bound {upper:.10g}")


def _shown(col: str, raw: float, x: float, coin: bool) -> str:
    return f"{col} {raw:.10g}" + (f" (= {x:.10g} in the quote currency)" if coin else "")


def drop_duplicates(records: list[dict], rejected: list[Rejection]) -> list[dict]:
    def key(r):
        when = r["expiry_date"]
        return (r["underlying"].upper(), str(when) if not np.isnat(when) else r["expiry"],
                r["strike"], r["is_call"])

    def quote(r):
        return tuple(r[f] for f in PRICES + VOLS + ("forward", "rate", "expiry"))

    groups = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    keep = []
    for r in records:
        group = groups[key(r)]
        if len(group) == 1:
            keep.append(r)
            continue
        first = group[0]
        same = all(np.array_equal(quote(g), quote(first), equal_nan=True) for g in group)
        if same and r is first:
            keep.append(r)
        elif same:
            rejected.append(Rejection(r["row"], r["instrument"], f"duplicate: repeats row "
                                      f"{first['row']} exactly (the first copy is used)"))
        else:
            rows = ", ".join(str(g["row"]) for g in group)
            rejected.append(Rejection(r["row"], r["instrument"], f"duplicate: rows {rows} quote "
                                      "the same option differently; none is used"))
    return keep
