"""Estimate a `market:` section (spots, vols, correlation) from a CSV file of prices.

The file is one header row ``date,<asset1>,<asset2>,...`` (the first column may also be called
``timestamp``, in any case) and one row per observation, every price > 0::

    date,BTC,ETH
    2024-01-01,42280.2,2282.5
    2024-01-02,44950.0,2354.1
    ...

Log returns ``r_t = ln(P_t / P_{t-1})`` give the volatilities and the correlation, either by
the plain sample estimator or by RiskMetrics' exponentially weighted one. The result has the
shape of the ``market:`` config section, so it can be passed to `mcrisk.price` as is.

Host-side NumPy only: this runs before anything is traced, like the rest of the config checks,
and every defect in the file is a `ConfigError` naming the field, the column and the date.
"""

from __future__ import annotations

import csv
import math
import os
from datetime import datetime, timezone
from typing import Any

import numpy as np

from mcrisk import corr as corrlib
from mcrisk import errors as E
from mcrisk.errors import ConfigError

__all__ = ["estimate_market", "read_prices", "MIN_ROWS", "ESTIMATORS"]

# Nine returns is already a poor estimate; fewer is almost certainly the wrong file.
MIN_ROWS = 10
ESTIMATORS = ("sample", "ewma")
DATE_COLUMNS = ("date", "timestamp")


def estimate_market(path: str | os.PathLike, *, assets: list[str] | None = None,
                    annualisation: float = 365.0, estimator: str = "sample",
                    half_life: float = 30.0, rate: float = 0.0,
                    field: str = "market") -> tuple[dict, list[str]]:
    """Estimate spots, annualised vols and the return correlation from a price file.

    Estimators, on the ``T = rows - 1`` log returns ``r_t`` (shape ``(T, assets)``):

    * ``"sample"``: ``vol_i = std(r_i, ddof=1) * sqrt(annualisation)`` and the sample
      (mean-adjusted) correlation of the returns.
    * ``"ewma"``: RiskMetrics (J.P. Morgan/Reuters, *RiskMetrics Technical Document*, 1996)
      exponentially weighted covariance ``C = sum_t w_t r_t r_t^T`` with
      ``w_t = lambda^(T-1-t) / sum_s lambda^s`` (the newest return has the largest weight,
      the weights sum to 1) and decay ``lambda = 0.5 ** (1 / half_life)``, so a return
      ``half_life`` observations old counts half as much as the newest one (RiskMetrics'
      daily ``lambda = 0.94`` is a half-life of about 11.2 observations). Following
      RiskMetrics, the mean return is taken to be zero rather than estimated: over short
      horizons the mean is far noisier than its effect on the variance. Then
      ``vol_i = sqrt(annualisation * C_ii)`` and ``corr = C_ij / sqrt(C_ii C_jj)``. Normalising
      the weights makes this the RiskMetrics recursion without its start-up bias; an infinite
      half-life gives the zero-mean sample estimator ``mean_t(r_t r_t^T)``.

    Only the selected columns are read, so a gap in a column that is not used is no error.
    Dates must be unique. When most dates parse as ISO dates/times (or as numeric timestamps)
    every one must, and they must be strictly increasing; a date that does not parse is an
    error naming its line. Otherwise (free-form labels) file order is kept.

    Args:
        path: the CSV file.
        assets: price columns to use, in this order; default: every price column in file order.
        annualisation: observations per year (365 for daily crypto prices, 252 for trading
            days); vols scale with its square root.
        estimator: ``"sample"`` or ``"ewma"``.
        half_life: EWMA half-life in observations (> 0); ignored by ``"sample"``.
        rate: the flat risk-free rate copied into the result (not estimated).
        field: config path prefix used in error messages (``market.path``, ``market.assets[1]``).

    Returns:
        ``(market, notes)``. ``market`` is a JSON-serialisable dict with ``assets`` (list of
        str), ``spot`` (last price per asset), ``vol`` (annualised, per asset), ``corr``
        (nested lists, ``(assets, assets)``, exactly symmetric with a unit diagonal),
        ``dividend`` (zeros) and ``rate``. ``notes`` are human-readable lines saying what was
        estimated from what, including a warning when the correlation matrix is not positive
        definite.

    Raises:
        ConfigError: for an unreadable file, a missing date or asset column, too few rows, a
            gap (empty cell or NaN), a non-numeric, infinite or non-positive price, duplicate or
            non-increasing dates, a malformed date among dates, a constant price column, or a
            bad estimator option.
    """
    where = f"{field}.path"
    E.choice(f"{field}.estimator", estimator, ESTIMATORS)
    annualisation = E.number(f"{field}.annualisation", annualisation, lo=0.0, lo_open=True)
    half_life = E.number(f"{field}.half_life", half_life, lo=0.0, lo_open=True)
    rate = E.number(f"{field}.rate", rate)
    names, dates, prices, ordered = _read_prices(path, assets, field)
    path = os.fspath(path)
    returns = np.diff(np.log(prices), axis=0)

    if estimator == "sample":
        cov = np.cov(returns, rowvar=False, ddof=1).reshape(len(names), len(names))
        n_eff = returns.shape[0] - 1.0
    else:
        weights = _ewma_weights(returns.shape[0], half_life)
        cov = (returns * weights[:, None]).T @ returns
        n_eff = 1.0 / float(np.sum(weights ** 2))
    var = np.diag(cov).copy()
    for name, v in zip(names, var):
        if not v > 0.0:
            raise ConfigError(where, path, f"prices that move in column {name!r} (its log "
                              f"returns have zero {estimator} variance, so no vol or "
                              "correlation can be estimated)")
    sd = np.sqrt(var)
    corr = cov / np.outer(sd, sd)
    # Rounding leaves |corr| a hair above 1 or C_ij != C_ji in the last bit; build() wants
    # an exactly symmetric, unit-diagonal matrix in [-1, 1].
    corr = np.clip((corr + corr.T) / 2.0, -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    vols = sd * math.sqrt(annualisation)

    market = {
        "assets": list(names),
        "spot": [float(p) for p in prices[-1]],
        "vol": [float(v) for v in vols],
        "corr": [[float(x) for x in row] for row in corr],
        "dividend": [0.0] * len(names),
        "rate": rate,
    }
    notes = _notes(path, dates, returns.shape[0], ordered, estimator, half_life,
                   annualisation, names, vols, sd, n_eff, corr, field)
    return market, notes


def read_prices(path: str | os.PathLike, *, assets: list[str] | None = None,
                field: str = "market") -> tuple[list[str], list[str], np.ndarray]:
    """Read a price file with every check of `estimate_market` (the same format).

    Args:
        path: the CSV file.
        assets: price columns to use, in this order; default: every price column.
        field: config path prefix used in error messages.

    Returns:
        ``(names, dates, prices)``: the asset names, the date labels as written in the file
        (oldest first) and the prices, shape ``(rows, assets)``, float64, all finite and > 0.

    Raises:
        ConfigError: as `estimate_market`, for any defect of the file.
    """
    names, dates, prices, _ = _read_prices(path, assets, field)
    return names, dates, prices


def _read_prices(path: Any, assets: Any, field: str
                 ) -> tuple[list[str], list[str], np.ndarray, bool]:
    """`read_prices` plus whether the dates parsed (and so were checked to increase)."""
    where = f"{field}.path"
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ConfigError(where, path, "the path of a CSV price file")
    path = os.fspath(path)

    header, rows = _read_csv(where, path)
    names, columns = _select(field, path, header, assets)
    dates = [row[0].strip() for _, row in rows]
    lines = [line for line, _ in rows]
    ordered = _check_dates(where, path, header[0], dates, lines)
    if len(rows) < MIN_ROWS:
        raise ConfigError(where, path, f"a price file with at least {MIN_ROWS} data rows "
                          f"({MIN_ROWS - 1} log returns); it has {len(rows)}")
    for line, row in rows:
        if len(row) != len(header):
            raise ConfigError(where, path, f"{len(header)} cells per row like the header "
                              f"(line {line} has {len(row)})")
    prices = np.array([[_price(where, path, name, dates[k], lines[k], row[c])
                        for name, c in zip(names, columns)]
                       for k, (_, row) in enumerate(rows)], dtype=np.float64)
    return names, dates, prices, ordered


def _read_csv(where: str, path: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header cells and ``(line number, cells)`` per non-blank data row."""
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark, which would
        # otherwise become part of the date column's name.
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            table = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(where, path, f"a readable CSV price file ({reason})") from None
    if not table:
        raise ConfigError(where, path, "a CSV price file with a header row 'date,<asset>,...' "
                          "(the file is empty)")
    (_, header), rows = table[0], table[1:]
    header = [h.strip() for h in header]
    if header[0].lower() not in DATE_COLUMNS:
        raise ConfigError(where, path, "a header row whose first column is 'date' or "
                          f"'timestamp' (found {header[0]!r})")
    if len(header) < 2:
        raise ConfigError(where, path, "at least one price column after the date column")
    return header, rows


def _select(field: str, path: str, header: list[str],
            assets: Any) -> tuple[list[str], list[int]]:
    """Asset names and their column indices in ``header``."""
    available = header[1:]
    if assets is None:
        names, where = available, f"{field}.path"
    else:
        names = E.sequence(f"{field}.assets", assets, min_length=1, what="a list of asset names")
        where = f"{field}.assets"
    for i, name in enumerate(names):
        at = f"{field}.assets[{i}]" if assets is not None else where
        if not isinstance(name, str) or not name:
            raise ConfigError(at, name, f"a non-empty column name of {path}")
        if assets is not None and name not in available:
            raise ConfigError(at, name, f"a price column of {path}; available: "
                              + ", ".join(repr(a) for a in available))
        if available.count(name) > 1:
            raise ConfigError(f"{field}.path", path,
                              f"one column per asset ({name!r} appears {available.count(name)} "
                              "times in the header)")
        if names.index(name) != i:
            raise ConfigError(where, list(names), f"distinct asset names ({name!r} repeats)")
    return list(names), [header.index(name) for name in names]


def _date_key(text: str) -> tuple[str, float] | None:
    """A sortable ``(kind, value)`` for an ISO date/time or a numeric timestamp, else None."""
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return ("number", number) if math.isfinite(number) else None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        # Naive times are compared as if UTC; only their order matters here.
        moment = moment.replace(tzinfo=timezone.utc)
    return "iso", moment.timestamp()


def _check_dates(where: str, path: str, column: str, dates: list[str],
                 lines: list[int]) -> bool:
    """Raise unless dates are unique (and increasing when parseable); True if parseable."""
    seen: dict[str, int] = {}
    for date, line in zip(dates, lines):
        if not date:
            raise ConfigError(where, path, f"a value in column {column!r} on line {line} "
                              "(the date is empty)")
        if date in seen:
            raise ConfigError(where, path, f"unique dates (date {date} appears on lines "
                              f"{seen[date]} and {line})")
        seen[date] = line
    keys = [_date_key(d) for d in dates]
    kinds = [k[0] if k else None for k in keys]
    common = max(set(kinds), key=lambda k: (kinds.count(k), k is not None))
    if common is None:
        return False
    # Mostly dates: one that does not parse is a typo, and treating the column as free-form
    # labels would switch the order checks off for the whole file.
    for date, line, kind in zip(dates, lines, kinds):
        if kind != common:
            expected = ("an ISO date or date/time (YYYY-MM-DD[ HH:MM:SS])" if common == "iso"
                        else "a numeric timestamp")
            raise ConfigError(where, date, f"{expected} like the other rows in column "
                              f"{column!r} on line {line} of {path}")
    for k in range(1, len(keys)):
        if not keys[k][1] > keys[k - 1][1]:
            raise ConfigError(where, path, f"strictly increasing dates (date {dates[k]} on line "
                              f"{lines[k]} is not after {dates[k - 1]} on line {lines[k - 1]})")
    return True


def _price(where: str, path: str, name: str, date: str, line: int, cell: str) -> float:
    """The price in one cell, or a ConfigError naming the column, the date and the line."""
    at = f"in column {name!r} on {date} (line {line} of {path})"
    text = cell.strip()
    if not text:
        raise ConfigError(where, text, f"a price {at}; the cell is empty (a gap)")
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(where, text, f"a number {at}") from None
    if math.isnan(value):
        raise ConfigError(where, text, f"a price {at}; NaN is a gap")
    if not math.isfinite(value):
        raise ConfigError(where, text, f"a finite price {at}")
    if value <= 0.0:
        raise ConfigError(where, value, f"a price > 0 {at}")
    return value


def _ewma_weights(n: int, half_life: float) -> np.ndarray:
    """Normalised weights ``lambda^(n-1-t)``, newest last. Shape ``(n,)``, float64."""
    # exp(age * ln(lambda)) with ln(lambda) = -ln2 / half_life: forming lambda itself would
    # round to 1.0 for very long half-lives and lose the weighting entirely.
    age = np.arange(n - 1, -1, -1, dtype=np.float64)
    w = np.exp(-math.log(2.0) / half_life * age)
    return w / w.sum()


def _notes(path: str, dates: list[str], n_returns: int, ordered: bool, estimator: str,
           half_life: float, annualisation: float, names: list[str], vols: np.ndarray,
           sd: np.ndarray, n_eff: float, corr: np.ndarray, field: str) -> list[str]:
    notes = [f"{field} estimated from {path}: {len(dates)} rows, {n_returns} log returns, "
             f"{dates[0]} to {dates[-1]}"
             + ("" if ordered else " (dates are not ISO dates or timestamps; file order kept)")]
    if estimator == "sample":
        notes.append("estimator: sample (mean-adjusted st.dev. with ddof=1, sample correlation)")
    else:
        lam = 0.5 ** (1.0 / half_life)
        notes.append(f"estimator: ewma (RiskMetrics, zero mean, normalised weights), half-life "
                     f"{half_life:g} observations, lambda = {lam:.6g}, effective sample size "
                     f"{n_eff:.1f}")
    notes.append(f"annualisation: {annualisation:g} observations per year "
                 f"(vol = per-observation st.dev. x sqrt({annualisation:g}))")
    for name, vol, s in zip(names, vols, sd):
        # Standard error of a vol estimate for normal returns: vol / sqrt(2 n).
        notes.append(f"vol {name}: {vol:.6g} (per observation {s:.4g}; s.e. about "
                     f"{vol / math.sqrt(2.0 * n_eff):.2g} for normal returns)")
    min_eig = float(np.linalg.eigvalsh(corr).min())
    if min_eig < corrlib.PSD_TOL:
        notes.append(f"warning: the estimated {field}.corr is not positive definite (smallest "
                     f"eigenvalue {min_eig:.3g}: some assets' returns are collinear or there are "
                     f"fewer returns than assets); {field}.corr_repair: nearest replaces it by the "
                     "nearest positive definite correlation matrix")
    return notes
