"""Implied-vol throughput: `mcrisk.vol.implied.implied_vol` against a vectorised NumPy inverter.

Quotes: out-of-the-money calls and puts on a forward of 1, strikes log-uniform in 0.5x-2x,
expiries log-uniform in one week to two years, vols uniform in 0.2-1.5 (a liquid crypto chain),
priced in float64 by `black_price`. The baseline (py_vollib_vectorized is not installed here) is
a vectorised NumPy/SciPy Newton iteration on the log price with a bisection fallback inside a
[1e-4, 10] vol bracket, `scipy.special.ndtr`, every quote updated each pass until all last steps
are below 1e-12. Newton on the price itself creeps for ~100 passes on the deepest quotes here,
and F N(d1) - K N(d2) loses the price further out in the wings, hence the moderate range.
mcrisk runs in float64 and float32 (the same quotes rounded), jitted and warmed up first; the
timed calls are checked not to compile again. Each row also gives the largest absolute vol
error against the vols the quotes were made from (float32 quotes below ~1e-38 underflow and are
reported invalid).

Usage::

    python benchmarks/bench_implied_vol.py [--sizes 100000 1000000] [--repeats 3]

Benchmarks are never run as tests; nothing here is imported by the package.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from scipy.special import ndtr  # noqa: E402

HERE = Path(__file__).resolve().parent
# Time the checkout this script lives in, not whichever mcrisk is installed.
sys.path.insert(0, str(HERE.parent))

from mcrisk.vol.implied import _implied_vol, black_price, implied_vol  # noqa: E402


def quotes(n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    k = np.exp(rng.uniform(np.log(0.5), np.log(2.0), n))
    t = np.exp(rng.uniform(np.log(7 / 365), np.log(2.0), n))
    v = rng.uniform(0.2, 1.5, n)
    call = k >= 1.0
    return np.asarray(black_price(1.0, k, t, v, call)), k, t, v, call


def numpy_implied_vol(p, k, t, call, tol=1e-12, max_iter=100):
    """Vectorised Newton on the log of the undiscounted Black price (forward 1), bisection when a
    step leaves the bracket. The log keeps Newton from creeping up to the root from below deep
    out of the money, where the price is exponentially small in 1/vol^2."""
    theta = np.where(call, 1.0, -1.0)
    sqrt_t = np.sqrt(t)
    log_fk = -np.log(k)
    log_p = np.log(p)
    lo, hi = np.full_like(p, 1e-4), np.full_like(p, 10.0)
    v = np.full_like(p, 0.5)
    for _ in range(max_iter):
        s = v * sqrt_t
        d1 = log_fk / s + 0.5 * s
        price = theta * (ndtr(theta * d1) - k * ndtr(theta * (d1 - s)))
        vega = np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi) * sqrt_t
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = np.log(price) - log_p
            new = v - diff * price / vega
        lo = np.where(diff < 0, v, lo)
        hi = np.where(diff > 0, v, hi)
        bad = ~((new > lo) & (new < hi))
        new = np.where(bad, 0.5 * (lo + hi), new)
        step = np.abs(new - v)
        v = new
        if step.max() <= tol:
            break
    return v


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"# {platform.node()}  python {platform.python_version()}  jax {jax.__version__}  "
          f"backend {jax.default_backend()}  devices {jax.device_count()}")
    print(f"{'quotes':>9s} {'method':16s} {'seconds':>9s} {'quotes/s':>12s} {'vs numpy':>9s} "
          f"{'max |err|':>10s}")
    for n in args.sizes:
        p, k, t, v, call = quotes(n)
        t_np = best_time(lambda: numpy_implied_vol(p, k, t, call), args.repeats)
        err_np = np.nanmax(np.abs(numpy_implied_vol(p, k, t, call) - v))
        print(f"{n:9d} {'numpy newton':16s} {t_np:9.3f} {n / t_np:12.3e} {1.0:9.2f} "
              f"{err_np:10.1e}")
        for dtype in (jnp.float64, jnp.float32):
            args_j = [jnp.asarray(a, dtype) for a in (p, np.ones_like(k), k, t)]
            is_call = jnp.asarray(call)

            def run():
                return jax.block_until_ready(implied_vol(*args_j, is_call).vol)

            vol = run()  # compiles
            cache = _implied_vol._cache_size()
            t_j = best_time(run, args.repeats)
            if _implied_vol._cache_size() != cache:
                print("warning: a timed call compiled again")
            # float32 prices below ~1e-38 are not representable: NaN and counted invalid.
            err = np.nanmax(np.abs(np.asarray(vol, np.float64) - v))
            n_invalid = int(np.isnan(np.asarray(vol)).sum())
            name = f"mcrisk {np.dtype(dtype).name}"
            print(f"{n:9d} {name:16s} {t_j:9.3f} {n / t_j:12.3e} {t_np / t_j:9.2f} {err:10.1e}"
                  + (f"  ({n_invalid} invalid)" if n_invalid else ""))


if __name__ == "__main__":
    main()
