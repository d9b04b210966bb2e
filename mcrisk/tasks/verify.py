"""task=verify run_dir=<dir>: re-run a finished run from its saved config and compare."""

from __future__ import annotations

import json
from pathlib import Path

from mcrisk import errors as E
from mcrisk.rundir import diff, load_results, load_yaml

# Fields that legitimately differ between two runs of the same config; `files` are the
# original run's own Parquet outputs, which the rerun does not write.
VOLATILE = frozenset({"seconds", "provenance", "created", "verify", "files"})
# Numbers may differ by this much when the device, dtype or JAX version differs.
REL_TOL = 1e-4
SHOWN = 20


def verify(cfg: dict, progress=None) -> dict:
    """Re-run the run saved in ``cfg["run_dir"]`` and compare its results field by field.

    Any difference in keys, list lengths, types or strings is a mismatch; numbers must be
    equal on the same device, dtype and JAX version, else within a relative `REL_TOL`.
    `progress`: as in `mcrisk.price`, for the re-run.

    Raises:
        ConfigError: `run_dir` is not a finished run folder, or its record is unreadable.
    """
    run_dir = Path(E.string("run_dir", cfg.get("run_dir")))
    saved_cfg = run_dir / ".hydra" / "config.yaml"
    saved_res = run_dir / "results.json"
    for f in (saved_cfg, saved_res):
        if not f.is_file():
            raise E.ConfigError("run_dir", str(run_dir),
                                f"a finished mcrisk run folder (missing {f.name})")
    original = load_results(saved_res)
    if original.get("partial"):
        raise E.ConfigError("run_dir", str(run_dir), "a finished mcrisk run folder (its "
                            "results.json is partial: the run was interrupted)")
    plain = load_yaml(saved_cfg)
    if plain.get("task") == "verify":
        raise E.ConfigError("run_dir", str(run_dir), "a run of another task than verify")
    from mcrisk.tasks import run

    # Through JSON, as the CLI saved it: tuples become lists and keys strings.
    again = json.loads(json.dumps(run(plain, progress=progress)))
    prov = original.get("provenance") if isinstance(original.get("provenance"), dict) else {}
    original = _without_hardware_notes(original, prov.get("hardware_notes") or [])
    found = diff(original, again, VOLATILE)
    numbers = [d for d in found if d["kind"] == "number"]
    structure = [d for d in found if d["kind"] != "number"]
    from mcrisk.provenance import collect

    now = collect(plain)
    same_setup = all(prov.get(k) == now.get(k) for k in ("device", "dtype", "jax", "x64"))
    max_abs = max((abs(d["original"] - d["rerun"]) for d in numbers), default=0.0)
    max_rel = max((abs(d["original"] - d["rerun"]) / max(abs(d["original"]), 1e-300)
                   for d in numbers), default=0.0)
    exact = not found
    numbers_ok = not numbers if same_setup else max_rel <= REL_TOL
    return {"task": "verify", "run_dir": str(run_dir), "exact_match": exact,
            "same_device_and_dtype": same_setup,
            "ok": not structure and numbers_ok,
            "n_mismatches": len(found), "n_structural": len(structure),
            "max_abs_diff": float(max_abs), "max_rel_diff": float(max_rel),
            # Every structural difference, and the first numeric ones (on another device
            # every number may differ in its last digits).
            "mismatches": structure + numbers[:SHOWN],
            "original_task": original.get("task")}


def _without_hardware_notes(original: dict, hardware_notes: list) -> dict:
    """The saved results less the notes the CLI's device set-up added (not part of `run`)."""
    notes = original.get("notes")
    if not hardware_notes or not isinstance(notes, list):
        return original
    return {**original, "notes": [n for n in notes if n not in hardware_notes]}
