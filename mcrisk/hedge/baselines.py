"""The plain hedges the optimised one is compared with: delta, and delta-vega, from today's
Greeks (`mcrisk.hedge.scenarios.Today`)."""

from __future__ import annotations

import numpy as np

from mcrisk.config.hedge import LINEAR
from mcrisk.errors import NonFiniteError


def delta_hedges(delta, vega, unit_delta, unit_vega, kinds, assets) -> tuple[
        np.ndarray, np.ndarray, list[str]]:
    """The delta hedge and the delta-vega hedge from today's Greeks.

    Per asset, the delta hedge holds the first linear instrument on it (spot, perpetual or
    forward) so that the book's delta vanishes; the delta-vega hedge first holds the first
    single-asset option on it so that the book's vega on that asset vanishes, then the linear
    instrument cancels the remaining delta.

    Args:
      delta, vega: ``(assets,)`` the book's Greeks.
      unit_delta, unit_vega: ``(assets, m)`` per unit of each instrument.
      kinds: each instrument's type; assets: each one's single asset (None: several).

    Returns:
      ``(m,)`` delta hedge, ``(m,)`` delta-vega hedge, and notes on what was left unhedged.
    """
    m = len(kinds)
    q_d, q_dv, notes = np.zeros(m), np.zeros(m), []
    for k in range(delta.size):
        lin = [j for j in range(m) if kinds[j] in LINEAR and assets[j] == k
               and unit_delta[k, j] != 0]
        opt = [j for j in range(m) if kinds[j] not in LINEAR and assets[j] == k
               and unit_vega[k, j] != 0]
        if not lin:
            if delta[k] != 0:
                notes.append(f"asset {k}: no linear instrument; its delta is left unhedged")
            continue
        j = lin[0]
        q_d[j] = -delta[k] / unit_delta[k, j]
        rest = delta[k]
        if opt:
            o = opt[0]
            q_dv[o] = -vega[k] / unit_vega[k, o]
            rest = rest + q_dv[o] * unit_delta[k, o]
        elif vega[k] != 0:
            notes.append(f"asset {k}: no option on it; the delta-vega hedge leaves its vega")
        q_dv[j] = -rest / unit_delta[k, j]
    if not (np.all(np.isfinite(q_d)) and np.all(np.isfinite(q_dv))):
        raise NonFiniteError("hedge.baselines", [q_d.tolist(), q_dv.tolist()],
                             "the delta hedges from the Greeks")
    return q_d, q_dv, notes
