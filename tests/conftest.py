"""Test-wide JAX settings: x64 available so both dtypes can be exercised, strict promotion."""
import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import sys  # noqa: E402

import absl.logging  # noqa: E402
import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
# absl.logging (optax imports it) writes to the sys.stderr of its import, here pytest's capture
# file, and closes that stream when logging's handlers are shut down unless it is the
# sys.stderr of that moment. Hydra's in-process runs reconfigure logging, which shut them
# down: the capture file closed and every later test failed with "I/O operation on closed
# file". Pointed at the real stderr, the handler leaves it open.
absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__


@pytest.fixture(scope="session", autouse=True)
def _compile_cache(tmp_path_factory):
    """Command-line runs in subprocesses share one persistent compile cache for the session
    (hardware.compile_cache=auto reads MCRISK_CACHE_DIR), never the user's own."""
    os.environ["MCRISK_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax-cache"))
