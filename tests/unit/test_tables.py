"""`mcrisk.to_frame`: every table against the numbers of a small hand-written result."""

from __future__ import annotations

import pandas as pd
import pytest

import mcrisk

PRICE = {
    "task": "price", "assets": ["BTC", "ETH"],
    "positions": [
        {"name": "call", "type": "european", "assets": ["BTC"], "quantity": 2.0,
         "unit_price": 50.0, "unit_stderr": 0.5, "value": 100.0, "stderr": 1.0,
         "ci95": [98.04, 101.96], "venue": "deribit",
         "greeks": {"delta": {"BTC": 1.2}, "delta_stderr": {"BTC": 0.01},
                    "gamma": {"BTC": 3e-4}, "gamma_stderr": {"BTC": 1e-5},
                    "vega": {"BTC": 250.0}, "vega_stderr": {"BTC": 2.0},
                    "rho": 40.0, "rho_stderr": 0.4}},
        {"name": "basket", "type": "basket", "assets": ["BTC", "ETH"], "quantity": -1.0,
         "unit_price": 7.0, "unit_stderr": 0.2, "value": -7.0, "stderr": 0.2,
         "ci95": [-7.39, -6.61], "venue": "okx",
         "greeks": {"delta": {"BTC": -0.1, "ETH": -2.0}, "delta_stderr": {"BTC": 0.0, "ETH": 0.1},
                    "gamma": {"BTC": 0.0, "ETH": -1e-3}, "gamma_stderr": {"BTC": 0.0, "ETH": 0.0},
                    "vega": {"BTC": -10.0, "ETH": -30.0}, "vega_stderr": {"BTC": 1.0, "ETH": 3.0},
                    "rho": -5.0, "rho_stderr": 0.1}}],
    "book": {"value": 93.0, "stderr": 1.02, "ci95": [91.0, 95.0]},
}

RISK = {
    "task": "risk", "levels": [0.95, 0.999],
    "var": {"0.95": 10.0, "0.999": 30.0}, "es": {"0.95": 14.0, "0.999": 33.0},
    "var_ci": {"0.95": [9.0, 11.0], "0.999": [25.0, 36.0]},
    "es_ci": {"0.95": [12.5, 15.8], "0.999": None},
    "nested_error": {"inner_paths": 8, "var_bias_removed": {"0.95": 0.3, "0.999": 0.9},
                     "es_bias_removed": {"0.95": 0.4, "0.999": 1.1}},
    "contributions": {"0.95": {"component_es": {"call": 9.0, "basket": 5.0},
                               "component_var": {"call": 7.0, "basket": 3.0},
                               "incremental_es": {"call": 8.0, "basket": 4.5},
                               "es_by_asset": {"BTC": 13.0}, "var_window_sum": 10.0}},
    "stress": [{"name": "crash", "spot_shock_pct": {"BTC": -30.0, "ETH": -35.0},
                "vol_shock_pts": {"BTC": 20.0, "ETH": 25.0}, "horizon": 0.0, "loss": 60.0,
                "loss_stderr": 0.5, "by_position": {"call": 70.0, "basket": -10.0},
                "by_position_stderr": {"call": 0.0, "basket": 0.5}}],
    "margin": {"points": [
        {"asset": None, "spot": -0.16, "vol": 0.1, "weight": 1.0, "loss": 40.0,
         "loss_stderr": 0.2},
        {"asset": None, "spot": -0.32, "vol": 0.0, "weight": 0.35, "loss": 80.0,
         "loss_stderr": 0.4}],
        "worst_point": {"asset": None, "spot": -0.16, "vol": 0.1, "weight": 1.0, "loss": 40.0,
                        "loss_stderr": 0.2},
        "requirement": 40.0, "requirement_stderr": 0.2, "per_venue": {"deribit": 45.0},
        "per_venue_stderr": {"deribit": 0.1}, "cross_venue_saving": 5.0},
    "profile": {"dates": [0.01, 0.05], "expected_exposure": [100.0, 101.0],
                "expected_negative_exposure": [0.0, 0.5], "mean_value": [100.0, 100.5],
                "pfe_level": 0.95, "pfe": [120.0, 140.0],
                "liquidation": {"probability_by_date": [0.0, 0.02]}},
}


def test_positions_units_and_absent_assets():
    f = mcrisk.to_frame(PRICE, "positions")
    assert list(f["name"]) == ["call", "basket"]
    call, basket = f.iloc[0], f.iloc[1]
    assert (call["value"], call["stderr"], call["ci95_lo"], call["ci95_hi"]) == (
        100.0, 1.0, 98.04, 101.96)
    assert call["quantity"] == 2.0 and call["unit_price"] == 50.0 and call["venue"] == "deribit"
    # results.json holds d(value)/d(vol) per 1.00 of vol and d/d(rate) per 1.00 of rate.
    assert call["vega_per_vol_point_BTC"] == pytest.approx(2.5)
    assert call["vega_per_vol_point_BTC_stderr"] == pytest.approx(0.02)
    assert call["rho_per_rate_point"] == pytest.approx(0.4)
    assert call["delta_BTC"] == 1.2 and call["gamma_BTC_stderr"] == 1e-5
    # A BTC call does not depend on ETH's spot.
    assert call["delta_ETH"] == 0.0 and call["vega_per_vol_point_ETH"] == 0.0
    assert basket["delta_ETH"] == -2.0 and basket["vega_per_vol_point_ETH"] == pytest.approx(-0.3)
    assert f["value"].sum() == pytest.approx(PRICE["book"]["value"])


def test_var_contributions_stress_margin_profile():
    v = mcrisk.to_frame(RISK, "var").set_index("level")
    assert v.loc[0.95, "var"] == 10.0 and v.loc[0.999, "var_ci_hi"] == 36.0
    assert v.loc[0.95, "es_ci_lo"] == 12.5 and v.loc[0.999, "es"] == 33.0
    assert pd.isna(v.loc[0.999, "es_ci_lo"]) and str(v["es_ci_lo"].dtype) == "Float64"
    assert v.loc[0.999, "var_nested_bias_removed"] == 0.9
    c = mcrisk.to_frame(RISK, "contributions").set_index("position")
    assert c.loc["call", "component_es"] == 9.0 and c.loc["basket", "incremental_es"] == 4.5
    assert c["component_es"].sum() == RISK["es"]["0.95"]
    s = mcrisk.to_frame(RISK, "stress").iloc[0]
    assert s["name"] == "crash" and s["loss"] == 60.0 and s["spot_shock_pct_ETH"] == -35.0
    assert s["vol_shock_vol_points_BTC"] == 20.0 and s["loss_basket_stderr"] == 0.5
    assert s["loss_call"] + s["loss_basket"] == s["loss"]
    m = mcrisk.to_frame(RISK, "margin")
    assert list(m["weighted_loss"]) == [40.0, 28.0] and list(m["is_worst"]) == [True, False]
    assert m.attrs["requirement"] == 40.0 and m.attrs["per_venue"] == {"deribit": 45.0}
    p = mcrisk.to_frame(RISK, "profile")
    assert list(p["date_years"]) == [0.01, 0.05] and list(p["pfe"]) == [120.0, 140.0]
    assert list(p["liquidation_probability"]) == [0.0, 0.02] and p.attrs["pfe_level"] == 0.95


def test_studies_give_var_per_n_paths_and_per_model():
    row = {k: RISK[k] for k in ("var", "es", "var_ci", "es_ci")}
    conv = mcrisk.to_frame({"task": "convergence", "rows": [dict(row, n_paths=500)]}, "var")
    assert list(conv["n_paths"]) == [500, 500] and list(conv["var"]) == [10.0, 30.0]
    mr = mcrisk.to_frame({"task": "model_risk", "models": {"gbm": row, "heston": row}}, "var")
    assert list(mr["model"]) == ["gbm", "gbm", "heston", "heston"]


def test_unknown_table_or_missing_section_is_a_config_error():
    with pytest.raises(mcrisk.ConfigError, match=r"^what: got 'greeks'; expected one of"):
        mcrisk.to_frame(PRICE, "greeks")
    with pytest.raises(mcrisk.ConfigError, match=r"result.var: .*task='price'.* no 'var'"):
        mcrisk.to_frame(PRICE, "var")
    with pytest.raises(mcrisk.ConfigError, match=r"result.profile: .*risk.dates"):
        mcrisk.to_frame({"task": "risk", "var": {}}, "profile")
    with pytest.raises(mcrisk.ConfigError, match=r"result.positions"):
        mcrisk.to_frame(RISK, "positions")
