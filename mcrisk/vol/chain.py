"""`Chain`: the accepted quotes of an option-chain file as NumPy columns, plus its rejections.

`mcrisk.vol.quotes.read_chain` builds one; this module only holds, selects and summarises.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from mcrisk import errors as E

__all__ = ["Chain", "Rejection", "ARRAY_FIELDS"]

# (text in a reason, its kind) for the summary's counts; the first problem of a row decides.
_KINDS = (("instrument_name", "bad instrument name"), ("expired", "expired"),
          ("missing", "missing field"), ("is not a number", "non-numeric field"),
          ("is not > 0", "non-positive field"), ("is negative", "negative price or vol"),
          ("crossed quote", "crossed bid/ask"), (" outside [", "mid/mark outside bid/ask"),
          ("lower bound", "at or below the lower bound"), ("upper bound", "above the upper bound"),
          ("duplicate", "duplicate"), ("no price and no implied vol", "no price or vol"))
ARRAY_FIELDS = ("underlying", "instrument", "expiry", "expiry_date", "strike", "is_call",
                "forward", "rate", "discount", "bid", "ask", "mid", "mark_iv", "bid_iv",
                "ask_iv", "row")


class Rejection(NamedTuple):
    """One row of the file that was not used.

    Attributes:
        row: 0-based index of the data row (the first row after a CSV header is 0).
        instrument: the instrument name, or ``"<underlying> <expiry> <strike> <type>"`` built
            from the generic columns (as written where they did not parse).
        reason: every problem found on the row, naming the field and its value, ``"; "``-joined.
    """

    row: int
    instrument: str
    reason: str


@dataclasses.dataclass(frozen=True, eq=False)
class Chain:
    """Accepted option quotes, one entry per row, every array of shape ``(n,)``.

    Prices are in the quote currency (USD for Deribit's BTC/ETH options, USDC for ``*_USDC``
    ones), already converted from coin units where the file quoted in the coin; implied vols
    are annualised fractions (0.55, not 55). NaN marks a price or vol the row did not give.

    Attributes:
        underlying: str, the underlying as named in the file (``"BTC"``, ``"SOL_USDC"``).
        instrument: str, the instrument name (built from the columns for generic files).
        expiry: float64, time to expiry in years (ACT/365 from the valuation time), > 0.
        expiry_date: datetime64[s], the expiry moment (UTC); NaT where given in years.
        strike: float64, > 0, in the quote currency.
        is_call: bool.
        forward: float64, > 0, the forward (Deribit's ``underlying_price``) for this expiry.
        rate: float64, continuously compounded rate used for discounting.
        discount: float64, ``exp(-rate * expiry)``.
        bid, ask, mid: float64 option prices in the quote currency (mid is the file's
            mid/mark price, never derived from bid and ask).
        mark_iv, bid_iv, ask_iv: float64 implied vols as fractions.
        row: int64, 0-based data-row index in the file.
        rejected: the rows not used, with the reason (the whole file's, kept by `select`).
        notes: how the file was read: column choices, unit conventions applied, counts.
        source: the file path, or ``"<DataFrame>"``.
    """

    underlying: np.ndarray
    instrument: np.ndarray
    expiry: np.ndarray
    expiry_date: np.ndarray
    strike: np.ndarray
    is_call: np.ndarray
    forward: np.ndarray
    rate: np.ndarray
    discount: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    mid: np.ndarray
    mark_iv: np.ndarray
    bid_iv: np.ndarray
    ask_iv: np.ndarray
    row: np.ndarray
    rejected: tuple[Rejection, ...] = ()
    notes: tuple[str, ...] = ()
    source: str = "<DataFrame>"

    def __len__(self) -> int:
        return int(self.strike.shape[0])

    @property
    def moneyness(self) -> np.ndarray:
        """Log-moneyness ``k = ln(K / F)``, shape ``(n,)``."""
        return np.log(self.strike / self.forward)

    def take(self, index: Any) -> Chain:
        """The rows at `index` (a boolean mask or integer indices), same rejections and notes."""
        return dataclasses.replace(self, **{f: getattr(self, f)[index] for f in ARRAY_FIELDS})

    def select(self, *, underlying: str | None = None, expiry: Any = None,
               is_call: bool | None = None) -> Chain:
        """The quotes matching every given criterion.

        Args:
            underlying: e.g. ``"BTC"`` (case-insensitive; ``"SOL_USDC"`` for linear options).
            expiry: an expiry in years (matched to within one hour, since rows of one expiry
                may carry timestamps a little apart) or a date/datetime/ISO string matched
                against ``expiry_date``'s calendar day.
            is_call: True for calls only, False for puts only.

        Raises:
            ConfigError: an unknown underlying, or an expiry that matches no quote.
        """
        mask = np.ones(len(self), bool)
        if underlying is not None:
            E.string("underlying", underlying)
            mask &= np.char.upper(self.underlying.astype(str)) == underlying.upper()
            if not mask.any():
                raise E.ConfigError("underlying", underlying, "one of "
                                    + ", ".join(sorted(set(self.underlying.tolist()))))
        if expiry is not None:
            if isinstance(expiry, (int, float, np.integer, np.floating)) \
                    and not isinstance(expiry, bool):
                hit = np.abs(self.expiry - float(expiry)) <= 1.0 / (365.0 * 24.0)
            else:
                try:
                    day = np.datetime64(str(expiry)[:10], "D")
                except ValueError:
                    raise E.ConfigError("expiry", expiry,
                                        "years (a number) or a date like 2024-12-27") from None
                hit = self.expiry_date.astype("datetime64[D]") == day
            if not (mask & hit).any():
                raise E.ConfigError("expiry", expiry, "an expiry present in the chain ("
                                    + ", ".join(f"{t:.6g}" for t in np.unique(self.expiry[mask]))
                                    + " years)")
            mask &= hit
        if is_call is not None:
            mask &= self.is_call == E.boolean("is_call", is_call)
        return self.take(mask)

    def by_expiry(self) -> Iterator[tuple[str, float, Chain]]:
        """Yield ``(underlying, expiry_years, quotes)`` per smile, by underlying then expiry.

        A smile is one underlying and one ``expiry_date`` (or one expiry in years where the
        file gave years). Its rows' times to expiry differ where their timestamps do (by
        seconds, in an exchange snapshot); ``expiry_years`` is their mean. Quotes of one smile
        are sorted by strike, calls before puts at equal strikes.
        """
        when = [str(d) if not np.isnat(d) else repr(t)
                for d, t in zip(self.expiry_date, self.expiry.tolist())]
        groups: dict[tuple[str, str], list[int]] = {}
        for i, key in enumerate(zip(self.underlying.tolist(), when)):
            groups.setdefault(key, []).append(i)
        smiles = sorted((und, float(np.mean(self.expiry[idx])), idx)
                        for (und, _), idx in groups.items())
        for und, t, idx in smiles:
            idx = np.asarray(idx)
            idx = idx[np.lexsort((~self.is_call[idx], self.strike[idx]))]
            yield und, t, self.take(idx)

    def rejection_counts(self) -> dict[str, int]:
        """Rejected rows per kind of problem (the first problem of a row decides), most
        frequent first."""
        return dict(Counter(_category(r.reason) for r in self.rejected).most_common())

    def summary(self) -> str:
        """A few lines: quotes per underlying and expiry, rejections by reason, notes."""
        lines = [f"{self.source}: {len(self)} quotes accepted, {len(self.rejected)} rejected"]
        for und in sorted(set(self.underlying.tolist())):
            sel = self.underlying == und
            ts = np.unique(self.expiry[sel])
            lines.append(f"  {und}: {int(sel.sum())} quotes, {ts.size} expiries from "
                         f"{ts.min() * 365:.2f} to {ts.max() * 365:.1f} days, strikes "
                         f"{self.strike[sel].min():g} to {self.strike[sel].max():g}")
        kinds = self.rejection_counts()
        if kinds:
            lines.append("  rejected rows by first problem: "
                         + ", ".join(f"{k} ({n})" for k, n in kinds.items()))
        for r in self.rejected:
            lines.append(f"    row {r.row} {r.instrument}: {r.reason}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _category(reason: str) -> str:
    first = reason.split("; ")[0]
    return next((kind for text, kind in _KINDS if text in first), "other")
