"""Gather a multirun's results into one table (CSV and Parquet) and a comparison plot.

    mcrisk-collect multirun/2026-11-25/10-00-00
    mcrisk task=collect run_dir=multirun/2026-11-25/10-00-00
"""

from __future__ import annotations

import sys
from pathlib import Path

from mcrisk import errors as E
from mcrisk.atomic import replacing
from mcrisk.rundir import load_results, load_yaml


def rows_of(run_dir: Path) -> list[dict]:
    """One row per job: its overrides (typed, see `typed_overrides`) and its headline numbers."""
    jobs, texts = [], []
    for res_file in sorted(run_dir.glob("*/results.json"), key=lambda p: _num(p.parent.name)):
        job = res_file.parent
        given: dict[str, str] = {}
        overrides = job / ".hydra" / "overrides.yaml"
        if overrides.is_file():
            items = load_yaml(overrides, mapping=False, resolve=False) or []
            if not isinstance(items, list):
                raise E.ConfigError(str(overrides), type(items).__name__,
                                    "a YAML list of overrides, as Hydra writes it")
            for item in items:
                key, _, value = str(item).partition("=")
                given[key.lstrip("+~")] = value
        jobs.append((job.name, load_results(res_file)))
        texts.append(given)
    rows = []
    for (name, res), typed in zip(jobs, typed_overrides(texts)):
        row: dict = {"job": name, "task": res.get("task")}
        if res.get("partial"):  # an interrupted job: listed, with no numbers to compare
            row["partial"] = True
        row.update(typed)
        row.update(_metrics(res))
        rows.append(row)
    return rows


def typed_overrides(texts: list[dict[str, str]]) -> list[dict]:
    """Each job's overrides (key -> text) typed as Hydra typed them, one type per key.

    Hydra's override grammar gives the value the job received (``sim.n_paths=1e3`` is the
    float 1000.0, where YAML 1.1 would keep the string '1e3'). A key keeps one type across
    jobs: ints and floats together become floats; any other mix (or a list or dict value)
    stays the override text as typed, so nothing is re-interpreted behind the user's back.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    out: list[dict] = [{} for _ in texts]
    for key in dict.fromkeys(k for t in texts for k in t):
        values = []
        for t in texts:
            if key not in t:
                values.append(None)
                continue
            try:
                values.append(parser.parse_override(f"{key}={t[key]}").value())
            except Exception:  # noqa: BLE001 - text Hydra's grammar rejects stays text
                values.append(t[key])
        kinds = {_kind(v) for v in values if v is not None}
        if len(kinds) > 1 and kinds <= {"int", "float"}:
            values = [None if v is None else float(v) for v in values]
        elif len(kinds) > 1 or "other" in kinds:
            values = [t.get(key) for t in texts]
        for row, t, v in zip(out, texts, values):
            if key in t:
                row[key] = v
    return out


def _kind(v) -> str:
    if isinstance(v, bool):
        return "bool"
    return {int: "int", float: "float", str: "str"}.get(type(v), "other")


def _num(name: str):
    return (0, int(name)) if name.isdigit() else (1, name)


def _metrics(res: dict) -> dict:
    out = {k: res.get(k) for k in ("model", "dtype", "n_paths", "seed", "seconds")}
    if "book" in res:
        out.update(book_value=res["book"]["value"], book_stderr=res["book"]["stderr"])
    for key in ("var", "es"):
        for level, v in (res.get(key) or {}).items():
            out[f"{key}_{level}"] = v
            lo, hi = (res.get(f"{key}_ci") or {}).get(level) or [None, None]
            out[f"{key}_{level}_lo"], out[f"{key}_{level}_hi"] = lo, hi
    if res.get("margin"):
        out["margin_requirement"] = res["margin"]["requirement"]
    return out


def collect(run_dir: str) -> dict:
    """Write collected.csv, collected.parquet and collected.png into `run_dir`."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    root = Path(run_dir)
    if not root.is_dir():
        raise E.ConfigError("run_dir", run_dir, "an existing multirun folder")
    rows = rows_of(root)
    if not rows:
        raise E.ConfigError("run_dir", run_dir, "a multirun folder with */results.json files")
    columns = list(dict.fromkeys(k for r in rows for k in r))
    table = pa.table({c: [_cell(r.get(c)) for r in rows] for c in columns})
    with replacing(root / "collected.csv") as tmp:
        pacsv.write_csv(table, str(tmp))
    with replacing(root / "collected.parquet") as tmp:
        pq.write_table(table, str(tmp))
    files = [str(root / "collected.csv"), str(root / "collected.parquet")]
    png = _plot(rows, root / "collected.png")
    if png:
        files.append(str(png))
    return {"task": "collect", "run_dir": str(root), "n_runs": len(rows), "rows": rows,
            "files": files}


def _cell(v):
    return None if v is None else str(v) if isinstance(v, (list, dict)) else v


def _plot(rows: list[dict], path: Path) -> Path | None:
    metric = next((m for m in ("var_0.99", "book_value", "margin_requirement")
                   if any(r.get(m) is not None for r in rows)), None)
    if metric is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    varying = [k for k in rows[0] if k not in ("job", "task") and not k.startswith(("var_", "es_"))
               and len({str(r.get(k)) for r in rows}) > 1 and k in _override_keys(rows)]
    labels = [", ".join(f"{k}={r.get(k)}" for k in varying) or r["job"] for r in rows]
    vals = [r.get(metric) or 0.0 for r in rows]
    lo = [r.get(f"{metric}_lo") for r in rows]
    hi = [r.get(f"{metric}_hi") for r in rows]
    err = None
    if all(x is not None for x in lo + hi):
        err = [[v - a for v, a in zip(vals, lo)], [b - v for v, b in zip(vals, hi)]]
    elif metric == "book_value":
        err = [1.96 * (r.get("book_stderr") or 0.0) for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.5))
    ax.barh(range(len(rows)), vals, xerr=err, color="#4C72B0", capsize=3)
    ax.set_yticks(range(len(rows)), labels)
    ax.set_xlabel(metric + (" (95% CI)" if err is not None else ""))
    ax.set_title(f"{len(rows)} runs")
    # Labels grow with the number of swept keys; tight_layout cannot fit long ones (and warns).
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _override_keys(rows: list[dict]) -> set:
    return {k for r in rows for k in r if "." in k or k in ("model", "sim", "market", "risk",
                                                            "portfolio", "experiment")}


def main() -> None:
    """Console script `mcrisk-collect <multirun dir>`."""
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print("usage: mcrisk-collect <multirun dir>")
        sys.exit(0 if len(sys.argv) == 2 else 2)
    try:
        res = collect(sys.argv[1])
    except E.ConfigError as err:
        sys.stderr.write(f"mcrisk-collect: {err}\n")
        sys.exit(2)
    print(f"collected {res['n_runs']} runs:")
    for f in res["files"]:
        print("  " + f)


if __name__ == "__main__":
    main()
