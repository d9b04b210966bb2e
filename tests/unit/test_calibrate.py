"""Calibration inputs and outputs: errors naming the field before anything compiles, the
chain conversion, and the model block a config accepts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mcrisk
from mcrisk import ConfigError
from mcrisk.calibrate.models import Calibration, calibrate, model_block
from mcrisk.calibrate.quotes import CalibrationQuotes, quotes_from_chain
from mcrisk.vol.quotes import read_chain
from tests.compiles import compiled as _compiled

CHAIN = Path(__file__).resolve().parents[2] / "experiments" / "data" / "btc_eth_chain.csv"
GOOD = CalibrationQuotes(100.0, 0.0, 0.0, np.array([90.0, 100.0, 110.0]), np.full(3, 0.5),
                         np.array([False, True, True]), np.array([0.6, 0.55, 0.58]))


@pytest.mark.parametrize("model, change, path", [
    ("sabr", {}, "model"),
    ("heston", dict(strikes=np.array([]), expiries=np.array([]), is_call=np.array([], bool),
                    vols=np.array([])), "quotes.strikes"),
    ("heston", dict(strikes=np.array([90.0, -1.0, 110.0])), "quotes.strikes[1]"),
    ("bates", dict(expiries=np.array([0.5, 0.0, 0.5])), "quotes.expiries[1]"),
    ("merton", dict(vols=np.array([0.6, 55.0, np.nan])), "quotes.vols[2]"),
    ("heston", dict(weights=np.array([1.0, -0.5, 1.0])), "quotes.weights[1]"),
    ("heston", dict(weights=np.zeros(3)), "quotes.weights"),
    ("heston", dict(vols=np.array([0.6, 0.55])), "quotes.vols"),
    ("heston", dict(is_call=np.array([0, 1, 1])), "quotes.is_call"),
    ("heston", dict(spot=0.0), "quotes.spot"),
])
def test_bad_input_names_the_field_before_compiling(model, change, path):
    with _compiled() as names, pytest.raises(ConfigError) as err:
        calibrate(model, GOOD._replace(**change))
    assert err.value.path == path
    assert names == []


@pytest.mark.parametrize("kwargs, path", [
    (dict(optimizer="sgd"), "optimizer"), (dict(loss="rmse"), "loss"),
    (dict(starts=0), "starts"), (dict(n_iter=0), "n_iter"), (dict(n_points=200), "n_points")])
def test_bad_options_name_the_option(kwargs, path):
    with pytest.raises(ConfigError) as err:
        calibrate("heston", GOOD, **kwargs)
    assert err.value.path == path


def test_quotes_from_chain_takes_out_of_the_money_mid_vols():
    chain = read_chain(CHAIN)
    q = quotes_from_chain(chain, "BTC")
    btc = chain.select(underlying="BTC")
    otm = np.where(btc.is_call, btc.strike >= btc.forward, btc.strike < btc.forward)
    assert len(q.strikes) == otm.sum()
    both = np.isfinite(btc.bid_iv[otm]) & np.isfinite(btc.ask_iv[otm])
    np.testing.assert_allclose(q.vols[both], 0.5 * (btc.bid_iv + btc.ask_iv)[otm][both])
    np.testing.assert_allclose(q.vols[~both], btc.mark_iv[otm][~both])
    np.testing.assert_allclose(q.weights[both], 1.0 / (btc.ask_iv - btc.bid_iv)[otm][both])
    # The README's BTC basis: forwards are spot e^{0.08 T}, rate 0.
    assert q.rate == 0.0 and q.dividend == pytest.approx(-0.08, abs=2e-3)
    with pytest.raises(ConfigError, match="underlying"):
        quotes_from_chain(chain, "SOL")


def _cal(model: str, params: dict) -> Calibration:
    return Calibration(model, params, 0.0, 0.0, {}, np.zeros(1), [], None, 0.0, 1, 0)


def test_model_block_builds_into_a_config():
    heston = dict(v0=0.36, kappa=2.5, theta=0.42, xi=1.1, rho=-0.3)
    jumps = dict(jump_intensity=2.0, jump_mean=-0.08, jump_std=0.12)
    market = dict(assets=["BTC", "ETH"], spot=[95000.0, 3400.0], vol=[0.6, 0.7], rate=0.0,
                  corr=[[1.0, 0.8], [0.8, 1.0]])
    book = dict(positions=[dict(name="call", type="european", asset="BTC", option="call",
                                strike=100000.0, expiry=0.25, quantity=1.0)])
    cases = {"heston": heston, "bates": {**heston, **jumps}, "merton": {"vol": 0.5, **jumps}}
    for model, params in cases.items():
        other = {k: v * 1.1 if k != "rho" else -0.5 for k, v in params.items()}
        block = model_block({"BTC": _cal(model, params), "ETH": _cal(model, other)})
        assert "vol" not in block
        cfg = dict(market=market, model=block, portfolio=book,
                   sim=dict(n_paths=64, n_steps=4, dtype="float64"))
        with np.errstate(all="ignore"):
            problem = mcrisk.build(cfg)
        assert problem.model.name == model
        for name in block.keys() - {"name"}:
            np.testing.assert_array_equal(problem.model.params[name],
                                          [params[name], other[name]])
    with pytest.raises(ConfigError, match="calibrations.ETH.model"):
        model_block({"BTC": _cal("heston", heston), "ETH": _cal("merton", cases["merton"])})
