"""Run reports: `report.md` and PNG plots from a task's result dict.

`write_report` is the one public function. Plotting imports matplotlib only when a plot is
drawn, so `import mcrisk.report` costs neither matplotlib nor JAX.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

REPORT = "report.md"


def write_report(result: Mapping, out_dir: str | Path, *,
                 config_yaml: str | None = None) -> list[Path]:
    """Write `report.md` and the plots of one run into `out_dir`.

    Each result table in the markdown is followed by its plot, inlined as
    `![title](file.png)`. Optional parts of the result (Greeks, margin, profile, stress,
    provenance, ...) that are absent are left out of both; nothing is required beyond
    `task` and that task's main results.

    Args:
        result: a JSON-like result dict as returned by `mcrisk.price`, `mcrisk.risk` and
            the other tasks; `result["task"]` is one of "price", "risk", "stress",
            "convergence", "model_risk", "calibrate", "allocate", "hedge".
        out_dir: folder to write into; created if missing. Existing files of the same
            names are replaced, each atomically (never left half-written).
        config_yaml: the run's composed config as YAML text, shown in the Inputs section.

    Returns:
        The paths written: the PNGs in report order, then `report.md`.

    Raises:
        ValueError: `result["task"]` is missing or not a known task.

    Example:
        >>> import tempfile
        >>> result = {"task": "price", "model": "gbm", "positions": [], "notes": [],
        ...           "book": {"value": 1.0, "stderr": 0.1, "ci95": [0.8, 1.2]}}
        >>> [p.name for p in write_report(result, tempfile.mkdtemp())]
        ['report.md']
    """
    from mcrisk.atomic import write_text
    from mcrisk.report.markdown import document
    from mcrisk.report.sections import TASKS

    task = result.get("task")
    if task not in TASKS:
        raise ValueError(f"result['task']: got {task!r}; expected one of {sorted(TASKS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    chunks: list[str] = []
    for block in TASKS[task](result):
        chunks.append(block.text)
        if block.draw is not None and block.draw(out / block.file):
            written.append(out / block.file)
            chunks.append(f"![{block.title}]({block.file})")
    text = document(task, result, chunks or ["No results."], config_yaml=config_yaml,
                    when=datetime.now().astimezone())
    write_text(out / REPORT, text)
    return written + [out / REPORT]


__all__ = ["write_report"]
