"""Backtests of VaR and ES forecasts against realised losses."""

from mcrisk.backtest.coverage import christoffersen as christoffersen
from mcrisk.backtest.coverage import es_test as es_test
from mcrisk.backtest.coverage import exceptions as exceptions
from mcrisk.backtest.coverage import kupiec as kupiec
from mcrisk.backtest.coverage import traffic_light as traffic_light
