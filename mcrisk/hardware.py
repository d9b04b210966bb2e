"""Device and precision set-up, applied before JAX initialises (it reads both once)."""

from __future__ import annotations

import os
import warnings
from typing import Any

from mcrisk.config.schema import HardwareConf
from mcrisk.errors import ConfigError


def configure(hardware: dict[str, Any] | None, sim: dict[str, Any]) -> list[str]:
    """Apply `hardware` (platform, precision, memory) and return notes for the results.

    Must run before the first `import jax` of the process; `sim["dtype"]` is overwritten by
    `hardware.precision` when that is set.
    """
    hw = dict(hardware or {})
    d = HardwareConf()
    notes: list[str] = []
    platform = hw.get("platform", d.platform)
    if platform not in ("cpu", "gpu"):
        raise ConfigError("hardware.platform", platform, "'cpu' or 'gpu'")
    precision = hw.get("precision")
    if precision is not None:
        if precision not in ("float32", "float64"):
            raise ConfigError("hardware.precision", precision, "'float32' or 'float64'")
        sim["dtype"] = precision
    if sim.get("dtype") == "float64":
        os.environ["JAX_ENABLE_X64"] = "1"
    if not hw.get("preallocate", d.preallocate):
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if hw.get("memory_fraction") is not None:
        os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"] = str(hw["memory_fraction"])
    if platform == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
        return notes
    os.environ.pop("JAX_PLATFORMS", None)
    import jax

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if gpus:
        notes.append(f"running on {gpus[0].device_kind}")
        return notes
    if hw.get("fallback") == "cpu":
        msg = "hardware=gpu but no GPU is visible to JAX; falling back to the CPU"
        warnings.warn(msg, stacklevel=2)
        notes.append(msg)
        return notes
    raise ConfigError("hardware.platform", "gpu",
                      "a visible GPU (jax.devices() has none: install jax[cuda12] on a GPU "
                      "machine), or hardware.fallback=cpu to run on the CPU with a warning")
