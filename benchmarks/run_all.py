"""Run the benchmark suite and refresh the generated part of `RESULTS.md`.

One command runs every benchmark script in its own process (each imports this checkout's
mcrisk), each writing its JSON, then rewrites the block of `RESULTS.md` between
``<!-- run_all:begin -->`` and ``<!-- run_all:end -->`` from those JSON files. The rest of
`RESULTS.md` (the hand-written explanations and older measurements) is left as it is.

    python benchmarks/run_all.py [--full] [--skip NAME ...] [--only NAME ...] [--report-only]

Defaults are sized to finish in about 20-30 minutes on a 2-core CPU: 10^6 paths for pricing
and devices (1, 2, 4 host devices), 10^6 scenarios for the risk run, the scale runs up to
10^7 paths and 10^6 scenarios. ``--full`` adds the 10^8-path Asian and the 10^7-scenario
risk run (several more minutes each on that machine). ``--skip`` keeps a benchmark's
existing JSON (its table is still written, from that file, with that file's date).

Benchmarks are never run as tests; nothing here is imported by the package.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
BEGIN, END = "<!-- run_all:begin -->", "<!-- run_all:end -->"


def steps(args: argparse.Namespace) -> dict[str, tuple[list[str], Path]]:
    """name -> (command line after the interpreter, the JSON it writes)."""
    asian = ["1e4", "1e5", "1e6", "1e7"] + (["1e8"] if args.full else [])
    risk = ["1e5", "1e6"] + (["1e7"] if args.full else [])
    p = str(args.paths)
    return {
        "pricing": (["bench_pricing.py", "--paths", p, "--ql-paths", str(args.ql_paths),
                     "--json"], HERE / "results_pricing.json"),
        "greeks": (["bench_greeks.py", "--repeats", "3", "--json"],
                   HERE / "results_greeks.json"),
        "risk": (["bench_risk.py", "--scenarios", str(args.scenarios), "--json"],
                 HERE / "results_risk.json"),
        "closed_forms": (["bench_closed_forms.py", "--json"],
                         HERE / "results_closed_forms.json"),
        "devices": (["bench_devices.py", "--paths", p, "--devices", "1", "2", "4",
                     "--json"], HERE / "results_devices.json"),
        "scale": (["bench_scale.py", "--asian-paths", *asian, "--risk-scenarios", *risk,
                   "--timeout", str(args.timeout), "--json"], HERE / "results_scale.json"),
    }


def run(name: str, argv: list[str], log_dir: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    print(f"== {name}: {' '.join(argv)} (load {load:.2f})", flush=True)
    with open(log_dir / f"{name}.log", "w") as log:
        rc = subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:]], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - t0
    print(f"   exit {rc}, {wall:.0f} s; log {log_dir / (name + '.log')}", flush=True)
    return {"command": "python benchmarks/" + " ".join(argv), "rc": rc, "seconds": wall,
            "load_start": load}


# --------------------------------------------------------------------------- tables

def _num(x, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)


def pricing_md(d: dict) -> list[str]:
    env = d["environment"]
    turns = any(r.get("paired_ratio") is not None for r in d["rows"])
    out = [f"Measured {env['date']}, load at start {env['load_avg_start'][0]:.2f}; "
           f"{env['dtype']}, chunks of 65,536 paths, best of {d['args']['repeats']} calls "
           "after a compiling warm-up (Greeks and QuantLib: 1)"
           + ("; mcrisk and NumPy called in turns" if turns else "") +
           ". `ratio` = mcrisk's paths/s over the row's (> 1: mcrisk faster); "
           "`paired` = median over the rounds of the row's time over mcrisk's in the same "
           "round; `compile s` = JAX trace + lower + compile on the warm-up call.", "",
           "| case | implementation | paths | compile s | best s | median s | paths/s | ratio "
           "| paired |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in d["rows"]:
        out.append(f"| {r['case']} | {r['implementation']} | {r['paths']:,} | "
                   f"{_num(r['compile_s'], '.2f')} | {r['best_s']:.2f} | {r['median_s']:.2f} | "
                   f"{r['paths_per_s']:,.0f} | {r['ratio']:.2f} | "
                   f"{_num(r.get('paired_ratio'), '.2f')} |")
    bad = [c for c in d["checks"] if not c["ok"]]
    zs = max(abs(c["z"]) for c in d["checks"]) if d["checks"] else 0.0
    out += ["", f"Prices checked against mcrisk's: {len(d['checks']) - len(bad)} of "
            f"{len(d['checks'])} within 4 combined standard errors (largest |z| = {zs:.2f})."]
    return out


def greeks_md(d: dict) -> list[str]:
    out = [f"Measured {d['when']}, {d['device']}, {d['dtype']}; one chunk of "
           f"{d['rows'][0]['chunk']:,} paths, best of the timed calls after a compiling call.",
           "", "| book | assets | positions | price ms | Greeks ms | Greeks / price |",
           "|---|---|---|---|---|---|"]
    for r in d["rows"]:
        out.append(f"| {r['book']} | {r['assets']} | {r['positions']} | "
                   f"{r['price_s'] * 1e3:.1f} | {r['greeks_s'] * 1e3:.1f} | {r['ratio']:.2f} |")
    return out


def risk_md(d: dict) -> list[str]:
    b, n = d["book100"], d.get("book100_numpy")
    out = [f"{d['device']}, jax {d['jax']}, {d['dtype']}, load at start "
           f"{_num(d.get('load_avg_start'), '.2f')}; best of {b.get('repeats', 1)} calls of "
           "each row, the rows called in turns. `attribution`: component VaR and ES, "
           "incremental ES and the worst scenarios' position losses besides VaR, ES (and, in "
           "mcrisk, intervals, moments, histogram).", "",
           "| run | attribution | scenarios | seconds | scenarios/s | VaR 99% | ES 99% |",
           "|---|---|---|---|---|---|---|"]
    rows = [("100-option book, mcrisk (warm; first call on one chunk "
             f"{_num(b.get('first_call_one_chunk_seconds'), '.1f')} s)", b),
            ("100-option book, mcrisk, `risk.attribution: false`", d.get("book100_var_only")),
            ("100-option book, NumPy/SciPy vectorised closed forms", n),
            ("100-option book, NumPy/SciPy, attribution from stored position losses",
             d.get("book100_numpy_attribution"))]
    for name, r in rows:
        if r:
            att = "yes" if r.get("attribution", r is b) else "no"
            out.append(f"| {name} | {att} | {r['scenarios']:,} | {r['seconds']:.2f} | "
                       f"{r['scenarios_per_second']:,.0f} | {r['var'].get('0.99', 0):,.0f} | "
                       f"{r['es'].get('0.99', 0):,.0f} |")
    pairs = [("VaR and ES only", n, "target >= 5"),
             ("with attribution", d.get("book100_numpy_attribution"), "")]
    for label, r, note in pairs:
        if r and "paired_ratio_median" in r:
            out += ["", f"mcrisk / NumPy speed, {label}: {r['ratio_numpy_over_mcrisk']:.2f}x "
                    f"(NumPy time over mcrisk time, best against best; median of the rounds' "
                    f"ratios {r['paired_ratio_median']:.2f}x){'; ' + note if note else ''}."]
    if n and "ratio_numpy_over_mcrisk_attribution" in n:
        out += ["", "mcrisk with attribution against NumPy without it: "
                f"{n['ratio_numpy_over_mcrisk_attribution']:.2f}x."]
    if "example" in d:
        e = d["example"]
        out += ["", f"Default example book (nested), {e['scenarios']:,} scenarios: "
                f"{e['seconds']:.1f} s, compile included."]
        w = d.get("warm_rerun", {})
        for name, key in (("100-option book", "book100_10k"), ("example book", "example_10k")):
            if key in w:
                out.append(f"Warm re-runs, {name}, 10,000 scenarios: first call "
                           f"{w[key]['first_seconds']:.2f} s, re-run best "
                           f"{w[key]['rerun_best']:.2f} s.")
    return out


def closed_forms_md(d: dict) -> list[str]:
    out = [f"Measured {d['when']}, {d['device']}, jax {d['jax']}, float32, "
           f"{d['scenarios']:,} scenarios x the positions, best of {d['repeats']}, load at "
           f"start {d['load_at_start']:.2f}. Per option value: wall time, and the process's "
           "CPU time over all its threads (the work done, whatever else runs).", "",
           "| case | values | mcrisk ns | NumPy ns | ratio | mcrisk CPU ns | NumPy CPU ns "
           "| CPU ratio |", "|---|---|---|---|---|---|---|---|"]
    for r in d["rows"]:
        out.append(f"| {r['case']} | {r['values']:,} | {r['mcrisk_ns']:.1f} | "
                   f"{r['numpy_ns']:.1f} | {r['ratio']:.2f} | {r['mcrisk_cpu_ns']:.1f} | "
                   f"{r['numpy_cpu_ns']:.1f} | {r['cpu_ratio']:.2f} |")
    return out


def devices_md(d: dict) -> list[str]:
    out = [f"Measured {d['when']}, load at start {d['load_avg_start']:.2f}; {d['paths']:,} "
           f"paths, {d['dtype']}, best of {d['repeats']}; prices agree between device counts: "
           f"{'yes' if d['prices_agree'] else 'NO'}.", "",
           "| case | devices | best s | median s | paths/s | CPU s / wall s | others' CPU s "
           "| speed-up | NumPy s | x NumPy |", "|---|---|---|---|---|---|---|---|---|---|"]
    base = d["runs"][0]["cases"]
    numpy_s = d.get("numpy_s", {})
    for case in base:
        for r in d["runs"]:
            c = r["cases"][case]
            np_s = numpy_s.get(case)
            out.append(f"| {case} | {r['devices']} | {c['best_s']:.2f} | {c['median_s']:.2f} | "
                       f"{c['paths_per_s']:,.0f} | {c['cpu_per_wall']:.2f} | "
                       f"{_num(c['others_cpu_s'], '.1f')} | "
                       f"{base[case]['best_s'] / c['best_s']:.2f} | "
                       f"{_num(np_s, '.2f')} | "
                       f"{_num(None if np_s is None else np_s / c['best_s'], '.2f')} |")
    return out


def scale_md(d: dict) -> list[str]:
    env = d["environment"]
    out = [f"Measured {env['date']}, load at start {env['load_avg_start'][0]:.2f}. One fresh "
           "process per row; `seconds` excludes the compiling warm-up call on one chunk; peak "
           "RSS is the process's VmHWM (whole interpreter, JAX and XLA included), after the "
           "warm-up and at the end.", "",
           "| case | size | chunk | seconds | per second | peak RSS after warm-up MiB "
           "| peak RSS at end MiB | load at start |", "|---|---|---|---|---|---|---|---|"]
    for r in d["asian"] + d["risk"]:
        a = r["child_args"]
        size = int(a[a.index("--size") + 1])
        if "error" in r:
            out.append(f"| {a[0]} | {size:,} | | did not finish: {r['error']} | | | | "
                       f"{r['load_start']:.2f} |")
            continue
        rate = r.get("paths_per_s") or r.get("scenarios_per_s")
        out.append(f"| {r['case']} | {size:,} | {r['config']['chunk_size']:,} | "
                   f"{r['seconds']:.2f} | {rate:,.0f} | "
                   f"{r['memory_after_warmup']['peak_rss_mib']:,.0f} | "
                   f"{r['memory']['peak_rss_mib']:,.0f} | {r['load_start']:.2f} |")
    o = d.get("overhead")
    if o and "error" not in o:
        out += ["", f"Steady-state overhead: a warm `mcrisk.price` of one european at "
                f"{o['config']['n_paths']:,} paths ({o['n_steps']} steps) takes "
                f"{o['median_s'] * 1e3:.1f} ms (median of {o['calls']} after warm-up; best "
                f"{o['best_s'] * 1e3:.1f} ms; target < 50 ms). Its first call took "
                f"{o['first_call_s']:.2f} s, of which {o['compile_s']:.2f} s compile "
                f"(load {o['load_start']:.2f})."]
    g = d.get("rng")
    if g and "error" not in g:
        out += ["", f"RNG floor: drawing the 252-step Asian's normals alone (same keys, "
                f"16-step blocks, same scan, {g['samples']:,} antithetic pairs = one "
                f"{g['chunk_paths']:,}-path chunk, {g['normals']:,} normals) takes "
                f"{g['rng_floor_s'] * 1e3:.1f} ms ({g['normals_per_s'] / 1e6:,.0f} M normals/s); "
                f"the Asian's pricing chunk takes {g['kernel_s'] * 1e3:.1f} ms, "
                f"{g['kernel_over_floor']:.2f}x the floor (best of {g['repeats']}, load "
                f"{g['load_start']:.2f})."]
    return out


SECTIONS = {"pricing": ("Pricing throughput: mcrisk, NumPy, QuantLib", pricing_md),
            "greeks": ("Greeks / price cost", greeks_md),
            "risk": ("Risk run: 100-option closed-form book, mcrisk and NumPy", risk_md),
            "closed_forms": ("Closed-form revaluation per option value: mcrisk and NumPy/SciPy",
                             closed_forms_md),
            "devices": ("Scaling with host devices", devices_md),
            "scale": ("Scaling with n_paths: time and peak memory; overhead; RNG floor",
                      scale_md)}


def environment() -> dict:
    import jax

    proc = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            proc = next(x.split(":", 1)[1].strip() for x in f if x.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    return {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs ({proc}), {mem}",
            "python": platform.python_version(), "jax": jax.__version__,
            "devices": [repr(x) for x in jax.devices()], "backend": jax.default_backend()}


def write_results(env: dict, runs: dict, paths: dict[str, Path], load_start: float) -> None:
    lines = [BEGIN, "## Latest suite run (generated by `benchmarks/run_all.py`)", "",
             f"Written {env['date']} on {env['machine']}; Python {env['python']}, jax "
             f"{env['jax']}, backend {env['backend']} ({', '.join(env['devices'])}). Load "
             f"average when the suite started: {load_start:.2f}. The machine may be shared: "
             "each table gives the load when its benchmark started.", ""]
    for name, (title, fmt) in SECTIONS.items():
        lines += [f"### {title}", ""]
        r = runs.get(name)
        if r:
            lines += [f"`{r['command']}`: exit {r['rc']}, {r['seconds']:.0f} s, started at "
                      f"load {r['load_start']:.2f}.", ""]
        else:
            lines += ["(not re-run by this invocation: from the existing JSON)", ""]
        try:
            lines += fmt(json.loads(paths[name].read_text()))
        except (OSError, KeyError, ValueError) as e:
            lines.append(f"(no results: {type(e).__name__}: {e})")
        lines.append("")
    lines.append(END)
    block = "\n".join(lines)
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        a, b = text.index(BEGIN), text.index(END) + len(END)
        text = text[:a] + block + text[b:]
    else:
        head, _, rest = text.partition("\n")
        text = f"{head}\n\n{block}\n{rest}"
    RESULTS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true",
                    help="add the 10^8-path Asian and the 10^7-scenario risk run")
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--ql-paths", type=int, default=200_000)
    ap.add_argument("--scenarios", type=int, default=1_000_000)
    ap.add_argument("--timeout", type=float, default=900, help="seconds per scale child")
    ap.add_argument("--skip", nargs="*", default=[], choices=list(SECTIONS))
    ap.add_argument("--only", nargs="*", default=None, choices=list(SECTIONS))
    ap.add_argument("--report-only", action="store_true",
                    help="run nothing; rewrite RESULTS.md from the existing JSON")
    args = ap.parse_args(argv)
    load_start = os.getloadavg()[0]
    plan = steps(args)
    log_dir = HERE / "logs"
    log_dir.mkdir(exist_ok=True)
    runs, t0 = {}, time.perf_counter()
    for name, (argv_, _) in plan.items():
        if args.report_only or name in args.skip or (args.only and name not in args.only):
            continue
        runs[name] = run(name, argv_, log_dir)
    write_results(environment(), runs, {k: v[1] for k, v in plan.items()}, load_start)
    print(f"suite {time.perf_counter() - t0:.0f} s; wrote {RESULTS}")
    return max((r["rc"] for r in runs.values()), default=0)


if __name__ == "__main__":
    sys.exit(main())
