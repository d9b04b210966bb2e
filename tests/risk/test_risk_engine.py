"""Risk engine structure: streaming exactness, stress/margin against hand-computed
Black-Scholes, nested Monte Carlo against closed forms, exposure and liquidation, errors."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from scipy.stats import norm

import mcrisk
from mcrisk import ConfigError
from mcrisk.riskengine.metrics import Tail, es, var

S0, VOL, R = 100.0, 0.6, 0.02


def _bs(s, k, t, vol, r, call=True):
    d1 = (np.log(s / k) + (r + 0.5 * vol ** 2) * t) / (vol * np.sqrt(t))
    d2 = d1 - vol * np.sqrt(t)
    if call:
        return s * norm.cdf(d1) - k * np.exp(-r * t) * norm.cdf(d2)
    return k * np.exp(-r * t) * norm.cdf(-d2) - s * norm.cdf(-d1)


BOOK = dict(
    market=dict(assets=["A", "B"], spot=[S0, 50.0], vol=[VOL, 0.8], rate=R,
                corr=[[1.0, 0.5], [0.5, 1.0]]),
    model=dict(name="gbm"),
    sim=dict(n_paths=3000, n_steps=8, seed=4, dtype="float64", chunk_size=3000),
    greeks=dict(enabled=False),
    portfolio=dict(positions=[
        dict(name="call", type="european", asset="A", option="call", strike=110.0,
             expiry=0.5, quantity=-2.0, venue="deribit"),
        dict(name="put", type="european", asset="A", option="put", strike=90.0, expiry=0.5,
             quantity=3.0, venue="okx"),
        dict(name="asian", type="asian", asset="B", option="call", strike=50.0, expiry=0.5,
             fixings=4, quantity=1.0, venue="okx"),
        dict(name="perp", type="perpetual", asset="B", quantity=-2.0, funding_rate=0.1,
             venue="deribit"),
    ]),
    risk=dict(horizon=5 / 365, levels=[0.9, 0.99], inner_paths=16,
              stress=[dict(name="crash", spot={"A": -30, "B": -40}, vol={"A": 20})],
              margin=dict(spot_range=0.2, spot_steps=5, vol_shift=0.1)))


@pytest.fixture(scope="module")
def chunked():
    out = {}
    for chunk in (3000, 700):
        cfg = copy.deepcopy(BOOK)
        cfg["sim"]["chunk_size"] = chunk
        out[chunk] = mcrisk.risk(cfg)
    return out


def test_streamed_equals_in_memory(chunked):
    a, b = chunked[3000], chunked[700]
    for key in ("var", "es", "var_ci", "es_ci"):
        assert json.dumps(a[key]) == json.dumps(b[key]) or _close(a[key], b[key])
    for k in ("mean", "stdev", "worst_loss", "prob_loss"):
        assert a["stats"][k] == pytest.approx(b["stats"][k], rel=1e-10)
    # XLA may round a scenario's value differently (~1e-14) at another batch width, which can
    # move a loss lying on a bin edge to the next bin; nothing else may differ.
    ca, cb = np.array(a["histogram"]["counts"]), np.array(b["histogram"]["counts"])
    assert ca.sum() == cb.sum() and np.abs(ca - cb).sum() <= 2
    assert a["contributions"]["0.99"]["component_es"] == pytest.approx(
        b["contributions"]["0.99"]["component_es"], rel=1e-10)
    json.dumps(a)  # JSON-serialisable


def _close(x, y):
    return all(np.allclose(x[k], y[k], rtol=1e-10, atol=0) for k in x)


def test_tail_merge_matches_sorting_in_memory():
    rng = np.random.default_rng(0)
    pos = rng.standard_t(3, size=(20_000, 3)) * [1.0, 2.0, 0.5]
    idx = np.arange(20_000)
    levels = (0.9, 0.99, 0.999)
    tail = Tail(20_000, 3, levels, 0.95, 30)
    for s in range(0, 20_000, 1_337):
        tail.update(pos[s:s + 1_337], idx[s:s + 1_337])
    res = tail.result()
    loss = pos.sum(axis=1)
    for a, t in zip(levels, res.metrics):
        assert t.level == a
        assert t.var == var(loss, a)
        assert t.es == pytest.approx(es(loss, a), rel=1e-12)
        lo, hi = t.var_ci
        assert lo <= t.var <= hi
    assert res.stats.mean == pytest.approx(loss.mean(), rel=1e-9)
    assert res.stats.stdev == pytest.approx(loss.std(ddof=1), rel=1e-9)
    assert res.stats.worst_loss == loss.max()
    # Leave-one-out tails give the incremental ES exactly.
    m = math.ceil(20_000 * 0.01)
    loo = -np.sort(-(loss - pos[:, 1]))[:m].mean()
    assert tail.loo_top[1, :m].mean() == pytest.approx(loo, rel=1e-12)


def test_tail_moments_across_chunks_of_very_different_size():
    """A first chunk of dust-sized losses, then ordinary ones, then dust again: streamed
    moments must match SciPy's on the whole sample (no underflow to 0/0, no overflow)."""
    from scipy import stats

    rng = np.random.default_rng(1)
    parts = [1e-150 * rng.standard_normal(500), rng.lognormal(0, 1, 500),
             1e-200 * rng.standard_normal(500)]
    loss = np.concatenate(parts)
    tail = Tail(loss.size, 1, (0.99,), 0.95, 20)
    start = 0
    for x in parts:
        tail.update(x[:, None], np.arange(start, start + x.size))
        start += x.size
    st = tail.result().stats
    assert st.stdev == pytest.approx(loss.std(ddof=1), rel=1e-10)
    assert st.skew == pytest.approx(stats.skew(loss), rel=1e-8)
    assert st.excess_kurtosis == pytest.approx(stats.kurtosis(loss), rel=1e-8)


def test_component_es_sums_to_es_and_incremental_es(chunked):
    res = chunked[3000]
    # The Asian is nested at the horizon: ES and its components get the same jackknife
    # (linear in the tail means), so they still add up.
    assert res["nested_error"] is not None
    for lvl, c in res["contributions"].items():
        assert sum(c["component_es"].values()) == pytest.approx(res["es"][lvl], rel=1e-12)
        assert sum(c["es_by_asset"].values()) == pytest.approx(res["es"][lvl], rel=1e-12)
        assert set(c["incremental_es"]) == {"call", "put", "asian", "perp"}


def test_stress_and_margin_against_hand_computed_black_scholes(chunked):
    res = chunked[3000]
    t = 0.5
    v_call = lambda s, v: -2.0 * _bs(s, 110.0, t, v, R)  # noqa: E731
    v_put = lambda s, v: 3.0 * _bs(s, 90.0, t, v, R, call=False)  # noqa: E731
    crash = res["stress"][0]
    s1, v1 = S0 * 0.7, VOL + 0.2
    assert crash["by_position"]["call"] == pytest.approx(v_call(S0, VOL) - v_call(s1, v1),
                                                         rel=1e-9)
    assert crash["by_position"]["put"] == pytest.approx(v_put(S0, VOL) - v_put(s1, v1),
                                                        rel=1e-9)
    # Perpetual: linear in the spot, no funding accrued on an instantaneous shock.
    assert crash["by_position"]["perp"] == pytest.approx(-2.0 * (50.0 - 30.0), rel=1e-12)
    # The deribit venue (short call + short perp) is all closed form: its requirement is
    # the worst weighted grid loss computed by hand.
    margin = res["margin"]
    hand = [pt["weight"] * (v_call(S0, VOL) - v_call(S0 * (1 + pt["spot"]), VOL + pt["vol"])
                            + 2.0 * 50.0 * pt["spot"])
            for pt in margin["points"]]
    assert len(hand) == 5 * 3 + 2
    assert margin["per_venue"]["deribit"] == pytest.approx(max(max(hand), 0.0), rel=1e-9)


def test_margin_grid_points_exact_for_closed_form_book():
    cfg = copy.deepcopy(BOOK)
    cfg["portfolio"]["positions"] = cfg["portfolio"]["positions"][:2]
    cfg["risk"]["stress"] = []
    res = mcrisk.risk(cfg)
    weighted = []
    for pt in res["margin"]["points"]:
        s, v = S0 * (1 + pt["spot"]), VOL + pt["vol"]
        hand = (-2.0 * (_bs(S0, 110.0, 0.5, VOL, R) - _bs(s, 110.0, 0.5, v, R))
                + 3.0 * (_bs(S0, 90.0, 0.5, VOL, R, False) - _bs(s, 90.0, 0.5, v, R, False)))
        assert pt["loss"] == pytest.approx(hand, rel=1e-9, abs=1e-9)
        weighted.append(pt["weight"] * hand)
        expected_weight = 0.35 if abs(pt["spot"]) > 0.2 + 1e-12 else 1.0
        assert pt["weight"] == expected_weight
    assert len(weighted) == 5 * 3 + 2
    assert res["margin"]["requirement"] == pytest.approx(max(max(weighted), 0.0), rel=1e-9)


@pytest.mark.parametrize("model", [dict(name="gbm"),
                                   dict(name="heston", kappa=2.0, theta=0.36, xi=0.8,
                                        rho=-0.5),
                                   dict(name="bates", kappa=2.0, theta=0.36, xi=0.8, rho=-0.5,
                                        jump_intensity=2.0, jump_mean=-0.1, jump_std=0.15)])
def test_nested_monte_carlo_agrees_with_closed_form(model):
    """A european revalued by nested MC (`risk.revaluation: nested`, independent inner paths
    per scenario) and by its closed form (Black-Scholes, or Heston's characteristic function
    at the scenario's variance; Bates adds its jumps) on the same scenarios: the per-scenario differences are pure
    inner noise, so their mean vanishes within 4 s.e. and their spread is small."""
    n = 200

    def run(revaluation):
        cfg = copy.deepcopy(BOOK)
        cfg["model"] = model
        cfg["sim"].update(n_paths=n, n_steps=16, chunk_size=n * 1024)
        cfg["portfolio"]["positions"] = [dict(name="eu", type="european", asset="A",
                                              option="call", strike=105.0, expiry=0.25)]
        cfg["risk"] = dict(horizon=5 / 365, levels=[0.9], inner_paths=1024,
                           revaluation=revaluation, margin=dict(enabled=False))
        loss = np.zeros(n)

        def sink(idx, pos_loss, spots):
            loss[idx] = pos_loss[:, 0]

        res = mcrisk.risk(cfg, sink=sink)
        return res, loss

    closed, l_closed = run("auto")
    nested, l_nested = run("nested")
    assert closed["methods_at_horizon"]["eu"].startswith("closed form")
    assert nested["methods_at_horizon"]["eu"] == "nested monte carlo"
    diff = l_nested - l_closed
    sd = diff.std(ddof=1)
    assert abs(diff.mean()) <= 4 * sd / math.sqrt(n), (diff.mean(), sd)
    assert sd <= 0.1 * l_closed.std()


def test_profile_exposures_pfe_and_liquidation_against_lognormal():
    """Long perpetual: value q (S_d - S0) at one date, so EE, ENE, mean value, PFE and the
    liquidation probability are lognormal closed forms; scenarios are iid, so each estimate's
    s.e. is the exact one of an iid mean / order statistic / proportion."""
    q, c, mm, d, n = 10.0, 400.0, 100.0, 30 / 365, 40_000
    cfg = dict(market=dict(assets=["X"], spot=[S0], vol=[VOL], rate=R),
               sim=dict(n_paths=n, n_steps=4, seed=9, dtype="float64", chunk_size=20_000),
               greeks=dict(enabled=False),
               portfolio=dict(positions=[dict(type="perpetual", asset="X", quantity=q)]),
               risk=dict(horizon=d, dates=[d], collateral=c, maintenance_margin=mm,
                         pfe_level=0.9, margin=dict(enabled=False)))
    prof = mcrisk.risk(cfg)["profile"]
    sd = VOL * math.sqrt(d)
    m = math.log(S0) + (R - 0.5 * VOL ** 2) * d
    z = np.linspace(-10, 10, 400_001)
    w = norm.pdf(z) * (z[1] - z[0])
    v = q * (np.exp(m + sd * z) - S0)
    d1 = (R * d + 0.5 * sd ** 2) / sd
    exact = {"expected_exposure": q * S0 * (math.exp(R * d) * norm.cdf(d1) - norm.cdf(d1 - sd)),
             "expected_negative_exposure": -q * S0 * (norm.cdf(sd - d1)
                                                      - math.exp(R * d) * norm.cdf(-d1)),
             "mean_value": q * S0 * (math.exp(R * d) - 1)}
    for key, f in (("expected_exposure", np.maximum(v, 0)),
                   ("expected_negative_exposure", np.minimum(v, 0)), ("mean_value", v)):
        assert w @ f == pytest.approx(exact[key], rel=1e-7)  # the two references agree
        se = math.sqrt((w @ f ** 2 - exact[key] ** 2) / n)
        assert abs(prof[key][0] - exact[key]) <= 4 * se, (key, prof[key][0], exact[key], se)
    # PFE: the 90% quantile of q (S_d - S0); s.e. of an order statistic sqrt(p(1-p)/n)/f.
    x = math.exp(m + sd * norm.ppf(0.9))
    pfe_se = math.sqrt(0.9 * 0.1 / n) * q * x * sd / norm.pdf(norm.ppf(0.9))
    assert abs(prof["pfe"][0] - q * (x - S0)) <= 4 * pfe_se, (prof["pfe"], q * (x - S0), pfe_se)
    p_liq = norm.cdf((math.log(S0 - (c - mm) / q) - m) / sd)
    assert abs(prof["liquidation"]["probability"] - p_liq) <= 4 * math.sqrt(p_liq * (1 - p_liq) / n)
    assert prof["liquidation"]["expected_time_given_liquidation"] == pytest.approx(d)


RISK_ERRORS = [
    (dict(levels=[0.99, 1.0]), "risk.levels[1]"),
    (dict(levels=[0.0]), "risk.levels[0]"),
    (dict(horizon=0.0), "risk.horizon"),
    (dict(horizon=-1.0), "risk.horizon"),
    (dict(dates=[0.1, 0.05]), "risk.dates[1]"),
    (dict(dates=[0.1, 0.1]), "risk.dates[1]"),
    (dict(stress=[dict(name="x", spot={"SOL": -30})]), "risk.stress[0].spot.SOL"),
    (dict(inner_paths=1), "risk.inner_paths"),
    (dict(method="historical"), "risk.method"),
    (dict(collateral=100.0), "risk.maintenance_margin"),
    (dict(vol_dynamics="shock"), "risk.vol_shock"),
    (dict(margin=dict(spot_steps=4)), "risk.margin.spot_steps"),
    (dict(horizn=0.1), "risk.horizn"),
]


@pytest.mark.parametrize("risk,path", RISK_ERRORS, ids=[p for _, p in RISK_ERRORS])
def test_bad_risk_input_names_the_field(risk, path):
    cfg = copy.deepcopy(BOOK)
    cfg["risk"] = risk
    with pytest.raises(ConfigError) as info:
        mcrisk.build(cfg)
    assert str(info.value).startswith(path + ":"), str(info.value)


def test_empty_book_rejected():
    cfg = copy.deepcopy(BOOK)
    cfg["portfolio"]["positions"] = []
    with pytest.raises(ConfigError, match="^portfolio.positions:"):
        mcrisk.risk(cfg)


def test_nested_losses_match_closed_form_losses_on_the_same_scenarios():
    """Inner draws are keyed by calendar interval, so today's nested value and the horizon's
    share them and the inner error cancels in the loss: a book revalued by nested MC (basket
    with weights [1, 0]) has the VaR/ES of the same book in closed form (european) up to the
    inner error of its delta (~1.4% at 2048 inner paths; ~3-8% at 64, where independent inner
    draws per scenario would instead add the inner variance to every loss)."""
    def run(position):
        cfg = copy.deepcopy(BOOK)
        cfg["sim"].update(n_paths=4000, chunk_size=4000)
        cfg["risk"] = dict(horizon=5 / 365, levels=[0.95, 0.99], inner_paths=2048,
                           margin={"enabled": False})
        cfg["portfolio"]["positions"] = [position]
        return mcrisk.risk(cfg)

    closed = run(dict(type="european", asset="A", option="call", strike=105.0, expiry=0.25,
                      quantity=10.0))
    nested = run(dict(type="basket", assets=["A", "B"], weights=[1.0, 0.0], option="call",
                      strike=105.0, expiry=0.25, quantity=10.0))
    assert nested["methods_at_horizon"]["0:basket"] == "nested monte carlo"
    for lvl in ("0.95", "0.99"):
        assert nested["var"][lvl] == pytest.approx(closed["var"][lvl], rel=0.03)
        assert nested["es"][lvl] == pytest.approx(closed["es"][lvl], rel=0.03)
