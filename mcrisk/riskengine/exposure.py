"""Exposure profile and path risk along the revaluation dates, streamed over chunks.

Per date j: expected exposure EE = E[max(V_j, 0)], expected negative exposure, mean value, and
PFE = the `pfe_level` quantile of V_j (upper tail, exact order statistic). Per path: the
maximum drawdown of the book value along [0, d_1, ..., d_m]; with collateral C and a
maintenance margin M, liquidation on the first date with C + V_j < M.
"""

from __future__ import annotations

import math

import numpy as np

from mcrisk.riskengine.metrics import _top, tail_count
from mcrisk.riskengine.results import Drawdown, ExposureProfile, Liquidation


class Profile:
    """Streaming accumulator of the exposure profile; `result` gives an `ExposureProfile`."""

    def __init__(self, n: int, dates, v0: float, pfe_level: float,
                 collateral: float | None, maintenance: float | None):
        self.n, self.dates, self.v0 = n, np.asarray(dates), v0
        self.pfe_level = pfe_level
        self.collateral, self.maintenance = collateral, maintenance
        self.k = tail_count(n, pfe_level)
        self.kd = tail_count(n, 0.95)
        d = len(dates)
        self.top_v = [np.empty(0) for _ in range(d)]
        self.sum_pos = np.zeros(d)
        self.sum_neg = np.zeros(d)
        self.sum_v = np.zeros(d)
        self.dd_sum = 0.0
        self.dd_sq = 0.0
        self.dd_top = np.empty(0)
        self.liq_first = np.zeros(d, np.int64)  # paths first liquidated on date j

    def update(self, values: np.ndarray, start: np.ndarray | None = None) -> None:
        """values: (chunk, dates) book values; start: (chunk,) each path's own estimate of
        today's value (None: `v0` for every path).

        A drawdown from a value shared by all paths would carry that value's error into every
        path; from each path's own estimate of today, on the random numbers its later values
        use, it is a difference like a loss."""
        self.sum_pos += np.maximum(values, 0).sum(axis=0)
        self.sum_neg += np.minimum(values, 0).sum(axis=0)
        self.sum_v += values.sum(axis=0)
        for j in range(values.shape[1]):
            self.top_v[j] = _top(np.concatenate([self.top_v[j], values[:, j]]), self.k)
        first = np.full(values.shape[0], self.v0) if start is None else start
        path = np.concatenate([first[:, None], values], axis=1)
        dd = (np.maximum.accumulate(path, axis=1) - path).max(axis=1)
        self.dd_sum += dd.sum()
        self.dd_sq += (dd ** 2).sum()
        self.dd_top = _top(np.concatenate([self.dd_top, dd]), self.kd * 2)
        if self.maintenance is not None:
            below = self.collateral + values < self.maintenance
            hit = below.any(axis=1)
            when = np.argmax(below, axis=1)
            self.liq_first += np.bincount(when[hit], minlength=values.shape[1])

    def result(self) -> ExposureProfile:
        n = self.n
        mean = self.dd_sum / n
        dd = Drawdown(mean=mean,
                      stdev=math.sqrt(max(self.dd_sq / n - mean ** 2, 0.0) * n / max(n - 1, 1)),
                      q95=float(self.dd_top[tail_count(n, 0.95) - 1]),
                      q99=float(self.dd_top[tail_count(n, 0.99) - 1]),
                      worst=float(self.dd_top[0]))
        liq = None
        if self.maintenance is not None:
            hits = int(self.liq_first.sum())
            liq = Liquidation(
                self.collateral, self.maintenance, hits / n, np.cumsum(self.liq_first) / n,
                float((self.liq_first * self.dates).sum() / hits) if hits else None)
        return ExposureProfile(
            dates=self.dates, expected_exposure=self.sum_pos / n,
            expected_negative_exposure=self.sum_neg / n, mean_value=self.sum_v / n,
            pfe_level=self.pfe_level, pfe=np.array([float(t[self.k - 1]) for t in self.top_v]),
            max_drawdown=dd, liquidation=liq)
