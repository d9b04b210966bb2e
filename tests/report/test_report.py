"""`mcrisk.report.write_report`: every task's plots and report.md from synthetic results."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mcrisk.report import write_report
from mcrisk.report.text import level, num

PNG = b"\x89PNG\r\n\x1a\n"
LEVELS = ["0.95", "0.975", "0.99", "0.999"]
ASSETS = ["BTC", "ETH"]
POSITIONS = ["btc_call_65k", "eth_put_2800", "btc_eth_spread", "eth_perp_short"]


def _greeks(rng, assets, scale=1.0):
    g = {}
    for k, size in (("delta", 0.5), ("gamma", 1e-5), ("vega", 120.0)):
        g[k] = {a: float(scale * size * rng.normal()) for a in assets}
        g[f"{k}_stderr"] = {a: float(abs(v) * 0.01) for a, v in g[k].items()}
    g["rho"], g["rho_stderr"] = float(scale * rng.normal() * 50), 0.4
    return g


def price_result(greeks=True, n=4):
    rng = np.random.default_rng(0)
    positions = []
    for i in range(n):
        name = POSITIONS[i % len(POSITIONS)] + ("" if i < len(POSITIONS) else f"_{i}")
        q = float(rng.choice([-10.0, 1.0, 5.0]))
        unit = float(rng.uniform(50, 5000))
        unit_se = unit * 0.004
        assets = ASSETS if "spread" in name else [ASSETS[i % 2]]
        p = {"name": name, "type": "european", "assets": assets, "quantity": q,
             "unit_price": unit, "unit_stderr": unit_se, "value": q * unit,
             "stderr": abs(q) * unit_se,
             "ci95": [q * unit - 1.96 * abs(q) * unit_se, q * unit + 1.96 * abs(q) * unit_se]}
        if greeks:
            p["greeks"] = _greeks(rng, assets, q)
        positions.append(p)
    value = sum(p["value"] for p in positions)
    book = {"value": value, "stderr": 41.5, "ci95": [value - 81.3, value + 81.3]}
    if greeks:
        book["greeks"] = _greeks(rng, ASSETS, 3.0)
    return {"task": "price", "positions": positions, "book": book, "n_paths": 100_000,
            "n_samples": 100_000, "n_steps": 66, "model": "heston", "dtype": "float32",
            "seed": 0, "antithetic": True, "notes": ["Feller condition violated"],
            "provenance": {"jax": "0.6.0", "device": "cpu", "prng": "threefry2x32 | x64"}}


def _histogram(losses, bins=60):
    lo, hi = np.quantile(losses, [0.0005, 0.9995])
    counts, edges = np.histogram(losses, bins=bins, range=(lo, hi))
    return {"edges": edges.tolist(), "counts": counts.tolist(),
            "below": int((losses < lo).sum()), "above": int((losses > hi).sum())}


def _tail(losses):
    srt = -np.sort(-losses)
    var, es, var_ci, es_ci = {}, {}, {}, {}
    for k in LEVELS:
        m = int(np.ceil(losses.size * (1 - float(k))))
        var[k], es[k] = float(srt[m - 1]), float(srt[:m].mean())
        var_ci[k] = [float(srt[min(m + 10, srt.size - 1)]), float(srt[max(m - 12, 0)])]
        es_ci[k] = [es[k] * 0.97, es[k] * 1.03]
    return var, es, var_ci, es_ci


def _margin(mode="joint", extreme_worst=False):
    spots = np.linspace(-0.16, 0.16, 9)
    scans = [None] if mode == "joint" else ASSETS
    points = []
    for a in scans:
        beta = 1.0 if a in (None, "BTC") else 0.4
        for s in spots:
            for v in (-0.1, 0.0, 0.1):
                points.append({"asset": a, "spot": float(s), "vol": v, "weight": 1.0,
                               "loss": float(beta * (-40_000 * s + 9e5 * s * s - 8_000 * v))})
        for s in (-0.32, 0.32):
            points.append({"asset": a, "spot": s, "vol": 0.0, "weight": 0.35,
                           "loss": float(beta * 1e6 * s * s * (3 if extreme_worst else 0.2))})
    worst = max(points, key=lambda p: p["loss"] * p["weight"])
    req = worst["loss"] * worst["weight"]
    venues = {"deribit": req * 0.8, "okx": req * 0.5}
    return {"requirement": req, "worst_point": worst, "points": points, "per_venue": venues,
            "sum_of_venues": sum(venues.values()),
            "cross_venue_saving": sum(venues.values()) - req,
            "grid": {"spot_range": 0.16, "spot_steps": 9, "vol_shift": 0.1,
                     "extreme_multiple": 2.0, "extreme_weight": 0.35, "mode": mode}}


def _stress():
    return [{"name": name, "loss": loss, "horizon": h,
             "by_position": dict(zip(POSITIONS, np.linspace(loss, -loss / 3, 4).tolist())),
             "spot_shock_pct": {"BTC": s, "ETH": s * 1.3}, "vol_shock_pts": {"BTC": v, "ETH": v}}
            for name, loss, h, s, v in (("crash", 52_000.0, 0.0, -30.0, 25.0),
                                        ("rally", -8_000.0, 1 / 365, 20.0, 0.0),
                                        ("vol crush", 3_100.0, 0.0, 0.0, -15.0))]


def risk_result(profile=True, margin="joint", liquidation=True):
    rng = np.random.default_rng(1)
    pos_losses = rng.standard_t(4, size=(20_000, 4)) * [900.0, 400.0, 250.0, -300.0]
    losses = pos_losses.sum(axis=1)
    var, es, var_ci, es_ci = _tail(losses)
    contrib = {}
    for k in LEVELS:
        m = int(np.ceil(losses.size * (1 - float(k))))
        tail = pos_losses[np.argsort(-losses)[:m]].mean(axis=0)
        contrib[k] = {"component_es": dict(zip(POSITIONS, tail.tolist())),
                      "component_var": dict(zip(POSITIONS, (tail * 0.8).tolist())),
                      "incremental_es": dict(zip(POSITIONS, (tail * 0.9).tolist())),
                      "es_by_asset": {"BTC": float(tail[0] + tail[2] / 2),
                                      "ETH": float(tail[1] + tail[3] + tail[2] / 2)}}
    out = {"task": "risk", "var": var, "es": es, "var_ci": var_ci, "es_ci": es_ci,
           "stats": {"n_scenarios": losses.size, "mean": float(losses.mean()),
                     "stdev": float(losses.std()), "skew": 0.12, "excess_kurtosis": 5.4,
                     "worst_loss": float(losses.max()), "prob_loss": 0.497},
           "histogram": _histogram(losses), "contributions": contrib, "stress": _stress(),
           "margin": _margin(margin) if margin else None,
           "today": {"book": 123_456.78,
                     "positions": dict(zip(POSITIONS, [1e5, 2e4, 3e3, 456.78]))},
           "delta_gamma": {"var": {k: v * 1.02 for k, v in var.items()},
                           "es": {k: v * 1.03 for k, v in es.items()},
                           "var_error": {k: v * 0.02 for k, v in var.items()},
                           "es_error": {k: v * 0.03 for k, v in es.items()}},
           "horizon": 1 / 365, "levels": [float(k) for k in LEVELS], "n_paths": losses.size,
           "model": "gbm", "dtype": "float64", "seed": 7, "method": "delta_gamma",
           "notes": [], "provenance": {"jax": "0.6.0", "git": "abc123"}}
    if profile:
        dates = [7 / 365, 30 / 365, 90 / 365]
        out["profile"] = {
            "dates": dates, "expected_exposure": [1.3e5, 1.4e5, 1.6e5],
            "expected_negative_exposure": [-2e3, -5e3, -9e3], "mean_value": [1.25e5, 1.3e5, 1.4e5],
            "pfe_level": 0.95, "pfe": [1.6e5, 2.0e5, 2.6e5],
            "max_drawdown": {"mean": 9e3, "stdev": 4e3, "q95": 1.7e4, "q99": 2.4e4, "worst": 5e4}}
        if liquidation:
            out["profile"]["liquidation"] = {
                "probability": 0.031, "probability_by_date": [0.002, 0.011, 0.031],
                "expected_time_given_liquidation": 0.17, "collateral": 50_000.0,
                "maintenance_margin": 100_000.0}
    return out


def convergence_result():
    rows = []
    for n in (1_000, 4_000, 16_000, 64_000):
        se = 4_000 / np.sqrt(n)
        row = {"n_paths": n, "book_value": 10_250 + se * 0.5, "book_stderr": se,
               "book_ci95": [10_250 - 1.96 * se, 10_250 + 1.96 * se], "var": {}, "var_ci": {},
               "es": {}, "es_ci": {}}
        for k, v in (("0.99", 2_300.0), ("0.975", 1_800.0)):
            row["var"][k], row["es"][k] = v, v * 1.2
            row["var_ci"][k] = [v - 20 * se, v + 25 * se]
            row["es_ci"][k] = [1.2 * v - 30 * se, 1.2 * v + 30 * se]
        rows.append(row)
    return {"task": "convergence", "rows": rows, "model": "gbm", "dtype": "float32",
            "seed": 0, "notes": []}


def model_risk_result():
    models = {name: {"book_value": v, "book_stderr": v * 0.002,
                     "var": {"0.99": var, "0.975": var * 0.8},
                     "es": {"0.99": var * 1.25, "0.975": var}}
              for name, v, var in (("gbm", 10_210.0, 2_310.0), ("heston", 9_870.0, 2_950.0),
                                   ("merton", 10_480.0, 3_400.0), ("bates", 10_020.0, 3_800.0))}
    return {"task": "model_risk", "models": models, "n_paths": 50_000, "seed": 0, "notes": []}


def stress_result():
    return {"task": "stress", "stress": _stress(), "margin": _margin("per_asset", True),
            "today": {"book": 98_765.43, "positions": {}}, "model": "gbm", "notes": []}


CASES = {
    "price": (price_result, ["values.png", "greeks.png"]),
    "risk": (risk_result, ["loss_histogram.png", "component_es.png", "stress.png",
                           "margin_grid.png", "profile.png"]),
    "risk_per_asset": (lambda: risk_result(margin="per_asset"),
                       ["loss_histogram.png", "component_es.png", "stress.png",
                        "margin_grid.png", "profile.png"]),
    "convergence": (convergence_result, ["convergence.png"]),
    "model_risk": (model_risk_result, ["model_risk.png"]),
    "stress": (stress_result, ["stress.png", "margin_grid.png"]),
}


def check_png(path):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG
    img = imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert 150 <= img.shape[0] <= 3000 and 150 <= img.shape[1] <= 3000
    assert img[..., :3].std() > 0.01  # something was drawn, not a blank canvas


@pytest.mark.parametrize("case", sorted(CASES))
def test_writes_every_plot_and_links_it(case, tmp_path):
    build, pngs = CASES[case]
    written = write_report(build(), tmp_path / "out")
    assert [p.name for p in written] == pngs + ["report.md"]
    for p in written[:-1]:
        assert p.parent == tmp_path / "out"
        check_png(p)
    md = written[-1].read_text()
    for name in pngs:
        assert md.count(f"]({name})") == 1
    assert md.startswith("# mcrisk ")
    assert md.index("## Inputs") < md.index("## Results") < md.index("## Notes")


def test_risk_report_numbers(tmp_path):
    r = risk_result()
    md = write_report(r, tmp_path)[-1].read_text()
    for k in LEVELS:
        assert f"| {level(k)} | {num(r['var'][k])} | [{num(r['var_ci'][k][0])}, " in md
        assert num(r["es"][k]) in md
    assert num(r["margin"]["requirement"]) in md
    assert "| deribit |" in md and num(r["margin"]["cross_venue_saving"]) in md
    assert "| crash |" in md and "52,000.00" in md
    assert "123,456.78" in md and "Tail contributions at 99.9%" in md
    assert "Delta–gamma" in md and "Exposure profile" in md and "3.1%" in md
    assert "0.00274 y (1 day)" in md and "| git | abc123 |" in md
    # The histogram follows the tail table, the margin plot follows the venue table.
    assert md.index("| 99.9% |") < md.index("(loss_histogram.png)")
    assert md.index("| okx |") < md.index("(margin_grid.png)") < md.index("Exposure profile")


def test_price_report_tables_config_and_provenance(tmp_path):
    r = price_result()
    cfg = "model:\n  name: heston\nsim:\n  n_paths: 100000\n"
    md = write_report(r, tmp_path, config_yaml=cfg)[-1].read_text()
    assert f"**{num(r['book']['value'])}**" in md
    for p in r["positions"]:
        assert f"| {p['name']} | european |" in md and num(p["value"]) in md
    assert "```yaml\n" + cfg + "```" in md
    assert "| prng | threefry2x32 \\| x64 |" in md  # a pipe must not split the cell
    assert "- Feller condition violated" in md and "| paths / scenarios | 100,000 |" in md
    assert md.index("Book Greeks") < md.index("(greeks.png)") < md.index("Position Greeks")


def test_missing_optional_keys(tmp_path):
    price = price_result(greeks=False)
    del price["provenance"], price["notes"]
    assert [p.name for p in write_report(price, tmp_path / "p")] == ["values.png", "report.md"]

    risk = risk_result(profile=False, margin=None)
    for key in ("delta_gamma", "stress", "provenance", "var_ci", "es_ci"):
        del risk[key]
    names = [p.name for p in write_report(risk, tmp_path / "r")]
    assert names == ["loss_histogram.png", "component_es.png", "report.md"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Provenance" not in md and "margin" not in md.lower()

    bare = {"task": "risk", "stats": {"n_scenarios": 10}, "profile": {"dates": [0.1]}}
    assert [p.name for p in write_report(bare, tmp_path / "b")] == ["report.md"]

    # A profile with liquidation only, and one with a single date, still draw.
    liq = risk_result()
    liq["profile"] = {"dates": [0.1], "liquidation": {"probability_by_date": [0.0]}}
    assert "profile.png" in [p.name for p in write_report(liq, tmp_path / "l")]

    conv = {"task": "convergence", "rows": [{"n_paths": 1000, "book_value": 1.5}]}
    check_png(write_report(conv, tmp_path / "c")[0])
    models = {"task": "model_risk", "models": {"gbm": {"var": {"0.99": 5.0}}, "heston": {}}}
    check_png(write_report(models, tmp_path / "m")[0])
    assert [p.name for p in write_report({"task": "stress"}, tmp_path / "s")] == ["report.md"]


def test_extreme_worst_point_and_unknown_task(tmp_path):
    r = stress_result()
    assert r["margin"]["worst_point"]["weight"] == 0.35
    md = write_report(r, tmp_path)[-1].read_text()
    assert "98,765.43" in md and "weight 0.35" in md
    joint = risk_result()["margin"]
    assert joint["worst_point"]["weight"] == 1.0  # the in-grid marker is drawn there
    with pytest.raises(ValueError, match="result\\['task'\\]"):
        write_report({"task": "no_such_task"}, tmp_path)


def test_config_with_backticks_keeps_its_fence(tmp_path):
    cfg = "notes: |\n  ```not a fence```\n"
    md = write_report(model_risk_result(), tmp_path, config_yaml=cfg)[-1].read_text()
    assert "````yaml\n" + cfg + "````" in md


def test_import_is_light_and_pyplot_unused(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import mcrisk.report
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("matplotlib", "jax"))
        assert not heavy, heavy
        mcrisk.report.write_report({{"task": "stress", "stress": [{{"name": "x", "loss": 1.0}}]}},
                                   {str(tmp_path)!r})
        assert "matplotlib" in sys.modules and "matplotlib.pyplot" not in sys.modules
        assert "jax" not in sys.modules
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
