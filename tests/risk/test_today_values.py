"""Today's values in a risk run: closed forms where they exist, the pricing engine's
estimate and its standard error elsewhere."""

from __future__ import annotations

import mcrisk

BOOK = dict(
    market=dict(assets=["A"], spot=[100.0], vol=[0.6], rate=0.02),
    model=dict(name="gbm"),
    sim=dict(n_paths=2000, n_steps=8, seed=11, dtype="float64", chunk_size=2000),
    greeks=dict(enabled=False),
    portfolio=dict(positions=[
        dict(name="call", type="european", asset="A", option="call", strike=110.0,
             expiry=0.5, quantity=-3.0),
        dict(name="lookback", type="lookback", asset="A", option="call", expiry=0.5,
             quantity=4.0),
    ]),
    risk=dict(horizon=1 / 365, levels=[0.99], inner_paths=8),
)


def test_today_stderr_is_the_pricing_engines_position_stderr():
    # The pricing engine's error of a position is |quantity| x its unit error; risk
    # reported |quantity|^2 x it (16x here) before.
    priced = mcrisk.price(BOOK)["positions"]
    today = mcrisk.risk(BOOK)["today"]
    assert today["stderr"]["call"] == 0.0
    assert today["stderr"]["lookback"] == priced[1]["stderr"]
    assert today["positions"]["lookback"] == priced[1]["value"]
