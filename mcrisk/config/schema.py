"""Structured configs: the typed schema Hydra checks every composed config against.

Stdlib dataclasses only (no JAX): a misspelt key or a wrong type fails at compose time with
Hydra's message naming the key. Fields that accept "a number or a list per asset" are `Any`;
`mcrisk.config.build` checks their values. `sim.n_paths` is `Any` so `sim.n_paths=1e6` works
on the command line (the builder accepts integral floats), and `market.corr` is `Any`
because OmegaConf rejects integers in a nested float list; build checks both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional  # noqa: UP035 - OmegaConf needs typing generics


@dataclass
class MarketConf:
    name: Optional[str] = None
    assets: Optional[List[str]] = None
    spot: Optional[List[float]] = None
    vol: Optional[List[float]] = None
    dividend: Optional[List[float]] = None
    rate: float = 0.0
    # Any, not List[List[float]]: OmegaConf refuses the int 1 inside a nested float list
    # (market.corr=[[1,0.8],[0.8,1]]); build_market checks every entry is a number.
    corr: Any = None
    corr_repair: str = "none"
    drift: Optional[List[float]] = None
    # market=from_csv: estimate spot, vol and corr from a price file.
    path: Optional[str] = None
    estimator: str = "sample"
    half_life: float = 30.0
    annualisation: float = 365.0
    # A fitted implied-vol surface (or quotes to fit): see mcrisk.config.surface.
    surface: Any = None


@dataclass
class ModelConf:
    name: str = "gbm"
    v0: Any = None
    kappa: Any = None
    theta: Any = None
    xi: Any = None
    rho: Any = None
    jump_intensity: Any = None
    jump_mean: Any = None
    jump_std: Any = None


@dataclass
class SimConf:
    name: Optional[str] = None
    n_paths: Any = 100_000
    n_steps: Any = 64
    steps_per_year: Any = 0
    min_steps: Any = None
    seed: int = 0
    antithetic: bool = True
    dtype: str = "float32"
    chunk_size: Any = 65_536


@dataclass
class GreeksConf:
    enabled: bool = True
    smoothing: float = 0.05
    cross_gamma: bool = False


@dataclass
class MarginConf:
    enabled: bool = True
    spot_range: float = 0.16
    spot_steps: int = 9
    vol_shift: float = 0.10
    extreme_multiple: float = 2.0
    extreme_weight: float = 0.35
    mode: str = "joint"
    vol_expiry_power: float = 0.0


@dataclass
class ScenariosConf:
    """risk.scenarios: where the horizon scenarios come from (mcrisk.history)."""

    source: str = "model"  # model | historical | filtered_historical
    prices: Optional[str] = None  # CSV price file (mcrisk.marketdata format)
    window: Optional[int] = None  # one-day returns looked back; None: the whole file
    horizon_days: Optional[int] = None  # None: risk.horizon in days (x 365, rounded)
    overlapping: bool = True
    age_weighting: Optional[float] = None  # BRW lambda, historical only
    filter: str = "ewma"  # ewma | garch (filtered_historical)
    ewma_lambda: float = 0.94
    garch_mean: str = "Zero"  # Zero | Constant
    n_scenarios: int = 10_000  # bootstrap size (filtered_historical)


@dataclass
class RiskConf:
    name: Optional[str] = None
    horizon: float = 1.0 / 365.0
    levels: List[float] = field(default_factory=lambda: [0.95, 0.975, 0.99, 0.999])
    method: str = "full"
    inner_paths: int = 256
    revaluation: str = "auto"
    stress_paths: Optional[int] = None
    vol_dynamics: str = "sticky_strike"
    vol_shock: Any = None
    dates: List[float] = field(default_factory=list)
    pfe_level: float = 0.95
    collateral: Optional[float] = None
    maintenance_margin: Optional[float] = None
    stress: List[Dict[str, Any]] = field(default_factory=list)
    margin: MarginConf = field(default_factory=MarginConf)
    ci_level: float = 0.95
    histogram_bins: int = 60
    # false: VaR, ES, intervals, moments and histogram only (no component or incremental
    # ES, no per-position losses of the worst scenarios), the quick run of a risk screen.
    attribution: bool = True
    scenarios: ScenariosConf = field(default_factory=ScenariosConf)


@dataclass
class PortfolioConf:
    name: Optional[str] = None
    positions: List[Dict[str, Any]] = field(default_factory=list)
    # portfolio=from_file: the book is read from this YAML file (see config/bookfile.py).
    file: Optional[str] = None


@dataclass
class HardwareConf:
    """Where to run. `platform`: cpu or gpu; `fallback: cpu` runs on the CPU with a warning
    when no GPU is found (otherwise a clear error); `precision` (float32/float64) overrides
    sim.dtype; `preallocate: false` stops JAX grabbing most of the GPU (many jobs in a row);
    `compile_cache`: where the command line keeps compiled kernels between runs ('auto': the
    user's cache folder, 'off', or a directory); `devices`: on a CPU, how many host devices
    each chunk's paths are split over ('auto': one per core this process may use, or a
    positive integer; a host device count already in XLA_FLAGS wins); on a GPU, 'auto'
    (every visible GPU)."""

    name: Optional[str] = None
    platform: str = "cpu"
    fallback: Optional[str] = None
    precision: Optional[str] = None
    preallocate: bool = False
    memory_fraction: Optional[float] = None
    compile_cache: Optional[str] = "auto"
    devices: Any = "auto"


@dataclass
class ReportConf:
    enabled: bool = True
    plots: bool = True
    save_losses: bool = False
    save_paths: bool = False
    save_paths_max: int = 10_000


@dataclass
class ConvergenceConf:
    n_paths: List[int] = field(default_factory=lambda: [2_000, 8_000, 32_000, 128_000])
    risk: bool = True


@dataclass
class ModelRiskConf:
    models: List[str] = field(default_factory=lambda: ["gbm", "heston", "merton", "bates"])
    risk: bool = True


@dataclass
class QuotesConf:
    """task=calibrate: the option chain to fit (see `mcrisk.vol.quotes.read_chain`).

    `path`: a .csv or .parquet chain (relative to the working directory); `underlyings`:
    which to fit (None: every one in the file); `valuation_date` and `rate` override the
    file's timestamp and rate columns; `method`: ssvi (one arbitrage-free surface) or svi
    (one slice per expiry); `models`: heston, bates and/or merton calibrated to each
    underlying's quotes (`mcrisk.calibrate`) with `optimizer` (lbfgs or adam) from `starts`
    starting points on the `loss` (vol or price)."""

    path: Optional[str] = None
    underlyings: Optional[List[str]] = None
    valuation_date: Optional[str] = None
    rate: Optional[float] = None
    price_unit: str = "auto"
    iv_unit: str = "auto"
    method: str = "ssvi"
    models: List[str] = field(default_factory=list)
    optimizer: str = "lbfgs"
    starts: int = 4
    loss: str = "vol"


@dataclass
class AllocationConf:
    """task=allocate: the mean-CVaR frontier of a long-only portfolio of `assets`.

    Each asset is ``{name, mean, vol, jump_rate, jump_mean, jump_std}``: annual expected
    return (continuously compounded: a stablecoin's yield), diffusive vol, and Merton jumps
    (per year; mean and std of the log jump size). `corr`: correlation of the diffusions
    (None: independent). `n_scenarios` horizon returns are drawn with `seed` over `horizon`
    years; the frontier has `n_points` portfolios from the minimum-CVaR one to the largest
    mean return, CVaR at `level`; `cvar_cap`: also the best mean return with CVaR <= it
    (decimals of the portfolio). `lower`/`upper`: weight bounds (a number or one per asset;
    upper None: no bound); `cash`: weights may sum to less than 1, the rest in cash."""

    assets: List[Any] = field(default_factory=list)
    corr: Any = None
    level: float = 0.99
    horizon: float = 30.0 / 365.0
    n_scenarios: int = 20000
    seed: int = 0
    n_points: int = 11
    cvar_cap: Optional[float] = None
    cash: bool = False
    lower: Any = 0.0
    upper: Any = None


@dataclass
class DynamicHedgeConf:
    """task=dynamic_hedge: the book, the hedge and the sweep (see `mcrisk.config.dynamic_hedge.parse`).

    Every field left null takes its default from `mcrisk.config.dynamic_hedge.DEFAULTS` (spot 100,
    rate 0, horizon 0.25, 100 steps, a short ATM call, spot hedge every step, no costs); the
    path count, chunk, seed and dtype follow ``sim`` unless set here. ``sweep`` lists
    ``every`` (time schedules), ``width`` (fixed bands) and ``risk_aversion``
    (Whalley–Wilmott bands): one row of the result each; ``deep`` (a mapping, see
    `mcrisk.config.deep_hedge`) adds a deep-hedge row on the same paths."""

    spot: Optional[float] = None
    rate: Optional[float] = None
    drift: Optional[float] = None
    horizon: Optional[float] = None
    steps: Optional[int] = None
    instrument: Optional[str] = None
    funding: Optional[float] = None
    pricing_vol: Optional[float] = None
    hedge_vol: Optional[float] = None
    level: Optional[float] = None
    paths: Optional[int] = None
    chunk: Optional[int] = None
    seed: Optional[int] = None
    dtype: Optional[str] = None
    model: Optional[Dict[str, Any]] = None
    book: Optional[List[Any]] = None
    gamma_hedge: Optional[Dict[str, Any]] = None
    rebalance: Optional[Dict[str, Any]] = None
    costs: Optional[Dict[str, Any]] = None
    sweep: Optional[Dict[str, Any]] = None
    deep: Optional[Dict[str, Any]] = None


@dataclass
class BacktestConf:
    """task=backtest: VaR/ES models re-estimated each day of a price history and compared
    with the book's realised loss (see `mcrisk.backtest.run`).

    `prices`: a CSV price file (as ``market.path``; columns named by ``market.assets``) or,
    from Python, ``{dates, values}``. Each test day t re-estimates every model of `models`
    on the `window` one-day returns ending at t (`window_type` rolling) or on all of them
    (expanding), and forecasts VaR/ES of the book's `horizon_days`-day loss at `levels`;
    the realised loss revalues the book at t + h. `test_days`: the last that many days
    (None: every day after the first window). `models` may add ``merton`` (Monte Carlo of
    Merton jump-diffusions fitted by maximum likelihood each day; at least 100 returns).
    `n_scenarios`: bootstrap draws of filtered HS and Monte Carlo draws of gbm and merton
    per day. `marking`: options marked by Black-Scholes at the
    window's sample vol ("model") or at ``market.vol`` ("implied"). `vol_scale`: multiplies
    every model's forecast returns (1: the models as estimated; 0.5 a model with half the
    vol, to see the backtest reject it). `annualisation`: price rows per year (252 for
    exchange trading days, 365 for crypto). `es_sims`: simulations of the Z2 p-value;
    `chunk`: scenarios revalued per kernel call."""

    prices: Any = None
    models: List[str] = field(default_factory=lambda: [
        "historical", "filtered_historical_ewma", "filtered_historical_garch",
        "delta_normal", "gbm"])
    window: int = 250
    window_type: str = "rolling"
    test_days: Optional[int] = None
    horizon_days: int = 1
    levels: List[float] = field(default_factory=lambda: [0.99, 0.975])
    n_scenarios: int = 1000
    marking: str = "model"
    vol_scale: float = 1.0
    ewma_lambda: float = 0.94
    garch_mean: str = "Zero"
    annualisation: float = 252.0
    es_sims: int = 2000
    chunk: int = 4096


@dataclass
class HedgeConf:
    """task=hedge: static hedge of the book (`portfolio`) with candidate `instruments`.

    Each instrument is a position mapping as in ``portfolio.positions`` without a quantity
    (the optimiser finds it), plus optional ``min``/``max`` (quantity limits; absent: no
    limit), ``cost`` (proportional cost, a fraction of the traded notional: the premium for
    options, the spot for spot, perpetuals and forwards; default `cost`) and ``fee`` (a
    fixed fee paid once if the instrument is traded at all; default `fee`). `objective`:
    ``es`` (ES at `level`), ``variance`` or ``margin`` (the `risk.margin` grid's
    requirement). `budget`: a cap on the net cash paid for the hedge, premiums plus costs
    (None: no cap). `oos_seed`: seed of the out-of-sample scenarios (None: ``sim.seed + 1``).
    `listed`: option chains to add as candidates, each ``{asset, strikes, expiries,
    options}`` (europeans at every strike x expiry x option type; `options` default
    ``[call, put]``) with optional ``min``/``max``/``cost``/``fee`` for all of them.
    `from_book`: also every single-asset european of the book itself (its strike, expiry and
    type), so the book's own contracts can be bought back or sold.
    """

    instruments: List[Any] = field(default_factory=list)
    listed: List[Any] = field(default_factory=list)
    from_book: bool = False
    objective: str = "es"
    level: float = 0.99
    cost: float = 0.0
    fee: float = 0.0
    budget: Optional[float] = None
    oos_seed: Optional[int] = None


@dataclass
class Config:
    task: str = "price"
    market: MarketConf = field(default_factory=MarketConf)
    model: ModelConf = field(default_factory=ModelConf)
    sim: SimConf = field(default_factory=SimConf)
    greeks: GreeksConf = field(default_factory=GreeksConf)
    risk: RiskConf = field(default_factory=RiskConf)
    portfolio: PortfolioConf = field(default_factory=PortfolioConf)
    hardware: HardwareConf = field(default_factory=HardwareConf)
    report: ReportConf = field(default_factory=ReportConf)
    convergence: ConvergenceConf = field(default_factory=ConvergenceConf)
    model_risk: ModelRiskConf = field(default_factory=ModelRiskConf)
    quotes: QuotesConf = field(default_factory=QuotesConf)
    allocation: AllocationConf = field(default_factory=AllocationConf)
    dynamic_hedge: DynamicHedgeConf = field(default_factory=DynamicHedgeConf)
    backtest: BacktestConf = field(default_factory=BacktestConf)
    hedge: HedgeConf = field(default_factory=HedgeConf)
    run_dir: Optional[str] = None  # task=verify / task=collect: the run or multirun folder
    resume: bool = False  # skip a finished job of the same config; refuse one of another
    # Phase-by-phase progress on stderr: None = on in the CLI when stderr is a terminal;
    # the Python API shows it only when this is true or progress=True is passed.
    progress: Optional[bool] = None
