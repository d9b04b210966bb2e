"""Black implied vol (mcrisk.vol.implied): round trips on an extreme grid in float64 and float32,
the no-arbitrage bounds, implicit-function gradients against closed-form Greeks, compile-once.

The grid: strikes 0.05x-20x the forward (40, log-spaced), expiries of one hour to five years, vols
0.05-3, calls and puts. A price determines its vol only as well as its own rounding allows: half a
float spacing of the price over the closed-form vega. Points where that alone moves the vol by more
than 1e-12 (float64) are excluded from the 1e-10 check, and so are prices below the smallest
normal float (digits lost to underflow, or exactly 0). On this grid that removes the
out-of-the-money quotes whose price underflows and the in-the-money quotes whose time value is
lost next to the intrinsic value; every out-of-the-money quote with a normal price is kept.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from mcrisk.errors import ConfigError
from mcrisk.vol.implied import black_price, implied_vol
from tests.compiles import compiled as _compiled

STRIKES = np.exp(np.linspace(np.log(0.05), np.log(20.0), 40))
EXPIRIES = np.array([1 / 8760, 1 / 365, 7 / 365, 1 / 12, 0.25, 1.0, 5.0])
VOLS = np.array([0.05, 0.2, 0.8, 1.5, 3.0])
K, T, V, CALL = (a.ravel() for a in np.meshgrid(STRIKES, EXPIRIES, VOLS, [True, False],
                                                 indexing="ij"))


def _vega(f, k, t, v, d=1.0):
    """Closed-form Black vega D F phi(d1) sqrt(T), through logpdf so it underflows last."""
    d1 = (np.log(f / k) + 0.5 * v * v * t) / (v * np.sqrt(t))
    return d * f * np.exp(norm.logpdf(d1)) * np.sqrt(t)


def _well_posed(prices, tol, dtype):
    """Quotes whose own rounding moves the vol by at most `tol` (relative) and whose price is a
    normal number of `dtype`."""
    p = np.asarray(prices, dtype)
    with np.errstate(divide="ignore", over="ignore"):
        spread = np.spacing(p).astype(np.float64) / (2.0 * _vega(1.0, K, T, V) * V)
    return (p >= np.finfo(dtype).tiny) & (spread <= tol)


def _otm():
    return np.where(CALL, K >= 1.0, K <= 1.0)


def _log_price_by_quadrature(x, s):
    """ln of the normalised out-of-the-money price b(x, s) = int_0^s vega(x, u) du (x <= 0),
    with vega(x, u) = exp(-(x^2/u^2 + u^2/4)/2) / sqrt(2 pi), scaled by its value at the peak so
    nothing underflows: an independent route to the price deep in the wings."""
    log_vega = lambda u: -0.5 * (x * x / (u * u) + 0.25 * u * u)  # noqa: E731
    peak = min(s, np.sqrt(-2.0 * x))
    val, _ = integrate.quad(lambda u: np.exp(log_vega(u) - log_vega(peak)), 0.0, s,
                            epsabs=0.0, epsrel=1e-13, limit=200, points=[peak])
    return np.log(val) + log_vega(peak) - 0.5 * np.log(2.0 * np.pi)


@pytest.mark.parametrize("k, s", [(20.0, 0.09), (20.0, 0.5), (0.05, 0.1), (1.2, 0.01),
                                  (np.exp(0.05), 0.004), (np.exp(-0.03), 0.004), (1.0001, 5e-4),
                                  (3.0, 6.7)])
def test_black_price_keeps_relative_accuracy_in_the_wings(k, s):
    # (20, 0.09) is worth ~1e-241; the cases cover each branch of the price formula.
    x = -abs(np.log(1.0 / k))  # as black_price forms ln(F/K): 1/k's rounding moves b visibly
    ref = _log_price_by_quadrature(x, s)
    call = k >= 1.0
    price = float(black_price(1.0, k, 1.0, s, call))
    # normalised price = price / sqrt(F K); 5e-13 in the log is 5e-13 relative in the price
    assert abs(np.log(price / np.sqrt(k)) - ref) <= 5e-13


def test_round_trip_float64_extreme_grid():
    prices = np.asarray(black_price(1.0, K, T, V, CALL))
    res = implied_vol(prices, 1.0, K, T, CALL)
    vol, valid = np.asarray(res.vol), np.asarray(res.valid)
    keep = _well_posed(prices, 1e-12, np.float64)
    time_value = prices - np.maximum(np.where(CALL, 1.0 - K, K - 1.0), 0.0)
    assert (keep | ~_otm() | (prices < np.finfo(np.float64).tiny)).all()
    # Exactly the quotes whose time value underflowed or rounded away are rejected, as NaN.
    np.testing.assert_array_equal(valid, time_value > 0)
    assert np.isnan(vol[~valid]).all() and int(res.n_invalid) == (~valid).sum()
    assert int(res.n_unconverged) == 0
    err = np.abs(vol[keep] - V[keep])
    assert err.max() <= 1e-10, (err.max(), np.argmax(err))


def test_round_trip_float32():
    # Bound found: 1e-5 relative, at the quotes next to the upper bound (s = 6.7, where float32
    # keeps few digits of e^{x/2} - price), against 1e-4 asserted. It holds for every
    # out-of-the-money quote with a normal float32 price (normalised prices down to ~1e-38), and
    # for in-the-money quotes whose float32 rounding alone moves the vol by <= 1e-6: below that,
    # an in-the-money float32 price has lost its time value next to the intrinsic value.
    prices = np.asarray(black_price(1.0, K, T, V, CALL)).astype(np.float32)
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    res = implied_vol(f32(prices), f32(np.ones_like(K)), f32(K), f32(T), CALL)
    assert res.vol.dtype == jnp.float32 and int(res.n_unconverged) == 0
    rel = np.abs(np.asarray(res.vol, np.float64) - V) / V
    otm = _otm() & (prices >= np.finfo(np.float32).tiny)
    assert otm.sum() > 700 and rel[otm].max() <= 1e-4, rel[otm].max()
    keep = _well_posed(prices, 1e-6, np.float32)
    assert rel[keep].max() <= 1e-4, rel[keep].max()


def _quotes():
    """Eight quotes as same-shape float64 arrays (the signature the tests below share, so the
    kernel compiles once for all of them)."""
    k = np.array([80.0, 100.0, 120.0, 90.0, 110.0, 100.0, 95.0, 105.0])
    call = np.array([True, True, False, False, True, False, True, True])
    return np.full(8, 100.0), k, np.full(8, 0.5), np.full(8, 0.98), call


def test_invalid_quotes_are_nan_only_there():
    f, k, t, d, call = _quotes()
    prices = np.asarray(black_price(f, k, t, 0.6, call, d))
    bad = prices.copy()
    bad[1] = -1.0                                  # negative
    bad[2] = 0.98 * (120.0 - 100.0) * (1 - 1e-9)   # put below intrinsic
    bad[4] = 0.98 * 100.0                          # call at its upper bound, the discounted forward
    bad[5] = np.nan                                # not a number
    bad[7] = 0.98 * 105.0 * 1.5                    # far above any bound
    res = implied_vol(bad, f, k, t, call, d)
    invalid = np.array([False, True, True, False, True, True, False, True])
    np.testing.assert_array_equal(np.asarray(res.valid), ~invalid)
    assert np.isnan(np.asarray(res.vol)[invalid]).all()
    np.testing.assert_allclose(np.asarray(res.vol)[~invalid], 0.6, rtol=1e-13)
    assert int(res.n_invalid) == 5 and int(res.n_unconverged) == 0
    # Bad market inputs invalidate their own quote only.
    f[[1, 4]] = np.inf, -1.0
    t[[2, 7]] = 0.0, np.nan
    res = implied_vol(prices, f, k, t, call, d)
    np.testing.assert_array_equal(np.asarray(res.valid), [1, 0, 0, 1, 0, 1, 1, 0])
    np.testing.assert_allclose(np.asarray(res.vol)[[0, 3, 5, 6]], 0.6, rtol=1e-13)


def test_gradients_are_the_implicit_function_theorem():
    f, d = np.full(5, 60000.0), np.full(5, 0.97)
    k = np.array([30000.0, 58000.0, 60000.0, 75000.0, 300000.0])
    t = np.array([0.25, 1 / 365, 1.0, 0.08, 1.0])
    v = np.array([0.7, 1.2, 0.5, 0.05, 0.35])      # the last is ~1e-5 of F, deep in the wing
    call = np.array([False, True, True, True, True])
    prices = np.array(black_price(f, k, t, v, call, d))
    prices[0] = np.nan                             # its gradient is NaN, the others unaffected

    # Each vol depends on its own quote only, so the gradient of the sum holds every derivative.
    def total(p, f_, k_, t_, d_):
        return jnp.sum(jnp.where(jnp.isnan(p), 0.0, implied_vol(p, f_, k_, t_, call, d_).vol))

    grads = jax.jit(jax.grad(total, argnums=(0, 1, 2, 3, 4)))(prices, f, k, t, d)
    vega = _vega(f, k, t, v, d)
    d1 = (np.log(f / k) + 0.5 * v * v * t) / (v * np.sqrt(t))
    theta = np.where(call, 1.0, -1.0)
    dp_df = d * theta * norm.cdf(theta * d1)
    dp_dk = -d * theta * norm.cdf(theta * (d1 - v * np.sqrt(t)))
    expected = (1.0 / vega, -dp_df / vega, -dp_dk / vega, -v / (2.0 * t), -(prices / d) / vega)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(np.asarray(got)[1:], want[1:], rtol=1e-8)


def test_second_call_with_new_numbers_compiles_nothing():
    f, k, t, d, call = _quotes()
    implied_vol(np.asarray(black_price(f, k, t, 0.6, call, d)), f, k, t, call, d)
    f, k, t, d = 0.9 * f, 1.1 * k, 2.0 * t, 0.9 * d
    prices = np.asarray(black_price(f, k, t, 0.9, call, d))
    with _compiled() as names:
        res = implied_vol(prices, f, k, t, call, d)
        np.asarray(res.vol)
    assert names == [], names
    np.testing.assert_allclose(np.asarray(res.vol), 0.9, rtol=1e-13)


@pytest.mark.parametrize("kwargs, field", [
    (dict(is_call=np.array([1, 0])), "is_call"),
    (dict(prices=np.array(["a", "b"])), "prices"),
    (dict(forwards=np.ones(3)), "shapes"),
    (dict(strikes=np.array([90.0, 110.0], np.float32)), "prices, forwards, strikes"),
])
def test_bad_arguments_raise_config_error(kwargs, field):
    args = dict(prices=np.array([12.0, 3.0]), forwards=np.array([100.0, 100.0]),
                strikes=np.array([90.0, 110.0]), expiries=0.5, is_call=np.array([True, True]))
    args.update(kwargs)
    with pytest.raises(ConfigError) as err:
        implied_vol(**args)
    assert err.value.path.startswith(field)
