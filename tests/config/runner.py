"""Run the installed `mcrisk` console script as a user would (falls back to `python -m`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mcrisk(*args, cwd, timeout=900, env=None):
    exe = Path(sys.executable).with_name("mcrisk")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "mcrisk.cli"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(cmd + list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
