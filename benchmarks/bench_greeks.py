"""Cost of the Greeks: time of one Greeks chunk over the time of one pricing chunk.

Both kernels run on the same chunk of paths (same keys, same grid), compile excluded (each
is called once before timing, and the timed calls are checked not to compile again). Books:

* ``1-asset``: a BTC european, a down-and-out put and a 12-fixing Asian (BTC alone);
* ``example``: the default example book (``conf/config.yaml``: BTC/ETH, 6 positions);
* ``3-asset``: ``portfolio=crypto_majors_options market=crypto_majors`` (BTC/ETH/SOL, 8
  positions);
* ``basket10``: one call on a 10-asset equally weighted basket (correlation 0.5).

Usage::

    python benchmarks/bench_greeks.py [--chunk 16384] [--repeats 5] [--dtype float32]
        [--cross-gamma] [--json]

Benchmarks are never run as tests; nothing here is imported by the package.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

HERE = Path(__file__).resolve().parent
# Time the checkout this script lives in, not whichever mcrisk is installed.
sys.path.insert(0, str(HERE.parent))

from mcrisk.config import build  # noqa: E402
from mcrisk.engine import greeks_chunk, prepare, price_chunk  # noqa: E402

DEFAULT_JSON = HERE / "results_greeks.json"
PRICING_KEYS = ("market", "model", "sim", "greeks", "portfolio")


def example_config(overrides: list[str]) -> dict:
    """A composed config (Hydra groups) as the plain dict `mcrisk.price` takes."""
    from omegaconf import OmegaConf

    from mcrisk.config.store import compose

    cfg = OmegaConf.to_container(compose(overrides), resolve=True)
    drop = lambda x: ({k: drop(v) for k, v in x.items() if v is not None}  # noqa: E731
                      if isinstance(x, dict) else [drop(v) for v in x] if isinstance(x, list)
                      else x)
    return {k: drop(cfg[k]) for k in PRICING_KEYS if cfg.get(k) is not None}


def one_asset_config() -> dict:
    return {
        "market": {"assets": ["BTC"], "spot": [60000.0], "vol": [0.6], "rate": 0.03},
        "portfolio": {"positions": [
            {"name": "call", "type": "european", "asset": "BTC", "option": "call",
             "strike": 65000, "expiry": 0.25, "quantity": 10},
            {"name": "dao_put", "type": "barrier", "asset": "BTC", "option": "put",
             "strike": 56000, "barrier": 48000, "barrier_type": "down-and-out",
             "expiry": 0.5, "quantity": -20},
            {"name": "asian", "type": "asian", "asset": "BTC", "option": "call",
             "strike": 60000, "expiry": 1.0, "fixings": 12, "average": "arithmetic",
             "quantity": 5}]},
        "sim": {"n_steps": 64},
    }


def basket10_config() -> dict:
    n = 10
    names = [f"A{i}" for i in range(n)]
    corr = np.full((n, n), 0.5) + 0.5 * np.eye(n)
    return {
        "market": {"assets": names, "spot": [100.0] * n, "vol": [0.2 + 0.02 * i for i in range(n)],
                   "rate": 0.03, "corr": corr.tolist()},
        "portfolio": {"positions": [
            {"name": "basket", "type": "basket", "assets": names, "weights": [0.1] * n,
             "option": "call", "strike": 100.0, "expiry": 1.0, "quantity": 1}]},
        "sim": {"n_steps": 64},
    }


def books() -> dict[str, dict]:
    out = {"1-asset": one_asset_config(),
           "example": example_config([]),
           "3-asset": example_config(["portfolio=crypto_majors_options", "market=crypto_majors"]),
           "basket10": basket10_config()}
    for cfg in out.values():
        cfg.setdefault("greeks", {})["enabled"] = True
    return out


def time_kernel(kernel, prep, repeats: int, **static) -> float:
    """Best wall time of one chunk (the kernel compiled by a first call)."""
    root = jax.random.key(prep.problem.sim.seed)
    args = (prep.spec, prep.params, prep.terms, prep.xs, prep.quantities, root,
            jnp.asarray(0, jnp.uint32), jnp.asarray(prep.spec.samples, jnp.int32))
    jax.block_until_ready(kernel(*args, **static))
    size = kernel._cache_size()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(kernel(*args, **static))
        best = min(best, time.perf_counter() - t0)
    if kernel._cache_size() != size:
        print("warning: a timed call compiled again")
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunk", type=int, default=16384, help="paths per chunk")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--cross-gamma", action="store_true", help="also the cross gammas")
    ap.add_argument("--only", nargs="*", help="book names to run")
    ap.add_argument("--json", action="store_true", help=f"write {DEFAULT_JSON.name}")
    args = ap.parse_args()
    rows = []
    for name, cfg in books().items():
        if args.only and name not in args.only:
            continue
        cfg.setdefault("sim", {}).update(n_paths=args.chunk, chunk_size=args.chunk,
                                         dtype=args.dtype)
        problem = build(cfg)
        t_price = time_kernel(price_chunk, prepare(problem), args.repeats)
        cross = {"cross": True} if args.cross_gamma else {}
        t_greeks = time_kernel(greeks_chunk, prepare(problem, greeks=True), args.repeats,
                               **cross)
        row = {"book": name, "assets": problem.market.n_assets,
               "positions": len(problem.positions), "chunk": args.chunk,
               "price_s": t_price, "greeks_s": t_greeks, "ratio": t_greeks / t_price}
        rows.append(row)
        print(f"{name:10s} assets {row['assets']:2d} positions {row['positions']:2d}  "
              f"price {t_price * 1e3:8.1f} ms  greeks {t_greeks * 1e3:9.1f} ms  "
              f"ratio {row['ratio']:6.2f}", flush=True)
    if args.json:
        DEFAULT_JSON.write_text(json.dumps({
            "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.machine(), "python": platform.python_version(),
            "jax": jax.__version__, "device": str(jax.devices()[0]), "dtype": args.dtype,
            "cross_gamma": args.cross_gamma, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
