"""Tail metrics of a loss sample, exact under streaming.

Conventions (L = loss, positive = loss; n scenarios; level a):
  m = ceil(n (1 - a))          number of tail scenarios
  VaR_a = L_(m)                the m-th largest loss
  ES_a  = mean(L_(1) .. L_(m)) the mean of the m largest losses
so component ES (the mean of each position's loss over those m scenarios) sums to ES
exactly. VaR's interval is distribution-free (order statistics whose ranks bracket
n (1 - a) by z sqrt(n a (1 - a))). ES's interval comes from its influence function: ES is
VaR + mean((L - VaR)+) / (m / n), and the error in VaR cancels to first order, so the
standard error is that of the mean of y = (L - VaR)+ over all n scenarios, scaled by n / m.
y is zero outside the tail and strongly right-skewed inside it, so the interval uses a
Student-t(m - 1) quantile and widens its upper limit by the one-term Edgeworth (Hall 1992)
skewness correction; the lower limit is left symmetric, which errs towards over-coverage.
Below MIN_TAIL tail scenarios the interval is not estimable and is reported as None.

Measured coverage of the nominal 95% ES interval (1,000-4,000 repeats, levels 0.99 and
0.999, 2*10^4 to 10^5 scenarios; the README has the table): normal 0.95-0.97, Student-t(3)
0.93-0.96. The former batch means over 20 batches gave 0.82 (normal) and 0.66 (t(3)) at 0.999
with 10^4 scenarios; without the skewness term t(3) covers 0.87 with 20 tail scenarios.

`Tail` streams chunks keeping the k worst scenarios (k from the lowest level plus the VaR
interval's reach); both intervals need only those, so the streamed result equals the
in-memory one for the same scenarios. A chunk's rows below the k-th loss kept so far cannot
enter, so only the rest are buffered; the buffer is cut back to k when it doubles and
sorted once, when read: the cost per chunk is linear in the chunk, not in k. With
rows=False only (loss, index) is kept and `stream.fill_rows` supplies the per-position sums.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from mcrisk.riskengine.results import Histogram, LossStats, TailMetrics, TailResult


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


MIN_TAIL = 20  # fewest tail scenarios for which the ES interval is reported


def min_paths(level: float) -> int:
    """Fewest scenarios whose tail at `level` holds MIN_TAIL scenarios."""
    n = max(1, math.ceil((MIN_TAIL - 1) / (1.0 - level)))
    while tail_count(n, level) < MIN_TAIL:
        n += 1
    while n > 1 and tail_count(n - 1, level) >= MIN_TAIL:
        n -= 1
    return n


def var_interval(top: np.ndarray, n: int, level: float, ci: float):
    """VaR interval from the largest losses.

    Args:
        top: losses sorted worst first along the last axis (any leading batch axes), holding
            at least the `var_ci_ranks(n, level, ci)[1]` largest of n scenarios.
        n: scenarios in the sample.
        level: confidence level.
        ci: coverage of the interval.

    Returns:
        (lo, hi), each of top's leading shape.
    """
    r_lo, r_hi = var_ci_ranks(n, level, ci)
    return top[..., r_hi - 1], top[..., r_lo - 1]


def es_interval(top: np.ndarray, n: int, level: float, ci: float):
    """ES interval from the largest losses (influence function, skew-widened upper limit).

    Args:
        top: losses sorted worst first along the last axis (any leading batch axes), holding
            at least the m = `tail_count(n, level)` largest of n scenarios; m >= MIN_TAIL.
        n: scenarios in the sample.
        level: confidence level.
        ci: coverage of the interval.

    Returns:
        (lo, hi), each of top's leading shape.
    """
    m = tail_count(n, level)
    if m < MIN_TAIL:
        raise ValueError(f"ES interval needs >= {MIN_TAIL} tail scenarios, got {m}")
    t = top[..., :m]
    es = t.mean(axis=-1)
    # Excesses over VaR; every scenario outside the top m contributes y = 0.
    y = t - t[..., m - 1:m]
    # Moments of y in units of its largest value: tiny losses (a tiny quantity) would
    # otherwise underflow in y^3 and c2^1.5 and give 0/0.
    scale = y.max(axis=-1, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    y = y / scale
    mu = y.sum(axis=-1) / n
    e2 = (y * y).sum(axis=-1) / n
    e3 = (y ** 3).sum(axis=-1) / n
    c2 = np.maximum(e2 - mu * mu, 0.0)
    c3 = e3 - 3 * mu * e2 + 2 * mu ** 3
    se = (n / m) * np.sqrt(c2 / (n - 1)) * scale[..., 0]
    safe = np.where(c2 > 0, c2, 1.0)
    skew = np.where(c2 > 0, np.maximum(c3, 0.0) / safe ** 1.5, 0.0)
    tq = t_quantile(0.5 + ci / 2, m - 1)
    # One-term Edgeworth correction of the upper quantile of the studentised mean of y;
    # never narrower than the symmetric t interval.
    up = tq + skew * (1 + 2 * tq * tq) / (6 * math.sqrt(n))
    return es - tq * se, es + up * se


class Tail:
    """Streaming accumulator of the worst scenarios plus moments and a histogram.

    Args:
        n: total number of scenarios.
        n_pos: positions per scenario.
        levels: confidence levels.
        ci: coverage of the intervals.
        bins: histogram bins.
        rows: keep the per-position losses of the tail scenarios (else `fill_rows`).
        loo: keep the leave-one-out tails of incremental ES (`update` adds them).
    """

    def __init__(self, n: int, n_pos: int, levels, ci: float, bins: int, rows: bool = True,
                 loo: bool = True):
        self.n, self.levels, self.ci, self.bins = n, tuple(levels), ci, bins
        # rows=False: keep only (loss, index) of the tail; the per-position rank means that
        # attribution reads come from `fill_rows` (a second pass by scenario index).
        self.rows, self.loo = rows, loo
        self._prefix: dict[int, np.ndarray] = {}
        self._first = np.empty((0, n_pos))
        self.k = keep_count(n, levels, ci)
        # Candidates for the k worst (unsorted); `thr`: the k-th loss after the last cut.
        self._loss = [np.empty(0)]
        self._pos = [np.empty((0, n_pos))]
        self._idx = [np.empty(0, np.int64)]
        self._size = 0
        self.thr = -np.inf
        # Per position, candidates for the m worst leave-one-out book losses (m of the lowest
        # level: incremental ES needs no more), negated, in one buffer partitioned in place
        # (no copies of it: at 10^7 scenarios it is the run's largest array); `loo_thr`: the
        # m-th value after the last cut.
        self.m_loo = tail_count(n, min(self.levels))
        self._loo = np.empty((n_pos, 0))
        self._loo_n = np.zeros(n_pos, np.int64)  # values held per position
        self.loo_thr = np.full(n_pos, -np.inf)
        # A lower bound of each position's final m-th worst, guessed from the first chunk
        # (`guess_loo_floor`); values below it are not kept. Checked when the tails are read
        # (`loo_complete`): a position left with fewer than m values had too high a guess.
        self.loo_floor = np.full(n_pos, -np.inf)
        self._sorted = None
        self.count = 0
        self.shift = None
        self.scale = 0.0
        self.sums = np.zeros(4)
        self.n_loss = 0
        self.worst = -np.inf
        self.pilot: list[np.ndarray] = []
        self.edges = None
        self.hist = None
        self.outside = [0, 0]

    def update(self, pos_losses: np.ndarray, index: np.ndarray) -> None:
        """Add a chunk: pos_losses (chunk, positions) float64, index (chunk,) global ids."""
        if not np.isfinite(pos_losses).all():
            row, col = np.argwhere(~np.isfinite(pos_losses))[0]
            raise FloatingPointError(f"non-finite loss {pos_losses[row, col]} of position {col} "
                                     f"in scenario {int(index[row])}")
        loss = pos_losses.sum(axis=1)
        self.add(loss, index, pos_losses)
        if self.loo:
            self.add_loo(loss[None, :] - pos_losses.T)  # (positions, chunk)

    def add(self, loss: np.ndarray, index: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Add a chunk's book losses (chunk,) float64 with their global indices (and their
        per-position losses when the tail keeps rows)."""
        if self.shift is None:
            self.shift = float(loss.mean())
        d = loss - self.shift
        # Power sums in units of the largest |d| so far (|d| <= 1), re-based when a larger
        # one arrives: d^3, d^4 of tiny losses (dust quantities) would underflow to 0/0, and
        # of losses far larger than the first chunk's would overflow.
        big = float(np.abs(d).max())
        if big > self.scale:
            r = self.scale / big
            self.sums *= [r, r ** 2, r ** 3, r ** 4]
            self.scale = big
        if self.scale > 0:
            d = d / self.scale
        d2 = d * d
        self.sums += [d.sum(), d2.sum(), (d2 * d).sum(), (d2 * d2).sum()]
        self.count += loss.size
        self.n_loss += int((loss > 0).sum())
        self.worst = max(self.worst, float(loss.max()))
        self._sorted = None
        # Ties with the k-th loss stay candidates: which of them is kept is decided by index.
        keep = loss >= self.thr
        self._loss.append(loss[keep])
        if self.rows:
            self._pos.append(rows[keep])
        self._idx.append(index[keep])
        self._size += int(keep.sum())
        if self._size > 2 * self.k:
            self._cut_top()
        self._histogram(loss, index)

    def add_loo(self, loo: np.ndarray) -> None:
        """Add leave-one-out book losses (positions, columns), e.g. every column of a chunk
        where some position's may reach `loo_thr`; each position keeps its own candidates
        (a union of columns would make each cut partition them all)."""
        self.add_loo_rows(list(loo))

    def add_loo_rows(self, rows: list[np.ndarray]) -> None:
        """`add_loo` with each position's own candidates, one array per position (any
        lengths): only values at or above `loo_bound` are kept."""
        bound = self.loo_bound
        new = [row[row >= b] for row, b in zip(rows, bound)]
        most = max(r.size for r in new)
        room = self.m_loo + self.m_loo // 4 + most
        if self._loo.shape[1] < room and (self._loo_n + [r.size for r in new]).max() > \
                self._loo.shape[1]:
            # Sized by the first chunk; a wider chunk later grows it.
            grown = np.empty((len(new), room))
            grown[:, :self._loo.shape[1]] = self._loo
            self._loo = grown
        for i, row in enumerate(new):
            if self._loo_n[i] + row.size > self._loo.shape[1]:
                self._cut_loo_row(i)
            n_i = self._loo_n[i]
            self._loo[i, n_i:n_i + row.size] = -row
            self._loo_n[i] = n_i + row.size

    @property
    def loo_bound(self) -> np.ndarray:
        """Per position, the least leave-one-out loss still worth keeping."""
        return np.maximum(self.loo_thr, self.loo_floor)

    def guess_loo_floor(self, loo: np.ndarray) -> None:
        """Set `loo_floor` from the leave-one-out losses of a first chunk of iid scenarios,
        every one of its columns (positions, chunk), before they are added.

        Streamed, the exact threshold (the m-th worst so far) rises only as scenarios
        arrive: at 10^6 scenarios, 95%, it let 71% of them through to the host. The guess
        is the chunk's r-th worst with r eight standard deviations above the chunk's
        expected count beyond the final m-th worst (binomial, the final sample's own
        spread added), so it is too high only with probability ~1e-15; `loo_complete`
        says when it was."""
        n1 = loo.shape[1]
        f = self.m_loo / self.n
        r = math.ceil(n1 * f + 8 * math.sqrt(n1 * f * (1 - f)) * (1 + math.sqrt(n1 / self.n)) + 8)
        if r >= n1:
            return
        self.loo_floor = np.partition(loo, n1 - r, axis=1)[:, n1 - r]

    def loo_complete(self) -> bool:
        """Whether every position holds its m worst leave-one-out losses: False only where
        `loo_floor` was guessed too high (the run must add them again: `reset_loo`)."""
        return bool((self._loo_n >= min(self.m_loo, self.count)).all())

    def reset_loo(self) -> None:
        """Drop the leave-one-out tails and the guessed floor, to add them all again."""
        self._loo_n[:] = 0
        self.loo_thr[:] = -np.inf
        self.loo_floor[:] = -np.inf

    def _cut_top(self) -> None:
        """Keep the k worst candidates, ties broken by scenario index so the kept set never
        depends on chunk order."""
        loss, idx = np.concatenate(self._loss), np.concatenate(self._idx)
        pos = np.concatenate(self._pos) if self.rows else None
        if loss.size > self.k:
            # No ordering until `_final`: the losses above the k-th, and of those equal to it
            # the lowest indices.
            kth = np.partition(loss, loss.size - self.k)[loss.size - self.k]
            above, tied = np.flatnonzero(loss > kth), np.flatnonzero(loss == kth)
            tied = tied[np.argsort(idx[tied], kind="stable")[:self.k - above.size]]
            order = np.concatenate([above, tied])
            loss, idx = loss[order], idx[order]
            pos = pos[order] if self.rows else None
            self.thr = kth
        self._loss, self._idx = [loss], [idx]
        self._pos = [pos] if self.rows else []
        self._size = loss.size

    def _cut_loo_row(self, i: int) -> None:
        m = self.m_loo
        if self._loo_n[i] > m:
            kept = self._loo[i, :self._loo_n[i]]
            kept.partition(m - 1)  # in place: the m smallest negated lead
            self._loo_n[i] = m
            self.loo_thr[i] = -kept[m - 1]

    def _cut_loo(self) -> int:
        """Cut every position to its m worst; return how many each holds (m, or fewer
        while fewer scenarios have been added)."""
        for i in range(self._loo.shape[0]):
            self._cut_loo_row(i)
        size = int(self._loo_n.max(initial=0))
        if not (self._loo_n == size).all():
            raise RuntimeError("leave-one-out tails of unequal length: a guessed floor was "
                               "too high and the tails were not added again")
        return size

    def _final(self) -> tuple:
        if self._sorted is None:
            self._cut_top()
            loss, idx = self._loss[0], self._idx[0]
            order = np.lexsort((idx, -loss))
            pos = self._pos[0][order] if self.rows else None
            self._sorted = (loss[order], pos, idx[order])
        return self._sorted

    @property
    def top_loss(self) -> np.ndarray:
        """The k worst book losses, worst first (ties: lower scenario index first)."""
        return self._final()[0]

    @property
    def top_pos(self) -> np.ndarray:
        """Their per-position losses, (k, positions)."""
        return self._final()[1]

    def rank_mean(self, lo: int, hi: int) -> np.ndarray:
        """Mean per-position loss over the tail ranks lo .. hi - 1 (0 = worst)."""
        if self.rows:
            return self.top_pos[lo:hi].mean(axis=0)
        return (self._prefix[hi] - self._prefix[lo]) / (hi - lo)

    def first_rows(self, count: int) -> np.ndarray:
        """Per-position losses of the `count` worst scenarios, (count, positions)."""
        return self.top_pos[:count] if self.rows else self._first[:count]

    def set_rows(self, prefix: dict, first: np.ndarray) -> None:
        """Rows of a tail kept without them (`stream.fill_rows`): prefix sums of the
        per-position losses at given ranks ({rank: (positions,)}, rank 0 included) and the
        rows of the worst scenarios."""
        self._prefix, self._first = prefix, first

    @property
    def top_idx(self) -> np.ndarray:
        """Their global scenario indices."""
        return self._final()[2]

    @property
    def loo_top(self) -> np.ndarray:
        """Per position, the m worst leave-one-out book losses, worst first (positions, m)."""
        return -np.sort(self._loo[:, :self._cut_loo()], axis=1)

    def loo_means(self, counts) -> dict[int, np.ndarray]:
        """Per count c <= `m_loo`, the mean of each position's c worst leave-one-out losses."""
        out, end = {}, self._cut_loo()
        # Largest count first: each partition narrows the one before, in place.
        for c in sorted(set(counts), reverse=True):
            part = self._loo[:, :end]
            if c < end:
                part.partition(c - 1, axis=1)
            out[c] = -part[:, :c].mean(axis=1)
            end = c
        return out

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

    def result(self) -> TailResult:
        """Tail metrics per level, moments (with the mean's standard error) and histogram."""
        assert self.count == self.n, (self.count, self.n)
        n = self.n
        metrics, notes = [], []
        for a in self.levels:
            m = tail_count(n, a)
            es_ci = None
            if m < MIN_TAIL:
                notes.append(
                    f"es_ci[{_key(a)}] is null (not estimable): {m} tail scenarios, fewer than "
                    f"{MIN_TAIL}; sim.n_paths >= {min_paths(a)} is needed at this level")
            else:
                es_ci = tuple(float(x) for x in es_interval(self.top_loss, n, a, self.ci))
            metrics.append(TailMetrics(
                a, float(self.top_loss[m - 1]), float(self.top_loss[:m].mean()),
                tuple(float(x) for x in var_interval(self.top_loss, n, a, self.ci)), es_ci))
        s1, s2, s3, s4 = (x / n for x in self.sums)
        mean_d = s1
        var = s2 - mean_d ** 2
        m3 = s3 - 3 * mean_d * s2 + 2 * mean_d ** 3
        m4 = s4 - 4 * mean_d * s3 + 6 * mean_d ** 2 * s2 - 3 * mean_d ** 4
        sd = math.sqrt(max(var, 0.0))
        stdev = sd * self.scale * math.sqrt(n / max(n - 1, 1))
        stats = LossStats(
            n_scenarios=n, mean=self.shift + mean_d * self.scale, stdev=stdev,
            skew=m3 / sd ** 3 if sd > 0 else 0.0,
            excess_kurtosis=m4 / sd ** 4 - 3.0 if sd > 0 else 0.0,
            worst_loss=self.worst, prob_loss=self.n_loss / n,
            mean_stderr=stdev / float(np.sqrt(n)))
        return TailResult(tuple(metrics), stats,
                          Histogram(self.edges, self.hist.copy(), *self.outside), tuple(notes))


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
