"""The sample chain, read with `read_chain`, is consistent with QuantLib's Black-76 formula.

Each accepted quote's mid (the coin mark price times the forward, in USD) must equal
``ql.blackFormula`` at the quote's mark vol (percent / 100), strike, forward and ACT/365 time to
08:00 UTC expiry. A wrong unit reading (coin vs USD, percent vs fraction), a wrong expiry hour
or a wrong day count would each move the prices far beyond the file's rounding.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import QuantLib as ql

from mcrisk.vol.quotes import read_chain

SAMPLE = Path(__file__).resolve().parents[2] / "experiments" / "data" / "btc_eth_chain.csv"


def test_sample_mid_prices_match_quantlib_black76_at_the_mark_vol():
    chain = read_chain(SAMPLE)
    ref = np.array([
        ql.blackFormula(ql.Option.Call if c else ql.Option.Put, k, f, v * math.sqrt(t), d)
        for c, k, f, v, t, d in zip(chain.is_call, chain.strike, chain.forward, chain.mark_iv,
                                    chain.expiry, chain.discount)])
    # mark_price is written to 1e-8 coin; Deribit-style forwards to 0.01 USD.
    tol = 0.6e-8 * chain.forward + 1e-9 * chain.forward
    err = np.abs(chain.mid - ref)
    assert np.all(err <= tol), (chain.instrument[np.argmax(err / tol)], float(np.max(err / tol)))
    assert len(chain) > 1800
