"""Closed-form revaluation cost per option value: mcrisk's formulas against NumPy/SciPy.

The 100-option closed-form VaR (`bench_risk.py`) spends most of its time revaluing options on
scenarios. This script times that work alone, per value, for the families of its book, so the
ratio the risk run can reach is visible:

- `european` and `digital`: `mcrisk.analytic.bs` against the same Black-Scholes formulas in
  NumPy with `scipy.special.ndtr`;
- `barrier` (down-and-out put, strike above the barrier): `mcrisk.analytic.barrier`, which
  evaluates Haug's terms for every in/out x up/down x call/put case and selects, against
  NumPy code written for that one case only (what `bench_risk.numpy_book_var` does);
- `ndtr`: the normal CDF alone, `jax.scipy.special.ndtr` against SciPy's, and `erf` alone,
  the cheapest special function XLA offers, as a floor for the CDF.

Float32, 65,536 scenarios x the family's positions (as one risk chunk of the 100-option
book), best of `--repeats` timed calls after a compiling call; NumPy runs on one core, XLA
on its intra-op threads. Wall time and the process's CPU time (all threads) per value are
both reported: the CPU-time ratio is the work each side does per value, which no number of
cores changes. Prints a table and, with `--json`, writes `results_closed_forms.json`.

    python benchmarks/bench_closed_forms.py [--scenarios 65536] [--repeats 7] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

HERE = Path(__file__).resolve().parent


def _best(fn, args, repeats: int) -> tuple[float, float]:
    """Best wall time and best CPU time of this process (all its threads) over `repeats`
    calls after a first one: CPU time is the work done, whatever else runs on the machine."""
    import jax

    jax.block_until_ready(fn(*args))
    wall = cpu = float("inf")
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        jax.block_until_ready(fn(*args))
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def cases(n: int, seed: int = 0) -> dict:
    """Per family: scenario spots (n, 1) and per-position terms (m,), float32."""
    rng = np.random.default_rng(seed)
    f = np.float32
    spots = (60000.0 * np.exp(rng.normal(0.0, 0.03, (n, 1)))).astype(f)

    def terms(m: int, lo: float, hi: float) -> dict:
        return dict(strikes=np.linspace(lo, hi, m).astype(f),
                    expiries=rng.choice([7, 14, 30, 60, 90, 180, 365], m).astype(f) / f(365),
                    vols=np.full(m, 0.6, f))

    return dict(spots=spots, european=dict(terms(70, 42000, 78000),
                                           is_call=np.arange(70) % 2 == 0),
                digital=dict(terms(20, 42000, 78000), cash=np.full(20, 6000.0, f)),
                barrier=dict(terms(10, 60000, 60000), barriers=np.full(10, 42000.0, f),
                             # Flags as arrays, as the risk kernel passes them: every case
                             # of the formula is evaluated and selected.
                             is_call=np.zeros(10, bool), is_up=np.zeros(10, bool),
                             is_in=np.zeros(10, bool)))


def numpy_values(kind: str, s: np.ndarray, g: dict, r: float) -> np.ndarray:
    """The baseline's own formulas (`bench_risk.numpy_value`) on this script's terms."""
    from bench_risk import numpy_value

    terms = dict(strike=g["strikes"], vol=g["vols"], cash=g.get("cash"),
                 barrier=g.get("barriers"))
    if kind == "european":
        terms["sign"] = np.where(g["is_call"], 1.0, -1.0).astype(s.dtype)
    return numpy_value(kind, terms, s, g["expiries"], r)


def mcrisk_kernel(kind: str, r: float):
    import jax
    import jax.numpy as jnp

    from mcrisk.analytic import barrier, bs

    def values(s, g):
        common = dict(spots=s, strikes=g["strikes"], expiries=g["expiries"], vols=g["vols"],
                      rates=jnp.float32(r), dividends=jnp.float32(0.0))
        if kind == "european":
            return bs.european(**common, is_call=g["is_call"])
        if kind == "digital":
            return bs.digital(**common, is_call=True, cash=g["cash"])
        return barrier.barrier(**common, barriers=g["barriers"], is_call=g["is_call"],
                               is_up=g["is_up"], is_in=g["is_in"])

    # Summed over the scenarios, as the risk kernel reduces them, so no (n, m) result is
    # copied out of the timed call.
    return jax.jit(lambda s, g: jnp.sum(values(s, g), axis=0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", type=int, default=65536)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import jax
    import jax.numpy as jnp
    from jax.scipy.special import ndtr as jndtr
    from scipy.special import ndtr as sndtr

    n, r = args.scenarios, 0.03
    data = cases(n)
    s = data["spots"]
    rows = []
    load = os.getloadavg()[0]
    for kind in ("european", "digital", "barrier"):
        g = data[kind]
        m = len(g["strikes"])
        kern = mcrisk_kernel(kind, r)
        gj = {k: jnp.asarray(v) for k, v in g.items()}
        t_mc, c_mc = _best(kern, (jnp.asarray(s), gj), args.repeats)
        t_np, c_np = _best(lambda s_, g_: numpy_values(kind, s_, g_, r).sum(axis=0), (s, g),
                           args.repeats)
        ours = np.asarray(kern(jnp.asarray(s), gj), np.float64)
        ref = numpy_values(kind, s.astype(np.float64),
                           {k: v.astype(np.float64) if v.dtype == np.float32 else v
                            for k, v in g.items()}, r).sum(axis=0)
        rows.append(dict(case=kind, positions=m, values=n * m,
                         mcrisk_ns=t_mc / (n * m) * 1e9, numpy_ns=t_np / (n * m) * 1e9,
                         mcrisk_cpu_ns=c_mc / (n * m) * 1e9, numpy_cpu_ns=c_np / (n * m) * 1e9,
                         ratio=t_np / t_mc, cpu_ratio=c_np / c_mc,
                         max_rel_diff=float(np.max(np.abs(ours - ref) / np.abs(ref)))))
    x = jnp.asarray(np.random.default_rng(1).normal(0.0, 2.0, (n, 100)).astype(np.float32))
    xn = np.asarray(x)
    half = np.float32(np.sqrt(0.5))
    for name, fn, ref_fn in (
            ("ndtr", jax.jit(lambda a: jnp.sum(jndtr(a), axis=0)),
             lambda a: sndtr(a).sum(axis=0)),
            ("erf (floor)", jax.jit(lambda a: jnp.sum(jax.lax.erf(a * half), axis=0)),
             lambda a: sndtr(a).sum(axis=0))):
        (t_mc, c_mc), (t_np, c_np) = (_best(fn, (x,), args.repeats),
                                      _best(ref_fn, (xn,), args.repeats))
        rows.append(dict(case=name, positions=100, values=n * 100,
                         mcrisk_ns=t_mc / (n * 100) * 1e9, numpy_ns=t_np / (n * 100) * 1e9,
                         mcrisk_cpu_ns=c_mc / (n * 100) * 1e9,
                         numpy_cpu_ns=c_np / (n * 100) * 1e9, ratio=t_np / t_mc,
                         cpu_ratio=c_np / c_mc, max_rel_diff=None))
    out = dict(when=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               device=str(jax.devices()[0]), jax=jax.__version__, scenarios=n,
               repeats=args.repeats, load_at_start=load, rows=rows)
    print(f"{'case':<12} {'values':>10} {'mcrisk ns':>10} {'numpy ns':>9} {'ratio':>6} "
          f"{'mcrisk cpu ns':>14} {'numpy cpu ns':>13} {'cpu ratio':>9}")
    for row in rows:
        print(f"{row['case']:<12} {row['values']:>10,} {row['mcrisk_ns']:>10.1f} "
              f"{row['numpy_ns']:>9.1f} {row['ratio']:>6.2f} {row['mcrisk_cpu_ns']:>14.1f} "
              f"{row['numpy_cpu_ns']:>13.1f} {row['cpu_ratio']:>9.2f}")
    if args.json:
        (HERE / "results_closed_forms.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
