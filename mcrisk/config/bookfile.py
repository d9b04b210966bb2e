"""A book kept in its own YAML file: ``portfolio.file=book.yaml`` or `load_portfolio`.

The file has the shape of a ``conf/portfolio/*.yaml`` group file (optional ``name``, a list
of ``positions``). It is checked by the same code as an inline portfolio, and every error
names the file and the field inside it (``book.yaml: positions[2].strike: got -5; ...``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from mcrisk import errors as E
from mcrisk.errors import ConfigError

KEYS = ("name", "positions")


def read(path: Any, field: str = "portfolio.file") -> tuple[dict, str]:
    """Parse a portfolio file: its mapping and the path prefix its errors start with.

    Args:
        path: the file (str or Path), relative to the working directory.
        field: the config field that named it, for errors about the file itself.

    Returns:
        ``({"name": ..., "positions": [...]}, "<path>: positions")``; the name defaults to
        the file's stem.
    """
    import yaml

    if not isinstance(path, (str, Path)) or not str(path) or str(path) == "???":
        raise ConfigError(field, path, "the path of a portfolio YAML file "
                          "(portfolio=<book.yaml> or portfolio.file=<book.yaml>)")
    file = Path(path)
    if not file.is_file():
        raise ConfigError(field, str(path), "an existing portfolio YAML file")
    try:
        raw = yaml.safe_load(file.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(field, str(path), f"a readable YAML file ({_first_line(err)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}", raw, "a mapping with 'positions' (and optionally 'name')")
    for key in raw:
        if key not in KEYS:
            raise ConfigError(f"{path}: {key}", raw[key],
                              "no such field; allowed fields: " + ", ".join(KEYS))
    E.sequence(f"{path}: positions", raw.get("positions"), min_length=1,
               what="a list of positions (this field is required)")
    name = raw.get("name") or file.stem
    if not isinstance(name, str):
        raise ConfigError(f"{path}: name", name, "a string")
    return {"name": name, "positions": list(raw["positions"])}, f"{path}: positions"


def note(path: Any) -> str:
    """What the results record about the file: a changed file changes the run."""
    data = Path(path).read_bytes()
    return (f"portfolio read from {Path(path).resolve()} "
            f"(sha256 {hashlib.sha256(data).hexdigest()[:16]})")


def load_portfolio(path: Any, market: Any = None) -> dict:
    """Read and validate a book file; the result goes into a config as ``cfg["portfolio"]``.

    Without `market`, everything that does not depend on the market is checked (types,
    fields, option kinds, strikes, expiries, barrier types, fixings, weights, unique names);
    with it (a market mapping like ``cfg["market"]``, or an `mcrisk.Market`), also that
    each asset exists and each barrier lies on the right side of its spot, exactly as
    `mcrisk.build` checks an inline portfolio.

    Args:
        path: the YAML file.
        market: optional market to check the positions against.

    Returns:
        ``{"name": str, "positions": [dict, ...]}``, the positions as written in the file.

    Raises:
        ConfigError: naming the file and the field, e.g.
            ``book.yaml: positions[2].strike: got -5; expected a finite number and > 0``.
    """
    from mcrisk.config.positions import build_position, check_unique_names

    portfolio, where = read(path, field="path")
    if market is not None:
        from mcrisk.config.build import build_market
        from mcrisk.problem import Market

        market = market if isinstance(market, Market) else build_market(market, [])
    built = [build_position(f"{where}[{i}]", p, market, i)
             for i, p in enumerate(portfolio["positions"])]
    check_unique_names(built, where)
    return portfolio


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
