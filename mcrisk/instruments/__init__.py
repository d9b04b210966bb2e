"""Payoff families (one module each, interface in `base`) and their registry.

The order of `FAMILIES` is the order of the book's positions in every kernel output.
"""

from types import ModuleType

from mcrisk.instruments import asian, barrier, linear, lookback, terminal

FAMILIES: tuple[ModuleType, ...] = (linear, terminal, asian, barrier, lookback)
BY_NAME: dict[str, ModuleType] = {f.NAME: f for f in FAMILIES}
OF_TYPE: dict[str, ModuleType] = {t: f for f in FAMILIES for t in f.TYPES}
BY_KIND: dict[str, ModuleType] = {k: f for f in FAMILIES for k in f.KINDS}
