"""Counting what XLA compiles: the compile-once tests' one tool."""

from __future__ import annotations

import contextlib

import jax

_COMPILE = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def compiled():
    """Names of the functions XLA compiles inside the block."""
    names: list[str] = []

    def listen(event, duration_secs, **kw):
        if event == _COMPILE:
            names.append(kw.get("fun_name", "?"))

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield names
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
