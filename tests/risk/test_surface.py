"""`market.surface`: closed forms marked at each contract's own SSVI vol, its dynamics and
its stress/margin moves, checked against Black-Scholes at vols computed here from the SSVI
formula (Gatheral & Jacquier 2014) independently of `mcrisk.vol.ssvi`."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from scipy.stats import norm

import mcrisk
from mcrisk.errors import ConfigError
from tests.compiles import compiled as _compiled

S0, VOL, R = 100.0, 0.6, 0.02
SURF = dict(rho=-0.4, eta=1.2, gamma=0.35, expiries=[0.1, 0.5, 1.0],
            thetas=[0.04, 0.17, 0.36])
PUT = dict(name="put", type="european", asset="A", option="put", strike=80.0, expiry=0.3,
           quantity=1.0)


def _theta(t, p=SURF):
    ts, th = np.asarray(p["expiries"]), np.asarray(p["thetas"])
    if t > ts[-1]:
        return th[-1] * t / ts[-1]
    return np.interp(t, np.r_[0.0, ts], np.r_[0.0, th])


def ssvi_vol(k, t, p=SURF):
    th = _theta(t, p)
    phi = p["eta"] / (th ** p["gamma"] * (1 + th) ** (1 - p["gamma"]))
    rho = p["rho"]
    w = th / 2 * (1 + rho * phi * k + np.sqrt((phi * k + rho) ** 2 + 1 - rho ** 2))
    return np.sqrt(w / t)


def bs(s, k, t, vol, call):
    d1 = (np.log(s / k) + (R + 0.5 * vol ** 2) * t) / (vol * np.sqrt(t))
    d2 = d1 - vol * np.sqrt(t)
    if call:
        return s * norm.cdf(d1) - k * np.exp(-R * t) * norm.cdf(d2)
    return k * np.exp(-R * t) * norm.cdf(-d2) - s * norm.cdf(-d1)


def _write(tmp_path, params, name="surf.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"A": params}))
    return str(path)


def _cfg(positions, surface=None, **risk):
    market = dict(assets=["A"], spot=[S0], vol=[VOL], rate=R, corr=[[1.0]])
    if surface is not None:
        market["surface"] = surface
    return dict(market=market, model=dict(name="gbm"), greeks=dict(enabled=False),
                sim=dict(n_paths=256, n_steps=4, seed=3, dtype="float64", chunk_size=256),
                portfolio=dict(positions=positions),
                risk=dict(dict(horizon=1 / 365, levels=[0.99], margin=False), **risk))


def test_flat_surface_gives_the_flat_vol_risk_stress_and_margin(tmp_path):
    flat = _write(tmp_path, dict(rho=0.0, eta=0.0, gamma=0.3, expiries=[0.1, 1.0],
                                 thetas=[VOL ** 2 * 0.1, VOL ** 2 * 1.0]))
    book = [dict(PUT, quantity=-3.0),
            dict(name="dig", type="digital", asset="A", option="call", strike=110.0,
                 expiry=0.4, cash=10.0, quantity=5.0)]
    risk = dict(stress=[dict(name="crash", spot={"A": -25}, vol={"A": 15})],
                margin=dict(spot_range=0.2, spot_steps=3, vol_shift=0.1, extreme_multiple=0))
    a = mcrisk.risk(_cfg(book, **risk))
    b = mcrisk.risk(_cfg(book, dict(file=flat), **risk))
    for key in ("var", "es"):
        assert b[key]["0.99"] == pytest.approx(a[key]["0.99"], rel=1e-10, abs=1e-10)
    assert b["today"]["book"] == pytest.approx(a["today"]["book"], rel=1e-12)
    assert b["stress"][0]["loss"] == pytest.approx(a["stress"][0]["loss"], rel=1e-10)
    assert b["margin"]["requirement"] == pytest.approx(a["margin"]["requirement"], rel=1e-10)
    # Not a trivially flat book: the digital's smile term vanishes only on a flat smile.
    assert abs(a["today"]["positions"]["dig"]) > 1.0
    # The flat-surface vega of the put (its only Black-Scholes european) in its bucket.
    d1 = (np.log(S0 / 80.0) + (R + 0.5 * VOL ** 2) * 0.3) / (VOL * np.sqrt(0.3))
    assert b["vega_by_expiry"]["positions"]["put"]["90-180d"] == pytest.approx(
        -3.0 * S0 * norm.pdf(d1) * np.sqrt(0.3), rel=1e-9)
    assert "vega_by_expiry" not in a


def test_european_marked_at_its_strike_and_expiry_vol(tmp_path):
    f = _write(tmp_path, SURF)
    call = dict(name="call", type="european", asset="A", option="call", strike=120.0,
                expiry=0.7, quantity=2.0)
    res = mcrisk.stress(_cfg([call, PUT], dict(file=f)))
    flat = mcrisk.stress(_cfg([call, PUT]))
    for p in (call, PUT):
        t, k = p["expiry"], p["strike"]
        vol = ssvi_vol(np.log(k / (S0 * np.exp(R * t))), t)
        ref = p["quantity"] * bs(S0, k, t, vol, p["option"] == "call")
        assert res["today"]["positions"][p["name"]] == pytest.approx(ref, rel=1e-9)
    # The skew lifts the OTM put's vol well above the flat 60%... or below: either way the
    # book's value moves with the surface.
    assert abs(res["today"]["book"] - flat["today"]["book"]) > 0.05


def test_digital_is_priced_on_the_smile(tmp_path):
    f = _write(tmp_path, SURF)
    dig = dict(name="dig", type="digital", asset="A", option="put", strike=90.0, expiry=0.4,
               cash=1.0, quantity=1.0)
    res = mcrisk.stress(_cfg([dig], dict(file=f)))
    t, k, h = 0.4, 90.0, 1e-3
    fwd = S0 * np.exp(R * t)
    # A put digital is dP/dK of puts each at its own strike's vol (central difference).
    puts = [bs(S0, x, t, ssvi_vol(np.log(x / fwd), t), False) for x in (k - h, k + h)]
    ref = (puts[1] - puts[0]) / (2 * h)
    assert res["today"]["positions"]["dig"] == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("dynamics", ["sticky_strike", "sticky_moneyness"])
def test_spot_shock_under_sticky_strike_and_sticky_moneyness(tmp_path, dynamics):
    f = _write(tmp_path, SURF)
    res = mcrisk.stress(_cfg([PUT], dict(file=f, dynamics=dynamics),
                             stress=[dict(name="down", spot={"A": -15})]))
    t, k = PUT["expiry"], PUT["strike"]
    s1 = S0 * 0.85
    f0, f1 = S0 * np.exp(R * t), s1 * np.exp(R * t)
    base = bs(S0, k, t, ssvi_vol(np.log(k / f0), t), False)
    vol1 = ssvi_vol(np.log(k / (f0 if dynamics == "sticky_strike" else f1)), t)
    assert res["stress"][0]["loss"] == pytest.approx(base - bs(s1, k, t, vol1, False),
                                                     rel=1e-9)


def test_parallel_skew_term_and_expiry_scaled_moves(tmp_path):
    f = _write(tmp_path, SURF)
    res = mcrisk.stress(_cfg(
        [PUT], dict(file=f),
        stress=[dict(name="parallel", vol={"A": 5}), dict(name="skew", skew={"A": -10}),
                dict(name="term", term={"A": 4}),
                dict(name="all", spot={"A": 5}, vol={"A": -3}, skew={"A": 6}, term={"A": -2})],
        margin=dict(spot_range=0.1, spot_steps=3, vol_shift=0.3, extreme_multiple=0,
                    vol_expiry_power=0.3)))
    t, k = PUT["expiry"], PUT["strike"]
    lnk = np.log(k / (S0 * np.exp(R * t)))
    vol = ssvi_vol(lnk, t)
    base = bs(S0, k, t, vol, False)
    ratio = (30 / 365) / t
    moves = {"parallel": 0.05, "skew": -0.10 * lnk, "term": 0.04 * np.sqrt(ratio),
             "all": -0.03 + 0.06 * lnk - 0.02 * np.sqrt(ratio)}
    for s in res["stress"]:
        spot = S0 * (1 + s["spot_shock_pct"]["A"] / 100)
        exact = base - bs(spot, k, t, vol + moves[s["name"]], False)
        assert s["loss"] == pytest.approx(exact, rel=1e-9), s["name"]
    # Deribit-style vol range: the shift scaled by (30 days / expiry)^0.3.
    for pt in res["margin"]["points"]:
        dv = pt["vol"] * ratio ** 0.3
        exact = base - bs(S0 * (1 + pt["spot"]), k, t, vol + dv, False)
        assert pt["loss"] == pytest.approx(exact, rel=1e-9, abs=1e-12), pt


@pytest.mark.parametrize("surface, risk, field", [
    (dict(file="SURF", method="svi"), {}, "market.surface.method"),
    (dict(file="SURF", dynamics="sticky_delta"), {}, "market.surface.dynamics"),
    (dict(file="SURF", quotes="chain.csv"), {}, "market.surface"),
    (dict(file="BAD_ETA"), {}, "eta"),
    (dict(file="SURF", vega_buckets=[30, 7]), {}, "market.surface.vega_buckets"),
    (dict(file="SURF", underlyings={"B": "A"}), {}, "market.surface.underlyings.B"),
    (None, dict(stress=[dict(name="s", skew={"A": 1})]), "risk.stress[0].skew"),
    (None, dict(margin=dict(vol_expiry_power=0.3)), "risk.margin.vol_expiry_power"),
])
def test_bad_surface_config_names_the_field(tmp_path, surface, risk, field):
    files = {"SURF": _write(tmp_path, SURF),
             "BAD_ETA": _write(tmp_path, dict(SURF, eta=1.9), "bad.yaml")}
    if surface is not None:
        surface = {k: files.get(v, v) if k == "file" else v for k, v in surface.items()}
    with pytest.raises(ConfigError) as err:
        mcrisk.stress(_cfg([PUT], surface, **risk))
    assert field in str(err.value)


def test_surface_needs_gbm(tmp_path):
    cfg = _cfg([PUT], dict(file=_write(tmp_path, SURF)))
    cfg["model"] = dict(name="merton", jump_intensity=1.0, jump_mean=-0.1, jump_std=0.1)
    with pytest.raises(ConfigError, match="model.name"):
        mcrisk.stress(cfg)


def test_second_run_with_another_surface_compiles_nothing(tmp_path):
    risk = dict(stress=[dict(name="s", spot={"A": -10}, skew={"A": 3})],
                margin=dict(spot_range=0.1, spot_steps=3, vol_shift=0.1, extreme_multiple=0))
    mcrisk.risk(_cfg([PUT], dict(file=_write(tmp_path, SURF)), **risk))
    other = copy.deepcopy(SURF)
    other.update(rho=-0.1, thetas=[0.05, 0.2, 0.5])
    with _compiled() as names:
        res = mcrisk.risk(_cfg([PUT], dict(file=_write(tmp_path, other, "o.yaml")), **risk))
    assert names == []
    t, k = PUT["expiry"], PUT["strike"]
    ref = bs(S0, k, t, ssvi_vol(np.log(k / (S0 * np.exp(R * t))), t, other), False)
    assert res["today"]["positions"]["put"] == pytest.approx(ref, rel=1e-9)


def test_vega_by_expiry_bucket_is_the_black_scholes_vega_at_the_contract_vol(tmp_path):
    f = _write(tmp_path, SURF)
    call = dict(name="call", type="european", asset="A", option="call", strike=120.0,
                expiry=0.7, quantity=2.0)
    short = dict(PUT, name="short", expiry=20 / 365, quantity=-3.0)
    res = mcrisk.price(_cfg([call, short, PUT, dict(name="s", type="spot", asset="A",
                                                    quantity=1.0)], dict(file=f)))
    vb = res["vega_by_expiry"]
    assert vb["buckets"] == ["<=7d", "7-30d", "30-90d", "90-180d", ">180d"]

    def vega(p):
        t, k = p["expiry"], p["strike"]
        vol = ssvi_vol(np.log(k / (S0 * np.exp(R * t))), t)
        d1 = (np.log(S0 / k) + (R + 0.5 * vol ** 2) * t) / (vol * np.sqrt(t))
        return p["quantity"] * S0 * norm.pdf(d1) * np.sqrt(t)

    want = {"call": ">180d", "short": "7-30d", "put": "90-180d"}
    for p in (call, short, PUT):
        got = vb["positions"][p["name"]]
        assert got[want[p["name"]]] == pytest.approx(vega(p), rel=1e-9)
        assert sum(abs(v) for b, v in got.items() if b != want[p["name"]]) == 0.0
    assert vb["book"]["7-30d"] == pytest.approx(vega(short), rel=1e-9)
    assert vb["not_marked"] == ["s"]
    # Today's marks on the smile: Black-Scholes at each contract's SSVI vol; the spot keeps
    # its Monte Carlo value.
    on = res["on_surface"]
    for p in (call, short, PUT):
        t, k = p["expiry"], p["strike"]
        vol = ssvi_vol(np.log(k / (S0 * np.exp(R * t))), t)
        assert on["positions"][p["name"]] == pytest.approx(
            p["quantity"] * bs(S0, k, t, vol, p["option"] == "call"), rel=1e-9)
    assert on["positions"]["s"] == res["positions"][3]["value"]
    assert on["book"] == pytest.approx(sum(on["positions"].values()), rel=1e-12)
    assert on["method"]["s"].startswith("monte carlo")
    from mcrisk.results_schema import undescribed

    assert undescribed("price", res) == []
    st = mcrisk.stress(_cfg([call, short, PUT, dict(name="s", type="spot", asset="A",
                                                    quantity=1.0)], dict(file=f)))
    assert st["vega_by_expiry"] == vb
    assert undescribed("stress", st) == []
    res = mcrisk.price(_cfg([call, short], dict(file=f, vega_buckets=[10, 200])))
    assert res["vega_by_expiry"]["book"] == pytest.approx(
        {"<=10d": 0.0, "10-200d": vega(short), ">200d": vega(call)}, rel=1e-9)


def test_contract_vol_floor_is_reported_never_silent(tmp_path):
    f = _write(tmp_path, SURF)
    short = dict(PUT, expiry=3 / 365)
    # (30 / 3)^0.5 x 30 points down takes a ~60% vol below the 1-point floor.
    res = mcrisk.stress(_cfg([short], dict(file=f), margin=dict(
        spot_range=0.1, spot_steps=3, vol_shift=0.3, extreme_multiple=0,
        vol_expiry_power=0.5)))
    m = res["margin"]
    down = [i for i, pt in enumerate(m["points"]) if pt["vol"] < 0]
    assert m["vol_floored_points"] == down
    assert any("surface-marked contract" in n for n in m["notes"])
    t, k = short["expiry"], short["strike"]
    base = bs(S0, k, t, ssvi_vol(np.log(k / (S0 * np.exp(R * t))), t), False)
    for i in down:
        pt = m["points"][i]
        exact = base - bs(S0 * (1 + pt["spot"]), k, t, 0.01, False)
        assert pt["loss"] == pytest.approx(exact, rel=1e-9, abs=1e-12)
    with pytest.raises(ConfigError, match=r"risk.stress\[0\]"):
        mcrisk.stress(_cfg([short], dict(file=f),
                           stress=[dict(name="flatten", vol={"A": -5}, term={"A": -40})]))


def test_calibrate_results_json_is_read_like_the_params_file(tmp_path):
    import json

    section = {"method": "ssvi", "params": {k: SURF[k] for k in ("rho", "eta", "gamma",
                                                                 "thetas")},
               "expiries": [{"years": t, "forward": 1.0} for t in SURF["expiries"]]}
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"task": "calibrate", "surface": {"a": section}}))
    res = mcrisk.stress(_cfg([PUT], dict(file=str(path))))
    t, k = PUT["expiry"], PUT["strike"]
    ref = bs(S0, k, t, ssvi_vol(np.log(k / (S0 * np.exp(R * t))), t), False)
    assert res["today"]["positions"]["put"] == pytest.approx(ref, rel=1e-9)
