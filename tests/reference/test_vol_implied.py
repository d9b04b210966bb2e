"""Black implied vol (mcrisk.vol.implied) against QuantLib's blackFormulaImpliedStdDev.

QuantLib prices and inverts with F N(d1) - K N(d2), which keeps about 16 + log10(b) digits of a
quote whose normalised time value is b: the comparison runs where b >= 1e-5 (11 digits, so both
inversions are fixed to ~1e-11 in vol by the quote). Deeper in the wings QuantLib's price itself
loses the digits (it returns 0 for the vol there), which the float64 round trip in
tests/unit/test_vol_implied.py covers instead.
"""

from __future__ import annotations

import numpy as np
import QuantLib as ql

from mcrisk.vol.implied import implied_vol

FORWARD, DISCOUNT = 60000.0, 0.97


def test_matches_quantlib_implied_std_dev():
    rows = []
    for k in FORWARD * np.exp(np.linspace(np.log(0.25), np.log(4.0), 13)):
        for t in (1 / 365, 1 / 12, 1.0, 5.0):
            for v in (0.05, 0.2, 0.8, 1.5):
                for call in (True, False):
                    kind = ql.Option.Call if call else ql.Option.Put
                    price = ql.blackFormula(kind, k, FORWARD, v * np.sqrt(t), DISCOUNT)
                    rows.append((k, t, call, price, kind))
    k, t, call, price = (np.array([r[i] for r in rows]) for i in range(4))
    intrinsic = DISCOUNT * np.maximum(np.where(call, FORWARD - k, k - FORWARD), 0.0)
    normalised = (price - intrinsic) / (DISCOUNT * np.sqrt(FORWARD * k))
    sel = normalised >= 1e-5
    assert sel.sum() >= 200
    ref = np.array([
        ql.blackFormulaImpliedStdDev(kind, kk, FORWARD, p, DISCOUNT, 0.0, ql.nullDouble(), 1e-12,
                                     1000) / np.sqrt(tt)
        for (kk, tt, _, p, kind), s in zip(rows, sel) if s])
    res = implied_vol(price[sel], FORWARD, k[sel], t[sel], call[sel], DISCOUNT)
    assert int(res.n_invalid) == 0 and int(res.n_unconverged) == 0
    diff = np.abs(np.asarray(res.vol) - ref)
    assert diff.max() <= 1e-8, diff.max()
