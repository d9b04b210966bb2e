"""Tail metrics of a loss sample, exact under streaming.

Conventions (L = loss, positive = loss; n scenarios; level a):
  m = ceil(n (1 - a))          number of tail scenarios
  VaR_a = L_(m)                the m-th largest loss
  ES_a  = mean(L_(1) .. L_(m)) the mean of the m largest losses
so component ES (the mean of each position's loss over those m scenarios) sums to ES
exactly. VaR's interval is distribution-free (order statistics whose ranks bracket
n (1 - a) by z sqrt(n a (1 - a))); ES's interval is batch means over `batches` disjoint
subsamples (scenario i in batch i mod B) with Student-t quantiles.

`Tail` streams chunks keeping the k worst scenarios (k from the lowest level plus the VaR
interval's reach), so the streamed result equals the in-memory one for the same scenarios.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


def tail_count(n: int, level: float) -> int:
    return max(1, math.ceil(n * (1.0 - level) - 1e-9))


def var_ci_ranks(n: int, level: float, ci: float) -> tuple[int, int]:
    """1-based descending ranks (r_lo, r_hi) bracketing VaR with coverage >= ci (binomial)."""
    z = NormalDist().inv_cdf(0.5 + ci / 2)
    centre = n * (1.0 - level)
    half = z * math.sqrt(n * level * (1.0 - level))
    return max(1, math.floor(centre - half)), min(n, math.ceil(centre + half) + 1)


def t_quantile(p: float, dof: int) -> float:
    """Student-t quantile by the Cornish-Fisher expansion (accurate to ~1e-4 for dof >= 4)."""
    z = NormalDist().inv_cdf(p)
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    return z + g1 / dof + g2 / dof ** 2 + g3 / dof ** 3


def keep_count(n: int, levels, ci: float) -> int:
    lo = min(levels)
    return min(n, var_ci_ranks(n, lo, ci)[1] + 1)


class Tail:
    """Streaming accumulator of the worst scenarios plus moments and a histogram.

    Args:
        n: total number of scenarios.
        n_pos: positions per scenario.
        levels: confidence levels.
        ci: coverage of the intervals.
        batches: number of batch-means batches.
        bins: histogram bins.
    """

    def __init__(self, n: int, n_pos: int, levels, ci: float, batches: int, bins: int):
        self.n, self.levels, self.ci, self.batches, self.bins = n, tuple(levels), ci, batches, bins
        self.k = keep_count(n, levels, ci)
        self.top_loss = np.empty(0)
        self.top_pos = np.empty((0, n_pos))
        self.top_idx = np.empty(0, np.int64)
        nb = math.ceil(n / batches)
        self.kb = min(nb, tail_count(nb, min(levels)) + 1)
        self.batch_top = [np.empty(0) for _ in range(batches)]
        self.loo_top = np.empty((n_pos, 0))  # leave-one-out book losses, worst first
        self.count = 0
        self.shift = None
        self.sums = np.zeros(4)
        self.n_loss = 0
        self.worst = -np.inf
        self.pilot: list[np.ndarray] = []
        self.edges = None
        self.hist = None
        self.outside = [0, 0]

    def update(self, pos_losses: np.ndarray, index: np.ndarray) -> None:
        """Add a chunk: pos_losses (chunk, positions) float64, index (chunk,) global ids."""
        loss = pos_losses.sum(axis=1)
        if self.shift is None:
            self.shift = float(loss.mean())
        d = loss - self.shift
        self.sums += [d.sum(), (d ** 2).sum(), (d ** 3).sum(), (d ** 4).sum()]
        self.count += loss.size
        self.n_loss += int((loss > 0).sum())
        self.worst = max(self.worst, float(loss.max()))
        self._merge_top(loss, pos_losses, index)
        for b in range(self.batches):
            sel = loss[index % self.batches == b]
            self.batch_top[b] = _top(np.concatenate([self.batch_top[b], sel]), self.kb)
        loo = loss[None, :] - pos_losses.T  # (positions, chunk)
        merged = np.concatenate([self.loo_top, loo], axis=1)
        k = min(self.k, merged.shape[1])
        part = np.partition(merged, merged.shape[1] - k, axis=1)[:, merged.shape[1] - k:]
        self.loo_top = -np.sort(-part, axis=1)
        self._histogram(loss, index)

    def _merge_top(self, loss, pos_losses, index) -> None:
        all_loss = np.concatenate([self.top_loss, loss])
        all_pos = np.concatenate([self.top_pos, pos_losses])
        all_idx = np.concatenate([self.top_idx, index])
        # Ties broken by scenario index so the kept set never depends on chunk order.
        order = np.lexsort((all_idx, -all_loss))[: self.k]
        self.top_loss, self.top_pos, self.top_idx = all_loss[order], all_pos[order], all_idx[order]

    def _histogram(self, loss, index) -> None:
        # The bin range comes from the first min(n, 10000) scenarios by global index, so the
        # histogram does not depend on the chunk size either.
        if self.edges is None:
            self.pilot.append(np.stack([index.astype(np.float64), loss]))
            got = np.concatenate(self.pilot, axis=1)
            need = min(self.n, 10_000)
            if got.shape[1] < need:
                return
            first = got[1][got[0] < need]
            lo, hi = float(first.min()), float(first.max())
            pad = 0.25 * (hi - lo) if hi > lo else max(abs(hi), 1.0)
            self.edges = np.linspace(lo - pad, hi + pad, self.bins + 1)
            self.hist = np.zeros(self.bins, np.int64)
            loss = got[1]
            self.pilot = []
        h, _ = np.histogram(loss, self.edges)
        self.hist += h
        self.outside[0] += int((loss < self.edges[0]).sum())
        self.outside[1] += int((loss > self.edges[-1]).sum())

    def result(self) -> dict:
        assert self.count == self.n, (self.count, self.n)
        n = self.n
        out: dict = {"var": {}, "es": {}, "var_ci": {}, "es_ci": {}}
        tq = t_quantile(0.5 + self.ci / 2, self.batches - 1)
        for a in self.levels:
            key = _key(a)
            m = tail_count(n, a)
            out["var"][key] = float(self.top_loss[m - 1])
            out["es"][key] = float(self.top_loss[:m].mean())
            r_lo, r_hi = var_ci_ranks(n, a, self.ci)
            out["var_ci"][key] = [float(self.top_loss[r_hi - 1]), float(self.top_loss[r_lo - 1])]
            es_b = [b[: tail_count(len_b, a)].mean() for b, len_b in
                    zip(self.batch_top, self._batch_sizes())]
            half = tq * float(np.std(es_b, ddof=1)) / math.sqrt(self.batches)
            out["es_ci"][key] = [out["es"][key] - half, out["es"][key] + half]
        s1, s2, s3, s4 = (x / n for x in self.sums)
        mean_d = s1
        var = s2 - mean_d ** 2
        m3 = s3 - 3 * mean_d * s2 + 2 * mean_d ** 3
        m4 = s4 - 4 * mean_d * s3 + 6 * mean_d ** 2 * s2 - 3 * mean_d ** 4
        sd = math.sqrt(max(var, 0.0))
        out["stats"] = {
            "n_scenarios": n, "mean": self.shift + mean_d,
            "stdev": sd * math.sqrt(n / max(n - 1, 1)),
            "skew": m3 / sd ** 3 if sd > 0 else 0.0,
            "excess_kurtosis": m4 / sd ** 4 - 3.0 if sd > 0 else 0.0,
            "worst_loss": self.worst, "prob_loss": self.n_loss / n,
        }
        out["histogram"] = {"edges": self.edges.tolist(), "counts": self.hist.tolist(),
                            "below": self.outside[0], "above": self.outside[1]}
        return out

    def _batch_sizes(self) -> list[int]:
        return [len(range(b, self.n, self.batches)) for b in range(self.batches)]


def _top(x: np.ndarray, k: int) -> np.ndarray:
    if x.size <= k:
        return -np.sort(-x)
    return -np.sort(-np.partition(x, x.size - k)[x.size - k:])


def _key(level: float) -> str:
    return repr(float(level))


def var(losses: np.ndarray, level: float) -> float:
    """VaR of an in-memory loss sample (same convention as `Tail`)."""
    m = tail_count(losses.size, level)
    return float(-np.sort(-losses)[m - 1])


def es(losses: np.ndarray, level: float) -> float:
    """ES of an in-memory loss sample (same convention as `Tail`)."""
    m = tail_count(losses.size, level)
    return float(-np.sort(-losses)[:m].mean())
