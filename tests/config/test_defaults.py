"""One source of defaults: a composed config, its plain-dict form and a bare Python dict
build the same problems."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

import mcrisk
import mcrisk.pricing
import mcrisk.riskengine.run
from mcrisk.config.store import compose
from mcrisk.riskengine.results import TailResult
from mcrisk.tasks import run as run_task

STUDY_KEYS = ("convergence", "model_risk")


def _record(monkeypatch) -> list:
    """Swap the engine out of the studies: record the problem each run would solve."""
    seen = []

    def fake_price(cfg, **_):
        seen.append(("price", repr(mcrisk.build(cfg))))
        return {"book": {"value": 0.0, "stderr": 0.0, "ci95": [0.0, 0.0]}, "positions": [],
                "model": "gbm", "dtype": "float32", "seed": 0, "n_paths": 2}

    def fake_risk(problem, **_):
        seen.append(("risk", repr(problem)))
        return SimpleNamespace(tail=TailResult((), None, None, ()))

    monkeypatch.setattr(mcrisk.pricing, "price", fake_price)
    monkeypatch.setattr(mcrisk.riskengine.run, "simulate_risk", fake_risk)
    return seen


@pytest.mark.parametrize("task", ["convergence", "model_risk"])
def test_study_from_cli_config_equals_study_from_python_dict(monkeypatch, task):
    cfg = compose([f"task={task}", "sim.n_paths=2000"])
    # What a notebook user writes: the same inputs, no study section (its defaults apply).
    plain = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items()
             if k not in STUDY_KEYS}
    seen = _record(monkeypatch)
    run_task(cfg)
    from_cli = list(seen)
    seen.clear()
    run_task(plain)
    assert from_cli, "the study ran nothing"
    assert seen == from_cli


@pytest.mark.parametrize("overrides", [[], ["task=risk", "model=heston", "risk=ten_day"]])
def test_plain_container_with_none_fields_builds_like_the_dictconfig(overrides):
    cfg = compose(overrides)
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert repr(mcrisk.build(plain)) == repr(mcrisk.build(cfg))


def test_plain_container_prices_like_the_dictconfig():
    cfg = compose(["sim.n_paths=1000", "sim.chunk_size=1000", "greeks.enabled=false",
                   "portfolio.positions=[{type: european, asset: BTC, option: call, "
                   "strike: 65000, expiry: 0.25}]"])
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert plain["model"]["v0"] is None  # the field the builder used to reject
    assert mcrisk.price(plain)["book"] == mcrisk.price(cfg)["book"]
