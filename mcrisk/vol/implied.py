"""Black (1976) implied volatility in JAX: vectorised, differentiable, float32 and float64.

The inversion works on the normalised price of the out-of-the-money option, as in P. Jäckel,
"Let's be rational" (Wilmott, 2015). With ``x = ln(F/K)`` and total standard deviation
``s = sigma sqrt(T)``, an undiscounted call is worth
``sqrt(F K) (e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2))``. Put-call parity turns every quote
into the out-of-the-money option, whose normalised price ``b(x, s)``, ``x <= 0``, lies in
``(0, e^{x/2})``; an in-the-money quote keeps only the time value its own rounding leaves.
``b`` is computed as ``exp(-(h^2 + t^2) / 2) (erfcx(u1) - erfcx(u2)) / 2`` with ``h = x/s``,
``t = s/2`` and ``u1,2 = (-h -+ t) / sqrt(2)``: the factor that underflows stays in an exponent,
so ``ln b`` keeps full relative accuracy however deep in the wing. The difference of the two
``erfcx`` values cancels when ``t`` is small; there it is summed in closed form, by the asymptotic
series of ``erfcx`` in the wing and by a Taylor series in ``t`` near the money.

The root is found by safeguarded Newton steps from an asymptotic initial guess, on an objective
that is nearly linear in ``s`` in each of Jäckel's three branches around the inflection point
``s_c = sqrt(2|x|)``: ``1 / sqrt(-2 ln b)`` in the low wing, ``b`` in the middle and
``sqrt(-2 ln(1 - b / b_max))`` near the upper bound. A bracket, tightened at every step, takes a
bisection instead of any Newton step that leaves it. The number of iterations is fixed (8; six
reach 1e-12 on strikes 0.05x-20x, one hour to five years, vols 0.05-3), so one compiled kernel
serves every call of the same shape and ``jax.vmap`` applies unchanged.

Gradients come from the implicit function theorem (a ``custom_jvp``): ``d sigma / d price =
1 / vega`` and ``d sigma / d F = -(d price / d F) / vega``, likewise for strikes, expiries and
discounts.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.scipy.special import erfcx, ndtr, ndtri
from jax.typing import ArrayLike

from mcrisk.errors import ConfigError

__all__ = ["ImpliedVol", "black_price", "implied_vol"]

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
# Above u = 8 the asymptotic series of erfcx with 20 terms is exact to ~1e-19 (its terms fall
# until n ~ u^2 = 64); below, the difference of erfcx values is direct or a Taylor series.
_WING_U = 8.0
_N_ASYMPTOTIC = 20
# The Taylor series of erfcx(u0 - d/2) - erfcx(u0 + d/2) in d falls like (d u0 / m)^2 per odd
# order m; with d <= 0.25 and u0 < 8.2 nine odd orders reach 1e-17.
_TAYLOR_D = 0.25
_N_TAYLOR = 9
_N_ITER = 8
_STEP_TOL = {np.dtype("float64"): 1e-12, np.dtype("float32"): 3e-5}


class ImpliedVol(NamedTuple):
    """Implied volatilities and their status.

    Attributes:
      vol: annualised Black vols, shape = broadcast of the inputs, their floating dtype; NaN
        exactly where `valid` is False.
      valid: bool, same shape: forward, strike, expiry, discount and price are finite, the first
        four positive, and the price lies strictly between the intrinsic value and the upper
        bound (the discounted forward for a call, the discounted strike for a put).
      n_invalid: int32 scalar, the number of False entries in `valid`.
      n_unconverged: int32 scalar, valid entries whose last Newton step still exceeded the
        tolerance (1e-12 relative in float64, 3e-5 in float32).
    """

    vol: Array
    valid: Array
    n_invalid: Array
    n_unconverged: Array


def _erfcx_gap_asymptotic(u1: Array, d: Array) -> Array:
    """erfcx(u1) - erfcx(u1 + d) for u1 >= 8, d > 0, without cancellation.

    erfcx(u) ~ sum_n c_n u^-(2n+1) with c_n = (-1)^n (2n-1)!! / 2^n; each difference
    u1^-k - u2^-k is u1^-k (1 - r^k) with r = u1/u2, and 1 - r^k is built from 1 - r = d/u2 by a
    recurrence that only adds positive numbers.
    """
    u2 = u1 + d
    r = u1 / u2
    r2 = r * r
    one_minus_r2 = (d / u2) * (1.0 + r)
    q = 1.0 / (u1 * u1)

    total, coef, a, rk = jnp.zeros_like(u1), jnp.ones_like(u1), d / u2, r
    for n in range(_N_ASYMPTOTIC):  # a = 1 - r^k and rk = r^k for k = 2n + 1
        total = total + coef * a
        coef = coef * (-(n + 0.5)) * q
        a, rk = a + rk * one_minus_r2, rk * r2
    return _INV_SQRT_PI * total / u1


def _erfcx_gap_taylor(u0: Array, d: Array, e0: Array) -> Array:
    """erfcx(u0 - d/2) - erfcx(u0 + d/2) for small d: -2 sum_{m odd} (d/2)^m E^(m)(u0) / m!.

    The derivatives follow E' = 2uE - 2/sqrt(pi) and E^(n+1) = 2u E^(n) + 2n E^(n-1), from
    e0 = erfcx(u0).
    """
    e_prev = e0
    e_cur = 2.0 * u0 * e_prev - 2.0 * _INV_SQRT_PI
    half2 = 0.25 * d * d
    power = 0.5 * d
    total = jnp.zeros_like(u0)
    for m in range(1, 2 * _N_TAYLOR, 2):  # power = (d/2)^m / m!, e_cur = E^(m)
        total = total + power * e_cur
        e_prev, e_cur = e_cur, 2.0 * u0 * e_cur + 2.0 * m * e_prev
        e_prev, e_cur = e_cur, 2.0 * u0 * e_cur + 2.0 * (m + 1) * e_prev
        power = power * half2 / ((m + 1) * (m + 2))
    return -2.0 * total


def _log_otm(x: Array, s: Array) -> tuple[Array, Array, Array]:
    """ln b(x, s), ln db/ds and ln(e^{x/2} - b) of the normalised out-of-the-money price, for
    x <= 0 and s > 0.

    db/ds = exp(-(h^2 + t^2)/2) / sqrt(2 pi) is the normalised vega. Every branch reuses the two
    values erfcx(|u1|) and erfcx(|u2|) (erfcx(u0) in the Taylor branch), the costly part. The
    third output is wrong in the Taylor branch (s <= 0.35), far below the upper tangent point
    s_u > 1 above which the solver uses it.
    """
    h, t = x / s, 0.5 * s
    d = _SQRT2 * t
    u1 = -(h + t) / _SQRT2
    u2 = u1 + d
    u0 = u1 + 0.5 * d
    log_scale = -0.5 * (h * h + t * t)
    wing = u1 >= _WING_U
    taylor = ~wing & (d <= _TAYLOR_D)
    direct = ~wing & ~taylor & (u1 >= -1.0)
    core = ~wing & ~taylor & ~direct
    a1 = erfcx(jnp.abs(jnp.where(taylor, u0, u1)))
    a2 = erfcx(jnp.abs(u2))

    def erfcx_signed(u, a, inside):
        # erfcx(-v) = 2 e^{v^2} - erfcx(v); the stand-in 0 outside keeps e^{v^2} finite.
        v = jnp.where(inside & (u < 0), u, 0.0)
        return jnp.where(v < 0, 2.0 * jnp.exp(v * v) - a, a)

    def erfc(u, a):
        e = a * jnp.exp(-u * u)
        return jnp.where(u < 0, 2.0 - e, e)

    # Each branch sees a harmless stand-in outside its region, so no NaN leaks into gradients.
    gap_w = _erfcx_gap_asymptotic(jnp.where(wing, u1, _WING_U), jnp.where(wing, d, 1.0))
    gap_t = _erfcx_gap_taylor(jnp.where(taylor, u0, 0.0), jnp.where(taylor, d, 0.1), a1)
    gap_d = erfcx_signed(u1, a1, direct) - erfcx_signed(u2, a2, direct)
    gap = jnp.where(wing, gap_w, jnp.where(taylor, gap_t, gap_d))
    # For u1 < -1, N(h + t) = erfc(u1)/2 exceeds N(sqrt 2) ~ 0.92: nothing underflows or
    # cancels badly in the plain difference.
    up, down = jnp.exp(0.5 * x), jnp.exp(-0.5 * x)
    b_core = 0.5 * (up * erfc(u1, a1) - down * erfc(u2, a2))
    log_b = jnp.where(core, jnp.log(jnp.where(core, b_core, 1.0)),
                      log_scale + jnp.log(jnp.where(core, 1.0, 0.5 * gap)))
    # e^{x/2} - b = e^{x/2} N(-h-t) + e^{-x/2} N(h-t): a sum, no cancellation near the bound.
    to_max = 0.5 * (up * erfc(-u1, a1) + down * erfc(u2, a2))
    log_to_max = jnp.log(jnp.where(to_max > 0, to_max, 1.0))
    return log_b, log_scale - _LOG_SQRT_2PI, log_to_max


def _black(f: Array, k: Array, t: Array, v: Array, phi: Array, d: Array) -> Array:
    """Discounted Black price from same-shape arrays; phi is +1 for a call, -1 for a put."""
    s = v * jnp.sqrt(jnp.where(t > 0, t, 0.0))
    live = s > 0
    x = jnp.log(f / k)
    theta_x = phi * x
    x_otm = jnp.where(theta_x <= 0, theta_x, -theta_x)
    log_b = _log_otm(x_otm, jnp.where(live, s, 1.0))[0]
    # K e^{x/2} is sqrt(F K) without overflow for large forwards and strikes.
    time_value = k * jnp.exp(log_b + 0.5 * x)
    payoff = phi * (f - k)
    # A strict inequality keeps the at-the-money derivative where it belongs, in the time value.
    intrinsic = jnp.where(payoff > 0, payoff, 0.0)
    return d * (intrinsic + jnp.where(live, time_value, 0.0))


def _as_arrays(*args: ArrayLike, flag: ArrayLike) -> tuple:
    """Casts to the common floating dtype (Python numbers are weak) and broadcasts with the flag."""
    arrays = [jnp.asarray(a) for a in args]
    floats = [a for a in arrays if jnp.issubdtype(a.dtype, jnp.floating)]
    dtype = jnp.result_type(*floats) if floats else jnp.result_type(float)
    arrays = [a.astype(dtype) for a in arrays]
    return (*jnp.broadcast_arrays(*arrays, jnp.asarray(flag, dtype=bool)), dtype)


@jax.jit
def black_price(forwards: ArrayLike, strikes: ArrayLike, expiries: ArrayLike, vols: ArrayLike,
                is_call: ArrayLike, discounts: ArrayLike = 1.0) -> Array:
    """Black (1976) price of a European call or put on a forward, accurate deep in the wings.

    Args:
      forwards: forward prices to expiry, > 0, broadcastable.
      strikes: strikes, > 0, in the units of `forwards`.
      expiries: year fractions (ACT/365), >= 0.
      vols: annualised lognormal vols, >= 0.
      is_call: bool, True for a call and False for a put.
      discounts: discount factors to the payment date; 1.0 gives undiscounted prices.

    Returns:
      `discounts * E[payoff]`, shape = broadcast of the arguments, their floating dtype. The
      out-of-the-money part keeps full relative accuracy down to the smallest normal float (a
      call struck at 20x the forward with vol sqrt(T) = 0.09 is worth 1e-241, exact to 1e-13);
      zero vol or expiry gives the discounted intrinsic value. Differentiable in every float
      argument.
    """
    f, k, t, v, d, call, _ = _as_arrays(forwards, strikes, expiries, vols, discounts, flag=is_call)
    return _black(f, k, t, v, jnp.where(call, 1.0, -1.0).astype(f.dtype), d)


def _normalised(p: Array, f: Array, k: Array, t: Array, d: Array, phi: Array):
    """Validity, ln of the normalised OTM price and x <= 0 of each quote."""
    market = jnp.stack([f, k, t, d])
    ok = jnp.isfinite(p) & jnp.all(jnp.isfinite(market) & (market > 0), axis=0)
    f, k, d = (jnp.where(ok, a, 1.0) for a in (f, k, d))
    undiscounted = p / d
    payoff = phi * (f - k)
    time_value = undiscounted - jnp.where(payoff > 0, payoff, 0.0)
    upper = jnp.where(phi > 0, f, k)
    x = jnp.log(f / k)
    x_otm = -jnp.abs(x)
    log_beta = jnp.log(jnp.where(time_value > 0, time_value, 1.0)) - jnp.log(k) - 0.5 * x
    valid = ok & (time_value > 0) & (undiscounted < upper) & (log_beta < 0.5 * x_otm)
    return valid, jnp.where(valid, log_beta, math.log(0.2)), jnp.where(valid, x_otm, 0.0)


def _solve(log_beta: Array, x: Array) -> tuple[Array, Array]:
    """Total standard deviation s with ln b(x, s) = log_beta (x <= 0, b < e^{x/2}), and the
    relative size of the last Newton step."""
    beta = jnp.exp(log_beta)
    b_max = jnp.exp(0.5 * x)
    s_c = jnp.sqrt(-2.0 * x)
    atm = s_c == 0
    lb_c, lv_c, _ = _log_otm(x, jnp.where(atm, 1.0, s_c))
    b_c = jnp.where(atm, 0.0, jnp.exp(lb_c))
    v_c = jnp.where(atm, _INV_SQRT_2PI, jnp.exp(lv_c))
    # Tangents at the inflection point, extended to b = 0 and to b = b_max, split the branches.
    s_l = jnp.maximum(s_c - b_c / v_c, 0.0)
    s_u = s_c + (b_max - b_c) / v_c
    # One stacked evaluation for both ends keeps the compiled kernel small.
    lb_ends = _log_otm(jnp.stack([x, x]), jnp.stack([jnp.where(s_l > 0, s_l, 1.0), s_u]))[0]
    b_l = jnp.where(s_l > 0, jnp.exp(lb_ends[0]), 0.0)
    b_u = jnp.exp(lb_ends[1])
    low = beta < b_l
    high = ~low & (beta > b_u)
    mid = ~low & ~high

    # Low wing: invert the leading asymptotics b ~ phi(x/s) e^{-s^2/8} s^3 / x^2 by fixed point.
    ax = jnp.where(low, -x, 1.0)
    lbeta_low = jnp.where(low, log_beta, -1.0)
    s_low = ax / jnp.sqrt(-2.0 * lbeta_low)
    for _ in range(3):
        big = -lbeta_low + 3.0 * jnp.log(s_low) - 2.0 * jnp.log(ax) - _LOG_SQRT_2PI - s_low**2 / 8
        s_low = jnp.where(big > 0, ax / jnp.sqrt(2.0 * jnp.where(big > 0, big, 1.0)), s_low)
    s_low = jnp.clip(s_low, 0.0, s_l)
    s_low = jnp.where(s_low > 0, s_low, 0.5 * s_l)
    s_mid = jnp.clip(s_c + (beta - b_c) / v_c, s_l, s_u)
    # Upper: e^{x/2} - b ~ (e^{x/2} + e^{-x/2}) N(-s/2) once s^2 >> |x|.
    gap = jnp.where(high, b_max - beta, 0.5)
    s_high = jnp.maximum(-2.0 * ndtri(gap / (b_max + jnp.exp(-0.5 * x))), s_u)
    s0 = jnp.where(low, s_low, jnp.where(mid, s_mid, s_high))
    lo = jnp.where(low, 0.0, jnp.where(mid, s_l, s_u))
    hi = jnp.where(low, s_l, jnp.where(mid, s_u, jnp.inf)).astype(x.dtype)

    target_low = 1.0 / jnp.sqrt(-2.0 * log_beta)
    log_gap_target = jnp.log(jnp.where(high, b_max - beta, 1.0)) - 0.5 * x
    target_high = jnp.sqrt(-2.0 * jnp.where(high, log_gap_target, -1.0))

    def objective(s):
        lb, lv, lg = _log_otm(x, s)
        g_low = 1.0 / jnp.sqrt(-2.0 * lb)
        dg_low = g_low**3 * jnp.exp(lv - lb)
        lg = jnp.where(high, lg, -1.0) - 0.5 * x
        g_high = jnp.sqrt(-2.0 * jnp.where(lg < 0, lg, -1.0))
        dg_high = jnp.exp(lv - lg - 0.5 * x) / g_high
        r = jnp.where(low, g_low - target_low,
                      jnp.where(mid, jnp.exp(lb) - beta, g_high - target_high))
        dr = jnp.where(low, dg_low, jnp.where(mid, jnp.exp(lv), dg_high))
        return r, dr

    def step(_, carry):
        s, lo, hi, _ = carry
        r, dr = objective(s)
        lo = jnp.where(r < 0, s, lo)
        hi = jnp.where(r > 0, s, hi)
        newton = s - r / dr
        inside = jnp.isfinite(newton) & (newton >= lo) & (newton <= hi)
        bisect = jnp.where(jnp.isinf(hi), 2.0 * s,
                           jnp.where(lo > 0, jnp.sqrt(lo * hi), 0.5 * hi))
        s_new = jnp.where(r == 0, s, jnp.where(inside, newton, bisect))
        return s_new, lo, hi, jnp.abs(s_new - s) / s_new

    s, _, _, last = jax.lax.fori_loop(0, _N_ITER, step, (s0, lo, hi, jnp.ones_like(s0)))
    return s, last


@jax.custom_jvp
def _vol(p: Array, f: Array, k: Array, t: Array, d: Array, phi: Array) -> tuple[Array, Array]:
    valid, log_beta, x = _normalised(p, f, k, t, d, phi)
    s, last = _solve(log_beta, x)
    vol = s / jnp.sqrt(jnp.where(valid, t, 1.0))
    return jnp.where(valid, vol, jnp.nan), jnp.where(valid, last, 0.0)


@_vol.defjvp
def _vol_jvp(primals, tangents):
    p, f, k, t, d, phi = primals
    dp, df, dk, dt, dd, _ = tangents
    vol, last = _vol(*primals)
    ok = jnp.isfinite(vol)
    v = jnp.where(ok, vol, 0.2)
    f, k, t, d = (jnp.where(ok, a, 1.0) for a in (f, k, t, d))
    # Implicit function theorem on price(F, K, T, D, sigma) = p with Black's closed-form partials;
    # at fixed sigma, d price / d T = vega sigma / (2 T).
    s = v * jnp.sqrt(t)
    x = jnp.log(f / k)
    d1 = x / s + 0.5 * s
    log_vega = jnp.log(d * k * jnp.sqrt(t)) + 0.5 * x - 0.5 * (x * x / (s * s) + 0.25 * s * s)
    vega = jnp.exp(log_vega - _LOG_SQRT_2PI)
    dprice = (d * phi * (ndtr(phi * d1) * df - ndtr(phi * (d1 - s)) * dk)
              + jnp.where(ok, p, 0.0) / d * dd)
    dvol = (dp - dprice) / vega - v / (2.0 * t) * dt
    return (vol, last), (jnp.where(ok, dvol, jnp.nan), jnp.zeros_like(last))


@jax.jit
def _implied_vol(prices, forwards, strikes, expiries, is_call, discounts) -> ImpliedVol:
    p, f, k, t, d, call, dtype = _as_arrays(prices, forwards, strikes, expiries, discounts,
                                            flag=is_call)
    phi = jnp.where(call, 1.0, -1.0).astype(dtype)
    vol, last = _vol(p, f, k, t, d, phi)
    # From the inputs, not from the vol: a solver failure must count as unconverged, not invalid.
    valid = _normalised(p, f, k, t, d, phi)[0]
    converged = (last <= _STEP_TOL[np.dtype(dtype)]) & jnp.isfinite(vol)
    return ImpliedVol(vol=vol, valid=valid, n_invalid=jnp.sum(~valid, dtype=jnp.int32),
                      n_unconverged=jnp.sum(valid & ~converged, dtype=jnp.int32))


def implied_vol(prices: ArrayLike, forwards: ArrayLike, strikes: ArrayLike, expiries: ArrayLike,
                is_call: ArrayLike, discounts: ArrayLike = 1.0) -> ImpliedVol:
    """Black implied volatility of European option quotes.

    Args:
      prices: option prices, discounted with `discounts` (pass discounts=1.0, the default, for
        undiscounted prices, i.e. prices in units paid at expiry), broadcastable.
      forwards: forward prices to expiry, in the units of `prices`.
      strikes: strikes, in the units of `forwards`.
      expiries: year fractions (ACT/365) to expiry.
      is_call: bool, True for a call and False for a put.
      discounts: discount factors to the payment date.

    Returns:
      An `ImpliedVol`: annualised vols of the broadcast shape in the inputs' floating dtype
      (float32 in, float32 out), NaN exactly at the quotes outside the no-arbitrage bounds or
      with a non-finite or non-positive forward, strike, expiry or discount; the `valid` mask and
      the counts. Over strikes 0.05x-20x the forward, expiries of one hour to five years and vols
      of 0.05-3 the float64 vols are exact to 1e-10 wherever the price itself (its float64
      rounding) determines them that well. Differentiable (the derivative is NaN at the invalid
      entries); jit- and vmap-compatible.

    Raises:
      ConfigError: `is_call` is not boolean, an argument is not a real number array, the
        arguments mix float32 and float64 arrays, or their shapes do not broadcast.
    """
    args = dict(prices=prices, forwards=forwards, strikes=strikes, expiries=expiries,
                discounts=discounts)
    float_dtypes = {}
    for name, a in args.items():
        dt = _dtype(a)
        if dt is None or dt.kind not in "fiu":
            raise ConfigError(name, a, "real numbers (a float array, a list or a number)")
        # Python numbers are weakly typed and follow the arrays; array dtypes must agree.
        if dt.kind == "f" and not isinstance(a, (float, int)):
            float_dtypes[name] = dt
    if len(set(float_dtypes.values())) > 1:
        raise ConfigError(", ".join(float_dtypes), {n: str(t) for n, t in float_dtypes.items()},
                          "one floating dtype for all arrays (cast them to float32 or float64)")
    if _dtype(is_call) != np.bool_:
        raise ConfigError("is_call", is_call, "booleans (True for a call, False for a put)")
    shapes = {n: np.shape(a) for n, a in (*args.items(), ("is_call", is_call))}
    try:
        np.broadcast_shapes(*shapes.values())
    except ValueError:
        raise ConfigError("shapes", shapes, "shapes that broadcast against each other") from None
    return _implied_vol(prices, forwards, strikes, expiries, is_call, discounts)


def _dtype(a) -> np.dtype | None:
    if hasattr(a, "dtype"):
        return np.dtype(a.dtype)
    try:
        return np.asarray(a).dtype
    except (TypeError, ValueError):
        return None
