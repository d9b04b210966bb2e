"""Time a risk run: 10^6 scenarios of a 100-option book (three assets, GBM, one-day horizon).

Every option here has a closed form at the horizon (europeans, digitals, barriers), so the
run is scenario simulation + full revaluation + streamed tail merge, no nested Monte Carlo.
Also runs the default example book (with nested Asian/basket revaluation) at a smaller size,
and reports the delta-gamma error against full revaluation on the same scenarios.

    python benchmarks/bench_risk.py [--scenarios 1000000] [--dtype float32]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def option_book(n_options: int = 100) -> list[dict]:
    rng = np.random.default_rng(1)
    spots = {"BTC": 60000.0, "ETH": 3000.0, "SOL": 150.0}
    book = []
    for i in range(n_options):
        asset = list(spots)[i % 3]
        s = spots[asset]
        expiry = float(rng.choice([7, 14, 30, 60, 90, 180, 365])) / 365
        strike = float(round(s * rng.uniform(0.7, 1.3), 2))
        qty = float(rng.choice([-20, -10, -5, 5, 10, 20]))
        kind = i % 10
        if kind < 7:
            book.append(dict(type="european", asset=asset, option=["call", "put"][i % 2],
                             strike=strike, expiry=expiry, quantity=qty))
        elif kind < 9:
            book.append(dict(type="digital", asset=asset, option="call", strike=strike,
                             expiry=expiry, quantity=qty, cash=s * 0.1))
        else:
            book.append(dict(type="barrier", asset=asset, option="put", strike=s,
                             barrier=s * 0.7, barrier_type="down-and-out", expiry=expiry,
                             quantity=qty))
    return book


def rerun(risk, cfg: dict, calls: int = 3) -> dict:
    """A risk screen's use: the first call (compiles), then `calls` calls on a moved market
    (spots and vols +1% each time, same shapes), which should compile nothing."""
    import copy

    t0 = time.perf_counter()
    risk(cfg)
    first = time.perf_counter() - t0
    times = []
    for k in range(1, calls + 1):
        c = copy.deepcopy(cfg)
        c["market"]["spot"] = [x * 1.01 ** k for x in c["market"]["spot"]]
        c["market"]["vol"] = [x * 1.01 ** k for x in c["market"]["vol"]]
        t0 = time.perf_counter()
        risk(c)
        times.append(time.perf_counter() - t0)
    return {"first_seconds": first, "rerun_seconds": times,
            "rerun_best": min(times), "rerun_median": float(np.median(times))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=1_000_000)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import jax

    import mcrisk

    cfg = dict(
        market=dict(assets=["BTC", "ETH", "SOL"], spot=[60000.0, 3000.0, 150.0],
                    vol=[0.6, 0.75, 0.95], rate=0.03,
                    corr=[[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]]),
        model=dict(name="gbm"),
        sim=dict(n_paths=args.scenarios, n_steps=64, seed=0, dtype=args.dtype,
                 chunk_size=65536),
        greeks=dict(enabled=False),
        portfolio=dict(positions=option_book()),
        risk=dict(horizon=1 / 365, margin=dict(enabled=False)))
    t0 = time.perf_counter()
    res = mcrisk.risk(cfg)
    big = time.perf_counter() - t0

    from mcrisk.config.store import compose

    ex = compose([f"sim.n_paths={50_000}", f"sim.dtype={args.dtype}", "risk.method=delta_gamma"])
    t1 = time.perf_counter()
    exr = mcrisk.risk(ex)
    small = time.perf_counter() - t1

    warm = dict(cfg, sim=dict(cfg["sim"], n_paths=10_000, chunk_size=10_000))
    warm100 = rerun(mcrisk.risk, warm)
    from omegaconf import OmegaConf

    exw = OmegaConf.to_container(compose([f"sim.n_paths={10_000}", f"sim.dtype={args.dtype}"]))
    warm_ex = rerun(mcrisk.risk, exw)

    out = {
        "device": str(jax.devices()[0]), "jax": jax.__version__, "dtype": args.dtype,
        "book100": {"scenarios": args.scenarios, "positions": 100, "seconds": big,
                    "scenarios_per_second": args.scenarios / big, "var": res["var"],
                    "es": res["es"]},
        "example": {"scenarios": 50_000, "seconds": small, "var": exr["var"], "es": exr["es"],
                    "delta_gamma_var": exr["delta_gamma"]["var"],
                    "delta_gamma_var_error": exr["delta_gamma"]["var_error"],
                    "delta_gamma_es_error": exr["delta_gamma"]["es_error"],
                    "methods": exr["methods_at_horizon"]},
        "warm_rerun": {"book100_10k": warm100, "example_10k": warm_ex},
    }
    print(f"device {out['device']}  jax {out['jax']}  dtype {args.dtype}")
    print(f"100-option book, {args.scenarios:,} scenarios, 1-day horizon: {big:.1f} s "
          f"({args.scenarios / big:,.0f} scenarios/s, compile included)")
    print(f"example book, 50,000 scenarios (nested Asian/basket): {small:.1f} s")
    for name, w in (("100-option book", warm100), ("example book", warm_ex)):
        print(f"{name}, 10,000 scenarios: first call {w['first_seconds']:.2f} s, re-run on a "
              f"moved market best {w['rerun_best']:.2f} s, median {w['rerun_median']:.2f} s")
    print("level      full VaR   delta-gamma VaR     error    full ES    DG ES error")
    for k in exr["var"]:
        print(f"{k:>6} {exr['var'][k]:>12,.0f} {exr['delta_gamma']['var'][k]:>16,.0f} "
              f"{exr['delta_gamma']['var_error'][k]:>+10,.0f} {exr['es'][k]:>10,.0f} "
              f"{exr['delta_gamma']['es_error'][k]:>+12,.0f}")
    if args.json:
        (Path(__file__).parent / "results_risk.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
