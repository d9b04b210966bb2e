"""`mcrisk` console script: a Hydra app over `conf/config.yaml` and its groups.

Kept thin: compose the config, set up the device before JAX starts, hand the config to
``mcrisk.tasks.run`` and write what comes back (results.json with provenance, report.md,
plots, optional Parquet). ``--help`` and ``--cfg job`` never import JAX.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from mcrisk.config.schema import ReportConf
from mcrisk.config.store import conf_dir, register

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


def _run(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from mcrisk.config.build import to_plain
    from mcrisk.errors import ConfigError, NonFiniteError

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
        # Hydra logs at INFO; JAX's backend probing (no TPU here) is noise to a user.
        logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
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
