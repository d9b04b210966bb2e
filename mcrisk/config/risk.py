"""Validation of the `risk:` section."""

from __future__ import annotations

from typing import Any

import numpy as np

from mcrisk import errors as E
from mcrisk.errors import ConfigError
from mcrisk.problem import MIN_VOL, Market, MarginGrid, Risk, ScenarioSource, StressScenario

KEYS = ("horizon", "levels", "method", "inner_paths", "revaluation", "stress_paths",
        "vol_dynamics", "vol_shock", "dates",
        "pfe_level", "collateral", "maintenance_margin", "stress", "margin", "ci_level",
        "histogram_bins", "attribution", "name", "scenarios")
SCENARIO_KEYS = ("source", "prices", "window", "horizon_days", "overlapping", "age_weighting",
                 "filter", "ewma_lambda", "garch_mean", "n_scenarios")
SOURCES = ("model", "historical", "filtered_historical")


def build_risk(raw: Any, market: Market, base_vols: np.ndarray | None = None, *,
               surface: bool = False) -> Risk:
    """Validate `risk:`; `base_vols` are today's vols as the model sees them (sqrt(v0)
    under heston/bates; market.vol by default), which vol shocks must leave >= MIN_VOL.
    `surface`: `market.surface` is set (the surface moves of stress and margin need it)."""
    base_vols = market.vols if base_vols is None else base_vols
    raw = E.mapping("risk", raw if raw is not None else {})
    E.only_keys("risk", raw, KEYS)
    d = Risk()
    horizon = E.number("risk.horizon", raw.get("horizon", d.horizon), lo=0.0, lo_open=True,
                       hi=30.0, what="a horizon in years > 0 (1/365 is one day)")
    levels = tuple(E.number(f"risk.levels[{i}]", x, lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                            what="a confidence level strictly between 0 and 1")
                   for i, x in enumerate(E.sequence("risk.levels", raw.get("levels", d.levels),
                                                    min_length=1, what="a list of levels")))
    method = E.choice("risk.method", raw.get("method", d.method), ("full", "delta_gamma"))
    inner = E.integer("risk.inner_paths", raw.get("inner_paths", d.inner_paths), lo=4,
                      multiple_of=4, why="two halves of antithetic pairs")
    revaluation = E.choice("risk.revaluation", raw.get("revaluation", d.revaluation),
                           ("auto", "nested"))
    stress_paths = None
    if raw.get("stress_paths") is not None:
        stress_paths = E.integer("risk.stress_paths", raw["stress_paths"], lo=4, multiple_of=2,
                                 why="antithetic pairs")
    vol_dyn = E.choice("risk.vol_dynamics", raw.get("vol_dynamics", d.vol_dynamics),
                       ("sticky_strike", "shock"))
    shock = None
    if raw.get("vol_shock") is not None:
        shock = _per_asset_map("risk.vol_shock", raw["vol_shock"], market)
    if vol_dyn == "shock" and shock is None:
        raise ConfigError("risk.vol_shock", None,
                          "per-asset vol shifts (vol points as fractions) when "
                          "risk.vol_dynamics is 'shock'")
    if shock is not None and np.any(base_vols + shock < MIN_VOL):
        i = int(np.argmax(base_vols + shock < MIN_VOL))
        raise ConfigError(f"risk.vol_shock.{market.assets[i]}", float(shock[i]),
                          f"a shift leaving the vol >= {MIN_VOL:g} (vol is {base_vols[i]:g})")
    dates = tuple(E.number(f"risk.dates[{i}]", x, lo=0.0, lo_open=True)
                  for i, x in enumerate(E.sequence("risk.dates", raw.get("dates") or [],
                                                   what="a list of dates in years")))
    for i in range(1, len(dates)):
        if dates[i] <= dates[i - 1]:
            raise ConfigError(f"risk.dates[{i}]", dates[i],
                              f"a date after risk.dates[{i - 1}] = {dates[i - 1]:g} "
                              "(dates must be strictly increasing)")
    pfe = E.number("risk.pfe_level", raw.get("pfe_level", d.pfe_level), lo=0.0, hi=1.0,
                   lo_open=True, hi_open=True)
    collateral = (None if raw.get("collateral") is None
                  else E.number("risk.collateral", raw["collateral"]))
    mm = (None if raw.get("maintenance_margin") is None
          else E.number("risk.maintenance_margin", raw["maintenance_margin"], lo=0.0))
    if (collateral is None) != (mm is None):
        missing = "risk.collateral" if collateral is None else "risk.maintenance_margin"
        raise ConfigError(missing, None, "a value: liquidation needs both risk.collateral and "
                                         "risk.maintenance_margin")
    if mm is not None and not dates:
        raise ConfigError("risk.dates", [], "a list of dates to monitor liquidation on")
    stress = tuple(_stress(f"risk.stress[{i}]", s, market, base_vols, surface)
                   for i, s in enumerate(
        E.sequence("risk.stress", raw.get("stress") or [], what="a list of stress scenarios")))
    names = [s.name for s in stress]
    if len(set(names)) != len(names):
        raise ConfigError("risk.stress", names, "distinct scenario names")
    margin = _margin(raw.get("margin", {}))
    if margin is not None and margin.vol_expiry_power > 0 and not surface:
        raise ConfigError("risk.margin.vol_expiry_power", margin.vol_expiry_power,
                          "0 without market.surface (the expiry scaling moves each "
                          "surface-marked contract's vol)")
    ci = E.number("risk.ci_level", raw.get("ci_level", d.ci_level), lo=0.5, hi=1.0,
                  hi_open=True)
    bins = E.integer("risk.histogram_bins", raw.get("histogram_bins", d.histogram_bins), lo=5)
    attribution = E.boolean("risk.attribution", raw.get("attribution", d.attribution))
    scenarios = _scenarios(raw.get("scenarios"), market, horizon)
    if scenarios.source != "model":
        for key, bad in (("method", method != "full"), ("dates", bool(dates)),
                         ("vol_dynamics", vol_dyn != "sticky_strike")):
            if bad:
                raise ConfigError(f"risk.{key}", raw.get(key), f"the default with "
                                  f"risk.scenarios.source: {scenarios.source} (history gives "
                                  "spot moves to the horizon only; implied vols are held)")
    return Risk(horizon=horizon, levels=levels, method=method, inner_paths=inner,
                revaluation=revaluation, stress_paths=stress_paths,
                vol_dynamics=vol_dyn, vol_shock=shock, dates=dates, pfe_level=pfe,
                collateral=collateral, maintenance_margin=mm, stress=stress, margin=margin,
                ci_level=ci, histogram_bins=bins, attribution=attribution, scenarios=scenarios)


def _scenarios(raw: Any, market: Market, horizon: float) -> ScenarioSource:
    """risk.scenarios: the price history is read and checked here, before anything runs."""
    at = "risk.scenarios"
    raw = E.mapping(at, raw if raw is not None else {})
    E.only_keys(at, raw, SCENARIO_KEYS)
    d = ScenarioSource()
    source = E.choice(f"{at}.source", raw.get("source", d.source), SOURCES)
    if source == "model":
        return d
    from mcrisk.history.filters import GARCH_MEANS, MIN_RETURNS
    from mcrisk.history.returns import check_lambda
    from mcrisk.marketdata import read_prices

    path = E.string(f"{at}.prices", E.required(at, raw, "prices"))
    _, _, prices = read_prices(path, assets=list(market.assets), field=at)
    days = (max(1, round(horizon * 365.0)) if raw.get("horizon_days") is None
            else E.integer(f"{at}.horizon_days", raw["horizon_days"], lo=1))
    filt = E.choice(f"{at}.filter", raw.get("filter", d.filter), ("ewma", "garch"))
    need = days if source == "historical" else MIN_RETURNS[filt]
    window = (prices.shape[0] - 1 if raw.get("window") is None
              else E.integer(f"{at}.window", raw["window"], lo=1))
    if not need <= window <= prices.shape[0] - 1:
        raise ConfigError(f"{at}.window", window, f"between {need} (" + (
            f"{days}-day returns" if source == "historical" else f"the {filt} filter's fit")
            + f") and the {prices.shape[0] - 1} one-day returns of {path}")
    age = raw.get("age_weighting")
    if age is not None:
        if source != "historical":
            raise ConfigError(f"{at}.age_weighting", age, "null with filtered_historical "
                              "(bootstrapped residuals are equally likely)")
        age = check_lambda(f"{at}.age_weighting", age)
    if source == "filtered_historical" and filt == "garch":
        try:
            import arch  # noqa: F401
        except ImportError:
            raise ConfigError(f"{at}.filter", "garch", "'ewma', or install the optional GARCH "
                              'estimator: pip install "mcrisk[history]"') from None
    return ScenarioSource(
        source=source, path=path, prices=prices, window=window, horizon_days=days,
        overlapping=E.boolean(f"{at}.overlapping", raw.get("overlapping", d.overlapping)),
        age_weighting=age, filter=filt,
        ewma_lambda=check_lambda(f"{at}.ewma_lambda", raw.get("ewma_lambda", d.ewma_lambda)),
        garch_mean=E.choice(f"{at}.garch_mean", raw.get("garch_mean", d.garch_mean),
                            GARCH_MEANS),
        n_scenarios=E.integer(f"{at}.n_scenarios", raw.get("n_scenarios", d.n_scenarios),
                              lo=1))


def _per_asset_map(path: str, raw: Any, market: Market, scale: float = 1.0) -> np.ndarray:
    """{asset: value} (others 0; the key '*' sets every asset not named) or a list with one
    value per asset."""
    out = np.zeros(market.n_assets)
    if isinstance(raw, dict):
        if "*" in raw:  # a market-wide shock: a preset that fits any market
            out[:] = E.number(f"{path}.*", raw["*"]) * scale
        for name, v in raw.items():
            if name == "*":
                continue
            if name not in market.assets:
                raise ConfigError(f"{path}.{name}", v,
                                  "a shock keyed by a market asset (" + ", ".join(market.assets)
                                  + f") or '*' for every asset not named; '{name}' is not one")
            out[market.index(name)] = E.number(f"{path}.{name}", v) * scale
        return out
    return E.per_asset(path, raw, market.n_assets) * scale


def _stress(path: str, raw: Any, market: Market, base_vols: np.ndarray,
            surface: bool = False) -> StressScenario:
    raw = E.mapping(path, raw)
    E.only_keys(path, raw, ("name", "spot", "vol", "horizon", "skew", "term"))
    moves = {}
    for key in ("skew", "term"):
        if raw.get(key) is None:
            continue
        if not surface:
            raise ConfigError(f"{path}.{key}", raw[key], "no surface move without "
                              "market.surface (it shifts each surface-marked contract's vol)")
        # Vol points, as `vol`: skew per unit of log-moneyness, term at 30 days.
        moves[key] = _per_asset_map(f"{path}.{key}", raw[key], market, 0.01)
    name = E.string(f"{path}.name", E.required(path, raw, "name"))
    # Users write spot shocks in percent and vol shocks in vol points, as risk desks quote.
    spot = _per_asset_map(f"{path}.spot", raw.get("spot") or {}, market, 0.01)
    vol = _per_asset_map(f"{path}.vol", raw.get("vol") or {}, market, 0.01)
    if np.any(spot <= -1.0):
        i = int(np.argmax(spot <= -1.0))
        raise ConfigError(f"{path}.spot.{market.assets[i]}", spot[i] * 100,
                          "a move above -100 (percent)")
    if np.any(base_vols + vol < MIN_VOL):
        i = int(np.argmax(base_vols + vol < MIN_VOL))
        raise ConfigError(f"{path}.vol.{market.assets[i]}", float(vol[i] * 100),
                          f"a shift leaving the vol >= {MIN_VOL * 100:g} points (vol is "
                          f"{base_vols[i] * 100:g} points)")
    horizon = E.number(f"{path}.horizon", raw.get("horizon", 0.0), lo=0.0)
    return StressScenario(name=name, spot=spot, vol=vol, horizon=horizon, **moves)


def _margin(raw: Any) -> MarginGrid | None:
    if raw is None or raw is False:
        return None
    raw = E.mapping("risk.margin", raw)
    E.only_keys("risk.margin", raw, ("spot_range", "spot_steps", "vol_shift",
                                     "extreme_multiple", "extreme_weight", "mode", "enabled",
                                     "vol_expiry_power"))
    if raw.get("enabled") is False:
        return None
    d = MarginGrid()
    steps = E.integer("risk.margin.spot_steps", raw.get("spot_steps", d.spot_steps), lo=3)
    if steps % 2 == 0:
        raise ConfigError("risk.margin.spot_steps", steps, "an odd number (the grid includes 0)")
    return MarginGrid(
        spot_range=E.number("risk.margin.spot_range", raw.get("spot_range", d.spot_range),
                            lo=0.0, hi=0.99, lo_open=True),
        spot_steps=steps,
        vol_shift=E.number("risk.margin.vol_shift", raw.get("vol_shift", d.vol_shift), lo=0.0),
        extreme_multiple=E.number("risk.margin.extreme_multiple",
                                  raw.get("extreme_multiple", d.extreme_multiple), lo=0.0),
        extreme_weight=E.number("risk.margin.extreme_weight",
                                raw.get("extreme_weight", d.extreme_weight), lo=0.0, hi=1.0),
        mode=E.choice("risk.margin.mode", raw.get("mode", d.mode), ("joint", "per_asset")),
        vol_expiry_power=E.number("risk.margin.vol_expiry_power",
                                  raw.get("vol_expiry_power", d.vol_expiry_power), lo=0.0,
                                  hi=2.0))
