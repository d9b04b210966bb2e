"""Raw SVI smiles: total variance, Durrleman's butterfly function, implied density and the
static-arbitrage report.

A raw SVI slice (Gatheral 2004) gives the total implied variance ``w = sigma_imp^2 T`` at
log-moneyness ``k = ln(K/F)`` as

    w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)),

admissible when ``b >= 0``, ``|rho| < 1``, ``sigma > 0`` and ``a + b sigma sqrt(1 - rho^2) >= 0``
(the minimum of ``w`` is then non-negative). Every function here is pure, jittable and takes
`SviParams` whose fields broadcast against ``k``; one slice per expiry is a ``(n_slices,)``
array per field. An SSVI surface at any expiry is also a raw SVI slice
(`mcrisk.vol.ssvi.slices`), so the checks below serve both.

Static no-arbitrage (Gatheral & Jacquier 2014, "Arbitrage-free SVI volatility surfaces",
Quantitative Finance 14(1)):

* butterfly: Durrleman's ``g(k) = (1 - k w'/(2w))^2 - (w'^2/4)(1/w + 1/4) + w''/2 >= 0``;
  the density of ``ln(S_T/F)`` is ``p(k) = g(k) / sqrt(2 pi w) exp(-d2^2/2)``, negative exactly
  where ``g`` is;
* calendar: ``w(k, T)`` non-decreasing in ``T`` at every ``k``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from mcrisk.errors import ConfigError, check_finite, integer, number

__all__ = ["SviParams", "ArbitrageReport", "total_variance", "durrleman_g", "density",
           "arbitrage_report", "report_grid"]


class SviParams(NamedTuple):
    """Raw SVI parameters, one entry per slice (any broadcastable shape, usually ``(n_slices,)``).

    Attributes:
      a: vertical level of total variance (year fraction x vol^2).
      b: wing slope, >= 0.
      rho: skew, in (-1, 1).
      m: horizontal shift in log-moneyness.
      sigma: ATM curvature, > 0, in log-moneyness units.
    """

    a: Array
    b: Array
    rho: Array
    m: Array
    sigma: Array


class ArbitrageReport(NamedTuple):
    """Static-arbitrage diagnostics of a set of slices on a log-moneyness grid.

    Shapes: ``n`` slices (sorted by expiry) and ``n - 1`` consecutive pairs. A check passes when
    its minimum is ``>= -tol``; where it fails, ``*_from``/``*_to`` bound the grid points that
    fail it (where it passes they both equal the argmin).

    Attributes:
      expiries: ``(n,)`` year fractions.
      g_min: ``(n,)`` minimum of Durrleman's g per slice (negative: butterfly arbitrage).
      g_argmin: ``(n,)`` log-moneyness of that minimum.
      g_from, g_to: ``(n,)`` first and last grid log-moneyness where ``g < -tol``.
      butterfly_ok: ``(n,)`` bool, ``g_min >= -tol``.
      calendar_min: ``(n - 1,)`` minimum over the grid of ``w(k, T[i + 1]) - w(k, T[i])``.
      calendar_argmin: ``(n - 1,)`` log-moneyness of that minimum.
      calendar_from, calendar_to: ``(n - 1,)`` first and last grid log-moneyness where the
        difference is below ``-tol``.
      calendar_ok: ``(n - 1,)`` bool, ``calendar_min >= -tol``.
      tol: the tolerance used.
    """

    expiries: Array
    g_min: Array
    g_argmin: Array
    g_from: Array
    g_to: Array
    butterfly_ok: Array
    calendar_min: Array
    calendar_argmin: Array
    calendar_from: Array
    calendar_to: Array
    calendar_ok: Array
    tol: float

    @property
    def ok(self) -> bool:
        """True when no slice has butterfly and no pair has calendar arbitrage."""
        return bool(np.all(self.butterfly_ok)) and bool(np.all(self.calendar_ok))

    def lines(self) -> list[str]:
        """One human-readable line per slice and per consecutive pair, for printing."""
        out = []
        for i, t in enumerate(np.asarray(self.expiries)):
            head = (f"T={t:.4f}: butterfly min g={float(self.g_min[i]):+.3e} "
                    f"at k={float(self.g_argmin[i]):+.4f}")
            out.append(head + ("" if self.butterfly_ok[i] else
                               f"  ARBITRAGE for k in [{float(self.g_from[i]):+.4f}, "
                               f"{float(self.g_to[i]):+.4f}]"))
        for i in range(len(self.calendar_min)):
            t0, t1 = float(self.expiries[i]), float(self.expiries[i + 1])
            head = (f"T={t0:.4f}->{t1:.4f}: calendar min dw={float(self.calendar_min[i]):+.3e} "
                    f"at k={float(self.calendar_argmin[i]):+.4f}")
            out.append(head + ("" if self.calendar_ok[i] else
                               f"  ARBITRAGE for k in [{float(self.calendar_from[i]):+.4f}, "
                               f"{float(self.calendar_to[i]):+.4f}]"))
        return out


def _derivatives(p: SviParams, k: Array) -> tuple[Array, Array, Array]:
    """w, dw/dk and d2w/dk2 of raw SVI (closed form, so the grid checks need no autodiff)."""
    x = k - p.m
    r = jnp.sqrt(x * x + p.sigma * p.sigma)
    w = p.a + p.b * (p.rho * x + r)
    w1 = p.b * (p.rho + x / r)
    w2 = p.b * p.sigma * p.sigma / (r * r * r)
    return w, w1, w2


@jax.jit
def total_variance(params: SviParams, k: ArrayLike) -> Array:
    """Total implied variance ``w(k)`` (year fraction x vol^2) at log-moneyness ``k = ln(K/F)``.

    Args:
      params: raw SVI parameters, broadcastable against ``k``.
      k: log-moneyness, any shape.

    Returns:
      ``w`` of the broadcast shape, in the dtype of the inputs.
    """
    return _derivatives(params, jnp.asarray(k))[0]


def _g(w: Array, w1: Array, w2: Array, k: Array) -> Array:
    return (1.0 - k * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2


@jax.jit
def durrleman_g(params: SviParams, k: ArrayLike) -> Array:
    """Durrleman's butterfly function ``g(k)``; ``g < 0`` somewhere means butterfly arbitrage.

    Args:
      params: raw SVI parameters, broadcastable against ``k``.
      k: log-moneyness, any shape.

    Returns:
      ``g`` of the broadcast shape (dimensionless).
    """
    k = jnp.asarray(k)
    return _g(*_derivatives(params, k), k)


@jax.jit
def density(params: SviParams, k: ArrayLike) -> Array:
    """Risk-neutral density of ``ln(S_T / F)`` at ``k`` implied by the smile.

    ``p(k) = g(k) / sqrt(2 pi w) exp(-d2^2 / 2)`` with ``d2 = -k / sqrt(w) - sqrt(w) / 2``
    (Gatheral & Jacquier 2014, eq. 2.2). The density per unit strike is ``p(k) / K`` with
    ``K = F e^k``; it equals the undiscounted ``d^2 C / d K^2`` (Breeden–Litzenberger).
    ``p`` integrates to 1 over ``k`` and ``int e^k p(k) dk = 1`` (the forward) when the smile
    is arbitrage-free.

    Args:
      params: raw SVI parameters, broadcastable against ``k``.
      k: log-moneyness, any shape.

    Returns:
      ``p(k)`` of the broadcast shape, per unit of log-moneyness.
    """
    k = jnp.asarray(k)
    w, w1, w2 = _derivatives(params, k)
    sw = jnp.sqrt(w)
    d2 = -k / sw - 0.5 * sw
    return _g(w, w1, w2, k) * jnp.exp(-0.5 * d2 * d2) / (math.sqrt(2.0 * math.pi) * sw)


def report_grid(expiries: ArrayLike, half_widths: ArrayLike | None = None,
                n_grid: int = 2001) -> Array:
    """The log-moneyness grid of the arbitrage checks: ``(n_slices, n_grid)``.

    Args:
      expiries: ``(n,)`` year fractions.
      half_widths: ``(n,)`` grid half-widths; default ``1.5 sqrt(T)`` per slice.
      n_grid: points per slice.
    """
    t = jnp.asarray(expiries)
    h = 1.5 * jnp.sqrt(t) if half_widths is None else jnp.asarray(half_widths, t.dtype)
    return h[:, None] * jnp.linspace(-1.0, 1.0, n_grid, dtype=t.dtype)


def _span(mask: Array, k: Array, fallback: Array) -> tuple[Array, Array]:
    """First and last ``k`` along the last axis where ``mask`` holds, else ``fallback``."""
    n = k.shape[-1]
    idx = jnp.arange(n)
    lo = jnp.min(jnp.where(mask, idx, n), axis=-1)
    hi = jnp.max(jnp.where(mask, idx, -1), axis=-1)
    any_ = jnp.any(mask, axis=-1)
    take = lambda i: jnp.take_along_axis(k, jnp.clip(i, 0, n - 1)[..., None], axis=-1)[..., 0]
    return jnp.where(any_, take(lo), fallback), jnp.where(any_, take(hi), fallback)


@partial(jax.jit, static_argnames=("tol",))
def _report_kernel(params: SviParams, expiries: Array, grid: Array, tol: float):
    p = jax.tree_util.tree_map(lambda x: x[:, None], params)
    g = durrleman_g(p, grid)
    i = jnp.argmin(g, axis=-1)
    g_min = jnp.min(g, axis=-1)
    g_arg = jnp.take_along_axis(grid, i[:, None], axis=-1)[:, 0]
    g_from, g_to = _span(g < -tol, grid, g_arg)
    # Each pair is compared on the later slice's grid, which is the wider one by default.
    kc = grid[1:]
    lo = jax.tree_util.tree_map(lambda x: x[:-1, None], params)
    hi = jax.tree_util.tree_map(lambda x: x[1:, None], params)
    dw = total_variance(hi, kc) - total_variance(lo, kc)
    c_min = jnp.min(dw, axis=-1)
    c_arg = jnp.take_along_axis(kc, jnp.argmin(dw, axis=-1)[:, None], axis=-1)[:, 0]
    c_from, c_to = _span(dw < -tol, kc, c_arg)
    return (g_min, g_arg, g_from, g_to, g_min >= -tol,
            c_min, c_arg, c_from, c_to, c_min >= -tol)


def arbitrage_report(params: SviParams, expiries: ArrayLike, *,
                     half_widths: ArrayLike | None = None, n_grid: int = 2001,
                     tol: float = 0.0) -> ArbitrageReport:
    """Butterfly and calendar checks of SVI slices on a fine log-moneyness grid.

    Args:
      params: ``(n,)`` raw SVI parameters, one slice per expiry.
      expiries: ``(n,)`` year fractions, strictly increasing.
      half_widths: ``(n,)`` grid half-widths in log-moneyness; default ``1.5 sqrt(T)``.
      n_grid: grid points per slice.
      tol: a check fails where its value is below ``-tol``.

    Returns:
      An `ArbitrageReport`; ``report.lines()`` prints it.

    Raises:
      ConfigError: expiries not positive and strictly increasing, or shapes that disagree.
    """
    t = np.asarray(expiries)
    if t.ndim != 1 or t.size < 1 or not np.all(np.isfinite(t)) or np.any(t <= 0) \
            or np.any(np.diff(t) <= 0):
        raise ConfigError("expiries", t,
                          "a 1-D array of positive, strictly increasing year fractions")
    for name, v in zip(SviParams._fields, params):
        if np.shape(v) != t.shape:
            raise ConfigError(f"params.{name}", np.shape(v), f"shape {t.shape} (one per expiry)")
    if half_widths is not None:
        h = np.asarray(half_widths)
        if h.shape != t.shape or not np.all(np.isfinite(h)) or np.any(h <= 0):
            raise ConfigError("half_widths", h, f"{t.size} positive log-moneyness half-widths")
    n_grid = integer("n_grid", n_grid, lo=3)
    tol = number("tol", tol, lo=0.0)
    t = jnp.asarray(t)
    grid = report_grid(t, half_widths, n_grid)
    out = ArbitrageReport(t, *_report_kernel(params, t, grid, tol), tol=tol)
    check_finite(out._asdict(), "arbitrage_report", "check the SVI parameters")
    return out
