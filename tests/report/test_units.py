"""What a quant reads: units stated, vol shifts in one convention, no "-0.00", notes shown."""

from __future__ import annotations

from mcrisk.cli import summary
from mcrisk.report import write_report
from mcrisk.report.text import fmt, num
from mcrisk.tasks.price import table as price_table
from mcrisk.tasks.risk import table as risk_table

from tests.report.test_report import price_result, risk_result


def _with_flat_short_perp(result: dict) -> dict:
    # A short perpetual at its entry price is worth -5 x 0.0 = -0.0.
    result["positions"].append({"name": "btc_perp", "type": "perpetual", "assets": ["BTC"],
                                "quantity": -5.0, "unit_price": 0.0, "unit_stderr": 0.0,
                                "value": -0.0, "stderr": 0.0, "ci95": [-0.0, -0.0]})
    return result


def test_zero_prints_unsigned_and_small_numbers_keep_their_sign():
    assert fmt(-0.0, ">14.2f") == f"{'0.00':>14}"
    assert fmt(-0.004, ",.2f") == "0.00"
    assert fmt(-0.006, ",.2f") == "-0.01"
    assert fmt(-1e-9, ".2g") == "-1e-09"
    assert num(-0.0) == "0.00"


def test_price_summary_and_report_state_greek_units_and_print_no_negative_zero(tmp_path):
    result = _with_flat_short_perp(price_result())
    text = price_table(result)
    assert "-0.00" not in text
    assert "vega per 1.00 of vol (= 100 vol points)" in text
    assert "rho per 1.00 of rate" in text
    write_report(result, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "vega per 1.00 of vol (100 vol points)" in report
    assert "-0.00" not in report


def test_vol_shifts_print_in_vol_points_in_the_summary_and_the_report(tmp_path):
    result = risk_result()
    result.update(measure="risk-neutral", model="gbm", dtype="float32", n_paths=20_000)
    result["stats"].update(mean_stderr=1.0, worst_loss=9e3, prob_loss=0.5)
    result["margin"]["worst_point"] = dict(result["margin"]["worst_point"], spot=-0.16,
                                           vol=-0.1)
    text = risk_table(result)
    assert "vol -10 pts" in text and "vol -0.10" not in text
    write_report(result, tmp_path)
    assert "vol shift -10 pts" in (tmp_path / "report.md").read_text()


def test_cli_summary_prints_the_estimated_vols_from_the_notes():
    result = price_result()
    result["notes"] = ["market estimated from prices.csv: 400 rows",
                       "vol BTC: 0.587636 (per observation 0.03076; s.e. about 0.021 for "
                       "normal returns)"]
    text = summary(result)
    assert "note: vol BTC: 0.587636 (per observation 0.03076; s.e. about 0.021" in text
