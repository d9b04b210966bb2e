"""`report.md` around the Results blocks: title, Inputs, Notes and Provenance."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from mcrisk.report.text import fenced, key_values, level, num, years

TITLES = {"price": "pricing", "risk": "risk", "stress": "stress",
          "convergence": "convergence", "model_risk": "model risk", "calibrate": "calibration",
          "allocate": "allocation", "hedge": "hedge",
          "dynamic_hedge": "dynamic hedging", "backtest": "backtest"}

# (result key, label, formatter): the run facts a reader needs to reproduce or judge the run.
INPUTS = (
    ("model", "model", str),
    ("dtype", "dtype", str),
    ("seed", "seed", num),
    ("n_paths", "paths / scenarios", num),
    ("n_samples", "samples", num),
    ("n_steps", "time steps", num),
    ("antithetic", "antithetic", num),
    ("horizon", "horizon", years),
    ("levels", "levels", lambda ls: ", ".join(level(x) for x in ls)),
    ("method", "method", str),
    ("measure", "measure", str),
    ("vol_dynamics", "vol dynamics", str),
    ("inner_paths", "inner paths", num),
    ("greeks_method", "Greeks", str),
    ("corr_repaired", "correlation repaired", num),
    ("seconds", "run time", lambda s: f"{float(s):.1f} s"),
)


def document(task: str, result: Mapping, results: Sequence[str], *,
             config_yaml: str | None, when: datetime) -> str:
    """The whole report.

    Args:
        task: the result's task name.
        result: the result dict (run facts, notes and provenance are read from it).
        results: markdown chunks of the Results section, in order (tables and image links).
        config_yaml: the composed config, shown verbatim, or None.
        when: the time the report was written, shown in the title line.
    """
    parts = [f"# mcrisk {TITLES.get(task, task)} report — {when:%Y-%m-%d}",
             f"Task `{task}`, report written {when:%Y-%m-%d %H:%M %Z}.",
             "## Inputs", inputs(result)]
    if config_yaml:
        parts += ["### Config", fenced(config_yaml, "yaml")]
    parts += ["## Results", *results]
    parts += ["## Notes", notes(result.get("notes"))]
    prov = result.get("provenance")
    if prov:
        parts += ["## Provenance", provenance(prov)]
    return "\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def inputs(result: Mapping) -> str:
    rows = [(label, fmt(result[key])) for key, label, fmt in INPUTS
            if result.get(key) is not None]
    return key_values(rows, ("input", "value")) if rows else "No run facts recorded."


def notes(items: Sequence[str] | None) -> str:
    if not items:
        return "None."
    return "\n".join(f"- {' '.join(str(n).split())}" for n in items)


def provenance(prov: Mapping) -> str:
    # Documented as flat strings; anything nested is still shown, as compact JSON.
    rows = [(k, v if isinstance(v, str) else json.dumps(v, default=str))
            for k, v in prov.items()]
    return key_values(rows, ("key", "value"))
