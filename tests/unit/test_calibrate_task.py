"""task=calibrate: the quotes section is checked before anything runs, and a run on the sample
chain writes results.json, report.md and the plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import mcrisk
from mcrisk.config.build import to_plain
from mcrisk.config.store import compose
from mcrisk.errors import ConfigError

CHAIN = Path(__file__).resolve().parents[2] / "experiments" / "data" / "btc_eth_chain.csv"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("quotes, path, fragment", [
    ({}, "quotes.path", "quotes=<file>"),
    ({"path": "no/such/chain.csv"}, "quotes.path", "an existing option-chain file"),
    ({"path": str(CHAIN), "method": "sabr"}, "quotes.method", "'ssvi'"),
    ({"path": str(CHAIN), "underlyings": ["BTC", "SOL"]}, "quotes.underlyings[1]", "BTC, ETH"),
    ({"path": str(CHAIN), "rate": "high"}, "quotes.rate", "finite number"),
    ({"path": str(CHAIN), "pth": "x"}, "quotes.pth", "allowed fields"),
    ({"path": str(CHAIN), "models": ["sabr"]}, "quotes.models[0]", "'heston'"),
    ({"path": str(CHAIN), "models": ["merton"], "starts": 0}, "quotes.starts", ">= 1"),
    ({"path": str(CHAIN), "models": ["merton"], "loss": "l1"}, "quotes.loss", "'vol'"),
])
def test_bad_quotes_section_names_the_field(quotes, path, fragment):
    with pytest.raises(ConfigError) as err:
        mcrisk.calibrate_surface({"quotes": quotes})
    assert err.value.path == path and fragment in str(err.value), str(err.value)


def test_preset_and_file_shorthand_compose():
    plain = to_plain(compose(["experiment=calibrate_btc"]))
    assert plain["task"] == "calibrate" and plain["quotes"]["underlyings"] == ["BTC"]
    assert Path(plain["quotes"]["path"]) == CHAIN  # found from any working directory
    plain = to_plain(compose(["task=calibrate", "quotes=chain.parquet"]))
    assert plain["quotes"]["path"] == "chain.parquet" and plain["quotes"]["method"] == "ssvi"


def test_calibrate_surface_writes_results_report_and_plots(tmp_path):
    # The preset calibrates heston; merton from one start is the cheap stand-in here.
    res = mcrisk.calibrate_surface(to_plain(compose(["experiment=calibrate_btc",
                                                     "quotes.models=[merton]",
                                                     "quotes.starts=1"])), out_dir=tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == json.loads(json.dumps(res))
    q = saved["quotes"]
    assert (q["n_accepted"], q["n_rejected"]) == (1909, 10)
    assert sum(q["rejected_by_reason"].values()) == 10 and q["rejected_by_reason"]["duplicate"] == 3
    assert {r["row"] for r in q["rejected"]} == {37, 187, 337, 487, 787, 937, 1087, 1237, 1387,
                                                 1537}
    s = saved["surface"]["BTC"]
    assert list(saved["surface"]) == ["BTC"] and s["method"] == "ssvi"
    assert set(s["params"]) == {"rho", "eta", "gamma", "thetas"}
    assert len(s["expiries"]) == 12 and len(s["calendar"]) == 11 and s["arbitrage_free"]
    first = s["expiries"][0]
    assert first["expiry"] == "2024-12-21T08:00:00Z" and first["forward"] == 95019.09
    assert set(first) >= {"years", "rmse_vol_points", "atm_vol", "inside_bid_ask", "svi",
                          "butterfly_ok", "curve"}
    assert len(s["residuals"]) == sum(e["n_quotes"] for e in s["expiries"])
    report = (tmp_path / "report.md").read_text()
    assert "BTC: SSVI surface" in report and "BTC-31JAN25-96500-C" in report
    for name in ("smiles_BTC.png", "residuals_BTC.png", "density_BTC.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
        assert f"]({name})" in report
    # The model section and its config block, written beside results.json.
    fit = saved["models"]["BTC"]["merton"]
    assert set(fit["params"]) == {"vol", "jump_intensity", "jump_mean", "jump_std"}
    assert fit["n_quotes"] == 340 and len(fit["rmse_by_expiry"]) == 12
    assert fit["feller_ratio"] is None and len(fit["starts"]) == 1
    block = saved["model_blocks"]["merton"]
    assert block == {"name": "merton", **{k: [fit["params"][k]] for k in
                                          ("jump_intensity", "jump_mean", "jump_std")}}
    written = yaml.safe_load((tmp_path / "model_merton.yaml").read_text())
    assert written == {"model": block}
    problem = mcrisk.build({"market": {"assets": ["BTC"], "spot": [95000.0],
                                       "vol": [fit["params"]["vol"]], "rate": 0.0},
                            "model": written["model"],
                            "portfolio": {"positions": [{"type": "spot", "asset": "BTC"}]}})
    assert problem.model.params["jump_intensity"][0] == block["jump_intensity"][0]
    assert "BTC: models calibrated to the quotes" in report and "model_merton.yaml" in report
