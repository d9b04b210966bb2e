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


def test_non_finite_result_exits_with_code_3(tmp_path):
    # A valid config whose value overflows float64 (1e307 calls): README, exit code 3 naming where.
    out = _mcrisk("task=price", "sim.n_paths=2000", "sim.chunk_size=1000", "greeks.enabled=false",
                  "portfolio.positions.0.quantity=1e307", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert out.returncode == 3, out.stderr[-3000:]
    assert "mcrisk: non-finite result: positions[0]" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run" / "results.json").exists()
