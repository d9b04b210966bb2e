"""Cross gammas d2V/dS_A dS_B (`greeks.cross_gamma`) against a closed form.

An exchange option (Margrabe) has a large, negative cross gamma, which its kink carries
entirely: the pathwise mixed derivative of the payoff is 0, so it comes from the
likelihood-ratio term (`conditional.lr_terminal`). Under gbm, and under heston with a
vanishing vol of variance (v0 = theta = vol^2, xi = 1e-4: Margrabe up to ~1e-8, through the
stochastic-variance score), the reference is a central mixed difference of Margrabe's price
(`qlref.margrabe`, written independently); a wrong sign or a factor of 2 is tens of
standard errors off at 2^15 paths, and the pathwise estimator (0) is ~100 off.
"""

from __future__ import annotations

import pytest

import mcrisk
from mcrisk.config import build
from mcrisk.errors import ConfigError
from tests.reference import qlref

SA, SB, VA, VB, QA, QB, RHO, T = 100.0, 95.0, 0.25, 0.35, 0.01, 0.0, 0.5, 1.0


MODELS = {
    "gbm": dict(name="gbm"),
    "heston": dict(name="heston", v0=[VA ** 2, VB ** 2, 0.09], kappa=1.0,
                   theta=[VA ** 2, VB ** 2, 0.09], xi=1e-4, rho=-0.5),
}


def _cfg(cross, model: str = "gbm") -> dict:
    return dict(
        market=dict(assets=["A", "B", "C"], spot=[SA, SB, 50.0], vol=[VA, VB, 0.3],
                    dividend=[QA, QB, 0.0], rate=0.03,
                    corr=[[1.0, RHO, 0.0], [RHO, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        model=MODELS[model],
        sim=dict(n_paths=1 << 15, n_steps=4, seed=5, dtype="float64", chunk_size=1 << 15),
        greeks=dict(enabled=True, cross_gamma=cross),
        portfolio=dict(positions=[
            dict(name="exch", type="exchange", assets=["A", "B"], expiry=T, quantity=2.0),
            dict(name="call_c", type="european", asset="C", option="call", strike=50.0,
                 expiry=T)]))


def _margrabe(sa: float, sb: float) -> float:
    return qlref.margrabe(sa, sb, VA, VB, RHO, T, QA, QB)


@pytest.mark.parametrize("model", list(MODELS))
def test_cross_gamma_matches_margrabe(model):
    res = mcrisk.price(_cfg(True, model))
    ha, hb = 1e-2 * SA, 1e-2 * SB
    ref = 2.0 * (_margrabe(SA + ha, SB + hb) - _margrabe(SA + ha, SB - hb)
                 - _margrabe(SA - ha, SB + hb) + _margrabe(SA - ha, SB - hb)) / (4 * ha * hb)
    for g in (res["positions"][0]["greeks"], res["book"]["greeks"]):
        mc, se = g["cross_gamma"]["A"]["B"], g["cross_gamma_stderr"]["A"]["B"]
        assert abs(mc - ref) <= 4 * se, f"cross gamma {mc:.6g} ± {se:.2g} vs {ref:.6g}"
    # A single-asset position has no pair; the book's pairs with C are those of its call: 0.
    assert "cross_gamma" not in res["positions"][1]["greeks"]
    assert res["book"]["greeks"]["cross_gamma"]["A"]["C"] == 0.0


def test_cross_gamma_off_by_default_and_typed():
    cfg = _cfg(False)
    del cfg["greeks"]["cross_gamma"]
    assert build(cfg).greeks.cross_gamma is False
    with pytest.raises(ConfigError, match="greeks.cross_gamma"):
        mcrisk.price(_cfg("yes"))
