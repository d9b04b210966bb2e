"""Tasks: each ``run(cfg) -> dict`` is what the CLI calls and what the Python API returns."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# task -> (module, function) taking ``(plain_cfg, progress=...)``; imported on demand so that
# `import mcrisk` (and --help) never imports JAX. collect is called with its run folder.
ENTRY = {
    "price": ("mcrisk.pricing", "price"),
    "risk": ("mcrisk.tasks.risk", "risk"),
    "stress": ("mcrisk.tasks.risk", "stress_test"),
    "convergence": ("mcrisk.tasks.studies", "convergence"),
    "model_risk": ("mcrisk.tasks.studies", "model_risk"),
    "verify": ("mcrisk.tasks.verify", "verify"),
    "collect": ("mcrisk.tasks.collect", "collect"),
    "calibrate": ("mcrisk.tasks.calibrate", "calibrate"),
    "allocate": ("mcrisk.tasks.allocate", "allocate"),
    "hedge": ("mcrisk.tasks.hedge", "hedge"),
    "dynamic_hedge": ("mcrisk.tasks.dynamic_hedge", "dynamic_hedge"),
    "backtest": ("mcrisk.tasks.backtest", "backtest"),
}
TASKS = tuple(ENTRY)


def run(cfg: Any, progress=None, sink=None) -> dict:
    """Dispatch on ``cfg["task"]`` (default "price") with a plain-dict config.

    `progress` is passed on to the engine (see `mcrisk.progress.resolve`); `sink` receives
    the scenarios of task=risk.
    """
    from mcrisk import errors as E
    from mcrisk.config.build import to_plain

    plain = E.mapping("config", to_plain(cfg))
    task = E.choice("task", plain.get("task", "price"), TASKS)
    module, name = ENTRY[task]
    fn = getattr(import_module(module), name)
    if task == "collect":
        return fn(E.string("run_dir", plain.get("run_dir")))
    if task == "risk":
        return fn(plain, progress=progress, sink=sink)
    return fn(plain, progress=progress)
