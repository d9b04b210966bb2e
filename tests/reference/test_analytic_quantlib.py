"""mcrisk.analytic against QuantLib's analytic engines, and hand-written closed forms where it has none.

Every QuantLib object uses Actual365Fixed and an expiry `days` after the evaluation date, so its year
fraction is exactly days / 365, the T passed to the JAX function. Each function is priced once over a
batch of parameter sets in float64 (tight tolerances) and once in float32 (dtype and ~1e-4 relative).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import QuantLib as ql
from scipy.stats import norm, poisson

from mcrisk import analytic
from mcrisk.analytic import asian, barrier, bs, heston, lookback, margrabe, merton, stulz

TODAY = ql.Date(15, ql.January, 2024)
DC = ql.Actual365Fixed()


@pytest.fixture(autouse=True)
def _evaluation_date():
    # QuantLib's evaluation date is a process-wide singleton; set it per test and restore it after.
    settings = ql.Settings.instance()
    previous = settings.evaluationDate
    settings.evaluationDate = TODAY
    yield
    settings.evaluationDate = previous


# --- QuantLib builders --------------------------------------------------------------------------------


def _curve(rate):
    return ql.YieldTermStructureHandle(ql.FlatForward(TODAY, rate, DC))


def _bsm(spot, vol, rate, dividend):
    return ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        _curve(dividend),
        _curve(rate),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, DC)),
    )


def _exercise(days):
    return ql.EuropeanExercise(TODAY + int(days))


def _option_type(is_call):
    return ql.Option.Call if is_call else ql.Option.Put


def _column(rows, i, dtype=np.float64):
    return jnp.asarray(np.array([row[i] for row in rows], dtype=dtype))


def _flags(rows, i):
    return jnp.asarray(np.array([row[i] for row in rows], dtype=bool))


def _years(rows, i, dtype=np.float64):
    return jnp.asarray(np.array([row[i] / 365.0 for row in rows], dtype=dtype))


# --- Black–Scholes ------------------------------------------------------------------------------------

# spot, strike, days, vol, rate, dividend, is_call
BS_CASES = [
    (100.0, 100.0, 365, 0.20, 0.05, 0.01, True),
    (100.0, 100.0, 365, 0.20, 0.05, 0.01, False),
    (42000.0, 50000.0, 30, 0.85, 0.04, 0.0, True),
    (42000.0, 30000.0, 90, 0.70, 0.04, 0.02, False),
    (1.5, 1.2, 730, 1.10, -0.005, 0.03, True),
    (80.0, 120.0, 7, 0.35, 0.10, 0.0, False),
]


def _ql_european(spot, strike, days, vol, rate, dividend, is_call, payoff=None):
    payoff = payoff or ql.PlainVanillaPayoff(_option_type(is_call), strike)
    option = ql.VanillaOption(payoff, _exercise(days))
    option.setPricingEngine(ql.AnalyticEuropeanEngine(_bsm(spot, vol, rate, dividend)))
    return option


def _bs_kwargs(rows, dtype=np.float64):
    return dict(
        spots=_column(rows, 0, dtype),
        strikes=_column(rows, 1, dtype),
        expiries=_years(rows, 2, dtype),
        vols=_column(rows, 3, dtype),
        rates=_column(rows, 4, dtype),
        dividends=_column(rows, 5, dtype),
        is_call=_flags(rows, 6),
    )


def test_european_matches_quantlib():
    expected = np.array([_ql_european(*row).NPV() for row in BS_CASES])
    got = bs.european(**_bs_kwargs(BS_CASES))
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-12)


def test_digital_matches_quantlib_cash_or_nothing():
    cash = 7.5
    expected = np.array(
        [
            _ql_european(*row, payoff=ql.CashOrNothingPayoff(_option_type(row[6]), row[1], cash)).NPV()
            for row in BS_CASES
        ]
    )
    got = bs.digital(**_bs_kwargs(BS_CASES), cash=cash)
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-12)


def _log_kwargs(kwargs):
    """The same terms with log spots, as a simulated state holds them."""
    out = {k: v for k, v in kwargs.items() if k != "spots"}
    out["log_spots"] = np.log(kwargs["spots"])
    return out


def _assert_close_in_spot(got, expected, spots, rtol, atol):
    """|got - expected| <= rtol |expected| + atol x spot: float32 errors are absolute in
    units of spot."""
    err = np.abs(np.asarray(got, np.float64) - np.asarray(expected))
    bound = rtol * np.abs(np.asarray(expected)) + atol * np.asarray(spots, np.float64)
    assert np.all(err <= bound), (err / bound).max()


@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-11, 1e-12),
                                               (np.float32, 1e-5, 1e-6)])
def test_log_spot_entries_match_quantlib(dtype, rtol, atol):
    """european_log, digital_log and barrier_log (price, and the vanilla it returns), the
    risk kernel's closed forms, against QuantLib. In float32 the error is absolute in units
    of spot (log S itself carries an ulp of ~1e-7 relative)."""
    rows = BS_CASES
    spots = [r[0] for r in rows]
    kwargs = _log_kwargs(_bs_kwargs(rows, dtype))
    euro = bs.european_log(**kwargs)
    assert euro.dtype == dtype
    _assert_close_in_spot(euro, [_ql_european(*r).NPV() for r in rows], spots, rtol, atol)
    cash = 7.5
    digi = bs.digital_log(**kwargs, cash=dtype(cash))
    expected = [_ql_european(*r, payoff=ql.CashOrNothingPayoff(_option_type(r[6]), r[1], cash)
                             ).NPV() for r in rows]
    # A digital's error is in units of its cash, scaled by d2's sensitivity to log S.
    _assert_close_in_spot(digi, expected, [cash] * len(rows), rtol, 10 * atol)
    rows = BARRIER_CASES
    spots = [r[0] for r in rows]
    price, vanilla = barrier.barrier_log(**_log_kwargs(_barrier_kwargs(rows, dtype)))
    _assert_close_in_spot(price, [_ql_barrier(*r) for r in rows], spots, 10 * rtol, 10 * atol)
    expected = [_ql_european(r[0], r[1], r[3], r[4], r[5], r[6], r[7]).NPV() for r in rows]
    _assert_close_in_spot(vanilla, expected, spots, rtol, atol)


def test_forward_matches_quantlib_discounting():
    expected = np.array(
        [
            s * _curve(q).discount(TODAY + d) - k * _curve(r).discount(TODAY + d)
            for s, k, d, _, r, q, _ in BS_CASES
        ]
    )
    kwargs = _bs_kwargs(BS_CASES)
    del kwargs["vols"], kwargs["is_call"]
    np.testing.assert_allclose(bs.forward(**kwargs), expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("row", BS_CASES[:4], ids=lambda r: f"S{r[0]}-K{r[1]}-{'C' if r[6] else 'P'}")
def test_european_autodiff_greeks_match_quantlib(row):
    spot, strike, days, vol, rate, dividend, is_call = row
    option = _ql_european(*row)

    def price(s, v, r, q, t):
        return bs.european(
            spots=s, strikes=strike, expiries=t, vols=v, rates=r, dividends=q, is_call=is_call
        )

    args = tuple(jnp.float64(a) for a in (spot, vol, rate, dividend, days / 365.0))
    delta, vega, rho, div_rho, dvdt = jax.grad(price, argnums=(0, 1, 2, 3, 4))(*args)
    gamma = jax.hessian(price, argnums=0)(*args)
    scale = max(abs(option.NPV()), spot * 1e-3)
    # QuantLib's vega/rho are per unit (1.0) of vol/rate, and theta is per year of calendar time.
    np.testing.assert_allclose(delta, option.delta(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gamma, option.gamma(), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(vega, option.vega(), rtol=1e-9, atol=1e-10 * scale)
    np.testing.assert_allclose(rho, option.rho(), rtol=1e-9, atol=1e-10 * scale)
    np.testing.assert_allclose(div_rho, option.dividendRho(), rtol=1e-9, atol=1e-10 * scale)
    np.testing.assert_allclose(-dvdt, option.theta(), rtol=1e-9, atol=1e-10 * scale)


def test_expiry_zero_gives_intrinsic_and_finite_gradients():
    spots = jnp.array([90.0, 100.0, 110.0, 90.0, 100.0, 110.0])
    calls = jnp.array([True, True, True, False, False, False])
    strike = 100.0

    def price(s, t, v, r):
        return bs.european(
            spots=s, strikes=strike, expiries=t, vols=v, rates=r, dividends=0.01, is_call=calls
        )

    # One compiled reverse-mode and one forward-mode derivative, evaluated at several points.
    value_and_grads = jax.jit(jax.value_and_grad(lambda *a: price(*a).sum(), argnums=(0, 1, 2, 3)))
    directional = jax.jit(lambda primals, tangents: jax.jvp(price, primals, tangents)[1])

    zeros = jnp.zeros_like(spots)
    at_expiry = (spots, zeros, 0.3 + zeros, 0.05 + zeros)
    np.testing.assert_allclose(price(*at_expiry), [0.0, 0.0, 10.0, 10.0, 0.0, 0.0], atol=1e-14)
    _, grads = value_and_grads(*at_expiry)
    for g in grads:
        assert np.all(np.isfinite(g))
    assert np.isfinite(directional(at_expiry, tuple(jnp.ones_like(a) for a in at_expiry))).all()
    # Delta at expiry is the payoff's slope away from the kink.
    np.testing.assert_allclose(grads[0][jnp.array([0, 2, 3, 5])], [0.0, 1.0, -1.0, 0.0])
    # Zero vol with time left is the discounted intrinsic value of the forward, gradients finite too.
    no_vol = (spots, jnp.full_like(spots, 0.5), zeros, 0.05 + zeros)
    fwd = spots * jnp.exp((0.05 - 0.01) * 0.5)
    expected = jnp.exp(-0.05 * 0.5) * jnp.maximum(jnp.where(calls, fwd - strike, strike - fwd), 0.0)
    np.testing.assert_allclose(price(*no_vol), expected, rtol=1e-14)
    for g in value_and_grads(*no_vol)[1]:
        assert np.all(np.isfinite(g))
    digital = bs.digital(
        spots=spots, strikes=strike, expiries=zeros, vols=0.3, rates=0.05, dividends=0.0, is_call=calls
    )
    np.testing.assert_allclose(digital, [0.0, 0.0, 1.0, 1.0, 0.0, 0.0])


def test_expiry_zero_is_intrinsic_for_every_pricer():
    # Same shapes and dtypes as the QuantLib comparisons, so the compiled kernels are reused.
    def expired(kwargs):
        return {**kwargs, "expiries": jnp.zeros_like(kwargs["expiries"])}

    def intrinsic(spots, strikes, calls):
        return np.maximum(np.where(calls, spots - strikes, strikes - spots), 0.0)

    hk = _heston_kwargs(HESTON_CASES)
    np.testing.assert_allclose(
        heston.european(**expired(hk)), intrinsic(hk["spots"], hk["strikes"], hk["is_call"]), atol=1e-12
    )
    mk = _merton_kwargs(MERTON_CASES)
    np.testing.assert_allclose(
        merton.european(**expired(mk)), intrinsic(mk["spots"], mk["strikes"], mk["is_call"]), atol=1e-12
    )
    sk = _stulz_kwargs(STULZ_CASES)
    best = np.where(
        sk["is_max"], np.maximum(sk["spots1"], sk["spots2"]), np.minimum(sk["spots1"], sk["spots2"])
    )
    np.testing.assert_allclose(
        stulz.best_worst_two(**expired(sk)), intrinsic(best, sk["strikes"], sk["is_call"]), atol=1e-12
    )
    gk = _margrabe_kwargs(MARGRABE_CASES)
    np.testing.assert_allclose(
        margrabe.exchange(**expired(gk)), np.maximum(gk["spots1"] - gk["spots2"], 0.0), atol=1e-12
    )
    for row in ASIAN_CASES:
        expected = intrinsic(row[0], row[1], row[7])
        np.testing.assert_allclose(_asian_price((*row[:2], 0, *row[3:])), expected, atol=1e-12)
    for row in LOOKBACK_CASES:
        assert float(_lookback_price((row[0], 0, *row[2:]))) == 0.0


# --- Margrabe ------------------------------------------------------------------------------------------

# spot1, spot2, vol1, vol2, corr, days, dividend1, dividend2
MARGRABE_CASES = [
    (100.0, 95.0, 0.3, 0.2, 0.5, 365, 0.01, 0.02),
    (42000.0, 2300.0 * 18.0, 0.8, 0.95, 0.85, 90, 0.0, 0.0),
    (50.0, 60.0, 0.4, 0.25, -0.3, 730, 0.03, 0.0),
    (10.0, 10.0, 0.6, 0.6, 0.99, 30, 0.0, 0.05),
]


def _margrabe_reference(s1, s2, v1, v2, rho, days, q1, q2):
    t = days / 365.0
    sig = math.sqrt(v1 * v1 + v2 * v2 - 2.0 * rho * v1 * v2)
    d1 = (math.log(s1 / s2) + (q2 - q1 + 0.5 * sig * sig) * t) / (sig * math.sqrt(t))
    d2 = d1 - sig * math.sqrt(t)
    return s1 * math.exp(-q1 * t) * norm.cdf(d1) - s2 * math.exp(-q2 * t) * norm.cdf(d2)


def _margrabe_kwargs(rows, dtype=np.float64):
    return dict(
        spots1=_column(rows, 0, dtype),
        spots2=_column(rows, 1, dtype),
        vols1=_column(rows, 2, dtype),
        vols2=_column(rows, 3, dtype),
        corr=_column(rows, 4, dtype),
        expiries=_years(rows, 5, dtype),
        dividends1=_column(rows, 6, dtype),
        dividends2=_column(rows, 7, dtype),
    )


def test_exchange_matches_hand_written_margrabe():
    expected = np.array([_margrabe_reference(*row) for row in MARGRABE_CASES])
    np.testing.assert_allclose(
        margrabe.exchange(**_margrabe_kwargs(MARGRABE_CASES)), expected, rtol=1e-12
    )


def test_exchange_with_riskless_second_asset_is_a_european_call():
    # With vol2 = 0 and q2 = r, S2_T = S2 e^{(r - q2) T} = S2: the exchange is a call struck at S2.
    for s1, s2, v1, _, _, days, q1, _ in MARGRABE_CASES:
        rate = 0.037
        got = margrabe.exchange(
            spots1=s1,
            spots2=s2,
            vols1=v1,
            vols2=0.0,
            corr=0.3,
            expiries=days / 365.0,
            dividends1=q1,
            dividends2=rate,
        )
        expected = _ql_european(s1, s2, days, v1, rate, q1, True).NPV()
        np.testing.assert_allclose(got, expected, rtol=1e-11)


# --- Asian ---------------------------------------------------------------------------------------------

# spot, strike, days, vol, rate, dividend, fixings, is_call   (days divisible by fixings)
ASIAN_CASES = [
    (100.0, 100.0, 360, 0.25, 0.05, 0.01, 12, True),
    (100.0, 95.0, 360, 0.25, 0.05, 0.01, 12, False),
    (42000.0, 45000.0, 90, 0.8, 0.04, 0.0, 90, True),
    (30.0, 25.0, 730, 0.6, 0.02, 0.03, 2, False),
]


def _ql_asian(spot, strike, days, vol, rate, dividend, fixings, is_call):
    step = days // fixings
    dates = [TODAY + step * (i + 1) for i in range(fixings)]
    option = ql.DiscreteAveragingAsianOption(
        ql.Average.Geometric,
        1.0,
        0,
        dates,
        ql.PlainVanillaPayoff(_option_type(is_call), strike),
        _exercise(days),
    )
    option.setPricingEngine(
        ql.AnalyticDiscreteGeometricAveragePriceAsianEngine(_bsm(spot, vol, rate, dividend))
    )
    return option.NPV()


def _asian_price(row, dtype=np.float64):
    spot, strike, days, vol, rate, dividend, fixings, is_call = row
    cast = lambda x: jnp.asarray(x, dtype)  # noqa: E731
    return asian.geometric_discrete(
        spots=cast(spot),
        strikes=cast(strike),
        expiries=cast(days / 365.0),
        vols=cast(vol),
        rates=cast(rate),
        dividends=cast(dividend),
        fixings=fixings,
        is_call=is_call,
    )


@pytest.mark.parametrize("row", ASIAN_CASES)
def test_geometric_asian_matches_quantlib(row):
    np.testing.assert_allclose(_asian_price(row), _ql_asian(*row), rtol=1e-11)


# --- Barrier -------------------------------------------------------------------------------------------


def _barrier_cases():
    """All 8 call/put x up/down x in/out combos, strike above and below the barrier, with rebates."""
    cases = []
    for is_call in (True, False):
        for is_up in (True, False):
            for is_in in (True, False):
                barrier_level = 120.0 if is_up else 80.0
                for strike in (barrier_level - 10.0, barrier_level + 10.0):
                    cases.append(
                        (100.0, strike, barrier_level, 182, 0.3, 0.04, 0.015, is_call, is_up, is_in, 3.0)
                    )
    cases.append((42000.0, 40000.0, 30000.0, 60, 0.85, 0.05, 0.0, True, False, False, 0.0))
    cases.append((42000.0, 44000.0, 55000.0, 60, 0.85, 0.05, 0.0, False, True, True, 500.0))
    return cases


BARRIER_CASES = _barrier_cases()


def _ql_barrier(spot, strike, level, days, vol, rate, dividend, is_call, is_up, is_in, rebate):
    kind = {
        (True, True): ql.Barrier.UpIn,
        (True, False): ql.Barrier.UpOut,
        (False, True): ql.Barrier.DownIn,
        (False, False): ql.Barrier.DownOut,
    }[(is_up, is_in)]
    option = ql.BarrierOption(
        kind, level, rebate, ql.PlainVanillaPayoff(_option_type(is_call), strike), _exercise(days)
    )
    option.setPricingEngine(ql.AnalyticBarrierEngine(_bsm(spot, vol, rate, dividend)))
    return option.NPV()


def _barrier_kwargs(rows, dtype=np.float64):
    return dict(
        spots=_column(rows, 0, dtype),
        strikes=_column(rows, 1, dtype),
        barriers=_column(rows, 2, dtype),
        expiries=_years(rows, 3, dtype),
        vols=_column(rows, 4, dtype),
        rates=_column(rows, 5, dtype),
        dividends=_column(rows, 6, dtype),
        is_call=_flags(rows, 7),
        is_up=_flags(rows, 8),
        is_in=_flags(rows, 9),
        rebate=_column(rows, 10, dtype),
    )


@jax.jit
def _barrier_gradients(kwargs):
    """d(sum of prices)/d(every numeric argument); one compiled kernel shared by the tests below."""
    flags = {name: kwargs[name] for name in ("is_call", "is_up", "is_in")}
    numeric = {name: value for name, value in kwargs.items() if name not in flags}
    return jax.grad(lambda num: barrier.barrier(**num, **flags).sum())(numeric)


def test_barrier_all_combinations_match_quantlib():
    expected = np.array([_ql_barrier(*row) for row in BARRIER_CASES])
    got = barrier.barrier(**_barrier_kwargs(BARRIER_CASES))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_barrier_delta_matches_quantlib_finite_difference():
    delta = _barrier_gradients(_barrier_kwargs(BARRIER_CASES))["spots"]
    for row, d in zip(BARRIER_CASES, np.asarray(delta), strict=True):
        h = 1e-4 * row[0]
        up = _ql_barrier(row[0] + h, *row[1:])
        down = _ql_barrier(row[0] - h, *row[1:])
        np.testing.assert_allclose(d, (up - down) / (2.0 * h), rtol=1e-6, atol=1e-8)


def test_barrier_at_expiry_and_in_out_parity():
    kwargs = _barrier_kwargs(BARRIER_CASES)
    zero_t = {**kwargs, "expiries": jnp.zeros_like(kwargs["expiries"])}
    sign = np.where(kwargs["is_call"], 1.0, -1.0)
    intrinsic = np.maximum(sign * (kwargs["spots"] - kwargs["strikes"]), 0.0)
    np.testing.assert_allclose(
        barrier.barrier(**zero_t), np.where(kwargs["is_in"], kwargs["rebate"], intrinsic)
    )
    for name, grad in _barrier_gradients(zero_t).items():
        assert np.isfinite(grad).all(), name
    # Without rebates, knock-in + knock-out = vanilla.
    no_rebate = {**kwargs, "rebate": jnp.zeros_like(kwargs["rebate"])}
    knock_in = barrier.barrier(**{**no_rebate, "is_in": jnp.ones_like(kwargs["is_in"])})
    knock_out = barrier.barrier(**{**no_rebate, "is_in": jnp.zeros_like(kwargs["is_in"])})
    vanilla = bs.european(
        **{k: v for k, v in no_rebate.items() if k not in ("barriers", "is_up", "is_in", "rebate")}
    )
    np.testing.assert_allclose(knock_in + knock_out, vanilla, rtol=1e-11)


# --- Heston --------------------------------------------------------------------------------------------

# spot, strike, days, rate, dividend, v0, kappa, theta, xi, rho, is_call
HESTON_CASES = [
    (100.0, 100.0, 365, 0.03, 0.0, 0.09, 2.0, 0.09, 0.6, -0.6, True),
    (100.0, 60.0, 18, 0.05, 0.0, 0.04, 0.5, 0.04, 2.0, -0.9, False),
    (100.0, 150.0, 730, 0.05, 0.02, 0.8, 5.0, 0.04, 0.2, 0.5, True),
    (42000.0, 48000.0, 45, 0.04, 0.0, 0.45, 3.0, 0.5, 1.5, -0.3, True),
    (42000.0, 33000.0, 180, 0.04, 0.01, 0.6, 1.0, 0.35, 1.0, 0.2, False),
    (1.0, 1.1, 500, -0.01, 0.02, 0.2, 0.8, 0.6, 0.9, -0.75, False),
]


def _ql_heston(
    spot, strike, days, rate, dividend, v0, kappa, theta, xi, rho, is_call, tolerance=1e-13,
    max_evaluations=1_000_000,
):
    process = ql.HestonProcess(
        _curve(rate), _curve(dividend), ql.QuoteHandle(ql.SimpleQuote(spot)), v0, kappa, theta, xi, rho
    )
    option = ql.VanillaOption(ql.PlainVanillaPayoff(_option_type(is_call), strike), _exercise(days))
    # Adaptive Gauss–Lobatto at 1e-13. (Its OptimalCV + Lobatto variant is off by ~1e-7 at some corners.)
    option.setPricingEngine(
        ql.AnalyticHestonEngine(ql.HestonModel(process), tolerance, max_evaluations)
    )
    return option.NPV()


def _heston_kwargs(rows, dtype=np.float64):
    names = ("spots", "strikes", "expiries", "rates", "dividends", "v0", "kappa", "theta", "xi", "rho")
    kwargs = {
        name: (_years if name == "expiries" else _column)(rows, i, dtype) for i, name in enumerate(names)
    }
    return {**kwargs, "is_call": _flags(rows, 10)}


def test_heston_matches_quantlib():
    expected = np.array([_ql_heston(*row) for row in HESTON_CASES])
    got = heston.european(**_heston_kwargs(HESTON_CASES))
    spots = np.array([row[0] for row in HESTON_CASES])
    # Relative to the price, or to spot for the deep out-of-the-money short-dated put (price ~1e-6 S).
    np.testing.assert_array_less(np.abs(got - expected), 1e-9 * np.abs(expected) + 1e-12 * spots)


def test_heston_gradients_are_finite_and_match_finite_differences():
    row = HESTON_CASES[0]
    kwargs = _heston_kwargs([row])

    def price(v0, xi):
        return heston.european(**{**kwargs, "v0": v0, "xi": xi})[0]

    g_v0, g_xi = jax.jit(jax.grad(price, argnums=(0, 1)))(kwargs["v0"], kwargs["xi"])
    h = 1e-5
    fd_v0 = (_ql_heston(*row[:5], row[5] + h, *row[6:]) - _ql_heston(*row[:5], row[5] - h, *row[6:])) / (
        2 * h
    )
    fd_xi = (_ql_heston(*row[:8], row[8] + h, *row[9:]) - _ql_heston(*row[:8], row[8] - h, *row[9:])) / (
        2 * h
    )
    np.testing.assert_allclose(g_v0[0], fd_v0, rtol=1e-5)
    np.testing.assert_allclose(g_xi[0], fd_xi, rtol=1e-5)


# Small variance with large vol of variance, where the characteristic function decays slowly and
# oscillates: (v0, kappa, theta, xi, rho, days). Each is priced at strikes 50..200 on spot 100 and at
# F exp(m sqrt(w)), m = +-1, 2, 4, w = E[int v dt]. The whole grid of the docstring, the one-day and
# 30-day cases with v0 = 1e-4 and theta = 0.01 included, is in test_heston_grid.py.
HESTON_CORNERS = [
    (1e-4, 4.0, 0.25, 1.0, -0.9, 1),
    (1e-4, 4.0, 0.25, 1.0, 0.9, 1),
    (1e-4, 0.5, 0.25, 3.0, -0.9, 30),
    (1e-4, 0.5, 0.25, 3.0, 0.9, 30),
    (1e-4, 0.5, 0.01, 0.1, -0.9, 30),
    (1e-4, 0.5, 0.01, 0.1, 0.9, 30),
    (1e-4, 4.0, 0.01, 1.0, -0.9, 30),
    (1e-4, 4.0, 0.01, 1.0, 0.9, 30),
    (1e-4, 0.5, 0.01, 3.0, 0.9, 730),
    (0.04, 0.5, 0.25, 3.0, -0.9, 730),
    (0.5, 4.0, 0.25, 3.0, 0.9, 1),
]


def _heston_corner_rows():
    rate, dividend = 0.03, 0.01
    rows = []
    for v0, kappa, theta, xi, rho, days in HESTON_CORNERS:
        t = days / 365.0
        fwd = 100.0 * math.exp((rate - dividend) * t)
        sd = math.sqrt(theta * t + (v0 - theta) * (1.0 - math.exp(-kappa * t)) / kappa)
        strikes = [50, 70, 85, 95, 100, 105, 115, 140, 200] + [
            fwd * math.exp(m * sd) for m in (-4, -2, -1, 1, 2, 4)
        ]
        rows += [
            (100.0, float(k), days, rate, dividend, v0, kappa, theta, xi, rho, k >= fwd) for k in strikes
        ]
    return rows


def test_heston_small_variance_large_vol_of_variance_matches_quantlib():
    rows = _heston_corner_rows()
    expected = np.array([_ql_heston(*row, tolerance=1e-12, max_evaluations=100_000) for row in rows])
    # QuantLib is converged here: a ten times tighter tolerance moves no price by 1e-8 of spot.
    tighter = np.array([_ql_heston(*row) for row in rows])
    np.testing.assert_array_less(np.abs(tighter - expected), 1e-8 * 100.0)
    got = heston.european(**_heston_kwargs(rows))
    # Before the damped, range-adapted integral these were off by up to 3e-5 of spot.
    np.testing.assert_array_less(np.abs(got - expected), 1e-6 * 100.0)


# spot, strike, days, rate, dividend, v0, kappa, theta, xi, rho, intensity, jump_mean, jump_std, is_call
BATES_CASES = [
    (100.0, 100.0, 365, 0.03, 0.0, 0.09, 2.0, 0.09, 0.6, -0.6, 1.0, -0.1, 0.15, True),
    (100.0, 70.0, 30, 0.05, 0.01, 0.04, 1.5, 0.06, 1.5, -0.8, 3.0, -0.05, 0.1, False),
    (42000.0, 52000.0, 90, 0.04, 0.0, 0.45, 3.0, 0.5, 1.2, -0.3, 5.0, 0.02, 0.08, True),
    (1.0, 1.3, 730, 0.01, 0.02, 0.2, 0.8, 0.3, 0.9, 0.4, 0.5, -0.2, 0.25, False),
]


def _ql_bates(spot, strike, days, rate, dividend, v0, kappa, theta, xi, rho, lam, nu, delta, is_call):
    process = ql.BatesProcess(
        _curve(rate), _curve(dividend), ql.QuoteHandle(ql.SimpleQuote(spot)), v0, kappa, theta, xi, rho,
        lam, nu, delta,
    )
    option = ql.VanillaOption(ql.PlainVanillaPayoff(_option_type(is_call), strike), _exercise(days))
    option.setPricingEngine(ql.BatesEngine(ql.BatesModel(process), 1e-13, 1_000_000))
    return option.NPV()


def test_bates_matches_quantlib():
    rows = BATES_CASES
    expected = np.array([_ql_bates(*row) for row in rows])
    names = ("spots", "strikes", "expiries", "rates", "dividends", "v0", "kappa", "theta", "xi", "rho",
             "jump_intensity", "jump_mean", "jump_std")
    kwargs = {name: (_years if name == "expiries" else _column)(rows, i) for i, name in enumerate(names)}
    got = heston.bates_european(**kwargs, is_call=_flags(rows, 13))
    spots = np.array([row[0] for row in rows])
    np.testing.assert_array_less(np.abs(got - expected), 1e-9 * spots)


# --- Merton jump-diffusion ----------------------------------------------------------------------------

# spot, strike, days, vol, rate, dividend, intensity, jump_mean, jump_std, is_call
MERTON_CASES = [
    (100.0, 110.0, 365, 0.5, 0.05, 0.01, 3.0, -0.05, 0.1, True),
    (100.0, 80.0, 73, 0.8, 0.03, 0.0, 10.0, -0.1, 0.2, False),
    (100.0, 150.0, 730, 0.6, 0.05, 0.02, 1.0, 0.05, 0.3, True),
    (42000.0, 40000.0, 30, 0.6, 0.04, 0.0, 20.0, 0.0, 0.05, False),
]


def _ql_jump_diffusion_engine(
    spot, strike, days, vol, rate, dividend, intensity, jump_mean, jump_std, is_call
):
    """QuantLib's JumpDiffusionEngine::calculate (absent from the Python bindings) in Python.

    The same Poisson series as the C++ engine, each term priced by AnalyticEuropeanEngine: intensity
    lambda (1 + m) and, for n jumps, vol sqrt(vol^2 + n jump_std^2 / T) and rate
    r - lambda m + n (jump_mean + jump_std^2 / 2) / T.
    """
    t = days / 365.0
    growth = jump_mean + 0.5 * jump_std**2
    m = math.exp(growth) - 1.0
    lam_t = intensity * (1.0 + m) * t
    total, n = 0.0, 0
    while n < 10 or poisson.sf(n - 1, lam_t) > 1e-17:
        v_n = math.sqrt(vol**2 + n * jump_std**2 / t)
        r_n = rate - intensity * m + n * growth / t
        total += (
            poisson.pmf(n, lam_t) * _ql_european(spot, strike, days, v_n, r_n, dividend, is_call).NPV()
        )
        n += 1
    return total


def _ql_bates_small_xi(spot, strike, days, vol, rate, dividend, intensity, jump_mean, jump_std, is_call):
    """Merton as the xi -> 0 limit of QuantLib's BatesEngine (v0 = theta = vol^2, rho = 0).

    With rho = 0 the Bates price is even in xi, so Richardson extrapolation from xi and xi/2 removes the
    xi^2 term.
    """

    def price(xi):
        process = ql.BatesProcess(
            _curve(rate),
            _curve(dividend),
            ql.QuoteHandle(ql.SimpleQuote(spot)),
            vol**2,
            1.0,
            vol**2,
            xi,
            0.0,
            intensity,
            jump_mean,
            jump_std,
        )
        option = ql.VanillaOption(ql.PlainVanillaPayoff(_option_type(is_call), strike), _exercise(days))
        option.setPricingEngine(ql.BatesEngine(ql.BatesModel(process), 192))
        return option.NPV()

    return (4.0 * price(2.5e-3) - price(5e-3)) / 3.0


def _merton_kwargs(rows, dtype=np.float64):
    names = (
        "spots",
        "strikes",
        "expiries",
        "vols",
        "rates",
        "dividends",
        "jump_intensity",
        "jump_mean",
        "jump_std",
    )
    kwargs = {
        name: (_years if name == "expiries" else _column)(rows, i, dtype) for i, name in enumerate(names)
    }
    return {**kwargs, "is_call": _flags(rows, 9)}


def test_merton_matches_quantlib_jump_diffusion_series_and_bates_limit():
    got = merton.european(**_merton_kwargs(MERTON_CASES))
    series = np.array([_ql_jump_diffusion_engine(*row) for row in MERTON_CASES])
    bates_limit = np.array([_ql_bates_small_xi(*row) for row in MERTON_CASES])
    np.testing.assert_allclose(got, series, rtol=1e-11)
    np.testing.assert_allclose(got, bates_limit, rtol=1e-8)


def test_merton_without_jumps_is_black_scholes():
    kwargs = _merton_kwargs(MERTON_CASES)
    no_jumps = merton.european(**{**kwargs, "jump_intensity": jnp.zeros_like(kwargs["jump_intensity"])})
    plain = {k: v for k, v in kwargs.items() if not k.startswith("jump_")}
    np.testing.assert_allclose(no_jumps, bs.european(**plain), rtol=1e-13)
    grad = jax.grad(lambda lam: merton.european(**{**kwargs, "jump_intensity": lam}).sum())(
        jnp.zeros_like(kwargs["jump_intensity"])
    )
    assert np.isfinite(grad).all()


# --- Lookback ------------------------------------------------------------------------------------------

# spot, days, vol, rate, dividend, is_call
LOOKBACK_CASES = [
    (100.0, 365, 0.3, 0.05, 0.01, True),
    (100.0, 365, 0.3, 0.05, 0.01, False),
    (42000.0, 30, 0.9, 0.04, 0.0, True),
    (42000.0, 182, 0.7, 0.0, 0.03, False),
    (10.0, 730, 0.15, 0.08, 0.0, True),
]


def _ql_lookback(spot, days, vol, rate, dividend, is_call):
    option = ql.ContinuousFloatingLookbackOption(
        spot, ql.FloatingTypePayoff(_option_type(is_call)), _exercise(days)
    )
    option.setPricingEngine(ql.AnalyticContinuousFloatingLookbackEngine(_bsm(spot, vol, rate, dividend)))
    return option.NPV()


def _lookback_price(row, dtype=np.float64, **overrides):
    spot, days, vol, rate, dividend, is_call = row
    kwargs = dict(spots=spot, expiries=days / 365.0, vols=vol, rates=rate, dividends=dividend)
    kwargs = {k: jnp.asarray(v, dtype) for k, v in {**kwargs, **overrides}.items()}
    return lookback.floating(**kwargs, is_call=is_call)


@pytest.mark.parametrize("row", LOOKBACK_CASES)
def test_floating_lookback_matches_quantlib(row):
    np.testing.assert_allclose(_lookback_price(row), _ql_lookback(*row), rtol=1e-11)


@pytest.mark.parametrize("is_call", [True, False])
def test_floating_lookback_is_continuous_at_equal_rate_and_dividend(is_call):
    # QuantLib divides by r - q; approach r == q from both sides, where its cancellation costs ~1e-9.
    spot, days, vol, q = 100.0, 365, 0.4, 0.03
    at = _lookback_price((spot, days, vol, q, q, is_call))
    eps = 1e-6
    limit = 0.5 * (
        _ql_lookback(spot, days, vol, q + eps, q, is_call)
        + _ql_lookback(spot, days, vol, q - eps, q, is_call)
    )
    np.testing.assert_allclose(at, limit, rtol=1e-8)
    # Just off the seam, both branches of the r ~ q evaluation agree with QuantLib.
    for gap in (2e-4, 5e-3):
        row = (spot, days, vol, q + gap, q, is_call)
        np.testing.assert_allclose(_lookback_price(row), _ql_lookback(*row), rtol=1e-10)
    rho = jax.grad(lambda r: _lookback_price((spot, days, vol, q, q, is_call), rates=r))(jnp.float64(q))
    fd = (
        _ql_lookback(spot, days, vol, q + 1e-4, q, is_call)
        - _ql_lookback(spot, days, vol, q - 1e-4, q, is_call)
    ) / 2e-4
    np.testing.assert_allclose(rho, fd, rtol=1e-6)


# --- Stulz ---------------------------------------------------------------------------------------------

# spot1, spot2, strike, vol1, vol2, corr, days, rate, dividend1, dividend2, is_call, is_max
STULZ_CASES = [
    (100.0, 105.0, 100.0, 0.3, 0.25, 0.5, 365, 0.05, 0.01, 0.02, True, True),
    (100.0, 105.0, 100.0, 0.3, 0.25, 0.5, 365, 0.05, 0.01, 0.02, True, False),
    (100.0, 105.0, 100.0, 0.3, 0.25, 0.5, 365, 0.05, 0.01, 0.02, False, True),
    (100.0, 105.0, 100.0, 0.3, 0.25, 0.5, 365, 0.05, 0.01, 0.02, False, False),
    (42000.0, 40000.0, 45000.0, 0.8, 0.95, 0.93, 90, 0.04, 0.0, 0.0, True, True),
    (42000.0, 40000.0, 38000.0, 0.8, 0.95, -0.4, 90, 0.04, 0.0, 0.0, False, False),
    (50.0, 40.0, 45.0, 0.2, 0.6, -0.95, 730, 0.02, 0.0, 0.03, True, False),
    (50.0, 40.0, 45.0, 0.2, 0.6, 0.0, 730, 0.02, 0.0, 0.03, False, True),
]


def _ql_stulz(spot1, spot2, strike, vol1, vol2, corr, days, rate, q1, q2, is_call, is_max):
    vanilla = ql.PlainVanillaPayoff(_option_type(is_call), strike)
    payoff = ql.MaxBasketPayoff(vanilla) if is_max else ql.MinBasketPayoff(vanilla)
    option = ql.BasketOption(payoff, _exercise(days))
    option.setPricingEngine(
        ql.StulzEngine(_bsm(spot1, vol1, rate, q1), _bsm(spot2, vol2, rate, q2), corr)
    )
    return option.NPV()


def _stulz_kwargs(rows, dtype=np.float64):
    names = (
        "spots1",
        "spots2",
        "strikes",
        "vols1",
        "vols2",
        "corr",
        "expiries",
        "rates",
        "dividends1",
        "dividends2",
    )
    kwargs = {
        name: (_years if name == "expiries" else _column)(rows, i, dtype) for i, name in enumerate(names)
    }
    return {**kwargs, "is_call": _flags(rows, 10), "is_max": _flags(rows, 11)}


def test_stulz_matches_quantlib():
    expected = np.array([_ql_stulz(*row) for row in STULZ_CASES])
    np.testing.assert_allclose(stulz.best_worst_two(**_stulz_kwargs(STULZ_CASES)), expected, rtol=1e-10)


def test_bivariate_normal_cdf_matches_quantlib():
    rng = np.random.default_rng(7)
    x, y = rng.normal(scale=2.0, size=(2, 64))
    rho = np.concatenate(
        [rng.uniform(-0.99, 0.99, 48), [-1.0, 1.0, -0.9999, 0.9999], rng.uniform(-1, 1, 12)]
    )
    expected = np.array(
        [ql.BivariateCumulativeNormalDistribution(r)(a, b) for a, b, r in zip(x, y, rho, strict=True)]
    )
    got = stulz.bivariate_ndtr(jnp.asarray(x), jnp.asarray(y), jnp.asarray(rho))
    np.testing.assert_allclose(got, expected, atol=1e-14)
    grad = jax.grad(lambda r: stulz.bivariate_ndtr(jnp.asarray(x), jnp.asarray(y), r).sum())(
        jnp.asarray(rho)
    )
    assert np.isfinite(grad[np.abs(rho) < 1]).all()


# --- float32 -------------------------------------------------------------------------------------------


def _assert_float32_close(got, expected, rtol=1e-4):
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got, np.float64), expected, rtol=rtol)


def test_float32_in_float32_out():
    f32 = np.float32
    _assert_float32_close(
        bs.european(**_bs_kwargs(BS_CASES, f32)), [_ql_european(*row).NPV() for row in BS_CASES]
    )
    _assert_float32_close(
        bs.digital(**_bs_kwargs(BS_CASES, f32), cash=jnp.float32(2.0)),
        [
            2.0 * _ql_european(*r, payoff=ql.CashOrNothingPayoff(_option_type(r[6]), r[1], 1.0)).NPV()
            for r in BS_CASES
        ],
    )
    fwd_kwargs = {k: v for k, v in _bs_kwargs(BS_CASES, f32).items() if k not in ("vols", "is_call")}
    assert bs.forward(**fwd_kwargs).dtype == jnp.float32
    _assert_float32_close(
        margrabe.exchange(**_margrabe_kwargs(MARGRABE_CASES, f32)),
        [_margrabe_reference(*row) for row in MARGRABE_CASES],
    )
    _assert_float32_close(
        jnp.stack([_asian_price(row, f32) for row in ASIAN_CASES]),
        [_ql_asian(*row) for row in ASIAN_CASES],
    )
    # Only prices away from zero: float32 errors in the A..D terms are absolute, a few 1e-7 of spot.
    rows = [row for row in BARRIER_CASES if _ql_barrier(*row) > 1e-2 * row[0]]
    _assert_float32_close(
        barrier.barrier(**_barrier_kwargs(rows, f32)), [_ql_barrier(*row) for row in rows]
    )
    # Heston in float32 carries a few 1e-6 of spot in absolute error; these prices are >= 1% of spot.
    rows = [HESTON_CASES[i] for i in (0, 3, 4)]
    _assert_float32_close(
        heston.european(**_heston_kwargs(rows, f32)), [_ql_heston(*row) for row in rows]
    )
    _assert_float32_close(
        merton.european(**_merton_kwargs(MERTON_CASES, f32)),
        [_ql_jump_diffusion_engine(*r) for r in MERTON_CASES],
    )
    _assert_float32_close(
        jnp.stack([_lookback_price(row, f32) for row in LOOKBACK_CASES]),
        [_ql_lookback(*r) for r in LOOKBACK_CASES],
    )
    _assert_float32_close(
        stulz.best_worst_two(**_stulz_kwargs(STULZ_CASES, f32)), [_ql_stulz(*r) for r in STULZ_CASES]
    )


def test_float32_gradients_stay_float32():
    kwargs = _bs_kwargs(BS_CASES, np.float32)
    grad = jax.grad(lambda s: bs.european(**{**kwargs, "spots": s}).sum())(kwargs["spots"])
    assert grad.dtype == jnp.float32 and np.isfinite(grad).all()


def test_arguments_broadcast_and_package_reexports_modules():
    spots = jnp.linspace(80.0, 120.0, 5)[:, None]
    strikes = jnp.array([[90.0, 100.0, 110.0]])
    prices = analytic.bs.european(
        spots=spots, strikes=strikes, expiries=0.5, vols=0.4, rates=0.03, dividends=0.0, is_call=True
    )
    assert prices.shape == (5, 3)
    puts = analytic.bs.european(
        spots=spots, strikes=strikes, expiries=0.5, vols=0.4, rates=0.03, dividends=0.0, is_call=False
    )
    fwd = analytic.bs.forward(spots=spots, strikes=strikes, expiries=0.5, rates=0.03, dividends=0.0)
    np.testing.assert_allclose(prices - puts, fwd, rtol=1e-12, atol=1e-12)
    assert analytic.heston.european is heston.european
