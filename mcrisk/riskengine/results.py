"""Typed results of the risk and stress cores (`run.simulate_risk`, `run.simulate_stress`).

Amounts are in the book's currency (that of the market's spots), losses positive; arrays
"per position" follow the book's position order (`RiskResult.names`), arrays "per level" the
order of `risk.levels`. The task layer (`mcrisk.tasks.risk`) turns these into the results
dict; nothing here is JSON-shaped.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class TailMetrics(NamedTuple):
    """VaR and ES of the book's loss at one confidence level (conventions: `metrics`)."""

    level: float  # confidence level, e.g. 0.99
    var: float  # the m-th largest loss, m = ceil(n (1 - level)); currency
    es: float  # mean of the m largest losses; currency
    var_ci: tuple[float, float] | None  # (lo, hi), currency; None: not estimable
    es_ci: tuple[float, float] | None  # (lo, hi), currency; None: too few tail scenarios


class LossStats(NamedTuple):
    """Moments of the book's loss over the scenarios (currency unless stated)."""

    n_scenarios: int
    mean: float
    stdev: float
    skew: float  # dimensionless
    excess_kurtosis: float  # dimensionless
    worst_loss: float
    prob_loss: float  # share of scenarios (probability mass) with a loss > 0
    mean_stderr: float | None = None  # of `mean`; None where not reported (delta-gamma)
    effective_scenarios: float | None = None  # 1 / sum(w^2): age-weighted scenarios only


class Histogram(NamedTuple):
    """Histogram of the book's loss (currency bins)."""

    edges: np.ndarray  # (bins + 1,)
    counts: np.ndarray  # (bins,) scenarios per bin
    below: int  # scenarios below edges[0]
    above: int  # scenarios above edges[-1]


class TailResult(NamedTuple):
    """Tail metrics, moments and histogram of one loss sample."""

    metrics: tuple[TailMetrics, ...]  # one per level
    stats: LossStats
    histogram: Histogram
    notes: tuple[str, ...]


class Contribution(NamedTuple):
    """Which positions drive the tail at one level (currency, per position)."""

    level: float
    component_es: np.ndarray  # (positions,); sums to ES
    component_var: np.ndarray | None  # (positions,); None for age-weighted scenarios
    var_window_sum: float | None  # sum of component VaR (the window's mean loss)
    incremental_es: np.ndarray  # (positions,): ES minus the ES of the book without it
    es_by_asset: dict[str, float]  # component ES summed by asset group ("A" or "A+B")


class WorstScenario(NamedTuple):
    scenario: int  # scenario index
    loss: float  # book loss, currency
    # (positions,) losses, currency; None where the run kept no rows (risk.attribution off)
    by_position: np.ndarray | None


class Today(NamedTuple):
    """Today's values (quantity included), currency."""

    book: float
    positions: np.ndarray  # (positions,)
    stderr: np.ndarray  # (positions,) of the Monte Carlo values; 0 for closed forms
    method: tuple[str, ...]  # per position, how it was valued


class NestedError(NamedTuple):
    """Inner-noise bias removed from VaR/ES by the half-sample jackknife (`jackknife`)."""

    inner_paths: int
    var_bias: np.ndarray  # (levels,) removed from VaR, currency
    es_bias: np.ndarray  # (levels,) removed from ES, currency
    method: str


class DeltaGamma(NamedTuple):
    """Delta-gamma-vega approximation on the scenarios of the full revaluation."""

    metrics: tuple[TailMetrics, ...]  # var, es per level (intervals unused)
    stats: LossStats  # without mean_stderr
    var_error: np.ndarray  # (levels,) approximation minus full revaluation, currency
    es_error: np.ndarray  # (levels,)
    note: str


class Drawdown(NamedTuple):
    """Maximum drawdown of the book value along the revaluation dates, currency."""

    mean: float
    stdev: float
    q95: float
    q99: float
    worst: float


class Liquidation(NamedTuple):
    collateral: float  # currency
    maintenance_margin: float  # currency
    probability: float  # of liquidation by the last date
    probability_by_date: np.ndarray  # (dates,) cumulative
    expected_time_given_liquidation: float | None  # years; None: never liquidated


class ExposureProfile(NamedTuple):
    """Exposure profile at `risk.dates` (currency per date)."""

    dates: np.ndarray  # (dates,) years
    expected_exposure: np.ndarray  # E[max(V, 0)]
    expected_negative_exposure: np.ndarray  # E[min(V, 0)]
    mean_value: np.ndarray  # E[V]
    pfe_level: float
    pfe: np.ndarray  # the pfe_level quantile of V
    max_drawdown: Drawdown
    liquidation: Liquidation | None  # None without risk.maintenance_margin
    nested_bias_corrected: bool = False  # jackknifed for nested inner noise


class StressLoss(NamedTuple):
    """One stress scenario revalued in full."""

    name: str
    spot_shock: np.ndarray  # (assets,) relative spot move (-0.3 = -30%)
    vol_shock: np.ndarray  # (assets,) vol shift in vol units (0.2 = +20 points)
    horizon: float  # years
    loss: float  # book loss, currency
    loss_stderr: float  # of `loss` (0 with closed forms only)
    by_position: np.ndarray  # (positions,) losses, currency
    by_position_stderr: np.ndarray  # (positions,)


class MarginPoint(NamedTuple):
    asset: str | None  # the scanned asset (mode per_asset), None: every asset
    spot: float  # relative spot move
    vol: float  # vol shift, vol units
    weight: float  # weight of the loss in the requirement
    loss: float  # book loss, currency
    loss_stderr: float


class Margin(NamedTuple):
    """The portfolio-margin grid (currency)."""

    requirement: float
    requirement_stderr: float
    revaluation_paths: int | None  # None: every point in closed form
    worst: int  # index into `points` of the point setting the requirement
    points: tuple[MarginPoint, ...]
    vol_floored_points: tuple[int, ...]
    notes: tuple[str, ...]
    per_venue: dict[str, float]  # requirement of each venue's positions alone
    per_venue_stderr: dict[str, float]
    grid: Any  # the `problem.MarginGrid` scanned


class ScenarioSource(NamedTuple):
    """Historical scenarios (risk.scenarios.source other than model)."""

    source: str
    prices: str | None
    window: Any
    horizon_days: int
    n_scenarios: int
    overlapping: bool | None
    age_weighting: float | None
    filter: Any


class BucketVega(NamedTuple):
    """Vega per expiry bucket of the positions marked on `market.surface`
    (`mcrisk.riskengine.vega.surface_vega`), per 1.00 of vol, quantities included."""

    buckets: tuple[str, ...]  # labels: <=7d, 7-30d, ..., >180d
    book: np.ndarray  # (buckets,)
    marked: tuple[str, ...]  # positions with a surface vega, in book order
    positions: np.ndarray  # (marked, buckets): each in its own expiry's bucket only
    not_marked: tuple[str, ...]  # positions valued by Monte Carlo: no surface vega


class RiskResult(NamedTuple):
    """`simulate_risk`: the book's horizon risk."""

    tail: TailResult  # nested inner-noise bias already removed
    nested_error: NestedError | None
    contributions: tuple[Contribution, ...]  # one per level
    worst_scenarios: tuple[WorstScenario, ...]
    today: Today
    methods_at_horizon: tuple[str, ...] | None  # per position; None for history
    scenario_source: ScenarioSource | None  # None: model scenarios
    vega_by_expiry: BucketVega | None  # with market.surface
    profile: ExposureProfile | None  # with risk.dates
    delta_gamma: DeltaGamma | None  # with risk.method delta_gamma
    stress: tuple[StressLoss, ...]
    margin: Margin | None
    names: tuple[str, ...]  # positions
    assets: tuple[str, ...]
    dates: list[float]  # revaluation dates, years
    horizon: float  # years
    levels: tuple[float, ...]
    n_paths: int  # scenarios
    model: str
    dtype: str
    seed: int
    method: str  # risk.method
    inner_paths: int | None  # None: nothing nested
    measure: str
    vol_dynamics: str
    notes: tuple[str, ...]


class StressResult(NamedTuple):
    """`simulate_stress`: today's values, stress scenarios and the margin grid."""

    today: Today
    stress: tuple[StressLoss, ...]
    margin: Margin | None
    vega_by_expiry: BucketVega | None
    names: tuple[str, ...]  # positions
    assets: tuple[str, ...]
    model: str
    dtype: str
    seed: int
    n_paths: int
    notes: tuple[str, ...]

