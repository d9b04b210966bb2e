"""mcrisk: Monte Carlo portfolio risk on JAX.

Public API (everything else is private)::

    import mcrisk
    result = mcrisk.price(cfg)   # cfg: dict, DictConfig or mcrisk.Problem
    mcrisk.to_frame(result, "positions")   # a section as a pandas DataFrame
    cfg["portfolio"] = mcrisk.load_portfolio("book.yaml")   # a book from its own file
    mcrisk.use_compile_cache()   # compiled kernels kept on disk for the next process
    mcrisk.calibrate_surface({"quotes": {"path": "chain.csv"}}, out_dir="fit")  # vol surface

JAX is imported on first use of `price`, not by ``import mcrisk``: the CLI's ``--help`` and
``--cfg job`` must never start a backend, and ``hardware`` settings (platform, x64) must be
applied before JAX initialises.
"""

from typing import Any

from mcrisk import backtest as backtest  # callable: mcrisk.backtest(cfg) runs task=backtest
from mcrisk.config import build as build
from mcrisk.config.bookfile import load_portfolio as load_portfolio
from mcrisk.errors import ConfigError as ConfigError
from mcrisk.errors import NonFiniteError as NonFiniteError
from mcrisk.hardware import use_compile_cache as use_compile_cache
from mcrisk.problem import Greeks as Greeks
from mcrisk.problem import Market as Market
from mcrisk.problem import Model as Model
from mcrisk.problem import Position as Position
from mcrisk.problem import Problem as Problem
from mcrisk.problem import Sim as Sim
from mcrisk.tables import to_frame as to_frame

__version__ = "0.1.0"


def price(cfg: Any, **kwargs: Any) -> dict:
    """Price a book by Monte Carlo; see `mcrisk.pricing.price`."""
    from mcrisk.pricing import price as _price

    return _price(cfg, **kwargs)


def calibrate_surface(cfg: Any, **kwargs: Any) -> dict:
    """Fit an implied-vol surface per underlying to an option chain (``cfg["quotes"]``);
    see `mcrisk.tasks.calibrate.calibrate_surface`."""
    from mcrisk.tasks.calibrate import calibrate_surface as _calibrate_surface

    return _calibrate_surface(cfg, **kwargs)


def risk(cfg: Any, **kwargs: Any) -> dict:
    """Horizon risk of a book (VaR/ES, attribution, stress, margin); see `mcrisk.tasks.risk`."""
    from mcrisk.tasks.risk import risk as _risk

    return _risk(cfg, **kwargs)


def stress(cfg: Any, **kwargs: Any) -> dict:
    """Stress scenarios and the portfolio-margin grid of a book, revalued in full."""
    from mcrisk.tasks.risk import stress_test as _stress

    return _stress(cfg, **kwargs)
