"""Results as pandas DataFrames: `to_frame(result, what)`.

Money columns are in the market's quote currency (the unit of ``market.spot``); losses are
positive when money is lost. Where the unit is not that currency, the column name says so:
``vega_per_vol_point_BTC`` is the change in value for +0.01 of BTC's vol (results.json holds
the derivative per 1.00 of vol, 100 times larger), ``spot_shock_pct_BTC`` is a percentage,
``horizon_years`` is in years.

A value that a result does not have (the ES interval of a level with too few tail
scenarios) is ``<NA>`` in a nullable ``Float64`` column, never a NaN standing in for a number.
"""

from __future__ import annotations

from typing import Any

from mcrisk import errors as E

WHATS = ("positions", "var", "contributions", "stress", "margin", "profile")
# One vol point / one rate point is 0.01 in the units that results.json differentiates by.
POINT = 0.01
# What a result needs for each table, and the tasks that produce it (for the error message).
NEEDS = {
    "positions": ("positions", "a task=price result (its 'positions' list)"),
    "var": ("var", "a task=risk result, or a task=convergence / task=model_risk result "
                   "run with risk on"),
    "contributions": ("contributions", "a task=risk result"),
    "stress": ("stress", "a task=risk or task=stress result with risk.stress scenarios"),
    "margin": ("margin", "a task=risk or task=stress result with risk.margin enabled"),
    "profile": ("profile", "a task=risk result with risk.dates"),
}


def to_frame(result: dict, what: str = "positions"):
    """One section of a result (the dict `mcrisk.price`/`risk`/`stress` return, or a loaded
    results.json) as a tidy pandas DataFrame.

    Args:
        result: a result dict.
        what: which table.

            * ``positions`` (task=price): one row per position: ``name``, ``type``,
              ``venue``, ``quantity``, ``value``, ``stderr``, ``ci95_lo``, ``ci95_hi``,
              ``unit_price``, ``unit_stderr`` and, with Greeks, per asset ``delta_<A>``
              (value per 1 unit of A's spot), ``gamma_<A>`` (per unit of spot squared),
              ``vega_per_vol_point_<A>`` and ``rho_per_rate_point``, each with a ``_stderr``
              column. A position's Greeks with respect to an asset it does not reference
              are 0 (its value does not depend on that spot).
            * ``var`` (task=risk; also convergence rows and model_risk models, with an
              ``n_paths`` or ``model`` column first): one row per level: ``level``, ``var``,
              ``var_ci_lo``, ``var_ci_hi``, ``es``, ``es_ci_lo``, ``es_ci_hi``, and when the
              result has them ``var_nested_bias_removed``, ``es_nested_bias_removed``,
              ``var_delta_gamma``, ``var_delta_gamma_error``, ``es_delta_gamma``,
              ``es_delta_gamma_error``.
            * ``contributions`` (task=risk): one row per level and position:
              ``component_es``, ``component_var``, ``incremental_es``.
            * ``stress``: one row per scenario: ``name``, ``horizon_years``, ``loss``,
              ``loss_stderr``, ``spot_shock_pct_<A>``, ``vol_shock_vol_points_<A>``,
              ``loss_<position>``, ``loss_<position>_stderr``.
            * ``margin``: one row per grid point: ``asset`` (null in joint mode),
              ``spot_move_fraction`` (-0.16 is -16%), ``vol_shift`` (absolute, 0.10 is 10
              vol points), ``weight``, ``loss``, ``loss_stderr``, ``weighted_loss``,
              ``is_worst``; ``attrs`` holds ``requirement``, ``requirement_stderr``,
              ``per_venue``, ``per_venue_stderr`` and ``cross_venue_saving``.
            * ``profile``: one row per date: ``date_years``, ``expected_exposure``,
              ``expected_negative_exposure``, ``mean_value``, ``pfe`` (``attrs['pfe_level']``
              gives its quantile) and, with a collateral, ``liquidation_probability``.

    Returns:
        A ``pandas.DataFrame``.

    Raises:
        ConfigError: `what` is not one of the tables, or `result` lacks that section.
    """
    E.mapping("result", result)
    E.choice("what", what, WHATS)
    key, producers = NEEDS[what]
    holder = _holder(result, key)
    if holder is None:
        raise E.ConfigError(f"result.{key}", result.get(key),
                            f"{producers}; this result (task={result.get('task')!r}) has no "
                            f"{key!r} section")
    return globals()[f"_{what}"](result)


def _holder(result: dict, key: str) -> Any:
    if result.get(key):
        return result[key]
    if key == "var":  # studies keep VaR per row / per model
        rows = result.get("rows") or list((result.get("models") or {}).values())
        return rows if rows and all(r.get("var") for r in rows) else None
    return None


def _pd():
    import pandas as pd

    return pd


def _positions(result: dict):
    pd = _pd()
    assets = list(result.get("assets") or dict.fromkeys(
        a for p in result["positions"] for a in p.get("assets", [])))
    rows = []
    for p in result["positions"]:
        lo, hi = p["ci95"]
        row = {"name": p["name"], "type": p["type"], "venue": p.get("venue"),
               "quantity": p["quantity"], "value": p["value"], "stderr": p["stderr"],
               "ci95_lo": lo, "ci95_hi": hi, "unit_price": p["unit_price"],
               "unit_stderr": p["unit_stderr"]}
        g = p.get("greeks")
        if g:
            for a in assets:
                for key, col, scale in (("delta", f"delta_{a}", 1.0),
                                        ("gamma", f"gamma_{a}", 1.0),
                                        ("vega", f"vega_per_vol_point_{a}", POINT)):
                    row[col] = scale * g[key].get(a, 0.0)
                    row[col + "_stderr"] = scale * g[key + "_stderr"].get(a, 0.0)
            row["rho_per_rate_point"] = POINT * g["rho"]
            row["rho_per_rate_point_stderr"] = POINT * g["rho_stderr"]
        rows.append(row)
    return pd.DataFrame(rows)


def _var_rows(src: dict) -> list[dict]:
    nested = src.get("nested_error") or {}
    dg = src.get("delta_gamma") or {}
    rows = []
    for level in src["var"]:
        vlo, vhi = src["var_ci"][level]
        elo, ehi = src["es_ci"].get(level) or (None, None)
        row = {"level": float(level), "var": src["var"][level], "var_ci_lo": vlo,
               "var_ci_hi": vhi, "es": src["es"][level], "es_ci_lo": elo, "es_ci_hi": ehi}
        if nested:
            row["var_nested_bias_removed"] = nested["var_bias_removed"][level]
            row["es_nested_bias_removed"] = nested["es_bias_removed"][level]
        if dg:
            row.update(var_delta_gamma=dg["var"][level],
                       var_delta_gamma_error=dg["var_error"][level],
                       es_delta_gamma=dg["es"][level], es_delta_gamma_error=dg["es_error"][level])
        rows.append(row)
    return rows


def _var(result: dict):
    pd = _pd()
    if result.get("var"):
        rows = _var_rows(result)
    elif result.get("rows"):
        rows = [{"n_paths": r["n_paths"], **v} for r in result["rows"] for v in _var_rows(r)]
    else:
        rows = [{"model": m, **v} for m, r in result["models"].items() for v in _var_rows(r)]
    # Nullable floats: a level whose ES interval is not estimable reads <NA>, not NaN.
    return pd.DataFrame(rows).astype({"es_ci_lo": "Float64", "es_ci_hi": "Float64"})


def _contributions(result: dict):
    pd = _pd()
    rows = [{"level": float(level), "position": name, "component_es": c["component_es"][name],
             "component_var": c["component_var"][name],
             "incremental_es": c["incremental_es"][name]}
            for level, c in result["contributions"].items() for name in c["component_es"]]
    return pd.DataFrame(rows)


def _stress(result: dict):
    pd = _pd()
    rows = []
    for s in result["stress"]:
        row = {"name": s["name"], "horizon_years": s["horizon"], "loss": s["loss"],
               "loss_stderr": s.get("loss_stderr", 0.0)}
        row.update({f"spot_shock_pct_{a}": v for a, v in s["spot_shock_pct"].items()})
        row.update({f"vol_shock_vol_points_{a}": v for a, v in s["vol_shock_pts"].items()})
        for name, v in s["by_position"].items():
            row[f"loss_{name}"] = v
            row[f"loss_{name}_stderr"] = (s.get("by_position_stderr") or {}).get(name, 0.0)
        rows.append(row)
    return pd.DataFrame(rows)


def _margin(result: dict):
    pd = _pd()
    m = result["margin"]
    w = m["worst_point"]
    rows = [{"asset": p["asset"], "spot_move_fraction": p["spot"], "vol_shift": p["vol"],
             "weight": p["weight"], "loss": p["loss"], "loss_stderr": p.get("loss_stderr", 0.0),
             "weighted_loss": p["weight"] * p["loss"],
             "is_worst": all(p.get(k) == w.get(k) for k in ("asset", "spot", "vol", "weight"))}
            for p in m["points"]]
    frame = pd.DataFrame(rows)
    frame.attrs.update({k: m.get(k) for k in ("requirement", "requirement_stderr", "per_venue",
                                              "per_venue_stderr", "cross_venue_saving")})
    return frame


def _profile(result: dict):
    pd = _pd()
    p = result["profile"]
    frame = pd.DataFrame({"date_years": p["dates"], "expected_exposure": p["expected_exposure"],
                          "expected_negative_exposure": p["expected_negative_exposure"],
                          "mean_value": p["mean_value"], "pfe": p["pfe"]})
    if p.get("liquidation"):
        frame["liquidation_probability"] = p["liquidation"]["probability_by_date"]
    frame.attrs["pfe_level"] = p["pfe_level"]
    return frame
