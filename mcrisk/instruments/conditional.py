r"""Unbiased Greeks for kinked and discontinuous payoffs: conditioning and likelihood ratios.

The pathwise second derivative of a kink is zero almost surely, and a digital has no pathwise
derivative at all. Every model's last step is normal in each asset's log spot given the
step's start and what the model draws besides that asset's own diffusive normal (gbm:
nothing; merton: the jumps; heston: the asset's variance driver, as Andersen's central scheme
makes the new log spot normal given the new variance; bates: both). `model.last_step` gives
that mean and variance, and `mcrisk.simulate` records them in `LastStep` while it scans the
path of the Greeks kernel. That gives two unbiased ways round the kink:

* Conditioning on the last step. Single-asset terminal payoffs, asians (arithmetic and
  geometric) and barriers are replaced by their expectation over the final step given the
  path up to its start (and the conditioning draws): Black-Scholes, Black-Scholes with a
  shifted strike (the fixings already in the average), and the one-step barrier price by
  reflection. Same expectation as the simulated payoff, smooth in the path (at the barrier
  the product with the earlier survival is C^1), so the pathwise first and second
  derivatives of it are unbiased.
* Pathwise-likelihood-ratio mixture over the whole horizon for multi-asset terminal payoffs
  (basket, spread, exchange, best/worst-of) under gbm and merton, which have no one-step
  closed form. Given the jumps, the log spots are normal; with
  ``h = f'(S_T) dS_T / dlog S0_i`` the pathwise log-delta and ``w = Sigma^{-1} (x_T - E x_T)``
  the score of the normal log spots, ``gamma_i = E[h (w_i - 1)] / S0_i^2``: the pathwise
  first derivative, then the likelihood-ratio derivative of its expectation, unbiased for
  Lipschitz payoffs. `lr_terminal` adds it as a term of value zero whose second derivative
  along each own spot is that estimator, so the forward-mode kernel needs no other change.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mcrisk.analytic import normal
from mcrisk.analytic.normal import ndtr
from mcrisk.models import heston
from mcrisk.models.base import correlate

KIND_FORWARD, KIND_VANILLA, KIND_DIGITAL = 0, 1, 2
REDUCE_SUM, REDUCE_MAX, REDUCE_MIN = 0, 1, 2
# A standardised bound this far out has normal mass 0 in float64; a finite stand-in for an
# infinite bound keeps the derivatives of ndtr free of inf * 0.
_FAR = 50.0
# Member correlation blocks with a smaller eigenvalue have no density for a likelihood ratio.
MIN_EIG = 1e-10


class LastStep(NamedTuple):
    """What the Greeks kernel records along a path for conditioning and likelihood ratios."""

    start: jax.Array  # (snap, assets) log spots at the start of the step ending on the date
    mean: jax.Array  # (snap, assets) their mean at the date, given that start
    var: jax.Array  # (snap, assets) their variance over that step, given that start
    bridge: jax.Array  # (snap, assets) the variance the path's Brownian bridge uses there
    noise: jax.Array  # (snap, assets) sum of sqrt(dt) x correlated normals up to the date
    elapsed: jax.Array  # (snap,) time from the start of the path to the date
    vol: jax.Array  # (snap, assets) volatility at the step's start (likelihood ratios: gbm, merton)
    sv_noise: jax.Array  # (sv rows, assets) x_T - E[x_T | variance drivers, jumps], members
    sv_cov: jax.Array  # (sv rows, assets, assets) its covariance (members' block)
    family: dict  # family name -> its own record (`record_init`/`record` of the family)


def init(n_snap: int, n_assets: int, n_sv: int, dtype, family: dict) -> tuple:
    """Empty record and running (noise, time, stochastic-variance noise and covariance)
    accumulators; `n_sv` counts the multi-asset rows with a likelihood ratio under heston
    or bates; `family` holds the families' empty records."""
    z = lambda *s: jnp.zeros(s, dtype)  # noqa: E731
    o = lambda *s: jnp.ones(s, dtype)  # noqa: E731
    rec = LastStep(start=z(n_snap, n_assets), mean=z(n_snap, n_assets),
                   var=o(n_snap, n_assets), bridge=o(n_snap, n_assets),
                   noise=z(n_snap, n_assets), elapsed=o(n_snap), vol=o(n_snap, n_assets),
                   sv_noise=z(n_sv, n_assets), sv_cov=z(n_sv, n_assets, n_assets),
                   family=family)
    return rec, (z(n_assets), jnp.zeros((), dtype), z(n_sv, n_assets),
                 z(n_sv, n_assets, n_assets))


def spd_solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """Solve ``a x = b`` for symmetric positive definite ``a`` (..., n, n), ``b`` (..., n, k).

    An unrolled Cholesky in plain array ops (n is the static asset count): jaxlib's batched
    LAPACK kernels parallelise inside XLA's CPU thread pool and were seen to deadlock there
    on a 2-core machine.
    """
    n = a.shape[-1]
    cols = []  # columns of the lower Cholesky factor, each (..., n)
    for j in range(n):
        prev = jnp.stack(cols, axis=-1) if cols else None  # (..., n, j)
        col = a[..., :, j]
        if prev is not None:
            col = col - jnp.einsum("...ik,...k->...i", prev, prev[..., j, :],
                                   precision=jax.lax.Precision.HIGHEST)
        d = jnp.sqrt(col[..., j])
        below = jnp.arange(n) >= j
        cols.append(jnp.where(below, col / d[..., None], 0.0))
    low = jnp.stack(cols, axis=-1)  # (..., n, n)
    y = []  # forward substitution: low y = b
    for i in range(n):
        r = b[..., i, :]
        for k in range(i):
            r = r - low[..., i, k, None] * y[k]
        y.append(r / low[..., i, i, None])
    x = [None] * n  # back substitution: low^T x = y
    for i in reversed(range(n)):
        r = y[i]
        for k in range(i + 1, n):
            r = r - low[..., k, i, None] * x[k]
        x[i] = r / low[..., i, i, None]
    return jnp.stack(x, axis=-2)


def sv_matrices(params, tt: dict) -> tuple[jax.Array, jax.Array]:
    """Per stochastic-variance likelihood-ratio row, restricted to its member assets S:
    ``E[zperp_S | zv_S] = M zv_S`` and ``Cov[zperp_S | zv_S] = Q``, both (rows, n, n).

    Per asset, (zperp, zv) is a rotation of (zs, b), so given the members' variance
    drivers over the whole path (and the jumps), their log spots are jointly normal:
    ``x_T = E[x_T | .] + sum_k d_k (zperp_k - M zv_k)``, d_k the central scheme's
    diffusion. Q is invertible wherever the members' correlation block is.
    """
    member = tt["member"][tt["sv_row"]]
    hi = jax.lax.Precision.HIGHEST
    c = jnp.matmul(params.chol, params.chol.T, precision=hi)
    r = params.model.rho
    rb = jnp.sqrt(jnp.maximum(1.0 - r ** 2, 0.0))
    eye = jnp.eye(r.shape[0], dtype=r.dtype)
    c_vv = r[:, None] * c * r[None, :] + eye * rb ** 2
    c_pv = rb[:, None] * c * r[None, :] - eye * (r * rb)
    c_pp = rb[:, None] * c * rb[None, :] + eye * r ** 2
    mm = member[:, :, None] & member[:, None, :]
    pv = jnp.where(mm, c_pv, 0.0)
    # M = pv C_vv^-1 = (C_vv^-1 pv^T)^T, C_vv symmetric (identity off the members).
    m = jnp.swapaxes(spd_solve(jnp.where(mm, c_vv, eye), jnp.swapaxes(pv, 1, 2)), 1, 2)
    q = jnp.where(mm, c_pp, 0.0) - jnp.matmul(m, jnp.swapaxes(pv, 1, 2), precision=hi)
    return m, q


def accumulate(acc: tuple, params, terms: dict, dt: jax.Array, draws,
               var: jax.Array | None = None, sv: tuple | None = None) -> tuple:
    """Fold one step into the running (noise, elapsed time, stochastic-variance noise and
    covariance) that `record` keeps at the dates; `sv` is `sv_matrices` where rows need it,
    and then `var` the new log spots' variance given the variance drivers
    (`model.last_step`)."""
    noise = acc[0] + jnp.sqrt(dt) * correlate(params, draws.z)
    elapsed = acc[1] + dt
    sv_noise, sv_cov = acc[2], acc[3]
    if sv is not None:
        tt = terms["terminal"]
        zv, zperp = heston.drivers(params, draws)
        member = tt["member"][tt["sv_row"]]
        d = jnp.sqrt(var)
        eps = zperp[None, :] - jnp.einsum("rij,j->ri", sv[0], zv,
                                          precision=jax.lax.Precision.HIGHEST)
        sv_noise = sv_noise + jnp.where(member, d[None, :] * eps, 0.0)
        sv_cov = sv_cov + (d[:, None] * d[None, :])[None] * sv[1]
    return noise, elapsed, sv_noise, sv_cov


def record(rec: LastStep, acc: tuple, terms: dict, masks: dict, x0: jax.Array,
           v0: jax.Array, mean: jax.Array, var: jax.Array, bridge: jax.Array,
           sv: tuple | None = None) -> LastStep:
    """Keep the step in `rec` where it ends a snapshot date: from log spots `x0` (variance
    rate `v0`), the new log spots are normal with `mean` and `var` given what the model
    conditions on (`model.last_step`); `bridge` is the variance of the step's Brownian
    bridge in the path statistics (barrier survival); `acc` is `accumulate`'s running sums
    including this step. The families' own records are folded in by
    `book.record_families`.
    """
    noise, elapsed, sv_noise, sv_cov = acc
    at = masks["snap"][:, None]
    put = lambda new, old: jnp.where(at, new[None], old)  # noqa: E731
    rec = rec._replace(
        start=put(x0, rec.start), mean=put(mean, rec.mean), var=put(var, rec.var),
        bridge=put(bridge, rec.bridge), noise=put(noise, rec.noise),
        elapsed=jnp.where(masks["snap"], elapsed, rec.elapsed), vol=put(jnp.sqrt(v0), rec.vol))
    if sv is not None:
        tt = terms["terminal"]
        at_sv = masks["snap"][tt["slot"][tt["sv_row"]]]
        rec = rec._replace(sv_noise=jnp.where(at_sv[:, None], sv_noise, rec.sv_noise),
                           sv_cov=jnp.where(at_sv[:, None, None], sv_cov, rec.sv_cov))
    return rec


def record_step(masks: dict, families: dict) -> jax.Array:
    """Whether a step ends a date some record keeps (a snapshot, a family's last step)."""
    need = jnp.any(masks["snap"])
    for n in families:
        if "last" in masks[n]:
            need = need | jnp.any(masks[n]["last"])
    return need


def _scaled_mass(e: jax.Array | None, lo: jax.Array, hi: jax.Array) -> jax.Array:
    """``exp(e) (Phi(hi) - Phi(lo))`` for lo <= hi (e None: 1), the tail nearer zero first.

    With e, scaled out of underflow (`normal.scaled_mass`): the reflected barrier term
    multiplies a mass that underflows by a factor exp(e) that overflows.
    """
    flip = lo > 0  # both bounds mirrored into the lower tail: no cancellation
    a, b = jnp.where(flip, -hi, lo), jnp.where(flip, -lo, hi)
    if e is None:
        return ndtr(b) - ndtr(a)
    return normal.scaled_mass(e, a, b)


def vanilla(mu: jax.Array, v: jax.Array, k: jax.Array, sg: jax.Array) -> jax.Array:
    """E[max(sg (e^X - k), 0)] for X ~ N(mu, v), any real k (k <= 0: a call is a forward)."""
    sd = jnp.sqrt(v)
    pos = k > 0
    ks = jnp.where(pos, k, 1.0)
    d2 = (mu - jnp.log(ks)) / sd
    fwd = jnp.exp(mu + 0.5 * v)
    opt = sg * (fwd * ndtr(sg * (d2 + sd)) - ks * ndtr(sg * d2))
    return jnp.where(pos, opt, jnp.where(sg > 0, fwd - k, 0.0))


def vanilla_in(e: jax.Array | None, mu: jax.Array, sd: jax.Array, log_k: jax.Array, k: jax.Array,
                sg: jax.Array, lo: jax.Array, hi: jax.Array, has_lo: jax.Array,
                has_hi: jax.Array) -> jax.Array:
    """exp(e) E[max(sg (e^X - k), 0) 1{lo < X < hi}] for X ~ N(mu, sd^2) (e None: 1); a
    missing bound is open."""
    lo = jnp.where(sg > 0, jnp.where(has_lo, jnp.maximum(lo, log_k), log_k), lo)
    hi = jnp.where(sg > 0, hi, jnp.where(has_hi, jnp.minimum(hi, log_k), log_k))
    has_lo = has_lo | (sg > 0)
    has_hi = has_hi | (sg < 0)
    z_lo = jnp.where(has_lo, (lo - mu) / sd, -_FAR)
    z_hi = jnp.maximum(jnp.where(has_hi, (hi - mu) / sd, _FAR), z_lo)
    growth = mu + 0.5 * sd * sd
    if e is None:
        return sg * (jnp.exp(growth) * _scaled_mass(None, z_lo - sd, z_hi - sd)
                     - k * _scaled_mass(None, z_lo, z_hi))
    return sg * (_scaled_mass(e + growth, z_lo - sd, z_hi - sd) - k * _scaled_mass(e, z_lo, z_hi))


def lr_terminal(tt: dict, rec: LastStep, s_at: jax.Array, spots: jax.Array,
                term: bool = True) -> jax.Array:
    """Exact payoff of multi-asset vanilla rows plus (`term`) a zero-valued term carrying
    the gammas.

    The payoff's own second derivatives are zero (plain max, no smoothing); the added
    ``0.5 dev' G dev`` with ``dev = s - sg(s)`` and G from `lr_gamma` is 0 with a zero first
    derivative, and its second derivative along spots i and j is G_ij: differentiating the
    path's payoffs twice gives the likelihood-ratio gammas. The Greeks kernel reads G from
    `lr_gamma` directly instead (``term=False``), as differentiating the quadratic form
    costs n^2 per path and direction. `spots` (today's) carries the Greeks' tangents;
    `s_at` holds the spots at each row's date.
    """
    pay = jnp.maximum(tt["sign"] * (_underlying(tt, s_at) - tt["strike"]), 0.0)
    if not term:
        return pay
    g = lr_gamma(tt, rec, s_at, spots)
    dev = spots - jax.lax.stop_gradient(spots)
    # Two reductions, not one einsum over both axes: under the Greeks kernel's vmaps over
    # paths and directions, its derivatives would build (rows, n, n) products per path and
    # direction; this way each is reduced as it is formed.
    g_dev = jnp.sum(g * dev[None, None, :], axis=-1)
    return pay + 0.5 * jnp.sum(dev[None, :] * g_dev, axis=-1)


def _underlying(tt: dict, s: jax.Array) -> jax.Array:
    """Per row: the weighted sum, maximum or minimum of its members' spots `s`."""
    very_low = jnp.asarray(jnp.finfo(s.dtype).min, s.dtype)
    member = tt["member"]
    top = jnp.max(jnp.where(member, s, very_low), axis=-1)
    bottom = -jnp.max(jnp.where(member, -s, very_low), axis=-1)
    lin = jnp.sum(tt["weights"] * s, axis=-1)
    return jnp.where(tt["reduce"] == REDUCE_SUM, lin,
                     jnp.where(tt["reduce"] == REDUCE_MAX, top, bottom))


def lr_gamma(tt: dict, rec: LastStep, s_at: jax.Array, spots: jax.Array) -> jax.Array:
    """(rows, n, n) pathwise-LR (cross) gammas of multi-asset vanilla rows, undiscounted,
    not differentiable (every input under `stop_gradient`).

    ``d2V / dlogS0_i dlogS0_j = E[h_i w_j]`` (the likelihood ratio of the pathwise log-delta
    ``h_i = f'(S_T) dS_T / dlog S0_i``, w the score of the normal log spots), so
    ``G_ij = (h_i (w_j - d_ij) + h_j (w_i - d_ij)) / (2 S0_i S0_j)``, symmetrised.
    """
    very_low = jnp.asarray(jnp.finfo(s_at.dtype).min, s_at.dtype)
    sg_s = jax.lax.stop_gradient(s_at)
    member = tt["member"]
    y = tt["sign"] * (_underlying(tt, sg_s) - tt["strike"])
    pick = jnp.where(tt["reduce"] == REDUCE_MAX,
                     jnp.argmax(jnp.where(member, sg_s, very_low), axis=-1),
                     jnp.argmin(jnp.where(member, sg_s, -very_low), axis=-1))
    du = jnp.where((tt["reduce"] == REDUCE_SUM)[:, None], tt["weights"],
                   jax.nn.one_hot(pick, s_at.shape[-1], dtype=s_at.dtype))
    fprime = tt["sign"] * (y > 0).astype(s_at.dtype)
    s0 = jax.lax.stop_gradient(spots)
    log_delta = fprime[:, None] * du * sg_s  # dpayoff / dlog S0_i per row
    vols = jax.lax.stop_gradient(rec.vol[tt["slot"]])
    noise = jax.lax.stop_gradient(rec.noise[tt["slot"]])
    tau = jax.lax.stop_gradient(rec.elapsed[tt["slot"]])
    score = jnp.sum(tt["precision"] * noise[:, None, :], axis=-1) / (vols * tau[:, None])
    if tt["sv_row"].shape[0]:  # heston, bates: the score given the variance drivers
        member = tt["member"][tt["sv_row"]]
        mm = member[:, :, None] & member[:, None, :]
        eye = jnp.eye(member.shape[-1], dtype=s_at.dtype)
        cov = jax.lax.stop_gradient(jnp.where(mm, rec.sv_cov, eye))
        sv_score = spd_solve(cov, jax.lax.stop_gradient(rec.sv_noise)[..., None])[..., 0]
        score = score.at[tt["sv_row"]].set(sv_score)
    eye = jnp.eye(s_at.shape[-1], dtype=s_at.dtype)
    g = log_delta[:, :, None] * (score[:, None, :] - eye)  # (rows, i, j): h_i (w_j - d_ij)
    return jax.lax.stop_gradient(0.5 * (g + jnp.swapaxes(g, 1, 2)) / (s0[:, None] * s0[None, :]))


def precision_blocks(corr: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per terminal row: inverse of the member block of the correlation (zeros elsewhere), and
    whether that block is invertible (a singular one has no likelihood ratio)."""
    rows, n = member.shape
    prec = np.zeros((rows, n, n))
    ok = np.zeros(rows, bool)
    for r in range(rows):
        idx = np.flatnonzero(member[r])
        block = corr[np.ix_(idx, idx)]
        if len(idx) and np.linalg.eigvalsh(block).min() > MIN_EIG:
            prec[r][np.ix_(idx, idx)] = np.linalg.inv(block)
            ok[r] = True
    return prec, ok
