"""Progress of a run, phase by phase (compiling, pricing, Greeks, scenarios, stress, margin).

The engine reports each phase's chunks to a `Tracker`: `start(label, total, unit)` then
`update(done, items)`. `Progress` draws one line per phase on stderr with a steady-state
throughput and ETA; `Callback` adapts a plain function; `resolve` turns what a caller passed
(`True`, a function, a tracker, or the config's `progress` key) into one of them. The
Python API shows nothing unless asked.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from mcrisk import errors as E


class Eta:
    """Throughput and time left in one phase, from the chunks after the first.

    The first chunk of a phase includes tracing and XLA compilation (seconds to minutes,
    against milliseconds per chunk after it), so it is the baseline, not a sample: an ETA
    extrapolated from it overestimates by orders of magnitude.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.base: tuple[int, int, float] | None = None  # (chunks, items, time) after chunk 1
        self.last: tuple[int, int, float] | None = None

    def update(self, done: int, items: int, now: float) -> None:
        if self.base is None:
            self.base = (done, items, now)
        self.last = (done, items, now)

    def _steady(self) -> tuple[int, int, float] | None:
        if self.base is None or self.last is None or self.last[0] <= self.base[0]:
            return None
        dt = self.last[2] - self.base[2]
        return (self.last[0] - self.base[0], self.last[1] - self.base[1], dt) if dt > 0 else None

    @property
    def seconds_left(self) -> float | None:
        """Seconds until the last chunk; None until two chunks are done."""
        s = self._steady()
        return None if s is None else (self.total - self.last[0]) * s[2] / s[0]

    @property
    def rate(self) -> float | None:
        """Items (paths, scenarios) per second after the first chunk; None until known."""
        s = self._steady()
        return None if s is None else s[1] / s[2]


class Tracker:
    """Where a run is: the phase, its chunks and items done. Draws nothing itself."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.context = ""
        self.label: str | None = None
        self.unit = "paths"
        self.total = self.done = self.items = 0
        self.finished: list[str] = []

    def start(self, label: str, total: int, unit: str = "paths") -> None:
        """Begin a phase of `total` chunks, counted in `unit` (paths, scenarios, points)."""
        self.label, self.total, self.unit = label, max(int(total), 1), unit
        self.done = self.items = 0
        self.t0 = self.clock()
        self.eta = Eta(self.total)

    def update(self, done: int, items: int | None = None) -> None:
        """`done` chunks of the phase finished, covering `items` paths (default: chunks)."""
        self.done, self.items = done, done if items is None else items
        self.eta.update(done, self.items, self.clock())
        if done >= self.total:
            self.finished.append(self.where())

    def where(self) -> str:
        return f"{self.context}{self.label}" if self.label else "start-up"

    def state(self) -> dict:
        """The phase reached and how far into it (for a partial results.json)."""
        return {"phase": self.where(), "chunks_done": self.done, "n_chunks": self.total,
                f"{self.unit}_done": self.items, "phases_done": list(self.finished)}


class Progress(Tracker):
    """One status line per phase on a stream (stderr by default).

    On a terminal the line is redrawn in place (at most every `interval` seconds); in a
    log a phase gets a line when it starts, when it ends and every `log_interval` seconds
    between.
    """

    def __init__(self, stream: TextIO | None = None, *, show: bool = True,
                 clock: Callable[[], float] = time.perf_counter, interval: float = 0.1,
                 log_interval: float = 30.0) -> None:
        super().__init__(clock)
        self.stream = stream if stream is not None else sys.stderr
        self.show = show
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = interval if self.tty else log_interval
        self.drawn = 0.0
        self.open = False  # a terminal line is drawn without its newline

    def start(self, label: str, total: int, unit: str = "paths") -> None:
        super().start(label, total, unit)
        self.t_first: float | None = None
        self._emit(f"{self.where()}: compiling and running the first of {self.total} "
                   f"chunk{'s' if self.total > 1 else ''}...", final=not self.tty)

    def update(self, done: int, items: int | None = None) -> None:
        super().update(done, items)
        now = self.clock()
        if self.t_first is None:
            self.t_first = now - self.t0
        if done >= self.total:
            self._emit(self._summary(now), final=True)
        elif now - self.drawn >= self.every:
            self._emit(self._running(now), final=False)

    def close(self) -> None:
        """End a line left open on a terminal (before an error or interrupt message)."""
        if self.open and self.show:
            self.stream.write("\n")
            self.stream.flush()
        self.open = False

    def _running(self, now: float) -> str:
        left, rate = self.eta.seconds_left, self.eta.rate
        return (f"{self.where()} {self.done}/{self.total} chunks"
                + (f"  {rate:,.0f} {self.unit}/s" if rate else "")
                + f"  {now - self.t0:.1f}s"
                + (f"  eta {left:.1f}s" if left is not None else "  eta (after chunk 2)"))

    def _summary(self, now: float) -> str:
        rate = self.eta.rate
        return (f"{self.where()} {self.done}/{self.total} chunks, {self.items:,} {self.unit} "
                f"in {now - self.t0:.1f}s (first chunk with compiling {self.t_first:.1f}s"
                + (f", then {rate:,.0f} {self.unit}/s)" if rate else ")"))

    def _emit(self, text: str, final: bool) -> None:
        if not self.show:
            return
        self.drawn = self.clock()
        if self.tty:
            self.stream.write(f"\r  {text}\x1b[K" + ("\n" if final else ""))
            self.open = not final
        else:
            self.stream.write(f"  {text}\n")
        self.stream.flush()


class Callback(Tracker):
    """Adapts a function ``f(chunks_done, n_chunks, seconds, items_done)`` (seconds since
    the phase started) to a tracker."""

    def __init__(self, fn: Callable[..., None]) -> None:
        super().__init__()
        self.fn = fn

    def update(self, done: int, items: int | None = None) -> None:
        super().update(done, items)
        self.fn(done, self.total, self.clock() - self.t0, self.items)


def resolve(progress: Any, cfg: Any = None) -> Tracker | None:
    """The tracker for a call: `progress` as passed, else the config's `progress` key.

    True shows progress on stderr; None or False shows nothing (the Python API's default);
    a function is called per chunk; a `Tracker` is used as it is.
    """
    if progress is None and isinstance(cfg, Mapping):
        progress = E.boolean("progress", cfg["progress"]) if cfg.get("progress") is not None \
            else None
    if progress is None or progress is False:
        return None
    if progress is True:
        return Progress()
    if isinstance(progress, Tracker):
        return progress
    if callable(progress):
        return Callback(progress)
    raise E.ConfigError("progress", progress, "True, False, None, a function or a "
                        "mcrisk.progress.Tracker")
