"""Tasks: each ``run(cfg) -> dict`` is what the CLI calls and what the Python API returns."""

from __future__ import annotations

from typing import Any

TASKS = ("price", "risk", "stress", "convergence", "model_risk", "verify", "collect",
         "calibrate", "allocate", "hedge",
         "dynamic_hedge", "backtest")


def run(cfg: Any, progress=None, sink=None) -> dict:
    """Dispatch on ``cfg["task"]`` (default "price") with a plain-dict config.

    `progress` is passed on to the engine (see `mcrisk.progress.resolve`); `sink` receives
    the scenarios of task=risk.
    """
    from mcrisk import errors as E
    from mcrisk.config.build import to_plain

    plain = E.mapping("config", to_plain(cfg))
    task = E.choice("task", plain.get("task", "price"), TASKS)
    if task == "price":
        from mcrisk.pricing import price

        return price(plain, progress=progress)
    if task == "risk":
        from mcrisk.riskengine.run import risk

        return risk(plain, progress=progress, sink=sink)
    if task == "stress":
        from mcrisk.riskengine.run import stress_test

        return stress_test(plain, progress=progress)
    if task == "convergence":
        from mcrisk.tasks.studies import convergence

        return convergence(plain, progress=progress)
    if task == "model_risk":
        from mcrisk.tasks.studies import model_risk

        return model_risk(plain, progress=progress)
    if task == "verify":
        from mcrisk.tasks.verify import verify

        return verify(plain, progress=progress)
    if task == "calibrate":
        from mcrisk.tasks.calibrate import calibrate

        return calibrate(plain, progress=progress)
    if task == "allocate":
        from mcrisk.tasks.allocate import allocate

        return allocate(plain, progress=progress)
    if task == "dynamic_hedge":
        from mcrisk.tasks.dynamic_hedge import dynamic_hedge

        return dynamic_hedge(plain, progress=progress)
    if task == "backtest":
        from mcrisk.tasks.backtest import backtest

        return backtest(plain, progress=progress)
    if task == "hedge":
        from mcrisk.tasks.hedge import hedge

        return hedge(plain, progress=progress)
    from mcrisk.tasks.collect import collect

    return collect(E.string("run_dir", plain.get("run_dir")))
