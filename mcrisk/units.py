"""Units of every number mcrisk reports: one convention, stated once.

Greeks are derivatives per 1.00 of their input, as autodiff gives them: vega per 1.00 of vol
(100 vol points), rho per 1.00 of rate (100%). Vol shifts are shown in vol points everywhere
they are printed (CLI and report); in results.json they are fractions except where a key
says `_pts`. Pure Python, so the report can read it without NumPy or JAX.
"""

from __future__ import annotations

GREEKS = {
    "value": "book currency (the currency the spots are quoted in)",
    "delta": "per 1.00 move in the asset's spot",
    "gamma": "per 1.00 move in the asset's spot, squared",
    "cross_gamma": "per 1.00 move in each of the two assets' spots (their product)",
    "vega": "per 1.00 of vol (100 vol points); divide by 100 for one vol point",
    "rho": "per 1.00 of rate (100%); divide by 100 for 1%",
}

RISK = {
    "losses": "book currency; a loss is positive, a gain negative",
    "horizon": "years",
    "stress[].spot_shock_pct": "percent",
    "stress[].vol_shock_pts": "vol points (10 = vol +0.10)",
    "margin.points[].spot": "fraction (0.16 = +16%)",
    "margin.points[].vol": "fraction of 1.00 (0.10 = +10 vol points)",
    "margin.grid.vol_shift": "fraction of 1.00 (0.10 = 10 vol points)",
}

# One line for text summaries.
GREEKS_LINE = ("units: delta per 1.00 of spot, gamma (and cross gamma) per 1.00 of spot "
               "squared, vega per 1.00 of vol (= 100 vol points), rho per 1.00 of rate (= 100%)")
