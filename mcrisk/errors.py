"""User-input errors and the pure-Python checks that raise them.

Every check runs on concrete Python/NumPy values before anything is traced, so a bad
config fails with the field path, the offending value and what was expected, never with
a JAX shape traceback or a NaN result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["ConfigError", "NonFiniteError", "check_finite", "finite_max", "show"]


class ConfigError(ValueError):
    """A config value is missing, malformed or outside its admissible range.

    Attributes:
        path: dotted field path, e.g. ``portfolio.positions[3].strike``.
        value: the offending value (or ``None`` for a missing field).
        expected: what an admissible value looks like.
    """

    def __init__(self, path: str, value: Any, expected: str):
        self.path = path
        self.value = value
        self.expected = expected
        super().__init__(f"{path}: got {show(value)}; expected {expected}")


class NonFiniteError(ArithmeticError):
    """A computed number came out NaN or infinite.

    No NaN or inf ever reaches a result: where one appears, the run stops with this error
    naming what produced it (a position, a scenario, a grid point) instead of reporting a
    number that later arithmetic (``max(0, nan) == 0``) would turn into a plausible one.

    Attributes:
        path: where the value sits, e.g. ``positions[3].value`` or ``margin.points[4].loss``.
        value: the offending value.
        detail: what produced it, and what to check.
    """

    def __init__(self, path: str, value: Any, detail: str = ""):
        self.path = path
        self.value = value
        self.detail = detail
        super().__init__(f"{path}: computed {show(value)} (not a finite number)"
                         + (f"; {detail}" if detail else ""))


def check_finite(result: Any, path: str = "", detail: str = "") -> Any:
    """Return `result` unchanged, or raise NonFiniteError at the first NaN/inf inside it.

    Walks nested dicts, lists, tuples, NumPy/JAX arrays and scalars; the error names the
    path (``stress[1].by_position.call``, ``var.0.99``) of the first non-finite number.
    """
    if isinstance(result, Mapping):
        for k, v in result.items():
            check_finite(v, f"{path}.{k}" if path else str(k), detail)
    elif isinstance(result, (list, tuple)):
        for i, v in enumerate(result):
            check_finite(v, f"{path}[{i}]", detail)
    elif isinstance(result, (float, np.floating, np.ndarray)) or hasattr(result, "__array__"):
        a = np.asarray(result)
        if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
            idx = np.argwhere(~np.isfinite(a))[0] if a.ndim else ()
            where = path + "".join(f"[{int(i)}]" for i in idx)
            raise NonFiniteError(where or "result", a[tuple(idx)].item(), detail)
    return result


def finite_max(values: np.ndarray, path: str, labels: Sequence[str] | None = None) -> int:
    """Index of the largest entry of a 1-D array, raising NonFiniteError on any NaN/inf.

    ``np.argmax`` would pick a NaN and ``max(0.0, nan)`` returns 0.0: a NaN loss must never
    read as "no loss".
    """
    values = np.asarray(values, np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise NonFiniteError(f"{path}[{i}]", float(values[i]),
                             labels[i] if labels is not None else "")
    return int(np.argmax(values))


def show(value: Any) -> str:
    """A value as a user typed it, for error messages: plain numbers (``0.8``, not
    ``np.float64(0.8)``), lists for arrays, strings quoted; cut to 200 characters.

    Use it for every number interpolated into a message: NumPy 2 scalars print their type.
    """
    text = repr(_plain(value))
    return text if len(text) <= 200 else text[:197] + "..."


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays (at any depth of lists, tuples and dicts) as Python values."""
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array__"):
        return _plain(np.asarray(value).tolist())
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def number(path: str, x: Any, *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, hi_open: bool = False, what: str = "") -> float:
    """Return ``x`` as a finite float inside the given bounds, else raise ConfigError."""
    bounds = []
    if lo is not None:
        bounds.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        bounds.append(f"{'<' if hi_open else '<='} {hi:g}")
    expected = what or " and ".join(["a finite number"] + bounds)
    if not _is_number(x) or not math.isfinite(float(x)):
        raise ConfigError(path, x, expected)
    v = float(x)
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ConfigError(path, x, expected)
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise ConfigError(path, x, expected)
    return v


def integer(path: str, x: Any, *, lo: int | None = None, what: str = "",
            multiple_of: int | None = None, why: str = "") -> int:
    """Return ``x`` as an int >= lo (and a multiple of `multiple_of`, for the reason `why`);
    floats with an integral value (1e5) are accepted."""
    expected = what or (f"an integer >= {lo}" if lo is not None else "an integer")
    if isinstance(x, bool):
        raise ConfigError(path, x, expected)
    if isinstance(x, (float, np.floating)) and math.isfinite(x) and float(x).is_integer():
        x = int(x)
    if not isinstance(x, (int, np.integer)):
        raise ConfigError(path, x, expected)
    if lo is not None and x < lo:
        raise ConfigError(path, x, expected)
    if multiple_of is not None and x % multiple_of:
        raise ConfigError(path, x, f"a multiple of {multiple_of} ({why})")
    return int(x)


def boolean(path: str, x: Any) -> bool:
    if not isinstance(x, (bool, np.bool_)):
        raise ConfigError(path, x, "true or false")
    return bool(x)


def choice(path: str, x: Any, options: Sequence[str]) -> str:
    if not isinstance(x, str) or x not in options:
        raise ConfigError(path, x, "one of " + ", ".join(repr(o) for o in options))
    return x


def string(path: str, x: Any) -> str:
    if not isinstance(x, str) or not x:
        raise ConfigError(path, x, "a non-empty string")
    return x


def sequence(path: str, x: Any, *, length: int | None = None, min_length: int = 0,
             what: str = "a list") -> list:
    if isinstance(x, (str, bytes, Mapping)) or not isinstance(x, (Sequence, np.ndarray)):
        raise ConfigError(path, x, what)
    items = list(x)
    if length is not None and len(items) != length:
        raise ConfigError(path, x, f"{what} of length {length} (it has {len(items)})")
    if len(items) < min_length:
        raise ConfigError(path, x, f"{what} with at least {min_length} entries")
    return items


def mapping(path: str, x: Any) -> Mapping:
    if not isinstance(x, Mapping):
        raise ConfigError(path, x, "a mapping of fields")
    return x


def only_keys(path: str, section: Mapping, allowed: Sequence[str]) -> None:
    """Reject misspelt or unknown keys instead of silently ignoring them."""
    for key in section:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise ConfigError(where, section[key],
                              "no such field; allowed fields: " + ", ".join(sorted(allowed)))


def required(path: str, section: Mapping, key: str) -> Any:
    if key not in section or section[key] is None:
        raise ConfigError(f"{path}.{key}", None, "a value (this field is required)")
    return section[key]


def per_asset(path: str, x: Any, n_assets: int, **bounds: Any) -> np.ndarray:
    """A scalar (broadcast to every asset) or a list with one number per asset."""
    if _is_number(x):
        return np.full(n_assets, number(path, x, **bounds))
    items = sequence(path, x, length=n_assets, what="a number or a list with one number per asset")
    return np.array([number(f"{path}[{i}]", v, **bounds) for i, v in enumerate(items)])
