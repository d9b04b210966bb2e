"""Read an option chain (CSV, Parquet or a DataFrame) into a validated `Chain`.

Two column layouts are understood (names are case-insensitive):

* **Deribit export** (``instrument_name`` present), as returned by Deribit's public
  ``ticker`` and ``get_book_summary_by_currency``: ``instrument_name`` (underlying, expiry,
  strike and type, see `mcrisk.vol.deribit`), ``underlying_price`` (the forward of the
  option's expiry, which Deribit's implied vols are computed from), ``interest_rate``,
  ``timestamp`` (milliseconds since the epoch), prices ``best_bid_price``/``bid_price``,
  ``best_ask_price``/``ask_price``, ``mid_price``/``mark_price``, and vols ``mark_iv``,
  ``bid_iv``, ``ask_iv``.
* **Generic**: ``underlying``, ``expiry`` (years as a number, or a date/time; a bare date
  means 08:00 UTC), ``strike``, ``option_type`` (``C``/``P``/``call``/``put``), ``bid``, ``ask``,
  ``mid``, ``mark_iv``, ``bid_iv``, ``ask_iv``, ``forward`` (or ``underlying_price``), ``rate``,
  and ``timestamp``/``valuation_time`` where expiries are dates.

A row needs the option's identity, a forward, a rate and at least one price or vol.

Units. Deribit quotes its BTC/ETH (inverse) options in the coin and its vols in percent. With
``price_unit="auto"`` the prices of a Deribit file's inverse options are read as coin and
multiplied by ``underlying_price`` (the forward: this is the conversion under which Deribit's
``mark_iv`` reproduces ``mark_price`` with Black-76; Deribit's own USD display uses the index
instead), ``*_USDC`` options and generic files as quote currency; ``"coin"`` or ``"quote"``
forces one reading. With ``iv_unit="auto"`` a Deribit file's vols are percent; a generic
file's vols are percent if their median exceeds 3 (a 300% vol), else fractions. Every choice
made is written to ``Chain.notes``: nothing is converted silently.

Validation (each problem named with the column and value; a row with any problem is
rejected, listed in ``Chain.rejected`` and never used):

* unparseable name, type or date; missing or non-numeric strike, forward, rate, expiry or
  timestamp; strike, forward or time to expiry not > 0 (an expired option);
* a negative price or vol, or a zero ask, mid or mark (a zero bid, or zero ``bid_iv``, is how
  exchanges show "no bid" and is read as absent, counted in the notes);
* no price and no vol at all; crossed quotes ``bid > ask`` (prices or vols); a mid or mark
  outside the given bid/ask;
* a price outside the static no-arbitrage bounds ``D max(F-K, 0) < C <= D F`` and
  ``D max(K-F, 0) < P <= D K`` with ``D = exp(-rate * T)``. A price at the lower bound has no
  time value and so no implied vol: it is rejected too, and the reason says so;
* duplicates (same underlying, expiry, strike and type among rows otherwise valid): rows
  that repeat the first one's quote exactly are rejected as repeats and the first is kept;
  if the quotes differ, every copy is rejected, since the file does not say which is right.

Whole-file problems (unreadable file, missing required column, no valid row, bad options)
raise `ConfigError`.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from mcrisk import errors as E
from mcrisk.errors import ConfigError
from mcrisk.vol import deribit
from mcrisk.vol import rows
from mcrisk.vol.chain import ARRAY_FIELDS, Chain, Rejection
from mcrisk.vol.rows import PRICES, VOLS

__all__ = ["read_chain", "PRICE_UNITS", "IV_UNITS"]

PRICE_UNITS = ("auto", "quote", "coin")
IV_UNITS = ("auto", "percent", "fraction")
# Field -> accepted column names, first present wins (Deribit's ticker says best_bid_price,
# its book summary bid_price; the book summary has both mid_price and mark_price).
ALIASES = {
    "instrument": ("instrument_name",), "underlying": ("underlying",), "expiry": ("expiry",),
    "strike": ("strike",), "option_type": ("option_type",),
    "bid": ("bid", "best_bid_price", "bid_price"), "ask": ("ask", "best_ask_price", "ask_price"),
    "mid": ("mid", "mid_price", "mark_price"),
    "mark_iv": ("mark_iv",), "bid_iv": ("bid_iv",), "ask_iv": ("ask_iv",),
    "forward": ("forward", "underlying_price"), "rate": ("rate", "interest_rate"),
    "time": ("timestamp", "valuation_time"),
}
_PERCENT_MEDIAN = 3.0


def read_chain(source: Any, *, valuation_date: Any = None, rate: float | None = None,
               price_unit: str = "auto", iv_unit: str = "auto", field: str = "chain") -> Chain:
    """Read and validate an option chain.

    Args:
        source: a ``.csv`` or ``.parquet`` path, or a `pandas.DataFrame` with the same columns.
        valuation_date: the valuation moment (date = 00:00 UTC, datetime, ISO string or ms
            timestamp); overrides a ``timestamp``/``valuation_time`` column, with a note.
            Needed when expiries are dates and the file has no such column.
        rate: continuously compounded rate for every row; overrides a ``rate``/``interest_rate``
            column, with a note. Needed when the file has no such column.
        price_unit: ``"auto"``, ``"quote"`` or ``"coin"`` (see the module docstring).
        iv_unit: ``"auto"``, ``"percent"`` or ``"fraction"``.
        field: prefix of the field paths in error messages.

    Returns:
        The `Chain` of accepted rows, with ``rejected`` and ``notes``.

    Raises:
        ConfigError: bad option, unreadable file, missing required column, or no valid row.
    """
    E.choice(f"{field}.price_unit", price_unit, PRICE_UNITS)
    E.choice(f"{field}.iv_unit", iv_unit, IV_UNITS)
    if rate is not None:
        rate = E.number(f"{field}.rate", rate)
    valuation = None
    if valuation_date is not None:
        try:
            valuation = deribit.parse_time(valuation_date)
        except ValueError:
            raise ConfigError(f"{field}.valuation_date", valuation_date, "a date, datetime, "
                              "ISO-8601 string or millisecond timestamp") from None
    frame, where = _load(source, field)
    cols = _columns(frame, where, field)
    notes = [f"read {len(frame)} rows from {where}"]
    deribit_mode = "instrument" in cols
    need = [] if deribit_mode else ["underlying", "expiry", "strike", "option_type"]
    need += ["forward"]
    for f in need:
        if f not in cols:
            raise ConfigError(f"{field}.columns", sorted(frame.columns), "a column "
                              + " or ".join(repr(a) for a in ALIASES[f]) + f" in {where}")
    if not any(f in cols for f in PRICES + VOLS):
        raise ConfigError(f"{field}.columns", sorted(frame.columns), "at least one price or "
                          "implied-vol column (bid, ask, mid, mark_price, best_bid_price, "
                          f"best_ask_price, mark_iv, bid_iv, ask_iv) in {where}")
    if rate is None and "rate" not in cols:
        raise ConfigError(f"{field}.rate", None, f"a 'rate' or 'interest_rate' column in {where}"
                          " or the rate argument")
    if rate is not None and "rate" in cols:
        notes.append(f"rate argument {rate:g} used instead of column {cols['rate'][0]!r}")
    if valuation is not None and "time" in cols:
        notes.append(f"valuation_date {valuation.isoformat()} used instead of column "
                     f"{cols['time'][0]!r}")
    if valuation is None and "time" not in cols and (
            deribit_mode or any(rows.is_date(v) for v in cols["expiry"][1])):
        raise ConfigError(f"{field}.valuation_date", None, "a 'timestamp' or 'valuation_time' "
                          f"column in {where} or the valuation_date argument (expiries are "
                          "dates, so a valuation time is needed)")
    if deribit_mode:
        ignored = [cols[f][0] for f in ("underlying", "expiry", "strike", "option_type")
                   if f in cols]
        notes.append("Deribit layout: underlying, expiry, strike and type from instrument_name"
                     + (f" (columns {', '.join(ignored)} not read)" if ignored else "")
                     + f"; expiry at {deribit.EXPIRY_HOUR_UTC:02d}:00 UTC, ACT/365")
    for f in PRICES + ("forward", "rate"):
        if f in cols:
            notes.append(f"{f} from column {cols[f][0]!r}")
    iv_scale = _iv_scale(iv_unit, deribit_mode, cols, notes)
    ctx = dict(deribit=deribit_mode, price_unit=price_unit, iv_scale=iv_scale,
               valuation=valuation, rate=rate, cols=cols, zero_bids=Counter(), coin=set())

    records, rejected = [], []
    for i in range(len(frame)):
        rec, name, problems = rows.check_row(i, ctx)
        if problems:
            rejected.append(Rejection(i, name, "; ".join(problems)))
        else:
            records.append(rec)
    records = rows.drop_duplicates(records, rejected)
    stamps = sorted({r["valued_at"] for r in records if r["valued_at"] is not None})
    if len(stamps) > 1:
        notes.append(f"timestamps span {(stamps[-1] - stamps[0]).total_seconds():g} s ("
                     f"{stamps[0].isoformat()} to {stamps[-1].isoformat()}); each row's time "
                     "to expiry runs from its own timestamp")
    rejected.sort()
    if ctx["coin"]:
        notes.append("prices of " + ", ".join(sorted(ctx["coin"])) + " read in the coin and "
                     "multiplied by the forward to give the quote currency")
    elif "mid" in cols or "bid" in cols or "ask" in cols:
        notes.append("prices read in the quote currency (as given)")
    for f, n in sorted(ctx["zero_bids"].items()):
        notes.append(f"{n} rows with {cols[f][0]} 0 read as no bid")
    if rejected:
        notes.append(f"{len(rejected)} rows rejected (see Chain.rejected)")
    if not records:
        first = "; ".join(f"row {r.row}: {r.reason}" for r in rejected[:3])
        raise ConfigError(f"{field}.path", where, f"at least one valid quote; all "
                          f"{len(frame)} rows were rejected ({first})")
    arrays = {f: np.array([r[f] for r in records]) for f in ARRAY_FIELDS}
    arrays["expiry_date"] = arrays["expiry_date"].astype("datetime64[s]")
    for f in ARRAY_FIELDS:
        if arrays[f].dtype.kind in "iuf":
            arrays[f] = arrays[f].astype(np.int64 if f == "row" else np.float64)
    return Chain(**arrays, rejected=tuple(rejected), notes=tuple(notes), source=where)


def _load(source: Any, field: str) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True), "<DataFrame>"
    if not isinstance(source, (str, os.PathLike)) or not os.fspath(source):
        raise ConfigError(f"{field}.path", source, "a .csv or .parquet path or a DataFrame")
    path = os.fspath(source)
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext in (".parquet", ".pq"):
            import pyarrow.parquet as pq
            return pq.read_table(path).to_pandas(), path
        if ext == ".csv":
            # Strings throughout: each cell is parsed (and, if bad, reported) on its own, and
            # Python's float() rounds exactly as the Parquet writer's doubles do.
            return pd.read_csv(path, dtype=str, keep_default_na=False), path
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ConfigError(f"{field}.path", path, f"a readable option-chain file ({exc})") from None
    raise ConfigError(f"{field}.path", path, "a file ending in .csv or .parquet")


def _columns(frame: pd.DataFrame, where: str, field: str) -> dict[str, tuple[str, list]]:
    """Field -> (column name as in the file, list of cells)."""
    lower = [str(c).strip().lower() for c in frame.columns]
    dup = [c for c, n in Counter(lower).items() if n > 1]
    if dup:
        raise ConfigError(f"{field}.columns", list(frame.columns), f"distinct column names in "
                          f"{where} ({dup[0]!r} appears more than once)")
    by_name = dict(zip(lower, frame.columns))
    out = {}
    for f, names in ALIASES.items():
        for name in names:
            if name in by_name:
                out[f] = (name, frame[by_name[name]].tolist())
                break
    return out


def _iv_scale(iv_unit: str, deribit_mode: bool, cols: dict, notes: list[str]) -> float:
    present = [f for f in VOLS if f in cols]
    if not present:
        return 1.0
    if iv_unit == "auto" and deribit_mode:
        notes.append("implied vols read as percent (Deribit's convention) and divided by 100")
        return 0.01
    if iv_unit == "auto":
        values = []
        for f in present:
            for v in cols[f][1]:
                try:
                    x = rows.number(v)
                except ValueError:
                    continue
                if x is not None and math.isfinite(x) and x > 0:
                    values.append(x)
        median = float(np.median(values)) if values else 0.0
        iv_unit = "percent" if median > _PERCENT_MEDIAN else "fraction"
        notes.append(f"implied vols read as {iv_unit} (auto: their median is {median:g}, "
                     f"{'above' if iv_unit == 'percent' else 'at most'} {_PERCENT_MEDIAN:g})")
        return 0.01 if iv_unit == "percent" else 1.0
    notes.append(f"implied vols read as {iv_unit} (iv_unit)")
    return 0.01 if iv_unit == "percent" else 1.0
