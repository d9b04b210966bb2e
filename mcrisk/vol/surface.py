"""An implied-volatility surface fitted to an option chain: quotes in, `Surface` out.

`fit_surface` turns one underlying's quotes of a `Chain` into fit inputs and hands them to
`mcrisk.vol.ssvi.fit_ssvi` (default: one SSVI surface, free of static arbitrage by
construction) or `mcrisk.vol.fit.fit_svi` (one raw SVI slice per expiry):

* market vol per quote: the mid of ``bid_iv``/``ask_iv`` where both are given, else
  ``mark_iv``, else the Black implied vol of the mid/mark price (of ``(bid + ask)/2`` where
  the file gives no mid); bid and ask vols come from ``bid_iv``/``ask_iv``, else from the bid
  and ask prices;
* log-moneyness ``k = ln(K/F)`` from each row's own forward;
* weight ``min(1 / spread, 10)`` with the bid/ask vol spread in vol points (a 1-point spread
  weighs 1, spreads under 0.1 point all weigh 10), and 1 where no spread is known;
* one smile per expiry date (`Chain.by_expiry`), all of its quotes at the smile's mean time to
  expiry. An expiry too thin to fit (fewer than 5 quotes for SVI, or no quote on one side of
  the money for SSVI) is left out, with a note.

The `Surface` answers for any strike and expiry. Forwards between quoted expiries are
log-linear in T (a constant carry rate per interval), extended with the first and last
interval's rate outside. Total variance follows the SSVI theta interpolation (linear in T,
flat ATM vol after the last expiry), or, for SVI slices, is linear in T at fixed k between
slices, ``w_1(k) T / T_1`` before the first and ``w_n(k) T / T_n`` after the last: that
interpolation does not remove calendar arbitrage between fitted slices; the arbitrage report
only shows it.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from mcrisk import errors as E
from mcrisk.errors import ConfigError
from mcrisk.vol import ssvi
from mcrisk.vol.chain import Chain
from mcrisk.vol.fit import fit_svi
from mcrisk.vol.implied import implied_vol
from mcrisk.vol.svi import ArbitrageReport, SviParams
from mcrisk.vol.svi import total_variance as svi_total_variance

__all__ = ["Surface", "Residuals", "fit_surface", "market_vols", "METHODS"]

METHODS = ("ssvi", "svi")
MAX_WEIGHT = 10.0
_SVI_MIN_QUOTES = 5


class Residuals(NamedTuple):
    """Fit residuals per quote used in the fit, each ``(n_quotes,)``, by expiry then strike.

    Attributes:
      instrument: str, the chain's instrument name.
      expiry: year fraction of the quote's smile.
      strike: strike in the quote currency.
      k: log-moneyness ``ln(K/F)`` with the row's forward.
      market_vol: the market vol the fit saw (see the module docstring).
      bid_vol, ask_vol: bid and ask vols, NaN where the quote has no such side.
      model_vol: the surface's vol at ``(k, expiry)``.
      residual: ``model_vol - market_vol``.
      inside: bool, the model vol lies within the bid/ask vols that are given (False where
        neither is given: see `quoted`).
      quoted: bool, at least one of bid and ask vol is given.
      weight: the weight of the quote in the fit.
    """

    instrument: np.ndarray
    expiry: np.ndarray
    strike: np.ndarray
    k: np.ndarray
    market_vol: np.ndarray
    bid_vol: np.ndarray
    ask_vol: np.ndarray
    model_vol: np.ndarray
    residual: np.ndarray
    inside: np.ndarray
    quoted: np.ndarray
    weight: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class Surface:
    """A fitted implied-vol surface of one underlying; ``n`` is the number of fitted expiries.

    Attributes:
      underlying: the underlying's name as in the chain.
      method: ``"ssvi"`` or ``"svi"``.
      expiries: ``(n,)`` year fractions of the fitted smiles, increasing.
      expiry_dates: ``(n,)`` datetime64[s] expiry moments (NaT where the file gave years).
      forwards: ``(n,)`` forward of each expiry (the median of its rows' forwards).
      params: the fitted `SsviParams` (ssvi) or `SviParams` of ``(n,)`` arrays (svi).
      slices: `SviParams` of ``(n,)`` arrays, the raw SVI slice at each fitted expiry (for
        SSVI, `mcrisk.vol.ssvi.slices`); feed them to `mcrisk.vol.svi.density`.
      arbitrage: butterfly and calendar report of the slices.
      rmse_vol_points: ``(n,)`` weighted RMSE of the fitted vols per expiry, in vol points.
      n_quotes: ``(n,)`` quotes fitted per expiry.
      residuals: per-quote `Residuals`.
      notes: how the quotes were turned into fit inputs (vol sources, expiries left out).
    """

    underlying: str
    method: str
    expiries: np.ndarray
    expiry_dates: np.ndarray
    forwards: np.ndarray
    params: ssvi.SsviParams | SviParams
    slices: SviParams
    arbitrage: ArbitrageReport
    rmse_vol_points: np.ndarray
    n_quotes: np.ndarray
    residuals: Residuals
    notes: tuple[str, ...] = ()

    def forward(self, expiries: ArrayLike) -> Array:
        """Forward at any expiries > 0: log-linear in T between fitted expiries, the end
        intervals' carry rate outside them (a constant forward with one expiry)."""
        return _forward(jnp.asarray(self.expiries), jnp.asarray(self.forwards),
                        jnp.asarray(expiries, self.expiries.dtype))

    def total_variance(self, k: ArrayLike, expiries: ArrayLike) -> Array:
        """Total implied variance ``w(k, T)`` at log-moneyness ``k = ln(K/F(T))``.

        Args:
          k: log-moneyness, broadcastable against `expiries`.
          expiries: year fractions > 0.

        Returns:
          ``w`` of the broadcast shape (year fraction x vol^2).

        Raises:
          ConfigError: a non-finite k, or an expiry that is not a positive number.
        """
        k, t = self._check(k, expiries, "k")
        if self.method == "ssvi":
            return ssvi.total_variance(self.params, k, t)
        return _svi_interp(self.slices, jnp.asarray(self.expiries), k, t)

    def vol(self, strikes: ArrayLike, expiries: ArrayLike) -> Array:
        """Black implied vol at strikes and expiries (broadcast together).

        Raises:
          ConfigError: a strike or expiry that is not a positive number.
        """
        strikes, t = self._check(strikes, expiries, "strikes")
        k = jnp.log(strikes / self.forward(t))
        return jnp.sqrt(self.total_variance(k, t) / t)

    def _check(self, x: ArrayLike, expiries: ArrayLike, name: str) -> tuple[Array, Array]:
        dtype = self.expiries.dtype
        xs, ts = np.asarray(x, dtype), np.asarray(expiries, dtype)
        ok = np.isfinite(xs) if name == "k" else np.isfinite(xs) & (xs > 0)
        if not np.all(ok):
            raise ConfigError(name, xs[~ok].ravel()[:5], "finite log-moneyness" if name == "k"
                              else "positive strikes")
        if not np.all(np.isfinite(ts) & (ts > 0)):
            raise ConfigError("expiries", ts[~(np.isfinite(ts) & (ts > 0))].ravel()[:5],
                              "positive year fractions")
        try:
            xs, ts = np.broadcast_arrays(xs, ts)
        except ValueError:
            raise ConfigError(name, xs.shape, f"a shape that broadcasts with the expiries' "
                              f"{ts.shape}") from None
        return jnp.asarray(xs), jnp.asarray(ts)


@jax.jit
def _forward(t: Array, f: Array, at: Array) -> Array:
    lf = jnp.log(f)
    if t.shape[0] == 1:
        return jnp.broadcast_to(f[0], at.shape)
    inside = jnp.interp(at, t, lf)
    first = lf[0] + (lf[1] - lf[0]) / (t[1] - t[0]) * (at - t[0])
    last = lf[-1] + (lf[-1] - lf[-2]) / (t[-1] - t[-2]) * (at - t[-1])
    return jnp.exp(jnp.where(at < t[0], first, jnp.where(at > t[-1], last, inside)))


@jax.jit
def _svi_interp(slices: SviParams, t: Array, k: Array, at: Array) -> Array:
    """Total variance of SVI slices, linear in T at fixed k (see the module docstring)."""
    w = svi_total_variance(slices, k[..., None])  # (..., n)
    n = t.shape[0]
    first, last = w[..., 0] * at / t[0], w[..., -1] * at / t[-1]
    if n == 1:
        return jnp.where(at <= t[0], first, last)
    j = jnp.clip(jnp.searchsorted(t, at, side="right"), 1, n - 1)
    lo = jnp.take_along_axis(w, (j - 1)[..., None], axis=-1)[..., 0]
    hi = jnp.take_along_axis(w, j[..., None], axis=-1)[..., 0]
    x = (at - t[j - 1]) / (t[j] - t[j - 1])
    return jnp.where(at < t[0], first, jnp.where(at > t[-1], last, lo + x * (hi - lo)))


def market_vols(chain: Chain) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Market, bid and ask vols per quote (NaN where there is none) and how many market vols
    came from each source (see the module docstring)."""
    bid_v, ask_v, mark = chain.bid_iv.copy(), chain.ask_iv.copy(), chain.mark_iv
    mid_price = np.where(np.isfinite(chain.mid), chain.mid, 0.5 * (chain.bid + chain.ask))
    need = {"bid": np.isnan(bid_v) & np.isfinite(chain.bid),
            "ask": np.isnan(ask_v) & np.isfinite(chain.ask),
            "mid": ~(np.isfinite(bid_v) & np.isfinite(ask_v)) & np.isnan(mark)
            & np.isfinite(mid_price)}
    from_price = {}
    if any(m.any() for m in need.values()):
        prices = np.stack([np.where(np.isfinite(chain.bid), chain.bid, 0.0),
                           np.where(np.isfinite(chain.ask), chain.ask, 0.0),
                           np.where(np.isfinite(mid_price), mid_price, 0.0)])
        # Zero prices are outside the bounds, so they come back NaN rather than a vol.
        iv = np.asarray(implied_vol(prices, chain.forward, chain.strike, chain.expiry,
                                    chain.is_call, chain.discount).vol, np.float64)
        from_price = dict(zip(("bid", "ask", "mid"), iv))
        bid_v = np.where(need["bid"], from_price["bid"], bid_v)
        ask_v = np.where(need["ask"], from_price["ask"], ask_v)
    both = np.isfinite(bid_v) & np.isfinite(ask_v) & np.isfinite(chain.bid_iv) \
        & np.isfinite(chain.ask_iv)
    vol = np.where(both, 0.5 * (bid_v + ask_v), mark)
    use_mark = ~both & np.isfinite(mark)
    use_price = ~both & ~use_mark & need["mid"]
    if from_price:
        vol = np.where(use_price, from_price["mid"], vol)
    counts = {"mid of bid_iv and ask_iv": int(both.sum()), "mark_iv": int(use_mark.sum()),
              "implied vol of the mid/mark price": int((use_price & np.isfinite(vol)).sum()),
              "none (not used)": int((~np.isfinite(vol)).sum())}
    return vol, bid_v, ask_v, counts


def fit_surface(chain: Chain, underlying: str, *, method: str = "ssvi", n_iter: int | None = None,
                n_grid: int = 2001, field: str = "quotes") -> Surface:
    """Fit an implied-vol surface to one underlying's quotes.

    Args:
      chain: the quotes, from `mcrisk.vol.quotes.read_chain`.
      underlying: which underlying of the chain (case-insensitive).
      method: ``"ssvi"`` (one arbitrage-free surface) or ``"svi"`` (a raw SVI slice per
        expiry, with a butterfly penalty; calendar arbitrage is only reported).
      n_iter: optimizer steps (default: the fitter's own, 500 for SSVI and 300 for SVI).
      n_grid: points per slice of the arbitrage report's grid.
      field: prefix of field paths in error messages.

    Returns:
      The `Surface`.

    Raises:
      ConfigError: an unknown underlying or method, or no expiry with enough usable quotes.
      NonFiniteError: the fit produced a non-finite number.
    """
    method = E.choice(f"{field}.method", method, METHODS)
    names = sorted(set(chain.underlying.tolist()))
    match = [u for u in names if u.upper() == str(underlying).upper()]
    if not match:
        raise ConfigError(f"{field}.underlyings", underlying, "one of " + ", ".join(names))
    chain = chain.take(chain.underlying == match[0])
    vol, bid_v, ask_v, sources = market_vols(chain)
    notes = [f"{match[0]}: market vols from " + ", ".join(f"{s} ({n})" for s, n in
                                                          sources.items() if n)]
    spread = 100.0 * (ask_v - bid_v)
    weight = np.where(np.isfinite(spread),
                      np.minimum(1.0 / np.maximum(spread, 1.0 / MAX_WEIGHT), MAX_WEIGHT), 1.0)
    rows, expiries, dates, forwards, counts = [], [], [], [], []
    for _, t, smile in chain.by_expiry():
        idx = _in_order(chain.row, smile.row)
        idx = idx[np.isfinite(vol[idx])]
        k = np.log(chain.strike[idx] / chain.forward[idx])
        label = (str(smile.expiry_date[0])[:10] if not np.isnat(smile.expiry_date[0])
                 else f"T={t:.6g}")
        thin = (f"{idx.size} usable quotes, fewer than the {_SVI_MIN_QUOTES} an SVI slice needs"
                if method == "svi" and idx.size < _SVI_MIN_QUOTES else
                "no quote on one side of the money (SSVI needs the ATM variance)"
                if idx.size == 0 or not (k.min() <= 0.0 <= k.max()) else None)
        if thin:
            notes.append(f"{match[0]} {label}: left out of the fit, {thin}")
            continue
        rows.append(idx)
        expiries.append(t)
        dates.append(smile.expiry_date[0])
        forwards.append(float(np.median(chain.forward[idx])))
        counts.append(idx.size)
    if not rows:
        raise ConfigError(f"{field}.path", chain.source, f"quotes of {match[0]} on both sides "
                          "of the money at some expiry (" + "; ".join(notes[1:]) + ")")
    dtype = jax.dtypes.canonicalize_dtype(np.float64)
    idx = np.concatenate(rows)
    t_q = np.repeat(np.asarray(expiries), counts).astype(dtype)
    k_q = np.log(chain.strike[idx] / chain.forward[idx]).astype(dtype)
    v_q, w_q = vol[idx].astype(dtype), weight[idx].astype(dtype)
    opts = {} if n_iter is None else {"n_iter": n_iter}
    if method == "ssvi":
        fit = ssvi.fit_ssvi(k_q, t_q, v_q, w_q, n_grid=n_grid, **opts)
        params, slices = fit.params, ssvi.slices(fit.params, fit.params.expiries)
    else:
        fit = fit_svi(k_q, t_q, v_q, w_q, n_grid=n_grid, **opts)
        params = slices = fit.params
    # Each quote against its own slice: the fitted slices are exactly what the fit minimised.
    j = np.repeat(np.arange(len(rows)), counts)
    per_quote = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[j], slices)
    model = np.sqrt(np.asarray(svi_total_variance(per_quote, k_q)) / t_q)
    E.check_finite(model, f"fit_surface.{match[0]}.model_vol", "check the quotes")
    b, a = bid_v[idx], ask_v[idx]
    inside = ((np.isnan(b) | (model >= b)) & (np.isnan(a) | (model <= a))
              & (np.isfinite(b) | np.isfinite(a)))
    res = Residuals(chain.instrument[idx], t_q, chain.strike[idx], k_q, v_q, b, a, model,
                    model - v_q, inside, np.isfinite(b) | np.isfinite(a), w_q)
    return Surface(match[0], method, np.asarray(expiries, dtype),
                   np.asarray(dates, "datetime64[s]"), np.asarray(forwards, dtype), params,
                   slices, fit.arbitrage, np.asarray(fit.rmse_vol_points), np.asarray(counts),
                   res, tuple(notes))


def _in_order(rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Positions in `rows` of the row numbers `wanted`, in the order of `wanted`."""
    pos = {int(r): i for i, r in enumerate(rows)}
    return np.asarray([pos[int(r)] for r in wanted], np.int64)


def curve(surface: Surface, j: int, n: int = 81) -> tuple[np.ndarray, np.ndarray]:
    """Log-moneyness grid over the quoted range of expiry `j` (widened by 10% each side) and
    the fitted vols on it, for plots."""
    r = surface.residuals
    ks = r.k[r.expiry == surface.expiries[j]]
    span = max(float(ks.max() - ks.min()), 1e-3)
    k = np.linspace(ks.min() - 0.1 * span, ks.max() + 0.1 * span, n).astype(surface.expiries.dtype)
    p = jax.tree_util.tree_map(lambda a: a[j], surface.slices)
    return k, np.sqrt(np.asarray(svi_total_variance(p, k)) / surface.expiries[j])
