"""Test-wide JAX settings: x64 available so both dtypes can be exercised, strict promotion."""
import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture(scope="session", autouse=True)
def _compile_cache(tmp_path_factory):
    """Command-line runs in subprocesses share one persistent compile cache for the session
    (hardware.compile_cache=auto reads MCRISK_CACHE_DIR), never the user's own."""
    os.environ["MCRISK_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax-cache"))
