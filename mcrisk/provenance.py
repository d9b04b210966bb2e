"""What a result needs to be trusted and reproduced: versions, device, precision, seed, and a
hash of the resolved config."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from typing import Any


def config_hash(plain_cfg: dict) -> str:
    """A short hash of the resolved config; `resume=true` re-runs a job only if it matches.

    ``resume`` itself is left out: it says how a sweep is launched, not what a job computes.
    """
    what = {k: v for k, v in plain_cfg.items() if k != "resume"}
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def collect(plain_cfg: dict, cfg_hash: str | None = None,
            hardware_notes: list[str] | None = None) -> dict[str, Any]:
    """Provenance of a run of `plain_cfg`.

    Args:
        plain_cfg: the config the run used (dtype and seed are read from it).
        cfg_hash: `config_hash` of the config as composed, taken before the run filled
            anything in; what ``resume=true`` compares (defaults to the hash of `plain_cfg`).
        hardware_notes: the notes the device set-up added to the results, so that
            ``task=verify`` on another machine does not count them as a difference.
    """
    import jax
    import jaxlib

    import mcrisk
    from mcrisk.random import NORMALS_GENERATOR

    dev = jax.devices()[0]
    return {
        "mcrisk": mcrisk.__version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
        "python": sys.version.split()[0], "platform": platform.platform(),
        "device": f"{dev.platform}:{getattr(dev, 'device_kind', dev.platform)}",
        "device_count": jax.device_count(), "local_device_count": jax.local_device_count(),
        "process_count": jax.process_count(), "xla_flags": os.environ.get("XLA_FLAGS"),
        "x64": bool(jax.config.jax_enable_x64),
        "prng_impl": str(jax.config.jax_default_prng_impl),
        "normals_generator": NORMALS_GENERATOR,
        "threefry_partitionable": bool(jax.config.jax_threefry_partitionable),
        "dtype": plain_cfg.get("sim", {}).get("dtype"), "seed": plain_cfg.get("sim", {}).get("seed"),
        "config_hash": cfg_hash or config_hash(plain_cfg),
        "hardware_notes": list(hardware_notes or []),
        "compile_cache": jax.config.jax_compilation_cache_dir,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
