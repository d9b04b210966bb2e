"""Delta-gamma losses, per-asset margin and stresses with a horizon against hand computations
(Black-Scholes, QuantLib), on small float64 books."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

import mcrisk
from tests.reference import qlref

R = 0.03


def _bs(s, k, t, vol, r=R, call=True):
    d1 = (np.log(s / k) + (r + 0.5 * vol ** 2) * t) / (vol * np.sqrt(t))
    d2 = d1 - vol * np.sqrt(t)
    if call:
        return s * norm.cdf(d1) - k * np.exp(-r * t) * norm.cdf(d2)
    return k * np.exp(-r * t) * norm.cdf(-d2) - s * norm.cdf(-d1)


def _top(loss, level):
    """VaR (the m-th largest loss, m = ceil(n (1 - level))) and ES (mean of the m largest)."""
    m = math.ceil(loss.size * (1 - level) - 1e-9)
    top = np.sort(loss)[::-1][:m]
    return top[-1], top.mean()


def _run_with_spots(cfg):
    spots = []
    res = mcrisk.risk(cfg, sink=lambda idx, loss, s: spots.append(np.array(s[:, -1, :])))
    return res, np.concatenate(spots)


def _dg_cfg(market, positions, **risk):
    return dict(market=market, model=dict(name="gbm"),
                sim=dict(n_paths=20_000, n_steps=4, seed=3, dtype="float64", chunk_size=10_000),
                greeks=dict(enabled=True), portfolio=dict(positions=positions),
                risk=dict(horizon=5 / 365, levels=[0.95, 0.99], method="delta_gamma",
                          margin=dict(enabled=False), **risk))


LINEAR_MARKET = dict(assets=["A", "B"], spot=[100.0, 50.0], vol=[0.6, 0.8], rate=R,
                     corr=[[1.0, 0.5], [0.5, 1.0]])


def test_delta_gamma_is_exact_for_spot_positions():
    """Spot positions: delta 1, gamma 0, loss linear in the spot move: the delta-gamma loss of
    every scenario is the full loss, so VaR and ES agree to rounding."""
    res = mcrisk.risk(_dg_cfg(LINEAR_MARKET, [dict(type="spot", asset="A", quantity=3.0),
                                              dict(type="spot", asset="B", quantity=-2.0)]))
    for lvl in ("0.95", "0.99"):
        assert res["delta_gamma"]["var"][lvl] == pytest.approx(res["var"][lvl], rel=1e-12)
        assert res["delta_gamma"]["es"][lvl] == pytest.approx(res["es"][lvl], rel=1e-12)


def test_delta_gamma_of_linear_book_against_hand_losses():
    """Spot + forward: the full loss is q (S0 - S_h) plus the forward's deterministic carry
    q K (e^{-r(T-h)} - e^{-rT}); the delta-gamma loss is q delta (S0 - S_h) (no theta), with
    the forward's delta a Monte Carlo estimate of 1 (its stated s.e. bounds the gap)."""
    k, t, h, qf = 90.0, 0.5, 5 / 365, 4.0
    positions = [dict(type="spot", asset="A", quantity=3.0),
                 dict(type="spot", asset="B", quantity=-2.0),
                 dict(type="forward", asset="A", strike=k, expiry=t, quantity=qf)]
    cfg = _dg_cfg(LINEAR_MARKET, positions)
    res, s_h = _run_with_spots(cfg)
    ds = s_h - np.array([100.0, 50.0])
    linear = -(3.0 + qf) * ds[:, 0] + 2.0 * ds[:, 1]
    carry = qf * k * (math.exp(-R * (t - h)) - math.exp(-R * t))
    d_se = mcrisk.price(cfg)["positions"][2]["greeks"]["delta_stderr"]["A"]
    tol = 4 * d_se * np.abs(ds[:, 0]).max()  # Greeks and their s.e. are per position
    for a in (0.95, 0.99):
        var, es = _top(linear, a)
        lvl = repr(a)
        assert res["var"][lvl] == pytest.approx(var + carry, rel=1e-10)
        assert res["es"][lvl] == pytest.approx(es + carry, rel=1e-10)
        assert abs(res["delta_gamma"]["var"][lvl] - var) <= tol
        assert abs(res["delta_gamma"]["es"][lvl] - es) <= tol


def test_delta_gamma_of_an_option_against_analytic_greeks():
    """Short call under a vol shock: the delta-gamma-vega Taylor loss with Black-Scholes
    Greeks, computed here per scenario, has the library's VaR/ES up to the Monte Carlo error
    of its pricing Greeks (4 stated s.e. times the largest move they multiply)."""
    s0, k, t, vol, q, dvol = 100.0, 105.0, 0.25, 0.5, -5.0, 0.05
    market = dict(assets=["X"], spot=[s0], vol=[vol], rate=R)
    pos = [dict(type="european", asset="X", option="call", strike=k, expiry=t, quantity=q)]
    cfg = _dg_cfg(market, pos, vol_dynamics="shock", vol_shock={"X": dvol})
    res, s_h = _run_with_spots(cfg)
    ds = s_h[:, 0] - s0
    d1 = (math.log(s0 / k) + (R + 0.5 * vol ** 2) * t) / (vol * math.sqrt(t))
    delta, gamma = norm.cdf(d1), norm.pdf(d1) / (s0 * vol * math.sqrt(t))
    vega = s0 * norm.pdf(d1) * math.sqrt(t)
    loss = -q * (delta * ds + 0.5 * gamma * ds ** 2 + vega * dvol)
    g = mcrisk.price(cfg)["positions"][0]["greeks"]
    se = (g["delta_stderr"]["X"] * np.abs(ds).max() + 0.5 * g["gamma_stderr"]["X"]
          * (ds ** 2).max() + g["vega_stderr"]["X"] * dvol)
    tol = 4 * se  # Greeks and their s.e. are per position (quantity included)
    for a in (0.95, 0.99):
        var, es = _top(loss, a)
        lvl = repr(a)
        assert abs(res["delta_gamma"]["var"][lvl] - var) <= tol, (lvl, var, tol, res["delta_gamma"])
        assert abs(res["delta_gamma"]["es"][lvl] - es) <= tol, (lvl, es, tol, res["delta_gamma"])


def _stress_cfg(positions, **risk):
    return dict(market=dict(assets=["A", "B"], spot=[100.0, 50.0], vol=[0.6, 0.8], rate=R,
                            corr=[[1.0, 0.5], [0.5, 1.0]]),
                model=dict(name="gbm"),
                sim=dict(n_paths=2000, n_steps=4, seed=1, dtype="float64", chunk_size=2000),
                greeks=dict(enabled=False), portfolio=dict(positions=positions),
                risk=dict(horizon=5 / 365, **risk))


def test_per_asset_margin_is_the_sum_of_each_assets_worst_scan():
    """mode per_asset: each asset moves alone over the grid; the requirement is the sum over
    assets of the worst weighted loss of that asset's scan (Black-Scholes by hand)."""
    positions = [
        dict(name="ca", type="european", asset="A", option="call", strike=110.0, expiry=0.5,
             quantity=-2.0),
        dict(name="pa", type="european", asset="A", option="put", strike=90.0, expiry=0.5,
             quantity=1.0),
        dict(name="cb", type="european", asset="B", option="call", strike=45.0, expiry=0.25,
             quantity=-3.0),
        dict(name="fb", type="perpetual", asset="B", quantity=2.0)]
    grid = dict(spot_range=0.2, spot_steps=5, vol_shift=0.1, mode="per_asset")
    res = mcrisk.stress(_stress_cfg(positions, margin=grid))["margin"]

    def loss_a(mv, dv):
        s, v = 100.0 * (1 + mv), 0.6 + dv
        return (-2.0 * (_bs(100.0, 110.0, 0.5, 0.6) - _bs(s, 110.0, 0.5, v))
                + (_bs(100.0, 90.0, 0.5, 0.6, call=False) - _bs(s, 90.0, 0.5, v, call=False)))

    def loss_b(mv, dv):
        s, v = 50.0 * (1 + mv), 0.8 + dv
        return -3.0 * (_bs(50.0, 45.0, 0.25, 0.8) - _bs(s, 45.0, 0.25, v)) - 2.0 * 50.0 * mv

    total = 0.0
    for asset, loss in (("A", loss_a), ("B", loss_b)):
        pts = [(mv, dv, 1.0) for mv in (-0.2, -0.1, 0.0, 0.1, 0.2) for dv in (-0.1, 0.0, 0.1)]
        pts += [(-0.4, 0.0, 0.35), (0.4, 0.0, 0.35)]
        worst = max(w * loss(mv, dv) for mv, dv, w in pts)
        total += max(worst, 0.0)
        got = [p for p in res["points"] if p["asset"] == asset]
        assert len(got) == len(pts)
        for p in got:
            assert p["loss"] == pytest.approx(loss(p["spot"], p["vol"]), rel=1e-9, abs=1e-9)
    assert res["grid"]["mode"] == "per_asset"
    assert res["requirement"] == pytest.approx(total, rel=1e-9)


def test_stress_with_horizon_against_hand_computed_values():
    """Shock, then roll 30 days forward at the shocked spot and vol: options expiring inside
    pay intrinsic (carried at the rate), the rest are Black-Scholes / Reiner-Rubinstein /
    geometric-average values with the shortened expiry; a fixing inside the horizon fixes at
    the shocked spot; perpetual funding accrues on the shocked spot over the horizon."""
    y = qlref.years
    h = y(30)
    s0, vol, mv, dv = 100.0, 0.6, -0.25, 0.15
    s1, v1 = s0 * (1 + mv), vol + dv
    positions = [
        dict(name="call", type="european", asset="A", option="call", strike=110.0,
             expiry=y(180), quantity=-2.0),
        dict(name="put", type="european", asset="A", option="put", strike=95.0,
             expiry=y(20), quantity=3.0),
        dict(name="dig", type="digital", asset="A", option="call", strike=80.0,
             expiry=y(120), cash=10.0, quantity=1.0),
        dict(name="fwd", type="forward", asset="A", strike=100.0, expiry=y(90), quantity=1.5),
        dict(name="perp", type="perpetual", asset="A", funding_rate=0.1, quantity=-1.0),
        dict(name="uo", type="barrier", asset="A", option="call", strike=90.0, barrier=150.0,
             barrier_type="up-and-out", expiry=y(180), quantity=2.0),
        dict(name="do", type="barrier", asset="A", option="call", strike=100.0, barrier=80.0,
             barrier_type="down-and-out", expiry=y(180), quantity=1.0),
        dict(name="geo", type="asian", asset="A", option="call", strike=90.0, expiry=y(120),
             fixings=6, average="geometric", quantity=4.0)]
    cfg = _stress_cfg(positions, margin=dict(enabled=False),
                      stress=[dict(name="crash", spot={"A": mv * 100}, vol={"A": dv * 100},
                                   horizon=h)])
    res = mcrisk.stress(cfg)["stress"][0]

    def dig(s, t, v):
        d2 = (math.log(s / 80.0) + (R - 0.5 * v ** 2) * t) / (v * math.sqrt(t))
        return 10.0 * math.exp(-R * t) * norm.cdf(d2)

    def geo(log_fixed, n_fixed, s, taus, v, t_pay):
        """Call on the geometric mean of n_fixed fixed and len(taus) future fixings."""
        n = n_fixed + len(taus)
        taus = np.asarray(taus)
        mean = (log_fixed + len(taus) * math.log(s) + (R - 0.5 * v ** 2) * taus.sum()) / n
        var = v ** 2 * np.minimum.outer(taus, taus).sum() / n ** 2
        d1 = (mean + var - math.log(90.0)) / math.sqrt(var)
        return math.exp(-R * t_pay) * (math.exp(mean + 0.5 * var) * norm.cdf(d1)
                                       - 90.0 * norm.cdf(d1 - math.sqrt(var)))

    today = {"call": _bs(s0, 110.0, y(180), vol),
             "put": _bs(s0, 95.0, y(20), vol, call=False),
             "dig": dig(s0, y(120), vol),
             "fwd": s0 - 100.0 * math.exp(-R * y(90)),
             "perp": 0.0,
             "uo": qlref.barrier(s0, 90.0, 150.0, "up-and-out", 180, vol, R, 0.0, "call"),
             "do": qlref.barrier(s0, 100.0, 80.0, "down-and-out", 180, vol, R, 0.0, "call"),
             "geo": geo(0.0, 0, s0, [y(20 * k) for k in range(1, 7)], vol, y(120))}
    later = {"call": _bs(s1, 110.0, y(150), v1),
             "put": max(95.0 - s1, 0.0) * math.exp(R * (h - y(20))),
             "dig": dig(s1, y(90), v1),
             "fwd": s1 - 100.0 * math.exp(-R * y(60)),
             "perp": s1 - s0 - 0.1 * s1 * h,
             "uo": qlref.barrier(s1, 90.0, 150.0, "up-and-out", 150, v1, R, 0.0, "call"),
             "do": 0.0,  # 75 < 80: knocked out by the shock
             "geo": geo(math.log(s1), 1, s1, [y(20 * k - 30) for k in range(2, 7)], v1, y(90))}
    for p in positions:
        nm = p["name"]
        hand = p["quantity"] * (today[nm] - later[nm])
        assert res["by_position"][nm] == pytest.approx(hand, rel=1e-8, abs=1e-9), nm
    assert res["horizon"] == h


def test_tiny_quantity_keeps_exact_tail_and_moments():
    """Losses of size 1e-120 (a dust position): ES, its interval and the moments are those of
    the unit position times the quantity, not 0/0 from cubed losses underflowing."""
    q, s0, vol, h, n = 1e-120, 100.0, 0.8, 0.25, 20_000
    cfg = dict(market=dict(assets=["X"], spot=[s0], vol=[vol], rate=R),
               sim=dict(n_paths=n, n_steps=2, seed=5, dtype="float64", chunk_size=n),
               greeks=dict(enabled=False),
               portfolio=dict(positions=[dict(type="spot", asset="X", quantity=q)]),
               risk=dict(horizon=h, levels=[0.99], margin=dict(enabled=False)))
    res = mcrisk.risk(cfg)
    sd = vol * math.sqrt(h)
    z = norm.ppf(0.01)  # the loss q (S0 - S_h) is large where the spot is low
    es = q * (s0 - s0 * math.exp(R * h) * norm.cdf(z - sd) / 0.01)
    lo, hi = res["es_ci"]["0.99"]
    assert abs(res["es"]["0.99"] - es) <= 4 * (hi - lo) / (2 * 1.96), (res["es"], es, lo, hi)
    mean = q * s0 * (1 - math.exp(R * h))
    assert abs(res["stats"]["mean"] - mean) <= 4 * res["stats"]["mean_stderr"]
    # Standard deviation: s.e. sd sqrt((excess kurtosis + 2) / 4n), lognormal kurtosis exact.
    w = math.exp(sd ** 2)
    exact_sd = q * s0 * math.exp(R * h) * math.sqrt(w - 1)
    kurt = w ** 4 + 2 * w ** 3 + 3 * w ** 2 - 6
    assert abs(res["stats"]["stdev"] - exact_sd) <= 4 * exact_sd * math.sqrt((kurt + 2) / (4 * n))
