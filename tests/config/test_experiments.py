"""Config groups, presets, sweeps, collect, verify and the notebook, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcrisk import results_schema
from mcrisk.config.build import to_plain
from mcrisk.config.store import compose, conf_dir

from tests.config.runner import ROOT, in_process, main_in_process, tiny  # noqa: F401
from tests.config.runner import mcrisk as _mcrisk
PNG = b"\x89PNG\r\n\x1a\n"
SMALL = ["sim.n_paths=2000", "sim.chunk_size=2000", "risk.inner_paths=4",
         "convergence.n_paths=[500,2000]", "model_risk.models=[gbm,merton]"]
EXPERIMENTS = sorted(p.stem for p in (Path(conf_dir()) / "experiment").glob("*.yaml"))


def test_every_group_option_composes():
    groups = ["market", "model", "sim", "risk", "portfolio", "hardware"]
    for g in groups:
        for option in sorted(p.stem for p in (Path(conf_dir()) / g).glob("*.yaml")):
            cfg = compose([f"{g}={option}"] + (["market.path=x.csv"] if option == "from_csv"
                                                 else []))
            assert cfg[g]["name"] == option


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_small(name, in_process, capsys):
    # In this process, with the sizes the README commands run at, so the presets the README
    # names reuse these compiled kernels.
    import mcrisk.cli as cli

    tmp_path = in_process
    code = main_in_process(cli, ["mcrisk", *tiny([f"experiment={name}"], tmp_path / "run")])
    assert code == 0, capsys.readouterr().err[-4000:]
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["provenance"]["config_hash"] and res["provenance"]["jax"]
    # docs/results.md describes every key the preset's task wrote.
    assert results_schema.undescribed(res["task"], res) == []
    report = (tmp_path / "run" / "report.md").read_text()
    pngs = sorted((tmp_path / "run").glob("*.png"))
    assert pngs, "no plots written"
    for png in pngs:
        assert png.read_bytes()[:8] == PNG, png
        assert f"]({png.name})" in report
    # Every asset a stress scenario shocks moves some position of the book.
    plain = to_plain(compose([f"experiment={name}"]))
    on = {p["name"]: set([p["asset"]] if "asset" in p else p["assets"])
          for p in plain["portfolio"]["positions"]}
    for scenario in res.get("stress") or []:
        spec = next(s for s in plain["risk"]["stress"] if s["name"] == scenario["name"])
        for asset in set(spec.get("spot") or {}) | set(spec.get("vol") or {}):
            moved = [n for n, loss in scenario["by_position"].items()
                     if asset in on[n] and loss != 0.0]
            assert moved, f"{name}: stress {scenario['name']} shocks {asset}; nothing moves"


def test_bad_override_and_bad_key_name_them(tmp_path):
    out = _mcrisk("model.kapa=3", cwd=tmp_path)
    assert out.returncode != 0 and "kapa" in out.stderr and "ModelConf" in out.stderr
    out = _mcrisk("sim=fastest", cwd=tmp_path)
    assert out.returncode != 0 and "sim/fastest" in out.stderr
    out = _mcrisk("sim.seed=abc", cwd=tmp_path)
    assert out.returncode != 0 and "sim.seed" in out.stderr
    out = _mcrisk("+risk.horizn=0.1", cwd=tmp_path)
    assert out.returncode != 0 and "horizn" in out.stderr
    # A misspelt key inside a user's own preset file fails at compose time, naming it.
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "mine.yaml").write_text(
        "# @package _global_\nrisk:\n  horizn: 0.1\n")
    out = _mcrisk(f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "experiment=mine",
                  cwd=tmp_path)
    assert out.returncode != 0 and "horizn" in out.stderr and "RiskConf" in out.stderr


def test_sweep_collect_and_resume(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "model=gbm,merton", "sim.n_paths=1e3", "greeks.enabled=false",
            "report.plots=false", f"hydra.sweep.dir={sweep}"]
    out = _mcrisk(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-4000:]
    results = sorted(sweep.glob("*/results.json"))
    assert len(results) == 2
    models = {json.loads(p.read_text())["model"] for p in results}
    assert models == {"gbm", "merton"}
    exe = Path(sys.executable).with_name("mcrisk-collect")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "mcrisk.tasks.collect"]
    col = subprocess.run(cmd + [str(sweep)], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert col.returncode == 0, col.stderr
    csv = (sweep / "collected.csv").read_text().splitlines()
    assert len(csv) == 3 and "book_value" in csv[0] and "model" in csv[0]
    import pyarrow.parquet as pq

    assert pq.read_table(sweep / "collected.parquet").num_rows == 2
    assert (sweep / "collected.png").read_bytes()[:8] == PNG
    # Resume: results of the same configs exist, so both jobs are skipped.
    out = _mcrisk(*args, "resume=true", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.count("skipping this job") == 2
    # Another sweep into the same folder is refused, naming the job and the key, and the
    # finished job's record (results and .hydra/) is left exactly as it was.
    job = sweep / "0"
    record = {p: p.read_bytes() for p in [job / "results.json", *(job / ".hydra").iterdir()]}
    out = _mcrisk(*[a.replace("gbm,merton", "merton,gbm") for a in args], "resume=true",
                  cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    assert str(job) in out.stderr and "model.name: 'merton' vs 'gbm'" in out.stderr
    assert {p: p.read_bytes() for p in record} == record
    # A job that never finished (left with another sweep's record) is run fresh.
    (sweep / "1" / "results.json").unlink()
    (sweep / "1" / ".hydra" / "config.yaml").write_bytes(record[job / ".hydra" / "config.yaml"])
    out = _mcrisk(*args, "resume=true", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.count("skipping this job") == 1, out.stderr
    assert {p: p.read_bytes() for p in record} == record
    assert json.loads((sweep / "1" / "results.json").read_text())["model"] == "merton"
    assert "name: merton" in (sweep / "1" / ".hydra" / "config.yaml").read_text()


def test_verify_reproduces_a_run_exactly(tmp_path):
    out = _mcrisk("task=risk", *SMALL, "report.enabled=false", f"hydra.run.dir={tmp_path}/r",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    out = _mcrisk("task=verify", f"run_dir={tmp_path}/r", f"hydra.run.dir={tmp_path}/v",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    res = json.loads((tmp_path / "v" / "results.json").read_text())
    assert res["exact_match"] and res["ok"] and res["same_device_and_dtype"]
    assert results_schema.undescribed("verify", res) == []
    # Tampering with a saved number is caught.
    saved = tmp_path / "r" / "results.json"
    data = json.loads(saved.read_text())
    data["var"]["0.99"] *= 1.01
    saved.write_text(json.dumps(data))
    out = _mcrisk("task=verify", f"run_dir={tmp_path}/r", f"hydra.run.dir={tmp_path}/v2",
                  cwd=tmp_path)
    assert out.returncode == 1 and "differ" in out.stdout


def test_save_losses_and_paths_to_parquet(tmp_path):
    out = _mcrisk("task=risk", *SMALL, "report.save_losses=true", "report.save_paths=true",
                  "report.save_paths_max=500", "report.plots=false",
                  f"hydra.run.dir={tmp_path}/r", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    import pyarrow.parquet as pq

    losses = pq.read_table(tmp_path / "r" / "losses.parquet")
    assert losses.num_rows == 2000 and "loss_btc_call_65k" in losses.column_names
    paths = pq.read_table(tmp_path / "r" / "paths.parquet")
    assert paths.num_rows == 500 and "BTC_date0" in paths.column_names
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    top = sorted(losses.column("loss").to_pylist(), reverse=True)
    assert res["stats"]["worst_loss"] == pytest.approx(top[0], rel=1e-12)


@pytest.mark.slow  # ~35 s: the example notebook end to end in a subprocess
def test_notebook_executes(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MCRISK_NOTEBOOK_PATHS="2000",
               MCRISK_NOTEBOOK_INNER_PATHS="8",
               MCRISK_NOTEBOOK_OUT=str(tmp_path / "nb"), MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, str(ROOT / "experiments" / "crypto_book.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    for name in ("greeks.png", "losses.png", "margin_grid.png"):
        assert (tmp_path / "nb" / name).read_bytes()[:8] == PNG


def test_compose_survives_rerun_and_feeds_python_api():
    import mcrisk

    for _ in range(2):  # a notebook cell run twice
        cfg = compose(["sim=fast", "sim.n_paths=1000", "greeks.enabled=false"])
    res = mcrisk.price(cfg)
    assert res["n_paths"] == 1000 and len(res["positions"]) == 6


def test_gpu_without_gpu_is_a_clear_error_or_a_visible_fallback(tmp_path):
    out = _mcrisk("hardware=gpu", "sim.n_paths=1000", "report.enabled=false",
                  f"hydra.run.dir={tmp_path}/g", cwd=tmp_path)
    import jax

    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("a GPU is present")
    assert out.returncode == 2 and "hardware.platform" in out.stderr and "fallback" in out.stderr
    out = _mcrisk("hardware=gpu", "hardware.fallback=cpu", "sim.n_paths=1000",
                  "greeks.enabled=false", "report.enabled=false",
                  f"hydra.run.dir={tmp_path}/f", cwd=tmp_path)
    assert out.returncode == 0
    res = json.loads((tmp_path / "f" / "results.json").read_text())
    assert any("falling back" in n for n in res["notes"])
