"""Black–Scholes–Merton closed forms: vanilla, cash-or-nothing digital and forward.

Every function here takes keyword-only arguments that broadcast against each other and returns an array
of their broadcast shape in their floating dtype (float32 in, float32 out). Rates and dividend (carry)
yields are continuously compounded per year, expiries are in years and vols are annualised. All functions
are jit-compatible and differentiable; expiry 0 and zero vol give the discounted intrinsic value with
finite gradients.

The private helpers at the bottom (`_as_arrays`, `_black`, `_safe_sqrt`) are shared by the sibling
modules of `mcrisk.analytic`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from mcrisk.analytic.normal import ndtr

__all__ = ["european", "digital", "forward", "european_log", "digital_log"]


@jax.jit
def european(
    *,
    spots: ArrayLike,
    strikes: ArrayLike,
    expiries: ArrayLike,
    vols: ArrayLike,
    rates: ArrayLike,
    dividends: ArrayLike,
    is_call: ArrayLike,
) -> Array:
    """Black–Scholes–Merton price of a European call or put.

    Args:
      spots: spot prices, float, broadcastable.
      strikes: strikes, same units as `spots`.
      expiries: times to expiry in years, >= 0.
      vols: annualised lognormal vols, >= 0.
      rates: continuously compounded risk-free rates.
      dividends: continuously compounded dividend (carry) yields.
      is_call: bool, True for a call and False for a put.

    Returns:
      Prices, shape = broadcast of all arguments, dtype = their floating dtype, same units as `spots`.
      With `expiries * vols**2 == 0` the price is the discounted intrinsic value of the forward,
      which is `max(±(S - K), 0)` at expiry 0.
    """
    s, k, t, v, r, q, call, dtype = _as_arrays(
        spots, strikes, expiries, vols, rates, dividends, flags=(is_call,)
    )
    fwd = s * jnp.exp((r - q) * t)
    return _black(
        forwards=fwd, strikes=k, stddevs=v * _safe_sqrt(t), discounts=jnp.exp(-r * t), is_call=call
    )


@jax.jit
def digital(
    *,
    spots: ArrayLike,
    strikes: ArrayLike,
    expiries: ArrayLike,
    vols: ArrayLike,
    rates: ArrayLike,
    dividends: ArrayLike,
    is_call: ArrayLike,
    cash: ArrayLike = 1.0,
) -> Array:
    """Black–Scholes–Merton price of a cash-or-nothing digital.

    The call pays `cash` at expiry if S_T > K, the put pays `cash` if S_T < K.

    Args:
      spots, strikes, expiries, vols, rates, dividends: as in `european`.
      is_call: bool, True for a call and False for a put.
      cash: the amount paid, broadcastable.

    Returns:
      Prices, shape = broadcast of all arguments, dtype = their floating dtype, in units of `cash`.
      With `expiries * vols**2 == 0` the price is `cash * exp(-r T)` if the forward is strictly in
      the money and 0 otherwise.
    """
    s, k, t, v, r, q, c, call, dtype = _as_arrays(
        spots, strikes, expiries, vols, rates, dividends, cash, flags=(is_call,)
    )
    # log(F / K), the only use of the spots: a zero spot or strike gives -inf or +inf, which
    # both branches read as no exercise or a certain one.
    return _digital(log_moneyness=jnp.log(s * jnp.exp((r - q) * t) / k), stddevs=v * _safe_sqrt(t),
                    cash_discounted=c * jnp.exp(-r * t), is_call=call)


@jax.jit
def european_log(
    *,
    log_spots: ArrayLike,
    strikes: ArrayLike,
    expiries: ArrayLike,
    vols: ArrayLike,
    rates: ArrayLike,
    dividends: ArrayLike,
    is_call: ArrayLike,
) -> Array:
    """`european` of spots exp(log_spots), for a caller that holds log spots (a simulated
    state): log(F / K) is then a sum, where `european` takes a division and a logarithm per
    element (float32, 100 x 65,536 values: 7.6 against 16.8 ms). Arguments as
    `european`'s."""
    x, k, lk, t, v, r, q, call, dtype = _as_arrays(
        log_spots, strikes, _log_terms(strikes), expiries, vols, rates, dividends,
        flags=(is_call,)
    )
    carry = (r - q) * t
    return _black(
        forwards=jnp.exp(x + carry), strikes=k, stddevs=v * _safe_sqrt(t),
        discounts=jnp.exp(-r * t), is_call=call, log_moneyness=(x - lk) + carry
    )


@jax.jit
def digital_log(
    *,
    log_spots: ArrayLike,
    strikes: ArrayLike,
    expiries: ArrayLike,
    vols: ArrayLike,
    rates: ArrayLike,
    dividends: ArrayLike,
    is_call: ArrayLike,
    cash: ArrayLike = 1.0,
) -> Array:
    """`digital` of spots exp(log_spots), without a logarithm per element (see
    `european_log`). Arguments as `digital`'s."""
    x, k, lk, t, v, r, q, c, call, dtype = _as_arrays(
        log_spots, strikes, _log_terms(strikes), expiries, vols, rates, dividends, cash,
        flags=(is_call,)
    )
    return _digital(log_moneyness=(x - lk) + (r - q) * t, stddevs=v * _safe_sqrt(t),
                    cash_discounted=c * jnp.exp(-r * t), is_call=call)


@jax.jit
def forward(
    *,
    spots: ArrayLike,
    strikes: ArrayLike,
    expiries: ArrayLike,
    rates: ArrayLike,
    dividends: ArrayLike,
) -> Array:
    """Value of a long forward contract, S e^{-qT} - K e^{-rT}.

    Args:
      spots, strikes, expiries, rates, dividends: as in `european`.

    Returns:
      Values, shape = broadcast of all arguments, dtype = their floating dtype, same units as `spots`.
    """
    s, k, t, r, q, dtype = _as_arrays(spots, strikes, expiries, rates, dividends)
    return s * jnp.exp(-q * t) - k * jnp.exp(-r * t)


# --- helpers shared by the sibling modules ------------------------------------------------------------


def _as_arrays(*args: ArrayLike, flags: tuple[ArrayLike, ...] = ()) -> tuple:
    """Casts numbers to one floating dtype and broadcasts them and the bool flags to one shape.

    Python scalars are weakly typed, so they take the dtype of the array arguments; integers alone fall
    back to JAX's default float. Broadcasting up front keeps every later operation rank-matched, so
    `jax_numpy_rank_promotion="raise"` never fires inside.

    Returns:
      The numeric arrays in the order given, then the flags as bool arrays, then the common dtype.
    """
    arrays = [jnp.asarray(a) for a in args]
    floats = [a for a in arrays if jnp.issubdtype(a.dtype, jnp.floating)]
    dtype = jnp.result_type(*floats) if floats else jnp.result_type(float)
    arrays = [a.astype(dtype) for a in arrays]
    bools = [jnp.asarray(f, dtype=bool) for f in flags]
    return (*jnp.broadcast_arrays(*arrays, *bools), dtype)


def _safe_sqrt(x: Array) -> Array:
    """sqrt(max(x, 0)) whose gradient is 0 rather than inf/NaN at x <= 0."""
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def _log_terms(terms: ArrayLike) -> Array:
    """log of a contract term (a strike, a barrier) before it is broadcast against the
    spots: once per contract, not per element. A zero strike gives -inf, read by `_black`
    as a certain exercise."""
    k = jnp.asarray(terms)
    return jnp.log(k.astype(jnp.result_type(k, float)))


def _digital(*, log_moneyness: Array, stddevs: Array, cash_discounted: Array,
             is_call: Array) -> Array:
    """Cash-or-nothing digital from log(F / K), total standard deviation and the discounted
    cash; with `stddevs == 0` the cash if the forward is strictly in the money."""
    dtype = log_moneyness.dtype
    phi = jnp.where(is_call, 1.0, -1.0).astype(dtype)
    live = stddevs > 0
    std_safe = jnp.where(live, stddevs, 1.0)
    d2 = log_moneyness / std_safe - 0.5 * std_safe
    prob = jnp.where(live, ndtr(phi * d2), (phi * log_moneyness > 0).astype(dtype))
    return cash_discounted * prob


def _black(
    *, forwards: Array, strikes: Array, stddevs: Array, discounts: Array, is_call: Array,
    log_moneyness: Array | None = None
) -> Array:
    """Black (1976) price from forward, total standard deviation and discount factor
    (and log(forward / strike) where the caller has it cheaper than a division and a log).

    Where `stddevs == 0` this is the discounted intrinsic value of the forward. The log and the
    division see a safe stand-in there, so neither the value nor its gradient becomes NaN.
    """
    dtype = forwards.dtype
    phi = jnp.where(is_call, 1.0, -1.0).astype(dtype)
    live = stddevs > 0
    std = jnp.where(live, stddevs, 1.0)
    if log_moneyness is None:
        # A zero strike or forward would give log(0); the degenerate branch never needs it.
        log_moneyness = jnp.log(jnp.where(live, forwards / strikes, 1.0))
    else:
        log_moneyness = jnp.where(live, log_moneyness, 0.0)
    d1 = log_moneyness / std + 0.5 * std
    d2 = d1 - std
    priced = phi * (forwards * ndtr(phi * d1) - strikes * ndtr(phi * d2))
    intrinsic = jnp.maximum(phi * (forwards - strikes), 0.0)
    return discounts * jnp.where(live, priced, intrinsic)


def _gauss_legendre(n: int, dtype) -> tuple[Array, Array]:
    """Gauss–Legendre nodes and weights on [-1, 1], computed in float64 then cast to `dtype`.

    Newton's method on the three-term recurrence from Tricomi's initial guesses: a few milliseconds for
    n ~ 1000, where numpy's companion-matrix `leggauss` takes seconds.
    """
    k = np.arange(1, n + 1, dtype=np.float64)
    x = np.cos(np.pi * (k - 0.25) / (n + 0.5))
    for _ in range(100):
        p_prev, p = np.ones_like(x), x.copy()
        for j in range(2, n + 1):
            p_prev, p = p, ((2 * j - 1) * x * p - (j - 1) * p_prev) / j
        dp = n * (x * p - p_prev) / (x * x - 1.0)
        step = p / dp
        x = x - step
        if np.max(np.abs(step)) < 1e-15:
            break
    p_prev, p = np.ones_like(x), x.copy()
    for j in range(2, n + 1):
        p_prev, p = p, ((2 * j - 1) * x * p - (j - 1) * p_prev) / j
    dp = n * (x * p - p_prev) / (x * x - 1.0)
    w = 2.0 / ((1.0 - x * x) * dp * dp)
    return jnp.asarray(x, dtype=dtype), jnp.asarray(w, dtype=dtype)
