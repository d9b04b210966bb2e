"""task=verify run_dir=<dir>: re-run a finished run from its saved config and compare."""

from __future__ import annotations

import json
import math
from pathlib import Path

from mcrisk import errors as E

# Fields that legitimately differ between two runs of the same config.
VOLATILE = {"seconds", "provenance", "created", "verify"}


def verify(cfg: dict, progress=None) -> dict:
    """Re-run the run in ``cfg["run_dir"]`` from its saved config and compare every number.

    `progress`: as in `mcrisk.price`, for the re-run.
    """
    from omegaconf import OmegaConf

    from mcrisk.config.build import to_plain

    run_dir = Path(E.string("run_dir", cfg.get("run_dir")))
    saved_cfg = run_dir / ".hydra" / "config.yaml"
    saved_res = run_dir / "results.json"
    for f in (saved_cfg, saved_res):
        if not f.is_file():
            raise E.ConfigError("run_dir", str(run_dir),
                                f"a finished mcrisk run folder (missing {f.name})")
    original = json.loads(saved_res.read_text())
    if original.get("partial"):
        raise E.ConfigError("run_dir", str(run_dir), "a finished mcrisk run folder (its "
                            "results.json is partial: the run was interrupted)")
    plain = to_plain(OmegaConf.load(saved_cfg))
    if plain.get("task") == "verify":
        raise E.ConfigError("run_dir", str(run_dir), "a run of another task than verify")
    from mcrisk.tasks import run

    again = run(plain, progress=progress)
    diffs: list[tuple[str, float, float]] = []
    _compare("", original, again, diffs)
    prov = original.get("provenance", {})
    from mcrisk.provenance import collect

    now = collect(plain)
    same_setup = all(prov.get(k) == now.get(k) for k in ("device", "dtype", "jax", "x64"))
    max_abs = max((abs(a - b) for _, a, b in diffs), default=0.0)
    max_rel = max((abs(a - b) / max(abs(a), 1e-300) for _, a, b in diffs), default=0.0)
    exact = not diffs
    return {"task": "verify", "run_dir": str(run_dir), "exact_match": exact,
            "same_device_and_dtype": same_setup,
            "ok": exact if same_setup else max_rel <= 1e-4,
            "n_mismatches": len(diffs), "max_abs_diff": max_abs, "max_rel_diff": max_rel,
            "mismatches": [{"field": k, "original": a, "rerun": b} for k, a, b in diffs[:20]],
            "original_task": original.get("task")}


def _compare(path: str, a, b, out: list) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k in VOLATILE:
                continue
            _compare(f"{path}.{k}" if path else k, a[k], b.get(k), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _compare(f"{path}[{i}]", x, y, out)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if not (a == b or (math.isnan(a) and math.isnan(b))):
            out.append((path, float(a), float(b)))
