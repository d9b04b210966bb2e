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
    cache_dir(hw.get("compile_cache", d.compile_cache))  # refused before anything starts
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
    devices = hw.get("devices", d.devices)
    if platform == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
        set_host_devices(host_device_count(devices))
        return notes
    if devices != "auto":
        raise ConfigError("hardware.devices", devices,
                          "'auto' on a GPU (every visible GPU is used; choose them with "
                          "CUDA_VISIBLE_DEVICES)")
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


HOST_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def host_device_count(setting: Any) -> int:
    """Host devices for `hardware.devices` on a CPU: 'auto' is one per core this process
    may run on (its CPU affinity: what a SLURM allocation or taskset grants)."""
    if setting == "auto":
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            return os.cpu_count() or 1
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise ConfigError("hardware.devices", setting, "'auto' or a positive integer")
    return setting


def set_host_devices(count: int) -> None:
    """Ask XLA for `count` CPU devices: each runs its share of a chunk on its own thread,
    where one device keeps the kernel on one core. XLA reads the flag when JAX's CPU backend
    starts, so this must run before that; a count already in XLA_FLAGS (the user's) wins.
    Where JAX has already started (a notebook), the devices it has are used."""
    flags = os.environ.get("XLA_FLAGS", "")
    if HOST_DEVICE_FLAG in flags:
        return
    os.environ["XLA_FLAGS"] = f"{flags} {HOST_DEVICE_FLAG}={count}".strip()


# Kernels that compile faster than this are not worth a disk round trip.
MIN_CACHED_COMPILE_SECONDS = 0.2


def cache_dir(setting: Any) -> str | None:
    """The directory `hardware.compile_cache` names, or None when it is off.

    'auto' is ``$MCRISK_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/mcrisk/jax`` (by default
    ``~/.cache/mcrisk/jax``); 'off' (or null) keeps compiled kernels in memory only.
    """
    if setting is None or setting == "off":
        return None
    if not isinstance(setting, str) or not setting.strip():
        raise ConfigError("hardware.compile_cache", setting,
                          "'auto', 'off' or the path of a directory for compiled kernels")
    if setting != "auto":
        return os.path.abspath(os.path.expanduser(setting))
    if os.environ.get("MCRISK_CACHE_DIR"):
        return os.path.abspath(os.environ["MCRISK_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mcrisk", "jax")


def use_compile_cache(setting: Any = "auto") -> str | None:
    """Keep compiled kernels on disk (JAX's persistent compilation cache) so that the next
    process running the same kernels loads them instead of compiling: a repeated preset, the
    next job of a sweep, a restarted notebook. Returns the directory (None for 'off').

    Process-wide, so it is set at the edge: by the command line from
    `hardware.compile_cache`, or by a notebook calling ``mcrisk.use_compile_cache()`` once.
    """
    path = cache_dir(setting)
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    if path is not None:
        jax.config.update("jax_persistent_cache_min_compile_time_secs",
                          MIN_CACHED_COMPILE_SECONDS)
    return path
