"""The ``dynamic_hedge.deep:`` subsection: a deep hedge trained beside the delta-hedge rows.

Pure Python (no JAX): every field is checked on concrete values and a bad one raises
`ConfigError` naming its path (``dynamic_hedge.deep.hidden[1]``), the value and what was
expected, before anything is compiled. `DEFAULTS` is the one source of the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcrisk.config.dynamic_hedge import HedgeSetup
from mcrisk.errors import (ConfigError, boolean, choice, integer, mapping, number, only_keys,
                           sequence)

MEASURES = ("es", "entropic")

DEFAULTS: dict[str, Any] = dict(
    hidden=[16, 16], measure="es", level=None, risk_aversion=1.0, delta_feature=True,
    learning_rate=0.01, iterations=300, batch=2000, seed=None,
)


@dataclass(frozen=True)
class DeepSetup:
    """A checked deep-hedging configuration (see `parse` for each field)."""

    hidden: tuple[int, ...]
    measure: str
    level: float
    risk_aversion: float
    delta_feature: bool
    learning_rate: float
    iterations: int
    batch: int
    seed: int


def parse(section: Mapping | None, setup: HedgeSetup, path: str = "dynamic_hedge.deep"
          ) -> DeepSetup:
    """Check a ``deep:`` mapping against the dynamic-hedge `setup` it trains on.

    Fields: ``hidden`` (widths of the MLP's hidden layers, a non-empty list of integers >= 1);
    ``measure`` ``es`` (expected shortfall at ``level``, default the section's ``level``) or
    ``entropic`` ((1/λ) log E[exp(-λ P&L)] with λ = ``risk_aversion`` per unit of money);
    ``delta_feature`` (give the policy the book's Black–Scholes delta at ``hedge_vol``);
    ``learning_rate`` (Adam's first step size, cosine-decayed over the run), ``iterations``
    (Adam steps), ``batch`` (fresh paths per step), ``seed`` (of the training paths and the
    initial weights; default the section's seed, on a stream of its own so the evaluation paths
    are never trained on).

    Raises:
        ConfigError: naming the first bad field.
    """
    m = dict(mapping(path, section if section is not None else {}))
    only_keys(path, m, tuple(DEFAULTS))
    g = {k: (m[k] if m.get(k) is not None else DEFAULTS[k]) for k in DEFAULTS}
    p = lambda k: f"{path}.{k}"  # noqa: E731
    if setup.gamma_hedge is not None:
        raise ConfigError("dynamic_hedge.gamma_hedge", "set",
                          "null with dynamic_hedge.deep: the deep hedge trades the underlying only")
    widths = sequence(p("hidden"), g["hidden"], min_length=1, what="a list of layer widths")
    hidden = tuple(integer(f"{path}.hidden[{i}]", w, lo=1) for i, w in enumerate(widths))
    level = number(p("level"), g["level"] if g["level"] is not None else setup.level,
                   lo=0, hi=1, lo_open=True, hi_open=True)
    batch = integer(p("batch"), g["batch"], lo=2)
    if batch * (1 - level) < 1:
        raise ConfigError(p("batch"), batch, f"enough paths for a tail at level {level:g}")
    return DeepSetup(
        hidden=hidden, measure=choice(p("measure"), g["measure"], MEASURES), level=level,
        risk_aversion=number(p("risk_aversion"), g["risk_aversion"], lo=0, lo_open=True),
        delta_feature=boolean(p("delta_feature"), g["delta_feature"]),
        learning_rate=number(p("learning_rate"), g["learning_rate"], lo=0, lo_open=True, hi=1),
        iterations=integer(p("iterations"), g["iterations"], lo=1), batch=batch,
        seed=integer(p("seed"), g["seed"] if g["seed"] is not None else setup.seed, lo=0))


def describe(deep: DeepSetup) -> dict:
    """The deep setup as plain values for results.json."""
    return dict(hidden=list(deep.hidden), measure=deep.measure, level=deep.level,
                risk_aversion=deep.risk_aversion, delta_feature=deep.delta_feature,
                learning_rate=deep.learning_rate, iterations=deep.iterations,
                batch=deep.batch, seed=deep.seed)
