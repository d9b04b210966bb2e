"""Time grid: uniform steps with every event date of the book placed exactly on a node."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Uniform nodes closer than this fraction of a step to an event are dropped, so no step is
# a sliver that would only add rounding noise (the event node itself is always kept).
MERGE_FRACTION = 1e-3


@dataclass(frozen=True)
class TimeGrid:
    """Simulation dates.

    Attributes:
        times: (steps + 1,) float64 dates in years, times[0] = 0, strictly increasing.
        events: (events,) distinct event dates (expiries, fixings), sorted.
        event_index: (events,) index into `times` of each event date.
    """

    times: np.ndarray
    events: np.ndarray
    event_index: np.ndarray

    @property
    def n_steps(self) -> int:
        return len(self.times) - 1

    @property
    def dt(self) -> np.ndarray:
        return np.diff(self.times)

    def index_of(self, t: float) -> int:
        """Index into `times` of an event date (exact up to float rounding of the input)."""
        k = int(np.argmin(np.abs(self.events - t)))
        if abs(self.events[k] - t) > 1e-12 * max(1.0, t):
            raise KeyError(f"date {t} is not an event of this grid")
        return int(self.event_index[k])


def grid_from_times(times: np.ndarray, events: list[float] | np.ndarray) -> TimeGrid:
    """A grid on given nodes (which must contain every event date)."""
    times = np.asarray(times, np.float64)
    events = _dedupe(np.unique(np.asarray(events, np.float64)))
    index = np.array([int(np.argmin(np.abs(times - e))) for e in events])
    if not np.allclose(times[index], events, rtol=1e-12, atol=1e-15):
        raise ValueError("grid nodes do not contain every event date")
    return TimeGrid(times=times, events=events, event_index=index)


def make_grid(event_dates: list[float] | np.ndarray, n_steps: int,
              horizon: float | None = None, *, steps_per_year: int = 0, min_steps: int = 0,
              path_expiries: list | tuple = ()) -> TimeGrid:
    """Build the grid.

    The step length at time t is the smallest of
      * T / n_steps, T the last event date (or `horizon` if later): `sim.n_steps` is this total;
      * 1 / steps_per_year, if steps_per_year > 0;
      * T_i / (min_steps * f_i) for every path-dependent expiry T_i >= t, if min_steps > 0, so
        each path-dependent position gets at least `min_steps` times its factor f_i steps over
        [0, T_i] however long the rest of the book is.
    The grid is uniform between consecutive path-dependent expiries; with neither density set it is
    exactly the n_steps uniform grid.

    Args:
        event_dates: dates in years the payoffs observe (each > 0).
        n_steps: number of uniform steps over [0, T].
        horizon: optional extra end date (risk horizon).
        steps_per_year: minimum density in steps per year (0: none).
        min_steps: minimum number of steps over [0, T_i] of each path-dependent expiry (0: none).
        path_expiries: expiries T_i of the path-dependent positions, each a float (f_i = 1) or
            a pair (T_i, f_i) (`mcrisk.config.positions.path_expiries`).

    Returns:
        A TimeGrid whose nodes are the uniform nodes plus every event date, exactly.
    """
    events = np.unique(np.asarray(list(event_dates) + ([horizon] if horizon else []),
                                  dtype=np.float64))
    events = _dedupe(events)
    t_end = float(events[-1])
    base = t_end / n_steps
    if steps_per_year > 0:
        base = min(base, 1.0 / steps_per_year)
    # Finest step each path-dependent expiry asks for over [0, T_i].
    need: dict[float, float] = {}
    for entry in path_expiries if min_steps > 0 else ():
        t, factor = (entry, 1) if np.ndim(entry) == 0 else entry
        if t > 0:
            t = min(float(t), t_end)
            need[t] = min(need.get(t, math.inf), t / (min_steps * factor))
    cuts = sorted(need)
    bounds = [0.0] + cuts + ([t_end] if not cuts or cuts[-1] < t_end else [])
    keep = []
    for i, (t0, t1) in enumerate(zip(bounds[:-1], bounds[1:])):
        # Every later path-dependent expiry still needs its density on this segment.
        dt = min([base] + [need[t] for t in cuts[i:]])
        # A zero-length book (one date at 0) keeps its single node, as the n_steps grid did.
        n = max(1, math.ceil((t1 - t0) / dt * (1.0 - 1e-12))) if dt > 0 else 1
        tol = MERGE_FRACTION * (t1 - t0) / n
        keep += [u for u in np.linspace(t0, t1, n + 1)[1:-1] if np.min(np.abs(events - u)) > tol]
    times = np.unique(np.concatenate([[0.0], bounds[1:-1], keep, events]))
    index = np.searchsorted(times, events)
    assert np.allclose(times[index], events)
    return TimeGrid(times=times, events=events, event_index=index)


def _dedupe(sorted_dates: np.ndarray) -> np.ndarray:
    """Merge dates that differ only by float rounding (0.1 * 3 vs 0.3)."""
    out = [sorted_dates[0]]
    for t in sorted_dates[1:]:
        if t - out[-1] > 1e-12 * max(1.0, t):
            out.append(t)
    return np.asarray(out)
