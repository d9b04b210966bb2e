"""Dynamic delta hedging against independent references: the Boyle–Emanuel / Bertsimas–
Kogan–Lo asymptotic stdev and Derman–Kamal's ATM rule, Leland's cost, the gamma-P&L identity
under a wrong hedge vol, the perpetual's funding, and band rules on hand-made paths.

References are quadratures over the lognormal law (`tests/hedge/refs.py`), never simulation.
Path counts are set so the errors guarded against (a missing factor of two in a variance, a
one-step offset in the schedule, a cost charged one-way instead of round trip) exceed the
tolerance several times over.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from mcrisk import hedge
from mcrisk.config.dynamic_hedge import parse
from mcrisk.errors import ConfigError
from tests.compiles import compiled
from tests.hedge import refs

S0, T, VOL, R = 100.0, 0.25, 0.2, 0.03
BASE = dict(spot=S0, rate=R, horizon=T, model=dict(name="gbm", vol=VOL), paths=10_000,
            chunk=2_500)


def short_call(strike=S0, quantity=-1.0):
    return [dict(type="call", strike=strike, expiry=T, quantity=quantity)]


def run(**kw):
    return hedge.run(parse({**BASE, **kw}))


@pytest.mark.parametrize("strike", [100.0, 115.0])
def test_stdev_matches_boyle_emanuel_and_falls_like_one_over_root_n(strike):
    # One fine grid of 100 steps, rebalanced every 4 steps (N = 25) or every step (N = 100).
    sd = {}
    for every in (4, 1):
        n = 100 // every
        out, _ = run(steps=100, rebalance=dict(every=every), book=short_call(strike))
        ref = refs.boyle_emanuel_sd(S0, strike, T, VOL, R, R, n)
        assert abs(out["stdev"] / ref - 1) < 0.10, (n, out["stdev"], ref)
        sd[n] = out["stdev"]
        if strike == S0:
            dk = refs.derman_kamal_sd(S0, strike, T, VOL, R, n)
            assert abs(out["stdev"] / dk - 1) < 0.10, (n, out["stdev"], dk)
    # Four times the rebalances halve the stdev.
    assert abs(sd[25] / sd[100] / 2 - 1) < 0.10, sd


def test_mean_cost_with_proportional_costs_matches_leland():
    # Leland's k is the round-trip cost: 2 x the one-way fraction charged per unit traded.
    one_way, steps = 0.001, 50
    out, _ = run(steps=steps, costs=dict(proportional=one_way), book=short_call())
    ref = refs.leland_cost(S0, S0, T, VOL, R, 2 * one_way, T / steps)
    # Leland prices the rebalancing only: the initial trade and the closing one are not in it.
    cost = -out["mean"] - out["edge_fees"]
    assert abs(cost - ref) <= max(0.10 * ref, 4 * out["mean_se"]), (cost, ref, out["mean_se"])
    # A one-way cost charged as round trip (or the reverse) would be off by a factor of two.
    assert out["fees"] > out["edge_fees"] > 0


def test_wrong_hedge_vol_mean_pnl_is_the_gamma_pnl():
    # Bought at sigma_h and hedged at sigma_h while the spot moves with sigma and drift mu:
    # P&L = 1/2 ∫ e^{-rt} Γ_h S² (σ² - σ_h²) dt pathwise (El Karoui–Jeanblanc–Shreve 1998;
    # Ahmad–Wilmott 2005), whose mean under mu != r is not C(σ) - C(σ_h) (that holds at mu = r).
    hv, mu, steps = 0.25, 0.3, 200
    out, _ = run(steps=steps, drift=mu, pricing_vol=hv, hedge_vol=hv, book=short_call(quantity=1))
    ref = refs.gamma_pnl_mean(S0, S0, T, VOL, hv, R, mu)
    assert abs(ref - (refs.bs(S0, S0, T, VOL, R)[0] - refs.bs(S0, S0, T, hv, R)[0])) > 0.05
    # The discrete hedge's mean differs from the continuous one by O(dt): 1% of it at 200 steps.
    bound = 4 * out["mean_se"] + 0.01 * abs(ref)
    assert abs(out["mean"] - ref) <= bound, (out["mean"], ref, out["mean_se"])


def test_perpetual_hedge_pays_the_expected_funding():
    f, mu, steps = 0.1, 0.1, 50
    kw = dict(steps=steps, drift=mu, book=short_call())
    _, spot = run(**kw)
    _, perp = run(instrument="perpetual", funding=f, **kw)
    # Same paths (keyed by path index): the difference is the funding minus the cash carry.
    d = np.asarray(perp.pnl) - np.asarray(spot.pnl)
    se = d.std(ddof=1) / math.sqrt(d.size)
    ref = refs.perpetual_minus_spot(S0, S0, T, VOL, R, mu, f, steps)
    assert abs(d.mean() - ref) <= 4 * se, (d.mean(), ref, se)


def test_merton_jumps_cost_the_merton_minus_black_scholes_price():
    # Sold at the Black–Scholes price of the diffusive vol and delta hedged at that vol while
    # the spot jumps (drift = rate, so the discounted hedge gains have mean zero): the mean
    # P&L is C_BS(σ) - C_Merton, the price of the jump risk left unhedged.
    m = dict(name="merton", vol=VOL, jump_intensity=1.0, jump_mean=-0.1, jump_std=0.15)
    out, _ = run(steps=50, model=m, book=short_call())
    ref = refs.bs(S0, S0, T, VOL, R)[0] - refs.merton_call(S0, S0, T, VOL, R, 1.0, -0.1, 0.15)
    assert abs(out["mean"] - ref) <= 4 * out["mean_se"], (out["mean"], ref, out["mean_se"])


def test_delta_gamma_hedge_removes_the_gamma_pnl_of_a_wrong_vol():
    # Priced and hedged at 0.25 while the spot moves at 0.2: the delta hedge of a short call
    # earns -1/2 ∫ e^{-rt} Γ S² (σ² - σ_h²) dt (quadrature); with the gamma hedged by a listed
    # option marked at the same vol, every position's gamma P&L cancels and the continuous
    # P&L is 0. Allowance for the O(dt) residual at 100 steps: 0.5% of the delta hedge's mean.
    hv, mu = 0.25, 0.3
    gamma_pnl = -refs.gamma_pnl_mean(S0, S0, T, VOL, hv, R, mu)
    kw = dict(steps=100, drift=mu, pricing_vol=hv, book=short_call())
    delta, _ = run(**kw)
    assert abs(delta["mean"] - gamma_pnl) <= 4 * delta["mean_se"] + 0.01 * abs(gamma_pnl)
    both, _ = run(gamma_hedge=dict(type="call", strike=105.0, expiry=0.5), **kw)
    assert abs(both["mean"]) <= 4 * both["mean_se"] + 0.005 * abs(gamma_pnl), both["mean"]


SPOTS = [100.0, 101.0, 104.0, 103.0, 96.0, 97.0]


def along(**kw):
    setup = parse({**BASE, "rate": 0.0, "steps": 5, "book": short_call(),
                   "costs": dict(proportional=0.0, fixed=1.0), **kw})
    spec, arrays = hedge.make(setup)
    res, held, traded = hedge.hedge_along(spec, arrays, jax.numpy.asarray(SPOTS))
    return res, np.asarray(held), np.asarray(traded)


def test_fixed_band_trades_exactly_when_the_band_is_left():
    # Black–Scholes deltas at the five rebalancing dates (vol 0.2, r = 0):
    # 0.5199, 0.5620, 0.7071, 0.6911, 0.1866. With a band of 0.1 around the target and trades
    # to the target, the holdings start at 0 and move at steps 0 (0 -> .520), 2 (gap .187)
    # and 4 (gap -.521); steps 1 (gap .042) and 3 (gap -.016) stay put; closing is a trade.
    deltas = [float(refs.bs(s, S0, T - 0.05 * k, VOL, 0.0)[1]) for k, s in enumerate(SPOTS[:-1])]
    res, held, traded = along(rebalance=dict(kind="band", width=0.1))
    assert traded.tolist() == [True, False, True, False, True]
    np.testing.assert_allclose(held, [deltas[0], deltas[0], deltas[2], deltas[2], deltas[4]],
                               rtol=1e-12)
    assert float(res.trades) == 4 and float(res.fees) == pytest.approx(4.0)
    premium = refs.bs(S0, S0, T, VOL, 0.0)[0]
    gains = sum(h * (b - a) for h, a, b in zip(held, SPOTS[:-1], SPOTS[1:]))
    assert float(res.pnl) == pytest.approx(premium - 0.0 + gains - 4.0, rel=1e-10)

    # Trading to the nearest edge instead: .420, then gaps .142, .145 (trade), .084 (stay), -.420.
    res, held, traded = along(rebalance=dict(kind="band", width=0.1, to_edge=True))
    assert traded.tolist() == [True, True, True, False, True]
    np.testing.assert_allclose(held, [deltas[0] - 0.1, deltas[1] - 0.1, deltas[2] - 0.1,
                                      deltas[2] - 0.1, deltas[4] + 0.1], rtol=1e-12)
    assert float(res.trades) == 5


def test_whalley_wilmott_band_on_a_hand_path():
    lam, gamma_ra = 0.01, 0.5
    res, held, traded = along(costs=dict(proportional=lam, fixed=0.0),
                              rebalance=dict(kind="whalley_wilmott", risk_aversion=gamma_ra))
    h, want = 0.0, []
    for k, s in enumerate(SPOTS[:-1]):
        _, delta, g = refs.bs(s, S0, T - 0.05 * k, VOL, 0.0)
        band = (1.5 * lam * s * float(g) ** 2 / gamma_ra) ** (1 / 3)
        move = abs(float(delta) - h) > band
        h = float(delta) if move else h
        want.append(move)
    assert traded.tolist() == want and 0 < sum(want) < 5, want
    assert float(res.trades) == sum(want) + 1


def test_chunk_size_changes_nothing_and_new_numbers_compile_nothing():
    kw = dict(BASE, paths=300, steps=10, book=short_call(), rebalance=dict(every=2))
    a = hedge.run(parse({**kw, "chunk": 64}))[1]
    b = hedge.run(parse({**kw, "chunk": 300}))[1]
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-13, atol=1e-13)
    other = {**kw, "chunk": 64, "spot": 90.0, "rate": 0.01, "model": dict(name="gbm", vol=0.3),
             "book": short_call(95.0, 2.0), "rebalance": dict(every=5),
             "costs": dict(proportional=0.002, fixed=1.0)}
    with compiled() as names:
        c = hedge.run(parse(other))[1]
    assert not [n for n in names if "simulate" in n], names
    assert float(np.mean(c.fees)) > 0  # the new costs reached the kernel


@pytest.mark.parametrize("bad, path", [
    (dict(hedge_vol=-0.1), "dynamic_hedge.hedge_vol"),
    (dict(book=[dict(type="call", strike=100, expiry=0.1312)]), "dynamic_hedge.book[0].expiry"),
    (dict(book=[dict(type="cal", strike=100, expiry=0.25)]), "dynamic_hedge.book[0].type"),
    (dict(gamma_hedge=dict(type="call", strike=100, expiry=0.25)), "dynamic_hedge.gamma_hedge"),
    (dict(rebalance=dict(kind="band")), "dynamic_hedge.rebalance.width"),
    (dict(rebalance=dict(every=3)), "dynamic_hedge.rebalance.every"),
    (dict(costs=dict(fee=1.0)), "dynamic_hedge.costs.fee"),
    (dict(model=dict(name="merton", vol=0.2)), "dynamic_hedge.model.jump_intensity"),
    (dict(horizons=1.0), "dynamic_hedge.horizons"),
])
def test_bad_input_names_the_field(bad, path):
    with pytest.raises(ConfigError) as e:
        parse({**BASE, "steps": 100, **bad})
    assert e.value.path == path
