"""The installed console script, run as a user would, outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mcrisk import results_schema
from tests.config.runner import ROOT
from tests.config.runner import mcrisk as _mcrisk


def test_help_and_cfg_job_do_not_import_jax(tmp_path):
    code = ("import sys, mcrisk, mcrisk.cli, mcrisk.config; "
            "assert 'jax' not in sys.modules, 'jax imported at config-parse time'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
    out = _mcrisk("--cfg", "job", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "portfolio:" in out.stdout and "n_paths" in out.stdout


def test_help_describes_mcrisk_without_importing_jax(tmp_path):
    code = ("import sys; sys.argv = ['mcrisk', '--help']\n"
            "import mcrisk.cli\n"
            "try:\n    mcrisk.cli.main()\nexcept SystemExit:\n    pass\n"
            "assert 'jax' not in sys.modules, 'jax imported by --help'\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "powered by Hydra" not in text and "Powered by Hydra" not in text
    assert text.startswith("mcrisk: Monte Carlo pricing and risk")
    for task in ("price", "risk", "stress", "convergence", "model_risk", "verify", "collect",
                 "calibrate"):
        assert f"\n{task} " in text, task
    presets = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
    assert "experiment: " + ", ".join(presets) in text and "Examples:" in text


@pytest.mark.parametrize("task", ["price", "risk"])
def test_task_writes_results_and_prints_table(tmp_path, task):
    out = _mcrisk(f"task={task}", "sim.n_paths=2000", "sim.chunk_size=1000",
                  "risk.inner_paths=8", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["task"] == task
    assert results_schema.undescribed(task, res) == []
    if task == "price":
        assert "BOOK" in out.stdout and len(res["positions"]) == 6
    else:
        assert "VaR" in out.stdout and set(res["var"]) == {"0.95", "0.975", "0.99", "0.999"}
    assert (tmp_path / "run" / ".hydra" / "config.yaml").exists()
    # The session's cache folder (tests/conftest.py), as hardware.compile_cache=auto finds it.
    assert res["provenance"]["compile_cache"] == os.environ["MCRISK_CACHE_DIR"]


def test_compiled_kernels_are_kept_for_the_next_process(tmp_path):
    cache = tmp_path / "cache"
    args = ("portfolio.positions=[{type: european, asset: BTC, option: call, strike: 60000, "
            "expiry: 0.25}]", "sim.n_paths=2000", "greeks.enabled=false", "report.enabled=false",
            f"hardware.compile_cache={cache}")
    first = _mcrisk(*args, f"hydra.run.dir={tmp_path}/a", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    kept = sorted(p.name for p in cache.rglob("*") if p.is_file())
    assert any(n.startswith("jit_price_chunk-") for n in kept), kept
    # Same kernels in a new process: loaded from the cache, so none is compiled and written
    # again under another key. (A tiny eager op compiled in under the cache's 0.2 s threshold
    # the first time may cross it under load the second time and be written then: not a miss.)
    second = _mcrisk(*args, f"hydra.run.dir={tmp_path}/b", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    new = {p.name for p in cache.rglob("*") if p.is_file()} - set(kept)
    kernels = {n.split("-")[0] for n in kept if not n.endswith("-atime")}
    assert not {n for n in new if not n.endswith("-atime") and n.split("-")[0] in kernels}, new
    res = json.loads((tmp_path / "b" / "results.json").read_text())
    assert res["provenance"]["compile_cache"] == str(cache)
    off = _mcrisk(*args[:-1], "hardware.compile_cache=off", f"hydra.run.dir={tmp_path}/c",
                  cwd=tmp_path)
    assert json.loads((tmp_path / "c" / "results.json").read_text())[
        "provenance"]["compile_cache"] is None, off.stderr[-3000:]
    bad = _mcrisk(*args[:-1], "hardware.compile_cache=''", f"hydra.run.dir={tmp_path}/d",
                  cwd=tmp_path)
    assert bad.returncode == 2 and "hardware.compile_cache" in bad.stderr


def test_bad_value_is_one_clear_line(tmp_path):
    out = _mcrisk("sim.n_paths=1", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert out.returncode == 2
    assert "sim.n_paths: got 1; expected an integer >= 2" in out.stderr
    assert "Traceback" not in out.stderr


def test_portfolio_file_on_the_command_line(tmp_path):
    from math import exp, log, sqrt

    from scipy.stats import norm

    book = ROOT / "experiments" / "books" / "every_position.yaml"
    out = _mcrisk(f"portfolio={book}", "sim.n_paths=4000", "sim.n_steps=16",
                  "greeks.enabled=false", "report.enabled=false",
                  f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    pos = {p["name"]: p for p in res["positions"]}
    assert len(pos) == 13 and any(str(book) in n for n in res["notes"])
    # The file's fields reached the engine: closed forms on the btc_eth market (r = 3%).
    r, sd = 0.03, 0.6 * sqrt(0.25)
    d1 = (log(60000 / 65000) + r * 0.25) / sd + sd / 2
    call = 3 * (60000 * norm.cdf(d1) - 65000 * exp(-r * 0.25) * norm.cdf(d1 - sd))
    sd = 0.75 * sqrt(0.25)
    d2 = (log(3000 / 2700) + r * 0.25) / sd - sd / 2
    digital = 10 * 1000 * exp(-r * 0.25) * norm.cdf(-d2)
    sd = sqrt((0.6 ** 2 + 0.75 ** 2 - 2 * 0.8 * 0.6 * 0.75) * 0.5)
    d1 = log(60000 / 3000) / sd + sd / 2
    exchange = 0.05 * (60000 * norm.cdf(d1) - 3000 * norm.cdf(d1 - sd))
    forward = 60000 - 62000 * exp(-r * 0.5)
    for name, ref in (("btc_call", call), ("eth_digital", digital),
                      ("btc_for_eth", exchange), ("btc_fwd", forward)):
        assert abs(pos[name]["value"] - ref) <= 4 * pos[name]["stderr"], (name, ref)
    assert pos["eth_spot"]["value"] == 50 * 3000 and pos["btc_perp"]["value"] == 2000.0
    bad = tmp_path / "bad.yaml"
    bad.write_text("positions:\n  - {type: forward, asset: BTC, strike: 1, expiry: -1}\n")
    out = _mcrisk(f"portfolio.file={bad}", f"hydra.run.dir={tmp_path}/bad", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{bad}: positions[0].expiry: got -1; expected an expiry in years > 0" in out.stderr


def test_non_finite_result_exits_with_code_3(tmp_path):
    # A valid config whose value overflows float64 (1e307 calls): README, exit code 3 naming where.
    out = _mcrisk("task=price", "sim.n_paths=2000", "sim.chunk_size=1000", "greeks.enabled=false",
                  "portfolio.positions.0.quantity=1e307", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert out.returncode == 3, out.stderr[-3000:]
    assert "mcrisk: non-finite result: positions[0]" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run" / "results.json").exists()


def test_output_is_what_a_quant_reads(tmp_path):
    # A fresh matplotlib config dir makes matplotlib build its font cache (and log it); a
    # Feller violation warns; a CSV market puts the estimated vols in the notes.
    out = _mcrisk("market=from_csv", f"market.path={ROOT}/experiments/data/crypto_prices.csv",
                  "model=heston", "model.kappa=1", "model.theta=0.3", "model.xi=2",
                  "model.rho=-0.5", "sim.n_paths=2000", "sim.n_steps=8", "greeks.enabled=false",
                  "portfolio.positions=[{type: european, asset: BTC, option: call, "
                  "strike: 60000, expiry: 0.25}, {type: perpetual, asset: BTC, quantity: -1}]",
                  "risk.stress=[]", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path,
                  env={"MPLCONFIGDIR": str(tmp_path / "mpl")})
    assert out.returncode == 0, out.stderr[-3000:]
    err = [line for line in out.stderr.replace("\r", "\n").splitlines()
           if line.strip() and not line.strip().startswith("chunks")]
    assert err == ["warning: model: Feller condition 2*kappa*theta >= xi^2 fails for BTC, "
                   "ETH, SOL; variance can reach zero (the QE scheme handles this)"], err
    assert "matplotlib" not in out.stdout + out.stderr  # Hydra logs to stdout
    assert "note: vol BTC: 0.587636" in out.stdout
    assert "-0.00" not in out.stdout
