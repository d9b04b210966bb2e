"""A book in its own YAML file: the same checks as an inline portfolio, naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import mcrisk
from mcrisk.config.positions import POSITION_TYPES
from mcrisk.config.store import compose, file_overrides

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "experiments" / "books" / "every_position.yaml"
MARKET = {"assets": ["BTC", "ETH"], "spot": [60000.0, 3000.0], "vol": [0.6, 0.75],
          "rate": 0.03, "corr": [[1.0, 0.8], [0.8, 1.0]]}
GOOD = "{name: c, type: european, asset: BTC, option: call, strike: 65000, expiry: 0.25}"


def _book(tmp_path, *positions, extra=""):
    f = tmp_path / "book.yaml"
    f.write_text(extra + "positions:\n" + "".join(f"  - {p}\n" for p in positions))
    return f


def _error(fn, *args):
    with pytest.raises(mcrisk.ConfigError) as info:
        fn(*args)
    return str(info.value)


def test_example_holds_every_type_and_loads():
    book = mcrisk.load_portfolio(EXAMPLE, market=MARKET)
    assert book["name"] == "every_position"
    assert sorted(p["type"] for p in book["positions"]) == sorted(POSITION_TYPES)
    problem = mcrisk.build({"market": MARKET, "portfolio": book})
    assert [p.name for p in problem.positions] == [p["name"] for p in book["positions"]]


@pytest.mark.parametrize("bad, field", [
    ("{name: p, type: european, asset: BTC, option: call, strike: -5, expiry: 0.25}",
     "strike"),
    ("{name: p, type: european, asset: BTC, option: call, strike: 5, expiry: 0.25, strik: 1}",
     "strik"),
    ("{name: p, type: asian, asset: BTC, option: call, strike: 5, expiry: 1, fixings: 0}",
     "fixings"),
    ("{name: c, type: spot, asset: ETH}", "name"),
])
def test_file_error_is_the_inline_error_naming_file_and_field(tmp_path, bad, field):
    f = _book(tmp_path, GOOD, bad)
    inline = _error(mcrisk.build, {"market": MARKET, "portfolio": {
        "positions": yaml.safe_load(f.read_text())["positions"]}})
    assert inline.startswith(f"portfolio.positions[1].{field}: ")
    expected = f"{f}: " + inline[len("portfolio."):]
    assert _error(mcrisk.load_portfolio, f) == expected
    assert _error(mcrisk.build, {"market": MARKET, "portfolio": {"file": str(f)}}) == expected


def test_market_checks_need_the_market(tmp_path):
    f = _book(tmp_path, "{type: spot, asset: SOL}",
              "{type: barrier, asset: ETH, option: put, strike: 2800, barrier: 3100, "
              "barrier_type: down-and-out, expiry: 0.5}")
    assert mcrisk.load_portfolio(f)["name"] == "book"  # the stem when the file has no name
    msg = _error(mcrisk.load_portfolio, f, MARKET)
    assert msg.startswith(f"{f}: positions[0].asset: got 'SOL'; expected one of the market")
    f = _book(tmp_path, "{type: barrier, asset: ETH, option: put, strike: 2800, barrier: 3100, "
                        "barrier_type: down-and-out, expiry: 0.5}")
    assert _error(mcrisk.load_portfolio, f, MARKET).startswith(
        f"{f}: positions[0].barrier: got 3100; expected a level below today's spot 3000")


def test_file_itself(tmp_path):
    assert _error(mcrisk.load_portfolio, tmp_path / "none.yaml").startswith(
        f"path: got '{tmp_path / 'none.yaml'}'; expected an existing portfolio YAML file")
    f = tmp_path / "bad.yaml"
    f.write_text("positions: [ {type: spot\n")
    assert "expected a readable YAML file" in _error(mcrisk.load_portfolio, f)
    f.write_text("positions: []\n")
    assert _error(mcrisk.load_portfolio, f).startswith(f"{f}: positions: got []; expected a list")
    f.write_text(f"position:\n  - {GOOD}\n")
    assert _error(mcrisk.load_portfolio, f).startswith(f"{f}: position: ")
    both = {"market": MARKET, "portfolio": {"file": str(EXAMPLE), "positions": [{"type": "spot",
                                                                                  "asset": "BTC"}]}}
    assert "either a portfolio file or portfolio.positions" in _error(mcrisk.build, both)


def test_command_line_spelling():
    assert file_overrides(["portfolio=b.yaml", "sim=fast"]) == [
        "portfolio=from_file", "portfolio.file=b.yaml", "sim=fast"]
    assert file_overrides(["portfolio.file=b.yml"]) == ["portfolio.file=b.yml",
                                                        "portfolio=from_file"]
    assert file_overrides(["portfolio=a.yaml,b.yaml"])[1] == "portfolio.file=a.yaml,b.yaml"
    assert file_overrides(["portfolio=short_vol"]) == ["portfolio=short_vol"]
    cfg = compose([f"portfolio={EXAMPLE}"])
    assert cfg.portfolio.file == str(EXAMPLE) and list(cfg.portfolio.positions) == []
    assert len(mcrisk.build(cfg).positions) == len(POSITION_TYPES)
