"""docs/results.md describes every key that a small run of each task writes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from mcrisk import results_schema as S

ROOT = Path(__file__).resolve().parents[2]
# Small, but with every optional section on: a nested-valued Asian (nested_error), venues
# (per-venue margin), delta-gamma, stress, margin, an exposure profile with liquidation.
CFG = {
    "market": {"assets": ["BTC", "ETH"], "spot": [60000.0, 3000.0], "vol": [0.6, 0.75],
               "rate": 0.03, "corr": [[1.0, 0.8], [0.8, 1.0]]},
    "sim": {"n_paths": 400, "n_steps": 8, "seed": 0, "chunk_size": 200},
    "portfolio": {"positions": [
        {"name": "call", "type": "european", "asset": "BTC", "option": "call",
         "strike": 65000, "expiry": 0.25, "quantity": 2, "venue": "deribit"},
        {"name": "asian", "type": "asian", "asset": "BTC", "option": "call", "strike": 60000,
         "expiry": 0.5, "fixings": 4, "venue": "okx"},
        {"name": "eth", "type": "spot", "asset": "ETH", "quantity": 10, "venue": "okx"}]},
    "risk": {"horizon": 0.01, "levels": [0.95, 0.999], "method": "delta_gamma",
             "inner_paths": 4, "stress_paths": 4, "dates": [0.01, 0.03],
             "collateral": 1e5, "maintenance_margin": 5e4,
             "stress": [{"name": "crash", "spot": {"BTC": -30}, "vol": {"BTC": 20}}],
             "margin": {"enabled": True}},
    "convergence": {"n_paths": [200, 400]},
    "model_risk": {"models": ["gbm"]},
}
ALLOCATION = {"assets": [{"name": "TOKEN", "mean": 0.3, "vol": 1.0, "jump_rate": 2.0,
                          "jump_mean": -0.2, "jump_std": 0.1},
                         {"name": "ETH", "mean": 0.1, "vol": 0.7},
                         {"name": "USDC", "mean": 0.045, "vol": 0.01}],
              "n_scenarios": 1000, "n_points": 3, "cvar_cap": 0.2, "cash": True}
# With limits, costs, a fee and a budget: every optional hedge key is written.
HEDGE = {"objective": "es", "level": 0.95, "cost": 0.001, "fee": 1.0, "budget": 1e5,
         "instruments": [{"name": "btc_perp", "type": "perpetual", "asset": "BTC",
                          "min": -10, "max": 10},
                         {"name": "btc_put", "type": "european", "asset": "BTC",
                          "option": "put", "strike": 55000, "expiry": 0.25}]}


def test_doc_is_rendered_from_the_schema():
    doc = (ROOT / "docs" / "results.md").read_text()
    assert doc == S.render(), "run: python -m mcrisk.results_schema > docs/results.md"


def test_undescribed_reports_new_keys():
    res = {"task": "stress", "today": {"book": 1.0, "positions": {"a": 1.0}, "new": 2},
           "margin": None, "extra": [{"x": 1}]}
    assert S.undescribed("stress", res) == ["today.new", "extra[].x"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from omegaconf import OmegaConf

    from mcrisk.cli import stamp
    from mcrisk.tasks import run

    out = {}
    for task in ("price", "risk", "stress", "convergence", "model_risk"):
        cfg = dict(copy.deepcopy(CFG), task=task)
        out[task] = stamp(run(cfg), cfg, [], 0.1)
    # verify and collect read finished runs: write the price run as the CLI would.
    job = tmp_path_factory.mktemp("multirun") / "0"
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(dict(CFG, task="price")), job / ".hydra" / "config.yaml")
    (job / ".hydra" / "overrides.yaml").write_text("- sim.n_paths=400\n- model=gbm\n")
    (job / "results.json").write_text(json.dumps(out["price"]))
    for task in ("verify", "collect"):
        cfg = {"task": task, "run_dir": str(job if task == "verify" else job.parent)}
        res = run(cfg)
        out[task] = stamp(res, cfg, [], 0.1)
    cfg = {"task": "calibrate", "quotes": {"path": str(ROOT / "experiments" / "data" /
                                                        "btc_eth_chain.csv"),
                                           "underlyings": ["BTC"]}}
    out["calibrate"] = stamp(run(cfg), cfg, [], 0.1)
    cfg = {"task": "allocate", "allocation": ALLOCATION}
    out["allocate"] = stamp(run(cfg), cfg, [], 0.1)
    cfg = {"task": "dynamic_hedge", "sim": {"n_paths": 400, "seed": 0},
           "dynamic_hedge": {"steps": 8, "model": {"name": "merton", "vol": 0.2, "jump_intensity": 1.0,
                                           "jump_mean": -0.1, "jump_std": 0.1},
                     "book": [{"type": "call", "strike": 100.0, "expiry": 0.25,
                               "quantity": -1.0}],
                     "gamma_hedge": {"type": "put", "strike": 95.0, "expiry": 0.5},
                     "sweep": {"every": [2], "width": [0.1], "risk_aversion": [1.0]},
                     "costs": {"proportional": 0.001, "fixed": 1.0}}}
    out["dynamic_hedge"] = stamp(run(cfg), cfg, [], 0.1)
    prices = 100.0 * np.exp(np.cumsum(np.random.default_rng(0).normal(0.0, 0.01, 60)))
    cfg = {"task": "backtest", "market": {"assets": ["X"], "spot": [100.0], "vol": [0.2]},
           "portfolio": {"positions": [
               {"name": "call", "type": "european", "asset": "X", "option": "call",
                "strike": 100.0, "expiry": 0.25}]},
           "backtest": {"prices": {"values": prices}, "window": 40, "test_days": 10,
                        "levels": [0.95], "n_scenarios": 100, "es_sims": 100,
                        "models": ["historical", "filtered_historical_ewma",
                                   "delta_normal", "gbm"]}}
    out["backtest"] = stamp(run(cfg), cfg, [], 0.1)
    cfg = dict(copy.deepcopy(CFG), task="hedge", hedge=HEDGE)
    out["hedge"] = stamp(run(cfg), cfg, [], 0.1)
    return out


# One small run of each of the ten tasks: about a minute of compilation in all.
@pytest.mark.slow
@pytest.mark.parametrize("task", list(S.TASKS))
def test_every_key_of_a_small_run_is_described(results, task):
    res = json.loads(json.dumps(results[task]))  # exactly what results.json holds
    assert res["task"] == task
    assert S.undescribed(task, res) == []
