"""`kernel`: how mcrisk's Monte Carlo kernels are jitted, with the XLA options they compile
with.

XLA's CPU backend hands reductions to YNNPACK fusions. On these kernels' reductions over a
few assets or positions per path (a minor axis of 2-10 under the vmaps over paths and
directions) they ran at 4-11 ns per element: the 10-asset basket's Greeks took 275 ms a
16,384-path chunk with them and 66-78 ms with XLA's own loops (float32, 2-core CPU). The
option is per kernel, not process-wide (a notebook's own jits are left alone), and is
dropped where the installed XLA does not know it (an older jaxlib), found by compiling a
trivial function once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def options() -> dict:
    """The subset of `OPTIONS` this XLA accepts."""
    out = {}
    for k, v in OPTIONS.items():
        try:
            jax.jit(lambda x: x + 1, compiler_options={k: v}).lower(
                jnp.zeros((), jnp.float32)).compile()
        except Exception as e:  # noqa: BLE001 - XLA's error type varies across versions
            if "compile option" not in str(e):
                raise
        else:
            out[k] = v
    return out


class Kernel:
    """`jax.jit` of `fn` with `options()`, built on first use (the options are known only
    once XLA runs, and the host device count must be set before it starts); anything else
    (``lower``, ``_cache_size``, ...) is the jitted function's."""

    def __init__(self, fn: Callable, static_argnames: Sequence[str]):
        self.fn = fn
        self.static_argnames = tuple(static_argnames)
        functools.update_wrapper(self, fn)

    @functools.cached_property
    def jitted(self):
        return jax.jit(self.fn, static_argnames=self.static_argnames, compiler_options=options())

    def __call__(self, *args, **kwargs):
        return self.jitted(*args, **kwargs)

    def __getattr__(self, name: str):
        if name in ("fn", "static_argnames", "jitted") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.jitted, name)


def kernel(*, static_argnames: Sequence[str] = ()) -> Callable[[Callable], Kernel]:
    """Decorator: ``@kernel(static_argnames=("spec",))`` in place of
    ``@partial(jax.jit, static_argnames=("spec",))``."""
    return lambda fn: Kernel(fn, static_argnames)
