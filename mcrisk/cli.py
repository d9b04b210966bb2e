"""`mcrisk` console script: a Hydra app over `conf/config.yaml`.

Kept thin: it composes the config, hands it to ``mcrisk.tasks.run`` and writes what comes
back. JAX is only imported inside the task, so ``--help`` and ``--cfg job`` never start a
backend.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig


def conf_dir() -> str:
    """The config folder: the checkout's conf/ when run from source, else the wheel's copy."""
    source = Path(__file__).resolve().parent.parent / "conf"
    if (source / "config.yaml").is_file():
        return str(source)
    from importlib.resources import files

    return str(files("mcrisk.conf"))


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


def _run(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from mcrisk.errors import ConfigError
    from mcrisk.tasks import run

    # Hydra logs at INFO; JAX's backend probing (no TPU here) is noise to a user.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    t0 = time.perf_counter()
    try:
        result = run(cfg, progress=Progress())
    except ConfigError as err:
        sys.stderr.write(f"mcrisk: invalid config: {err}\n")
        sys.exit(2)
    result["seconds"] = time.perf_counter() - t0
    (out_dir / "results.json").write_text(json.dumps(result, indent=2))
    if result.get("task") == "price":
        from mcrisk.tasks.price import table

        print(table(result))
    elif result.get("task") == "risk":
        from mcrisk.tasks.risk import table

        print(table(result))
    print(f"results: {out_dir / 'results.json'}")


main = hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")(_run)

if __name__ == "__main__":
    main()
