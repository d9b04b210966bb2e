"""Speed-up from splitting each chunk over CPU host devices: 1 device against N.

Each device count runs in its own process (XLA reads ``--xla_force_host_platform_device_count``
once, when JAX's CPU backend starts), with everything else the same: the cases of
`bench_pricing` (the default example book, Greeks off, the 252-step arithmetic Asian and
the 10-asset basket),
the same seed, paths and chunk size, a warm-up call that compiles, then the best of
``--repeats`` calls. Prices agree to rounding between device counts (the script checks
1e-9 relative); CPU seconds over wall seconds show how many cores the kernel kept busy.
Each case's NumPy baseline (`bench_pricing.numpy_price`) is timed in the same run, so the
table gives mcrisk's speed over NumPy's at each device count.

Usage::

    python benchmarks/bench_devices.py --paths 1000000 --devices 1 2

Benchmarks are never run as tests; nothing here is imported by the package.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(paths: int, repeats: int, dtype: str, seed: int) -> dict:
    """Time both cases with the devices this process has (called in a subprocess)."""
    # The checkout this script lives in, not whichever mcrisk is installed.
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    import jax

    jax.config.update("jax_threefry_partitionable", True)
    from bench_pricing import time_repeats, with_paths

    import mcrisk

    cases = configs(paths, dtype, seed)
    out = {"devices": jax.local_device_count(), "cases": {}}
    for name, cfg in cases.items():
        mcrisk.price(with_paths(cfg, cfg["sim"]["chunk_size"]))  # compiles
        run = time_repeats(lambda cfg=cfg: mcrisk.price(cfg), repeats)
        res = run["result"]
        out["cases"][name] = {
            "best_s": run["best_s"], "median_s": run["median_s"],
            "paths_per_s": paths / run["best_s"],
            "cpu_per_wall": run["own_cpu_s"] / sum(run["seconds"]),
            "others_cpu_s": run["others_cpu_s"],
            "book_value": res["book"]["value"], "book_stderr": res["book"]["stderr"]}
    return out


def configs(paths: int, dtype: str, seed: int) -> dict:
    from bench_pricing import asian_config, basket10_config, book_config

    book = book_config(paths, dtype, seed)
    chunk = book["sim"]["chunk_size"]
    return {"book": book, "asian252": asian_config(paths, dtype, seed, chunk),
            "basket10": basket10_config(paths, dtype, seed, chunk)}


def numpy_times(args: argparse.Namespace) -> dict:
    """Best of `repeats` of the NumPy baseline of each case (`bench_pricing.numpy_price`),
    timed here, between the device runs' processes, so the ratios come from one run."""
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    from bench_pricing import numpy_price, time_repeats

    return {name: time_repeats(lambda cfg=cfg: numpy_price(cfg), args.repeats)["best_s"]
            for name, cfg in configs(args.paths, args.dtype, args.seed).items()}


def run_with(devices: int, args: argparse.Namespace) -> dict:
    flags = os.environ.get("XLA_FLAGS", "")
    flags = " ".join(f for f in flags.split() if "host_platform_device_count" not in f)
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"{flags} --xla_force_host_platform_device_count={devices}".strip())
    if args.dtype == "float64":
        env["JAX_ENABLE_X64"] = "1"
    cmd = [sys.executable, __file__, "--child", "--paths", str(args.paths), "--repeats",
           str(args.repeats), "--dtype", args.dtype, "--seed", str(args.seed)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    p.add_argument("--dtype", default="float32")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--json", action="store_true", help="write benchmarks/results_devices.json")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.paths, args.repeats, args.dtype, args.seed)))
        return 0
    load_start = os.getloadavg()[0]
    runs = [run_with(d, args) for d in args.devices]
    numpy_s = numpy_times(args)
    base = runs[0]
    print("| case | devices | best s | median s | paths/s | CPU s / wall s | others' CPU s "
          "| speed-up | NumPy s | x NumPy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for case in base["cases"]:
        for r in runs:
            c, b = r["cases"][case], base["cases"][case]
            print(f"| {case} | {r['devices']} | {c['best_s']:.2f} | {c['median_s']:.2f} | "
                  f"{c['paths_per_s']:,.0f} | {c['cpu_per_wall']:.2f} | "
                  f"{c['others_cpu_s'] if c['others_cpu_s'] is None else round(c['others_cpu_s'], 1)} | "
                  f"{b['best_s'] / c['best_s']:.2f} | {numpy_s[case]:.2f} | "
                  f"{numpy_s[case] / c['best_s']:.2f} |")
            rel = abs(c["book_value"] - b["book_value"]) / abs(b["book_value"])
            ok &= rel < 1e-9 if args.dtype == "float64" else rel < 1e-5
    print("prices agree between device counts:", "yes" if ok else "NO")
    if args.json:
        import datetime as dt

        (HERE / "results_devices.json").write_text(json.dumps({
            "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "load_avg_start": load_start, "paths": args.paths, "repeats": args.repeats,
            "dtype": args.dtype, "prices_agree": bool(ok), "runs": runs,
            "numpy_s": numpy_s}, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
