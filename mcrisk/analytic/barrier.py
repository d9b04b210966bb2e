"""Continuously monitored single-barrier options (Reiner–Rubinstein 1991, in Haug's notation)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from mcrisk.analytic.bs import _as_arrays, _log_terms, _safe_sqrt
from mcrisk.analytic.normal import ndtr

__all__ = ["barrier", "barrier_log"]


@jax.jit
def barrier(
    *,
    spots: ArrayLike,
    strikes: ArrayLike,
    barriers: ArrayLike,
    expiries: ArrayLike,
    vols: ArrayLike,
    rates: ArrayLike,
    dividends: ArrayLike,
    is_call: ArrayLike,
    is_up: ArrayLike,
    is_in: ArrayLike,
    rebate: ArrayLike | None = None,
) -> Array:
    """Price of a European knock-in or knock-out call or put with a continuously monitored barrier.

    The formulas are Haug's A..F terms (The Complete Guide to Option Pricing Formulas, 2nd ed., 4.17.1),
    the same as QuantLib's AnalyticBarrierEngine; all eight call/put x up/down x in/out cases, with the
    strike on either side of the barrier, are evaluated together and selected elementwise.

    Rebate convention (QuantLib's): a knock-in that never knocks in pays `rebate` at expiry (term E);
    a knock-out pays `rebate` at the moment the barrier is hit (term F, discounted from the hitting
    time, not from expiry). Hence in + out = vanilla + E + F, not vanilla + rebate * e^{-rT}.

    The barrier must be on the far side of spot (spot > barrier for down, spot < barrier for up), i.e.
    not yet hit; this is not checked. Vols must be positive. At expiry 0 a knock-out is worth its
    intrinsic value and a knock-in is worth its rebate. The knock-out rebate term needs
    mu^2 + 2 r / vol^2 >= 0 with mu = (r - q) / vol^2 - 1/2; below that (very negative rates) it is
    clipped to 0, where QuantLib would return NaN.

    Args:
      spots: spot prices, float, broadcastable.
      strikes: strikes, same units as `spots`.
      barriers: barrier levels, same units as `spots`.
      expiries: times to expiry in years, >= 0.
      vols: annualised lognormal vols, > 0.
      rates: continuously compounded risk-free rates.
      dividends: continuously compounded dividend (carry) yields.
      is_call: bool, True for a call and False for a put.
      is_up: bool, True for an up barrier (above spot) and False for a down barrier (below spot).
      is_in: bool, True for knock-in and False for knock-out.
      rebate: cash rebate, same units as `spots`, >= 0; None (no rebate) skips the rebate
        terms (4 of the formula's 12 normal CDFs), which XLA cannot drop for a rebate of 0.0
        (0 x inf is not 0).

    Returns:
      Prices, shape = broadcast of all arguments, dtype = their floating dtype, same units as `spots`.
    """
    s, k, h, *_ = _as_arrays(spots, strikes, barriers, expiries, vols, rates, dividends)
    return _barrier(spots=s, log_hs=jnp.log(h / s), log_sk=jnp.log(s / k), strikes=k,
                    barriers=h, expiries=expiries, vols=vols, rates=rates,
                    dividends=dividends, is_call=is_call, is_up=is_up, is_in=is_in,
                    rebate=rebate)[0]


@jax.jit
def barrier_log(*, log_spots, strikes, barriers, expiries, vols, rates, dividends, is_call,
                is_up, is_in, rebate=None) -> tuple[Array, Array]:
    """(`barrier` of spots exp(log_spots), the vanilla European of the same terms), for a
    caller that holds log spots (a simulated state): log(H / S) and log(S / K) are then
    differences, where `barrier` takes two divisions and two logarithms per element; the
    vanilla is Haug's term A, which the formula evaluates anyway. Arguments as `barrier`'s."""
    x = jnp.asarray(log_spots)
    return _barrier(spots=jnp.exp(x), log_hs=_log_terms(barriers) - x,
                    log_sk=x - _log_terms(strikes), strikes=strikes, barriers=barriers,
                    expiries=expiries, vols=vols, rates=rates, dividends=dividends,
                    is_call=is_call, is_up=is_up, is_in=is_in, rebate=rebate)


def _barrier(*, spots, log_hs, log_sk, strikes, barriers, expiries, vols, rates, dividends,
             is_call, is_up, is_in, rebate=None) -> tuple[Array, Array]:
    """(barrier price, vanilla price) from spots and their log-ratios to the barrier
    (log H/S) and to the strike (log S/K), each from the cheaper of spots and log spots."""
    no_rebate = rebate is None
    s, log_hs, log_sk, k, h, t, v, r, q, cash, call, up, knock_in, dtype = _as_arrays(
        spots, log_hs, log_sk, strikes, barriers, expiries, vols, rates, dividends,
        0.0 if no_rebate else rebate, flags=(is_call, is_up, is_in)
    )
    phi = jnp.where(call, 1.0, -1.0).astype(dtype)
    eta = jnp.where(up, -1.0, 1.0).astype(dtype)

    live = t > 0
    t_safe = jnp.where(live, t, 1.0)
    std = v * jnp.sqrt(t_safe)
    df_r = jnp.exp(-r * t_safe)
    df_q = jnp.exp(-q * t_safe)
    mu = (r - q) / (v * v) - 0.5
    mu_sigma = (1.0 + mu) * std
    pow_hs0 = jnp.exp(2.0 * mu * log_hs)  # (H/S)^{2 mu}
    pow_hs1 = jnp.exp((2.0 * mu + 2.0) * log_hs)  # (H/S)^{2 mu + 2}

    def terms_ab(x):
        return phi * (s * df_q * ndtr(phi * x) - k * df_r * ndtr(phi * (x - std)))

    def terms_cd(y):
        return phi * (s * df_q * pow_hs1 * ndtr(eta * y) - k * df_r * pow_hs0 * ndtr(eta * (y - std)))

    x1 = log_sk / std + mu_sigma
    x2 = -log_hs / std + mu_sigma
    y1 = (2.0 * log_hs + log_sk) / std + mu_sigma  # ln(H^2 / (S K))
    y2 = log_hs / std + mu_sigma
    a = terms_ab(x1)  # the vanilla price
    b = terms_ab(x2)
    c = terms_cd(y1)
    d = terms_cd(y2)
    if no_rebate:
        rebate_in = rebate_out = jnp.zeros((), dtype)
    else:
        rebate_in = cash * df_r * (ndtr(eta * (x2 - std)) - pow_hs0 * ndtr(eta * (y2 - std)))
        lam = _safe_sqrt(mu * mu + 2.0 * r / (v * v))
        z = log_hs / std + lam * std
        rebate_out = cash * (
            jnp.exp((mu + lam) * log_hs) * ndtr(eta * z)
            + jnp.exp((mu - lam) * log_hs) * ndtr(eta * (z - 2.0 * lam * std))
        )

    # Knock-in value without rebate. "Same side": call-down or put-up, where the payoff region and the
    # region beyond the barrier point the same way. "Inside": the strike lies in the live region
    # (K >= H for down, K < H for up; QuantLib puts K == H with the down-and-in/K >= H formulas).
    same_side = call != up
    inside = jnp.where(up, k < h, k >= h)
    in_core = jnp.where(
        same_side,
        jnp.where(inside, c, a - b + d),
        jnp.where(inside, b - c + d, a),
    )
    priced = jnp.where(knock_in, in_core + rebate_in, a - in_core + rebate_out)

    intrinsic = jnp.maximum(phi * (s - k), 0.0)
    expired = jnp.where(knock_in, cash, intrinsic)
    vanilla = jnp.where(live, a, intrinsic)
    return jnp.where(live, priced, expired), vanilla
