"""`mcrisk` console script: a Hydra app over `conf/config.yaml` and its groups.

Kept thin: compose the config, set up the device before JAX starts, hand the config to
``mcrisk.tasks.run`` and write what comes back (results.json with provenance, report.md,
plots, optional Parquet), each file atomically. SIGINT/SIGTERM stop a run with one line,
exit code 130/143 and, once a phase has started, a results.json marked ``"partial": true``.
``--help`` and ``--cfg job`` never import JAX.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from mcrisk import atomic, interrupt
from mcrisk.config.store import conf_dir, register
from mcrisk.progress import Progress, Tracker

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
        self.paths_left = int(report.get("save_paths_max", 10_000))
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


def _run(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from mcrisk.config.build import to_plain
    from mcrisk.errors import ConfigError, NonFiniteError
    from mcrisk.provenance import config_hash
    from mcrisk.rundir import resume_skips

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
            # Hydra logs at INFO; JAX's backend probing (no TPU here) is noise to a user.
            logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
            import jax

            jax.config.update("jax_threefry_partitionable", True)
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
        saved = True
        report = plain.get("report") or {}
        if report.get("enabled", True) and result["task"] not in ("verify", "collect"):
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
    task = result["task"]
    if task == "price":
        from mcrisk.tasks.price import table

        return table(result)
    if task == "risk":
        from mcrisk.tasks.risk import table

        return table(result)
    if task == "stress":
        lines = [f"book value today {result['today']['book']:,.2f}"]
        lines += [f"stress {s['name']:<24} loss {s['loss']:>16,.2f}" for s in result["stress"]]
        if result.get("margin"):
            m = result["margin"]
            lines.append(f"margin requirement {m['requirement']:,.2f}; per venue "
                         + ", ".join(f"{k} {v:,.2f}" for k, v in m["per_venue"].items())
                         + f"; cross-venue saving {m['cross_venue_saving']:,.2f}")
        return "\n".join(lines)
    if task == "convergence":
        lines = [f"{'paths':>10} {'book value':>16} {'95% CI':>34}"]
        for r in result["rows"]:
            lo, hi = r["book_ci95"]
            lines.append(f"{r['n_paths']:>10} {r['book_value']:>16,.2f} [{lo:>14,.2f}, {hi:>14,.2f}]"
                         + (f"  VaR99 {r['var'].get('0.99', float('nan')):,.2f}" if "var" in r else ""))
        return "\n".join(lines)
    if task == "model_risk":
        return "\n".join(f"{m:<8} book {r['book_value']:>16,.2f} ± {r['book_stderr']:,.2f}"
                         + (f"  VaR {max(r['var'].items())[0]} {max(r['var'].items())[1]:,.2f}"
                            if "var" in r else "") for m, r in result["models"].items())
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
