"""`mcrisk` console script: a Hydra app over `conf/config.yaml` and its groups.

Kept thin: compose the config, set up the device before JAX starts, hand the config to
``mcrisk.tasks.run`` and write what comes back (results.json with provenance, report.md,
plots, optional Parquet), each file atomically. SIGINT/SIGTERM stop a run with one line,
exit code 130/143 and, once a phase has started, a results.json marked ``"partial": true``.
``--help`` and ``--cfg job`` never import JAX.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from mcrisk import atomic, interrupt
from mcrisk.config.schema import HardwareConf, ReportConf
from mcrisk.config.store import conf_dir, register
from mcrisk.progress import Progress, Tracker
from mcrisk.report.text import points

register()


class ParquetSink:
    """Streams scenario losses / spots to Parquet chunk by chunk (memory stays bounded).

    Each file is streamed to a temporary file in the run folder and moved into place by
    `close` once its footer is written, so a `losses.parquet` is always readable: complete,
    or (after an interrupt) holding every scenario streamed before it.
    """

    def __init__(self, out_dir: Path, names: list[str], assets: list[str], report: dict):
        self.out_dir, self.names, self.assets = out_dir, names, assets
        self.losses = bool(report.get("save_losses"))
        self.paths = bool(report.get("save_paths"))
        self.paths_left = int(report.get("save_paths_max", ReportConf().save_paths_max))
        self.tmp: dict[str, Path] = {}
        self.writers: dict = {}
        self.rows: dict[str, int] = {}  # path -> rows, of the files moved into place

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
            self.tmp[kind] = atomic.temp_for(self.out_dir / f"{kind}.parquet")
            self.writers[kind] = pq.ParquetWriter(self.tmp[kind], table.schema)
        self.writers[kind].write_table(table)

    def close(self) -> dict[str, int]:
        """Finish every file and move it into place; return each path with its row count
        (read back from the file, so a count never disagrees with what was written).
        Safe to call again after an interrupt cut a first call short."""
        import pyarrow.parquet as pq

        for kind, tmp in list(self.tmp.items()):
            if kind in self.writers:
                self.writers.pop(kind).close()
            path = atomic.commit(tmp, self.out_dir / f"{kind}.parquet")
            del self.tmp[kind]
            self.rows[str(path)] = pq.ParquetFile(path).metadata.num_rows
        return self.rows

    def discard(self) -> None:
        """Drop the files of a run that failed: no result refers to them."""
        for kind, tmp in list(self.tmp.items()):
            if kind in self.writers:
                self.writers.pop(kind).close()
            atomic.discard(tmp)
            del self.tmp[kind]


class CliProgress(Progress):
    """The CLI's tracker: shown or not, it knows how far the run got (for a partial
    results.json), and it re-raises a signal whose exception was lost."""

    def start(self, label: str, total: int, unit: str = "paths") -> None:
        interrupt.check()
        super().start(label, total, unit)

    def update(self, done: int, items: int | None = None) -> None:
        interrupt.check()
        super().update(done, items)


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
    from mcrisk.provenance import config_hash
    from mcrisk.rundir import resume_skips

    quiet()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    plain = to_plain(cfg)
    results = out_dir / "results.json"
    # Hashed before anything below fills in defaults, so a resumed sweep composes the same.
    cfg_hash = config_hash(plain)
    t0 = time.perf_counter()
    show = plain.get("progress")
    tracker = CliProgress(show=sys.stderr.isatty() if show is None else bool(show))
    sink = None
    hw_notes: list[str] = []
    saved = False
    try:
        try:
            if plain.get("resume") and resume_skips(out_dir, plain):
                print(f"resume: {out_dir} holds a finished run of this config, skipping this job")
                return
            from mcrisk import hardware

            hw_notes = hardware.configure(plain.get("hardware"), plain.setdefault("sim", {}))
            import jax

            jax.config.update("jax_threefry_partitionable", True)
            hardware.use_compile_cache((plain.get("hardware") or {}).get(
                "compile_cache", HardwareConf().compile_cache))
            from mcrisk.tasks import run

            report = plain.get("report") or {}
            if plain.get("task") == "risk" and (report.get("save_losses")
                                                or report.get("save_paths")):
                import mcrisk

                problem = mcrisk.build(plain)
                sink = ParquetSink(out_dir, [p.name for p in problem.positions],
                                   list(problem.market.assets), report)
            result = run(plain, progress=tracker, sink=sink)
        except (ConfigError, NonFiniteError) as err:
            tracker.close()
            if sink is not None:
                sink.discard()
            kind, code = (("invalid config", 2) if isinstance(err, ConfigError)
                          else ("non-finite result", 3))
            sys.stderr.write(f"mcrisk: {kind}: {err}\n")
            sys.exit(code)
        stamp(result, plain, hw_notes, time.perf_counter() - t0, cfg_hash)
        if sink is not None:
            result["files"] = list(sink.close())
        atomic.write_json(results, result)
        if result["task"] == "calibrate":
            from mcrisk.tasks.calibrate import write_model_files

            write_model_files(result, out_dir)
        saved = True
        report = plain.get("report") or {}
        if report.get("enabled", ReportConf().enabled) and result["task"] not in ("verify", "collect"):
            from mcrisk.report import write_report

            write_report(result, out_dir, config_yaml=OmegaConf.to_yaml(cfg))
        print(summary(result))
        print(f"results: {results}")
    except interrupt.Interrupted as sig:
        with interrupt.deferred():
            tracker.close()
            where = _save_partial(results, plain, sink, tracker, sig, t0, saved)
        sys.stderr.write(f"mcrisk: interrupted by {sig.name} {where}\n")
        sys.exit(sig.exit_code)
    except Exception:
        if sink is not None and not saved:  # no result will name these files
            sink.discard()
        raise
    if result["task"] == "verify" and not result["ok"]:
        sys.exit(1)


def _save_partial(results: Path, plain: dict, sink, tracker: Tracker, sig, t0: float,
                  saved: bool) -> str:
    """Keep what a stopped run has; return the rest of the one-line message."""
    if saved:
        return f"after the results were saved; {results} is complete"
    if tracker.label is None:
        if sink is not None:
            sink.discard()
        return "before any result was computed; nothing saved"
    state = tracker.state()
    partial = {"task": plain.get("task", "price"), "partial": True, "signal": sig.name,
               "progress": state, "seconds": time.perf_counter() - t0,
               "note": "interrupted: no estimate is given for an unfinished run"}
    if sink is not None:
        rows = sink.close()
        partial["files"] = list(rows)
        partial["rows_saved"] = {Path(f).stem: n for f, n in rows.items()}
        partial["note"] += ("; the Parquet files hold every scenario streamed before the "
                            "interrupt (rows_saved)")
    if "jax" in sys.modules:
        from mcrisk.provenance import collect

        partial["provenance"] = collect(plain)
    atomic.write_json(results, partial)
    return (f"during {state['phase']} ({state['chunks_done']} of {state['n_chunks']} chunks "
            f"done); partial results in {results}")


def stamp(result: dict, plain: dict, notes: list[str], seconds: float,
          cfg_hash: str | None = None) -> dict:
    """Add what the command line records about every run (docs/results.md, last section)."""
    from mcrisk.provenance import collect

    result["notes"] = list(result.get("notes", [])) + notes
    result["seconds"] = seconds
    result["provenance"] = collect(plain, cfg_hash, hardware_notes=notes)
    return result


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
    if task == "calibrate":
        from mcrisk.tasks.calibrate import table

        return table(result)
    if task == "allocate":
        from mcrisk.tasks.allocate import table

        return table(result)
    if task == "dynamic_hedge":
        from mcrisk.tasks.dynamic_hedge import table

        return table(result)
    if task == "backtest":
        from mcrisk.tasks.backtest import table

        return table(result)
    if task == "hedge":
        from mcrisk.tasks.hedge import table

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
        exact = result["exact_match"]
        head = (f"verify {result['run_dir']}: "
                + ("exact match" if exact else
                   f"{result['n_mismatches']} fields differ ({result['n_structural']} in keys, "
                   f"lengths, types or strings), max relative difference "
                   f"{result['max_rel_diff']:.3g}")
                + ("" if result["same_device_and_dtype"] else
                   " (different device/dtype/JAX: exact equality not expected)")
                + ("" if exact else "; rerun vs saved:"))
        shown = result["mismatches"]
        more = result["n_mismatches"] - len(shown)
        return "\n".join([head] + [f"  {m['field']}: {m['detail']}" for m in shown]
                         + ([f"  ... and {more} more numbers"] if more > 0 else []))
    return f"collected {result['n_runs']} runs: " + ", ".join(result["files"])


_app = hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")(_run)


def main() -> None:
    """Console script `mcrisk`: Hydra's command line, plus ``portfolio=<book.yaml>``, stopped
    cleanly by SIGINT (exit code 130) or SIGTERM (143) with one line on stderr instead of a
    traceback."""
    from mcrisk.config.store import file_overrides

    sys.argv[1:] = file_overrides(sys.argv[1:])
    with interrupt.trapped():
        try:
            _app()
        except interrupt.Interrupted as sig:  # before or after a job: nothing of it to save
            sys.stderr.write(f"mcrisk: interrupted by {sig.name}; nothing saved\n")
            sys.exit(sig.exit_code)

if __name__ == "__main__":
    main()
