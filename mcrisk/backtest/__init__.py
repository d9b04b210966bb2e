"""Backtests of VaR and ES forecasts against realised losses.

``mcrisk.backtest(cfg)`` runs task=backtest (`mcrisk.tasks.backtest.backtest`). The package
and the function share the name ``mcrisk.backtest``: a plain function there would be replaced
by this package the moment any ``mcrisk.backtest.*`` module is imported, so the package
itself is made callable (a module class with ``__call__``, which Python allows since 3.5).
"""

import sys
import types
from typing import Any

from mcrisk.backtest.coverage import christoffersen as christoffersen
from mcrisk.backtest.coverage import es_test as es_test
from mcrisk.backtest.coverage import exceptions as exceptions
from mcrisk.backtest.coverage import kupiec as kupiec
from mcrisk.backtest.coverage import traffic_light as traffic_light


class _CallablePackage(types.ModuleType):
    def __call__(self, cfg: Any, **kwargs: Any) -> dict:
        """Backtest VaR/ES models over a price history, side by side (Kupiec,
        Christoffersen, traffic light, ES test); see `mcrisk.tasks.backtest.backtest`."""
        from mcrisk.tasks.backtest import backtest

        return backtest(cfg, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
