"""Pricing throughput: `mcrisk.price` against a plain NumPy Monte Carlo of the same model.

Three cases, each priced by every implementation on the same time grid and (QuantLib aside,
see ``--ql-paths``) the same number of paths. Prices must agree statistically,
|a - b| <= 4 sqrt(se_a^2 + se_b^2), so a fast but wrong implementation cannot win:

* ``book``: the default example book, ``conf/config.yaml`` composed with its groups (BTC/ETH
  under correlated GBM: a european, a down-and-out put monitored through the Brownian
  bridge, a 12-fixing arithmetic Asian, a basket call, spot and a perpetual). mcrisk is
  timed with Greeks off, then once more with Greeks on.
* ``asian252``: one arithmetic Asian call with 252 fixings over one year on 252 steps,
  also priced by QuantLib's ``MCDiscreteArithmeticAPEngine`` as an outside reference.
* ``basket10``: an equally weighted call on 10 GBM assets (all correlations 0.5), one year
  on 52 steps: ten correlated normals per step, the payoff at expiry.

mcrisk's first call traces and compiles its kernels. That cost is reported on its own
(JAX's compile events, summed), measured on a warm-up call of one chunk: the kernel's
shapes depend on the chunk size, not on ``n_paths``, so the timed calls must not compile
again, and the script says so if they do.

Usage::

    python benchmarks/bench_pricing.py --paths 1000000 --ql-paths 200000 [--dtype float64] [--json]

Benchmarks are never run as tests; nothing here is imported by the package.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# Time the checkout this script lives in, not whichever mcrisk is installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mcrisk  # noqa: E402
from mcrisk.config.positions import event_times  # noqa: E402
from mcrisk.grid import make_grid  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results_pricing.json"
N_SE = 4.0  # agreement tolerance in combined standard errors, as in tests/reference
COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                  "/jax/core/compile/jaxpr_to_mlir_module_duration",
                  "/jax/core/compile/backend_compile_duration")
NUMPY_TYPES = ("spot", "perpetual", "european", "basket", "barrier", "asian")
PRICING_KEYS = ("market", "model", "sim", "greeks", "portfolio")


# --------------------------------------------------------------------------- configs

def book_config(paths: int, dtype: str, seed: int) -> dict:
    """The default example book: ``conf/config.yaml`` composed by Hydra, as a plain dict.

    Only the sections pricing reads are kept, and fields left unset (None) are dropped, so
    the dict is what a user would pass to `mcrisk.price` by hand.
    """
    from omegaconf import OmegaConf

    from mcrisk.config.store import compose

    cfg = OmegaConf.to_container(compose([
        f"sim.n_paths={paths}", f"sim.dtype={dtype}", f"sim.seed={seed}",
        "greeks.enabled=false"]), resolve=True)
    return {key: _drop_unset(cfg[key]) for key in PRICING_KEYS if cfg.get(key) is not None}


def _drop_unset(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _drop_unset(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_unset(v) for v in x]
    return x


def asian_config(paths: int, dtype: str, seed: int, chunk_size: int) -> dict:
    return {
        "market": {"assets": ["X"], "spot": [100.0], "vol": [0.6], "rate": 0.03},
        "model": {"name": "gbm"},
        "sim": {"n_paths": paths, "n_steps": 252, "seed": seed, "antithetic": True,
                "dtype": dtype, "chunk_size": chunk_size},
        "greeks": {"enabled": False},
        "portfolio": {"positions": [
            {"name": "asian_252", "type": "asian", "asset": "X", "option": "call",
             "strike": 100.0, "expiry": 1.0, "fixings": 252, "average": "arithmetic"}]},
    }


def basket10_config(paths: int, dtype: str, seed: int, chunk_size: int) -> dict:
    n = 10
    names = [f"A{i}" for i in range(n)]
    corr = np.full((n, n), 0.5) + 0.5 * np.eye(n)
    return {
        "market": {"assets": names, "spot": [100.0] * n,
                   "vol": [0.2 + 0.02 * i for i in range(n)], "rate": 0.03,
                   "corr": corr.tolist()},
        "model": {"name": "gbm"},
        "sim": {"n_paths": paths, "n_steps": 52, "seed": seed, "antithetic": True,
                "dtype": dtype, "chunk_size": chunk_size},
        "greeks": {"enabled": False},
        "portfolio": {"positions": [
            {"name": "basket10", "type": "basket", "assets": names, "weights": [0.1] * n,
             "option": "call", "strike": 100.0, "expiry": 1.0, "quantity": 1}]},
    }


def with_paths(cfg: dict, paths: int, greeks: bool | None = None) -> dict:
    out = copy.deepcopy(cfg)
    out["sim"]["n_paths"] = paths
    if greeks is not None:
        out["greeks"]["enabled"] = greeks
    return out


# --------------------------------------------------------------------------- NumPy reference

def numpy_price(cfg: dict) -> dict[str, tuple[float, float]]:
    """Price a GBM book with vectorised NumPy on mcrisk's time grid.

    The scheme is mcrisk's: exact log-Euler steps ``x += (r - q - sigma^2/2) dt +
    sigma sqrt(dt) L z``, antithetic pairs (a sample is the mean of a path and its mirror),
    payoffs discounted at ``exp(-r T)``, down/up barriers monitored continuously through
    the Brownian-bridge survival probability of each step, Asian fixings at ``i T / n``.
    Paths are processed in chunks of ``sim.chunk_size`` with one ``PCG64`` generator
    seeded by ``sim.seed``, so the draws differ from mcrisk's and only the statistics can
    agree.

    Args:
        cfg: a config dict whose positions are all of NUMPY_TYPES and whose model is gbm.

    Returns:
        ``{position name: (unit price, unit stderr)}`` plus ``"book"``: (value, stderr),
        all float64.
    """
    problem = mcrisk.build(cfg)
    if problem.model.name != "gbm":
        raise ValueError("the NumPy reference implements gbm only")
    bad = [p.type for p in problem.positions if p.type not in NUMPY_TYPES]
    if bad:
        raise ValueError(f"the NumPy reference has no payoff for {bad}")
    if not problem.sim.antithetic:
        raise ValueError("the NumPy reference simulates antithetic pairs only")
    sim, m = problem.sim, problem.market
    ft = np.dtype(sim.dtype)
    n = m.n_assets
    grid = make_grid([t for p in problem.positions for t in event_times(p)], sim.n_steps)
    steps = grid.n_steps
    dts = grid.dt
    # The same tiny ridge as mcrisk's Cholesky, so a singular input matrix factorises too.
    chol = np.linalg.cholesky(m.corr + 1e-14 * np.eye(n)).astype(ft)
    drift = ((m.rate - m.dividends - 0.5 * m.vols ** 2)[:, None] * dts[None, :]).astype(ft)
    scale = (m.vols[:, None] * np.sqrt(dts)[None, :]).astype(ft)  # (assets, steps)
    var = (m.vols[:, None] ** 2 * dts[None, :]).astype(ft)
    x_init = np.log(m.spots).astype(ft)

    def step_of(t: float) -> int:
        return grid.index_of(t) - 1  # step k ends at times[k + 1]

    positions = problem.positions
    snap_steps = sorted({step_of(p.terms["expiry"]) for p in positions
                         if p.type in ("european", "basket", "barrier")})
    asians = [p for p in positions if p.type == "asian"]
    fixing = np.zeros((len(asians), steps), bool)
    for j, p in enumerate(asians):
        for t in event_times(p):
            fixing[j, step_of(t)] = True
    barriers = [p for p in positions if p.type == "barrier"]
    # A step counts while it ends on or before the expiry (mcrisk's rule, same tolerance).
    live = np.array([grid.times[1:] <= p.terms["expiry"] * (1 + 1e-12) for p in barriers]
                    ).reshape(len(barriers), steps)
    log_level = [ft.type(math.log(p.terms["barrier"])) for p in barriers]
    asian_of = {p.name: j for j, p in enumerate(asians)}
    barrier_of = {p.name: j for j, p in enumerate(barriers)}

    rng = np.random.default_rng(sim.seed)
    pairs_total = sim.n_paths // 2
    pairs_chunk = max(1, sim.chunk_size // 2)
    acc_n, acc_mean, acc_m2 = 0.0, None, None
    for start in range(0, pairs_total, pairs_chunk):
        half = min(pairs_chunk, pairs_total - start)
        # Layout (assets, side, pairs): each asset's values are contiguous, side 1 mirrors.
        x = np.empty((n, 2, half), ft)
        x[...] = x_init[:, None, None]
        snaps: dict[int, np.ndarray] = {}
        sums = np.zeros((len(asians), 2, half), ft)
        alive = np.ones((len(barriers), 2, half), ft)
        for k in range(steps):
            z = rng.standard_normal((n, half), dtype=ft)
            dw = chol @ z if n > 1 else z
            dw *= scale[:, k, None]
            x0 = {j: x[p.assets[0]].copy() for j, p in enumerate(barriers) if live[j, k]}
            x += drift[:, k, None, None]
            x[:, 0] += dw
            x[:, 1] -= dw
            for j, x_prev in x0.items():
                p = barriers[j]
                a = p.assets[0]
                if p.terms["up"]:
                    d0, d1 = log_level[j] - x_prev, log_level[j] - x[a]
                else:
                    d0, d1 = x_prev - log_level[j], x[a] - log_level[j]
                # Bridge survival between the step's endpoints; zero once either is beyond.
                np.maximum(d0, 0, out=d0)
                d1 = np.maximum(d1, 0)
                alive[j] *= -np.expm1(ft.type(-2.0) * d0 * d1 / var[a, k])
            for j in np.flatnonzero(fixing[:, k]):
                sums[j] += np.exp(x[asians[j].assets[0]])
            if k in snap_steps:
                snaps[k] = np.exp(x)

        cols = []
        for p in positions:
            if p.type in ("spot", "perpetual"):
                # Valued today: the spot, less the entry price for a perpetual.
                value = m.spots[p.assets[0]] - p.terms.get("entry_price", 0.0)
                cols.append(np.full(half, value, np.float64))
                continue
            sign = 1.0 if p.terms.get("option", "call") == "call" else -1.0
            expiry = p.terms["expiry"]
            if p.type == "asian":
                j = asian_of[p.name]
                avg = sums[j] / ft.type(p.terms["fixings"])
                pay = np.maximum(ft.type(sign) * (avg - ft.type(p.terms["strike"])), 0)
            else:
                s = snaps[step_of(expiry)]
                if p.type == "basket":
                    weights = zip(p.assets, p.terms["weights"], strict=True)
                    u = sum(ft.type(w) * s[a] for a, w in weights)
                else:
                    u = s[p.assets[0]]
                pay = np.maximum(ft.type(sign) * (u - ft.type(p.terms["strike"])), 0)
                if p.type == "barrier":
                    j = barrier_of[p.name]
                    pay = pay * (1 - alive[j] if p.terms["knock_in"] else alive[j])
            pay = pay * ft.type(math.exp(-m.rate * expiry))
            cols.append((0.5 * (pay[0] + pay[1])).astype(np.float64))
        vals = np.stack(cols, axis=1)
        q = np.array([p.quantity for p in positions])
        vals = np.concatenate([vals, (vals @ q)[:, None]], axis=1)
        # Chan et al.'s merge, chunk by chunk in float64 (what mcrisk does on the host).
        c_mean = vals.mean(axis=0)
        c_m2 = ((vals - c_mean) ** 2).sum(axis=0)
        if acc_mean is None:
            acc_n, acc_mean, acc_m2 = float(half), c_mean, c_m2
        else:
            tot = acc_n + half
            delta = c_mean - acc_mean
            acc_mean = acc_mean + delta * half / tot
            acc_m2 = acc_m2 + c_m2 + delta ** 2 * acc_n * half / tot
            acc_n = tot
    se = np.sqrt(acc_m2 / max(acc_n - 1.0, 1.0) / acc_n)
    out = {p.name: (float(acc_mean[i]), float(se[i])) for i, p in enumerate(positions)}
    out["book"] = (float(acc_mean[-1]), float(se[-1]))
    return out


def mcrisk_prices(result: dict) -> dict[str, tuple[float, float]]:
    out = {p["name"]: (p["unit_price"], p["unit_stderr"]) for p in result["positions"]}
    out["book"] = (result["book"]["value"], result["book"]["stderr"])
    return out


# --------------------------------------------------------------------------- QuantLib

def quantlib_asian(cfg: dict, paths: int) -> dict[str, tuple[float, float]]:
    """QuantLib's MC arithmetic Asian on the case's 252 fixings (antithetic, no control variate).

    Fixings at i/252 years are not whole days, and QuantLib's Business252 day counter (which
    would make them so) costs microseconds per call and dominates its run time. So the
    contract is restated in a clock where one day is 1/365 year: fixing i on day i, expiry
    on day 252, and rate and variance scaled by 365/252. GBM is time-homogeneous, so the
    price is unchanged and QuantLib simulates exactly mcrisk's grid. With antithetic
    variates one QuantLib sample is a pair of paths, hence ``requiredSamples = paths / 2``.
    """
    import QuantLib as ql

    m, pos = cfg["market"], cfg["portfolio"]["positions"][0]
    fixings = pos["fixings"]
    if pos["expiry"] != 1.0 or fixings != 252:
        raise ValueError("the QuantLib case assumes 252 fixings over exactly one year")
    today = ql.Date(2, 1, 2025)
    # QuantLib reads its evaluation date from a global; set it right before use.
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    stretch = 365.0 / fixings  # contract years per calendar year

    def curve(r: float):
        return ql.YieldTermStructureHandle(ql.FlatForward(today, r * stretch, dc))

    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(m["spot"][0])), curve(0.0), curve(m["rate"]),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(
            today, ql.NullCalendar(), m["vol"][0] * math.sqrt(stretch), dc)))
    dates = [today + i for i in range(1, fixings + 1)]
    opt = ql.DiscreteAveragingAsianOption(
        ql.Average.Arithmetic, 0.0, 0, dates, ql.PlainVanillaPayoff(ql.Option.Call, pos["strike"]),
        ql.EuropeanExercise(dates[-1]))
    # QuantLib takes seed 0 to mean "seed from the clock"; keep runs repeatable.
    opt.setPricingEngine(ql.MCDiscreteArithmeticAPEngine(
        process, "pseudorandom", brownianBridge=False, antitheticVariate=True,
        controlVariate=False, requiredSamples=paths // 2, seed=cfg["sim"]["seed"] + 1))
    return {pos["name"]: (opt.NPV(), opt.errorEstimate())}


# --------------------------------------------------------------------------- timing

class CompileClock:
    """Seconds JAX spent tracing, lowering and compiling, from its monitoring events."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0

    def __call__(self, event: str, duration: float, **_: Any) -> None:
        if event in COMPILE_EVENTS:
            self.seconds += duration
            if event == COMPILE_EVENTS[-1]:
                self.count += 1


def busy_cpu_s() -> float | None:
    """CPU-seconds used by the whole machine since boot (Linux), to spot competing work."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def wall(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def time_repeats(fn: Callable[[], Any], repeats: int, clock: CompileClock | None = None
                 ) -> dict:
    seconds, out = [], None
    compiles = clock.count if clock else 0
    busy0, own0 = busy_cpu_s(), own_cpu_s()
    for _ in range(repeats):
        s, out = wall(fn)
        seconds.append(s)
    busy1, own1 = busy_cpu_s(), own_cpu_s()
    others = None if busy0 is None else max(0.0, (busy1 - busy0) - (own1 - own0))
    return dict(seconds=seconds, best_s=min(seconds), median_s=statistics.median(seconds),
                result=out, recompiled=(clock.count - compiles) if clock else 0,
                own_cpu_s=own1 - own0, others_cpu_s=others)


def time_alternating(fns: dict[str, Callable[[], Any]], repeats: int,
                     clock: CompileClock | None = None) -> dict[str, dict]:
    """`time_repeats` of several implementations, called in turns (a, b, a, b, ...): this
    VM's speed drifts by tens of percent within a minute, and taken in turns every
    implementation sees the same drift. Adds `paired_ratios`: per round, each
    implementation's time over the first's."""
    acc = {k: dict(seconds=[], own=0.0, others=0.0, recompiled=0, result=None) for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            compiles = clock.count if clock else 0
            busy0, own0 = busy_cpu_s(), own_cpu_s()
            s, acc[k]["result"] = wall(fn)
            busy1, own1 = busy_cpu_s(), own_cpu_s()
            acc[k]["seconds"].append(s)
            acc[k]["own"] += own1 - own0
            if busy0 is not None:
                acc[k]["others"] += max(0.0, (busy1 - busy0) - (own1 - own0))
            acc[k]["recompiled"] += (clock.count - compiles) if clock else 0
    first = acc[next(iter(fns))]["seconds"]
    return {k: dict(seconds=a["seconds"], best_s=min(a["seconds"]),
                    median_s=statistics.median(a["seconds"]), result=a["result"],
                    recompiled=a["recompiled"], own_cpu_s=a["own"],
                    others_cpu_s=a["others"] if busy_cpu_s() is not None else None,
                    paired_ratios=[t / f for t, f in zip(a["seconds"], first)])
            for k, a in acc.items()}


def warm_mcrisk(cfg: dict, paths: int, clock: CompileClock) -> tuple[Callable, dict]:
    """Warm up on one chunk (compiles everything); return the timed call and the warm-up's
    compile and wall seconds."""
    warm_paths = min(paths, cfg["sim"]["chunk_size"])
    before = clock.seconds
    first_s, _ = wall(lambda: mcrisk.price(with_paths(cfg, warm_paths)))
    full = with_paths(cfg, paths)
    return (lambda: mcrisk.price(full)), dict(compile_s=clock.seconds - before,
                                              warmup_s=first_s, warmup_paths=warm_paths)


def time_mcrisk(cfg: dict, paths: int, repeats: int, clock: CompileClock) -> dict:
    """Warm up on one chunk (compiles everything), then time `repeats` full calls."""
    call, warm = warm_mcrisk(cfg, paths, clock)
    return dict(time_repeats(call, repeats, clock), **warm)


def time_against_numpy(cfg: dict, paths: int, repeats: int, clock: CompileClock
                       ) -> tuple[dict, dict]:
    """mcrisk (warmed up) and `numpy_price` of `cfg`, timed in turns."""
    call, warm = warm_mcrisk(cfg, paths, clock)
    runs = time_alternating({"mcrisk": call, "numpy": lambda: numpy_price(cfg)}, repeats,
                            clock)
    return dict(runs["mcrisk"], **warm), runs["numpy"]


def row(case: str, impl: str, paths: int, run: dict, base_pps: float | None) -> dict:
    pps = paths / run["best_s"]
    return dict(case=case, implementation=impl, paths=paths, compile_s=run.get("compile_s"),
                best_s=run["best_s"], median_s=run["median_s"], seconds=run["seconds"],
                paths_per_s=pps,
                # Throughput ratio, so rows with a different path count still compare;
                # with equal paths it is (this row's time) / (mcrisk's time).
                ratio=(base_pps / pps) if base_pps else 1.0,
                recompiled=run.get("recompiled", 0), own_cpu_s=run["own_cpu_s"],
                others_cpu_s=run["others_cpu_s"],
                # Median over the rounds of (this row's time) / (mcrisk's, same round).
                paired_ratio=(statistics.median(run["paired_ratios"])
                              if "paired_ratios" in run and base_pps else None))


def agree(case: str, ref_impl: str, ref: dict, impl: str, other: dict,
          atol: float = 0.0) -> list[dict]:
    """One row per price both sides have; `atol` covers values with no sampling error."""
    out = []
    for name, (a, se_a) in ref.items():
        if name not in other:
            continue
        b, se_b = other[name]
        se = math.hypot(se_a, se_b)
        tol = max(N_SE * se, atol)
        out.append(dict(case=case, position=name, reference=ref_impl, value_ref=a, se_ref=se_a,
                        implementation=impl, value=b, se=se_b,
                        z=(b - a) / se if se > 0 else 0.0, ok=abs(b - a) <= tol))
    return out


# --------------------------------------------------------------------------- report

def format_table(rows: list[dict]) -> str:
    head = ("| case | implementation | paths | compile s | best s | median s | paths/s "
            "| ratio | paired ratio |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        comp = f"{r['compile_s']:.2f}" if r["compile_s"] is not None else "-"
        note = f" (recompiled {r['recompiled']}x)" if r["recompiled"] else ""
        lines.append(f"| {r['case']} | {r['implementation']}{note} | {r['paths']:,} | {comp} "
                     f"| {r['best_s']:.2f} | {r['median_s']:.2f} | {r['paths_per_s']:,.0f} "
                     f"| {r['ratio']:.2f} | {_paired(r)} |")
    return "\n".join(lines)


def _paired(r: dict) -> str:
    return "-" if r.get("paired_ratio") is None else f"{r['paired_ratio']:.2f}"


def format_checks(checks: list[dict]) -> str:
    head = ("| case | position | reference | value ± s.e. | implementation | value ± s.e. "
            "| z | within 4 s.e. |")
    lines = [head, "|" + "---|" * 8]
    for c in checks:
        lines.append(f"| {c['case']} | {c['position']} | {c['reference']} "
                     f"| {c['value_ref']:.6g} ± {c['se_ref']:.2g} | {c['implementation']} "
                     f"| {c['value']:.6g} ± {c['se']:.2g} | {c['z']:+.2f} "
                     f"| {'yes' if c['ok'] else 'NO'} |")
    return "\n".join(lines)


def environment(dtype: str) -> dict:
    import jax

    env = dict(date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               devices=[repr(d) for d in jax.devices()], backend=jax.default_backend(),
               jax=jax.__version__, numpy=np.__version__, dtype=dtype,
               python=platform.python_version(), machine=platform.machine(),
               cpu_count=os.cpu_count(), processor=_cpu_name(),
               # Other work on the machine skews every row; the load says whether there was any.
               load_avg_1_5_15=[round(x, 2) for x in os.getloadavg()])
    try:
        import QuantLib as ql

        env["quantlib"] = ql.__version__
    except ImportError:
        env["quantlib"] = None
    return env


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paths", type=int, default=1_000_000, help="paths per case (even)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per implementation")
    ap.add_argument("--greeks-paths", type=int, default=None,
                    help="paths for the Greeks timing (default: --paths)")
    ap.add_argument("--greeks-repeats", type=int, default=1,
                    help="timed calls with Greeks on (each costs several pricings)")
    ap.add_argument("--ql-paths", type=int, default=None,
                    help="paths for QuantLib (default: --paths); 0 skips QuantLib")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", nargs="?", const=DEFAULT_JSON, default=None, type=Path,
                    metavar="PATH", help=f"also write the results as JSON (default {DEFAULT_JSON})")
    args = ap.parse_args(argv)
    for name in ("paths", "greeks_paths", "ql_paths"):
        v = getattr(args, name)
        if v is not None and v % 2:
            ap.error(f"--{name.replace('_', '-')} must be even (antithetic pairs)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import jax.monitoring

    clock = CompileClock()
    jax.monitoring.register_event_duration_secs_listener(clock)
    rows: list[dict] = []
    checks: list[dict] = []
    prices: dict[str, dict] = {}
    t_start = time.perf_counter()
    load_start = os.getloadavg()

    # Case 1: the example book.
    case = "book"
    cfg = book_config(args.paths, args.dtype, args.seed)
    mc, npy = time_against_numpy(cfg, args.paths, args.repeats, clock)
    base = args.paths / mc["best_s"]
    rows.append(row(case, "mcrisk", args.paths, mc, None))
    gp = args.greeks_paths or args.paths
    mg = time_mcrisk(with_paths(cfg, gp, greeks=True), gp, args.greeks_repeats, clock)
    rows.append(row(case, "mcrisk + Greeks", gp, mg, base))
    rows.append(row(case, "numpy", args.paths, npy, base))
    prices[case] = dict(mcrisk=mcrisk_prices(mc["result"]), numpy=npy["result"])
    # Spot and perpetual values are exact: allow float32 rounding of the largest spot.
    atol = 1e-6 * max(cfg["market"]["spot"])
    checks += agree(case, "mcrisk", prices[case]["mcrisk"], "numpy", npy["result"], atol)
    n_steps = mc["result"]["n_steps"]

    def one_position(case: str, ccfg: dict, name: str):
        """mcrisk and NumPy on a one-position book; its price checked (the position's)."""
        m, npc = time_against_numpy(ccfg, args.paths, args.repeats, clock)
        b = args.paths / m["best_s"]
        rows.append(row(case, "mcrisk", args.paths, m, None))
        rows.append(row(case, "numpy", args.paths, npc, b))
        prices[case] = dict(mcrisk=mcrisk_prices(m["result"]), numpy=npc["result"])
        r = {name: prices[case]["mcrisk"][name]}
        return b, r, agree(case, "mcrisk", r, "numpy", npc["result"]), m["result"]["n_steps"]

    # Case 2: a 252-step Asian, where the per-step cost dominates.
    case = "asian252"
    acfg = asian_config(args.paths, args.dtype, args.seed, cfg["sim"]["chunk_size"])
    base, ref, found, asian_steps = one_position(case, acfg, "asian_252")
    checks += found
    qp = args.paths if args.ql_paths is None else args.ql_paths
    if qp:
        try:
            qla = time_repeats(lambda: quantlib_asian(acfg, qp), 1)
        except ImportError as e:
            print(f"QuantLib row skipped: {e}", file=sys.stderr)
        else:
            rows.append(row(case, "QuantLib MC (1 thread)", qp, qla, base))
            prices[case]["quantlib"] = qla["result"]
            checks += agree(case, "mcrisk", ref, "quantlib", qla["result"])

    # Case 3: ten correlated assets on 52 steps, where the Cholesky product and ten
    # normals per step are the work.
    bcfg = basket10_config(args.paths, args.dtype, args.seed, cfg["sim"]["chunk_size"])
    _, _, found, basket_steps = one_position("basket10", bcfg, "basket10")
    checks += found

    env = environment(args.dtype)
    total_s = time.perf_counter() - t_start
    print(f"date {env['date']}; devices {env['devices']}; jax {env['jax']}; "
          f"numpy {env['numpy']}; QuantLib {env['quantlib']}; dtype {args.dtype}; "
          f"{env['cpu_count']} CPUs ({env['processor']}); load at start "
          f"{load_start[0]:.2f}, at end {env['load_avg_1_5_15'][0]:.2f}")
    print(f"book: {len(cfg['portfolio']['positions'])} positions, {n_steps} grid steps; "
          f"asian252: {asian_steps} grid steps; basket10: "
          f"{basket_steps} grid steps; chunk {cfg['sim']['chunk_size']} "
          f"paths; best of {args.repeats} (Greeks: {args.greeks_repeats}, QuantLib: 1)\n")
    print(format_table(rows))
    print("\nratio = mcrisk paths/s / this row's paths/s (same case): > 1 means mcrisk is "
          "faster; paired ratio = median over the rounds (mcrisk and NumPy timed in turns) "
          "of this row's time over mcrisk's; compile s = JAX trace + lower + compile on the "
          "warm-up call\n")
    for r in rows:
        if r["others_cpu_s"] and r["others_cpu_s"] > max(0.1, 0.1 * sum(r["seconds"])):
            print(f"warning: other processes used {r['others_cpu_s']:.1f} CPU-s during the "
                  f"{sum(r['seconds']):.1f} s of '{r['case']} / {r['implementation']}'")
    print(format_checks(checks))
    print(f"\ntotal {total_s:.0f} s")

    if args.json:
        out = dict(environment=dict(env, load_avg_start=[round(x, 2) for x in load_start]),
                   args={k: str(v) for k, v in vars(args).items()},
                   rows=rows, checks=checks, prices=prices, total_s=total_s,
                   grid_steps={"book": n_steps, "asian252": asian_steps,
                               "basket10": basket_steps})
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    failed = [c for c in checks if not c["ok"]]
    if failed:
        print(f"{len(failed)} price(s) disagree beyond {N_SE:g} standard errors",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
