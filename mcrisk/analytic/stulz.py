"""Options on the maximum or minimum of two lognormal assets (Stulz 1982); the bivariate normal CDF."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.special import ndtr
from jax.typing import ArrayLike

from mcrisk.analytic.bs import _as_arrays, _black, _gauss_legendre, _safe_sqrt
from mcrisk.analytic.margrabe import exchange

__all__ = ["best_worst_two", "bivariate_ndtr"]


@jax.jit
def best_worst_two(
    *,
    spots1: ArrayLike,
    spots2: ArrayLike,
    strikes: ArrayLike,
    vols1: ArrayLike,
    vols2: ArrayLike,
    corr: ArrayLike,
    expiries: ArrayLike,
    rates: ArrayLike,
    dividends1: ArrayLike,
    dividends2: ArrayLike,
    is_call: ArrayLike,
    is_max: ArrayLike,
) -> Array:
    """Price of a European call or put on max(S1_T, S2_T) or min(S1_T, S2_T).

    The call on the minimum is Stulz's formula in forwards F_i = S_i e^{(r - q_i) T}, total stdevs
    s_i = vol_i sqrt T and s^2 = s_1^2 + s_2^2 - 2 corr s_1 s_2:

        C_min = e^{-rT} [F1 M(d11, -d; r1) + F2 M(d12, d - s; r2) - K M(d11 - s1, d12 - s2; corr)],
        d1i = (ln(F_i/K) + s_i^2/2) / s_i,  d = (ln(F1/F2) + s^2/2) / s,
        r1 = (corr s2 - s1) / s,  r2 = (corr s1 - s2) / s,

    with M the bivariate normal CDF. The call on the maximum is C_max = C1 + C2 - C_min (Black calls on
    each asset), and puts follow from max(K - X, 0) = K - X + max(X - K, 0):
    P(K) = K e^{-rT} - C(0) + C(K), where C_min(0) = S1 e^{-q1 T} - exchange and
    C_max(0) = S2 e^{-q2 T} + exchange (Margrabe). This is QuantLib's StulzEngine.

    Args:
      spots1: spot prices of asset 1, float, broadcastable.
      spots2: spot prices of asset 2, same currency.
      strikes: strikes, same currency.
      vols1: annualised lognormal vols of asset 1, > 0.
      vols2: annualised lognormal vols of asset 2, > 0.
      corr: correlations of the two log-returns, in (-1, 1).
      expiries: times to expiry in years, >= 0 (0 gives the intrinsic value).
      rates: continuously compounded risk-free rates.
      dividends1: continuously compounded dividend (carry) yields of asset 1.
      dividends2: continuously compounded dividend (carry) yields of asset 2.
      is_call: bool, True for a call and False for a put.
      is_max: bool, True for an option on the maximum and False for one on the minimum.

    Returns:
      Prices, shape = broadcast of all arguments, dtype = their floating dtype, in the spots' currency.
    """
    s1, s2, k, v1, v2, rho, t, r, q1, q2, call, use_max, dtype = _as_arrays(
        spots1,
        spots2,
        strikes,
        vols1,
        vols2,
        corr,
        expiries,
        rates,
        dividends1,
        dividends2,
        flags=(is_call, is_max),
    )
    # Expiry 0 is priced as intrinsic; the formulas see T = 1 there, keeping values and gradients finite.
    live = t > 0
    t = jnp.where(live, t, 1.0)
    df = jnp.exp(-r * t)
    f1 = s1 * jnp.exp((r - q1) * t)
    f2 = s2 * jnp.exp((r - q2) * t)
    sd1 = v1 * jnp.sqrt(t)
    sd2 = v2 * jnp.sqrt(t)
    sd = _safe_sqrt(sd1 * sd1 + sd2 * sd2 - 2.0 * rho * sd1 * sd2)
    sd_safe = jnp.where(sd > 0, sd, 1.0)
    rho1 = jnp.clip((rho * sd2 - sd1) / sd_safe, -1.0, 1.0)
    rho2 = jnp.clip((rho * sd1 - sd2) / sd_safe, -1.0, 1.0)
    d = (jnp.log(f1 / f2) + 0.5 * sd * sd) / sd_safe
    d11 = (jnp.log(f1 / k) + 0.5 * sd1 * sd1) / sd1
    d12 = (jnp.log(f2 / k) + 0.5 * sd2 * sd2) / sd2
    # The three bivariate probabilities in one stacked call: one kernel instead of three to compile.
    m1, m2, m3 = bivariate_ndtr(
        jnp.stack([d11, d12, d11 - sd1]),
        jnp.stack([-d, d - sd, d12 - sd2]),
        jnp.stack([rho1, rho2, rho]),
    )
    call_min = df * (f1 * m1 + f2 * m2 - k * m3)
    calls = jnp.ones(s1.shape, dtype=bool)
    call1 = _black(forwards=f1, strikes=k, stddevs=sd1, discounts=df, is_call=calls)
    call2 = _black(forwards=f2, strikes=k, stddevs=sd2, discounts=df, is_call=calls)
    call_max = call1 + call2 - call_min

    swap = exchange(
        spots1=s1, spots2=s2, vols1=v1, vols2=v2, corr=rho, expiries=t, dividends1=q1, dividends2=q2
    )
    min_claim = s1 * jnp.exp(-q1 * t) - swap  # value of min(S1_T, S2_T) paid at T
    max_claim = s2 * jnp.exp(-q2 * t) + swap
    call_value = jnp.where(use_max, call_max, call_min)
    claim = jnp.where(use_max, max_claim, min_claim)
    price = jnp.where(call, call_value, k * df - claim + call_value)
    underlying = jnp.where(use_max, jnp.maximum(s1, s2), jnp.minimum(s1, s2))
    intrinsic = jnp.maximum(jnp.where(call, underlying - k, k - underlying), 0.0)
    return jnp.where(live, price, intrinsic)


@jax.jit
def bivariate_ndtr(x: ArrayLike, y: ArrayLike, rho: ArrayLike) -> Array:
    """Bivariate standard normal CDF P(X <= x, Y <= y) with corr(X, Y) = rho (Genz 2004).

    Drezner–Wesolowsky's integral in the arcsine of the correlation for |rho| < 0.925, and Genz's
    expansion around |rho| = 1 above it, each with the 20-point Gauss–Legendre rule of Genz's BVND
    (double-precision accurate). Both branches are evaluated on safe arguments and selected, so the
    function is jit-able, vectorised over broadcast arguments and differentiable.

    Args:
      x: upper limits of the first variable, float, broadcastable.
      y: upper limits of the second variable.
      rho: correlations in [-1, 1].

    Returns:
      Probabilities, shape = broadcast of the arguments, dtype = their floating dtype.
    """
    x, y, rho, dtype = _as_arrays(x, y, rho)
    # Genz works with upper-tail limits: P(X > h, Y > k) with h = -x, k = -y.
    h = -x
    k = -y
    nodes, weights = _gauss_legendre(20, dtype)
    nodes = jnp.reshape(nodes, (1,) * h.ndim + (20,))
    weights = jnp.reshape(weights, (1,) * h.ndim + (20,))
    low_corr = _bvnd_low_corr(h, k, rho, nodes, weights)
    high_corr = _bvnd_high_corr(h, k, rho, nodes, weights)
    return jnp.where(jnp.abs(rho) < 0.925, low_corr, high_corr)


def _bvnd_low_corr(h: Array, k: Array, rho: Array, nodes: Array, weights: Array) -> Array:
    """P(X > h, Y > k) for |rho| < 0.925: the density's rho-derivative integrated in arcsin(rho)."""
    rho_safe = jnp.clip(rho, -0.925, 0.925)
    hk = (h * k)[..., None]
    hs = (0.5 * (h * h + k * k))[..., None]
    asr = jnp.arcsin(rho_safe)[..., None]
    sn = jnp.sin(0.5 * asr * (nodes + 1.0))
    integral = jnp.sum(weights * jnp.exp((sn * hk - hs) / (1.0 - sn * sn)), axis=-1)
    return integral * jnp.arcsin(rho_safe) / (4.0 * math.pi) + ndtr(-h) * ndtr(-k)


def _bvnd_high_corr(h: Array, k: Array, rho: Array, nodes: Array, weights: Array) -> Array:
    """P(X > h, Y > k) for |rho| >= 0.925 by Genz's expansion in sqrt(1 - rho^2)."""
    negative = rho < 0
    k = jnp.where(negative, -k, k)
    hk = h * k
    rho_abs = jnp.clip(jnp.abs(rho), 0.925, 1.0)
    a2 = (1.0 - rho_abs) * (1.0 + rho_abs)
    degenerate = a2 <= 0  # |rho| == 1: the pair is perfectly (anti)correlated
    a2_safe = jnp.where(degenerate, 1.0, a2)
    a = jnp.sqrt(a2_safe)
    bs = (h - k) ** 2
    b = _safe_sqrt(bs)
    c = (4.0 - hk) / 8.0
    d = (12.0 - hk) / 16.0
    series = (
        a
        * jnp.exp(-0.5 * (bs / a2_safe + hk))
        * (1.0 - c * (bs - a2_safe) * (1.0 - d * bs / 5.0) / 3.0 + c * d * a2_safe * a2_safe / 5.0)
    )
    # exp(-hk/2) would overflow where hk << 0; the product it multiplies is negligible there.
    far = hk > -160.0
    hk_safe = jnp.where(far, hk, 0.0)
    correction = (
        jnp.exp(-0.5 * hk_safe)
        * math.sqrt(2.0 * math.pi)
        * ndtr(-b / a)
        * b
        * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0)
    )
    series = series - jnp.where(far, correction, 0.0)

    half_a = (0.5 * a)[..., None]
    bs_ = bs[..., None]
    hk_ = hk[..., None]
    c_ = c[..., None]
    d_ = d[..., None]
    xs = (half_a * (nodes + 1.0)) ** 2
    rs = jnp.sqrt(1.0 - xs)
    integrand = jnp.exp(-bs_ / (2.0 * xs) - hk_ / (1.0 + rs)) / rs - jnp.exp(-0.5 * (bs_ / xs + hk_)) * (
        1.0 + c_ * xs * (1.0 + d_ * xs)
    )
    series = series + jnp.sum(half_a * weights * integrand, axis=-1)
    bvn = jnp.where(degenerate, 0.0, -series / (2.0 * math.pi))

    # rho < 0 was computed as P(X > h) - P(X > h, -Y > -k; -rho); the band P(h < X < k) is left over.
    tail_pos = bvn + ndtr(-jnp.maximum(h, k))
    band = jnp.where(h < 0, ndtr(k) - ndtr(h), ndtr(-h) - ndtr(-k))  # the more accurate tail difference
    tail_neg = jnp.where(k > h, band, 0.0) - bvn
    return jnp.where(negative, tail_neg, tail_pos)
