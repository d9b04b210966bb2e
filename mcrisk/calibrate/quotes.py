"""Calibration quotes: one underlying's option implied vols, checked on the host and padded.

`CalibrationQuotes` is what `mcrisk.calibrate.models.calibrate` fits; `quotes_from_chain`
builds it from a validated `mcrisk.vol.chain.Chain`. `prepare` checks every field before
anything is compiled and pads the quotes (weight 0) to a multiple of `PAD`, so chains whose
sizes differ by a few quotes share one compiled kernel.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jax.typing import ArrayLike

from mcrisk import errors as E
from mcrisk.errors import ConfigError

__all__ = ["CalibrationQuotes", "quotes_from_chain", "prepare", "PAD"]

PAD = 16


class CalibrationQuotes(NamedTuple):
    """European option quotes on one underlying, as implied vols.

    Attributes:
      spot: spot price, > 0.
      rate: continuously compounded risk-free rate (discounting).
      dividend: continuously compounded dividend (carry) yield; with `forwards` given it is
        only a record (the forwards carry the basis).
      strikes: ``(n,)`` strikes, > 0, in the units of `spot`.
      expiries: ``(n,)`` year fractions (ACT/365), > 0.
      is_call: ``(n,)`` bool.
      vols: ``(n,)`` market implied Black vols (annualised fractions, 0.55 not 55), > 0.
      weights: ``(n,)`` weights >= 0 (e.g. 1 / bid-ask vol spread), not all 0; None means 1.
      forwards: ``(n,)`` forward of each quote's expiry, > 0; None means
        ``spot * exp((rate - dividend) * expiry)``.
    """

    spot: float
    rate: float
    dividend: float
    strikes: ArrayLike
    expiries: ArrayLike
    is_call: ArrayLike
    vols: ArrayLike
    weights: ArrayLike | None = None
    forwards: ArrayLike | None = None


class Prepared(NamedTuple):
    """Checked float64 quote arrays, padded to ``(n_pad,)``; ``n`` is the count before padding."""

    forwards: np.ndarray
    strikes: np.ndarray
    expiries: np.ndarray
    is_call: np.ndarray
    discounts: np.ndarray
    vols: np.ndarray
    weights: np.ndarray
    n: int


def prepare(quotes: CalibrationQuotes, field: str = "quotes") -> Prepared:
    """Check the quotes and pad them to a multiple of `PAD` with weight-0 copies of the first.

    Raises:
      ConfigError: naming the field (``quotes.strikes[3]``), the value and what was expected:
        not a CalibrationQuotes, no quotes, mismatched lengths, a non-positive strike, expiry,
        vol or forward, a negative or non-finite weight, or all weights 0.
    """
    if not isinstance(quotes, CalibrationQuotes):
        raise ConfigError(field, type(quotes).__name__, "a CalibrationQuotes")
    spot = E.number(f"{field}.spot", quotes.spot, lo=0.0, lo_open=True)
    rate = E.number(f"{field}.rate", quotes.rate)
    dividend = E.number(f"{field}.dividend", quotes.dividend)
    arrays = {}
    for name in ("strikes", "expiries", "vols", "weights", "forwards", "is_call"):
        x = getattr(quotes, name)
        if x is None:
            continue
        a = np.asarray(x)
        kinds = "b" if name == "is_call" else "fiu"
        if a.ndim != 1 or a.dtype.kind not in kinds:
            what = "booleans (True for a call)" if name == "is_call" else "numbers"
            raise ConfigError(f"{field}.{name}", x, f"a 1-D array of {what}, one per quote")
        arrays[name] = a if name == "is_call" else a.astype(np.float64)
    n = arrays["strikes"].size
    if n == 0:
        raise ConfigError(f"{field}.strikes", [], "at least one quote")
    for name, a in arrays.items():
        if a.size != n:
            raise ConfigError(f"{field}.{name}", f"{a.size} entries",
                              f"{n} entries, one per quote (as strikes)")
    t = arrays["expiries"]
    if "forwards" not in arrays:
        arrays["forwards"] = spot * np.exp((rate - dividend) * np.where(np.isfinite(t), t, 0.0))
    if "weights" not in arrays:
        arrays["weights"] = np.ones(n)
    positive = lambda a: np.isfinite(a) & (a > 0)  # noqa: E731
    checks = (("strikes", positive, "a positive strike"),
              ("expiries", positive, "a positive year fraction"),
              ("vols", positive, "a positive implied vol (a fraction, 0.55 for 55%)"),
              ("forwards", positive, "a positive forward"),
              ("weights", lambda a: np.isfinite(a) & (a >= 0), "a finite weight >= 0"))
    for name, good, what in checks:
        bad = np.flatnonzero(~good(arrays[name]))
        if bad.size:
            i = int(bad[0])
            raise ConfigError(f"{field}.{name}[{i}]", arrays[name][i], what)
    if not np.any(arrays["weights"] > 0):
        raise ConfigError(f"{field}.weights", arrays["weights"], "at least one weight > 0")
    n_pad = -(-n // PAD) * PAD

    def padded(a: np.ndarray, fill) -> np.ndarray:
        return np.concatenate([a, np.full(n_pad - n, fill, a.dtype)])

    out = {name: padded(arrays[name], arrays[name][0])
           for name in ("forwards", "strikes", "expiries", "is_call", "vols")}
    out["weights"] = padded(arrays["weights"], 0.0)
    out["discounts"] = np.exp(-rate * out["expiries"])
    return Prepared(**out, n=n)


def quotes_from_chain(chain, underlying: str, spot: float | None = None) -> CalibrationQuotes:
    """Calibration quotes of one underlying from a `Chain` (see `mcrisk.vol.quotes.read_chain`).

    Only out-of-the-money options are kept (calls struck at or above the forward, puts
    below): an in-the-money quote repeats its out-of-the-money twin's vol through put-call
    parity with a wider relative spread. The market vol of a quote is the mid of its bid and
    ask vols where both are given, else its mark vol, else the implied vol of its mid price;
    its weight is 1 / (ask vol - bid vol), or 1 / the median spread of the chain where a side
    is missing. Each quote keeps its own forward (Deribit quotes one per expiry).

    Args:
      chain: a `mcrisk.vol.chain.Chain`.
      underlying: which underlying to take, e.g. ``"BTC"``.
      spot: the spot; default the forward of the shortest expiry (with forwards given per
        quote the spot does not enter the prices).

    Returns:
      `CalibrationQuotes` with the chain's rate (their median, if rows differ) and the
      dividend yield that fits the forwards' carry by least squares.

    Raises:
      ConfigError: unknown underlying, no out-of-the-money quote, or a quote without any vol.
    """
    c = chain.select(underlying=underlying)
    otm = np.where(c.is_call, c.strike >= c.forward, c.strike < c.forward)
    if not otm.any():
        raise ConfigError("underlying", underlying, "an underlying with out-of-the-money quotes")
    c = c.take(otm)
    both = np.isfinite(c.bid_iv) & np.isfinite(c.ask_iv) & (c.ask_iv > c.bid_iv)
    vols = np.where(both, 0.5 * (c.bid_iv + c.ask_iv), c.mark_iv)
    priced = ~np.isfinite(vols) & np.isfinite(c.mid)
    if priced.any():
        from mcrisk.vol.implied import implied_vol
        iv = implied_vol(c.mid[priced], c.forward[priced], c.strike[priced], c.expiry[priced],
                         c.is_call[priced], c.discount[priced])
        vols[priced] = np.asarray(iv.vol)
    bad = np.flatnonzero(~np.isfinite(vols))
    if bad.size:
        i = int(bad[0])
        raise ConfigError(f"chain[{c.instrument[i]}]", c.mid[i], "a quote with an implied vol "
                          "(bid/ask or mark iv) or a mid price inside the no-arbitrage bounds")
    spread = np.where(both, c.ask_iv - c.bid_iv, np.nan)
    typical = float(np.nanmedian(spread)) if both.any() else 1.0
    weights = 1.0 / np.where(both, spread, typical)
    if spot is None:
        spot = float(c.forward[np.argmin(c.expiry)])
    spot = E.number("spot", spot, lo=0.0, lo_open=True)
    rate = float(np.median(c.rate))
    carry = float(np.sum(c.expiry * np.log(c.forward / spot)) / np.sum(c.expiry ** 2))
    return CalibrationQuotes(spot=spot, rate=rate, dividend=rate - carry, strikes=c.strike,
                             expiries=c.expiry, is_call=c.is_call.astype(bool), vols=vols,
                             weights=weights, forwards=c.forward)
