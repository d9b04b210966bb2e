"""SIGINT and SIGTERM as one exception, so the CLI can stop a run cleanly.

Python turns SIGINT into KeyboardInterrupt wherever the main thread happens to be (deep in
JAX, with a long traceback) and SIGTERM kills the process without running any cleanup.
Under `trapped()` both raise `Interrupted`, which the CLI catches to close its files, write
what it has and exit with the shell's code for the signal (128 + signal number).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The run was stopped by a signal. A BaseException, like KeyboardInterrupt, so that
    no ``except Exception`` on the way up swallows it.

    Attributes:
        signum: the signal number; name: e.g. "SIGINT"; exit_code: 128 + signum (130 for
        SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {self.name}")


# The signal received, if any: a handler's exception can be lost (raised inside a __del__
# or a weakref callback it is only printed), so `check` raises it again at the next chunk.
_received: list[int] = []


def _raise(signum: int, frame) -> None:
    _received.append(signum)
    raise Interrupted(signum)


def check() -> None:
    """Raise `Interrupted` if a signal arrived under `trapped()` (and was lost)."""
    if _received:
        raise Interrupted(_received[0])


@contextmanager
def trapped() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Interrupted` inside the block (main thread only)."""
    old = {s: signal.signal(s, _raise) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def deferred() -> Iterator[None]:
    """Ignore further SIGINT/SIGTERM while the block saves what a stopped run has: a second
    Ctrl-C must not cut that short (it is bounded: closing files, one JSON write)."""
    old = {s: signal.signal(s, signal.SIG_IGN) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
