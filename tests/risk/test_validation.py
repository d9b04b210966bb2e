"""Bad inputs and silent wrong numbers in the risk engine: non-finite revaluations raise,
shocked vols get one treatment whatever the revaluation method."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

import mcrisk
from mcrisk.errors import NonFiniteError
from mcrisk.riskengine import stress

HESTON = dict(
    market=dict(assets=["A"], spot=[100.0], vol=[0.5], rate=0.0),
    model=dict(name="heston", kappa=2.0, theta=0.25, xi=0.5, rho=-0.5),
    sim=dict(n_paths=200, n_steps=4, seed=0, dtype="float64", chunk_size=200),
    greeks=dict(enabled=False),
    portfolio=dict(positions=[dict(name="short_call", type="european", asset="A",
                                   option="call", strike=100.0, expiry=0.5, quantity=-1.0)]),
    risk=dict(horizon=1 / 365, levels=[0.99],
              margin=dict(spot_range=0.1, spot_steps=3, vol_shift=0.1)))


def test_margin_requirement_raises_on_nan_loss():
    # max(0, nan) is 0.0: a NaN grid loss used to read as "no margin needed".
    pts = stress.margin_points(mcrisk.problem.MarginGrid(), 1)
    losses = np.linspace(-1.0, 1.0, len(pts.weight))
    losses[3] = np.nan
    with pytest.raises(NonFiniteError, match=r"^margin.points\[3\]: computed nan"):
        stress.margin_requirement(losses, pts, "joint")
    with pytest.raises(NonFiniteError, match=r"^margin.points\[3\]"):
        stress.margin_requirement(losses, pts, "per_asset")


def test_nan_revaluation_names_the_position():
    # A Problem is taken as built; one with xi = 0 revalues to NaN by the Fourier formula
    # (kappa theta / xi^2) and used to report NaN values and a zero margin requirement.
    # (rho = -1 served here until the Fourier tail made that limit finite and exact.)
    problem = mcrisk.build(copy.deepcopy(HESTON))
    params = dict(problem.model.params, xi=np.array([0.0]))
    bad = replace(problem, model=replace(problem.model, params=params))
    with pytest.raises(NonFiniteError, match=r"^today.short_call: computed nan"):
        mcrisk.stress(bad)


def _bs_call(s, k, t, vol, r=0.0):
    from scipy.stats import norm

    d1 = (np.log(s / k) + (r + 0.5 * vol ** 2) * t) / (vol * np.sqrt(t))
    return s * norm.cdf(d1) - k * np.exp(-r * t) * norm.cdf(d1 - vol * np.sqrt(t))


def _call_payoff_sd(s, k, t, vol):
    """St.dev. of a call's payoff under a lognormal terminal spot (r = 0), by quadrature."""
    from scipy import integrate
    from scipy.stats import norm

    def m(p):
        f = lambda z: max(s * np.exp(-0.5 * vol ** 2 * t + vol * np.sqrt(t) * z) - k,
                          0.0) ** p * norm.pdf(z)
        return integrate.quad(f, -10, 10, points=[0.0], limit=200)[0]

    return np.sqrt(m(2) - m(1) ** 2)


TWO = dict(
    market=dict(assets=["A", "B"], spot=[100.0, 80.0], vol=[0.05, 0.05], rate=0.0,
                corr=[[1.0, 0.3], [0.3, 1.0]]),
    model=dict(name="gbm"),
    sim=dict(n_paths=20_000, n_steps=4, seed=1, dtype="float64", chunk_size=20_000),
    greeks=dict(enabled=False),
    portfolio=dict(positions=[
        dict(name="call", type="european", asset="A", option="call", strike=100.0,
             expiry=0.5),
        # A basket weighing only A is A's call, revalued by nested Monte Carlo.
        dict(name="basket", type="basket", assets=["A", "B"], weights=[1.0, 0.0],
             option="call", strike=100.0, expiry=0.5)]),
    risk=dict(margin=dict(spot_range=0.1, spot_steps=3, vol_shift=0.1, extreme_multiple=0.0)))


def test_vol_shift_past_zero_floored_alike_by_every_method():
    # vol 0.05 shifted by -0.10: closed forms used zero vol (intrinsic), nested paths |vol| =
    # 0.05 and heston the unshocked variance. Every method must now revalue at MIN_VOL.
    from mcrisk.engine import prepare
    from mcrisk.problem import MIN_VOL

    problem = mcrisk.build(copy.deepcopy(TWO))
    shock = np.array([[0.0, 0.0], [-0.1, -0.1]])
    vals = stress.revalue_shocked(problem, prepare(problem), np.zeros((2, 2)), shock, 0.0,
                                  problem.sim.n_paths).values
    ref = _bs_call(100.0, 100.0, 0.5, MIN_VOL)  # 0.282
    assert vals[1, 0] == pytest.approx(ref, rel=1e-9)
    se = _call_payoff_sd(100.0, 100.0, 0.5, MIN_VOL) / np.sqrt(problem.sim.n_paths / 2)
    assert abs(vals[1, 1] - ref) <= 4 * se, (vals[1, 1], ref, se)

    import tests.reference.qlref as qlref

    hcfg = copy.deepcopy(HESTON)
    hcfg["market"]["vol"] = [0.05]
    hcfg["model"] = dict(name="heston", kappa=1.0, theta=0.04, xi=0.1, rho=-0.5)
    hcfg["portfolio"]["positions"][0]["expiry"] = qlref.years(182)
    hprob = mcrisk.build(hcfg)
    hv = stress.revalue_shocked(hprob, prepare(hprob), np.zeros((1, 1)), np.array([[-0.1]]),
                                0.0, 100).values
    ql_ref = qlref.heston(100.0, 100.0, 182, 0.0, 0.0, MIN_VOL ** 2, 1.0, 0.04, 0.1, -0.5,
                          "call")
    assert hv[0, 0] == pytest.approx(ql_ref, rel=1e-4)


def test_margin_reports_floored_points():
    res = mcrisk.stress(copy.deepcopy(TWO))
    m = res["margin"]
    # Points are spot-major with vol shifts (-0.1, 0, +0.1): the -0.1 ones are floored.
    assert m["vol_floored_points"] == [0, 3, 6]
    assert any("below 0.01 at grid points [0, 3, 6]" in n for n in res["notes"])


def test_stress_vol_shift_checked_against_the_model_vol():
    # Under heston the vol today is sqrt(v0), not market.vol: a -30 point shift on a 60% market
    # vol with v0 = 0.04 (20% vol) used to pass and revalue at |vol|.
    cfg = copy.deepcopy(HESTON)
    cfg["market"]["vol"] = [0.6]
    cfg["model"]["v0"] = 0.04
    cfg["risk"]["stress"] = [dict(name="calm", vol={"A": -30})]
    with pytest.raises(mcrisk.ConfigError,
                       match=r"^risk.stress\[0\].vol.A: got -30.0; .*>= 1 points \(vol is 20 "):
        mcrisk.build(cfg)


@pytest.mark.parametrize("key,value,expected", [
    # Nested paths are antithetic pairs split in two halves: 15 inner paths silently ran 14.
    ("inner_paths", 15, "multiple of 4"), ("inner_paths", 30, "multiple of 4"),
    ("attribution", "no", "true or false"), ("attribution", 0, "true or false")])
def test_bad_risk_setting_rejected(key, value, expected):
    cfg = copy.deepcopy(HESTON)
    cfg["risk"][key] = value
    with pytest.raises(mcrisk.ConfigError, match=rf"^risk.{key}: got {value!r}; .*{expected}"):
        mcrisk.build(cfg)


def test_forward_struck_at_zero_is_the_discounted_spot():
    cfg = copy.deepcopy(TWO)
    cfg["market"]["dividend"] = [0.03, 0.0]
    cfg["market"]["vol"] = [0.5, 0.5]
    cfg["sim"].update(n_paths=4000, chunk_size=4000)
    cfg["portfolio"]["positions"] = [dict(type="forward", asset="A", strike=0.0, expiry=2.0)]
    got = mcrisk.price(cfg)["positions"][0]
    ref = 100.0 * np.exp(-0.03 * 2.0)
    assert abs(got["value"] - ref) <= 4 * got["stderr"], (got["value"], ref, got["stderr"])


def test_vol_shock_moves_the_heston_variance():
    # risk.vol_dynamics: shock used to leave heston scenarios' variance untouched. Over a
    # 1e-5-year horizon the loss of a long call is V(v0) - V((sqrt(v0) + dv)^2) plus noise
    # of mean ~0 (delta x spot move) and a theta/gamma bias below 1e-3.
    import tests.reference.qlref as qlref

    cfg = copy.deepcopy(HESTON)
    t = qlref.years(182)
    cfg["portfolio"]["positions"] = [dict(name="call", type="european", asset="A",
                                          option="call", strike=100.0, expiry=t)]
    cfg["sim"].update(n_paths=2000, chunk_size=2000)
    cfg["risk"] = dict(horizon=1e-5, levels=[0.9], vol_dynamics="shock", vol_shock={"A": 0.1},
                       margin=dict(enabled=False))
    res = mcrisk.risk(cfg)
    heston = dict(r=0.0, q=0.0, kappa=2.0, theta=0.25, xi=0.5, rho=-0.5, option="call")
    ref = (qlref.heston(100.0, 100.0, 182, v0=0.25, **heston)
           - qlref.heston(100.0, 100.0, 182, v0=0.6 ** 2, **heston))  # about -2.8
    se = res["stats"]["stdev"] / np.sqrt(2000)
    assert abs(res["stats"]["mean"] - ref) <= 4 * se + 1e-3, (res["stats"]["mean"], ref, se)


@pytest.mark.parametrize("attribution", [True, False])
def test_nan_horizon_loss_of_the_streamed_run_names_scenario_and_position(
        monkeypatch, attribution):
    """A closed form that returns NaN above a spot of 101 (today's spot is 100): the
    streamed run (losses summed on the device) stops at the first such scenario, with or
    without attribution, instead of reporting a tail with NaN in it. The chunk shape is
    this test's own, so the kernel is traced with the patched formula."""
    import jax.numpy as jnp

    from mcrisk.analytic import bs

    real = bs.european_log

    def broken(*, log_spots, **kw):
        return jnp.where(log_spots > np.log(101.0), jnp.nan, real(log_spots=log_spots, **kw))

    monkeypatch.setattr(bs, "european_log", broken)
    cfg = dict(market=dict(assets=["A"], spot=[100.0], vol=[0.6], rate=0.0),
               model=dict(name="gbm"),
               sim=dict(n_paths=3004, n_steps=2, seed=3, dtype="float64", chunk_size=1502),
               greeks=dict(enabled=False),
               portfolio=dict(positions=[dict(name="put", type="european", asset="A",
                                              option="put", strike=95.0, expiry=0.5)]),
               risk=dict(attribution=attribution, margin=dict(enabled=False)))
    with pytest.raises(NonFiniteError, match=r"^scenarios\[\d+\]\.dates\[0\]\.put: computed "
                                             r"nan.*revaluation of scenario \d+ at t = "):
        mcrisk.risk(cfg)
