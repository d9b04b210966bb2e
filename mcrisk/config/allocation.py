"""The ``allocation`` section of task=allocate, checked on the host before anything runs.

Every field is checked with its path (``allocation.assets[2].vol``) and unknown keys are
rejected; the defaults are those of `mcrisk.config.schema.AllocationConf`.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, NamedTuple

import numpy as np

from mcrisk import errors as E
from mcrisk.errors import ConfigError

FIELD = "allocation"
ASSET_KEYS = ("name", "mean", "vol", "jump_rate", "jump_mean", "jump_std")


class Asset(NamedTuple):
    name: str
    mean: float
    vol: float
    jump_rate: float
    jump_mean: float
    jump_std: float


class AllocationOptions(NamedTuple):
    """The checked section: see `AllocationConf` for the meaning of each field."""

    assets: tuple[Asset, ...]
    corr: np.ndarray
    level: float
    horizon: float
    n_scenarios: int
    seed: int
    n_points: int
    cvar_cap: float | None
    cash: bool
    lower: np.ndarray
    upper: np.ndarray


def allocation_options(cfg: dict) -> AllocationOptions:
    """The checked ``allocation`` section of a plain-dict config, defaults filled in.

    Raises:
      ConfigError: naming the field, the value and what was expected.
    """
    from mcrisk.config.schema import AllocationConf

    raw = dict(E.mapping(FIELD, cfg.get(FIELD) or {}))
    keys = [f.name for f in fields(AllocationConf)]
    E.only_keys(FIELD, raw, keys)
    d = AllocationConf()
    o = {k: raw.get(k, getattr(d, k)) for k in keys}
    items = E.sequence(f"{FIELD}.assets", o["assets"], min_length=2,
                       what="a list of assets ({name, mean, vol, ...})")
    assets = tuple(_asset(f"{FIELD}.assets[{i}]", a) for i, a in enumerate(items))
    names = [a.name for a in assets]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise ConfigError(f"{FIELD}.assets[{i}].name", n, "a name not used by another asset")
    m = len(assets)
    corr = _corr(o["corr"], m)
    cap = o["cvar_cap"]
    upper = o["upper"]
    return AllocationOptions(
        assets, corr,
        E.number(f"{FIELD}.level", o["level"], lo=0.0, hi=1.0, lo_open=True, hi_open=True),
        E.number(f"{FIELD}.horizon", o["horizon"], lo=0.0, lo_open=True),
        E.integer(f"{FIELD}.n_scenarios", o["n_scenarios"], lo=100),
        E.integer(f"{FIELD}.seed", o["seed"], lo=0),
        E.integer(f"{FIELD}.n_points", o["n_points"], lo=2),
        None if cap is None else E.number(f"{FIELD}.cvar_cap", cap, lo=0.0, lo_open=True),
        E.boolean(f"{FIELD}.cash", o["cash"]),
        E.per_asset(f"{FIELD}.lower", o["lower"], m, lo=0.0, hi=1.0),
        np.full(m, math.inf) if upper is None
        else E.per_asset(f"{FIELD}.upper", upper, m, lo=0.0, hi=1.0))


def _asset(path: str, a: Any) -> Asset:
    a = E.mapping(path, a)
    E.only_keys(path, a, ASSET_KEYS)
    return Asset(E.string(f"{path}.name", E.required(path, a, "name")),
                 E.number(f"{path}.mean", E.required(path, a, "mean")),
                 E.number(f"{path}.vol", E.required(path, a, "vol"), lo=0.0),
                 E.number(f"{path}.jump_rate", a.get("jump_rate", 0.0), lo=0.0),
                 E.number(f"{path}.jump_mean", a.get("jump_mean", 0.0)),
                 E.number(f"{path}.jump_std", a.get("jump_std", 0.0), lo=0.0))


def _corr(x: Any, m: int) -> np.ndarray:
    path = f"{FIELD}.corr"
    if x is None:
        return np.eye(m)
    rows = E.sequence(path, x, length=m, what=f"an {m} x {m} correlation matrix")
    c = np.array([[E.number(f"{path}[{i}][{j}]", v, lo=-1.0, hi=1.0)
                   for j, v in enumerate(E.sequence(f"{path}[{i}]", r, length=m))]
                  for i, r in enumerate(rows)])
    bad = np.argwhere((np.abs(c - c.T) > 1e-12) | (np.eye(m, dtype=bool) & (c != 1.0)))
    if bad.size:
        i, j = map(int, bad[0])
        raise ConfigError(f"{path}[{i}][{j}]", float(c[i, j]),
                          "1 on the diagonal and a symmetric matrix")
    from mcrisk.corr import factor

    factor(c, path)  # raises on a matrix that is not positive semi-definite
    return c
