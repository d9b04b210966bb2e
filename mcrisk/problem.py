"""Typed, validated problem description: what the config becomes after `mcrisk.config.build`.

These are plain frozen dataclasses over NumPy arrays (no JAX), so they can be built and
inspected in a notebook without starting a backend. The engine turns them into JAX
pytrees when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mcrisk.config import schema

# Every default comes from the schema Hydra checks configs against, so a plain dict, a
# composed DictConfig and a hand-built Problem cannot drift apart.
_SIM, _GREEKS, _RISK, _MARGIN = (schema.SimConf(), schema.GreeksConf(), schema.RiskConf(),
                                 schema.MarginConf())
_SCEN = schema.ScenariosConf()

MODELS = ("gbm", "heston", "merton", "bates")
# Smallest vol a shocked scenario is revalued at (1 vol point). A vol shift past it would
# leave no consistent treatment: closed forms would price at zero vol, nested paths at |vol|
# and Heston at the square of the negative vol. Config shocks must stay above it; margin-grid
# points below it are floored to it and listed in the results' notes.
MIN_VOL = 0.01
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Market:
    """Spot market today.

    Attributes:
        assets: asset names, in the order of every per-asset array.
        spots: (assets,) spot prices, > 0.
        vols: (assets,) lognormal volatilities, annualised, > 0.
        dividends: (assets,) continuous dividend / carry / staking yields, annualised.
        rate: flat continuously-compounded risk-free rate.
        corr: (assets, assets) correlation of the spot drivers (PSD, unit diagonal).
        drift: (assets,) real-world drifts for risk horizons, or None for risk-neutral.
        corr_repaired: True when `corr` is Higham's nearest correlation to the input.
    """

    assets: tuple[str, ...]
    spots: np.ndarray
    vols: np.ndarray
    dividends: np.ndarray
    rate: float
    corr: np.ndarray
    drift: np.ndarray | None = None
    corr_repaired: bool = False

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    def index(self, name: str) -> int:
        return self.assets.index(name)


@dataclass(frozen=True)
class Model:
    """Model name plus per-asset parameter arrays (each of shape (assets,)).

    gbm: none. heston: v0, kappa, theta, xi, rho. merton: jump_intensity, jump_mean,
    jump_std (mean and std of the log jump size). bates: heston and merton parameters.
    """

    name: str
    params: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def has_variance(self) -> bool:
        return self.name in ("heston", "bates")

    @property
    def has_jumps(self) -> bool:
        return self.name in ("merton", "bates")

    def base_vols(self, market: Market) -> np.ndarray:
        """(assets,) today's vols as the model sees them: sqrt(v0) under heston/bates."""
        return np.sqrt(self.params["v0"]) if self.has_variance else market.vols


# Steps over each path-dependent expiry when the model's scheme is biased on a coarse grid:
# a Heston down-and-out call (xi 1.5) is 1.06 s.e. above QuantLib's FD price at 128 steps and
# 0.34 s.e. at 256 (10^6 paths; README, grid density).
MIN_STEPS = 256


def min_steps_of(sim: "Sim", model: str) -> int:
    """`sim.min_steps`, with None resolved for `model` (none needed under gbm)."""
    if sim.min_steps is not None:
        return sim.min_steps
    return 0 if model == "gbm" else MIN_STEPS


@dataclass(frozen=True)
class Sim:
    """Monte Carlo settings.

    Attributes:
        n_paths: number of simulated paths (antithetic pairs count as two paths).
        n_steps: uniform time steps over [0, last event date]; event dates are added.
        steps_per_year: minimum step density in steps per year (0: none).
        min_steps: minimum number of steps over [0, T] of each path-dependent position
            (barrier, Asian, lookback) with expiry T, times
            `mcrisk.config.positions.LOOKBACK_STEPS_FACTOR` for a lookback (0: none; None:
            `MIN_STEPS` except under gbm, whose paths, bridge crossing and bridge extremes are
            exact on any grid). The
            grid's step at each date is the finest these three settings ask for; see
            `mcrisk.grid.make_grid`.
        seed: root PRNG seed.
        antithetic: pair each path with its mirror (negated normals).
        dtype: "float32" or "float64".
        chunk_size: paths per compiled kernel call; results do not depend on it.
    """

    n_paths: int = _SIM.n_paths
    n_steps: int = _SIM.n_steps
    steps_per_year: int = _SIM.steps_per_year
    min_steps: int | None = _SIM.min_steps
    seed: int = _SIM.seed
    antithetic: bool = _SIM.antithetic
    dtype: str = _SIM.dtype
    chunk_size: int = _SIM.chunk_size


@dataclass(frozen=True)
class Greeks:
    """Greeks settings: pathwise autodiff (see `mcrisk.instruments.smooth`).

    `smoothing` is the Gaussian-kernel width, relative to each position's terminal price
    scale (spot x vol x sqrt(expiry)), used only where no unbiased pathwise estimator is
    available: second derivatives at payoff kinks and, off gbm, digitals. `cross_gamma`
    adds d2V/dS_i dS_j for every asset pair i < j.
    """

    enabled: bool = _GREEKS.enabled
    smoothing: float = _GREEKS.smoothing
    cross_gamma: bool = _GREEKS.cross_gamma


@dataclass(frozen=True)
class Position:
    """One position: its type, the asset indices it references and its contract terms."""

    type: str
    name: str
    quantity: float
    assets: tuple[int, ...]
    terms: dict[str, Any]
    venue: str | None = None


@dataclass(frozen=True)
class Problem:
    """A validated pricing/risk problem."""

    market: Market
    model: Model
    sim: Sim
    positions: tuple[Position, ...]
    greeks: Greeks = Greeks()
    risk: Risk | None = None
    notes: tuple[str, ...] = ()
    surface: SurfaceSet | None = None


@dataclass(frozen=True, eq=False)
class SurfaceSet:
    """SSVI implied-vol surfaces per asset (`market.surface`), padded to one knot count.

    Attributes:
        dynamics: "sticky_strike" (a contract keeps the vol of its strike against today's
            forward) or "sticky_moneyness" (the vol of ln(K / F) at the scenario's spot).
        has: (assets,) bool, the asset has a surface (others keep their flat market vol).
        rho, eta, gamma: (assets,) SSVI parameters (`mcrisk.vol.ssvi.SsviParams`).
        expiries, thetas: (assets, knots) ATM total-variance knots; knots past an asset's
            last are padded along its flat-ATM-vol ray (theta_n T / T_n), which leaves the
            interpolation unchanged.
        vega_buckets: increasing edges in days of the expiry buckets of `task=price`'s
            ``vega_by_expiry``.
    """

    dynamics: str
    has: np.ndarray
    rho: np.ndarray
    eta: np.ndarray
    gamma: np.ndarray
    expiries: np.ndarray
    thetas: np.ndarray
    vega_buckets: tuple[float, ...] = (7.0, 30.0, 90.0, 180.0)


@dataclass(frozen=True)
class StressScenario:
    """A deterministic scenario: relative spot shocks and absolute vol shocks per asset.

    Attributes:
        name: label.
        spot: (assets,) relative spot moves (-0.30 = down 30%).
        vol: (assets,) vol shifts in vol points as fractions (0.20 = +20 vol points).
        horizon: years to roll forward before revaluing (0 = instantaneous).
        skew: (assets,) or None: vol shift per unit of log-moneyness ln(K/F) of each contract
            marked on `market.surface` (0.02 = +2 vol points at k = 1).
        term: (assets,) or None: vol shift at 30 days of each surface-marked contract, scaled
            by sqrt(30 days / expiry) (a short-end move).
    """

    name: str
    spot: np.ndarray
    vol: np.ndarray
    horizon: float = 0.0
    skew: np.ndarray | None = None
    term: np.ndarray | None = None


@dataclass(frozen=True)
class MarginGrid:
    """Risk-based portfolio-margin grid.

    Defaults follow Deribit's segregated portfolio margin (underlying moves up to +-16% in 9
    evenly spaced buckets including zero, each with volatility up / same / down) plus CME
    SPAN's two extreme scenarios (+-2x the price scan range, 35% of the loss counted).

    Spot moves are ``spot_range * k / n`` for k = -n..n (n = (spot_steps - 1) / 2), each with
    vol shifts of -vol_shift, 0, +vol_shift, plus two extreme moves of
    ``extreme_multiple * spot_range`` whose loss counts at ``extreme_weight``.
    ``mode``: "joint" moves every asset by the same relative amount (correlated assets move
    together); "per_asset" scans each asset alone and adds the worst losses per asset.
    ``vol_expiry_power`` p > 0 scales the vol shift of each contract marked on
    ``market.surface`` by ``(30 days / max(expiry, 1 day))^p`` (Deribit's "(30/days to
    expiration)^0.30" volatility range); 0 shifts every expiry alike.
    """

    spot_range: float = _MARGIN.spot_range
    spot_steps: int = _MARGIN.spot_steps
    vol_shift: float = _MARGIN.vol_shift
    extreme_multiple: float = _MARGIN.extreme_multiple
    extreme_weight: float = _MARGIN.extreme_weight
    mode: str = _MARGIN.mode
    vol_expiry_power: float = _MARGIN.vol_expiry_power


@dataclass(frozen=True)
class ScenarioSource:
    """risk.scenarios: today's Monte Carlo ("model") or scenarios from a price history.

    `prices` are the price file's columns of the market's assets, ``(rows, assets)``, read
    and checked by `mcrisk.marketdata.read_prices`; the other fields are as in the README's
    `risk.scenarios` reference (`mcrisk.history` computes the scenarios).
    """

    source: str = _SCEN.source
    path: str | None = None
    prices: np.ndarray | None = None
    window: int | None = None
    horizon_days: int = 1
    overlapping: bool = _SCEN.overlapping
    age_weighting: float | None = _SCEN.age_weighting
    filter: str = _SCEN.filter
    ewma_lambda: float = _SCEN.ewma_lambda
    garch_mean: str = _SCEN.garch_mean
    n_scenarios: int = _SCEN.n_scenarios


@dataclass(frozen=True)
class Risk:
    """Risk settings (see the README's `risk` reference)."""

    horizon: float = _RISK.horizon
    levels: tuple[float, ...] = tuple(_RISK.levels)
    method: str = _RISK.method
    inner_paths: int = _RISK.inner_paths
    revaluation: str = _RISK.revaluation
    stress_paths: int | None = _RISK.stress_paths
    vol_dynamics: str = _RISK.vol_dynamics
    vol_shock: np.ndarray | None = None
    dates: tuple[float, ...] = tuple(_RISK.dates)
    pfe_level: float = _RISK.pfe_level
    collateral: float | None = _RISK.collateral
    maintenance_margin: float | None = _RISK.maintenance_margin
    stress: tuple[StressScenario, ...] = ()
    margin: MarginGrid | None = MarginGrid()
    ci_level: float = _RISK.ci_level
    histogram_bins: int = _RISK.histogram_bins
    attribution: bool = _RISK.attribution
    scenarios: ScenarioSource = ScenarioSource()
