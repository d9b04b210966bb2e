"""The scenario loop of a book that nothing nests: losses reduced on the device, a tail of
(loss, scenario index) only, then a second pass over the tail's scenarios for attribution.

The kernel (`scenarios.scenario_losses`) returns each scenario's book loss as a float pair
(the exact sum of its float32 position losses), a finite flag and which scenarios may enter
a leave-one-out tail; the host never converts the (chunk, positions) matrix. The tail keeps
the k worst (loss, index) pairs; the per-position losses that attribution reads (component
ES and VaR, the worst scenarios) are recomputed afterwards for those scenarios by index: a
scenario's draws depend on its index alone (`scenarios`), so the second pass reproduces
them (to an ulp where XLA rounds a lane at the end of a vector loop differently). Memory is then the chunk plus 16 bytes per kept tail scenario plus the leave-one-out
tails (k float64 per position), not k rows of positions.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.riskengine.attribution import WORST, ranks_needed
from mcrisk.riskengine.metrics import Tail
from mcrisk.riskengine.revalue import shocked_vols
from mcrisk.riskengine.scenarios import scenario_losses


def stream_losses(kernel, tail: Tail, q: np.ndarray, v0: np.ndarray, n: int, samples: int,
                  on_bad: Callable, progress, var_shift=None,
                  attribution: bool = True) -> np.ndarray:
    """Fill `tail` (kept without rows) with the horizon losses of scenarios 0 .. n - 1.

    Args:
        kernel: `scenarios.make_kernel`'s kernel (one date: the horizon, nothing nested).
        tail: `Tail(..., rows=False)`.
        q: (positions,) quantities.
        v0: (positions,) today's values per unit, float64.
        n: scenarios.
        samples: scenarios per kernel call.
        on_bad: called with (first index, position losses (chunk, positions), log spots
            (chunk, 1, assets)) of a chunk holding a non-finite loss; it raises.
        progress: `Tracker`.
        var_shift: heston/bates vol shift (the floored scenarios are counted), or None.
        attribution: False: the book losses only (no leave-one-out tails, no second pass;
            the tail's rank means and rows are left unset).

    Returns:
        (1,) count of scenarios whose shifted vol was floored (zero without `var_shift`).
    """
    spec, inputs = kernel.spec, kernel.inputs
    ft = np.dtype(spec.outer.dtype)
    hi = v0.astype(ft)
    book = dict(q=jnp.asarray(q, ft), v0_hi=jnp.asarray(hi),
                v0_lo=jnp.asarray((v0 - hi.astype(np.float64)).astype(ft)))

    def launch(index: np.ndarray, n_valid: int):
        """Start the kernel on `index` (asynchronous: the host goes on with the last chunk)."""
        if not attribution:
            return scenario_losses(spec, inputs, index, np.int32(n_valid), book), n_valid
        bound = tail.loo_bound
        thr = bound.astype(ft)
        # Rounded down: the device's test may only err towards keeping a scenario.
        thr = np.where(thr.astype(np.float64) > bound, np.nextafter(thr, ft.type(-np.inf)), thr)
        return scenario_losses(spec, inputs, index, np.int32(n_valid),
                               dict(book, loo_thr=jnp.asarray(thr))), n_valid

    fetched = ("loss_hi", "loss_lo", "ok") + (() if var_shift is None else ("v",))

    def fetch(launched) -> dict:
        fut, n_valid = launched
        # Without attribution the position losses stay on the device unless a chunk has a
        # non-finite loss (`on_bad` reads them), and the variances unless vols are shifted.
        out = jax.device_get(fut if attribution else {k: fut[k] for k in fetched})
        if not out["ok"][:n_valid].all() and "pos" not in out:
            out.update(jax.device_get({k: fut[k] for k in ("pos", "x")}))
        out["loss"] = (out["loss_hi"][:n_valid].astype(np.float64)
                       + out["loss_lo"][:n_valid].astype(np.float64))
        return out

    def call(index: np.ndarray, n_valid: int) -> dict:
        return fetch(launch(index, n_valid))

    def chunk(c: int):
        start = c * samples
        return launch(np.uint32(start) + np.arange(samples, dtype=np.uint32),
                      min(samples, n - start))

    def add_loo(out: dict, n_valid: int) -> None:
        # Each position's own flagged scenarios: their union was 38% of a chunk at 10^6
        # scenarios, 95%, against ~6% for any one position.
        loss, pos = out["loss"], out["pos"]
        flags = out["loo"][:, :n_valid]
        rows = []
        for p, f in zip(pos, flags):
            i = np.flatnonzero(f)  # then take: half the time of two boolean indexings
            rows.append(loss.take(i) - p.take(i))
        tail.add_loo_rows(rows)

    floored = np.zeros(1, np.int64)
    n_chunks = -(-n // samples)
    pending = chunk(0)
    for c in range(n_chunks):
        start = c * samples
        n_valid = min(samples, n - start)
        out = fetch(pending)
        # The next chunk runs while this one is added: its leave-one-out flags use the
        # bounds before this chunk, lower, so they only let more scenarios through (the host
        # applies the exact bounds). With attribution, not after the first chunk, whose
        # losses set the floor.
        if (c or not attribution) and c + 1 < n_chunks:
            pending = chunk(c + 1)
        if not out["ok"][:n_valid].all():
            on_bad(start, out["pos"][:, :n_valid].T, out["x"][:n_valid])
        loss = out["loss"]
        tail.add(loss, np.arange(start, start + n_valid, dtype=np.int64))
        if attribution and c == 0 and n_chunks > 1:
            tail.guess_loo_floor(loss[None, :] - out["pos"][:, :n_valid].astype(np.float64))
        if attribution:
            add_loo(out, n_valid)
        if var_shift is not None:
            v = np.sqrt(np.maximum(out["v"][:n_valid, 0], 0.0))
            floored += shocked_vols(v, var_shift)[1].any(axis=-1).sum()
        if attribution and c == 0 and n_chunks > 1:
            pending = chunk(1)
        progress.update(c + 1, start + n_valid)
    if not attribution:
        return floored
    if not tail.loo_complete():
        # The first chunk's floor was too high for some position (~1e-15 for iid
        # scenarios): add every chunk's leave-one-out losses again without it.
        tail.reset_loo()
        for c in range(n_chunks):
            add_loo(fetch(chunk(c)), min(samples, n - c * samples))

    def cols_of(index: np.ndarray):
        padded = np.zeros(samples, np.uint32)
        padded[:index.size] = index
        out = call(padded, index.size)
        return out["loss"], out["pos"][:, :index.size].astype(np.float64)

    fill_rows(tail, cols_of, ranks_needed(tail), WORST, samples)
    return floored


def fill_rows(tail: Tail, cols_of, ranks, first: int, batch: int) -> None:
    """Second pass of a tail kept without rows: prefix sums of the per-position losses
    over the ranks, at each rank in `ranks`, and the rows of the `first` worst.

    Args:
        cols_of: maps global scenario indices (at most `batch`) to (their book losses,
            their per-position losses as columns (positions, scenarios)), the first pass's
            numbers (to an ulp: see below).
        ranks: ranks at which prefix sums are read (`rank_mean`'s lo and hi).
        first: rows kept for `first_rows`.
        batch: scenarios per call of `cols_of`.
    """
    idx, loss = tail.top_idx, tail.top_loss
    ranks = sorted(set(int(r) for r in ranks) | {0})
    end = ranks[-1]
    acc = None
    prefix = {}
    firsts = []
    for s in range(0, end, batch):
        got, cols = cols_of(idx[s:min(end, s + batch)])
        # Same kernel, same indices: equal up to how XLA rounds a lane at another
        # position of the batch (the last lanes of a vector loop: an ulp of the float32
        # values); anything more is a broken second pass.
        want = loss[s:s + got.size]
        if (np.abs(got - want) > 1e-5 * np.abs(cols).sum(axis=0) + 1e-300).any():
            raise RuntimeError("the second pass over the tail scenarios did not reproduce "
                               "their losses")
        if acc is None:
            acc = np.zeros(cols.shape[0])
        # Sums of the segments between the ranks read, along the contiguous axis: with a
        # cumulative sum of the transposed (scenarios, positions) block this pass took
        # 0.18 s of the 100-option book's 10^6-scenario run, now 0.06 s.
        at = 0
        for r in ranks:
            if s < r <= s + cols.shape[1]:
                acc = acc + cols[:, at:r - s].sum(axis=1)
                prefix[r] = acc
                at = r - s
        acc = acc + cols[:, at:].sum(axis=1)
        if s < first:
            firsts.append(cols[:, :first - s].T)
    prefix[0] = np.zeros_like(acc)  # end >= 1: every level has a tail
    tail.set_rows(prefix, np.concatenate(firsts) if firsts else np.empty((0, 0)))
