"""Run the `mcrisk` console script as a user would (falls back to `python -m`), or its entry
point in this process, where compiled kernels are shared between runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def mcrisk(*args, cwd, timeout=900, env=None):
    exe = Path(sys.executable).with_name("mcrisk")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "mcrisk.cli"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(cmd + list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def main_in_process(module, argv: list[str]) -> int:
    """Call ``module.main()`` with ``sys.argv = argv``; its exit code (0 if it returns)."""
    sys.argv = list(argv)
    try:
        module.main()
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return 0


@pytest.fixture
def in_process(tmp_path, monkeypatch):
    """A scratch working folder (with the checkout's experiments/ reachable, as README paths
    are relative) that undoes what the CLI sets for its process: environment, argv, the
    PRNG flag."""
    import jax

    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    for key in ("JAX_PLATFORMS", "JAX_ENABLE_X64", "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_FLAGS"):
        monkeypatch.setenv(key, os.environ.get(key, ""))  # recorded, restored afterwards
        if not os.environ[key]:
            monkeypatch.delenv(key)
    # A persistent cache is process-wide: in this process kernels stay in memory only.
    monkeypatch.setattr("mcrisk.hardware.use_compile_cache", lambda setting="auto": None)
    flag = jax.config.jax_threefry_partitionable
    yield tmp_path
    jax.config.update("jax_threefry_partitionable", flag)


# Small sizes for runs whose point is that a command works and says what it claims.
TINY = {"sim.n_paths": 400, "sim.chunk_size": 400, "risk.inner_paths": 4,
        "convergence.n_paths": "[200,400]", "model_risk.models": "[gbm,merton]",
        "quotes.models": "[merton]", "quotes.starts": 1, "allocation.n_scenarios": 1000,
        "backtest.test_days": 20, "backtest.n_scenarios": 200, "backtest.es_sims": 200}


def tiny(args: list[str], run_dir: Path) -> list[str]:
    """`args` with small sizes: values of TINY keys replaced (a swept one by the single small
    value, so every job reuses one compiled kernel), the other TINY keys added, and its own
    run folder unless it is a sweep."""
    if args and args[0].startswith("--"):
        return list(args)
    out, seen = [], set()
    for a in args:
        key, eq, value = a.partition("=")
        name = key.lstrip("+")
        if eq and name in TINY:
            seen.add(name)
            value = str(TINY[name])
        out.append(f"{key}={value}" if eq else a)
    out += [f"{k}={v}" for k, v in TINY.items() if k not in seen]
    return out if "-m" in args else out + [f"hydra.run.dir={run_dir}"]
