"""Option-chain reading: Deribit names, ACT/365 expiries, unit conventions, per-row rejections
with their reasons, the sample chain's deliberately bad rows, CSV == Parquet, and whole-file
errors that name the column."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mcrisk.errors import ConfigError
from mcrisk.vol.chain import ARRAY_FIELDS
from mcrisk.vol.deribit import parse_instrument
from mcrisk.vol.quotes import read_chain

SAMPLE = Path(__file__).resolve().parents[2] / "experiments" / "data" / "btc_eth_chain.csv"
# 2024-12-20 10:00 UTC in milliseconds, as in Deribit's `timestamp`.
NOW_MS = int(datetime(2024, 12, 20, 10, tzinfo=timezone.utc).timestamp() * 1000)


@pytest.mark.parametrize("name, expected", [
    ("BTC-27DEC24-60000-C", ("BTC", date(2024, 12, 27), 60000.0, True, False)),
    ("ETH-3JAN25-3500-P", ("ETH", date(2025, 1, 3), 3500.0, False, False)),
    ("SOL_USDC-27DEC24-200-C", ("SOL_USDC", date(2024, 12, 27), 200.0, True, True)),
    ("XRP_USDC-27DEC24-2d5-C", ("XRP_USDC", date(2024, 12, 27), 2.5, True, True)),
    ("btc-28mar25-0d25-p", ("BTC", date(2025, 3, 28), 0.25, False, False)),
])
def test_parse_instrument(name, expected):
    assert tuple(parse_instrument(name)) == expected


@pytest.mark.parametrize("name, fragment", [
    ("BTC-27DEC24-60000", "expected UNDERLYING-DMMMYY-STRIKE-C|P"),
    ("BTC-27DEC24-60000-X", "expected UNDERLYING-DMMMYY-STRIKE-C|P"),
    ("BTC-27DEX24-60000-C", "month 'DEX'"),
    ("BTC-31FEB25-60000-C", "31FEB25 is not a calendar date"),
    ("BTC-27DEC24-0-C", "strike 0 is not > 0"),
    ("BTC-27DEC24-6e4-C", "expected UNDERLYING-DMMMYY-STRIKE-C|P"),
])
def test_bad_instrument_names(name, fragment):
    with pytest.raises(ValueError, match=fragment.replace("|", r"\|")):
        parse_instrument(name)
    # In a file the row is rejected with that reason and the good row is kept.
    frame = _deribit([("BTC-27DEC24-100000-C", 0.01), (name, 0.01)])
    chain = read_chain(frame)
    assert chain.instrument.tolist() == ["BTC-27DEC24-100000-C"]
    (bad,) = chain.rejected
    assert (bad.row, bad.instrument) == (1, name) and fragment in bad.reason


def _deribit(rows, **extra) -> pd.DataFrame:
    """Deribit-layout frame: (instrument_name, mark_price) rows, forward 100000, rate 0."""
    frame = pd.DataFrame({"instrument_name": [r[0] for r in rows],
                          "mark_price": [r[1] for r in rows]})
    frame["timestamp"] = NOW_MS
    frame["underlying_price"] = 100000.0
    frame["interest_rate"] = 0.0
    for k, v in extra.items():
        frame[k] = v
    return frame


def test_expiry_year_fraction_act365_at_0800_utc():
    frame = _deribit([("BTC-27DEC24-100000-C", 0.01), ("ETH-3JAN25-3500-P", 0.01)])
    chain = read_chain(frame)
    # 20 Dec 10:00 -> 27 Dec 08:00 is 7 days less 2 hours; -> 3 Jan 08:00 is 14 days less 2 h.
    np.testing.assert_allclose(chain.expiry, [(7 * 24 - 2) / 8760, (14 * 24 - 2) / 8760],
                               rtol=1e-14)
    assert str(chain.expiry_date[0]) == "2024-12-27T08:00:00"
    # A valuation date given as an argument (00:00 UTC) replaces the column, and says so.
    chain = read_chain(frame, valuation_date=date(2024, 12, 20))
    np.testing.assert_allclose(chain.expiry, [(7 * 24 + 8) / 8760, (14 * 24 + 8) / 8760],
                               rtol=1e-14)
    assert any("valuation_date" in n for n in chain.notes)


def test_unit_conversions_coin_to_usd_and_percent_to_fraction():
    frame = _deribit([("BTC-27DEC24-110000-C", 0.0123), ("SOL_USDC-27DEC24-120000-C", 12.5)],
                     best_bid_price=[0.0, 12.0], best_ask_price=[0.0125, 13.0],
                     mark_iv=[55.3, 80.0], bid_iv=[0.0, 78.0], ask_iv=[56.1, 82.0])
    chain = read_chain(frame)
    # BTC is priced in the coin: USD = coin * forward; USDC options are already in USDC.
    np.testing.assert_allclose(chain.mid, [0.0123 * 100000.0, 12.5], rtol=1e-15)
    np.testing.assert_allclose(chain.ask, [0.0125 * 100000.0, 13.0], rtol=1e-15)
    assert math.isnan(chain.bid[0]) and math.isnan(chain.bid_iv[0])  # 0 = no bid
    np.testing.assert_allclose(chain.mark_iv, [0.553, 0.80], rtol=1e-15)
    np.testing.assert_allclose(chain.ask_iv, [0.561, 0.82], rtol=1e-15)
    notes = " | ".join(chain.notes)
    assert "prices of BTC read in the coin" in notes and "percent" in notes
    assert "1 rows with best_bid_price 0 read as no bid" in notes
    # Forcing the readings turns the conversions off.
    raw = read_chain(frame, price_unit="quote", iv_unit="fraction")
    np.testing.assert_allclose(raw.mid, [0.0123, 12.5], rtol=1e-15)
    np.testing.assert_allclose(raw.mark_iv, [55.3, 80.0], rtol=1e-15)
    # Generic files: vols whose median is above 3 are read as percent, and the note says so.
    generic = pd.DataFrame({"underlying": "BTC", "expiry": [0.5, 0.5], "strike": [90., 110.],
                            "option_type": ["P", "C"], "mark_iv": [61.0, 57.5],
                            "forward": 100.0, "rate": 0.03})
    chain = read_chain(generic)
    np.testing.assert_allclose(chain.mark_iv, [0.61, 0.575], rtol=1e-15)
    np.testing.assert_allclose(chain.discount, math.exp(-0.015), rtol=1e-15)
    assert any("percent (auto: their median is 59.25" in n for n in chain.notes)


GOOD = dict(underlying="BTC", expiry=0.25, strike=100.0, option_type="C", bid=7.0, ask=8.0,
            mid=7.5, mark_iv=0.5, bid_iv=0.48, ask_iv=0.52, forward=100.0, rate=0.0)
# (changes to a good row, text its rejection reason must contain)
BAD = [
    (dict(strike=""), "strike: missing"),
    (dict(forward="abc"), "forward: 'abc' is not a number"),
    (dict(strike=-5.0), "strike: -5 is not > 0"),
    (dict(forward=0.0), "forward: 0 is not > 0"),
    (dict(expiry=-0.1), "expiry: -0.1 years is not > 0"),
    (dict(option_type="X"), "option_type: 'X' is not C, P, call or put"),
    (dict(expiry="2023-13-01"), "expiry: '2023-13-01' is neither years nor an ISO date"),
    (dict(bid=-1.0), "bid: -1 is negative"),
    (dict(mark_iv=-0.5), "mark_iv: -0.5 is negative"),
    (dict(ask=0.0), "ask: 0 is not > 0"),
    (dict(bid=8.5), "bid 8.5 > ask 8: crossed quote"),
    (dict(bid_iv=0.53), "bid_iv 0.53 > ask_iv 0.52: crossed quote"),
    (dict(mid=9.0), "mid 9 outside [bid, ask] = [7, 8]"),
    (dict(mark_iv=0.47), "mark_iv 0.47 outside [bid_iv, ask_iv] = [0.48, 0.52]"),
    (dict(bid=None, ask=None, mid=None, mark_iv=None, bid_iv=None, ask_iv=None),
     "no price and no implied vol"),
    # A call above disc * F; a put at exactly its intrinsic value disc * (K - F).
    (dict(bid=100.5, ask=101.0, mid=100.8, strike=100.0), "above the no-arbitrage upper bound 100"),
    (dict(option_type="P", strike=120.0, bid=19.0, ask=21.0, mid=20.0, mark_iv=None,
          bid_iv=None, ask_iv=None), "mid 20 at or below the no-arbitrage lower bound 20: no time"),
]


def test_each_rejection_reason_is_reported_and_other_rows_kept():
    rows = [dict(GOOD), dict(GOOD, strike=110.0, option_type="put", bid=12.0, ask=13.0,
                              mid=12.5)]
    rows += [dict(GOOD, **change) for change, _ in BAD]
    # Duplicates: two different quotes of one option (both out), an exact repeat (first kept).
    itm = dict(GOOD, strike=90.0, bid=12.0, ask=13.0)
    rows += [dict(itm, mid=12.5), dict(itm, mid=12.6), dict(GOOD, strike=95.0),
             dict(GOOD, strike=95.0)]
    chain = read_chain(pd.DataFrame(rows))
    n = 2 + len(BAD)
    assert chain.row.tolist() == [0, 1, n + 2]
    assert chain.strike.tolist() == [100.0, 110.0, 95.0]
    assert chain.is_call.tolist() == [True, False, True]
    reasons = {r.row: r.reason for r in chain.rejected}
    assert sorted(reasons) == list(range(2, n)) + [n, n + 1, n + 3]
    for k, (_, fragment) in enumerate(BAD):
        assert fragment in reasons[2 + k], (fragment, reasons[2 + k])
    labels = {r.row: r.instrument for r in chain.rejected}
    assert labels[2] == "BTC 0.25  C" and labels[7] == "BTC 0.25 100.0 X"
    assert labels[9] == "BTC 0.25y 100 C"
    assert reasons[n] == reasons[n + 1] == (f"duplicate: rows {n}, {n + 1} quote the same "
                                            "option differently; none is used")
    assert reasons[n + 3].startswith(f"duplicate: repeats row {n + 2} exactly")
    assert f"{len(reasons)} rejected" in chain.summary()


def test_sample_chain_rejects_exactly_the_deliberately_bad_rows():
    chain = read_chain(SAMPLE)
    expected = {
        "BTC-31JAN25-96500-C": "crossed quote",
        "ETH-31JAN25-3410-C": "mark_price: -0.0922471 is negative",
        "BTC-28MAR25-101500-P": "quote the same option differently",
        "ETH-28MAR25-3610-P": "repeats row 637 exactly",
        "BTC-27JUN25-98500-C": "mark_price 1.02 (= 100996.5036 in the quote currency) above "
                               "the no-arbitrage upper bound",
        "ETH-3JAN25-3910-P": "at or below the no-arbitrage lower bound",
        "BTC-13DEC24-95500-C": "expired at the valuation time 2024-12-20T10:00:00",
        "BTC-30FEB25-105500-C": "30FEB25 is not a calendar date",
        "ETH-28FEB25-3290-C": "mark_price 0.1632 outside [best_bid_price, best_ask_price]",
    }
    got = {}
    for r in chain.rejected:
        got.setdefault(r.instrument, []).append(r.reason)
    assert sorted(got) == sorted(expected)
    for name, fragment in expected.items():
        assert all(fragment in reason for reason in got[name]), (name, got[name])
    assert len(got["BTC-28MAR25-101500-P"]) == 2 and len(got["ETH-28MAR25-3610-P"]) == 1
    names = [line.split(",")[0] for line in SAMPLE.read_text().splitlines()[1:]]
    n_rows = len(names)
    assert len(chain) == n_rows - 10
    assert "ETH-28MAR25-3610-P" in chain.instrument.tolist()  # the first copy of the repeat
    btc = chain.select(underlying="btc", expiry="2025-03-28")
    assert len(btc) == sum(s.startswith("BTC-28MAR25-") for s in names) - 2
    smiles = list(chain.by_expiry())
    assert len(smiles) == 24 and all(np.all(np.diff(s.strike) >= 0) for _, _, s in smiles)


def test_csv_and_parquet_give_identical_chains(tmp_path):
    frame = pd.read_csv(SAMPLE)
    parquet = tmp_path / "chain.parquet"
    frame.to_parquet(parquet, engine="pyarrow")
    a, b = read_chain(SAMPLE), read_chain(parquet)
    for f in ARRAY_FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype, f
        assert np.array_equal(x, y, equal_nan=x.dtype.kind in "fM"), f
    assert a.rejected == b.rejected
    assert a.notes[1:] == b.notes[1:]  # all but the file name


def test_whole_file_problems_raise_config_error(tmp_path):
    frame = _deribit([("BTC-27DEC24-100000-C", 0.01)])
    with pytest.raises(ConfigError, match="'forward' or 'underlying_price'"):
        read_chain(frame.drop(columns="underlying_price"))
    generic = pd.DataFrame([GOOD]).drop(columns="strike")
    with pytest.raises(ConfigError, match="a column 'strike'"):
        read_chain(generic)
    with pytest.raises(ConfigError, match="'rate' or 'interest_rate' column"):
        read_chain(frame.drop(columns="interest_rate"))
    with pytest.raises(ConfigError, match="chain.valuation_date: got None; expected a 'timestamp'"):
        read_chain(frame.drop(columns="timestamp"))
    with pytest.raises(ConfigError, match="at least one valid quote; all 1 rows were rejected"):
        read_chain(_deribit([("BTC-27DEC24-100000-C", -0.01)]))
    with pytest.raises(ConfigError, match="chain.price_unit: got 'usd'"):
        read_chain(frame, price_unit="usd")
    bad = tmp_path / "chain.parquet"
    bad.write_text("not parquet")
    with pytest.raises(ConfigError, match="a readable option-chain file"):
        read_chain(bad)
    with pytest.raises(ConfigError, match="ending in .csv or .parquet"):
        read_chain(tmp_path / "chain.xlsx")


def test_rows_of_one_expiry_with_different_timestamps_form_one_smile():
    frame = _deribit([("BTC-27DEC24-110000-C", 0.01), ("BTC-27DEC24-90000-P", 0.01),
                      ("BTC-3JAN25-100000-C", 0.02)])
    frame["timestamp"] = [NOW_MS, NOW_MS + 30_000, NOW_MS]
    chain = read_chain(frame)
    np.testing.assert_allclose(chain.expiry[:2], [(166 * 3600) / (8760 * 3600),
                                                  (166 * 3600 - 30) / (8760 * 3600)], rtol=1e-14)
    smiles = [(und, t, s.strike.tolist()) for und, t, s in chain.by_expiry()]
    assert smiles == [("BTC", float(np.mean(chain.expiry[:2])), [90000.0, 110000.0]),
                      ("BTC", chain.expiry[2], [100000.0])]
    assert len(chain.select(expiry=float(chain.expiry[1]))) == 2
    assert any("timestamps span 30 s" in n for n in chain.notes)
