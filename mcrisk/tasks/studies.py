"""Studies that run the engine several times: convergence in n_paths, and model risk."""

from __future__ import annotations

import copy
from pathlib import Path

from mcrisk import errors as E
from mcrisk.config.schema import ConvergenceConf, ModelRiskConf
from mcrisk.progress import resolve


def convergence(cfg: dict, progress=None) -> dict:
    """Book price (and VaR/ES) with their intervals against n_paths, same seed.

    `progress`: as in `mcrisk.price`; each phase is labelled with its path count.
    """
    from mcrisk.pricing import price
    from mcrisk.config import build
    from mcrisk.riskengine.run import simulate_risk
    from mcrisk.tasks.risk import tail_dicts

    # Defaults from the schema: a plain dict runs the study the CLI runs.
    d = ConvergenceConf()
    conv = cfg.get("convergence") or {}
    E.only_keys("convergence", conv, ("n_paths", "risk"))
    grid = E.sequence("convergence.n_paths", conv.get("n_paths", d.n_paths),
                      min_length=2, what="a list of path counts")
    progress = resolve(progress, cfg)
    rows, p = [], {}
    for i, n in enumerate(grid):
        c = copy.deepcopy(cfg)
        c["sim"] = dict(c.get("sim") or {}, n_paths=E.integer(f"convergence.n_paths[{i}]", n,
                                                              lo=2))
        c["greeks"] = dict(c.get("greeks") or {}, enabled=False)
        if progress is not None:
            progress.context = f"[n_paths={c['sim']['n_paths']}, {i + 1}/{len(grid)}] "
        p = price(c, progress=progress)
        row = {"n_paths": c["sim"]["n_paths"], "book_value": p["book"]["value"],
               "book_stderr": p["book"]["stderr"], "book_ci95": p["book"]["ci95"]}
        if E.boolean("convergence.risk", conv.get("risk", d.risk)):
            c["risk"] = dict(c.get("risk") or {}, margin={"enabled": False}, stress=[])
            row.update(tail_dicts(simulate_risk(build(c), progress=progress).tail))
        rows.append(row)
    return {"task": "convergence", "rows": rows, "model": p["model"], "dtype": p["dtype"],
            "seed": p["seed"]}


def model_risk(cfg: dict, progress=None) -> dict:
    """The same book under several models (parameters from conf/model/<name>.yaml).

    `progress`: as in `mcrisk.price`; each phase is labelled with its model.
    """
    from omegaconf import OmegaConf

    from mcrisk.config.store import conf_dir
    from mcrisk.pricing import price
    from mcrisk.config import build
    from mcrisk.riskengine.run import simulate_risk
    from mcrisk.tasks.risk import tail_dicts

    d = ModelRiskConf()
    spec = cfg.get("model_risk") or {}
    E.only_keys("model_risk", spec, ("models", "risk"))
    names = E.sequence("model_risk.models", spec.get("models", d.models),
                       min_length=1, what="a list of model names")
    progress = resolve(progress, cfg)
    out, p = {}, {}
    for i, name in enumerate(names):
        path = Path(conf_dir()) / "model" / f"{name}.yaml"
        if not path.is_file():
            raise E.ConfigError(f"model_risk.models[{i}]", name,
                                "a model with a file in conf/model/: " + ", ".join(
                                    sorted(p.stem for p in path.parent.glob("*.yaml"))))
        c = copy.deepcopy(cfg)
        c["model"] = OmegaConf.to_container(OmegaConf.load(path))
        c["greeks"] = dict(c.get("greeks") or {}, enabled=False)
        if progress is not None:
            progress.context = f"[{name}, {i + 1}/{len(names)}] "
        p = price(c, progress=progress)
        row = {"book_value": p["book"]["value"], "book_stderr": p["book"]["stderr"],
               "positions": {x["name"]: x["value"] for x in p["positions"]}}
        if E.boolean("model_risk.risk", spec.get("risk", d.risk)):
            c["risk"] = dict(c.get("risk") or {}, margin={"enabled": False}, stress=[])
            row.update(tail_dicts(simulate_risk(build(c), progress=progress).tail))
        out[name] = row
    return {"task": "model_risk", "models": out, "dtype": p["dtype"], "seed": p["seed"],
            "n_paths": p["n_paths"]}
