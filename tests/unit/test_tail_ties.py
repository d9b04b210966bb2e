"""The streamed tail keeps the k worst scenarios with ties broken by scenario index, so what
it keeps never depends on the chunk size or the order chunks arrive in."""

from __future__ import annotations

import numpy as np
import pytest

from mcrisk.riskengine.metrics import Tail


@pytest.mark.parametrize("chunk,reverse", [(97, False), (1000, True), (5000, False)])
def test_tied_losses_keep_the_lowest_indices_whatever_the_chunks(chunk, reverse):
    rng = np.random.default_rng(11)
    n = 5000
    loss = rng.integers(0, 40, n).astype(np.float64)  # ~125 scenarios per value: many ties
    tail = Tail(n, 1, (0.9, 0.99), 0.95, 10, rows=False, loo=False)
    starts = list(range(0, n, chunk))
    for s in (starts[::-1] if reverse else starts):
        idx = np.arange(s, min(n, s + chunk))
        tail.add(loss[idx], idx)
    order = np.lexsort((np.arange(n), -loss))
    k = tail.top_idx.size
    assert k >= 500  # the 90% tail and the interval's ranks beyond it
    np.testing.assert_array_equal(tail.top_idx, order[:k])
    np.testing.assert_array_equal(tail.top_loss, loss[order[:k]])
