"""The record of a finished run folder: reading it safely and comparing it field by field.

A run folder holds ``results.json`` and Hydra's ``.hydra/{config,overrides,hydra}.yaml``.
``task=verify``, ``resume=true`` and ``mcrisk-collect`` read them back; a file that is
unreadable, malformed or carries YAML tags is a ``ConfigError`` naming the file, never a
traceback, and YAML is only ever loaded safely (tags are refused, never constructed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mcrisk.errors import ConfigError


def load_results(path: Path) -> dict:
    """Return the JSON object stored in a run's ``results.json``.

    Raises:
        ConfigError: the file cannot be read, is not JSON, or does not hold a JSON object.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # ValueError covers bad JSON and bad UTF-8
        raise ConfigError(str(path), _first_line(err),
                          "a readable results.json as mcrisk writes it (a JSON object)") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), type(data).__name__, "a JSON object of results")
    return data


def load_yaml(path: Path, *, mapping: bool = True, resolve: bool = True) -> Any:
    """Load a ``.hydra/*.yaml`` file into plain dicts and lists.

    Interpolations are resolved unless `resolve` is False (``overrides.yaml`` holds the
    override strings as typed, which may contain ``${...}`` meant for the config).

    OmegaConf's loader derives from ``yaml.SafeLoader``, so a ``!!python/...`` tag is
    refused rather than constructed; it also reads ``1e3`` as a number, as Hydra does.

    Raises:
        ConfigError: the file cannot be read or parsed, holds a tag, or (with ``mapping``)
            is not a mapping of fields.
    """
    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from mcrisk.config.build import to_plain

    try:
        loaded = OmegaConf.load(path)
        data = to_plain(loaded) if resolve else OmegaConf.to_container(loaded)
    except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException) as err:
        raise ConfigError(str(path), _first_line(err),
                          "a plain YAML file as Hydra writes it (no tags such as "
                          "!!python/object, which are never executed)") from None
    if mapping and not isinstance(data, dict):
        raise ConfigError(str(path), type(data).__name__, "a YAML mapping of config fields")
    return data


def diff(saved: Any, rerun: Any, skip: frozenset[str] = frozenset(),
         names: tuple[str, str] = ("saved results", "rerun")) -> list[dict]:
    """Every difference between two JSON-like trees, each named by its path.

    Keys, list lengths, types, strings and booleans must match exactly; two numbers of the
    same type that differ are reported with ``kind="number"`` so the caller can apply a
    tolerance to them alone. Keys in `skip` are ignored at any depth; `names` name the two
    sides in the ``missing`` / ``extra`` details.

    Returns:
        A list of ``{"field", "kind", "detail", "original", "rerun"}`` records; ``kind`` is
        one of ``missing`` (absent from `saved`), ``extra`` (absent from `rerun`),
        ``length``, ``type``, ``value`` or ``number``. ``detail`` reads "rerun vs saved".
    """
    out: list[dict] = []
    _walk(saved, rerun, skip, names, "", out)
    return out


def _walk(a: Any, b: Any, skip: frozenset[str], names: tuple[str, str], path: str,
          out: list[dict]) -> None:
    def add(kind: str, detail: str, original: Any = None, rerun: Any = None) -> None:
        out.append({"field": path or "(top level)", "kind": kind, "detail": detail,
                    "original": original, "rerun": rerun})

    if type(a) is not type(b):
        # bool is an int subclass and int vs float is a real change of meaning (a count
        # becoming a measured value): exact type identity, not isinstance.
        add("type", f"{_describe(b)} vs {_describe(a)}", _leaf(a), _leaf(b))
    elif isinstance(a, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k in skip:
                continue
            sub = f"{path}.{k}" if path else str(k)
            if k not in b:
                _at(out, sub, "extra", f"not in the {names[1]}")
            elif k not in a:
                _at(out, sub, "missing", f"missing from the {names[0]}")
            else:
                _walk(a[k], b[k], skip, names, sub, out)
    elif isinstance(a, list):
        if len(a) != len(b):
            add("length", f"length {len(b)} vs {len(a)}")
        for i in range(max(len(a), len(b))):
            sub = f"{path}[{i}]"
            if i >= len(a):
                _at(out, sub, "missing", f"missing from the {names[0]}")
            elif i >= len(b):
                _at(out, sub, "extra", f"not in the {names[1]}")
            else:
                _walk(a[i], b[i], skip, names, sub, out)
    elif isinstance(a, (int, float)) and not isinstance(a, bool):
        if a == b or (math.isnan(a) and math.isnan(b)):
            return
        if math.isfinite(a) and math.isfinite(b):
            add("number", f"{b!r} vs {a!r}", a, b)
        else:  # no tolerance can accept a NaN or inf, and none may reach a result
            add("value", f"{b!r} vs {a!r}", repr(a), repr(b))
    elif a != b:
        add("value", f"{b!r} vs {a!r}", _leaf(a), _leaf(b))


def _at(out: list[dict], path: str, kind: str, detail: str) -> None:
    out.append({"field": path, "kind": kind, "detail": detail, "original": None, "rerun": None})


def _describe(x: Any) -> str:
    """Type and value, e.g. ``int 1000``, ``list of 2``, ``null``."""
    if x is None:
        return "null"
    if isinstance(x, (dict, list)):
        return f"{'mapping' if isinstance(x, dict) else 'list'} of {len(x)}"
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _leaf(x: Any) -> Any:
    return None if isinstance(x, (dict, list)) else x


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def resume_skips(job_dir: Path, plain_cfg: dict) -> bool:
    """Whether ``resume=true`` may skip the job whose output folder is `job_dir`.

    A job finished when its ``results.json`` exists; it is skipped only when the config
    hash stored with those results and the saved ``.hydra/config.yaml`` both match the
    config now composed for it. A job that never finished returns False (run it fresh).

    Raises:
        ConfigError: the folder holds a finished run of a different config (naming the
            folder and the differing keys), or its record cannot be read.
    """
    from mcrisk.provenance import config_hash

    results_file = Path(job_dir) / "results.json"
    if not results_file.is_file():
        return False
    results = load_results(results_file)
    if results.get("partial"):  # an interrupted run: nothing finished to keep
        return False
    saved_cfg = load_yaml(Path(job_dir) / ".hydra" / "config.yaml")
    skip = frozenset({"resume"})  # how the job is launched, not what it computes
    keys = diff(saved_cfg, plain_cfg, skip, names=("saved config", "config of this sweep"))
    prov = results.get("provenance")
    stored = prov.get("config_hash") if isinstance(prov, dict) else None
    now = config_hash(plain_cfg)
    if not keys and stored == now:
        return True
    if keys:
        shown = "; ".join(f"{d['field']}: {d['detail']}" for d in keys[:8])
        more = f" (and {len(keys) - 8} more)" if len(keys) > 8 else ""
        why = f"its saved config differs (this sweep vs saved): {shown}{more}"
    else:
        why = (f"its results.json records config hash {stored!r}, this job's is {now!r} "
               "(results written by another config or another mcrisk version)")
    raise ConfigError("resume", str(job_dir),
                      "a job folder holding a finished run of the same config, but " + why
                      + "; resume into a new hydra.sweep.dir, or delete the folder to re-run "
                      "the job")
