"""Number formatting and markdown building blocks shared by the report and its plots.

Pure Python on purpose: `report.md` is written without importing matplotlib or NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DASH = "–"


def fmt(x: Any, spec: str) -> str:
    """`format(x, spec)`, except that a value which rounds to zero prints unsigned ("0.00",
    not "-0.00": a short position worth exactly 0, or a tiny negative rounding residue)."""
    text = format(x, spec)
    mantissa = text.split("e")[0]
    if "-" in mantissa and not any(c in "123456789" for c in mantissa):
        return format(0.0, spec)
    return text


def num(x: Any) -> str:
    """A money-like amount: thousands separators and cents, or 4 significant digits below 1.

    Small magnitudes keep their digits (a gamma, a tiny book) instead of rounding to 0.00.
    """
    if x is None:
        return DASH
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0 or abs(x) >= 1:
        return fmt(x, ",.2f")
    return f"{x:.4g}"


def sig(x: Any) -> str:
    """4 significant digits (Greeks, quantities, ratios)."""
    if x is None:
        return DASH
    return f"{float(x):.4g}"


def pct(x: Any, signed: bool = False) -> str:
    """A fraction as a percentage, e.g. 0.16 -> "16%" (or "+16%" when signed)."""
    if x is None:
        return DASH
    if x == 0:
        return "0%"
    return f"{float(x) * 100:{'+' if signed else ''}.4g}%"


def points(vol: Any) -> str:
    """An absolute vol shift as vol points: 0.1 -> "+10 pts"."""
    if vol is None:
        return DASH
    return "0 pts" if not vol else f"{float(vol) * 100:+.4g} pts"


def level(key: Any) -> str:
    """A confidence level ("0.975" or 0.975) as "97.5%"."""
    return f"{float(key) * 100:g}%"


def highest(levels: Iterable[Any]) -> str | None:
    """The highest level key of a level-keyed mapping, or None when there is none."""
    keys = list(levels)
    return max(keys, key=float) if keys else None


def sorted_levels(levels: Iterable[Any]) -> list:
    return sorted(levels, key=float)


def interval(pair: Sequence[Any] | None) -> str:
    """A [lo, hi] pair as "[lo, hi]"; a dash when it is missing."""
    if not pair or len(pair) != 2:
        return DASH
    return f"[{num(pair[0])}, {num(pair[1])}]"


def plus_minus(value: Any, stderr: Any) -> str:
    """An estimate and its standard error, which needs only two digits."""
    if stderr is None:
        return sig(value)
    return f"{sig(value)} ± {float(stderr):.2g}"


def years(x: Any) -> str:
    """A horizon in years, with its length in days (risk horizons are usually days)."""
    if x is None:
        return DASH
    days = f"{float(x) * 365:.4g}"
    return f"{float(x):.4g} y ({days} day{'' if days == '1' else 's'})"


def cell(x: Any) -> str:
    """A value as one markdown table cell: pipes escaped and line breaks flattened, since
    either would break the table."""
    if isinstance(x, float):
        x = num(x)
    elif isinstance(x, (list, tuple)):
        x = ", ".join(str(v) for v in x)
    elif x is None:
        x = DASH
    return str(x).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A GitHub-flavoured markdown table.

    Args:
        headers: column titles.
        rows: one sequence of cells per row; floats are formatted with `num`.
        align: one of "l"/"r" per column; by default the first column is left-aligned and
            the rest (numbers) right-aligned.
    """
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def key_values(pairs: Mapping[str, Any] | Iterable[tuple[str, Any]],
               headers: Sequence[str] = ("", ""), align: str = "ll") -> str:
    """A two-column table of labelled values."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    return table(headers, [(k, v) for k, v in items], align=align)


def fenced(text: str, lang: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside the text."""
    run = longest = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"
