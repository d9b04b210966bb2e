"""Scale: time and peak memory against problem size, each size in its own process.

* ``asian``: the 252-step arithmetic Asian of `bench_pricing.py` at n_paths 10^4 ... 10^8,
  fixed chunk size. A kernel's memory is set by its chunk, not by ``n_paths``, so the peak
  RSS of each child must stay flat as n_paths grows.
* ``risk``: the 100-option closed-form book of `bench_risk.py` at 10^5 ... 10^7 scenarios
  (one-day horizon, full revaluation, streamed tail merge), peak RSS and time.
* ``overhead``: the steady-state cost of a warm `mcrisk.price` call on a 1-position book at
  10^4 paths (median of 20 calls after warm-up), and the compile time of its first call.
* ``rng``: the RNG floor, the time to draw the Asian kernel's normals (same keys, same
  16-step blocks, same scan over 252 steps, same chunk of antithetic pairs; summed so XLA
  cannot drop them) against the time of the Asian's pricing chunk.

Each child runs in a fresh interpreter and reports its peak resident set size (``VmHWM``,
the kernel's high-water mark, also ``ru_maxrss``) after its warm-up call and at the end,
together with its configuration and the machine's load average.

    python benchmarks/bench_scale.py [--asian-paths 1e4 1e5 1e6 1e7 1e8]
        [--risk-scenarios 1e5 1e6 1e7] [--chunk 65536] [--timeout 900] [--json]

Benchmarks are never run as tests; nothing here is imported by the package.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_JSON = HERE / "results_scale.json"


# --------------------------------------------------------------------------- child side

def memory_mib() -> dict:
    """Current and peak RSS of this process, MiB (Linux /proc, ru_maxrss as a fallback)."""
    out = {"ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    key, kb = line.split()[:2]
                    out[{"VmHWM:": "peak_rss_mib", "VmRSS:": "rss_mib"}[key]] = int(kb) / 1024
    except OSError:
        out["peak_rss_mib"] = out["ru_maxrss_mib"]
    return out


def _setup() -> None:
    # Time the checkout this script lives in, not whichever mcrisk is installed.
    sys.path[:0] = [str(ROOT), str(HERE)]


def child_asian(paths: int, chunk: int, dtype: str, seed: int) -> dict:
    _setup()
    from bench_pricing import CompileClock, asian_config, with_paths

    import jax.monitoring

    import mcrisk

    clock = CompileClock()
    jax.monitoring.register_event_duration_secs_listener(clock)
    cfg = asian_config(paths, dtype, seed, chunk)
    t0 = time.perf_counter()
    mcrisk.price(with_paths(cfg, min(paths, chunk)))  # compiles the one-chunk kernel
    warm_s = time.perf_counter() - t0
    mem_warm = memory_mib()
    compiles = clock.count
    t0 = time.perf_counter()
    res = mcrisk.price(cfg)
    run_s = time.perf_counter() - t0
    pos = res["positions"][0]
    return {"case": "asian", "config": cfg["sim"], "mcrisk_file": mcrisk.__file__,
            "warmup_s": warm_s, "compile_s": clock.seconds, "seconds": run_s,
            "paths_per_s": paths / run_s, "recompiled": clock.count - compiles,
            "price": pos["unit_price"], "stderr": pos["unit_stderr"],
            "memory_after_warmup": mem_warm, "memory": memory_mib()}


def child_risk(scenarios: int, chunk: int, dtype: str) -> dict:
    _setup()
    from bench_risk import book100_config

    import mcrisk

    cfg = book100_config(scenarios, dtype, chunk)
    warm = book100_config(min(scenarios, chunk), dtype, chunk)
    t0 = time.perf_counter()
    mcrisk.risk(warm)  # compiles the scenario and revaluation kernels at this chunk shape
    warm_s = time.perf_counter() - t0
    mem_warm = memory_mib()
    t0 = time.perf_counter()
    res = mcrisk.risk(cfg)
    run_s = time.perf_counter() - t0
    return {"case": "risk", "config": cfg["sim"], "positions": len(cfg["portfolio"]["positions"]),
            "mcrisk_file": mcrisk.__file__, "warmup_s": warm_s, "seconds": run_s,
            "scenarios_per_s": scenarios / run_s, "var": res["var"], "es": res["es"],
            "memory_after_warmup": mem_warm, "memory": memory_mib()}


def child_overhead(paths: int, calls: int, dtype: str) -> dict:
    _setup()
    from bench_pricing import CompileClock

    import jax.monitoring

    import mcrisk

    clock = CompileClock()
    jax.monitoring.register_event_duration_secs_listener(clock)
    cfg = {"market": {"assets": ["X"], "spot": [100.0], "vol": [0.3], "rate": 0.03},
           "model": {"name": "gbm"},
           "sim": {"n_paths": paths, "seed": 1, "dtype": dtype},
           "greeks": {"enabled": False},
           "portfolio": {"positions": [{"name": "call", "type": "european", "asset": "X",
                                        "option": "call", "strike": 100.0, "expiry": 1.0}]}}
    t0 = time.perf_counter()
    res = mcrisk.price(cfg)
    first_s = time.perf_counter() - t0
    compile_s, compiles = clock.seconds, clock.count
    for _ in range(3):
        mcrisk.price(cfg)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        mcrisk.price(cfg)
        times.append(time.perf_counter() - t0)
    return {"case": "overhead", "config": cfg["sim"], "n_steps": res["n_steps"],
            "first_call_s": first_s, "compile_s": compile_s, "calls": calls,
            "median_s": statistics.median(times), "best_s": min(times), "seconds": times,
            "recompiled": clock.count - compiles, "memory": memory_mib()}


def child_rng(chunk: int, dtype: str, seed: int, repeats: int) -> dict:
    """The Asian's pricing chunk against drawing its normals alone, same shapes."""
    _setup()
    from bench_pricing import asian_config

    import jax
    import jax.numpy as jnp

    from mcrisk.config import build
    from mcrisk.engine import prepare, price_chunk
    from mcrisk.random import BLOCK, index_keys, n_normals, next_normals

    prep = prepare(build(asian_config(chunk, dtype, seed, chunk)))
    spec, xs = prep.spec, prep.xs
    layout = spec.layout
    root = jax.random.key(seed)
    start = jnp.asarray(0, jnp.uint32)
    n_valid = jnp.asarray(spec.samples, jnp.int32)

    @jax.jit
    def floor(root, start, ks):
        # The kernel's draws: one key per sample (an antithetic pair shares it), one block of
        # normals per 16 steps refilled inside the scan; the mirror only negates them.
        def per_sample(key):
            def body(carry, k):
                acc, buf = carry
                z, buf = next_normals(key, k, ks[0], buf, layout)
                return (acc + z, buf), None

            buf0 = jnp.zeros((BLOCK, n_normals(layout)), jnp.dtype(dtype))
            acc0 = jnp.zeros((n_normals(layout),), jnp.dtype(dtype))
            (acc, _), _ = jax.lax.scan(body, (acc0, buf0), ks)
            return acc

        idx = start + jnp.arange(spec.samples, dtype=jnp.uint32)
        return jnp.sum(jax.vmap(per_sample)(index_keys(root, idx)))

    def best_of(fn) -> float:
        jax.block_until_ready(fn())
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            best = min(best, time.perf_counter() - t0)
        return best

    t_kernel = best_of(lambda: price_chunk(spec, prep.params, prep.terms, xs, prep.quantities,
                                           root, start, n_valid, devices=prep.devices))
    t_floor = best_of(lambda: floor(root, start, xs["k"]))
    normals = spec.samples * int(xs["k"].shape[0]) * n_normals(layout)
    return {"case": "rng", "chunk_paths": chunk, "samples": spec.samples, "steps":
            int(xs["k"].shape[0]), "normals": normals, "dtype": dtype, "repeats": repeats,
            "kernel_s": t_kernel, "rng_floor_s": t_floor, "kernel_over_floor": t_kernel / t_floor,
            "normals_per_s": normals / t_floor}


# --------------------------------------------------------------------------- parent side

def run_child(args: list[str], timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    cmd = [sys.executable, __file__, "--child", *args]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    # The child's peak RSS is sampled from outside too, so a child killed at the timeout
    # still reports how far its memory had grown.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    hwm = 0.0
    try:
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                hwm = max(hwm, _hwm_mib(proc.pid))
                if time.perf_counter() - t0 > timeout:
                    proc.kill()
                    proc.communicate()
                    return {"error": f"timed out after {timeout:.0f} s (peak RSS by then "
                                     f"{hwm:,.0f} MiB)", "child_args": args,
                            "load_start": load, "peak_rss_sampled_mib": hwm}
    finally:
        if proc.poll() is None:
            proc.kill()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = stderr.strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}", "child_args": args,
                "load_start": load, "process_s": wall, "peak_rss_sampled_mib": hwm}
    out = subprocess.CompletedProcess(cmd, 0, stdout, stderr)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return dict(res, child_args=args, load_start=load, load_end=os.getloadavg()[0],
                process_s=wall, peak_rss_sampled_mib=hwm)


def _hwm_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def mib(r: dict, key: str = "memory") -> str:
    return f"{r[key]['peak_rss_mib']:,.0f}" if key in r else "-"


def report(out: dict) -> str:
    lines = ["| case | size | chunk | seconds | per second | peak RSS after warm-up MiB "
             "| peak RSS MiB | load |", "|" + "---|" * 8]
    for r in out["asian"] + out["risk"]:
        size = r["child_args"][r["child_args"].index("--size") + 1]
        if "error" in r:
            lines.append(f"| {r['child_args'][0]} | {int(size):,} | | {r['error']} | | | "
                         f"| {r['load_start']:.1f} |")
            continue
        rate = r.get("paths_per_s") or r.get("scenarios_per_s")
        lines.append(f"| {r['case']} | {int(size):,} | {r['config']['chunk_size']:,} "
                     f"| {r['seconds']:.2f} | {rate:,.0f} | {mib(r, 'memory_after_warmup')} "
                     f"| {mib(r)} | {r['load_start']:.1f} |")
    o = out.get("overhead")
    if o and "error" not in o:
        lines.append(f"\noverhead: warm mcrisk.price, 1 position, {o['config']['n_paths']:,} "
                     f"paths: median {o['median_s'] * 1e3:.1f} ms, best {o['best_s'] * 1e3:.1f} "
                     f"ms over {o['calls']} calls; first call {o['first_call_s']:.2f} s of which "
                     f"compile {o['compile_s']:.2f} s (load {o['load_start']:.1f})")
    g = out.get("rng")
    if g and "error" not in g:
        lines.append(f"rng floor: {g['normals']:,} normals ({g['samples']:,} samples x "
                     f"{g['steps']} steps) in {g['rng_floor_s'] * 1e3:.1f} ms; Asian chunk "
                     f"{g['kernel_s'] * 1e3:.1f} ms = {g['kernel_over_floor']:.2f}x the floor "
                     f"(load {g['load_start']:.1f})")
    return "\n".join(lines)


def environment() -> dict:
    import jax

    return {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "jax": jax.__version__, "devices": [repr(d) for d in jax.devices()],
            "python": platform.python_version(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "load_avg_start": list(os.getloadavg())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--asian-paths", type=float, nargs="*",
                    default=[1e4, 1e5, 1e6, 1e7, 1e8])
    ap.add_argument("--risk-scenarios", type=float, nargs="*", default=[1e5, 1e6, 1e7])
    ap.add_argument("--chunk", type=int, default=65536, help="sim.chunk_size of every run")
    ap.add_argument("--risk-chunk", type=int, default=65536)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--overhead-calls", type=int, default=20)
    ap.add_argument("--rng-repeats", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=900, help="seconds per child")
    ap.add_argument("--skip", nargs="*", default=[], choices=["asian", "risk", "overhead", "rng"])
    ap.add_argument("--json", nargs="?", const=DEFAULT_JSON, default=None, type=Path)
    ap.add_argument("--child", nargs="?", const="", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=float, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        n = int(args.size)
        res = {"asian": lambda: child_asian(n, args.chunk, args.dtype, args.seed),
               "risk": lambda: child_risk(n, args.risk_chunk, args.dtype),
               "overhead": lambda: child_overhead(n, args.overhead_calls, args.dtype),
               "rng": lambda: child_rng(args.chunk, args.dtype, args.seed, args.rng_repeats),
               }[args.child]()
        print(json.dumps(res))
        return 0

    common = ["--chunk", str(args.chunk), "--risk-chunk", str(args.risk_chunk), "--dtype",
              args.dtype, "--seed", str(args.seed), "--overhead-calls",
              str(args.overhead_calls), "--rng-repeats", str(args.rng_repeats)]
    out = {"environment": environment(), "args": {k: str(v) for k, v in vars(args).items()},
           "asian": [], "risk": []}
    t0 = time.perf_counter()
    if "overhead" not in args.skip:
        out["overhead"] = run_child(["overhead", "--size", "10000", *common], args.timeout)
    if "rng" not in args.skip:
        out["rng"] = run_child(["rng", "--size", "0", *common], args.timeout)
    for case, sizes in (("asian", args.asian_paths), ("risk", args.risk_scenarios)):
        if case in args.skip:
            continue
        for n in sizes:
            r = run_child([case, "--size", str(int(n)), *common], args.timeout)
            out[case].append(r)
            print(f"{case} {int(n):,}: " + (r["error"] if "error" in r else
                  f"{r['seconds']:.1f} s, peak RSS {r['memory']['peak_rss_mib']:,.0f} MiB"),
                  flush=True)
            if "error" in r:
                break  # larger sizes would fail the same way, only later
    out["total_s"] = time.perf_counter() - t0
    print(report(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
