"""Minimum-CVaR portfolios: `mcrisk.optimize.cvar.minimise_cvar` (Rockafellar–Uryasev with a
smoothed hinge, projected Nesterov steps in optax, one jitted kernel) against the same linear
programme solved exactly by SciPy's HiGHS (`linprog(method="highs")`, variables weights,
alpha and one excess per scenario).

Scenarios: Student-t(4) returns of `m` assets with correlation 0.5 and scaled vols, long-only
weights summing to 1, CVaR at 0.95 (n (1 - beta) an integer, where the empirical ES equals
the LP's value exactly). Each row: wall time of one solve after a compiling warm-up (mcrisk)
or of one `linprog` call, and the relative gap of mcrisk's exact CVaR to the LP optimum.

Usage::

    python benchmarks/bench_cvar.py [--sizes 2000 20000 100000] [--assets 5 20] [--json]

Benchmarks are never run as tests; nothing here is imported by the package.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mcrisk.optimize.cvar import make_problem, minimise_cvar  # noqa: E402

BETA = 0.95


def scenarios(n: int, m: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    corr = np.full((m, m), 0.5) + 0.5 * np.eye(m)
    z = rng.standard_t(4, size=(n, m)) @ np.linalg.cholesky(corr).T
    vols = np.linspace(0.02, 0.08, m)
    return 0.002 * np.arange(1, m + 1) / m + z * vols / np.sqrt(2.0)


def lp(r: np.ndarray) -> tuple[float, float]:
    """Exact minimum CVaR by HiGHS: min alpha + sum(u) / ((1-b) n), u >= -r w - alpha."""
    n, m = r.shape
    c = np.concatenate([np.zeros(m), [1.0], np.full(n, 1.0 / ((1 - BETA) * n))])
    a = sparse.hstack([sparse.csr_matrix(-r), -np.ones((n, 1)), -sparse.eye(n)]).tocsr()
    eq = np.concatenate([np.ones(m), [0.0], np.zeros(n)])[None]
    bounds = [(0, None)] * m + [(None, None)] + [(0, None)] * n
    t = time.perf_counter()
    res = linprog(c, A_ub=a, b_ub=np.zeros(n), A_eq=eq, b_eq=[1.0], bounds=bounds,
                  method="highs")
    return float(res.fun), time.perf_counter() - t


def ours(r: np.ndarray) -> tuple[float, float, float]:
    p = make_problem(0.0, -r, BETA, lower=0.0, budget=1.0)
    t = time.perf_counter()
    minimise_cvar(p)
    warm = time.perf_counter() - t
    t = time.perf_counter()
    sol = minimise_cvar(p)
    return float(sol.cvar[0]), time.perf_counter() - t, warm


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 100000])
    ap.add_argument("--assets", type=int, nargs="+", default=[5, 20])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    for m in args.assets:
        for n in args.sizes:
            r = scenarios(n, m)
            ref, t_lp = lp(r)
            got, t_ours, warm = ours(r)
            rows.append(dict(n=n, assets=m, lp_cvar=ref, cvar=got, gap=(got - ref) / ref,
                             lp_s=t_lp, mcrisk_s=t_ours, first_call_s=warm))
            print(f"n={n:>7} m={m:>3}  HiGHS {t_lp:8.3f} s  mcrisk {t_ours:8.3f} s "
                  f"(first call {warm:6.2f} s)  ratio {t_lp / t_ours:6.2f}  "
                  f"CVaR gap {(got - ref) / ref:+.2e}", flush=True)
    if args.json:
        print(json.dumps({"device": str(jax.devices()[0]), "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
