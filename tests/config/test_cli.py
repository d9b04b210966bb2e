"""The installed console script, run as a user would, outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("task", ["price", "risk"])
def test_task_writes_results_and_prints_table(tmp_path, task):
    out = _mcrisk(f"task={task}", "sim.n_paths=2000", "sim.chunk_size=1000",
                  "risk.inner_paths=8", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["task"] == task
    if task == "price":
        assert "BOOK" in out.stdout and len(res["positions"]) == 6
    else:
        assert "VaR" in out.stdout and set(res["var"]) == {"0.95", "0.975", "0.99", "0.999"}
    assert (tmp_path / "run" / ".hydra" / "config.yaml").exists()


def test_bad_value_is_one_clear_line(tmp_path):
    out = _mcrisk("sim.n_paths=1", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert out.returncode == 2
    assert "sim.n_paths: got 1; expected an integer >= 2" in out.stderr
    assert "Traceback" not in out.stderr


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
