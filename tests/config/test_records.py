"""The record of a finished run read back: task=verify, resume=true and collect.

Kept tiny (one European call, a thousand paths): what is checked here is which differences
are caught and that nothing on disk is trusted, executed or rewritten, not the numbers.
"""

from __future__ import annotations

import copy
import json

import pytest
from omegaconf import OmegaConf

from mcrisk.cli import summary
from mcrisk.config.build import to_plain
from mcrisk.config.store import compose
from mcrisk.errors import ConfigError
from mcrisk.provenance import collect as provenance
from mcrisk.provenance import config_hash
from mcrisk.rundir import resume_skips
from mcrisk.tasks import run
from mcrisk.tasks.collect import rows_of
from mcrisk.tasks.verify import verify

from tests.config.runner import mcrisk as _mcrisk

ONE_CALL = ["sim=fast", "sim.n_paths=1e3", "greeks.enabled=false", "report.enabled=false",
            "portfolio.positions=[{type: european, asset: BTC, option: call, strike: 60000, "
            "expiry: 0.25}, {type: spot, asset: ETH, quantity: 2}]"]
TAG = "!!python/object/apply:os.system ['touch {marker}']\n"


def _save_run(folder, results, cfg) -> None:
    (folder / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, folder / ".hydra" / "config.yaml")
    (folder / "results.json").write_text(json.dumps(results))


@pytest.fixture(scope="module")
def price_run(tmp_path_factory):
    """A finished price run written as the CLI writes it, with a device note in its notes."""
    cfg = compose(ONE_CALL)
    plain = to_plain(cfg)
    res = json.loads(json.dumps(run(copy.deepcopy(plain))))
    note = "hardware=gpu but no GPU is visible to JAX; falling back to the CPU"
    res["notes"] = list(res.get("notes", [])) + [note]
    res["provenance"] = {**provenance(plain), "hardware_notes": [note]}
    return cfg, res, tmp_path_factory.mktemp("verify")


def test_verify_lists_every_difference_in_keys_lengths_types_and_strings(price_run):
    cfg, res, root = price_run
    _save_run(root / "same", res, cfg)
    same = verify({"run_dir": str(root / "same")})
    # The device note the CLI added is not part of the computation, so it is no difference.
    assert same["exact_match"] and same["ok"] and same["mismatches"] == []

    bad = copy.deepcopy(res)
    del bad["book"]
    bad["model"] = "heston"
    bad["positions"][0]["ci95"] = bad["positions"][0]["ci95"][:1]
    bad["positions"].pop()
    bad["n_paths"] = float(bad["n_paths"])
    bad["antithetic"] = 1
    bad["stale"] = "x"
    _save_run(root / "bad", bad, cfg)
    out = verify({"run_dir": str(root / "bad")})
    found = {m["field"]: m["detail"] for m in out["mismatches"]}
    assert found == {
        "book": "missing from the saved results",
        "model": "'gbm' vs 'heston'",
        "positions[0].ci95": "length 2 vs 1",
        "positions[0].ci95[1]": "missing from the saved results",
        "positions": "length 2 vs 1",
        "positions[1]": "missing from the saved results",
        "n_paths": "int 1000 vs float 1000.0",
        "antithetic": "bool True vs int 1",
        "stale": "not in the rerun",
    }
    assert not out["ok"] and not out["exact_match"] and out["n_structural"] == len(found)
    text = summary(out)
    assert "positions[1]: missing" in text and "model: 'gbm' vs 'heston'" in text


def test_verify_and_collect_refuse_an_unreadable_record(price_run, tmp_path):
    cfg, res, _ = price_run
    marker = tmp_path / "executed"
    for name, text in [("not_json", "{'var': 1"), ("a_list", "[1, 2]"), ("bytes", "\udcff")]:
        _save_run(tmp_path / name, res, cfg)
        (tmp_path / name / "results.json").write_bytes(
            text.encode("utf-8", "surrogateescape"))
        with pytest.raises(ConfigError, match="results.json"):
            verify({"run_dir": str(tmp_path / name)})
        with pytest.raises(ConfigError, match="results.json"):
            rows_of(tmp_path)
        (tmp_path / name / "results.json").unlink()
    _save_run(tmp_path / "tagged", res, cfg)
    (tmp_path / "tagged" / ".hydra" / "config.yaml").write_text(
        "task: " + TAG.format(marker=marker))
    with pytest.raises(ConfigError, match="config.yaml"):
        verify({"run_dir": str(tmp_path / "tagged")})
    (tmp_path / "tagged" / ".hydra" / "overrides.yaml").write_text(
        "- " + TAG.format(marker=marker))
    with pytest.raises(ConfigError, match="overrides.yaml"):
        rows_of(tmp_path)
    out = _mcrisk("task=verify", f"run_dir={tmp_path / 'tagged'}",
                  f"hydra.run.dir={tmp_path / 'v'}", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    assert "config.yaml" in out.stderr and "python/object" in out.stderr
    assert not marker.exists()


def test_resume_skips_only_a_finished_job_of_the_same_config(tmp_path):
    cfg = compose([*ONE_CALL, "model=gbm"])
    plain = to_plain(compose([*ONE_CALL, "model=gbm", "resume=true"]))
    job = tmp_path / "0"
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, job / ".hydra" / "config.yaml")
    assert not resume_skips(job, plain)  # never finished: run it fresh
    (job / "results.json").write_text(json.dumps(
        {"task": "price", "provenance": {"config_hash": config_hash(to_plain(cfg))}}))
    assert resume_skips(job, plain)
    other = to_plain(compose([*ONE_CALL, "model=merton", "resume=true"]))
    with pytest.raises(ConfigError, match=r"model\.name: 'merton' vs 'gbm'") as err:
        resume_skips(job, other)
    assert str(job) in str(err.value)
    # Results written by another config are not skipped even where the saved YAML matches.
    (job / "results.json").write_text(json.dumps({"provenance": {"config_hash": "0" * 16}}))
    with pytest.raises(ConfigError, match="config hash"):
        resume_skips(job, plain)
    (job / "results.json").write_text("{")
    with pytest.raises(ConfigError, match="results.json"):
        resume_skips(job, plain)
