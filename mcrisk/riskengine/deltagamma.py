"""Delta-gamma-vega losses of the scenarios from the pricing Greeks (`risk.method:
delta_gamma`), compared with full revaluation on the same scenarios."""

from __future__ import annotations

import numpy as np


def delta_gamma_losses(problem, greeks: np.ndarray, x_h, v_h, rk) -> np.ndarray:
    """Losses per position from the delta, gamma and vega of each (`greeks`: rows as
    `pricing.Priced`, columns the positions, scaled by their quantities)."""
    m = problem.market
    n = m.n_assets
    ds = np.exp(x_h) - m.spots  # (chunk, assets)
    if problem.model.has_variance:
        dvol = np.sqrt(np.maximum(v_h, 0)) - np.sqrt(problem.model.params["v0"])
    elif rk.vol_dynamics == "shock":
        dvol = np.broadcast_to(rk.vol_shock, ds.shape)
    else:
        dvol = np.zeros_like(ds)
    delta, gamma, vega = greeks[:n], greeks[n:2 * n], greeks[2 * n:3 * n]  # (assets, positions)
    return -(ds @ delta + 0.5 * (ds ** 2) @ gamma + dvol @ vega)
