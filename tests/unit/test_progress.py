"""Progress: steady-state ETA, one label per phase, silence by default in the API."""

from __future__ import annotations

import copy
import io

import pytest

import mcrisk
from mcrisk.progress import Eta, Progress
from tests.unit.test_config_errors import BASE


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_eta_ignores_the_first_chunk_which_includes_compilation():
    eta = Eta(total=10)
    eta.update(1, 1000, now=100.0)  # compiling: 100 s for the first chunk
    assert eta.seconds_left is None and eta.rate is None  # no steady-state sample yet
    eta.update(2, 2000, now=101.0)
    eta.update(3, 3000, now=102.0)  # then 1 s per chunk
    assert eta.seconds_left == pytest.approx(7.0)  # not 102 / 3 * 7 = 238
    assert eta.rate == pytest.approx(1000.0)


def test_progress_line_shows_the_steady_state_eta():
    clock, out = FakeClock(), io.StringIO()
    p = Progress(out, clock=clock, log_interval=0.0)
    p.start("scenarios", 10, "scenarios")
    for k, t in enumerate([100.0, 101.0, 102.0], start=1):
        clock.now = t
        p.update(k, 1000 * k)
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("  scenarios 3/10 chunks") and "eta 7.0s" in last
    assert "1,000 scenarios/s" in last


def _tiny():
    # One asset, one step, one call: the quickest pricing and Greeks kernels to compile.
    cfg = copy.deepcopy(BASE)
    cfg["sim"].update(n_paths=2000, chunk_size=1000, n_steps=1)
    cfg["market"] = dict(assets=["BTC"], spot=[60000.0], vol=[0.6], rate=0.03)
    cfg["portfolio"]["positions"] = cfg["portfolio"]["positions"][:1]
    return cfg


def test_price_with_progress_labels_each_phase(capsys):
    cfg = _tiny()
    mcrisk.price(cfg, progress=True)
    err = capsys.readouterr().err
    for phase in ("pricing", "Greeks"):
        assert f"{phase}: compiling" in err
        assert f"{phase} 2/2 chunks, 2,000 paths in " in err
    cfg["progress"] = True  # the config key turns it on too
    mcrisk.price(cfg)
    assert "pricing 2/2 chunks" in capsys.readouterr().err


def test_python_api_prints_nothing_by_default(capsys):
    cfg = _tiny()
    mcrisk.price(cfg)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_progress_key_must_be_a_boolean():
    cfg = dict(copy.deepcopy(BASE), progress="yes")
    with pytest.raises(mcrisk.ConfigError, match=r"^progress: got 'yes'; expected true or false"):
        mcrisk.build(cfg)
