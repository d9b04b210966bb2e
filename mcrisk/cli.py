"""`mcrisk` console script: a Hydra app over `conf/config.yaml` and its groups.

Kept thin: compose the config, set up the device before JAX starts, hand the config to
``mcrisk.tasks.run`` and write what comes back (results.json with provenance, report.md,
plots, optional Parquet). ``--help`` and ``--cfg job`` never import JAX.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from mcrisk.config.schema import ReportConf
from mcrisk.config.store import conf_dir, register
from mcrisk.report.text import points

register()


class Progress:
    """Chunk progress on stderr (chunks done, paths/s, ETA), shown once a run has taken
    longer than a second."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, done: int, total: int, seconds: float, paths: int = 0) -> None:
        if seconds < 1.0 and not self.shown:
            return
        self.shown = True
        eta = seconds / done * (total - done)
        rate = f"  {paths / seconds:,.0f} paths/s" if paths else ""
        sys.stderr.write(f"\r  chunks {done}/{total}{rate}  {seconds:6.1f}s  eta {eta:5.1f}s ")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


class ParquetSink:
    """Streams scenario losses / spots to Parquet chunk by chunk (memory stays bounded)."""

    def __init__(self, out_dir: Path, names: list[str], assets: list[str], report: dict):
        self.out_dir, self.names, self.assets = out_dir, names, assets
        self.losses = bool(report.get("save_losses"))
        self.paths = bool(report.get("save_paths"))
        self.paths_left = int(report.get("save_paths_max", ReportConf().save_paths_max))
        self.writers: dict = {}

    def __call__(self, idx, pos_losses, spots) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.losses:
            cols = {"scenario": idx, "loss": pos_losses.sum(axis=1)}
            cols.update({f"loss_{n}": pos_losses[:, i] for i, n in enumerate(self.names)})
            self._write("losses", pa.table(cols), pq)
        if self.paths and self.paths_left > 0:
            k = min(self.paths_left, len(idx))
            self.paths_left -= k
            cols = {"scenario": idx[:k]}
            for j in range(spots.shape[1]):
                for a, name in enumerate(self.assets):
                    cols[f"{name}_date{j}"] = spots[:k, j, a]
            self._write("paths", pa.table(cols), pq)

    def _write(self, kind, table, pq) -> None:
        if kind not in self.writers:
            self.writers[kind] = pq.ParquetWriter(self.out_dir / f"{kind}.parquet", table.schema)
        self.writers[kind].write_table(table)

    def close(self) -> list[str]:
        for w in self.writers.values():
            w.close()
        return [str(self.out_dir / f"{k}.parquet") for k in self.writers]


def _one_line(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def quiet() -> None:
    """What a CLI user sees on stderr: warnings as one line each, `warning: message` (no
    source file or code line), and no log chatter from matplotlib (font cache) or JAX and
    libtpu probing for accelerators. Set here, at the edge, never by the library."""
    warnings.formatwarning = _one_line
    for name in ("matplotlib", "PIL", "jax._src.xla_bridge", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # XLA's and libtpu's C++ logs bypass Python logging; keep errors only (a user's own
    # setting wins).
    for var in ("TF_CPP_MIN_LOG_LEVEL", "TPU_MIN_LOG_LEVEL", "TPU_STDERR_LOG_LEVEL"):
        os.environ.setdefault(var, "2")


def _run(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from mcrisk.config.build import to_plain
    from mcrisk.errors import ConfigError, NonFiniteError

    quiet()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    plain = to_plain(cfg)
    if plain.get("resume") and (out_dir / "results.json").is_file():
        print(f"resume: {out_dir / 'results.json'} exists, skipping this job")
        return
    t0 = time.perf_counter()
    sink = None
    try:
        from mcrisk import hardware

        hw_notes = hardware.configure(plain.get("hardware"), plain.setdefault("sim", {}))
        import jax

        jax.config.update("jax_threefry_partitionable", True)
        from mcrisk.tasks import run

        report = plain.get("report") or {}
        if plain.get("task") == "risk" and (report.get("save_losses") or report.get("save_paths")):
            import mcrisk

            problem = mcrisk.build(plain)
            sink = ParquetSink(out_dir, [p.name for p in problem.positions],
                               list(problem.market.assets), report)
        result = run(plain, progress=Progress(), sink=sink)
    except ConfigError as err:
        sys.stderr.write(f"mcrisk: invalid config: {err}\n")
        sys.exit(2)
    except NonFiniteError as err:
        sys.stderr.write(f"mcrisk: non-finite result: {err}\n")
        sys.exit(3)
    from mcrisk.provenance import collect

    result["notes"] = list(result.get("notes", [])) + hw_notes
    result["seconds"] = time.perf_counter() - t0
    result["provenance"] = collect(plain)
    if sink is not None:
        result["files"] = sink.close()
    (out_dir / "results.json").write_text(json.dumps(result, indent=2))
    report = plain.get("report") or {}
    if report.get("enabled", ReportConf().enabled) and result["task"] not in ("verify", "collect"):
        from mcrisk.report import write_report

        write_report(result, out_dir, config_yaml=OmegaConf.to_yaml(cfg))
    print(summary(result))
    print(f"results: {out_dir / 'results.json'}")
    if result["task"] == "verify" and not result["ok"]:
        sys.exit(1)


def summary(result: dict) -> str:
    """The text printed after a run: the task's table, then the run's notes (what was
    estimated from a price file, with each vol and its standard error; warnings)."""
    text = _table(result)
    notes = [" ".join(str(n).split()) for n in result.get("notes") or []]
    return "\n".join([text] + [f"note: {n}" for n in notes])


def _table(result: dict) -> str:
    from mcrisk.tasks.risk import money

    task = result["task"]
    if task == "price":
        from mcrisk.tasks.price import table

        return table(result)
    if task == "risk":
        from mcrisk.tasks.risk import table

        return table(result)
    if task == "stress":
        lines = [f"book value today {money(result['today']['book'])}"]
        lines += [f"stress {s['name']:<24} loss {money(s['loss']):>16}" for s in result["stress"]]
        if result.get("margin"):
            m = result["margin"]
            w = m["worst_point"]
            lines.append(f"margin requirement {money(m['requirement'])} (worst: spot "
                         f"{w['spot']:+.0%}, vol {points(w['vol'])}); per venue "
                         + ", ".join(f"{k} {money(v)}" for k, v in m["per_venue"].items())
                         + f"; cross-venue saving {money(m['cross_venue_saving'])}")
        return "\n".join(lines)
    if task == "convergence":
        lines = [f"{'paths':>10} {'book value':>16} {'95% CI':>34}"]
        for r in result["rows"]:
            lo, hi = r["book_ci95"]
            var = r.get("var") or {}
            lines.append(f"{r['n_paths']:>10} {money(r['book_value']):>16} "
                         f"[{money(lo):>14}, {money(hi):>14}]"
                         + (f"  VaR99 {money(var['0.99'])}" if "0.99" in var else ""))
        return "\n".join(lines)
    if task == "model_risk":
        return "\n".join(f"{m:<8} book {money(r['book_value']):>16} ± {money(r['book_stderr'])}"
                         + (f"  VaR {max(r['var'].items())[0]} {money(max(r['var'].items())[1])}"
                            if r.get("var") else "") for m, r in result["models"].items())
    if task == "verify":
        return (f"verify {result['run_dir']}: "
                + ("exact match" if result["exact_match"] else
                   f"{result['n_mismatches']} fields differ, max relative difference "
                   f"{result['max_rel_diff']:.3g}")
                + ("" if result["same_device_and_dtype"] else
                   " (different device/dtype/JAX: exact equality not expected)"))
    return f"collected {result['n_runs']} runs: " + ", ".join(result["files"])


main = hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")(_run)

if __name__ == "__main__":
    main()
