"""`estimate_market` recovers known GBM parameters from a price file, and every defect in
the file or the options raises ConfigError naming the field, the column and the date."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest

from mcrisk import corr as corrlib
from mcrisk.config.build import build_market
from mcrisk.errors import ConfigError
from mcrisk.marketdata import MIN_ROWS, estimate_market

ASSETS = ["BTC", "ETH", "SOL"]
VOLS = np.array([0.6, 0.8, 1.0])
CORR = np.array([[1.0, 0.7, 0.6],
                 [0.7, 1.0, 0.5],
                 [0.6, 0.5, 1.0]])
N_ROWS = 3000
PER_YEAR = 365.0


def _dates(n: int) -> list[str]:
    start = dt.date(2015, 1, 1)
    return [(start + dt.timedelta(days=k)).isoformat() for k in range(n)]


def _write(path, header: list[str], dates: list[str], prices) -> str:
    lines = [",".join(header)]
    lines += [",".join([d] + [repr(float(p)) if not isinstance(p, str) else p for p in row])
              for d, row in zip(dates, prices)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _gbm(rng, n_rows: int, vols: np.ndarray, *, regime_rows: int = 0) -> np.ndarray:
    """Daily GBM prices ``(n_rows, assets)``; vol doubles over the last ``regime_rows`` returns."""
    dt_ = 1.0 / PER_YEAR
    z = rng.standard_normal((n_rows - 1, len(vols))) @ np.linalg.cholesky(CORR).T
    scale = np.ones((n_rows - 1, 1))
    if regime_rows:
        scale[-regime_rows:] = 2.0
    sigma = vols * scale
    drift = np.array([0.2, 0.1, 0.0])
    log_ret = (drift - 0.5 * sigma ** 2) * dt_ + sigma * math.sqrt(dt_) * z
    start = np.log([30000.0, 2000.0, 100.0])
    return np.exp(np.vstack([start, start + np.cumsum(log_ret, axis=0)]))


@pytest.fixture(scope="module")
def gbm_file(tmp_path_factory):
    prices = _gbm(np.random.default_rng(20240101), N_ROWS, VOLS)
    path = tmp_path_factory.mktemp("prices") / "gbm.csv"
    return _write(path, ["date"] + ASSETS, _dates(N_ROWS), prices), prices


@pytest.fixture(scope="module")
def regime_file(tmp_path_factory):
    prices = _gbm(np.random.default_rng(7), N_ROWS, VOLS, regime_rows=200)
    path = tmp_path_factory.mktemp("prices") / "regime.csv"
    return _write(path, ["date"] + ASSETS, _dates(N_ROWS), prices), prices


def _zero_mean_vols(prices: np.ndarray, per_year: float) -> np.ndarray:
    r = np.diff(np.log(prices), axis=0)
    return np.sqrt(np.mean(r ** 2, axis=0) * per_year)


# --- estimates ---------------------------------------------------------------------------

def test_sample_recovers_gbm_parameters(gbm_file):
    path, prices = gbm_file
    market, notes = estimate_market(path)
    n = N_ROWS - 1
    assert market["assets"] == ASSETS
    vol = np.array(market["vol"])
    se_vol = VOLS / math.sqrt(2 * n)
    assert np.all(np.abs(vol - VOLS) < 4 * se_vol), (vol, VOLS, se_vol)
    corr = np.array(market["corr"])
    se_corr = (1 - CORR ** 2) / math.sqrt(n)
    off = ~np.eye(3, dtype=bool)
    assert np.all(np.abs(corr - CORR)[off] < 4 * se_corr[off]), corr
    np.testing.assert_array_equal(market["spot"], prices[-1])
    assert market["dividend"] == [0.0, 0.0, 0.0]
    assert market["rate"] == 0.0


def test_sample_matches_numpy_definition(gbm_file):
    path, prices = gbm_file
    market, _ = estimate_market(path, annualisation=252.0)
    r = np.diff(np.log(prices), axis=0)
    np.testing.assert_allclose(market["vol"], r.std(axis=0, ddof=1) * math.sqrt(252.0),
                               rtol=1e-12)
    np.testing.assert_allclose(market["corr"], np.corrcoef(r, rowvar=False), atol=1e-12)


@pytest.mark.parametrize("estimator", ["sample", "ewma"])
def test_corr_is_exactly_a_correlation_matrix(gbm_file, estimator):
    market, _ = estimate_market(gbm_file[0], estimator=estimator, half_life=10.0)
    corr = np.array(market["corr"])
    assert np.array_equal(corr, corr.T)
    assert np.all(np.diag(corr) == 1.0)
    assert np.all(np.abs(corr) <= 1.0)
    corrlib.check("market.corr", corr)
    json.dumps(market)  # plain floats and lists only
    built = build_market(market, [])
    np.testing.assert_array_equal(built.vols, market["vol"])


@pytest.mark.parametrize("estimator", ["sample", "ewma"])
def test_annualisation_scales_vol_by_its_square_root(gbm_file, estimator):
    a, _ = estimate_market(gbm_file[0], estimator=estimator, annualisation=365.0)
    b, _ = estimate_market(gbm_file[0], estimator=estimator, annualisation=252.0)
    np.testing.assert_allclose(np.array(b["vol"]) / np.array(a["vol"]),
                               math.sqrt(252.0 / 365.0), rtol=1e-14)
    assert a["corr"] == b["corr"]


def test_ewma_with_long_half_life_is_the_zero_mean_sample_estimate(gbm_file):
    path, prices = gbm_file
    market, notes = estimate_market(path, estimator="ewma", half_life=1e9)
    np.testing.assert_allclose(market["vol"], _zero_mean_vols(prices, PER_YEAR), rtol=1e-6)
    r = np.diff(np.log(prices), axis=0)
    second = r.T @ r / len(r)
    d = np.sqrt(np.diag(second))
    np.testing.assert_allclose(market["corr"], second / np.outer(d, d), atol=1e-6)


def test_ewma_weights_newest_return_most(tmp_path):
    rng = np.random.default_rng(3)
    prices = np.exp(np.cumsum(rng.normal(0, 0.02, (MIN_ROWS + 5, 2)), axis=0))
    path = _write(tmp_path / "p.csv", ["date", "A", "B"], _dates(len(prices)), prices)
    half_life = 4.0
    market, notes = estimate_market(path, estimator="ewma", half_life=half_life,
                                    annualisation=1.0)
    # The RiskMetrics recursion s2 <- lam s2 + (1 - lam) r^2 from s2 = 0, rescaled to unit
    # total weight: an independent route to the same estimator.
    lam = 0.5 ** (1.0 / half_life)
    r = np.diff(np.log(prices), axis=0)
    s2 = np.zeros(2)
    cross = 0.0
    for row in r:
        s2 = lam * s2 + (1 - lam) * row ** 2
        cross = lam * cross + (1 - lam) * row[0] * row[1]
    total = 1 - lam ** len(r)
    np.testing.assert_allclose(market["vol"], np.sqrt(s2 / total), rtol=1e-12)
    np.testing.assert_allclose(market["corr"][0][1], cross / math.sqrt(s2[0] * s2[1]),
                               rtol=1e-12)
    assert any(f"lambda = {lam:.6g}" in n for n in notes)


def test_ewma_with_short_half_life_follows_a_regime_change(regime_file):
    path, _ = regime_file
    sample, _ = estimate_market(path)
    ewma, _ = estimate_market(path, estimator="ewma", half_life=20.0)
    new = 2 * VOLS
    sample_gap = np.abs(np.array(sample["vol"]) - new)
    ewma_gap = np.abs(np.array(ewma["vol"]) - new)
    assert np.all(ewma_gap < sample_gap), (ewma["vol"], sample["vol"])
    # Effective sample size of normalised weights with half-life h is about 2.9 h.
    n_eff = 2.885 * 20.0
    assert np.all(ewma_gap < 4 * new / math.sqrt(2 * n_eff)), ewma["vol"]


def test_assets_select_and_order_columns(gbm_file):
    path, prices = gbm_file
    full, _ = estimate_market(path)
    sub, _ = estimate_market(path, assets=["SOL", "BTC"], rate=0.03)
    assert sub["assets"] == ["SOL", "BTC"]
    assert sub["spot"] == [prices[-1, 2], prices[-1, 0]]
    assert sub["vol"] == [full["vol"][2], full["vol"][0]]
    assert sub["corr"][0][1] == pytest.approx(full["corr"][2][0], abs=1e-15)
    assert sub["rate"] == 0.03


def test_notes_say_what_was_estimated(gbm_file):
    path, _ = gbm_file
    dates = _dates(N_ROWS)
    _, notes = estimate_market(path, estimator="ewma", half_life=30.0, annualisation=252.0)
    text = "\n".join(notes)
    for word in (path, f"{N_ROWS} rows", f"{N_ROWS - 1} log returns", dates[0], dates[-1],
                 "ewma", "half-life 30", f"lambda = {0.5 ** (1 / 30):.6g}", "252",
                 "vol BTC", "vol ETH", "vol SOL"):
        assert word in text, word
    assert "warning" not in text
    _, notes = estimate_market(path)
    assert "sample" in "\n".join(notes)


def test_collinear_columns_warn_not_positive_definite(tmp_path):
    rng = np.random.default_rng(1)
    a = np.exp(np.cumsum(rng.normal(0, 0.03, 50)))
    prices = np.column_stack([a, 2.0 * a, np.exp(np.cumsum(rng.normal(0, 0.03, 50)))])
    path = _write(tmp_path / "p.csv", ["date", "A", "A2", "C"], _dates(50), prices)
    market, notes = estimate_market(path)
    assert market["corr"][0][1] == pytest.approx(1.0, abs=1e-12)
    assert any("not positive definite" in n for n in notes)


def test_header_variants_and_free_form_labels(tmp_path):
    rng = np.random.default_rng(2)
    prices = np.exp(np.cumsum(rng.normal(0, 0.02, (12, 1)), axis=0))
    # Byte-order mark, upper-case 'Timestamp', numeric (epoch) timestamps.
    stamps = [str(1_700_000_000 + 86_400 * k) for k in range(12)]
    path = tmp_path / "ts.csv"
    _write(path, ["Timestamp", "X"], stamps, prices)
    path.write_text("\ufeff" + path.read_text(), encoding="utf-8")
    market, notes = estimate_market(str(path))
    assert market["assets"] == ["X"] and market["corr"] == [[1.0]]
    # Labels that are not dates keep file order; only uniqueness is required.
    labels = [f"day-{k}" for k in range(12)][::-1]
    market2, notes2 = estimate_market(
        _write(tmp_path / "lab.csv", ["date", "X"], labels, prices))
    assert market2["vol"] == market["vol"]
    assert "file order kept" in notes2[0]


# --- errors ------------------------------------------------------------------------------

GOOD_DATES = _dates(12)
GOOD = [[100.0 + k, 50.0 * (1.01 + 0.02 * (-1) ** k) ** k] for k in range(12)]


def _table(**edits):
    """The 12-row, 2-asset base table with cells replaced: ``edits = {(row, col): text}``."""
    rows = [[GOOD_DATES[k]] + [repr(p) for p in GOOD[k]] for k in range(12)]
    for (r, c), text in edits.get("cells", {}).items():
        rows[r][c] = text
    return rows


def _csv(header="date,BTC,ETH", rows=None):
    rows = _table() if rows is None else rows
    return "\n".join([header] + [",".join(r) for r in rows]) + "\n"


def _swap(rows, i, j):
    rows = [list(r) for r in rows]
    rows[i][0], rows[j][0] = rows[j][0], rows[i][0]
    return rows


FILE_CASES = [
    # (id, file text, kwargs, path the message starts with, words it must contain)
    ("no-date-column", _csv(header="day,BTC,ETH"), {}, "market.path", ["'date'", "'day'"]),
    ("no-price-column", "date\n" + "\n".join(GOOD_DATES) + "\n", {}, "market.path",
     ["price column"]),
    ("empty-file", "", {}, "market.path", ["empty"]),
    ("missing-asset", _csv(), {"assets": ["BTC", "SOL"]}, "market.assets[1]",
     ["'SOL'", "'BTC'", "'ETH'"]),
    ("repeated-asset", _csv(), {"assets": ["ETH", "ETH"]}, "market.assets", ["distinct"]),
    ("empty-assets", _csv(), {"assets": []}, "market.assets", ["at least 1"]),
    ("duplicate-column", _csv(header="date,BTC,BTC"), {}, "market.path", ["'BTC'", "2 times"]),
    ("too-few-rows", _csv(rows=_table()[:MIN_ROWS - 1]), {}, "market.path",
     [f"at least {MIN_ROWS}", f"has {MIN_ROWS - 1}"]),
    ("non-positive", _csv(rows=_table(cells={(4, 2): "-3.5"})), {}, "market.path",
     ["'ETH'", GOOD_DATES[4], "> 0", "-3.5"]),
    ("zero-price", _csv(rows=_table(cells={(7, 1): "0"})), {}, "market.path",
     ["'BTC'", GOOD_DATES[7], "> 0"]),
    ("empty-cell", _csv(rows=_table(cells={(5, 1): ""})), {}, "market.path",
     ["'BTC'", GOOD_DATES[5], "gap"]),
    ("nan-cell", _csv(rows=_table(cells={(6, 2): "NaN"})), {}, "market.path",
     ["'ETH'", GOOD_DATES[6], "gap"]),
    ("non-numeric", _csv(rows=_table(cells={(3, 2): "n/a"})), {}, "market.path",
     ["'ETH'", GOOD_DATES[3], "'n/a'", "a number"]),
    ("infinite", _csv(rows=_table(cells={(3, 1): "inf"})), {}, "market.path",
     ["'BTC'", GOOD_DATES[3], "finite"]),
    ("short-row", _csv(rows=_table()[:8] + [[GOOD_DATES[8], "1.0"]] + _table()[9:]), {},
     "market.path", ["3 cells", "line 10"]),
    ("duplicate-date", _csv(rows=_table(cells={(6, 0): GOOD_DATES[5]})), {}, "market.path",
     ["unique", GOOD_DATES[5]]),
    ("duplicate-label", _csv(rows=[[f"d{k % 11}"] + r[1:] for k, r in enumerate(_table())]),
     {}, "market.path", ["unique", "d0"]),
    ("decreasing-date", _csv(rows=_swap(_table(), 3, 4)), {}, "market.path",
     ["increasing", GOOD_DATES[3], GOOD_DATES[4]]),
    ("decreasing-timestamp",
     _csv(header="timestamp,BTC,ETH",
          rows=[[str(1000 + k if k != 9 else 1007.5)] + r[1:] for k, r in enumerate(_table())]),
     {}, "market.path", ["increasing", "1007.5", "1008"]),
    ("empty-date", _csv(rows=_table(cells={(2, 0): ""})), {}, "market.path", ["empty", "line 4"]),
    # One malformed date among ISO dates used to switch the order checks off (only a note).
    ("malformed-date", _csv(rows=_table(cells={(7, 0): "2015-01-8x"})), {}, "market.path",
     ["'2015-01-8x'", "ISO date", "line 9", "prices.csv"]),
    ("malformed-timestamp",
     _csv(header="timestamp,BTC,ETH",
          rows=[[str(1000 + k) if k != 4 else "10O4"] + r[1:] for k, r in enumerate(_table())]),
     {}, "market.path", ["'10O4'", "numeric timestamp", "line 6"]),
    ("constant-prices", _csv(rows=[[d, "5", "7"] for d in GOOD_DATES]), {}, "market.path",
     ["'BTC'", "zero"]),
    ("bad-estimator", _csv(), {"estimator": "garch"}, "market.estimator", ["'sample'", "'ewma'"]),
    ("half-life-zero", _csv(), {"half_life": 0.0}, "market.half_life", ["> 0"]),
    ("half-life-negative", _csv(), {"half_life": -5.0}, "market.half_life", ["> 0"]),
    ("annualisation-zero", _csv(), {"annualisation": 0.0}, "market.annualisation", ["> 0"]),
    ("annualisation-negative", _csv(), {"annualisation": -252}, "market.annualisation",
     ["> 0"]),
    ("rate-nan", _csv(), {"rate": float("nan")}, "market.rate", ["finite"]),
    ("other-field", _csv(rows=_table(cells={(4, 2): "-1"})), {"field": "scenario.market"},
     "scenario.market.path", ["'ETH'", GOOD_DATES[4]]),
]


@pytest.mark.parametrize("name,text,kwargs,where,words", FILE_CASES,
                         ids=[c[0] for c in FILE_CASES])
def test_bad_input_raises_config_error(tmp_path, name, text, kwargs, where, words):
    path = tmp_path / "prices.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        estimate_market(str(path), **kwargs)
    message = str(info.value)
    assert message.startswith(where + ":"), message
    assert info.value.path == where
    for word in words:
        assert word in message, (word, message)


def test_gap_in_an_unused_column_is_not_an_error(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(_csv(rows=_table(cells={(5, 2): ""})))
    market, _ = estimate_market(str(path), assets=["BTC"])
    assert market["assets"] == ["BTC"]


def test_missing_or_unreadable_file(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(ConfigError, match=r"^market\.path: .*nope\.csv.*readable"):
        estimate_market(missing)
    with pytest.raises(ConfigError, match=r"^market\.path: .*readable"):
        estimate_market(tmp_path)  # a directory
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81date,BTC\n")
    with pytest.raises(ConfigError, match=r"^market\.path: .*readable"):
        estimate_market(binary)
    with pytest.raises(ConfigError, match=r"^market\.path: "):
        estimate_market(None)
