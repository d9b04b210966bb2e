"""Device invariance: one seed gives the same results on 1 and 4 (CPU host) devices.

Each device count needs its own process (XLA reads the host device count once). Per-path
and per-scenario values are identical for any device count (keys come from the global
index), so the risk engine's losses, and with them VaR, ES and every scenario statistic,
agree exactly; means and standard errors are merged per device in float64 and may differ
by rounding alone: at most 1e-12 relative in float64 (observed: 4.4e-16 relative, 1.5e-11
absolute on a value of 56,000; the standard error of a constant, a spot position's delta, is
0 on one device and 2.7e-17 on four, hence the absolute tolerance).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
import jax
jax.config.update("jax_threefry_partitionable", True)
import mcrisk
from mcrisk.engine import prepare
from mcrisk.provenance import collect

market = dict(assets=["BTC", "ETH"], spot=[60000.0, 3000.0], vol=[0.6, 0.75],
              dividend=[0.0, 0.0], rate=0.03, corr=[[1.0, 0.8], [0.8, 1.0]])
# 1050 pairs in chunks of 512: on 4 devices the last chunk leaves 3 devices padding only.
sim = dict(n_paths=2100, n_steps=8, seed=11, antithetic=True, dtype="float64",
           chunk_size=1024)
book = [dict(type="european", asset="BTC", option="call", strike=65000, expiry=0.25,
             quantity=10),
        dict(type="basket", assets=["BTC", "ETH"], weights=[0.5, 10.0], option="call",
             strike=60000, expiry=0.5, quantity=1),
        dict(type="spot", asset="ETH", quantity=100)]
cfg = dict(market=market, model=dict(name="gbm"), sim=sim, portfolio=dict(positions=book))
price = mcrisk.price(cfg)
# Risk on the closed-form positions: the scenario kernel is split over devices the same way
# with nested revaluation (inner paths stay inside a scenario), and a nested basket would
# triple the compile time of this test.
risk_cfg = dict(cfg, portfolio=dict(positions=[book[0], book[2]]),
                sim=dict(sim, chunk_size=64 * 16),
                risk=dict(horizon=1 / 365, levels=[0.95, 0.99], inner_paths=16,
                          margin=dict(enabled=False)))
risk = mcrisk.risk(risk_cfg)
print(json.dumps(dict(price=price, risk=dict(var=risk["var"], es=risk["es"],
                                             stats=risk["stats"]),
                      devices=prepare(mcrisk.build(cfg)).devices,
                      device_count=collect(cfg)["device_count"])))
"""


def _start(devices: int) -> subprocess.Popen:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu", JAX_ENABLE_X64="1")
    return subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _numbers(tree, path=""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(tree, float | int) and not isinstance(tree, bool):
        yield path, float(tree)


def test_one_and_four_devices_agree_to_rounding():
    # Both processes at once: each compiles its own kernels (~12 s), a core each when free.
    procs = _start(1), _start(4)
    one, four = (_result(p) for p in procs)
    assert (one["devices"], one["device_count"]) == (1, 1)
    assert (four["devices"], four["device_count"]) == (4, 4)
    # Scenario losses are computed per scenario: identical on any device count.
    assert four["risk"] == one["risk"]
    a, b = dict(_numbers(one["price"])), dict(_numbers(four["price"]))
    assert a.keys() == b.keys()
    x, y = np.array(list(a.values())), np.array([b[k] for k in a])
    np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12 * np.max(np.abs(x)))
    # The Greeks were computed too, so their kernel was compared as well.
    assert any(".greeks." in k for k in a)


def test_command_line_asks_for_one_host_device_per_core(tmp_path):
    """Without a host device count in XLA_FLAGS, the command line sets one per usable core
    (hardware.devices=auto) or the number given, before JAX starts, and records it."""
    from tests.config.runner import mcrisk as run_cli

    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    args = ("portfolio.positions=[{type: european, asset: BTC, option: call, strike: 60000, "
            "expiry: 0.25}]", "sim.n_paths=512", "greeks.enabled=false",
            "report.enabled=false")
    cores = len(os.sched_getaffinity(0))
    for setting, expected in (("auto", cores), (3, 3)):
        run_dir = tmp_path / str(setting)
        out = subprocess.run(
            [sys.executable, "-m", "mcrisk.cli", *args, f"hardware.devices={setting}",
             f"hydra.run.dir={run_dir}"], cwd=tmp_path, env=dict(env, PYTHONPATH=str(ROOT)),
            capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        prov = json.loads((run_dir / "results.json").read_text())["provenance"]
        assert prov["local_device_count"] == expected
        assert f"--xla_force_host_platform_device_count={expected}" in prov["xla_flags"]
    # A count the user put in XLA_FLAGS wins (here: the test session's).
    out = run_cli(*args, "hardware.devices=3", f"hydra.run.dir={tmp_path}/user", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    prov = json.loads((tmp_path / "user" / "results.json").read_text())["provenance"]
    session = int(os.environ["XLA_FLAGS"].split("device_count=")[1].split()[0])
    assert prov["local_device_count"] == session and prov["xla_flags"] == os.environ["XLA_FLAGS"]
    bad = run_cli(*args, "hardware.devices=0", f"hydra.run.dir={tmp_path}/bad", cwd=tmp_path)
    assert bad.returncode == 2
    assert "hardware.devices: got 0; expected 'auto' or a positive integer" in bad.stderr
