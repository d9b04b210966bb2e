"""Deribit instrument names, expiry times and ACT/365 year fractions.

Deribit names an option ``UNDERLYING-DMMMYY-STRIKE-C|P``: ``BTC-27DEC24-60000-C``,
``ETH-3JAN25-3500-P``, the linear USDC-settled ``SOL_USDC-27DEC24-200-C`` and, for strikes with
decimals, ``XRP_USDC-27DEC24-2d5-C`` (strike 2.5). Every option expires at 08:00 UTC on its date.

Host-side Python only: these run while a quote file is read, before anything is traced.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Instrument", "parse_instrument", "expiry_time", "parse_time", "year_fraction",
           "EXPIRY_HOUR_UTC", "SECONDS_PER_YEAR"]

EXPIRY_HOUR_UTC = 8
SECONDS_PER_YEAR = 365.0 * 86400.0  # ACT/365
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# Deribit's public timestamps are milliseconds since the epoch; anything below this (year 5138
# in seconds, 1973 in milliseconds) is read as seconds so both exports work.
_MS_THRESHOLD = 1e11

_NAME = re.compile(r"(?P<und>[A-Z0-9]+(?:_[A-Z0-9]+)?)-(?P<day>\d{1,2})(?P<mon>[A-Z]{3})"
                   r"(?P<yy>\d{2})-(?P<strike>\d+(?:D\d+)?)-(?P<cp>[CP])")


class Instrument(NamedTuple):
    """One parsed option name.

    Attributes:
        underlying: the name's first field as written (``"BTC"``, ``"SOL_USDC"``).
        expiry: expiry date (the option expires at 08:00 UTC on it).
        strike: strike in the quote currency (USD or USDC).
        is_call: True for ``-C``, False for ``-P``.
        linear: True for ``*_USDC`` options, priced in USDC; False for the inverse BTC/ETH
            options, priced in the coin.
    """

    underlying: str
    expiry: date
    strike: float
    is_call: bool
    linear: bool


def parse_instrument(name: Any) -> Instrument:
    """Parse a Deribit option name.

    Args:
        name: e.g. ``"BTC-27DEC24-60000-C"`` (letters in any case).

    Returns:
        The `Instrument`.

    Raises:
        ValueError: the name does not have the form ``UNDERLYING-DMMMYY-STRIKE-C|P``, or its
            date does not exist (``31FEB25``); the message says which.
    """
    if not isinstance(name, str):
        raise ValueError(f"instrument_name {name!r}: expected a string like BTC-27DEC24-60000-C")
    m = _NAME.fullmatch(name.strip().upper())
    if m is None:
        raise ValueError(f"instrument_name {name!r}: expected UNDERLYING-DMMMYY-STRIKE-C|P, "
                         "e.g. BTC-27DEC24-60000-C or XRP_USDC-27DEC24-2d5-C")
    if m["mon"] not in MONTHS:
        raise ValueError(f"instrument_name {name!r}: month {m['mon']!r} is not one of "
                         + ", ".join(MONTHS))
    try:
        day = date(2000 + int(m["yy"]), MONTHS.index(m["mon"]) + 1, int(m["day"]))
    except ValueError:
        raise ValueError(f"instrument_name {name!r}: {m['day']}{m['mon']}{m['yy']} is not a "
                         "calendar date") from None
    strike = float(m["strike"].replace("D", "."))
    if strike <= 0:
        raise ValueError(f"instrument_name {name!r}: strike {strike:g} is not > 0")
    und = m["und"]
    return Instrument(und, day, strike, m["cp"] == "C", und.endswith("_USDC"))


def expiry_time(day: date) -> datetime:
    """The moment an option dated `day` expires: 08:00 UTC, Deribit's convention."""
    return datetime.combine(day, time(EXPIRY_HOUR_UTC), tzinfo=timezone.utc)


def parse_time(value: Any) -> datetime:
    """A UTC moment from a timestamp cell or argument.

    Accepts a `datetime` (naive means UTC), a `date` (00:00 UTC), a `numpy.datetime64`, an
    ISO-8601 string (``2024-12-20``, ``2024-12-20T08:00:00Z``), or a number of milliseconds
    since the epoch (Deribit's ``timestamp``); a number below 1e11 is read as seconds.

    Raises:
        ValueError: the value is none of these.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=timezone.utc)
    if isinstance(value, np.datetime64):
        seconds = (value - np.datetime64(0, "s")) / np.timedelta64(1, "s")
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=float(seconds))
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                return parse_time(datetime.fromisoformat(text.replace("Z", "+00:00")))
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO date/time or a millisecond "
                                 "timestamp") from None
        return parse_time(number)
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        number = float(value)
        if not math.isfinite(number) or number <= 0:
            raise ValueError(f"{value!r} is not a positive timestamp")
        seconds = number / 1000.0 if number >= _MS_THRESHOLD else number
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    raise ValueError(f"{value!r} is not a date/time or a millisecond timestamp")


def year_fraction(start: datetime, end: datetime) -> float:
    """ACT/365 year fraction from `start` to `end`, to the second (negative if `end` is earlier)."""
    return (end - start).total_seconds() / SECONDS_PER_YEAR
