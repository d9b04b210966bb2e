"""`build(cfg) -> Problem`: the one place where config becomes validated objects.

Accepts a plain dict, an OmegaConf DictConfig or an already-built `Problem`. Every field is
checked here, on concrete values, before anything is traced; failures raise `ConfigError`
naming the field path, the value and what was expected.
"""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist
from typing import Any

import numpy as np

from mcrisk import corr as corrlib
from mcrisk import errors as E
from mcrisk.config import bookfile
from mcrisk.config.positions import build_position, check_unique_names
from mcrisk.config.risk import build_risk
from mcrisk.config.schema import MarketConf, ModelConf
from mcrisk.config.surface import build_surface
from mcrisk.errors import ConfigError
from mcrisk.problem import DTYPES, MODELS, Greeks, Market, Model, Position, Problem, Sim

TOP_KEYS = ("market", "model", "sim", "portfolio", "greeks", "risk", "task", "hardware",
            "experiment", "report", "run_dir", "resume", "convergence", "model_risk", "name",
            "progress", "quotes", "allocation", "hedge",
            "dynamic_hedge", "backtest")
MAX_PATHS = 2 ** 32
# Payoffs bounded above whatever the spot (the far upper tail cannot carry their mean).
BOUNDED_PUTS = ("european", "barrier", "asian", "best_of", "worst_of")
MODEL_PARAMS = {
    "gbm": (),
    "heston": ("v0", "kappa", "theta", "xi", "rho"),
    "merton": ("jump_intensity", "jump_mean", "jump_std"),
    "bates": ("v0", "kappa", "theta", "xi", "rho", "jump_intensity", "jump_mean", "jump_std"),
}


def to_plain(cfg: Any) -> Any:
    """DictConfig -> nested dict/list (resolving interpolations), None fields dropped.

    A plain dict gets the same treatment, so `OmegaConf.to_container(cfg)` (which keeps the
    schema's None fields, e.g. `model.v0` under gbm) builds exactly what `cfg` builds.
    """
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf ships with hydra-core
        return _drop_none(cfg) if isinstance(cfg, dict) else cfg
    if isinstance(cfg, (DictConfig, ListConfig)):
        return _drop_none(OmegaConf.to_container(cfg, resolve=True))
    return _drop_none(cfg) if isinstance(cfg, dict) else cfg


def _drop_none(x: Any) -> Any:
    """Structured configs spell "not set" as None; the builder reads absent keys as defaults."""
    if isinstance(x, dict):
        return {k: _drop_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_none(v) for v in x]
    return x


def build(cfg: Any) -> Problem:
    """Validate a config and return the typed `Problem` it describes."""
    if isinstance(cfg, Problem):
        return cfg
    cfg = E.mapping("config", to_plain(cfg))
    E.only_keys("", cfg, TOP_KEYS)
    if cfg.get("progress") is not None:
        E.boolean("progress", cfg["progress"])
    notes: list[str] = []
    market = build_market(E.required("config", cfg, "market"), notes)
    model = build_model(cfg.get("model") or {}, market, notes)
    surface = build_surface(cfg["market"].get("surface"), market, model, notes)
    sim = build_sim(cfg.get("sim") or {})
    greeks = build_greeks(cfg.get("greeks") or {})
    raw_positions, where = _portfolio(E.required("config", cfg, "portfolio"), notes)
    positions = tuple(build_position(f"{where}[{i}]", p, market, i)
                      for i, p in enumerate(raw_positions))
    check_unique_names(positions, where)
    check_reach(positions, market, model, sim, where)
    risk = build_risk(cfg.get("risk"), market, model.base_vols(market),
                      surface=surface is not None)
    if risk.margin is not None and risk.margin.extreme_multiple * risk.margin.spot_range >= 1.0:
        raise ConfigError("risk.margin.extreme_multiple", risk.margin.extreme_multiple,
                          "extreme_multiple x spot_range < 1 (a move of -100% or more)")
    return Problem(market=market, model=model, sim=sim, positions=positions, greeks=greeks,
                   risk=risk, notes=tuple(notes), surface=surface)


def _portfolio(raw: Any, notes: list[str]) -> tuple[list, str]:
    """The raw positions and the path their errors start with: ``portfolio.positions``, or
    ``<file>: positions`` for a book read from ``portfolio.file``."""
    portfolio = E.mapping("portfolio", raw)
    E.only_keys("portfolio", portfolio, ("positions", "name", "file"))
    if portfolio.get("file") is not None:
        if portfolio.get("positions"):
            raise ConfigError("portfolio.file", portfolio["file"],
                              "either a portfolio file or portfolio.positions, not both "
                              "(on the command line portfolio=<book.yaml> replaces the "
                              "default book)")
        book, where = bookfile.read(portfolio["file"])
        notes.append(bookfile.note(portfolio["file"]))
        return book["positions"], where
    return E.sequence("portfolio.positions", E.required("portfolio", portfolio, "positions"),
                      min_length=1, what="a list of positions"), "portfolio.positions"


def build_market(raw: Any, notes: list[str]) -> Market:
    raw = E.mapping("market", raw)
    if raw.get("name") == "from_csv" and raw.get("path") is None:
        # The preset's `path: ???` is lost when merged over the schema's None, so without
        # this the first complaint would be about market.assets, which the file provides.
        raise ConfigError("market.path", None, "the path of a CSV price file (market=from_csv "
                          "estimates the market from it), e.g. market.path=prices.csv")
    if raw.get("path") is not None:
        raw = _from_file(raw, notes)
    E.only_keys("market", raw, ("assets", "spot", "vol", "dividend", "rate", "corr",
                                "corr_repair", "drift", "name", "path", "annualisation",
                                "estimator", "half_life", "surface"))
    names = E.sequence("market.assets", E.required("market", raw, "assets"), min_length=1,
                       what="a list of asset names")
    for i, a in enumerate(names):
        E.string(f"market.assets[{i}]", a)
    if len(set(names)) != len(names):
        raise ConfigError("market.assets", names, "distinct asset names")
    n = len(names)
    spots = _per_asset_list("market.spot", E.required("market", raw, "spot"), n,
                            lo=0.0, lo_open=True)
    vols = _per_asset_list("market.vol", E.required("market", raw, "vol"), n,
                           lo=0.0, lo_open=True)
    dividends = (E.per_asset("market.dividend", raw["dividend"], n)
                 if raw.get("dividend") is not None else np.zeros(n))
    d = MarketConf()
    rate = E.number("market.rate", raw.get("rate", d.rate))
    drift = (E.per_asset("market.drift", raw["drift"], n)
             if raw.get("drift") is not None else None)
    repair = raw.get("corr_repair", d.corr_repair)
    E.choice("market.corr_repair", repair, ("none", "nearest"))
    if raw.get("corr") is None:
        if n > 1:
            raise ConfigError("market.corr", None,
                              f"a {n}x{n} correlation matrix (required with several assets)")
        corr = np.ones((1, 1))
    else:
        rows = _rows("market.corr", raw["corr"], n, f"a {n}x{n} matrix: a list of {n} rows")
        corr = np.array([[E.number(f"market.corr[{i}][{j}]", v) for j, v in enumerate(
            _rows(f"market.corr[{i}]", row, n, f"a row of {n} numbers"))]
            for i, row in enumerate(rows)])
    corrlib.check("market.corr", corr, allow_non_psd=(repair == "nearest"))
    repaired = False
    if repair == "nearest" and np.linalg.eigvalsh(corr).min() < corrlib.PSD_TOL:
        fixed = corrlib.nearest(corr)
        msg = (f"market.corr is not positive definite (smallest eigenvalue "
               f"{np.linalg.eigvalsh(corr).min():.3g}); using Higham's nearest correlation "
               f"matrix (max entry change {np.abs(fixed - corr).max():.3g})")
        warnings.warn(msg, stacklevel=3)
        notes.append(msg)
        corr, repaired = fixed, True
    return Market(assets=tuple(names), spots=spots, vols=vols, dividends=dividends, rate=rate,
                  corr=corr, drift=drift, corr_repaired=repaired)


def _from_file(raw: Any, notes: list[str]) -> dict:
    """market.path: estimate spot, vol and corr from a price file and say what was estimated."""
    from mcrisk.marketdata import estimate_market

    d = MarketConf()
    path = E.string("market.path", raw["path"])
    est, what = estimate_market(
        path, assets=raw.get("assets"),
        annualisation=E.number("market.annualisation",
                               raw.get("annualisation", d.annualisation), lo=0.0, lo_open=True),
        estimator=raw.get("estimator", d.estimator),
        half_life=E.number("market.half_life", raw.get("half_life", d.half_life), lo=0.0,
                           lo_open=True),
        rate=E.number("market.rate", raw.get("rate", d.rate)))
    notes.extend(what)
    merged = {k: v for k, v in raw.items()
              if k not in ("path", "estimator", "half_life", "annualisation")}
    merged.update({k: v for k, v in est.items() if k != "rate"})
    return merged


def _rows(path: str, x: Any, n: int, what: str) -> list:
    """A list of exactly `n` items; `what` already says how many, so the message does not
    repeat it as "of length n"."""
    items = E.sequence(path, x, what=what)
    if len(items) != n:
        raise ConfigError(path, x, f"{what} (it has {len(items)})")
    return items


def _per_asset_list(path: str, x: Any, n: int, **bounds: Any) -> np.ndarray:
    items = E.sequence(path, x, length=n, what="a list with one number per asset")
    return np.array([E.number(f"{path}[{i}]", v, **bounds) for i, v in enumerate(items)])


def build_model(raw: Any, market: Market, notes: list[str]) -> Model:
    raw = E.mapping("model", raw)
    name = E.choice("model.name", raw.get("name", ModelConf().name), MODELS)
    allowed = MODEL_PARAMS[name]
    E.only_keys("model", raw, ("name",) + allowed)
    n = market.n_assets
    p: dict[str, np.ndarray] = {}
    if name in ("heston", "bates"):
        v0 = raw.get("v0")
        p["v0"] = (market.vols ** 2 if v0 is None
                   else E.per_asset("model.v0", v0, n, lo=0.0, lo_open=True))
        for key in ("kappa", "theta", "xi"):
            p[key] = E.per_asset(f"model.{key}", E.required("model", raw, key), n,
                                 lo=0.0, lo_open=True)
        # |rho| = 1 leaves the variance driver without an independent part: the Fourier
        # integral's decay rate sqrt(1 - rho^2) is 0 and revaluation returns NaN.
        p["rho"] = E.per_asset("model.rho", E.required("model", raw, "rho"), n,
                               lo=-1.0, hi=1.0, lo_open=True, hi_open=True,
                               what="a spot-variance correlation strictly inside (-1, 1)")
        feller = 2 * p["kappa"] * p["theta"] - p["xi"] ** 2
        if np.any(feller < 0):
            msg = ("model: Feller condition 2*kappa*theta >= xi^2 fails for "
                   + ", ".join(a for a, f in zip(market.assets, feller) if f < 0)
                   + "; variance can reach zero (the QE scheme handles this)")
            warnings.warn(msg, stacklevel=3)
            notes.append(msg)
    if name in ("merton", "bates"):
        p["jump_intensity"] = E.per_asset("model.jump_intensity",
                                          E.required("model", raw, "jump_intensity"), n, lo=0.0)
        p["jump_mean"] = E.per_asset("model.jump_mean", E.required("model", raw, "jump_mean"),
                                     n, hi=5.0)
        p["jump_std"] = E.per_asset("model.jump_std", E.required("model", raw, "jump_std"), n,
                                    lo=0.0, hi=5.0)
    return Model(name=name, params=p)


def build_sim(raw: Any) -> Sim:
    raw = E.mapping("sim", raw)
    E.only_keys("sim", raw, ("n_paths", "n_steps", "steps_per_year", "min_steps", "seed",
                             "antithetic", "dtype", "chunk_size", "name"))
    d = Sim()
    n_paths = E.integer("sim.n_paths", raw.get("n_paths", d.n_paths), lo=2)
    n_steps = E.integer("sim.n_steps", raw.get("n_steps", d.n_steps), lo=1)
    steps_per_year = E.integer("sim.steps_per_year", raw.get("steps_per_year", d.steps_per_year),
                               lo=0, what="an integer >= 0 (steps per year; 0 for none)")
    min_steps = (None if raw.get("min_steps") is None else
                 E.integer("sim.min_steps", raw["min_steps"], lo=0,
                           what="an integer >= 0 (steps over each path-dependent expiry; 0 for "
                                "none; null for the model's default)"))
    seed = E.integer("sim.seed", raw.get("seed", d.seed), lo=0)
    antithetic = E.boolean("sim.antithetic", raw.get("antithetic", d.antithetic))
    dtype = E.choice("sim.dtype", raw.get("dtype", d.dtype), DTYPES)
    chunk = E.integer("sim.chunk_size", raw.get("chunk_size", d.chunk_size), lo=2)
    if n_paths > MAX_PATHS:
        raise ConfigError("sim.n_paths", n_paths,
                          f"at most {MAX_PATHS} = 2^32 paths (the sample index is 32-bit); "
                          "split a larger run over several seeds")
    if antithetic and n_paths % 2:
        raise ConfigError("sim.n_paths", n_paths,
                          "an even number of paths when sim.antithetic is true (paths come in pairs)")
    if antithetic and chunk % 2:
        raise ConfigError("sim.chunk_size", chunk,
                          "an even chunk size when sim.antithetic is true (a chunk never splits a pair)")
    return Sim(n_paths=n_paths, n_steps=n_steps, steps_per_year=steps_per_year,
               min_steps=min_steps, seed=seed, antithetic=antithetic, dtype=dtype,
               chunk_size=chunk)


def _log_variance_rates(market: Market, model: Model) -> np.ndarray:
    """(assets,) an upper estimate of each log spot's variance per year under the model."""
    p = model.params
    rate = (np.maximum(p["v0"], p["theta"]) if model.has_variance else market.vols ** 2)
    if model.has_jumps:
        rate = rate + p["jump_intensity"] * (p["jump_mean"] ** 2 + p["jump_std"] ** 2)
    return rate


def check_reach(positions: tuple[Position, ...], market: Market, model: Model,
                sim: Sim, where: str = "portfolio.positions") -> None:
    """Refuse positions whose Monte Carlo value would silently come out as 0 +- 0.

    With log-variance w = vol^2 x expiry, the mean of e^{vol W_T} comes from paths about
    sqrt(w) standard deviations out. Beyond the largest normal n_paths draws reach
    (z_N = Phi^-1(1 - 1/n_paths), at least 3), a payoff growing with the spot has its mean
    in paths the sample never holds: the estimate and its standard error are both ~0 (a
    call with vol 50, or a 1000-year call, priced at 0.00 +- 0.00). Separately, every
    exp() the kernel takes (spot paths out to z_N, discount and carry factors) must stay
    inside the dtype's range, or it under/overflows to 0 or inf.
    """
    z = max(3.0, NormalDist().inv_cdf(1.0 - 1.0 / sim.n_paths))
    rates = _log_variance_rates(market, model)
    limit = {d: min(math.log(np.finfo(d).max), -math.log(np.finfo(d).tiny))
             for d in ("float32", "float64")}
    for i, p in enumerate(positions):
        t = p.terms.get("expiry")
        if t is None:
            continue
        path = f"{where}[{i}].expiry"
        w = rates[list(p.assets)] * t
        a = int(np.argmax(w))
        bounded = p.type == "digital" or (p.terms.get("option") == "put" and (
            p.type in BOUNDED_PUTS
            or (p.type == "basket" and min(p.terms["weights"]) >= 0)))
        if not bounded and math.sqrt(w[a]) > z:
            raise ConfigError(
                path, t,
                f"an expiry with log-variance vol^2 x expiry <= {z * z:.3g} for "
                f"{market.assets[p.assets[a]]} (it is {w[a]:.4g}): beyond that the "
                f"payoff's mean lies in paths rarer than 1 in sim.n_paths = {sim.n_paths}, "
                "so the estimate and its standard error would both read ~0; shorten the "
                "expiry, lower the vol or add paths")
        mags = [abs(math.log(market.spots[b])) + abs(market.rate - market.dividends[b]) * t
                + rates[b] * t / 2 + z * math.sqrt(rates[b] * t) for b in p.assets]
        mags.append(max(abs(market.rate), *np.abs(market.dividends[list(p.assets)])) * t
                    + (abs(math.log(p.terms["strike"])) if p.terms.get("strike", 0) > 0
                       else 0.0))
        mag = max(mags)
        if mag > limit[sim.dtype]:
            fix = ("set sim.dtype: float64" if mag <= limit["float64"]
                   else "inputs whose exponentials fit even float64")
            raise ConfigError(
                path, t,
                f"an expiry whose spot, discount and carry exponentials fit {sim.dtype} "
                f"(they reach exp(+-{mag:.4g}), past exp(+-{limit[sim.dtype]:.4g}), so they "
                f"under/overflow to 0 or inf); {fix}")


def build_greeks(raw: Any) -> Greeks:
    raw = E.mapping("greeks", raw)
    E.only_keys("greeks", raw, ("enabled", "smoothing", "cross_gamma"))
    d = Greeks()
    return Greeks(enabled=E.boolean("greeks.enabled", raw.get("enabled", d.enabled)),
                  smoothing=E.number("greeks.smoothing", raw.get("smoothing", d.smoothing),
                                     lo=0.0, hi=1.0, lo_open=True),
                  cross_gamma=E.boolean("greeks.cross_gamma",
                                        raw.get("cross_gamma", d.cross_gamma)))

