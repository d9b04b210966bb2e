"""Presets and README examples hold what they say.

Every experiment preset is checked on its composed config (no JAX): each asset a stress
scenario shocks is held by the book, the sim group governs its path count, and its book fits
its market. Every command and code block of the README is run, in this process so the
compiled kernels are shared, with tiny path counts.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from pathlib import Path

import pytest

import mcrisk
from mcrisk.config.build import to_plain
from mcrisk.config.store import compose, conf_dir

from tests.config.runner import ROOT, in_process, main_in_process, tiny  # noqa: F401

EXPERIMENTS = sorted(p.stem for p in (Path(conf_dir()) / "experiment").glob("*.yaml"))
README = (ROOT / "README.md").read_text()
PRESETS = {p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")}
# What each preset's description promises its book holds.
PROMISED_ASSETS = {"crypto_book_var": {"BTC", "ETH", "SOL"},
                   "dao_treasury_stress": {"DAO", "ETH", "USDC"}}
# Commands in README blocks that a test cannot run (they install or run this very suite).
NOT_RUN = {("pip", "install", "."), ("pip", "install", ".[test]"),
           ("python", "-m", "pytest", "-q", "-n", "auto")}


def _held(plain: dict) -> set[str]:
    held: set[str] = set()
    for p in plain["portfolio"]["positions"]:
        held.update([p["asset"]] if "asset" in p else p["assets"])
    return held


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_preset_holds_what_it_shocks_and_follows_sim(name):
    plain = to_plain(compose([f"experiment={name}"]))
    held = _held(plain)
    assert held == PROMISED_ASSETS.get(name, held), (name, held)
    for i, scenario in enumerate(plain["risk"].get("stress") or []):
        for kind in ("spot", "vol"):
            unheld = set(scenario.get(kind) or {}) - held - {"*"}  # '*': every asset
            assert not unheld, f"risk.stress[{i}].{kind} of {name} shocks {unheld}, not held"
    for sim in ("fast", "accurate"):
        got = to_plain(compose([f"experiment={name}", f"sim={sim}"]))["sim"]
        assert got == to_plain(compose([f"sim={sim}"]))["sim"], (name, sim, got)
    mcrisk.build(plain)  # the book fits the market (no barrier already crossed)


def _bash_blocks() -> list[list[list[str]]]:
    """Each ```bash block of the README as its commands (split at &&), comments dropped
    (blocks meant for elsewhere, such as a cluster's login node, are fenced ```sh)."""
    blocks = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        commands = []
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words:
                cut = words.index("&&") if "&&" in words else len(words)
                commands.append(words[:cut])
                words = words[cut + 1:]
        blocks.append(commands)
    return blocks


BLOCKS = _bash_blocks()


def test_readme_commands_are_all_mcrisk_or_known():
    commands = [c for b in BLOCKS for c in b]
    skipped = [c for c in commands if tuple(c) in NOT_RUN]
    assert len(skipped) == len(NOT_RUN)
    assert all(c[0] in ("mcrisk", "mcrisk-collect") for c in commands if c not in skipped)


def _last_price(path: Path, asset: str) -> float:
    with path.open() as f:
        return float(list(csv.DictReader(f))[-1][asset])


def _check_run(args: list[str], argv: list[str], run_dir: Path, stdout: str) -> None:
    """What a finished single run must show: the task its config names, and a book whose
    strikes sit near its market's spots (the README once priced a SOL call struck at 100 on a
    file whose SOL ends at 35.29)."""
    res = json.loads((run_dir / "results.json").read_text())
    cfg = compose([a for a in argv if not a.startswith("hydra.")])
    assert res["task"] == cfg.task, args
    problem = mcrisk.build(cfg)
    for p in problem.positions:
        if "strike" in p.terms and len(p.assets) == 1:
            spot = float(problem.market.spots[p.assets[0]])
            assert 0.5 <= p.terms["strike"] / spot <= 2.0, (args, p.name, spot)
    if "market=from_csv" in args:
        sol = problem.market.assets.index("SOL")
        assert float(problem.market.spots[sol]) == _last_price(Path(cfg.market.path), "SOL")
    assert f"results: {run_dir / 'results.json'}" in stdout


# The sweep and the heston/merton risk examples repeat what test_experiments runs (about a
# minute of compilation), and the default book's risk runs (plain and delta-gamma) what
# test_cli's risk run and the crypto_book_var preset do: the long tier (`pytest -m slow`)
# runs them.
LONG_BLOCKS = {i for i, b in enumerate(BLOCKS)
               if any("-m" in c or "market=crypto_majors" in c
                      or (c[1:2] == ["task=risk"] and len(c) <= 6) for c in b)}


@pytest.mark.parametrize("block", [pytest.param(i, marks=pytest.mark.slow)
                                   if i in LONG_BLOCKS else i for i in range(len(BLOCKS))])
def test_readme_commands_run_and_do_what_they_say(block, in_process, capsys):
    import mcrisk.cli as cli
    import mcrisk.tasks.collect as collect

    for i, args in enumerate(BLOCKS[block]):
        if tuple(args) in NOT_RUN:
            continue
        if len(args) == 2 and args[1].startswith("experiment="):
            # A bare preset: test_experiments.py runs every preset at these same sizes.
            assert args[1].partition("=")[2] in PRESETS, args
            continue
        if args[0] == "mcrisk-collect":
            assert main_in_process(collect, args) == 0, args
            assert (in_process / args[1] / "collected.csv").is_file()
            continue
        run_dir = in_process / f"run{i}"
        argv = tiny(args[1:], run_dir)
        code = main_in_process(cli, ["mcrisk", *argv])
        out = capsys.readouterr()
        assert code == 0, (args, out.err[-3000:], out.out[-3000:])
        if args[1:2] == ["--help"]:
            assert "mcrisk: Monte Carlo" in out.out
        elif args[1:3] == ["--cfg", "job"]:
            assert "portfolio:" in out.out
        elif "-m" in args:
            jobs = 1
            for a in argv:
                if "=" in a and "," in a and not a.partition("=")[2].startswith("["):
                    jobs *= len(a.split(","))
            done = "skipping this job" if "resume=true" in args else "results:"
            assert out.out.count(done) == jobs, out.out[-2000:]
        else:
            _check_run(args, argv, run_dir, out.out)


def test_readme_python_blocks_run(in_process):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) == 4
    calibration = next(b for b in blocks if "calibrate(" in b)
    first, risk, table = (b for b in blocks if b is not calibration)
    assert first.count("100_000") == 1
    namespace: dict = {}
    exec(compile(first.replace("100_000", "2_000"), "README.md", "exec"), namespace)
    result = namespace["result"]
    assert result["n_paths"] == 2000 and result["model"] == "heston"
    cfg = compose(["task=risk", "sim.n_paths=400", "sim.chunk_size=400", "risk.inner_paths=4"])
    namespace = {"mcrisk": mcrisk, "cfg": cfg}
    exec(compile(risk, "README.md", "exec"), namespace)
    assert set(namespace["res"]["var"]) == {"0.95", "0.975", "0.99", "0.999"}
    stmt, expr = table.split("\n", 1)
    exec(compile(stmt, "README.md", "exec"), namespace)
    frame = eval(compile(expr.strip(), "README.md", "eval"), namespace)
    res = namespace["res"]
    assert sorted(frame.columns) == sorted(map(float, res["contributions"]))  # one per level
    for level, contrib in res["contributions"].items():
        for pos, value in contrib["component_es"].items():
            assert frame.loc[pos, float(level)] == value, (level, pos)
    # The calibration example at test size: merton from one start on BTC (heston's kernel
    # alone compiles for most of a minute; the reference tests cover it).
    for old, new in (('"heston"', '"merton"'), ("starts=4", "starts=1"),
                     ('("BTC", "ETH")', '("BTC",)'), ("experiments/", f"{ROOT}/experiments/")):
        assert old in calibration, old
        calibration = calibration.replace(old, new)
    namespace = {"cfg": {}}
    exec(compile(calibration, "README.md", "exec"), namespace)
    assert namespace["cfg"]["model"]["name"] == "merton"
    assert len(namespace["cfg"]["model"]["jump_intensity"]) == 1


@pytest.mark.parametrize("market, portfolio", [("dao", "dao_treasury"),
                                               ("crypto_majors", "crypto_majors_options")])
def test_default_risk_preset_fits_any_market(market, portfolio):
    # The default risk group's stress scenarios shock every asset ('*'), so another market
    # builds without a risk override; a named asset still overrides the market-wide shock.
    plain = to_plain(compose([f"market={market}", f"portfolio={portfolio}"]))
    crash = mcrisk.build(plain).risk.stress[0]
    n = len(plain["market"]["assets"])
    assert crash.spot.tolist() == [-0.30] * n and crash.vol.tolist() == [0.20] * n
    first = plain["market"]["assets"][0]
    plain["risk"]["stress"] = [{"name": "x", "spot": {"*": -10, first: -50}}]
    assert mcrisk.build(plain).risk.stress[0].spot.tolist() == [-0.5] + [-0.1] * (n - 1)
