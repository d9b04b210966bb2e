"""QuantLib reference prices (the independent reference; test-only dependency).

Dates use Actual365Fixed from a fixed evaluation date, so a maturity of `days` calendar
days is exactly days / 365 years; tests pass that same year fraction to mcrisk.
"""

from __future__ import annotations

import math

import numpy as np
import QuantLib as ql

TODAY = ql.Date(2, 1, 2025)
DC = ql.Actual365Fixed()


def _setup() -> None:
    ql.Settings.instance().evaluationDate = TODAY


def years(days: int) -> float:
    return days / 365.0


def _curve(r: float):
    return ql.YieldTermStructureHandle(ql.FlatForward(TODAY, r, DC))


def bs_process(spot: float, vol: float, r: float, q: float):
    _setup()
    return ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)), _curve(q), _curve(r),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, DC)))


def _opt_type(option: str):
    return ql.Option.Call if option == "call" else ql.Option.Put


def _exercise(days: int):
    return ql.EuropeanExercise(TODAY + days)


def european(spot, strike, days, vol, r, q, option):
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(_opt_type(option), strike), _exercise(days))
    opt.setPricingEngine(ql.AnalyticEuropeanEngine(bs_process(spot, vol, r, q)))
    return opt


def digital(spot, strike, days, vol, r, q, option, cash=1.0):
    opt = ql.VanillaOption(ql.CashOrNothingPayoff(_opt_type(option), strike, cash), _exercise(days))
    opt.setPricingEngine(ql.AnalyticEuropeanEngine(bs_process(spot, vol, r, q)))
    return opt.NPV()


BARRIER = {"down-and-out": ql.Barrier.DownOut, "down-and-in": ql.Barrier.DownIn,
           "up-and-out": ql.Barrier.UpOut, "up-and-in": ql.Barrier.UpIn}


def barrier(spot, strike, level, barrier_type, days, vol, r, q, option):
    opt = ql.BarrierOption(BARRIER[barrier_type], level, 0.0,
                           ql.PlainVanillaPayoff(_opt_type(option), strike), _exercise(days))
    opt.setPricingEngine(ql.AnalyticBarrierEngine(bs_process(spot, vol, r, q)))
    return opt.NPV()


def asian(spot, strike, days, fixings, vol, r, q, option, average):
    step = days // fixings
    assert step * fixings == days, "fixing dates must fall on whole days"
    dates = [TODAY + step * (i + 1) for i in range(fixings)]
    payoff = ql.PlainVanillaPayoff(_opt_type(option), strike)
    process = bs_process(spot, vol, r, q)
    if average == "geometric":
        opt = ql.DiscreteAveragingAsianOption(ql.Average.Geometric, 1.0, 0, dates, payoff,
                                              _exercise(days))
        opt.setPricingEngine(ql.AnalyticDiscreteGeometricAveragePriceAsianEngine(process))
        return opt.NPV(), 0.0
    opt = ql.DiscreteAveragingAsianOption(ql.Average.Arithmetic, 0.0, 0, dates, payoff,
                                          _exercise(days))
    opt.setPricingEngine(ql.MCDiscreteArithmeticAPEngine(
        process, "pseudorandom", brownianBridge=False, antitheticVariate=True,
        controlVariate=True, requiredSamples=200_000, seed=42))
    return opt.NPV(), opt.errorEstimate()


def lookback(spot, days, vol, r, q, option):
    opt = ql.ContinuousFloatingLookbackOption(spot, ql.FloatingTypePayoff(_opt_type(option)),
                                              _exercise(days))
    opt.setPricingEngine(ql.AnalyticContinuousFloatingLookbackEngine(bs_process(spot, vol, r, q)))
    return opt.NPV()


def stulz(spot1, spot2, strike, days, vol1, vol2, corr, r, q1, q2, option, kind):
    vanilla = ql.PlainVanillaPayoff(_opt_type(option), strike)
    payoff = ql.MaxBasketPayoff(vanilla) if kind == "max" else ql.MinBasketPayoff(vanilla)
    opt = ql.BasketOption(payoff, _exercise(days))
    opt.setPricingEngine(ql.StulzEngine(bs_process(spot1, vol1, r, q1),
                                        bs_process(spot2, vol2, r, q2), corr))
    return opt.NPV()


def heston(spot, strike, days, r, q, v0, kappa, theta, xi, rho, option):
    _setup()
    proc = ql.HestonProcess(_curve(r), _curve(q), ql.QuoteHandle(ql.SimpleQuote(spot)),
                            v0, kappa, theta, xi, rho)
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(_opt_type(option), strike), _exercise(days))
    opt.setPricingEngine(ql.AnalyticHestonEngine(ql.HestonModel(proc)))
    return opt.NPV()


def bates(spot, strike, days, r, q, v0, kappa, theta, xi, rho, lam, mu_j, sig_j, option):
    _setup()
    proc = ql.BatesProcess(_curve(r), _curve(q), ql.QuoteHandle(ql.SimpleQuote(spot)),
                           v0, kappa, theta, xi, rho, lam, mu_j, sig_j)
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(_opt_type(option), strike), _exercise(days))
    opt.setPricingEngine(ql.BatesEngine(ql.BatesModel(proc)))
    return opt.NPV()


def merton(spot, strike, days, vol, r, q, lam, mu_j, sig_j, option):
    """Merton (1976) via QuantLib's BatesEngine in its constant-variance limit.

    The Python bindings of QuantLib 1.44 do not expose JumpDiffusionEngine; with
    v0 = theta = vol^2 and vol-of-variance 1e-4 Bates is Merton to ~1e-8 relative.
    """
    return bates(spot, strike, days, r, q, vol ** 2, 1.0, vol ** 2, 1e-4, 0.0, lam, mu_j,
                 sig_j, option)


def margrabe(s1, s2, vol1, vol2, corr, t, q1, q2):
    """Margrabe (1978), written out here independently of mcrisk.analytic."""
    from scipy.stats import norm

    sig = math.sqrt(vol1 ** 2 + vol2 ** 2 - 2 * corr * vol1 * vol2)
    d1 = (math.log(s1 / s2) + (q2 - q1 + 0.5 * sig ** 2) * t) / (sig * math.sqrt(t))
    d2 = d1 - sig * math.sqrt(t)
    return s1 * math.exp(-q1 * t) * norm.cdf(d1) - s2 * math.exp(-q2 * t) * norm.cdf(d2)


def two_asset_quadrature(w1, w2, strike, s1, s2, vol1, vol2, corr, t, r, q1, q2, option,
                         nodes=200):
    """Exact price of max(sign (w1 S1 + w2 S2 - K), 0) under 2-asset GBM (w1 > 0).

    Conditional on S2, S1 is lognormal, so the inner expectation is a Black-Scholes price
    with a shifted strike; the outer one is Gauss-Hermite quadrature over S2's normal.
    """
    from scipy.stats import norm

    x, wts = np.polynomial.hermite_e.hermegauss(nodes)
    wts = wts / wts.sum()
    s2_t = s2 * np.exp((r - q2 - 0.5 * vol2 ** 2) * t + vol2 * math.sqrt(t) * x)
    # S1 | x: log-mean shifted by corr, variance (1 - corr^2) vol1^2 t.
    sd = vol1 * math.sqrt((1 - corr ** 2) * t)
    m = math.log(s1) + (r - q1 - 0.5 * vol1 ** 2) * t + corr * vol1 * math.sqrt(t) * x
    fwd1 = np.exp(m + 0.5 * sd ** 2)
    k1 = (strike - w2 * s2_t) / w1  # S1 level where the payoff switches
    sign = 1.0 if option == "call" else -1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (m + sd ** 2 - np.log(np.where(k1 > 0, k1, 1.0))) / sd
        d2 = d1 - sd
        call_pos = w1 * (fwd1 * norm.cdf(d1) - k1 * norm.cdf(d2))
        put_pos = w1 * (k1 * norm.cdf(-d2) - fwd1 * norm.cdf(-d1))
    linear = w1 * fwd1 - w1 * k1  # E[w1 S1 + w2 S2 - K | x]
    call = np.where(k1 > 0, call_pos, linear)
    put = np.where(k1 > 0, put_pos, 0.0)
    inner = call if sign > 0 else put
    return math.exp(-r * t) * float(np.sum(wts * inner))
