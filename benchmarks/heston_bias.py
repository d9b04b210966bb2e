"""Discretisation bias of the Heston QE scheme against QuantLib's AnalyticHestonEngine.

Prices the europeans of tests/reference/test_stochastic_models.py with many paths in float64
at several step sizes and prints MC - analytic with its standard error, as a fraction of
spot. The bias bound used in that test (BIAS) must cover what this prints at n_steps=100.

    python benchmarks/heston_bias.py [--paths 1000000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, nargs="+", default=[25, 100])
    args = ap.parse_args()

    import mcrisk
    from tests.reference import qlref
    from tests.reference.test_stochastic_models import DAYS, HESTON, QS, R, SPOTS, STRIKES, _cfg

    print(f"{'steps':>6} {'option':>16} {'MC - analytic':>14} {'s.e.':>9}  (fractions of spot)")
    worst = {}
    for steps in args.steps:
        cfg = _cfg(dict(name="heston", **HESTON), "float64")
        cfg["sim"].update(n_paths=args.paths, n_steps=steps, chunk_size=131_072)
        res = mcrisk.price(cfg)
        for (a, k, o), p in zip(STRIKES, res["positions"]):
            ref = qlref.heston(SPOTS[a], k, DAYS, R, QS[a], *(HESTON[f][a] for f in
                               ("v0", "kappa", "theta", "xi", "rho")), o)
            bias = (p["unit_price"] - ref) / SPOTS[a]
            se = p["unit_stderr"] / SPOTS[a]
            worst[steps] = max(worst.get(steps, 0.0), abs(bias) - 2 * se)
            print(f"{steps:>6} {p['name']:>16} {bias:>14.2e} {se:>9.1e}")
    for steps, w in worst.items():
        print(f"n_steps={steps}: max(|MC - analytic| - 2 s.e.) = {max(w, 0.0):.1e} of spot")


if __name__ == "__main__":
    main()
