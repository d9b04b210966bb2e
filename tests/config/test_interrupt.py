"""Ctrl-C / SIGTERM in the middle of a run: one line, the shell's exit code, and only whole
files (results.json marked partial, the streamed Parquet readable and counted)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.config.runner import ROOT

BOOK = ("portfolio.positions=[{name: call, type: european, asset: BTC, option: call, "
        "strike: 60000, expiry: 0.25, quantity: 1}]")


def _start(run_dir, cwd, *args):
    exe = os.path.join(os.path.dirname(sys.executable), "mcrisk")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "mcrisk.cli"]
    return subprocess.Popen(cmd + list(args) + [f"hydra.run.dir={run_dir}"], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))


def _interrupt(proc, sig, ready, what):
    """Wait until `ready()` (polling, so a loaded machine only makes it slower), send `sig`,
    and return stderr."""
    try:
        deadline = time.monotonic() + 300
        while not ready():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, f"{what} not reached in 300 s"
            time.sleep(0.05)
        proc.send_signal(sig)
        return proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()


def _one_line(err, sig, code, returncode):
    assert returncode == code, err[-3000:]
    assert "Traceback" not in err
    msgs = [ln for ln in err.splitlines() if "interrupt" in ln]
    assert len(msgs) == 1 and msgs[0].startswith(f"mcrisk: interrupted by {sig.name} "), err
    assert err.rstrip().endswith(msgs[0]), err[-3000:]


def test_sigint_mid_scenarios_keeps_streamed_losses_and_marks_results_partial(tmp_path):
    import pyarrow.parquet as pq

    run_dir = tmp_path / "run"
    # Many small chunks: the scenario phase lasts long after its first chunk is streamed.
    proc = _start(run_dir, tmp_path, "task=risk", BOOK, "sim.n_paths=400000",
                  "sim.chunk_size=1000", "greeks.enabled=false", "report.save_losses=true")
    # The losses stream to a temporary file once the first scenario chunk is done. The file
    # appears (4-byte header) just before that chunk's rows are written: a signal in between
    # rightly saves 0 rows, so wait until the file has grown twice, i.e. a later chunk is
    # being written after the first.
    sizes: set[int] = set()

    def first_chunk_written() -> bool:
        for f in run_dir.glob(".losses.parquet.*"):
            try:
                sizes.add(f.stat().st_size)
            except FileNotFoundError:  # renamed into place meanwhile
                pass
        return len([s for s in sizes if s > 4]) >= 2

    err = _interrupt(proc, signal.SIGINT, first_chunk_written, "the first scenario chunk")
    _one_line(err, signal.SIGINT, 130, proc.returncode)
    res = json.loads((run_dir / "results.json").read_text())
    assert res["partial"] is True and res["signal"] == "SIGINT"
    prog = res["progress"]
    assert prog["phase"] == "scenarios" and prog["chunks_done"] < prog["n_chunks"] == 400
    # A closed-form book: no Monte Carlo pricing phase before today's values.
    assert prog["phases_done"] == ["today's values"]
    losses = pq.read_table(run_dir / "losses.parquet")  # closed: footer written, readable
    assert 1000 <= losses.num_rows == res["rows_saved"]["losses"] < 400_000
    assert losses.column("scenario").to_pylist() == list(range(losses.num_rows))
    assert not [p.name for p in run_dir.iterdir() if ".tmp" in p.name]
    assert not (run_dir / "report.md").exists()


def test_sigterm_while_compiling_exits_143_with_partial_results(tmp_path):
    run_dir = tmp_path / "run"
    proc = _start(run_dir, tmp_path, BOOK, "sim.n_paths=20000", "progress=true")
    seen = []

    def pricing_started():
        # progress=true into a pipe: a line as each phase starts, so the marker comes early.
        seen.append(proc.stderr.readline())
        return "pricing: compiling" in seen[-1]

    err = _interrupt(proc, signal.SIGTERM, pricing_started, "the pricing phase")
    err = "".join(seen) + err
    _one_line(err, signal.SIGTERM, 143, proc.returncode)
    assert "pricing: compiling" in err
    res = json.loads((run_dir / "results.json").read_text())
    assert res["partial"] is True and res["signal"] == "SIGTERM"
    assert res["task"] == "price" and res["progress"]["phase"] in ("pricing", "Greeks")
    assert "book" not in res



def test_resume_reruns_a_job_whose_results_are_partial(tmp_path):
    from mcrisk.config.store import record_dir
    from mcrisk.rundir import resume_skips

    results = tmp_path / "results.json"
    assert not resume_skips(tmp_path, {"task": "risk"})
    results.write_text(json.dumps({"task": "risk", "partial": True, "signal": "SIGINT"}))
    # Re-run, and Hydra rewrites its record (the interrupted run finished nothing).
    assert not resume_skips(tmp_path, {"task": "risk"})
    assert record_dir(str(tmp_path), True) == ".hydra"
    results.write_text(json.dumps({"task": "risk", "var": {"0.99": 1.0}}))
    assert record_dir(str(tmp_path), True) is None
